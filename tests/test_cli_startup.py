"""Help and argument errors answer at once: no command imports torch or pandas before its arguments are read."""
from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["list", "microbench", "profile", "data", "train", "train-grid", "train-cell", "train-summary", "perf",
            "heatmaps", "run-all", "device-check", "status"]
PROBE = """
import sys
from bench.__main__ import main
try:
    main({argv!r})
except SystemExit:
    pass
print(sorted(name for name in ("torch", "pandas", "numpy", "models.attention") if name in sys.modules))
"""


def modules_after(argv: list[str]) -> str:
    """The heavy modules a fresh interpreter holds after ``python -m bench ARGV`` has parsed (and exited)."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [[], *([c] for c in COMMANDS)], ids=lambda argv: " ".join(argv) or "top")
def test_help_imports_no_torch_or_pandas(argv):
    assert modules_after([*argv, "--help"]) == "[]"


@pytest.mark.parametrize("argv", [["--bogus"], ["train", "--bogus"], ["profile", "--lengths", "x"],
                                  ["train-grid", "smoke", "--workers", "0"], ["run-all", "--quik"]],
                         ids=["top", "train", "profile-lengths", "train-grid-workers", "run-all"])
def test_bad_arguments_import_no_torch_or_pandas(argv):
    assert modules_after(argv) == "[]"
