"""What a profiling sweep measures and how: the settings of ``python -m bench profile``, without torch.

Usage:
    GridSpec(variants=["dot", "linrec"], lengths=[512, 1024])   # what: cells.make_grid turns it into cells
    MeasureOptions(repeats=5)                                   # how: measure.py times and measures each cell

The command's parser reads its defaults from here, so ``profile --help`` answers before torch is imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("attention", "mixer", "model")
MODES = ("fwd", "fwdbwd", "infer")
CAUSAL_CHOICES = ("auto", "off", "on", "both")


@dataclass(frozen=True)
class GridSpec:
    """Everything that defines a profiling sweep; stored in config.json and compared on resume."""

    variants: list[str]
    lengths: list[int]
    level: str = "attention"
    modes: list[str] = field(default_factory=lambda: ["fwdbwd"])
    causal: str = "auto"  # attention level: off; model level: what the model does by itself
    dtypes: list[str] = field(default_factory=lambda: ["float32"])
    device: str = "cpu"
    batch: int | None = None
    tokens: int | None = 8192
    heads: int = 8
    head_dim: int = 16
    model: str = "sasrec"
    layers: int = 2
    items: int = 3416
    seed: int = 0
    options: str = ""  # the variant's options, "key=value,..." (every variant of the sweep gets them)


@dataclass(frozen=True)
class MeasureOptions:
    """How a cell is measured (not what): stored in config.json beside the grid."""

    warmup: int = 2
    repeats: int = 10
    min_repeats: int = 3
    max_seconds: float = 20.0
    memory: bool = True
    memory_cap_mib: float | None = None  # CPU only: address-space cap of the measuring subprocess
    isolate: bool = False
    timeout: float = 1800.0  # seconds for one subprocess
    threads: int | None = None
    load_attempts: int = 3  # a timing taken under load is taken again, up to this many times in all
    load_wait: float = 2.0  # seconds between attempts, for the load to pass
