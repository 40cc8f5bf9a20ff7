"""The efficiency table: per length, each attention's time or peak memory, with its ratio to dot and to sdpa.

Usage:
    frame = load_runs("results/reference-profile-cpu", bench="profile")
    for title, block in efficiency_blocks(frame):               # one block per level, mode, causal, dtype, device
        table, notes = efficiency_table(block, "time")         # (T, B) x variant strings, and the failure notes

A cell reads "12.3 ms · 0.45× dot · 1.20× sdpa" (ratios below 1 mean less time or memory than the reference); a
reference that did not run in the block, or the reference's own column, gets no ratio. A cell that failed shows
its status with a note number ("oom [1]"); ``notes`` lists "[1] linrec fwdbwd T=8192: oom: <the reason>".
Blocks never mix modes, causal and non-causal, dtypes or devices: their numbers do not compare.
"""
from __future__ import annotations

import pandas as pd

from bench.profile.analysis import AS_TRAINED, as_trained
from bench.profile.table import measured_values

from .style import whole

BLOCK_KEYS = ["level", "model", "mode", "causal", "dtype", "device", "device_name"]
REFERENCES = ("dot", "sdpa")
UNITS = {"time": ("median", "ms"), "peak_memory": ("peak", "MiB")}


def efficiency_blocks(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Usage: see module docstring. Titles like "attention, fwdbwd, causal, float32, cpu (Intel Xeon ...)"."""
    if frame.empty or "metric" not in frame:
        return []
    frame = frame.assign(model=frame.get("model", pd.Series(index=frame.index, dtype=object)).fillna("-"),
                         device_name=frame.get("device_name", pd.Series(index=frame.index, dtype=object))
                         .fillna("unknown device"))
    frame = frame[frame["T"].notna()]  # rows of other benches (training) have no length
    frame = frame.assign(T=frame["T"].astype(int), B=frame["B"].astype(int))
    grouped = as_trained(frame)  # SASRec's step with linrec (no causal mask) shares a block with its dot step
    blocks = []
    for key, block in grouped.groupby(BLOCK_KEYS, sort=True):
        info = dict(zip(BLOCK_KEYS, key))
        what = "attention" if info["level"] == "attention" else f"model {info['model']}"
        block = frame.loc[block.index]  # the rows as measured, their own causal flag included
        causal = _as_trained(block) if info["causal"] == AS_TRAINED else ", causal" if info["causal"] else ""
        blocks.append((f"{what}, {info['mode']}{causal}, {info['dtype']}, {info['device']} ({info['device_name']})",
                       block))
    return blocks


def _as_trained(block: pd.DataFrame) -> str:
    """Usage: _as_trained(model_level_block) -> ", causal except linrec (no causal mask)", ", causal" or ""."""
    flags = {variant: bool(flag) for variant, flag in zip(block["variant"], block["causal"]) if flag == flag}
    if not any(flags.values()):
        return ""
    plain = [variant for variant, flag in flags.items() if not flag]
    return ", causal" + (f" except {', '.join(plain)} (no causal mask)" if plain else "")


def number(value: float) -> str:
    """Usage: number(1543.2) -> "1,543"; number(12.34) -> "12.3"; number(4) -> "4.00"; number(0.0456) -> "0.0456"."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:#.3g}"


def _ratio_text(value: float, reference: float | None, name: str) -> str:
    if reference is None or not reference == reference or reference <= 0:
        return ""
    ratio = value / reference
    return f" · {ratio:.2f}× {name}" if ratio >= 1 else f" · {ratio:#.2g}× {name}"  # 0.0016×, not 0.00×


def efficiency_table(block: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, list[str]]:
    """Usage: see module docstring. ``metric`` is "time" (median ms) or "peak_memory" (peak MiB)."""
    if metric not in UNITS:
        raise ValueError(f"unknown efficiency metric {metric!r}; valid: {', '.join(UNITS)}")
    stat, unit = UNITS[metric]
    rows = block[block["metric"] == metric]
    if rows.empty:
        return pd.DataFrame(), []
    values = measured_values(rows, stat)
    table = pd.DataFrame("-", index=values.index, columns=values.columns)
    for (T, B), row in values.iterrows():
        for variant, value in row.items():
            if value == value:  # not NaN
                text = f"{number(value)} {unit}"
                for reference in REFERENCES:
                    if reference != variant and reference in values:
                        text += _ratio_text(value, row[reference], reference)
                table.at[(T, B), variant] = text
    notes = []
    for _, failed in rows[rows["status"] != "ok"].iterrows():
        notes.append(f"[{len(notes) + 1}] {failed['variant']} T={whole(failed['T'])} B={whole(failed['B'])}: "
                     f"{failed['status']}: {failed.get('message') or 'no message'}")
        table.at[(failed["T"], failed["B"]), failed["variant"]] = f"{failed['status']} [{len(notes)}]"
    return table, notes
