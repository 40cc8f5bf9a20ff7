"""Facts about this machine that need no torch (the data package and the profiler both ask them).

Usage:
    available_mib() -> 20480.0     # memory the system can give a new allocation now, in MiB
"""
from __future__ import annotations

from pathlib import Path


def available_mib() -> float:
    """Usage: available_mib() -> MemAvailable from /proc/meminfo in MiB (0 where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
