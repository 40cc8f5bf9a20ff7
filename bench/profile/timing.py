"""Wall-clock timing of one step: warm-up, repeated calls, median with p20/p80 and n.

Usage:
    stats = time_step(step, device="cpu", warmup=2, repeats=10, max_seconds=20.0)
    stats -> {"median": ms, "p20": ms, "p80": ms, "min": ms, "mean": ms, "n": samples, "calls_per_sample": k}
    times = time_interleaved([step_a, step_b], rounds=20)   # [[ms, ...], [ms, ...]]: one call of each per round

Method: the step's inputs are built by the caller before this is called, so only the step is timed. ``warmup``
untimed calls first (first-call allocations, kernel selection, lazy initialisation). Then calls are timed one at a
time until ``repeats`` calls, or until at least ``min_repeats`` calls took more than ``max_seconds`` together, so a
slow cell keeps a bounded cost. On CPU a sample is ``time.perf_counter`` around one call. On CUDA a sample is a
pair of CUDA events around ``calls_per_sample`` back-to-back calls after a synchronisation, read once the end
event has completed, divided by the number of calls: the time is the GPU's, not the launch queue's, and a call
shorter than a millisecond is repeated within the sample (calibrated on one call, at most 100) so the
synchronisation gap between samples does not count as the kernel's time. Statistics are per call.

Side by side (time_interleaved): several steps, each warmed up, then timed in rounds of one call each, so drift
in the machine's speed hits them alike; a ratio of two steps is best taken per round (the median of the ratios).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

TIME_STATS = ("median", "p20", "p80", "min", "mean")


def summarise(milliseconds) -> dict:
    """Usage: summarise([1.0, 2.0, 3.0]) -> {"median": 2.0, "p20": ..., "p80": ..., "min": 1.0, "mean": 2.0, "n": 3}."""
    ms = np.asarray(milliseconds, dtype=float)
    if ms.size == 0:
        raise ValueError("no timed calls to summarise")
    return {"median": float(np.median(ms)), "p20": float(np.percentile(ms, 20)), "p80": float(np.percentile(ms, 80)),
            "min": float(ms.min()), "mean": float(ms.mean()), "n": int(ms.size)}


def cpu_call_ms(step) -> float:
    """Usage: cpu_call_ms(step) -> milliseconds of one call by the wall clock."""
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1e3


MIN_SAMPLE_MS = 1.0
MAX_CALLS_PER_SAMPLE = 100


def cuda_sample_ms(step, calls: int = 1) -> float:
    """Usage: cuda_sample_ms(step, calls) -> GPU milliseconds per call of ``calls`` back-to-back calls (events)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(calls):
        step()
    end.record()
    end.synchronize()
    return float(start.elapsed_time(end)) / calls


def _cuda_calls_per_sample(step) -> int:
    """Back-to-back calls per CUDA sample: enough for about a millisecond of GPU time, from one timed call."""
    once = cuda_sample_ms(step)
    return int(min(MAX_CALLS_PER_SAMPLE, max(1, math.ceil(MIN_SAMPLE_MS / max(once, 1e-6)))))


def _sampler(step, device: str):
    """(a no-argument callable giving one sample's ms per call, calls per sample) for ``step`` on ``device``."""
    if torch.device(device).type == "cuda":
        calls = _cuda_calls_per_sample(step)
        return (lambda: cuda_sample_ms(step, calls)), calls
    return (lambda: cpu_call_ms(step)), 1


def _rounds(samplers, rounds: int, max_seconds: float, min_repeats: int, progress=None) -> list[list[float]]:
    """The one timing loop: per round one sample of each step, a step skipped once its ``min_repeats`` samples
    took more than ``max_seconds`` together (it keeps its n; the others go on)."""
    times: list[list[float]] = [[] for _ in samplers]
    for _ in range(rounds):
        for (sample, calls), spent in zip(samplers, times):
            if len(spent) >= min_repeats and sum(spent) * calls > max_seconds * 1e3:
                continue
            spent.append(sample())
        if progress is not None:
            progress.update(1)
    return times


def _warm_up(steps, warmup: int) -> None:
    for step in steps:
        for _ in range(warmup):
            step()


def time_step(step, device: str = "cpu", warmup: int = 2, repeats: int = 10, max_seconds: float = 20.0,
              min_repeats: int = 3) -> dict:
    """Usage: see module docstring. ``step`` is a no-argument callable that runs the work once."""
    if repeats < 1 or warmup < 0 or min_repeats < 1:
        raise ValueError(f"need repeats >= 1, warmup >= 0 and min_repeats >= 1, got {repeats}, {warmup}, {min_repeats}")
    _warm_up([step], warmup)
    sampler = _sampler(step, device)
    (times,) = _rounds([sampler], repeats, max_seconds, min(min_repeats, repeats))
    return {**summarise(times), "calls_per_sample": sampler[1]}


def time_interleaved(steps, rounds: int, warmup: int = 2, device: str = "cpu", max_seconds: float = math.inf,
                     min_repeats: int = 3, progress=None) -> list[list[float]]:
    """Usage: see module docstring -> per step, the milliseconds per call of its samples, in round order. A step
    whose samples took more than ``max_seconds`` together once it has ``min_repeats`` is skipped in later rounds
    (its list is shorter); with the default no step is skipped, so the lists pair up round by round. ``progress``
    (a tqdm bar) advances once per round."""
    _warm_up(steps, warmup)
    return _rounds([_sampler(step, device) for step in steps], rounds, max_seconds, min_repeats, progress)
