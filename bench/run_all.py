"""``python -m bench run-all``: the main job, stage after stage, into one results root; resumable.

Usage:
    python -m bench run-all                   # --quick without a GPU, --full with one
    python -m bench run-all --quick --root results/run-all-quick --stages accuracy report

Stages, each a command of this suite run into its own folder under the root (so each resumes by itself):
    data          fetch, verify and describe the data sets
    accuracy      python -m bench train-grid <profile>-accuracy      SASRec and BERT4Rec x every attention, seeds
    sensitivity   python -m bench train-grid <profile>-sensitivity   N, d, heads, layers: dot against linrec
    ablation      python -m bench train-grid <profile>-ablation      LinRec feature map x normalisation
    profile       python -m bench profile (attention level, non-causal and causal; model level)
    heatmaps      python -m bench heatmaps on the accuracy run's checkpoints
    report        python -m reports build over every stage's folder, HTML and PDF
A second run skips finished cells and continues a killed cell after its last epoch; Ctrl-C stops after writing
what finished. The report states the profile's scale (bench/grids_run_all.py says what quick cuts).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

STAGES = ("data", "accuracy", "sensitivity", "ablation", "profile", "heatmaps", "report")
# The non-causal sweeps leave linrec_causal out: with causal off it runs linrec's own Function, the same code and
# numbers as the linrec cells (each one more fresh measuring process, with its kernel warm-up, for nothing).
PROFILE_SWEEPS = {
    "quick": [
        ["--attention", "dot", "sdpa", "linrec_official", "linrec", "linear_elu", "performer",
         "efficient", "--lengths", "64", "256", "1024", "2048", "--tokens", "4096", "--mode", "fwd", "fwdbwd",
         "infer", "--repeats", "5", "--max-seconds", "5"],
        ["--attention", "dot", "sdpa", "linrec_causal", "linear_elu", "--causal", "on", "--lengths", "64", "256",
         "1024", "2048", "--tokens", "4096", "--mode", "fwdbwd", "--repeats", "5", "--max-seconds", "5"],
        ["--level", "model", "--attention", "dot", "sdpa", "linrec", "--lengths", "20", "200", "1000", "--tokens",
         "4096", "--hidden", "32", "--heads", "2", "--layers", "1", "--items", "1349", "--mode", "fwdbwd",
         "--repeats", "3", "--max-seconds", "5"],
    ],
    "full": [
        ["--attention", "dot", "sdpa", "xformers", "linrec_official", "linrec", "linear_elu",
         "performer", "efficient", "cosformer", "--lengths", "128", "256", "512", "1024", "2048", "4096", "8192",
         "16384", "--tokens", "65536", "--mode", "fwd", "fwdbwd", "infer", "--dtype", "float32", "bfloat16"],
        ["--attention", "dot", "sdpa", "xformers", "linrec_causal", "linear_elu", "--causal", "on", "--lengths",
         "128", "512", "2048", "8192", "16384", "--tokens", "65536", "--mode", "fwdbwd", "--dtype", "bfloat16"],
        ["--level", "model", "--attention", "dot", "sdpa", "linrec_official", "linrec", "--lengths", "50", "100",
         "200", "400", "1000", "--tokens", "65536", "--hidden", "128", "--heads", "8", "--layers", "2",
         "--mode", "fwdbwd", "infer"],
    ],
}
SCALE_NOTE = {
    "quick": "Quick profile: ML-100K 5-core cut to each user's 40 most recent interactions, N=20, d=32, one layer, "
             "at most 6 epochs (BERT4Rec: batch 64, at most 30), two seeds, CPU profiling up to T=2048. It shows "
             "the shape of each comparison in about 20 minutes on 2 CPU cores; it does not reproduce the paper's "
             "numbers (use --full on a GPU).",
    "full": "Full profile: ML-1M 5-core, N=200, d=128, 8 heads, 2 layers, up to 50 epochs with patience 4 "
            "(BERT4Rec: batch 128, up to 200 epochs with patience 10), three seeds; profiling up to T=16384 in "
            "float32 and bfloat16.",
}


def default_profile() -> str:
    import torch

    return "full" if torch.cuda.is_available() else "quick"


def stage_commands(stage: str, profile: str, root: Path, data_dir: str | None) -> list[list[str]]:
    """Usage: stage_commands("accuracy", "quick", root, None) -> the argv lists (for bench or reports) it runs."""
    data = ["--data-dir", data_dir] if data_dir else []
    if stage == "data":
        name, options = ("ml-100k", ["--k-core", "5"]) if profile == "quick" else ("ml-1m", ["--k-core", "5"])
        return [["bench", "data", "--dataset", name, *options, *data]]
    if stage in ("accuracy", "sensitivity", "ablation"):
        return [["bench", "train-grid", f"{profile}-{stage}", "--run-dir", str(root / stage), *data]]
    if stage == "profile":
        return [["bench", "profile", *sweep, "--run-dir", str(root / f"profile-{i + 1}")]
                for i, sweep in enumerate(PROFILE_SWEEPS[profile])]
    if stage == "heatmaps":
        return [["bench", "heatmaps", str(root / "accuracy"), *data]]
    if stage == "report":
        folders = [root / s for s in ("accuracy", "sensitivity", "ablation")]
        folders += [root / f"profile-{i + 1}" for i in range(len(PROFILE_SWEEPS[profile]))]
        runs = [str(f) for f in folders if (f / "rows.jsonl").exists()]  # stages not run (yet) are left out
        if not runs:
            raise ValueError(f"{root}: no stage has results yet; run the other stages first")
        return [["reports", "build", *runs, "--out", str(root / "report"), "--pdf", "--title",
                 f"LinRec-Bench report ({profile} profile)", "--scale-note", SCALE_NOTE[profile]]]
    raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")


def run_command(argv: list[str]) -> int:
    """Usage: run_command(["bench", "data", ...]) -> exit status of that command, run in this process."""
    if argv[0] == "bench":
        from .__main__ import main
    else:
        from reports.__main__ import main
    return main(argv[1:])


def run_all(profile: str, root: Path, stages=STAGES, data_dir: str | None = None) -> int:
    """Usage: see module docstring. Returns 0, or the first failing stage's status (later stages still run when
    they do not depend on it, so one failure does not cost the rest)."""
    status = 0
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        print(f"\n== {number}/{len(stages)} {stage} ({profile})", flush=True)
        for argv in stage_commands(stage, profile, root, data_dir):
            code = run_command(argv)
            if code == 130:
                return 130  # Ctrl-C: stop here, what finished is kept
            status = status or code
        print(f"== {stage}: {time.perf_counter() - started:.0f} s", flush=True)
    report = root / "report"
    print(f"\nreport: {report / 'report.html'}\npdf:    {report / 'report.pdf'}")
    return status


def add_run_all_command(commands) -> None:
    cmd = commands.add_parser("run-all", help="every stage of the main job (what run_all.sh runs)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scale = cmd.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="profile", action="store_const", const="quick",
                       help="about 20 minutes on 2 CPU cores (the default without a GPU)")
    scale.add_argument("--full", dest="profile", action="store_const", const="full",
                       help="paper scale (the default with a GPU)")
    cmd.add_argument("--root", type=Path, default=None, help="results root (default results/run-all-<profile>)")
    cmd.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    cmd.add_argument("--data-dir", default=None)
    cmd.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    profile = args.profile or default_profile()
    root = args.root or Path("results") / f"run-all-{profile}"
    return run_all(profile, root, [s for s in STAGES if s in args.stages], args.data_dir)
