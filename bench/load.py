"""The machine's load while a cell is timed: other processes' share of the CPUs, the hypervisor's steal, the load
average; a timing taken under load is flagged and timed again.

Usage:
    before = snapshot()
    ...                                        # the timed calls
    reading = load_between(before, snapshot())  # {"load_avg": 1.9, "others_cpu": 0.02, "steal": 0.0}
    loaded_reason(reading)                      # None, or "other processes used 41% of the CPUs"

Others' share: the CPU time every core spent busy (Linux /proc/stat: user, nice, system, irq, softirq) less this
process's own CPU time, over the CPU time the cores had in that wall time. Steal: time the hypervisor gave the
cores to other guests. Where /proc/stat is missing both are None and only the load average is recorded.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

OTHERS_LIMIT = 0.25  # above this share of the machine busy with other processes, a timing is under load
STEAL_LIMIT = 0.05
PROC_STAT = Path("/proc/stat")


def cpu_jiffies() -> tuple[int, int, int] | None:
    """Usage: cpu_jiffies() -> (busy, steal, total) clock ticks of all cores since boot, or None off Linux."""
    try:
        fields = PROC_STAT.read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in (fields[1:9] + ["0"] * 8)[:8])
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def snapshot() -> dict:
    """Usage: snapshot() -> the counters load_between compares (wall clock, own CPU time, the cores' ticks)."""
    return {"wall": time.perf_counter(), "own_cpu": time.process_time(), "jiffies": cpu_jiffies()}


def load_between(before: dict, after: dict) -> dict:
    """Usage: load_between(before, after) -> {"load_avg", "others_cpu", "steal"} over the time between them."""
    reading = {"load_avg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "others_cpu": None,
               "steal": None}
    if before["jiffies"] is None or after["jiffies"] is None:
        return reading
    busy, steal, total = (b - a for a, b in zip(before["jiffies"], after["jiffies"]))
    if total <= 0:  # too short to count a tick: no evidence either way
        return reading
    own = (after["own_cpu"] - before["own_cpu"]) * os.sysconf("SC_CLK_TCK")
    reading.update(others_cpu=round(max(busy - own, 0.0) / total, 4), steal=round(steal / total, 4))
    return reading


def loaded_reason(reading: dict) -> str | None:
    """Usage: loaded_reason(reading) -> why the timing was taken under load, or None."""
    if (reading.get("others_cpu") or 0.0) > OTHERS_LIMIT:
        return f"other processes used {100 * reading['others_cpu']:.0f}% of the CPUs"
    if (reading.get("steal") or 0.0) > STEAL_LIMIT:
        return f"the hypervisor stole {100 * reading['steal']:.0f}% of the CPU time"
    return None
