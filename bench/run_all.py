"""``python -m bench run-all``: the main job, stage after stage, into one results root; resumable.

Usage:
    python -m bench run-all                   # --quick without a GPU, --full with one
    python -m bench run-all --quick --root results/run-all-quick --stages accuracy report

Stages, each a command of this suite run into its own folder under the root (so each resumes by itself):
    data          fetch, verify and describe the data set the grids train on
    accuracy      python -m bench train-grid <profile>-accuracy      SASRec and BERT4Rec x every attention, seeds
    sensitivity   python -m bench train-grid <profile>-sensitivity   N, d, heads, layers: dot against linrec
    ablation      python -m bench train-grid <profile>-ablation      LinRec feature map x normalisation
    profile       python -m bench profile (attention level, non-causal and causal; model level)
    heatmaps      python -m bench heatmaps on the accuracy run's checkpoints
    report        python -m reports build over every stage's folder, HTML and PDF
A second run skips finished cells and continues a killed cell after its last epoch; Ctrl-C stops after writing
what finished. Each stage's cells are a sweep file in bench/sweeps/ (<profile>-<stage>.toml, profile/<profile>.toml),
whose comments say what quick cuts; the report states the profile's scale, read from them.
"""
from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

from .cli import add_device_argument
from .processes import run_module
from .train.grid import EXECUTOR_OPTIONS, add_executor_arguments
from .train.grids import SWEEPS
from .train.sweeps import load_sweep

STAGES = ("data", "accuracy", "sensitivity", "ablation", "profile", "heatmaps", "report")
TRAINING = ("accuracy", "sensitivity", "ablation")  # the stages that train a grid of cells: <profile>-<stage>.toml


def profile_sweeps(profile: str) -> list[dict]:
    """Usage: profile_sweeps("quick") -> [{"attention": [...], "lengths": [...], ...}, ...]: the profile stage's runs
    of ``python -m bench profile``, each its options as data, from bench/sweeps/profile/<profile>.toml."""
    import tomllib

    path = SWEEPS / "profile" / f"{profile}.toml"
    with open(path, "rb") as handle:
        sweeps = tomllib.load(handle).get("sweep")
    if not isinstance(sweeps, list) or not sweeps or not all(isinstance(s, dict) for s in sweeps):
        raise ValueError(f"{path}: needs [[sweep]] tables, each the options of one `python -m bench profile` run")
    return sweeps


def as_arguments(options: dict) -> list[str]:
    """Usage: as_arguments({"lengths": [64, 256], "no_memory": True}) -> ["--lengths", "64", "256", "--no-memory"]:
    a command's options as data, turned into its command line (True is a bare flag, False and None are left out)."""
    argv = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        argv.append("--" + name.replace("_", "-"))
        if value is not True:
            argv += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return argv


def scale_note(profile: str) -> str:
    """Usage: scale_note("quick") -> the report's note on what this profile trains and measures, read from its sweep
    files (the first SASRec and BERT4Rec cells of the accuracy grid, the seeds each stage trains on)."""
    from models.mixers import is_attention

    accuracy = load_sweep(SWEEPS / f"{profile}-accuracy.toml")
    spec, cells = accuracy[0][0], [config for _, config in accuracy]
    base = next(c for c in cells if c.model == "sasrec")
    bert = next(c for c in cells if c.model == "bert4rec")
    seeds = {c.seed for c in cells}
    fewer = {"the token mixers beyond attention": {c.seed for c in cells if not is_attention(c.attention)},
             "the ablation": {c.seed for _, c in load_sweep(SWEEPS / f"{profile}-ablation.toml")}}
    fewer = [f"{len(s)} for {what}" for what, s in fewer.items() if s and len(s) != len(seeds)]
    data, sweeps = spec["options"], profile_sweeps(profile)
    longest = max(max(sweep["lengths"]) for sweep in sweeps)
    what = (f"{spec['name'].upper()} {data['user_k']}-core cut to each user's "
            f"{data['max_history']} most recent interactions, N={base.max_len}, d={base.hidden}, {base.heads} heads, "
            f"{base.layers} layer{'s' * (base.layers > 1)}, up to {base.epochs} epochs with patience {base.patience} "
            f"(BERT4Rec: batch {bert.batch_size}, up to {bert.epochs} epochs), {len(seeds)} seeds"
            f"{' (' + ', '.join(fewer) + ')' if fewer else ''}; profiling up to T={longest}")
    if profile == "quick":
        return (f"Quick profile: {what}. It shows the shape of each comparison in about 20 minutes on 2 CPU cores; "
                f"it does not reproduce the paper's numbers (use --full on a GPU).")
    dtypes = sorted({d for sweep in sweeps for d in sweep.get("dtype", ["float32"])}, reverse=True)
    return f"Full profile: {what} in {' and '.join(dtypes)}."


def default_profile() -> str:
    import torch

    return "full" if torch.cuda.is_available() else "quick"


def stage_commands(stage: str, profile: str, root: Path, data_dir: str | None, device: str = "auto",
                   executor: dict | None = None) -> list[list[str]]:
    """Usage: stage_commands("accuracy", "quick", root, None) -> the argv lists (for bench or reports) it runs;
    training, profiling and heatmaps run on ``device`` (auto: CUDA where there is a GPU); training cells run as
    ``executor`` says (train-grid's options: executor, workers, gpus, ...)."""
    data = ["--data-dir", data_dir] if data_dir else []
    on = ["--device", device]
    if stage == "data":
        spec = load_sweep(SWEEPS / f"{profile}-accuracy.toml")[0][0]
        return [["bench", "data", *as_arguments({"dataset": spec["name"], **spec["options"]}), *data]]
    if stage in TRAINING:  # a cell another stage trained already is copied
        others = [str(root / s) for s in TRAINING if s != stage and (root / s / "rows.jsonl").is_file()]
        return [["bench", "train-grid", f"{profile}-{stage}", "--run-dir", str(root / stage), *data, *on,
                 *as_arguments({"reuse_from": others or None, **(executor or {})})]]
    if stage == "profile":
        return [["bench", "profile", *as_arguments(sweep), "--run-dir", str(root / f"profile-{i + 1}"), *on,
                 *as_arguments(profile_executor(executor or {}))]
                for i, sweep in enumerate(profile_sweeps(profile))]
    if stage == "heatmaps":
        return [["bench", "heatmaps", str(root / "accuracy"), *data, *on]]
    if stage == "report":
        folders = [root / s for s in ("accuracy", "sensitivity", "ablation")]
        folders += [root / f"profile-{i + 1}" for i in range(len(profile_sweeps(profile)))]
        runs = [str(f) for f in folders if (f / "rows.jsonl").exists()]  # stages not run (yet) are left out
        if not runs:
            raise ValueError(f"{root}: no stage has results yet; run the other stages first")
        return [["reports", "build", *runs, "--out", str(root / "report"), "--pdf", "--title",
                 f"LinRec-Bench report ({profile} profile)", "--scale-note", scale_note(profile)]]
    raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")


def profile_executor(executor: dict) -> dict:
    """Usage: profile_executor(train_grid_options) -> the ones a profiling sweep takes: all of them on a job array or
    with a GPU per worker; none for a CPU pool, whose workers would time their cells side by side."""
    spread = executor.get("executor") == "submitit" or (executor.get("executor") == "local" and executor.get("gpus"))
    return {k: v for k, v in executor.items() if k != "threads"} if spread else {}


def run_command(argv: list[str], run_bench) -> int:
    """Usage: run_command(["bench", "data", ...], main) -> its exit status. A bench command runs in this process
    through ``run_bench`` (python -m bench's main); a report is built by ``python -m reports`` in a process of its
    own, since measuring code never imports rendering code."""
    if argv[0] == "bench":
        return run_bench(argv[1:])
    return run_module(argv[0], argv[1:], capture=False).returncode


def run_all(profile: str, root: Path, run_bench, stages=STAGES, data_dir: str | None = None,
            device: str = "auto", executor: dict | None = None) -> int:
    """Usage: run_all("quick", root, main) (see module docstring). Returns 0, or the first failing stage's status
    (later stages still run when they do not depend on it, so one failure does not cost the rest)."""
    status = 0
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        print(f"\n== {number}/{len(stages)} {stage} ({profile})", flush=True)
        for argv in stage_commands(stage, profile, root, data_dir, device, executor):
            code = run_command(argv, run_bench)
            if code == 130:
                return 130  # Ctrl-C: stop here, what finished is kept
            status = status or code
        print(f"== {stage}: {time.perf_counter() - started:.0f} s", flush=True)
    report = root / "report"
    print(f"\nreport: {report / 'report.html'}\npdf:    {report / 'report.pdf'}")
    return status


def add_run_all_command(commands, run_bench) -> None:
    """Usage: add_run_all_command(commands, main): ``run-all``, running the bench stages through ``main``."""
    cmd = commands.add_parser("run-all", help="every stage of the main job (what run_all.sh runs)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scale = cmd.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="profile", action="store_const", const="quick",
                       help="about 20 minutes on 2 CPU cores (the default without a GPU)")
    scale.add_argument("--full", dest="profile", action="store_const", const="full",
                       help="paper scale (the default with a GPU)")
    cmd.add_argument("--root", type=Path, default=None, help="results root (default results/run-all-<profile>)")
    cmd.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                     help="the stages to run, in their order (default: all)")
    cmd.add_argument("--data-dir", default=None, help="data cache folder (default: $LINREC_BENCH_DATA or <repo>/data)")
    add_device_argument(cmd)
    add_executor_arguments(cmd)
    cmd.set_defaults(run=functools.partial(run_from_args, run_bench=run_bench))


def run_from_args(args: argparse.Namespace, run_bench) -> int:
    profile = args.profile or default_profile()
    root = args.root or Path("results") / f"run-all-{profile}"
    from .environment import select_device

    select_device(args.device)  # one line before any stage when the device cannot run here
    executor = {name: getattr(args, name) for name in EXECUTOR_OPTIONS}  # passed on to every train-grid stage
    return run_all(profile, root, run_bench, [s for s in STAGES if s in args.stages], args.data_dir, args.device,
                   executor)
