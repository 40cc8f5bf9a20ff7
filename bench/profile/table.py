"""Console tables of a profiling run: median time and peak memory per length and variant, failures by status.

Usage:
    print_run_table("results/profile-20261129-140000")       # what ``python -m bench profile`` prints at the end
    table = pivot_values(frame, "time", "median")              # one DataFrame per block, text cells
    print(analysis_tables(frame))                              # scaling exponents and crossover lengths
"""
from __future__ import annotations

import pandas as pd

from ..results import load_runs
from .analysis import as_trained, crossovers, reliable_fit, scaling_exponents

BLOCK_KEYS = ["level", "model", "mode", "causal", "dtype", "device"]
INDEX = ["T", "B"]
BASELINE = "dot"


def _block_title(key: tuple) -> str:
    info = dict(zip(BLOCK_KEYS, key))
    what = info["level"] if info["level"] != "model" else f"model {info['model']}"
    causal = ", causal" if info["causal"] else ""
    return f"{what}, {info['mode']}{causal}, {info['dtype']}, {info['device']}"


def measured_values(rows: pd.DataFrame, stat: str) -> pd.DataFrame:
    """Usage: measured_values(rows_of_one_metric, "median") -> (T, B) x variant numbers: every length and variant
    the rows hold (in the order they first appear), NaN where the cell did not measure."""
    variants = list(dict.fromkeys(rows["variant"]))
    index = pd.MultiIndex.from_tuples(sorted(set(zip(rows["T"], rows["B"]))), names=INDEX)
    ok = rows[(rows["status"] == "ok") & (rows.get("stat") == stat)]
    values = ok.pivot_table(index=INDEX, columns="variant", values="value", aggfunc="first")
    return values.reindex(index=index, columns=variants)


def pivot_values(frame: pd.DataFrame, metric: str, stat: str) -> pd.DataFrame:
    """Usage: pivot_values(block_rows, "time", "median") -> text table (T, B) x variant: "12.3 (0.45x)" with the
    ratio to dot when dot ran in the block; a failed cell shows its status (oom, unsupported, ...)."""
    rows = frame[frame["metric"] == metric]
    if rows.empty:
        return pd.DataFrame()
    values = measured_values(rows, stat)
    index, variants = values.index, list(values.columns)
    failed = rows[rows["status"] != "ok"]
    status = failed.pivot_table(index=INDEX, columns="variant", values="status", aggfunc="first")
    status = status.reindex(index=index, columns=variants).astype(object).fillna("-")
    base = values[BASELINE] if BASELINE in values and len(variants) > 1 else None

    def text(column: pd.Series) -> list[str]:
        if base is None:
            return [f"{v:.3g}" for v in column]
        return [f"{v:.3g} ({v / b:.2f}x)" if b == b and b > 0 else f"{v:.3g}" for v, b in zip(column, base)]

    return values.apply(text).where(values.notna(), status)


def print_run_table(run_dir) -> None:
    """Usage: print_run_table(run_dir). One block per (level, model, mode, causal, dtype, device)."""
    frame = load_runs(run_dir, bench="profile")
    if frame.empty:
        print("no rows yet")
        return
    frame = frame.assign(model=frame["model"].fillna("-"))
    with pd.option_context("display.width", 220, "display.max_columns", None, "display.max_rows", None):
        for key, block in frame.groupby(BLOCK_KEYS, sort=False):
            for metric, stat, unit in (("time", "median", "median ms"), ("peak_memory", "peak", "peak MiB")):
                table = pivot_values(block, metric, stat)
                if not table.empty:
                    ratio = " (ratio to dot)" if BASELINE in block["variant"].values else ""
                    print(f"\n{_block_title(key)}: {unit}{ratio}")
                    print(table.to_string())
    if frame["T"].nunique() > 1:
        print(analysis_tables(frame))
    failed = frame[frame["status"] != "ok"].drop_duplicates("cell")
    if not failed.empty:
        print("\nfailed cells:")
        for _, row in failed.iterrows():
            causal = " causal" if row["causal"] else ""
            print(f"  {row['variant']} {row['mode']}{causal} T={row['T']} B={row['B']} {row['dtype']}: "
                  f"{row['status']}: {row['message']}")


def analysis_tables(frame: pd.DataFrame) -> str:
    """Usage: print(analysis_tables(frame)) -> per-sequence scaling exponents of time and memory (log-log fit over
    every measured length, r2 beside it) and the length from which each variant beats dot and sdpa."""
    parts = []
    for metric, label in (("time", "time"), ("peak_memory", "peak memory")):
        fits = scaling_exponents(as_trained(frame), metric=metric, per_sequence=True).dropna(subset=["exponent"])
        if fits.empty:
            continue
        fits = fits.assign(fit=[f"{e:.2f} (r2 {r:.3f}{', unreliable' if reliable_fit(e, r) else ''})"
                                for e, r in zip(fits["exponent"], fits["r2"])], block=_block_labels(fits))
        table = fits.pivot_table(index="variant", columns="block", values="fit", aggfunc="first", sort=False)
        parts.append(f"\nscaling exponent of {label} per sequence in T (value / B ~ T^b):\n{table.to_string()}")
    baselines = tuple(b for b in ("dot", "sdpa") if b in set(frame["variant"]))
    if baselines:
        cross = crossovers(frame, baselines=baselines)
        cross = cross.assign(text=[_crossover_text(row) for _, row in cross.iterrows()],
                             block=_block_labels(cross) + " vs " + cross["baseline"])
        table = cross.pivot_table(index="variant", columns="block", values="text", aggfunc="first", sort=False)
        parts.append(f"\nfaster than the baseline from T = (interpolated crossover; ratio at the longest T):\n"
                     f"{table.to_string()}")
    return "\n".join(parts)


def _crossover_text(row: pd.Series) -> str:
    ratio = f"{row['ratio_at_max_T']:#.3g}x" if row["ratio_at_max_T"] == row["ratio_at_max_T"] else "n/a"
    if row["status"] == "crosses":
        return f"{row['crossover_T']:g} (~{row['crossover_estimate']:.0f}; {ratio})"
    return f"{row['status']} ({ratio})"


def _causal_label(flag) -> str:
    """" as trained", " causal" or "" for a causal flag (True, False, None or AS_TRAINED)."""
    if isinstance(flag, str):
        return f" {flag}"
    return " causal" if flag == flag and flag else ""  # flag == flag: NaN is no flag


def _block_labels(frame: pd.DataFrame) -> pd.Series:
    """"fwdbwd causal", plus level/model, dtype and device where a run mixes them, so no two blocks share a label."""
    label = frame["mode"] + frame["causal"].map(_causal_label)
    for column in ("level", "model", "dtype", "device", "run_id"):
        if column in frame and frame[column].astype(str).nunique() > 1:
            label = label + " " + frame[column].astype(str)
    return label
