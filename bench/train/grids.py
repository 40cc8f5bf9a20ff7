"""Named grids of training cells: the sweep files shipped in bench/sweeps/, by name. ``train-grid NAME``.

Usage:
    from bench.train.grids import GRIDS
    cells = GRIDS["reference-ml100k"]()    # [({"name": "ml-100k", "options": {...}}, TrainConfig(...)), ...]

Every grid is a sweep file (sweeps.py reads it): the reference grids, ``smoke``, and run_all.sh's stages at two
scales, ``quick-*`` (the default without a GPU: the whole job within 20 minutes on 2 CPU cores) and ``full-*``
(paper scale, for a GPU). Each file's comment says what it trains and why. Copy one and edit it for a sweep of your
own: ``python -m bench train-grid my-sweep.toml``. Cells are listed most informative first (seed after seed), so a
grid cut short still gives a table; every file starts from TrainConfig's defaults and names only what it changes.
"""
from __future__ import annotations

import functools
from pathlib import Path

from .config import TrainConfig
from .sweeps import load_sweep

ML100K_5CORE = {"name": "ml-100k", "options": {"user_k": 5, "item_k": 5}}
REFERENCE = TrainConfig()  # RecBole-style SASRec on ML-100K, full ranking, objective "last", CE

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"  # the sweep files shipped with the package
GRIDS = {path.stem: functools.partial(load_sweep, path) for path in sorted(SWEEPS.glob("*.toml"))}
