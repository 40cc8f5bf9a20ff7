"""How long a GPU sweep will take, said before it starts: a lower bound from the roofline floors.

Usage:
    seconds, unknown = gpu_seconds(cells, options, "NVIDIA H200")   # unknown: cells without a floor (model level)
    print(estimate_line(cells, options, "NVIDIA H200"))

Per cell: every timed and warm-up call of its memory and timing passes at the roofline floor (FLOPs / peak,
bytes / bandwidth: bench/profile/roofline.py), plus the start-up of the process it runs in (isolated cells pay a
fresh Python and CUDA context each). Real kernels run slower than their floor, so the sum is a lower bound.
"""
from __future__ import annotations

from .flops import cell_counts
from .roofline import device_peaks

PROCESS_START_S = 6.0  # a fresh Python, torch import and CUDA context (isolated cells)
IN_PROCESS_S = 0.2  # building a cell's step in a running process


def gpu_seconds(cells, options, device_name: str) -> tuple[float, int]:
    """Usage: see module docstring. Returns (seconds, cells whose floor is unknown: counted at start-up only)."""
    total, unknown = 0.0, 0
    calls = 2 * options.warmup + options.repeats + 1  # warm-up in both passes, the timed calls, the memory call
    for cell in cells:
        total += PROCESS_START_S if options.isolate else IN_PROCESS_S
        counts, peaks = cell_counts(cell), device_peaks(device_name, cell.dtype)
        if not counts or peaks is None:
            unknown += 1
            continue
        floor = max(counts["flops"] / peaks["flops_per_s"], counts["min_bytes"] / peaks["bytes_per_s"])
        total += calls * floor
    return total, unknown


def estimate_line(cells, options, device_name: str) -> str:
    """Usage: print(estimate_line(cells, options, name)) -> "estimate: at least 0.42 GPU-hours for 96 cells ..."."""
    seconds, unknown = gpu_seconds(cells, options, device_name)
    note = f"; {unknown} cells without a floor (model level or an unknown GPU) counted at start-up only" \
        if unknown else ""
    return (f"estimate: at least {seconds / 3600:.2f} GPU-hours for {len(cells)} cells on {device_name} (roofline "
            f"floors of every call plus process start-up; real kernels are slower){note}")
