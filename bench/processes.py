"""The one way this suite starts another Python process: a module run with this interpreter.

Usage:
    done = run_module("bench.profile.measure", ["memory", cell_json, options_json], timeout=600, env=env)
    done = run_module("reports", ["build", "results/a", "--out", "out"], capture=False)   # output goes through
    done.returncode, done.stdout, done.stderr     # subprocess.CompletedProcess (stdout/stderr None uncaptured)

A child that outlives ``timeout`` raises subprocess.TimeoutExpired, as subprocess.run does; the caller decides
what that means (a measurement records it as an error row, a stage as a failed stage).
"""
from __future__ import annotations

import subprocess
import sys


def python_module_command(module: str, args) -> list[str]:
    """Usage: python_module_command("pip", ["download", ...]) -> [sys.executable, "-m", "pip", "download", ...]."""
    return [sys.executable, "-m", module, *map(str, args)]


def run_module(module: str, args, *, timeout: float | None = None, env: dict | None = None,
               capture: bool = True) -> subprocess.CompletedProcess:
    """Usage: see module docstring. ``capture=True`` collects stdout and stderr as text; False lets them through."""
    return subprocess.run(python_module_command(module, args), capture_output=capture, text=True, timeout=timeout,
                          env=env)
