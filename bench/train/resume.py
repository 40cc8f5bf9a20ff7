"""Epoch-level resumption of a training cell: a run killed mid-cell continues after its last finished epoch.

Usage:
    save_atomically(model.state_dict(), path)              # torch.save, the old file or the new one, never half
    path = resume_path(run_dir, cell)                      # run_dir/cells/<cell>.resume.pt
    save_resume(path, cell, epoch, model, optimizer, generator, best_state, progress, data_sha256)  # each epoch
    state = load_resume(path, cell, data_sha256)           # None when there is nothing (usable) to resume
    restore(state, model, optimizer, generator)            # model, Adam moments and every random stream

The file holds everything the next epoch depends on (weights, optimiser moments, the batch-order generator, the
global torch random state that drives dropout, the best model so far and the early-stopping counters), so a
resumed cell gives the same numbers as an uninterrupted one: tests/test_train.py proves it. It is written to a
temporary file and renamed, so a kill during the write leaves the previous epoch's state, never half a file.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..results import atomic_write
from .log import DataChanged, data_changed

FORMAT = 1


def resume_path(run_dir: Path, cell: str) -> Path:
    """Usage: resume_path(run_dir, cell) -> run_dir/cells/<cell>.resume.pt."""
    return Path(run_dir) / "cells" / f"{cell}.resume.pt"


def save_resume(path: Path, cell: str, epoch: int, model, optimizer, generator, best_state: dict,
                progress: dict, data_sha256: str) -> None:
    """Usage: save_resume(path, cell, epoch, model, optimizer, generator, best_state, {"best": .., "best_epoch":
    .., "waited": .., "stopped": ..}, data.content_sha256()). Atomic: old or new state, never half."""
    state = {"format": FORMAT, "cell": cell, "data_sha256": data_sha256, "epoch": epoch, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
             "torch_rng": torch.get_rng_state(), "best_model": best_state, **progress}
    device = next(model.parameters()).device
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    save_atomically(state, path)


def save_atomically(obj, path: Path) -> None:
    """Usage: save_atomically(state_dict, path): torch.save through a temporary file renamed over ``path``."""
    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def load_resume(path: Path, cell: str, data_sha256: str) -> dict | None:
    """Usage: load_resume(path, cell, data.content_sha256()) -> the saved state, or None (with a warning when a
    file was there but unusable: corrupt, another format or another cell's). DataChanged when the state was
    trained on other data."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # a torn or foreign file: start the cell over rather than fail the run
        warnings.warn(f"{path}: cannot resume ({type(err).__name__}); the cell starts over", stacklevel=2)
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("cell") != cell:
        warnings.warn(f"{path}: not a resume state of this cell; the cell starts over", stacklevel=2)
        return None
    if state.get("data_sha256") not in (None, data_sha256):
        raise DataChanged(f"{data_changed(cell, state['data_sha256'], data_sha256)}: its finished epochs will not "
                          f"be resumed on it; delete {path} to train the cell again from the start")
    return state


def restore(state: dict, model, optimizer, generator) -> None:
    """Usage: restore(state, model, optimizer, generator). Puts weights, moments and random streams back."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], next(model.parameters()).device)


def remove_resume(path: Path) -> None:
    """Usage: remove_resume(path) once the cell's rows are committed."""
    path.unlink(missing_ok=True)
