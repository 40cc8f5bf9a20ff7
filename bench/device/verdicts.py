"""The verdicts of a device check, read from its rows: pure functions, so they are tested without a GPU.

Usage:
    row = verdict("triton timing", "linrec_triton bf16 T=1024 vs sdpa_flash", "ok", "0.61x its time")
    speed_verdicts(profile_rows)     # bf16 fwd+bwd at T >= 1024: the Triton kernels against sdpa, and the roofline
    memory_verdict(profile_rows)     # NVML's device-wide peak against the allocator's
    verdict_table(rows)              # the table printed and written as verdict.md

Verdicts: ok, FAIL (a target missed or a path broken), info (measured, no target) and skipped (not run: the
budget ran out, or something it needs is missing, with the reason).
"""
from __future__ import annotations

import pandas as pd

from ..profile.roofline import roofline_table

VERDICTS = ("ok", "FAIL", "info", "skipped")
RACES = {"linrec_triton": ("sdpa_flash", False), "linrec_causal_triton": ("sdpa_flash", True)}  # rival, causal
SPEED_FROM_T = 1024  # bf16 fwd+bwd from this length: the Triton kernels must beat sdpa's FlashAttention
FLOOR_SHARE = 50.0  # ... and reach this percentage of the roofline floor (bench/profile/roofline.py)


def verdict(step: str, check: str, result: str, detail: str = "") -> dict:
    """Usage: verdict("sdpa", "bf16 with mask", "ok", "EFFICIENT_ATTENTION") -> one row of the verdict table."""
    if result not in VERDICTS:
        raise ValueError(f"unknown verdict {result!r}; valid: {', '.join(VERDICTS)}")
    return {"bench": "device_check", "step": step, "check": check, "verdict": result, "detail": detail}


def median_times(rows: pd.DataFrame) -> pd.DataFrame:
    """Usage: median_times(profile_rows) -> one row per (variant, causal, dtype, T): the ok median ms."""
    ok = rows[(rows["metric"] == "time") & (rows["status"] == "ok") & (rows["stat"] == "median")]
    return ok.groupby(["variant", "causal", "dtype", "T"], as_index=False)["value"].median()


def speed_verdicts(rows: pd.DataFrame) -> list[dict]:
    """Usage: speed_verdicts(profile_rows) -> per Triton kernel and bf16 length from SPEED_FROM_T: faster than its
    rival (ok / FAIL) and its share of the roofline floor (ok at FLOOR_SHARE % or more)."""
    if rows.empty:
        return [verdict("triton timing", "bf16 fwd+bwd against sdpa", "skipped", "no profiling rows")]
    times, out = median_times(rows), []
    floors = roofline_table(rows)
    for kernel, (rival, causal) in RACES.items():
        mine = times[(times["variant"] == kernel) & (times["dtype"] == "bfloat16") & (times["T"] >= SPEED_FROM_T)]
        for _, row in mine.iterrows():
            other = times[(times["variant"] == rival) & (times["causal"] == causal) & (times["dtype"] == "bfloat16")
                          & (times["T"] == row["T"])]
            check = f"{kernel} bf16 fwd+bwd T={int(row['T'])}"
            if other.empty:
                out.append(verdict("triton timing", f"{check} vs {rival}", "skipped", f"{rival} has no time there"))
            else:
                ratio = row["value"] / other["value"].iloc[0]
                out.append(verdict("triton timing", f"{check} vs {rival}", "ok" if ratio < 1 else "FAIL",
                                   f"{row['value']:.3g} ms, {ratio:.2f}x {rival}'s {other['value'].iloc[0]:.3g} ms"))
            floor = floors[(floors["variant"] == kernel) & (floors["dtype"] == "bfloat16") & (floors["T"] == row["T"])]
            share = float(floor["pct_of_floor"].iloc[0]) if len(floor) else float("nan")
            if share == share:
                out.append(verdict("triton timing", f"{check} roofline", "ok" if share >= FLOOR_SHARE else "FAIL",
                                   f"{share:.0f}% of the floor ({floor['bound'].iloc[0]}-bound; target "
                                   f"{FLOOR_SHARE:.0f}%)"))
            else:
                note = floor["note"].iloc[0] if len(floor) else "no roofline row"
                out.append(verdict("triton timing", f"{check} roofline", "skipped", note))
    return out or [verdict("triton timing", "bf16 fwd+bwd against sdpa", "FAIL",
                           f"no bf16 time of a Triton kernel at T >= {SPEED_FROM_T}")]


def memory_verdict(rows: pd.DataFrame) -> dict:
    """Usage: memory_verdict(profile_rows) -> NVML's device-wide peak over the allocator's peak, across cells."""
    ok = rows[(rows["status"] == "ok") & rows["metric"].isin(["peak_memory", "nvml_memory"])] if len(rows) else rows
    paired = ok.pivot_table(index="cell", columns="metric", values="value", aggfunc="first") if len(ok) else ok
    if len(paired) == 0 or not {"peak_memory", "nvml_memory"} <= set(paired.columns):
        return verdict("memory", "NVML against the allocator", "skipped", "no cell has both readings")
    ratio = (paired["nvml_memory"] / paired["peak_memory"]).dropna()
    return verdict("memory", "NVML against the allocator", "info",
                   f"NVML reads {ratio.min():.2f}x to {ratio.max():.2f}x the allocator's peak over {len(ratio)} cells "
                   f"(NVML adds the CUDA context and the caching allocator's reserve)")


def verdict_table(rows: list[dict]) -> pd.DataFrame:
    """Usage: print(verdict_table(rows).to_markdown(index=False)) -> step, check, verdict, detail."""
    return pd.DataFrame(rows, columns=["step", "check", "verdict", "detail"])
