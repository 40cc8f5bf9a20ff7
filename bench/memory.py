"""CPU peak memory of one call, in MiB, measured by the kernel: resident-set high-water mark above a baseline.

Usage (inside a fresh process started with ``fresh_process_env()``):
    peak_mib, method = peak_rss_mib(lambda: step())

Method: glibc is told to serve every allocation of 64 KiB or more with mmap (MALLOC_MMAP_THRESHOLD_), so freed
tensors go back to the kernel and the resident set tracks live memory; the kernel's high-water mark (VmHWM) is
reset by writing 5 to /proc/self/clear_refs just before the call, and peak = VmHWM - VmRSS(before). What this
counts: every byte the call touched on top of what was resident before it (its activations, saved tensors,
gradients, workspace); not the inputs built before it. That separates O(T) from O(T^2) growth where a torch-only
counter would miss native workspace. Where clear_refs is not writable, the fallback compares ru_maxrss before and
after (exact only if the call sets a new process-wide peak) and says so in ``method``.
"""
from __future__ import annotations

import gc
import os
import resource
from pathlib import Path

MMAP_THRESHOLD = 65536
MIB = 2 ** 20


def fresh_process_env() -> dict:
    """Usage: subprocess.run(cmd, env=fresh_process_env()). The environment a measuring child must start with."""
    return {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib(fn) -> tuple[float, str]:
    """Usage: peak_rss_mib(fn) -> (MiB above the resident set before the call, method name)."""
    gc.collect()
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        method_note = "+no-mmap-threshold"  # freed memory may be reused without showing: an underestimate
    else:
        method_note = ""
    if _reset_high_water_mark():
        before = _status_kib("VmRSS")
        fn()
        return (_status_kib("VmHWM") - before) / 1024, "vmhwm" + method_note
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, "ru_maxrss" + method_note
