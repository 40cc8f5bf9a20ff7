#!/usr/bin/env bash
# LinRec-Bench main job: data -> accuracy sweep -> sensitivity and ablation sweeps -> profiling -> heatmaps ->
# report (HTML and PDF). Quick without a GPU, full (paper scale) with one; resumable; Ctrl-C keeps what finished.
# Usage: bash run_all.sh [--quick | --full] [--root results/run-all-quick] [--stages ...]   (--help: all of it)
set -euo pipefail
cd "$(dirname "$0")"

PY=python3
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
# found, not imported: help and a mistyped option answer at once; torch loads once the arguments are read
if ! "$PY" -c "import importlib.util as u, sys; sys.exit(not all(map(u.find_spec, ('torch', 'bench', 'reports'))))" \
        2>/dev/null; then
    echo "run_all.sh: the project is not installed for $PY; run the two set-up commands in README.md first" >&2
    exit 1
fi

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    echo
    exec "$PY" -m bench run-all --help
fi

"$PY" -c "import sys; from bench.__main__ import build_parser as parser, plugin_arguments as split
parser().parse_args(['run-all', *split(sys.argv[1:])[1]])" "$@"  # a bad argument: one line, exit 2, before torch
device=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
"$PY" -m bench list --device "$device" --brief
exec "$PY" -m bench run-all "$@"
