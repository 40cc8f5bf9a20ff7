"""``bench perf``'s token-mixer checks: each fast path against its naive loop, memory growth, the SASRec step.

Usage:
    checks = mixer_checks()                 # Check rows for checks.check_table, timed side by side (interleaved)
    growth = growth_cells()                 # {mixer: fast-path cells at growing T}, for the memory exponent

Every mixer here keeps its sequential reference (``path=naive``) beside its fast path (models/mixers). Checks:
    mixer block fwd+bwd (d=64, 2 heads, B=2, fp32): the fast path of each scan mixer (mamba, lru, gla, retnet;
        mamba's is its loop scan, FAST_PATHS, as its CPU auto is the step loop) at least 10x faster than its naive
        loop at T=4096; T=200 and 2048 as context; hstu and gru (not scans: an
        O(T^2) matmul form, torch's fused GRU) measured the same way, as context
    peak memory of each scan mixer's fast path growing at most as T^1.1 from T=1024 to T=8192 (B=1)
    SASRec training step (the perf model cell: d=128, 8 heads, 8192 tokens a batch) at T=2048 with mamba, lru and
        gla within 2x linrec's
"""
from __future__ import annotations

import pandas as pd

from models.backbones.sasrec import resolve_causal
from models.mixers import mixer_names

from ..profile.cells import ProfileCell
from .checks import MODEL, Check, value, loglog_slope

SCAN_MIXERS = ("mamba", "lru", "gla", "retnet")
CONTEXT_MIXERS = ("hstu", "gru")
STEP_MIXERS = ("mamba", "lru", "gla")  # the SASRec step within 2x linrec's
# the scan each check times against the naive loop: auto, except mamba, whose CPU auto is its step loop (mamba.py)
FAST_PATHS = {"mamba": "loop"}
LENGTHS = (200, 2048, 4096)
GROWTH_LENGTHS = (1024, 2048, 4096, 8192)
MIXER = dict(level="mixer", mode="fwdbwd", H=2, D=32, dtype="float32", device="cpu", batch_policy="fixed")


def registered(names) -> list[str]:
    """Usage: registered(SCAN_MIXERS) -> the names this checkout registers, in order."""
    known = set(mixer_names())
    return [name for name in names if name in known]


def mixer_cell(name: str, T: int, B: int = 2, path: str = "auto") -> ProfileCell:
    """Usage: mixer_cell("mamba", 4096, path="naive") -> the mixer block's fwd+bwd cell on that path."""
    return ProfileCell(variant=name, T=T, B=B, causal=True, options="" if path == "auto" else f"path={path}",
                       **MIXER)


def model_mixer_cell(name: str, T: int) -> ProfileCell:
    """Usage: model_mixer_cell("lru", 2048) -> the perf SASRec training-step cell with that mixer (causal where
    the mixer can be, as SASRec runs it)."""
    return ProfileCell(variant=name, T=T, B=max(1, MODEL["tokens"] // T), causal=resolve_causal(name, "auto"),
                       **MODEL)


def mixer_checks() -> list[Check]:
    """Usage: mixer_checks() -> the fast-vs-naive checks, then the SASRec step checks, of the registered mixers."""
    checks = []
    for name in registered(SCAN_MIXERS + CONTEXT_MIXERS):
        scan = name in SCAN_MIXERS
        for T in LENGTHS:
            kind = "faster" if scan and T == LENGTHS[-1] else "context"
            fast = FAST_PATHS.get(name, "auto")
            checks.append(Check(f"{name} fast path ({fast}) vs its naive loop, mixer fwd+bwd, T={T} B=2", "time",
                                mixer_cell(name, T, path=fast), mixer_cell(name, T, path="naive"), kind, 10.0))
    for name in registered(STEP_MIXERS):
        checks.append(Check(f"SASRec step with {name} vs linrec, T=2048", "time", model_mixer_cell(name, 2048),
                            model_mixer_cell("linrec", 2048), "within", 2.0))
    return checks


def growth_cells() -> dict[str, list[ProfileCell]]:
    """Usage: growth_cells() -> {mixer: its fast path at T = 1024 ... 8192, B=1}: peak memory's exponent."""
    return {name: [mixer_cell(name, T, B=1, path=FAST_PATHS.get(name, "auto")) for T in GROWTH_LENGTHS]
            for name in registered(SCAN_MIXERS)}


def growth_table(rows: pd.DataFrame, growth: dict[str, list[ProfileCell]]) -> pd.DataFrame:
    """Usage: growth_table(rows, growth_cells()) -> one claim per mixer: peak memory growing at most as T^1.1."""
    records = []
    for name, cells in growth.items():
        peaks = [value(rows, cell, "peak_memory") for cell in cells]
        slope = loglog_slope([c.T for c in cells], peaks)
        records.append({"claim": f"{name} peak memory growth (fast path, mixer fwd+bwd), T={cells[0].T}.."
                                 f"{cells[-1].T} B=1", "baseline": "-",
                        "ours": " / ".join(f"{p:.4g}" for p in peaks) + " MiB", "measured": f"T^{slope:.2f}",
                        "target": "<= T^1.1", "met": "yes" if slope <= 1.1 else "NO"})
    return pd.DataFrame(records)
