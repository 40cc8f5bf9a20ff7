"""Training and evaluation: a recommender trained on one data set with one attention, cell by cell, resumable.

Usage:
    from bench.train import TrainConfig, train
    summary = train(TrainConfig(model="sasrec", attention="linrec", max_len=50), data, "results/my-run")

Files: config.py (a cell's settings and checks), batches.py (leave-one-out split, training windows, batches),
loop.py (the training loop, early stopping, the test), evaluate.py and metrics.py (full ranking or sampled
candidates, HR/NDCG/MRR), log.py (a cell's rows, committed in one write), resume.py (epoch-level resumption),
grids.py (named grids of cells), summary.py (mean ± std over seeds: ``train-summary``), cli.py (``train``,
``train-grid``).
"""
from __future__ import annotations

__all__ = ["TrainConfig", "train"]


def __getattr__(name: str):
    """Usage: bench.train.train: TrainConfig and train load on first use (PEP 562), so that importing one of this
    package's light files (config.py, grids.py, the command parsers) does not import torch."""
    if name == "TrainConfig":
        from .config import TrainConfig

        return TrainConfig
    if name == "train":
        from .loop import train

        return train
    raise AttributeError(f"module 'bench.train' has no attribute {name!r}")
