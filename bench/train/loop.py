"""Training with early stopping on validation NDCG@10, then evaluation of the best checkpoint on the test targets.

Usage:
    config = TrainConfig(model="sasrec", attention="linrec", max_len=50, objective="last", epochs=50)
    summary = train(config, data, run_dir)      # data: bench.data.SequenceData; rows appended to run_dir/rows.jsonl

Objectives (see batches.py): ``last`` (every prefix is a sample, loss at its last position: RecBole's
setting, the one the official LinRec was evaluated in), ``all`` (loss at every position; only for a causal model
whose attention honours masks, or the model would see the item it predicts) and ``cloze`` (BERT4Rec). Losses:
``ce`` over all items (the paper's) or ``bce`` with one uniformly sampled negative per target.

A cell's rows are collected in ``cells/<cell>.partial.jsonl`` while it runs and appended to ``rows.jsonl`` in one
write when it ends (finished or diverged), so a killed run never leaves half a cell in the results: re-running
the same command redoes only the cells without a final status row. The best model is saved as a state_dict in
``checkpoints/<cell>.pt`` and reloaded with ``torch.load(..., weights_only=True)``. After every epoch the whole
training state goes to ``cells/<cell>.resume.pt`` (resume.py), so a killed cell continues after its last
finished epoch with the same numbers an uninterrupted run gives.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models.attention import kernel_ran
from models.backbones import build_model, get_backbone
from models.mixers import is_attention

from ..cli import show_progress
from ..environment import check_device
from ..load import load_between, snapshot

from .batches import LeaveOneOut, make_batch, pair_batches, training_windows, window_pairs
from .config import TrainConfig, check_config, check_split, dataset_label, parse_mixer_options, training_path
from .evaluate import evaluate
from .log import CellLog, log_epoch
from .metrics import NonFiniteScores
from .resume import load_resume, remove_resume, restore, resume_path, save_atomically, save_resume


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or inf: the cell ends as ``diverged``."""


def compute_loss(model, batch: dict, objective: str, loss: str, generator: torch.Generator) -> torch.Tensor:
    """Usage: compute_loss(model, batch, "last", "ce", gen) -> scalar loss over the batch's targets. With the host
    facts of batches.with_host_facts (``padded``, ``target_index``) nothing here waits for the device."""
    h = model.encode(batch["item_seq"], batch.get("padded"))  # (B, T, hidden)
    target = batch["target"]
    if objective == "last" and target.dim() == 1:  # per prefix: the loss at each window's last position
        h = h[torch.arange(h.shape[0], device=h.device), batch["lengths"] - 1]  # (B, hidden)
    elif "target_index" in batch:  # the positions that carry a loss, found on the host
        h, target = h.flatten(0, 1)[batch["target_index"]], target.flatten()[batch["target_index"]]  # (P, ...)
    else:
        positions = target > 0
        h, target = h[positions], target[positions]  # (P, hidden), (P,)
    if loss == "ce":
        return F.cross_entropy(model.item_scores(h), target - 1)
    n = model.num_items
    shift = torch.randint(1, n, target.shape, generator=generator).to(target.device, non_blocking=True)
    negative = (target - 1 + shift) % n + 1  # uniform over the other items
    logits = model.item_scores(h, torch.stack([target, negative], -1))  # (P, 2)
    return F.softplus(-logits[:, 0]).mean() + F.softplus(logits[:, 1]).mean()


def to_device(batch: dict, device: str) -> dict:
    """Usage: to_device(batch, "cuda") -> the batch's tensors there: from pinned memory, without waiting, on CUDA;
    host facts (bools) as they are."""
    cuda = torch.device(device).type == "cuda"
    return {key: (value.pin_memory() if cuda else value).to(device, non_blocking=cuda)
            if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def train_one_epoch(model, optimizer, split, samples, config, generator, progress: bool) -> dict:
    """Usage: stats = train_one_epoch(...) -> {"loss", "seconds", "data_seconds", "samples", "pairs", "steps",
    "load"} (windows, (context, target) pairs, optimizer steps, the machine's load meanwhile: bench/load.py);
    raises TrainingDiverged when a step's loss was NaN/inf. The loss is the mean over pairs. Objective ``last``
    batches ``batch_size`` pairs whichever path runs; ``all`` and ``cloze`` batch windows. The losses are summed
    on the device and read once, at the end of the epoch: no step waits for the device."""
    model.train()
    before = snapshot()
    start, data_seconds, count, pairs = time.perf_counter(), 0.0, 0, 0
    total = torch.zeros((), dtype=torch.float64, device=config.device)
    first_bad = torch.full((), -1, dtype=torch.long, device=config.device)  # the first step whose loss was not finite
    batches = list(pair_batches(window_pairs(samples), config.batch_size, generator))  # windows for all and cloze
    for step, (index, first, stop) in enumerate(tqdm(batches, leave=False, disable=not show_progress(progress),
                                                     unit="batch",
                                                     file=sys.stderr)):
        tick = time.perf_counter()
        batch = make_batch(split, samples, index, config.objective, model.max_len, config.mask_ratio,
                           getattr(model, "mask_token", None), generator, targets=(first, stop))
        targets = len(index) if batch["target"].dim() == 1 else len(batch["target_index"])  # counted on the host
        batch = to_device(batch, config.device)
        data_seconds += time.perf_counter() - tick
        loss = compute_loss(model, batch, config.objective, config.loss, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = loss.detach().double()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(value), step + 1, first_bad)
        total += value * targets
        count, pairs = count + len(index), pairs + targets
    if int(first_bad) >= 0:
        raise TrainingDiverged(f"training loss became {float(total)} at step {int(first_bad)}")
    return {"loss": float(total) / max(pairs, 1), "seconds": time.perf_counter() - start,
            "data_seconds": data_seconds, "samples": count, "pairs": pairs, "steps": len(batches),
            "load": load_between(before, snapshot())}


def model_for_config(config: TrainConfig, num_items: int):
    """Usage: model = model_for_config(config, split.num_items) -> the untrained model the config describes."""
    backbone = get_backbone(config.model)
    options = {} if not backbone.trainable else dict(
        attention=config.attention, hidden=config.hidden, heads=config.heads, inner=config.inner,
        layers=config.layers, dropout=config.dropout, activation=config.activation, seed=config.seed,
        mixer_options=parse_mixer_options(config.mixer_options), block=config.block)
    options.update({name: getattr(config, name) for name in backbone.model_options})  # BERT4Rec: mask_ratio
    return build_model(config.model, num_items=num_items, max_len=config.max_len, **options).to(config.device)


def train(config: TrainConfig, data, run_dir: str | Path, *, dataset: str | None = None, progress: bool = True) -> dict:
    """Usage: see the module docstring. Returns {"cell", "status", "best_epoch", "test": {metric: value}, ...}.
    ``dataset`` labels the rows (default: dataset_label(data), e.g. "ml-100k-5core")."""
    started = time.perf_counter()
    dataset = dataset or dataset_label(data)
    check_device(config.device)  # before any tensor moves there
    torch.manual_seed(config.seed)
    split = LeaveOneOut.from_data(data, config.seed if config.shuffle_train_order else None)
    check_split(config, split, dataset)
    model, backbone = model_for_config(config, split.num_items), get_backbone(config.model)
    check_config(config, model)
    cell = config.cell_id(dataset)
    base = {"run_id": Path(run_dir).name, "bench": "train", "cell": cell, "dataset": dataset, **asdict(config),
            "attention": config.attention if backbone.mixes else "none", "causal": model.causal,
            "threads": torch.get_num_threads(), "path": training_path(config, model),
            "data_sha256": data.content_sha256()}
    resume = resume_path(run_dir, cell)
    state = load_resume(resume, cell, base["data_sha256"]) if backbone.trainable else None
    log = CellLog(run_dir, base, keep_epochs=state["epoch"] if state else 0)
    if state and log.epochs_logged() != state["epoch"]:  # the rows of the saved epochs are gone: start over
        state, log = None, CellLog(run_dir, base)
    evaluation = dict(protocol=config.protocol, exclude_seen=config.exclude_seen, batch_size=config.eval_batch_size,
                      seed=config.seed, device=config.device)
    checkpoint = Path(run_dir) / "checkpoints" / f"{cell}.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if not backbone.trainable:
        model.fit(split.train_items())
        best_epoch, epochs_run, status, message = 0, 0, "finished", ""
        save_atomically(model.state_dict(), checkpoint)
    else:
        best_epoch, epochs_run, status, message = fit(model, split, config, log, evaluation, checkpoint, progress,
                                                      state)
    test = {}
    if status != "diverged" or best_epoch > 0:  # a run that diverged before its first validation has no model
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
        test = evaluate(model, split, "test", **evaluation)
        log.metrics("test", best_epoch, test)
    log.add(split="train", epoch=epochs_run, metric="best_epoch", value=best_epoch)
    device_type = torch.device(config.device).type
    kernel = kernel_ran(config.attention, device_type) if not backbone.mixes or is_attention(config.attention) \
        else model.mixer_kernel_path(device_type)
    log.commit(status, message, kernel=kernel,
               seconds=time.perf_counter() - started)  # this attempt's wall time (a resumed cell: since resuming)
    remove_resume(resume)
    return {"cell": cell, "status": status, "message": message, "best_epoch": best_epoch, "epochs_run": epochs_run,
            "test": test}


def fit(model, split, config, log, evaluation, checkpoint, progress, state: dict | None = None):
    """Usage: fit(...) -> (best_epoch, epochs_run, status, message). Adam; early stopping on valid NDCG@10.
    ``state`` (from load_resume) continues a killed attempt after its last finished epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    samples = training_windows(split, config.objective, config.max_len,
                               one_pass=log.base["path"] == "per-sequence")
    progress_state = {"best": float("-inf"), "best_epoch": 0, "waited": 0, "stopped": False}
    best_state, first = None, 1
    if state:
        restore(state, model, optimizer, generator)
        progress_state = {key: state[key] for key in progress_state}
        best_state, first = state["best_model"], state["epoch"] + 1
        save_atomically(best_state, checkpoint)
        log.add(split="train", epoch=state["epoch"], metric="resumed", value=state["epoch"])
        tqdm.write(f"resuming after epoch {state['epoch']}", file=sys.stdout)
        if progress_state["stopped"]:
            return progress_state["best_epoch"], state["epoch"], "finished", stop_message(state["epoch"], config)
    for epoch in range(first, config.epochs + 1):
        try:
            stats = train_one_epoch(model, optimizer, split, samples, config, generator, progress)
        except TrainingDiverged as err:
            log.add(split="train", epoch=epoch, metric="diverged", value=1)
            return progress_state["best_epoch"], epoch, "diverged", f"{err} of epoch {epoch}"
        tick = time.perf_counter()
        try:
            valid = evaluate(model, split, "valid", **evaluation)
        except NonFiniteScores as err:  # the loss stayed finite, the weights did not
            log.add(split="train", epoch=epoch, metric="diverged", value=1)
            return progress_state["best_epoch"], epoch, "diverged", f"{err} after epoch {epoch}"
        stats["eval_seconds"] = time.perf_counter() - tick
        log_epoch(log, epoch, stats, valid, config.loss)
        if valid["ndcg@10"] > progress_state["best"]:
            progress_state.update(best=valid["ndcg@10"], best_epoch=epoch, waited=0)
            best_state = {key: value.clone() for key, value in model.state_dict().items()}
            save_atomically(best_state, checkpoint)
        else:
            progress_state["waited"] += 1
            progress_state["stopped"] = progress_state["waited"] >= config.patience
        save_resume(resume_path(log.run_dir, log.base["cell"]), log.base["cell"], epoch, model, optimizer, generator,
                    best_state, progress_state, log.base["data_sha256"])
        if progress_state["stopped"]:
            return progress_state["best_epoch"], epoch, "finished", stop_message(epoch, config)
    return progress_state["best_epoch"], config.epochs, "finished", f"epoch limit {config.epochs} reached"


def stop_message(epoch: int, config) -> str:
    """Usage: stop_message(6, config) -> why training stopped at ``epoch``: patience, even at the epoch limit."""
    limit = " (also the epoch limit)" if epoch == config.epochs else ""
    return (f"early stop at epoch {epoch}{limit}: no better valid NDCG@10 for {config.patience} "
            f"epoch{'s' if config.patience != 1 else ''}")
