"""Named grids of training cells: each entry is (dataset spec, TrainConfig). ``python -m bench train-grid NAME``.

Usage:
    from bench.train.grids import GRIDS
    cells = GRIDS["reference-ml100k"]()    # [({"name": "ml-100k", "options": {...}}, TrainConfig(...)), ...]

The reference grids are sweep files shipped in bench/sweeps/ (sweeps.py reads them): copy one and edit it for a
sweep of your own (``python -m bench train-grid my-sweep.toml``). The run_all grids below are built in Python.

Cells are listed in the order they should run, most informative first, so a grid cut short still gives a table.
Every grid starts from TrainConfig's defaults and names only what it changes.

``run_all.sh``'s grids come at two scales. Quick (the default without a GPU; the whole job within 20 minutes on 2
CPU cores): ML-100K 5-core cut to each user's 40 most recent interactions, N=20, d=32, one layer, a few epochs, two
seeds; its numbers show the shape of the comparison, not the paper's values, and the report says so. BERT4Rec's
cloze task sees one window per user, so at batch 512 an epoch is two or three steps: it gets smaller batches and
more epochs to learn at all. Full: ML-1M (when its file is present or fetchable), N=200, d=128, 8 heads, 2 layers,
up to 50 epochs with patience 4, three seeds, as the paper.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from .config import TrainConfig
from .sweeps import load_sweep

ML100K_5CORE = {"name": "ml-100k", "options": {"user_k": 5, "item_k": 5}}
REFERENCE = TrainConfig()  # RecBole-style SASRec on ML-100K, full ranking, objective "last", CE

QUICK_DATA = {"name": "ml-100k", "options": {"user_k": 5, "item_k": 5, "max_history": 40}}
FULL_DATA = {"name": "ml-1m", "options": {"user_k": 5, "item_k": 5, "max_history": 200}}
QUICK = replace(REFERENCE, max_len=20, hidden=32, inner=64, layers=1, epochs=6, patience=2, last_path="auto")
FULL = replace(REFERENCE, max_len=200, hidden=128, heads=8, inner=512, lr=1e-3, last_path="auto")
# BERT4Rec learns from one window per user an epoch: it needs more, smaller steps than SASRec's per-prefix pairs
BERT4REC_QUICK = {"batch_size": 64, "lr": 5e-3, "epochs": 30, "patience": 5}
BERT4REC_FULL = {"batch_size": 128, "epochs": 200, "patience": 10}
QUICK_SEEDS, FULL_SEEDS = (0, 1), (0, 1, 2)
# mamba's selective scan keeps expand·d·d_state numbers a token (2,048 at d=32, against d=32 for attention): on 2 CPU
# cores a quick SASRec epoch with it takes several times dot's, so the quick profile trains the mixers on one seed
QUICK_MIXER_SEEDS = (0,)
QUICK_ABLATION_SEEDS = (0,)

SASREC_ATTENTIONS = ("dot", "sdpa", "linrec_official", "linrec", "linrec_causal", "linear_elu", "performer",
                     "efficient", "cosformer", "linformer")
BERT4REC_ATTENTIONS = ("dot", "sdpa", "linrec_official", "linrec", "linear_elu", "efficient")
# token mixers beyond attention (models/mixers): in SASRec's controlled frame; BERT4Rec takes the bidirectional one
SASREC_MIXERS = ("mamba", "lru", "gla", "retnet", "hstu", "gru")
BERT4REC_MIXERS = ("hstu",)
ABLATIONS = tuple(f"linrec-{fmap}-{norm}" for fmap in ("elu", "relu", "elu1", "id") for norm in ("token", "none", "seq")
                  if (fmap, norm) != ("elu", "token"))


def accuracy(base: TrainConfig, data: dict, seeds, bert4rec: dict, mixer_seeds=None) -> list[tuple[dict, TrainConfig]]:
    """SASRec and BERT4Rec (``base`` with the ``bert4rec`` overrides) with every attention, then every token mixer
    beyond attention for ``mixer_seeds`` (default ``seeds``), seed after seed (a grid cut short still has every
    variant)."""
    cells = []
    for seed in seeds:
        mixers = SASREC_MIXERS if seed in (mixer_seeds or seeds) else ()
        b4r_mixers = BERT4REC_MIXERS if mixers else ()
        cells += [replace(base, attention=a, seed=seed) for a in SASREC_ATTENTIONS + mixers]
        cells += [replace(base, model="bert4rec", objective="cloze", attention=a, seed=seed, **bert4rec)
                  for a in BERT4REC_ATTENTIONS + b4r_mixers]
    cells.append(replace(base, model="pop", attention="dot", seed=seeds[0]))
    cells.append(replace(base, attention="dot", seed=seeds[0], shuffle_train_order=True))
    return [(data, config) for config in cells]


def sensitivity(base: TrainConfig, data: dict, lengths, hiddens, heads, layers) -> list[tuple[dict, TrainConfig]]:
    """dot against linrec, one setting moved at a time around ``base`` (one seed). The feed-forward keeps the base
    cell's inner / hidden ratio as d moves, so the sweep's point at the base d is the base cell."""
    cells = []
    for attention in ("dot", "linrec"):
        cells += [replace(base, attention=attention, max_len=n) for n in lengths]
        cells += [replace(base, attention=attention, hidden=d, inner=base.inner * d // base.hidden) for d in hiddens]
        cells += [replace(base, attention=attention, heads=h) for h in heads]
        cells += [replace(base, attention=attention, layers=k) for k in layers]
    return [(data, config) for config in dict.fromkeys(cells)]  # the base cell once


def ablation(base: TrainConfig, data: dict, seeds) -> list[tuple[dict, TrainConfig]]:
    """LinRec's feature map x normalisation against dot and the official form."""
    names = ("dot", "linrec_official", "linrec", *ABLATIONS)
    return [(data, replace(base, attention=a, seed=s)) for s in seeds for a in names]


RUN_ALL_GRIDS = {
    "quick-accuracy": lambda: accuracy(QUICK, QUICK_DATA, QUICK_SEEDS, BERT4REC_QUICK, QUICK_MIXER_SEEDS),
    # quick: no heads axis and one ablation seed, so the job keeps its 20 minutes on 2 CPU cores with the mixers
    "quick-sensitivity": lambda: sensitivity(QUICK, QUICK_DATA, lengths=(10, 20, 40), hiddens=(16, 32, 64),
                                             heads=(), layers=(1, 2)),
    "quick-ablation": lambda: ablation(QUICK, QUICK_DATA, QUICK_ABLATION_SEEDS),
    "full-accuracy": lambda: accuracy(FULL, FULL_DATA, FULL_SEEDS, BERT4REC_FULL),
    "full-sensitivity": lambda: sensitivity(FULL, FULL_DATA, lengths=(50, 100, 200, 400), hiddens=(32, 64, 128, 256),
                                            heads=(2, 4, 8), layers=(1, 2, 3)),
    "full-ablation": lambda: ablation(FULL, FULL_DATA, FULL_SEEDS),
}
# seconds a cell on 2 CPU cores: for tests and for trying how cells are run (several workers, a cluster)
SMOKE_DATA = {"name": "synthetic", "options": {"synthetic_options": {
    "num_users": 120, "num_items": 60, "mean_length": 16, "max_length": 32, "seed": 0}}}
SMOKE = replace(REFERENCE, max_len=12, hidden=16, inner=32, layers=1, epochs=2, patience=2, batch_size=256,
                eval_batch_size=256)


def smoke() -> list[tuple[dict, TrainConfig]]:
    """Five tiny cells on synthetic data: four attentions and the most-popular floor."""
    cells = [replace(SMOKE, attention=a) for a in ("dot", "sdpa", "linrec", "linrec_causal")]
    return [(SMOKE_DATA, config) for config in [*cells, replace(SMOKE, model="pop")]]


SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"  # the sweep files shipped with the package
SHIPPED = {path.stem: functools.partial(load_sweep, path) for path in sorted(SWEEPS.glob("*.toml"))}
GRIDS = {**SHIPPED, "smoke": smoke, **RUN_ALL_GRIDS}
