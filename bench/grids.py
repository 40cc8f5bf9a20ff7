"""Named grids of training cells: each entry is (dataset spec, TrainConfig). ``python -m bench train-grid NAME``.

Usage:
    from bench.grids import GRIDS
    cells = GRIDS["reference-ml100k"]()    # [({"name": "ml-100k", "options": {...}}, TrainConfig(...)), ...]

Cells are listed in the order they should run, most informative first, so a grid cut short still gives a table.
"""
from __future__ import annotations

from dataclasses import replace

from .grids_run_all import RUN_ALL_GRIDS
from .train import TrainConfig

ML100K_5CORE = {"name": "ml-100k", "options": {"user_k": 5, "item_k": 5}}

# The reproduction setting: RecBole-style SASRec on ML-100K, full ranking, objective "last", CE.
REFERENCE = TrainConfig(model="sasrec", hidden=64, inner=256, layers=2, heads=2, dropout=0.2, activation="gelu",
                        batch_size=512, lr=2e-3, patience=4, epochs=50, objective="last", loss="ce", protocol="full")


def reference_ml100k() -> list[tuple[dict, TrainConfig]]:
    """SASRec with dot, linrec_official and linrec: 3 seeds at N=50, 1 seed at N=200, and sdpa once (exact:
    it must match dot within seed noise); then the sanity floors: most-popular, and dot trained on shuffled
    training sequences (which must do clearly worse than on the real order)."""
    attentions = ("dot", "linrec_official", "linrec")
    first = [replace(REFERENCE, attention=a, max_len=50, seed=0) for a in attentions]
    first.append(replace(REFERENCE, attention="sdpa", max_len=50, seed=0))
    more_seeds = [replace(REFERENCE, attention=a, max_len=50, seed=s) for s in (1, 2) for a in attentions]
    long = [replace(REFERENCE, attention=a, max_len=200, seed=0) for a in attentions]
    floors = [replace(REFERENCE, model="pop", attention="dot", max_len=50, seed=0),
              replace(REFERENCE, attention="dot", max_len=50, seed=0, shuffle_train_order=True)]
    return [(ML100K_5CORE, config) for config in first + floors + more_seeds + long]


GRIDS = {"reference-ml100k": reference_ml100k, **RUN_ALL_GRIDS}
