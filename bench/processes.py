"""The one way this suite starts another Python process: a module run with this interpreter.

Usage:
    done = run_module("bench.profile.measure", ["memory", cell_json, options_json], timeout=600, env=env)
    done = run_module("reports", ["build", "results/a", "--out", "out"], capture=False)   # output goes through
    done.returncode, done.stdout, done.stderr     # subprocess.CompletedProcess (stdout/stderr None uncaptured)
    worker = start_module("bench", ["train-cell", ...], env=env)   # running on while this process goes on

A child that outlives ``timeout`` raises subprocess.TimeoutExpired, as subprocess.run does; the caller decides
what that means (a measurement records it as an error row, a stage as a failed stage). A child that calls
die_with_parent() first ends when the process that started it ends, however that ends (kill -9 included), so
no orphan keeps measuring beside a resumed sweep.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PARENT_VARIABLE = "LINREC_BENCH_PARENT"  # the starting process's pid, for die_with_parent()
PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal this process gets when its parent dies


def python_module_command(module: str, args) -> list[str]:
    """Usage: python_module_command("pip", ["download", ...]) -> [sys.executable, "-m", "pip", "download", ...]."""
    return [sys.executable, "-m", module, *map(str, args)]


def start_module(module: str, args, *, env: dict | None = None, log=None) -> subprocess.Popen:
    """Usage: worker = start_module("bench", ["train-cell", ...], env=env, log=handle) -> a running child (its
    output to ``log``, or through); worker.poll() / worker.wait() as subprocess.Popen."""
    env = {**(os.environ if env is None else env), PARENT_VARIABLE: str(os.getpid())}
    return subprocess.Popen(python_module_command(module, args), env=env, stdout=log,
                            stderr=subprocess.STDOUT if log is not None else None, text=True)


def run_module(module: str, args, *, timeout: float | None = None, env: dict | None = None,
               capture: bool = True) -> subprocess.CompletedProcess:
    """Usage: see module docstring. ``capture=True`` collects stdout and stderr as text; False lets them through."""
    env = {**(os.environ if env is None else env), PARENT_VARIABLE: str(os.getpid())}
    return subprocess.run(python_module_command(module, args), capture_output=capture, text=True, timeout=timeout,
                          env=env)


def die_with_parent() -> None:
    """Usage: die_with_parent() at the start of a child's work: on Linux the kernel sends it SIGKILL when its
    parent dies; a child whose parent is already gone exits now. Elsewhere it does nothing."""
    parent = os.environ.get(PARENT_VARIABLE)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: no such call
        return
    if parent is not None and os.getppid() != int(parent):
        os._exit(1)
