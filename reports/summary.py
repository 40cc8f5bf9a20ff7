"""What each run shows, up front: a short table per run, written from its numbers, with the caveats it carries.

Usage:
    for run, table in run_findings(run_dirs, frame, marks, scale="Quick profile"):
        print(run, table)              # columns "finding" and "what the numbers say", one row per finding

A training run says, per backbone and protocol, which attention ranked first on test NDCG@10 and how sure that is
(the change against dot, the paired t-test's p over seeds, or that one seed allows no test); where the run holds
several configurations (a sensitivity sweep), how often each attention ranked first. A profiling run says, per
block (level, mode, causal, dtype, device), from which length each attention is faster than sdpa, and how peak
memory per sequence grows with T. The last row of each lists the caveats: the scale of the run, provenance marks,
planned cells without a result yet, cells that did not finish or measure, and timings taken under load.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from bench.load import OTHERS_LIMIT
from bench.profile.analysis import crossovers, reliable_fit, scaling_exponents
from bench.runs.status import describe

from .accuracy import accuracy_summary, excluded_cells, finished_cell_ids, setting_columns
from .efficiency import efficiency_blocks, number
from .style import whole

METRIC = "ndcg@10"
COLUMNS = ["finding", "what the numbers say"]


def run_findings(run_dirs: list[Path], frame: pd.DataFrame, marks: dict, scale: str = "") -> list:
    """Usage: see module docstring. [(run name, DataFrame with COLUMNS)] in the order of ``run_dirs``."""
    tables = []
    for run in run_dirs:
        rows = frame[frame["run_id"] == run.name] if "run_id" in frame else frame.iloc[0:0]
        train, profile = (rows[rows["bench"] == bench] if "bench" in rows else rows.iloc[0:0]
                          for bench in ("train", "profile"))
        found = training_findings(train) + profile_findings(profile)
        caveats = ([scale] if scale else []) + marks.get(run.name, []) + not_run(run) + unfinished(train, profile)
        caveats += loaded(rows)
        caveats += reused(train)
        found.append(("caveats", "; ".join(caveats) or "none recorded"))
        tables.append((run.name, pd.DataFrame(found, columns=COLUMNS)))
    return tables


def training_findings(train: pd.DataFrame) -> list[tuple[str, str]]:
    """Usage: training_findings(rows_of_one_training_run) -> [("best test NDCG@10, sasrec, full", "linrec ...")]."""
    if train.empty:
        return []
    tested = train[(train["split"] == "test") & train["cell"].isin(finished_cell_ids(train))]
    found = []
    for protocol in sorted(set(tested["protocol"].dropna())):
        summary = accuracy_summary(train, protocol)
        summary = summary[summary["metric"] == METRIC]
        alike = [k for k in ("model", "dataset", "max_len", *setting_columns(summary)) if k in summary]
        for model, rows in summary.groupby("model", sort=True):
            groups = [group for _, group in rows.groupby(alike, dropna=False) if group["attention"].nunique() > 1]
            if not groups:
                continue
            what = f"best test {METRIC.upper()}, {model}, {protocol} protocol"
            if len(groups) == 1:
                lengths = f", N={whole(groups[0]['max_len'].iloc[0])}"
                found.append((what + lengths, best_text(groups[0])))
            else:
                found.append((what + f", {len(groups)} configurations", wins_text(groups)))
    return found


def best_text(group: pd.DataFrame) -> str:
    """Usage: best_text(summary_rows_of_one_configuration) -> "linrec 0.0657 (+9.5% vs dot, p = 0.003: ...)"."""
    ranked = group.sort_values("mean", ascending=False)
    best = ranked.iloc[0]
    text = f"{best['attention']} {best['mean']:.4f}"
    if best["attention"] == "dot":
        runner = ranked.iloc[1]
        return text + f"; the next, {runner['attention']}, {against_dot(runner)}"
    return text + (f" ({against_dot(best)})" if np.isfinite(best["change"]) else " (no dot beside it)")


def against_dot(row: pd.Series) -> str:
    """Usage: against_dot(summary_row) -> "+9.5% vs dot, p = 0.003 over 3 seeds: significant"."""
    change = f"{100 * row['change']:+.1f}% vs dot"
    if not np.isfinite(row["p"]):
        return change + (", one seed: no significance test" if row["n"] < 2 else ", no test (no shared seeds)")
    verdict = "significant" if row["p"] < 0.05 else "not significant"
    return change + f", p = {row['p']:.2g} over {int(row['n'])} seeds: {verdict}"


def wins_text(groups: list[pd.DataFrame]) -> str:
    """Usage: wins_text(configurations) -> "first: linrec in 5, dot in 3; linrec above dot in 6 of 8 (2 at p<0.05)"."""
    wins = Counter(group.sort_values("mean", ascending=False)["attention"].iloc[0] for group in groups)
    text = "first: " + ", ".join(f"{name} in {count}" for name, count in wins.most_common())
    leader = next((name for name, _ in wins.most_common() if name != "dot"), None)
    rows = [group[group["attention"] == leader].iloc[0] for group in groups if (group["attention"] == leader).any()]
    paired = [row for row in rows if np.isfinite(row["change"])]
    if leader and paired:
        above = [row for row in paired if row["change"] > 0]
        significant = sum(1 for row in above if np.isfinite(row["p"]) and row["p"] < 0.05)
        tests = "no seeds to test" if not any(np.isfinite(row["p"]) for row in paired) else \
            f"{significant} at p < 0.05"
        text += f"; {leader} above dot in {len(above)} of {len(paired)} ({tests})"
    return text


def profile_findings(profile: pd.DataFrame) -> list[tuple[str, str]]:
    """Usage: profile_findings(rows_of_one_profiling_run) -> per block, the crossovers against sdpa and the
    memory exponents."""
    found = []
    for title, block in efficiency_blocks(profile):
        title = title.rsplit(" (", 1)[0]  # the device's name is in the provenance section
        if "sdpa" in set(block["variant"]):
            crossed = crossovers(block, baselines=("sdpa",))
            texts = [crossover_text(row) for _, row in crossed.iterrows() if row["status"] != "no common lengths"]
            if texts:
                found.append((f"faster than sdpa, {title}", "; ".join(texts)))
        fits = scaling_exponents(block, metric="peak_memory", per_sequence=True).dropna(subset=["exponent"])
        if len(fits):
            fits = fits.assign(shown=fits["exponent"].round(2)).sort_values(["shown", "variant"])
            texts = [f"{row['variant']} T^{row['exponent']:.2f}" + (" (unreliable fit)" if reliable_fit(
                row["exponent"], row["r2"]) else "") for _, row in fits.iterrows()]
            found.append((f"peak memory per sequence ~ T^b, {title}", ", ".join(texts)))
    return found


def crossover_text(row: pd.Series) -> str:
    """Usage: crossover_text(crossovers_row) -> "linrec from T≈540", "... at every length", "dot never (...)"."""
    if row["status"] == "always faster":
        return f"{row['variant']} at every length ({number(row['ratio_at_max_T'])}× sdpa's time at the longest)"
    if row["status"] == "crosses":
        return f"{row['variant']} from T≈{row['crossover_estimate']:.0f}"
    at = f"{number(row['ratio_at_max_T'])}× sdpa's time at T={whole(row['T_max'])}" \
        if np.isfinite(row["ratio_at_max_T"]) else f"up to T={whole(row['T_max'])}"
    return f"{row['variant']} never ({at})"


def unfinished(train: pd.DataFrame, profile: pd.DataFrame) -> list[str]:
    """Usage: unfinished(train_rows, profile_rows) -> ["2 of 78 training cells did not finish (diverged 2)"]."""
    notes = []
    if len(train):
        excluded = excluded_cells(train)
        if len(excluded):
            kinds = ", ".join(f"{status} {count}" for status, count in Counter(excluded["status"]).most_common())
            notes.append(f"{len(excluded)} of {train['cell'].nunique()} training cells did not finish ({kinds})")
    if len(profile) and "status" in profile:
        key = [c for c in ("variant", "mode", "causal", "dtype", "T", "B") if c in profile]
        failed = profile[profile["status"] != "ok"].drop_duplicates(key)
        if len(failed):
            kinds = ", ".join(f"{status} {count}" for status, count in Counter(failed["status"]).most_common())
            notes.append(f"{len(failed)} profiled cells did not measure ({kinds})")
    return notes


def not_run(run: Path) -> list[str]:
    """Usage: not_run(run_dir) -> ["3 of 15 planned training cells have no result yet ..."]: the cells its plan
    (a grid's plan.json, a sweep's resolved cell count) names that it has not finished, so a grid cut short or
    still running does not read as complete."""
    try:
        state = describe(run)
    except ValueError as err:  # a torn plan.json or config.json: say so, the rest of the report stands
        return [f"its plan could not be read ({err})"]
    missing = state["left"] + len(state["running"]) + (len(state["failed"]) if state["kind"] == "train" else 0)
    if not missing:
        return []
    kind = {"train": "training", "profile": "profiling"}[state["kind"]]
    return [f"{missing} of {state['planned']} planned {kind} cells have no result yet (not run, still running or "
            f"failed)"]


def reused(train: pd.DataFrame) -> list[str]:
    """Usage: reused(train_rows) -> ["6 of 28 training cells copied from accuracy, where the same cell was trained"]."""
    if "reused_from" not in train or train["reused_from"].isna().all():
        return []
    sources = train.dropna(subset=["reused_from"]).groupby("reused_from")["cell"].nunique()
    return [f"{count} of {train['cell'].nunique()} training cells copied from {source}, where the same cell was "
            f"trained" for source, count in sources.items()]


def loaded(rows: pd.DataFrame) -> list[str]:
    """Usage: loaded(rows_of_one_run) -> ["3 timings taken under load even after retries", ...]."""
    notes = []
    if "loaded" in rows:
        timed = rows[rows["loaded"].notna() & (rows.get("metric") == "time")]
        if len(timed):
            notes.append(f"{len(timed)} timings taken under load even after retries (marked in the scaling captions)")
    if "metric" in rows:
        shares = rows.loc[rows["metric"] == "others_cpu", "value"]
        if (shares > OTHERS_LIMIT).any():
            notes.append(f"{int((shares > OTHERS_LIMIT).sum())} of {len(shares)} training epochs timed while other "
                         f"processes used more than {100 * OTHERS_LIMIT:.0f}% of the CPUs")
    return notes
