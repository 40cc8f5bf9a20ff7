"""Attention heatmaps from trained checkpoints: the implicit T x T matrix of one layer and head of every trained
cell whose mixer has one (every attention; gla, retnet and hstu among the other mixers), for one real user's test
window, stored beside the run's rows so that reports never load a model.

Usage:
    python -m bench heatmaps results/my-run [--user 17] [--layer 0] [--head 0] [--data-dir data] [--mixer dot gla]
    rows = heatmap_rows("results/my-run", user=None, layer=0, head=0)   # written to results/my-run/heatmaps.jsonl

Each row: the cell's settings, the user (index among the split's users), the window's real length (positions at
and after it are padding), the layer and head, ``softmax`` (whether the registry marks the variant exact, that is
softmax attention) and ``matrix``: T x T, row i = query position i. Softmax variants give attention weights (rows
sum to 1 over real keys); linear ones their implicit weights, which need not. The default user is the one whose
test history is the median length, so the choice does not favour any variant.
Cells need their checkpoint (``checkpoints/<cell>.pt``); a cell without a readable one is skipped with a
message.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from models.attention import get_spec
from models.backbones import get_backbone
from models.mixers import get_mixer_spec

from .environment import select_device
from .results import read_rows, recorded_cells, write_rows
from .train.batches import LeaveOneOut, evaluation_inputs, gather_windows
from .train.config import TrainConfig
from .train.loop import model_for_config

FILE = "heatmaps.jsonl"


def trained_cells(run_dir: Path) -> list[tuple[str, TrainConfig, dict]]:
    """Usage: trained_cells(run_dir) -> [(cell, config, dataset spec)] of finished neural cells, in id order."""
    run_dir = Path(run_dir)
    finished = {r["cell"] for r in read_rows(run_dir / "rows.jsonl")
                if r.get("bench") == "train" and r.get("metric") == "status" and r.get("status") == "finished"}
    recorded = recorded_cells(run_dir)
    cells = []
    for cell in sorted(finished & set(recorded)):
        config = TrainConfig(**recorded[cell]["train"])
        if get_backbone(config.model).mixes:
            cells.append((cell, config, recorded[cell]["dataset"]))
    return cells


def median_user(split: LeaveOneOut, history_len: int) -> int:
    """Usage: median_user(split, 50) -> the user whose test history length is the median (lowest index on ties)."""
    lengths = evaluation_inputs(split, "test", history_len)["history_lengths"]
    order = torch.argsort(lengths, stable=True)
    return int(order[len(order) // 2])


def cell_matrix(config: TrainConfig, weights: dict, split: LeaveOneOut, user: int, layer: int, head: int):
    """Usage: matrix, length = cell_matrix(...) -> (T, T) tensor of the cell's layer/head for the user's test window
    (BERT4Rec: with its [MASK] slot after the window, as it predicts) and the number of real positions."""
    model = model_for_config(config, split.num_items)
    model.load_state_dict(weights)
    model.eval()
    if not 0 <= layer < config.layers or not 0 <= head < config.heads:
        raise ValueError(f"layer {layer} / head {head} out of range: the model has {config.layers} layers and "
                         f"{config.heads} heads")
    inputs = evaluation_inputs(split, "test", model.history_len)
    starts, lengths = inputs["starts"][user:user + 1], inputs["lengths"][user:user + 1]
    item_seq = gather_windows(split.items, starts, lengths, model.max_len)  # (1, T)
    real = int(lengths[0])
    if get_backbone(config.model).mask_slot:  # the [MASK] it predicts from is part of the matrix
        item_seq, real = model.with_mask_appended(item_seq, lengths), real + 1
    matrices = model.implicit_matrices(item_seq)  # per layer: (1, H, T, T)
    return matrices[layer][0, head].float().cpu(), real


def drawable(cells: list[tuple], mixers: list[str] | None) -> list[tuple]:
    """Usage: drawable(trained_cells(run_dir), ["gla"]) -> the cells whose mixer has a T x T matrix (and is one of
    ``mixers`` when given); each mixer without one is named once on the console."""
    for name in mixers or []:
        get_mixer_spec(name)  # an unknown name: one line with the valid ones
    chosen = [c for c in cells if mixers is None or c[1].attention in mixers]
    for name in dict.fromkeys(c[1].attention for c in chosen if not get_mixer_spec(c[1].attention).matrix):
        print(f"{name}: no T x T matrix ({get_mixer_spec(name).family}), its cells skipped")
    return [c for c in chosen if get_mixer_spec(c[1].attention).matrix]


def heatmap_rows(run_dir, user: int | None = None, layer: int = 0, head: int = 0, data_dir=None,
                 device: str = "cpu", mixers: list[str] | None = None) -> list[dict]:
    """Usage: see module docstring. Returns the rows (also written to run_dir/heatmaps.jsonl, replacing it).
    ``data_dir`` None is the data folder every command uses ($LINREC_BENCH_DATA or <repo>/data); ``device`` is
    where the matrices are computed, whichever device trained the cell; ``mixers``: only these mixers' cells."""
    from .data import load_dataset

    run_dir = Path(run_dir)
    cells, loaded, rows = trained_cells(run_dir), {}, []
    if not cells:
        raise ValueError(f"{run_dir}: no finished training cell with a recorded configuration")
    cells = drawable(cells, mixers)
    if not cells:
        raise ValueError(f"{run_dir}: no finished cell of {', '.join(mixers or ['a mixer'])} has a T x T matrix")
    for cell, config, dataset in cells:
        checkpoint = run_dir / "checkpoints" / f"{cell}.pt"
        if not checkpoint.exists():
            print(f"{cell}: no checkpoint, skipped")
            continue
        try:
            weights = torch.load(checkpoint, weights_only=True, map_location="cpu")
        except Exception as err:  # a truncated or foreign file: this cell has no matrix, the others still do
            print(f"{cell}: checkpoint {checkpoint} unreadable ({type(err).__name__}), skipped")
            continue
        key = json.dumps(dataset, sort_keys=True)
        if key not in loaded:
            loaded[key] = load_dataset(dataset["name"], data_dir=data_dir, **dataset.get("options", {}))
        split = LeaveOneOut.from_data(loaded[key], config.seed if config.shuffle_train_order else None)
        chosen = median_user(split, config.max_len) if user is None else user
        if not 0 <= chosen < split.num_users:
            raise ValueError(f"user {chosen} out of range: the split has {split.num_users} users")
        matrix, real = cell_matrix(replace(config, device=device), weights, split, chosen, layer, head)
        rows.append({"bench": "heatmap", "run_id": run_dir.name, "cell": cell, "model": config.model,
                     "attention": config.attention, "softmax": is_softmax(config.attention),
                     "max_len": config.max_len, "seed": config.seed,
                     "shuffle_train_order": config.shuffle_train_order, "dataset": dataset["name"], "user": chosen,
                     "length": real, "layer": layer, "head": head, "matrix": matrix.tolist()})
    write_rows(run_dir / FILE, rows)
    return rows


def is_softmax(name: str) -> bool:
    """Usage: is_softmax("dot") -> True: an exact (softmax) attention, whose rows sum to 1 over real keys."""
    return get_mixer_spec(name).attention is not None and get_spec(name).exact


def run_heatmaps(args: argparse.Namespace) -> int:
    device = select_device(args.device)
    rows = heatmap_rows(args.run_dir, args.user, args.layer, args.head, args.data_dir, device, args.mixers)
    print(f"{len(rows)} heatmaps (user {rows[0]['user'] if rows else '-'}, layer {args.layer}, head {args.head}) "
          f"in {Path(args.run_dir) / FILE}")
    return 0
