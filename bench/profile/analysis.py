"""Derived analysis of profiling rows: scaling exponents, crossover lengths, speedup tables.

Usage:
    frame = pd.DataFrame(read_rows(run_dir / "rows.jsonl"))
    scaling_exponents(frame, per_sequence=True)   # one row per series: b in value ~ T^b, fitted in log-log
    crossovers(frame, baselines=("dot", "sdpa"))   # from which measured length each variant beats each baseline
    speedup_table(frame, baseline="sdpa")          # long format baseline/variant per cell, for a variant x T heatmap
    as_trained(frame)                              # model-level causal flags merged where each variant ran one way
    out_of_line(frame)                             # {cell id: why} for timings far off their series' trend
    reliable_fit(exponent, r2)                     # None, or why a fitted slope is not a result

Pure functions: tidy rows in (one measured value per row, see bench/results.py), a new DataFrame out. Columns an
old run lacks are filled with None when they only label a series (model, options, batch_policy, ...); a column
the computation needs (variant, T, metric, status, value, ...) is a one-line ValueError naming it. Missing
values in key columns (model is None at attention level) are matched like any other value.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

# One scaling series. "batch" is derived: B under a fixed batch, the token budget under batch_policy "tokens"
# (B = tokens // T varies with T there, so B itself cannot label the series). "options" is canonical JSON, so
# performer with 64 and with 128 features are two series.
SCALING_KEY = ("run_id", "level", "model", "mode", "variant", "options", "causal", "device", "dtype",
               "batch_policy", "batch", "H", "D")
# Same cell except the variant; T and B are matched per length on top of this.
PAIR_KEY = ("run_id", "level", "model", "mode", "causal", "device", "dtype", "batch_policy", "H", "D")
# A side failing this way at a length where the other runs loses there. Other failures (unsupported,
# unavailable, error, skipped) say nothing about speed, so that length is left out.
BASELINE_LOSSES = ("oom",)
_LABELS = ("run_id", "level", "model", "mode", "causal", "device", "dtype", "batch_policy", "tokens", "B", "H", "D",
           "options")
_STATS = {"time": "median"}  # memory metrics have the single stat "peak"
OUT_OF_LINE_FACTOR = 3.0  # a timing this many times off the trend of its series' other lengths is measured again
AS_TRAINED = "as trained"  # the causal label of model-level cells compared as each backbone trains them
MIN_R2 = 0.9  # a log-log fit explaining less of the variance than this is no scaling law


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns))
        raise ValueError(f"{what}: rows lack required column {missing[0]!r} (have: {have})")


def _options_key(options) -> str:
    """Canonical text for an options dict (None / NaN / missing -> ""), so it can label a series."""
    if isinstance(options, str):
        return options
    return json.dumps(options, sort_keys=True) if isinstance(options, dict) and options else ""


def _prepare(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """A copy with the required columns checked, label columns filled, options canonical and "batch" derived."""
    _require(frame, required, what)
    out = frame.copy()
    for column in _LABELS:
        if column not in out.columns:
            out[column] = None
    out["options"] = out["options"].map(_options_key).astype(object)
    tokens = out["batch_policy"].eq("tokens") & out["tokens"].notna()
    out["batch"] = out["tokens"].where(tokens, out["B"]).astype(object)
    return out


def as_trained(frame: pd.DataFrame) -> pd.DataFrame:
    """Usage: as_trained(rows) -> a copy whose model-level rows read causal = AS_TRAINED wherever every variant of
    their sweep ran one way only (causal=auto). A model-level sweep runs each attention as the backbone trains with
    it: SASRec's step with a mask-ignoring attention (linrec) is still the step to compare against SASRec's causal
    dot, so the two pair up. A sweep that measured some variant both ways (causal=both) keeps its flags."""
    if frame.empty or "level" not in frame or "causal" not in frame:
        return frame.copy()
    sweep = [key for key in ("run_id", "level", "model", "mode", "dtype", "device") if key in frame]
    keys = [frame[key].astype(str) for key in sweep]  # astype(str): None labels group like any other value
    ways = frame.groupby([*keys, frame["variant"]])["causal"].transform("nunique")
    one_way = ways.groupby(keys).transform("max").le(1)
    merged = frame["level"].eq("model") & one_way
    return frame.assign(causal=frame["causal"].astype(object).where(~merged, AS_TRAINED))


def _ok(frame: pd.DataFrame, metric: str, stat: str | None) -> pd.DataFrame:
    stat = stat or _STATS.get(metric, "peak")
    value = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    keep = frame["status"].eq("ok") & frame["metric"].eq(metric) & frame["stat"].eq(stat) & np.isfinite(value)
    return frame[keep].assign(value=value[keep])


def loglog_fit(T: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Usage: loglog_fit(T, y) -> (b, a, r2): least squares log y = a + b log T, r2 in log space."""
    x, z = np.log(T), np.log(y)
    b, a = np.polyfit(x, z, 1)
    ss_res, ss_tot = float(np.sum((z - (a + b * x)) ** 2)), float(np.sum((z - z.mean()) ** 2))
    return float(b), float(a), 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0


def reliable_fit(exponent: float, r2: float) -> str | None:
    """Usage: reliable_fit(1.02, 0.99) -> None; reliable_fit(-0.13, 0.135) -> "negative slope, r² 0.14". A cost
    (time, memory) that falls with T, or a fit below MIN_R2, is no result to draw."""
    if not np.isfinite(exponent):
        return "fewer than two lengths"
    problems = (["negative slope"] if exponent < 0 else []) + ([f"r² {r2:.2f} < {MIN_R2}"] if r2 < MIN_R2 else [])
    return ", ".join(problems) or None


def robust_line(x: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Usage: robust_line(log_T, log_y) -> (slope, intercept) by Theil-Sen: the median of the pairwise slopes,
    then the median intercept, so one wild point cannot tilt the line the others lie on."""
    i, j = np.triu_indices(len(x), 1)
    slope = float(np.median((z[j] - z[i]) / (x[j] - x[i])))
    return slope, float(np.median(z - slope * x))


def out_of_line(frame: pd.DataFrame, factor: float = OUT_OF_LINE_FACTOR) -> dict:
    """Usage: out_of_line(profile_rows) -> {cell id: reason} for median times per sequence more than ``factor``
    times off the robust log-log line through their series (series of four lengths or more)."""
    ok = _ok(_prepare(frame, ("cell", "variant", "T", "B", "metric", "stat", "status", "value"), "out_of_line"),
             "time", None)
    ok = ok.assign(y=ok["value"].astype(float) / ok["B"].astype(float))
    found = {}
    for _, series in ok.groupby(list(SCALING_KEY), dropna=False):
        per_T = series.groupby("T").agg(y=("y", "mean"), cell=("cell", "first"))
        if len(per_T) < 4:
            continue
        x, z = np.log(per_T.index.to_numpy(float)), np.log(per_T["y"].to_numpy(float))
        slope, intercept = robust_line(x, z)
        off = np.exp(z - (intercept + slope * x))
        for cell, ratio in zip(per_T["cell"], off):
            if ratio > factor or ratio < 1 / factor:
                found[cell] = f"{ratio:.2g}x the trend of its series"
    return found


def scaling_exponents(frame: pd.DataFrame, metric: str = "time", stat: str | None = None, per_sequence: bool = False,
                      min_T: int | None = None, max_T: int | None = None) -> pd.DataFrame:
    """Usage: scaling_exponents(frame, per_sequence=True, min_T=512) -> one row per SCALING_KEY series.

    Columns: SCALING_KEY, exponent, intercept (log of value at T = 1), r2, points (distinct lengths fitted), T_min,
    T_max. stat defaults to "median" for time and "peak" for memory. Repeated rows at one length are averaged in
    log space; series with fewer than 2 lengths in [min_T, max_T] keep NaN exponent. Reading: per sequence, dot
    (materialised T x T scores) grows ~T^2 in time, linear attention (linrec, linear_elu, ...) ~T^1; fused
    softmax (sdpa, xformers) sits between at short T, where it is memory-bound, and tends to 2 at long T.
    per_sequence=True divides value by B, so a token-budget sweep (B = tokens // T) shows the same exponents.
    """
    what = "scaling_exponents"
    ok = _ok(_prepare(frame, ("variant", "T", "metric", "stat", "status", "value") + ("B",) * per_sequence, what),
             metric, stat)
    ok = ok.assign(y=np.log(ok["value"].astype(float) / (ok["B"].astype(float) if per_sequence else 1.0)))
    ok = ok[np.isfinite(ok["y"])]  # a non-positive value has no logarithm
    records = []
    for key, series in ok.groupby(list(SCALING_KEY), dropna=False, sort=True):
        series = series[series["T"].between(min_T or 0, max_T or np.inf)]  # filtered here: a series stays listed
        per_T = series.groupby("T")["y"].mean()
        T, y = per_T.index.to_numpy(float), np.exp(per_T.to_numpy(float))
        exponent, intercept, r2 = loglog_fit(T, y) if len(T) >= 2 else (np.nan, np.nan, np.nan)
        records.append({**dict(zip(SCALING_KEY, key)), "exponent": exponent, "intercept": intercept, "r2": r2,
                        "points": len(T), "T_min": T.min() if len(T) else np.nan,
                        "T_max": T.max() if len(T) else np.nan})
    return pd.DataFrame(records, columns=[*SCALING_KEY, "exponent", "intercept", "r2", "points", "T_min", "T_max"])


def _cells(frame: pd.DataFrame, metric: str, stat: str | None) -> pd.DataFrame:
    """One row per cell (PAIR_KEY, variant, options, T, B): value (NaN if it failed) and status (ok, oom, ...)."""
    cell = [*PAIR_KEY, "variant", "options", "T", "B"]
    ok = _ok(frame, metric, stat).groupby(cell, dropna=False, sort=False)["value"].mean().reset_index()
    failed = frame[frame["status"].ne("ok") & (frame["metric"].eq(metric) | frame["metric"].isna())]
    failed = failed.drop_duplicates(cell)[cell + ["status"]].assign(value=np.nan)
    merged = pd.concat([ok.assign(status="ok"), failed], ignore_index=True)
    return merged.drop_duplicates(cell, keep="first")  # a cell that succeeded on a retry counts as ok


def _pairs(cells: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Variant cells joined to the baseline cell of the same PAIR_KEY, T and B."""
    base = cells[cells["variant"].eq(baseline)].drop(columns=["variant", "options", "series"], errors="ignore")
    base = base.drop_duplicates([*PAIR_KEY, "T", "B"])
    pairs = cells[cells["variant"].ne(baseline)].merge(base, on=[*PAIR_KEY, "T", "B"], suffixes=("", "_base"))
    return pairs.assign(baseline=baseline, ratio=pairs["value"] / pairs["value_base"])


def _faster(pairs: pd.DataFrame) -> pd.DataFrame:
    """Comparable lengths only, with faster = ratio < 1, or the baseline lost (oom) where the variant ran."""
    ok, ok_base = pairs["status"].eq("ok"), pairs["status_base"].eq("ok")
    lost = ok & pairs["status_base"].isin(BASELINE_LOSSES)
    variant_lost = pairs["status"].isin(BASELINE_LOSSES) & ok_base  # the same rule, the other way round
    keep = (ok & ok_base) | lost | variant_lost
    pairs = pairs.assign(faster=(ok & ok_base & (pairs["ratio"] < 1)) | lost, baseline_lost=lost)
    return pairs[keep].sort_values("T")


def _interpolate(before: pd.Series, after: pd.Series) -> float:
    """Length where log ratio crosses 0 on the log-log line through two lengths; after.T if a ratio is missing."""
    r0, r1 = before["ratio"], after["ratio"]
    if not (np.isfinite(r0) and np.isfinite(r1) and r0 > 0 and r1 > 0) or r0 == r1:
        return float(after["T"])
    t = np.log(r0) / (np.log(r0) - np.log(r1))
    return float(np.exp(np.log(before["T"]) + t * (np.log(after["T"]) - np.log(before["T"]))))


def _crossover(series: pd.DataFrame) -> dict:
    """crossover_T, estimate, status, ratio at the longest common length, and a note, for one variant/baseline."""
    if series.empty:
        return {"crossover_T": np.nan, "crossover_estimate": np.nan, "status": "no common lengths",
                "ratio_at_max_T": np.nan, "T_max": np.nan, "note": ""}
    faster = series["faster"].to_numpy()
    slower = np.flatnonzero(~faster)
    first = 0 if slower.size == 0 else slower[-1] + 1  # first index from which every longer length is faster
    lost, failed = series.loc[series["baseline_lost"]], series.loc[series["status"].ne("ok")]
    note = [f"baseline {lost['status_base'].iloc[0]} at T>={lost['T'].min()}"] if len(lost) else []
    note += [f"variant {failed['status'].iloc[0]} at T>={failed['T'].min()}"] if len(failed) else []
    result = {"ratio_at_max_T": float(series["ratio"].iloc[-1]), "T_max": series["T"].iloc[-1], "note": "; ".join(note)}
    if first == len(series):
        return {**result, "crossover_T": np.nan, "crossover_estimate": np.nan, "status": "never faster"}
    crossover_T = series["T"].iloc[first]
    if first == 0:
        return {**result, "crossover_T": crossover_T, "crossover_estimate": float(crossover_T),
                "status": "always faster"}
    estimate = _interpolate(series.iloc[first - 1], series.iloc[first])
    return {**result, "crossover_T": crossover_T, "crossover_estimate": estimate, "status": "crosses"}


def crossovers(frame: pd.DataFrame, baselines: tuple[str, ...] = ("dot", "sdpa"), metric: str = "time",
               stat: str | None = None) -> pd.DataFrame:
    """Usage: crossovers(frame, baselines=("dot", "sdpa")) -> one row per (PAIR_KEY, variant, options, baseline).

    Columns: PAIR_KEY, variant, options, baseline, crossover_T (smallest measured T from which the variant is
    faster at every longer measured length; NaN if never), crossover_estimate (log-log interpolation of ratio = 1
    between the last slower length and crossover_T), status ("always faster" | "crosses" | "never faster" | "no
    common lengths"), ratio_at_max_T (variant / baseline at the longest common length; NaN if either failed
    there), T_max, note. Variant and baseline are compared at the same T and B. A baseline oom where the variant
    ran counts as the variant faster, a variant oom where the baseline ran as slower (both noted); other failures
    (unavailable, unsupported, error) leave that length out. Model-level cells pair as trained (see as_trained).
    """
    required = ("variant", "T", "B", "metric", "stat", "status", "value")
    cells = _cells(as_trained(_prepare(frame, required, "crossovers")), metric, stat)
    group = [*PAIR_KEY, "variant", "options"]
    cells["series"] = cells.groupby(group, dropna=False, sort=True).ngroup()  # NaN-safe label of each series
    records = []
    for baseline in baselines:
        pairs = _faster(_pairs(cells, baseline))
        variants = cells[cells["variant"].ne(baseline)].drop_duplicates("series").sort_values("series")
        for _, row in variants.iterrows():
            series = pairs[pairs["series"].eq(row["series"])]
            records.append({**row[group].to_dict(), "baseline": baseline, **_crossover(series)})
    columns = [*group, "baseline", "crossover_T", "crossover_estimate", "status", "ratio_at_max_T", "T_max", "note"]
    return pd.DataFrame(records, columns=columns)


def speedup_table(frame: pd.DataFrame, baseline: str = "sdpa", metric: str = "time",
                  stat: str | None = None) -> pd.DataFrame:
    """Usage: speedup_table(frame, "sdpa").pivot_table(index="variant", columns="T", values="speedup") -> heatmap.

    Long format, one row per variant cell with an ok baseline cell of the same PAIR_KEY, T and B: PAIR_KEY, T, B,
    variant, options, baseline, value, value_base, speedup = value_base / value (> 1: the variant is faster).
    Failed cells on either side are left out; crossovers() reports those.
    """
    required = ("variant", "T", "B", "metric", "stat", "status", "value")
    cells = _cells(as_trained(_prepare(frame, required, "speedup_table")), metric, stat)
    pairs = _pairs(cells, baseline)
    pairs = pairs[pairs["status"].eq("ok") & pairs["status_base"].eq("ok")]
    pairs = pairs.assign(speedup=pairs["value_base"] / pairs["value"])
    columns = [*PAIR_KEY, "T", "B", "variant", "options", "baseline", "value", "value_base", "speedup"]
    return pairs[columns].sort_values([*PAIR_KEY, "variant", "T"], na_position="first").reset_index(drop=True)
