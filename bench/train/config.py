"""A training cell's settings and the checks that keep its numbers honest.

Usage:
    config = TrainConfig(model="sasrec", attention="linrec", max_len=50)   # every default is the reference setting
    config.cell_id("ml-100k-5core") -> "ml-100k-5core-sasrec-linrec-N50-last-ce-s0-1a2b3c4d"
    check_config(config, model)          # one-line errors for combinations that would leak or cannot run
    training_path(config, model) -> "per-sequence" | "per-prefix" | "per-window"

The defaults are RecBole-style SASRec on ML-100K (d=64, 2 heads, 2 layers, inner 256, dropout 0.2, Adam lr 2e-3,
batch 512, patience 4, objective ``last``, CE over all items, full ranking): the reference grid trains them as
they are, and the command line and the other grids start from them.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict, dataclass

LOSSES = ("ce", "bce")
LAST_PATHS = ("auto", "per-sequence", "per-prefix")  # how objective "last" is computed (batches.py)
OBJECTIVES = ("last", "all", "cloze")  # the loss at the last position, at every position, or BERT4Rec's cloze
PROTOCOLS = ("full", "uni100", "pop100")  # full ranking, or 100 uniform / popularity-sampled negatives (evaluate.py)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training cell; its id hashes the settings that differ from these defaults."""

    model: str = "sasrec"
    attention: str = "dot"  # the token mixer: any attention (the name the reference cells carry) or other mixer
    max_len: int = 50
    hidden: int = 64
    heads: int = 2
    inner: int = 256
    layers: int = 2
    dropout: float = 0.2
    activation: str = "gelu"
    objective: str = "last"
    loss: str = "ce"
    mask_ratio: float = 0.2
    epochs: int = 50
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 4
    seed: int = 0
    protocol: str = "full"
    exclude_seen: bool = False
    eval_batch_size: int = 1024
    shuffle_train_order: bool = False
    device: str = "cpu"
    last_path: str = "per-prefix"  # the reference cells' path; the command line defaults to "auto" (cli.py)
    mixer_options: str = ""  # "key=value,..." sorted (mixer_options_text): the token mixer's own options
    block: str = "controlled"  # the SASRec frame, or "published": the mixer's paper's block (models/backbones)

    def cell_id(self, dataset: str) -> str:
        """Usage: config.cell_id("ml-100k") -> "ml-100k-sasrec-linrec-N50-last-ce-s0-1a2b3c4d". The hash covers the
        settings that differ from the defaults, so adding a new option later keeps existing cells' ids."""
        defaults = TrainConfig()
        changed = {k: v for k, v in asdict(self).items() if v != getattr(defaults, k)}
        digest = hashlib.sha1(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
        attention = self.attention if backbone_spec(self.model).mixes else "none"
        return f"{dataset}-{self.model}-{attention}-N{self.max_len}-{self.objective}-{self.loss}-s{self.seed}-{digest}"


def parse_mixer_options(text: str) -> dict:
    """Usage: parse_mixer_options("d_state=16,path=naive") -> {"d_state": 16, "path": "naive"}: values are Python
    literals where they parse as one (16, 0.9, True), strings otherwise; a pair without "=" is a one-line error."""
    options = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"mixer option {pair!r} is not key=value (for example d_state=16)")
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()
    return options


def mixer_options_text(options: dict | list[str]) -> str:
    """Usage: mixer_options_text({"expand": 2, "d_state": 16}) -> "d_state=16,expand=2" (sorted, so one cell has
    one id); also takes the command line's ["d_state=16", ...]."""
    if not isinstance(options, dict):
        options = parse_mixer_options(",".join(options))
    return ",".join(f"{key}={options[key]}" for key in sorted(options))


def dataset_label(data) -> str:
    """Usage: dataset_label(data) -> "ml-100k-5core": the name plus the preprocessing that changes the data
    (for synthetic data, a short hash of the generator's settings)."""
    steps = data.preprocessing
    user_k, item_k, history = steps.get("user_k") or 0, steps.get("item_k") or 0, steps.get("max_history")
    label = data.name
    if "generator" in steps:  # synthetic data: the generator's settings make the data set
        label += "-" + hashlib.sha1(json.dumps(steps["generator"], sort_keys=True).encode()).hexdigest()[:6]
    if user_k or item_k:
        label += f"-{user_k}core" if user_k == item_k else f"-u{user_k}i{item_k}core"
    return label + (f"-last{history}" if history else "")


def backbone_spec(name: str):
    """Usage: backbone_spec("sasrec") -> its BackboneSpec. The registry (and torch) load on first use, so that the
    command parsers read this file's defaults at once."""
    from models.backbones import get_backbone

    return get_backbone(name)


def check_protocol(protocol: str, exclude_seen: bool) -> None:
    """Usage: check_protocol("uni100", False). One-line errors for an unknown protocol or a filter it cannot use."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if exclude_seen and protocol != "full":
        raise ValueError("exclude_seen applies to full ranking only (sampled negatives never include seen items)")


def check_config(config: TrainConfig, model) -> None:
    """Usage: check_config(config, model). One-line errors for combinations that cannot give honest numbers."""
    check_protocol(config.protocol, config.exclude_seen)
    if config.loss not in LOSSES:
        raise ValueError(f"unknown loss {config.loss!r}; valid: {', '.join(LOSSES)}")
    backbone = backbone_spec(config.model)
    allowed = backbone.objectives
    if config.objective not in allowed:
        raise ValueError(f"model {config.model} trains with objective {' or '.join(allowed)}, not {config.objective!r}")
    if config.objective == "all" and not (model.causal and model.mask_respected):
        why = "ignores the attention mask" if not model.mask_respected else "is not causal"
        raise ValueError(f"objective 'all' puts the loss at every position, but attention {config.attention!r} {why}: "
                         f"each position would see the item it predicts; use --objective last or a causal variant "
                         f"(for example linrec_causal)")
    from models.mixers import is_attention, mixer_unavailable_reason

    reason = mixer_unavailable_reason(config.attention, config.device) if backbone.mixes else None
    if reason:
        kind = "attention" if is_attention(config.attention) else "mixer"
        raise ValueError(f"{kind} {config.attention!r} cannot run on {config.device}: {reason}")
    if config.last_path not in LAST_PATHS:
        raise ValueError(f"unknown last path {config.last_path!r}; valid: {', '.join(LAST_PATHS)}")
    if config.last_path == "per-sequence" and not one_pass_eligible(config, model):
        raise ValueError(f"the per-sequence path needs objective 'last' and a causal model whose attention honours "
                         f"masks; {config.model} with {config.attention!r} and objective {config.objective!r} is not "
                         f"(use --last-path auto or per-prefix)")


def check_split(config: TrainConfig, split, dataset: str) -> None:
    """Usage: check_split(config, split, "ml-100k-5core"). One-line errors for data that leave nothing to learn
    from or evaluate: no user with a training item and both targets, or (objectives last and all) no training
    sequence of two items, that is no (prefix, next item) pair."""
    if split.num_users == 0:
        raise ValueError(f"{dataset}: no user has 3 or more interactions ({split.dropped_users} users dropped): "
                         f"leave-one-out needs a training item, a validation and a test target per user")
    pairs = int((split.train_lengths - 1).clamp(min=0).sum())
    if backbone_spec(config.model).trainable and config.objective in ("last", "all") and pairs == 0:
        raise ValueError(f"{dataset}: no training pairs: every user has at most 3 interactions, so no training "
                         f"sequence holds a (prefix, next item) pair")


def one_pass_eligible(config: TrainConfig, model) -> bool:
    """Usage: one_pass_eligible(config, model) -> whether one pass per sequence gives every prefix's pairs."""
    return (config.objective == "last" and backbone_spec(config.model).one_pass and model.causal
            and model.mask_respected)


def training_path(config: TrainConfig, model) -> str:
    """Usage: training_path(config, model) -> "per-sequence", "per-prefix" or "per-window" (what runs)."""
    if config.objective != "last":
        return "per-window"
    trainable = backbone_spec(config.model).trainable
    wanted = config.last_path if trainable else "per-prefix"
    eligible = trainable and one_pass_eligible(config, model)
    return "per-sequence" if wanted == "per-sequence" or (wanted == "auto" and eligible) else "per-prefix"
