"""What a run's numbers depend on and how they were made: versions, device, threads, commit, the command line.

Usage:
    write_json(run_dir / "env.json", environment())
    device_name("cpu") -> the CPU model; device_name("cuda") -> the GPU's name
    COMMAND_LINE[:] = argv     # python -m bench sets it, so env.json records the command that made a run
    check_device("cuda")       # one-line ValueError for an unknown device, or CUDA where torch sees no GPU
    select_device("auto")      # -> "cuda" where torch sees a GPU, else "cpu"; "cuda:1" makes GPU 1 current

torch loads inside the functions that ask it, on first use: every command imports this file, and its
``--help`` and argument errors answer before torch is imported (tests/test_cli_startup.py).
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from models.plugins import loaded_plugins

DEVICES = ("cpu", "cuda")
DEVICE_FORMS = "auto, cpu, cuda or cuda:N"
COMMAND_LINE: list[str] = []  # set by python -m bench for the command it runs (run_all runs several in-process)


def check_device(device: str, present: bool = True) -> None:
    """Usage: check_device("cuda"). One-line ValueError for a device other than cpu, cuda or cuda:N, and
    (``present``) for CUDA where torch sees no GPU, or no GPU N."""
    if device not in DEVICES and not re.fullmatch(r"cuda:\d+", str(device)):
        raise ValueError(f"unknown device {device!r}; valid: {DEVICE_FORMS}")
    if not present or device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"--device {device} asked for, but torch sees no CUDA device here (use --device cpu)")
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"--device {device} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s) "
                         f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")


def select_device(device: str) -> str:
    """Usage: select_device("auto") -> "cuda" or "cpu". Checks ``device`` (auto, cpu, cuda, cuda:N), makes GPU N
    the current one for cuda:N, and returns the device type the run's cells use: a cell trained or measured on
    another GPU of the same kind is the same cell, and rows name the GPU (device_name) and env.json its index."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_device(device)
    if device.startswith("cuda:"):
        torch.cuda.set_device(int(device.split(":")[1]))
    return "cuda" if device.startswith("cuda") else "cpu"


def device_name(device: str) -> str:
    """Usage: device_name("cpu") -> the CPU model; device_name("cuda") -> the GPU's name."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_model()


def cpu_model() -> str:
    """Usage: cpu_model() -> "AMD EPYC 7763 64-Core Processor" (from /proc/cpuinfo, else platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """Usage: git_commit() -> the checkout's commit, with "-dirty" when tracked files differ; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=here)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_version(name: str) -> str | None:
    """Usage: package_version("xformers") -> "0.0.35", or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def nvidia_driver() -> str | None:
    """Usage: nvidia_driver() -> the driver version NVML reports, or None where NVML cannot be reached."""
    try:
        import pynvml
        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:  # pynvml missing or NVML not reachable: the driver is simply unknown
        return None


def environment() -> dict:
    """Usage: environment() -> versions, device, threads, commit, host, the command: everything a row's numbers
    depend on and how they were made."""
    import torch

    from models.attention.linrec_kernels import kernel_path

    cuda = torch.cuda.is_available()
    return {
        "command_line": shlex.join(["python", "-m", "bench", *COMMAND_LINE]) if COMMAND_LINE else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": cuda,
        "gpu": torch.cuda.get_device_name() if cuda else None,  # the current GPU: the one --device cuda:N chose
        "cuda_device": torch.cuda.current_device() if cuda else None,
        "driver": nvidia_driver() if cuda else None,
        "xformers": package_version("xformers"),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),  # "highest": no TF32 in fp32 matmuls
        "linrec_cpu_kernels": kernel_path(),  # "compiled" (torch.compile) unless switched off or failed so far
        "git_commit": git_commit(),
        "linrec_bench": package_version("linrec-bench"),  # the installed version: what a wheel outside git records
        "plugins": loaded_plugins(),  # plug-in modules and entry points this process loaded (models/plugins.py)
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
