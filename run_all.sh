#!/usr/bin/env bash
# LinRec-Bench main job. Today it lists the attention zoo, fetches and describes the default data set and runs
# the baseline micro-benchmark; the training sweeps, profiling and report stages join it as their issues land.
# Usage: bash run_all.sh [microbench options]     e.g. bash run_all.sh --lengths 200 1024 --repeats 5
set -euo pipefail
cd "$(dirname "$0")"

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "Stages: 1) list every attention variant and whether it runs here; 2) fetch MovieLens-100K (verified"
    echo "SHA-256, cached in data/), 5-core filter it and print its statistics; 3) forward+backward time and peak"
    echo "memory of linrec_official, linrec, linrec_causal, dot and sdpa at T=200/1024/4096 (H=8, D=16, 12,800"
    echo "tokens per step), written to results/microbench-<time>/. Extra options go to 'python -m bench microbench'"
    echo "(see: python -m bench microbench --help). About 7 minutes on 2 CPU cores."
    exit 0
fi

PY=python3
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
if ! "$PY" -c "import torch, models.attention" 2>/dev/null; then
    echo "run_all.sh: the project is not installed for $PY; run the two set-up commands in README.md first" >&2
    exit 1
fi
device=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")

echo "== 1/3 attention zoo (availability on $device)"
"$PY" -m bench list --device "$device"
echo
echo "== 2/3 default data set: MovieLens-100K, 5-core"
"$PY" -m bench data --dataset ml-100k --k-core 5
echo
echo "== 3/3 baseline micro-benchmark (CPU, forward+backward, side by side)"
"$PY" -m bench microbench "$@" | tee /tmp/linrec-bench-microbench.$$.log
run_dir=$(sed -n 's/^rows: \(.*\)\/rows.jsonl$/\1/p' /tmp/linrec-bench-microbench.$$.log | tail -n 1)
rm -f /tmp/linrec-bench-microbench.$$.log
echo
echo "run_all.sh done: listed the attention variants, prepared ml-100k and measured the baseline micro-benchmark."
echo "results: ${run_dir:-results/} (rows.jsonl, env.json, config.json)"
