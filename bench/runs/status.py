"""``python -m bench status RUN...``: where each run folder stands: cells finished, running (by whom, since when),
failed (why), left, and the time left estimated from the finished cells' durations.

Usage:
    python -m bench status results/run-all-quick          # a folder of stages: each stage folder in turn
    python -m bench status results/smoke results/profile-1
    describe(run_dir) -> {"kind", "planned", "finished", "running", "failed", "left", "seconds_left",
                          "seconds_per_cell"}

Training folders: plan.json (written by train-grid) names the cells; a finished cell has a status row, a running one
a live claim (cells/<cell>.claim), a failed one a ``train_failure`` row newer than its last attempt; the rest are
left. Profile folders: config.json's cell count, the cells whose rows are complete, and those of them that failed
with an error. Torch-free. Exit status 1 when some cell failed.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from .claims import is_stale, read_claim
from ..results import complete_cells, read_json, read_rows


def stage_folders(path: Path) -> list[Path]:
    """Usage: stage_folders(results/run-all-quick) -> the run folders in it (or the folder itself, if it is one)."""
    path = Path(path)
    if (path / "rows.jsonl").exists() or (path / "plan.json").exists() or (path / "config.json").exists():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_dir() and (p / "config.json").exists()) if path.is_dir() else []
    if not found:
        raise ValueError(f"{path}: not a results run folder, nor a folder of them")
    return found


def live_claims(run_dir: Path) -> dict:
    """Usage: live_claims(run_dir) -> {cell: claim} of the cells a live worker holds now."""
    claims = {}
    for path in sorted((Path(run_dir) / "cells").glob("*.claim")):
        claim = read_claim(path)
        if claim is not None and not is_stale(claim):
            claims[path.name.removesuffix(".claim")] = claim
    return claims


def cell_seconds(rows: list[dict]) -> list[float]:
    """The wall time of each finished training cell: its status row's, else its epochs' and evaluations' sum."""
    spent: dict[str, float] = {}
    for row in rows:
        if row.get("metric") in ("epoch_time", "eval_time") and isinstance(row.get("value"), (int, float)):
            spent[row["cell"]] = spent.get(row["cell"], 0.0) + row["value"]
    return [r.get("seconds", spent.get(r["cell"], 0.0)) for r in rows if r.get("metric") == "status"]


def describe(run_dir: Path) -> dict:
    """Usage: see module docstring."""
    run_dir = Path(run_dir)
    rows = read_rows(run_dir / "rows.jsonl") if (run_dir / "rows.jsonl").exists() else []
    config = read_json(run_dir / "config.json") if (run_dir / "config.json").exists() else {}
    if config.get("command") == "profile":
        done = complete_cells(rows)
        failed = {r["cell"]: r.get("message", "") for r in rows if r.get("cell") in done and r.get("status") == "error"}
        planned = int((config.get("resolved") or {}).get("cells", len(done)))
        return {"kind": "profile", "planned": planned, "finished": len(done) - len(failed), "running": {},
                "failed": failed, "left": max(planned - len(done), 0), "seconds_left": None, "seconds_per_cell": None}
    train = [r for r in rows if r.get("bench") == "train" and r.get("cell")]  # a row without its cell names none
    finished = {r["cell"] for r in train if r.get("metric") == "status"}
    plan = read_json(run_dir / "plan.json") if (run_dir / "plan.json").exists() else {}
    planned = list(plan.get("cells") or sorted({r["cell"] for r in train}))
    running = {cell: claim for cell, claim in live_claims(run_dir).items() if cell not in finished}
    failed = {r["cell"]: r.get("message", "") for r in rows if r.get("bench") == "train_failure" and r.get("cell")
              and r["cell"] not in finished and r["cell"] not in running}
    left = [c for c in planned if c not in finished and c not in running and c not in failed]
    durations = cell_seconds(train)
    pace = statistics.median(durations) if durations else None
    seconds_left = None if pace is None else pace * (len(left) + len(running)) / max(len(running), 1)
    return {"kind": "train", "grid": plan.get("grid"), "planned": len(planned), "finished": len(finished & set(planned))
            if plan else len(finished), "running": running, "failed": failed, "left": len(left),
            "seconds_left": seconds_left, "seconds_per_cell": pace}


def report_lines(run_dir: Path, state: dict) -> list[str]:
    """Usage: report_lines(run_dir, describe(run_dir)) -> the lines ``bench status`` prints for one folder."""
    what = f"{state['kind']}" + (f", grid {state['grid']}" if state.get("grid") else "")
    eta = "" if state["seconds_left"] is None or not (state["left"] or state["running"]) else \
        f"; about {state['seconds_left'] / 60:.1f} min left at the pace of the finished cells"
    lines = [f"{run_dir} ({what}): {state['finished']} of {state['planned']} finished, {len(state['running'])} "
             f"running, {len(state['failed'])} failed, {state['left']} left{eta}"]
    now = time.time()
    for cell, claim in state["running"].items():
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(claim.get("since", now)))
        lines.append(f"  running: {cell} by {claim.get('owner', '?')} since {since} "
                     f"(heartbeat {now - float(claim.get('heartbeat', now)):.0f} s ago)")
    lines += [f"  failed: {cell}: {why}" for cell, why in state["failed"].items()]
    return lines


def add_status_command(commands) -> None:
    cmd = commands.add_parser("status", help="cells finished, running, failed and left in run folders")
    cmd.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders, or folders of them")
    cmd.set_defaults(run=run_status)


def run_status(args) -> int:
    failed = False
    for path in args.runs:
        for run_dir in stage_folders(path):
            state = describe(run_dir)
            print("\n".join(report_lines(run_dir, state)))
            failed |= bool(state["failed"])
    return 1 if failed else 0
