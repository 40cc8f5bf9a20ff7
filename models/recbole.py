"""RecBole's own SASRec and BERT4Rec with any LinRec-Bench token mixer, without replacing RecBole's files.

Usage (pip install "linrec-bench[recbole]"):
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.trainer import Trainer
    from models.recbole import SASRec              # or BERT4Rec

    config = Config(model=SASRec, dataset="ml-100k", config_dict={"attention": "linrec", "epochs": 1})
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = SASRec(config, train.dataset).to(config["device"])
    trainer = Trainer(config, model)
    trainer.fit(train, valid)

The classes subclass RecBole's and keep its names, so RecBole's ``Config`` loads its own SASRec.yaml / BERT4Rec.yaml
defaults, and its data preparation, losses, masking, prediction and ``Trainer`` run unchanged. Only
``trm_encoder`` is replaced: by the Transformer blocks of models/backbones with the token mixer named by the config
key ``attention`` (an attention) or ``mixer`` (any mixer), options in ``mixer_options``, and ``causal``
(SASRec only: "auto", true or false; see models/backbones/sasrec.py). With ``attention: dot`` and the same weights
the outputs equal RecBole's own SASRec and BERT4Rec (tests/test_recbole.py). Our blocks apply no dropout to
attention probabilities (linear attentions never form them), so ``attn_dropout_prob`` is unused.
"""
from __future__ import annotations

import re

import torch
from recbole.model.sequential_recommender import bert4rec as recbole_bert4rec
from recbole.model.sequential_recommender import sasrec as recbole_sasrec
from torch import nn

from models.backbones.blocks import TransformerEncoder, init_weights, resolve_mixer
from models.backbones.sasrec import resolve_causal
from models.mixers import check_causal, get_mixer_spec

# RecBole's encoder key -> ours, per layer: trm_encoder.layer.{i}.<recbole> -> trm_encoder.blocks.<ours with i>
RECBOLE_KEYS = {
    r"multi_head_attention\.(query|key|value|dense)\.": r"attentions.{i}.\1.",
    r"multi_head_attention\.LayerNorm\.": r"attentions.{i}.norm.",
    r"feed_forward\.dense_1\.": r"feed_forwards.{i}.net.0.",
    r"feed_forward\.dense_2\.": r"feed_forwards.{i}.net.2.",
    r"feed_forward\.LayerNorm\.": r"feed_forwards.{i}.norm.",
}


class MixerEncoder(nn.Module):
    """Usage: MixerEncoder("linrec", causal=False, hidden=64, ...)(x, extended_attention_mask, True) -> a list of
    (B, T, hidden) layer outputs: RecBole's ``TransformerEncoder`` call, run by our blocks. Padded keys are read
    from RecBole's additive mask (its last query row sees every real key); causality is ``causal``."""

    def __init__(self, mixer: str, causal: bool, hidden: int, heads: int, inner: int, layers: int, dropout: float,
                 max_len: int, activation: str, mixer_options: dict | None, std: float):
        super().__init__()
        self.mixer, self.causal = mixer, causal
        self.blocks = TransformerEncoder(mixer, hidden, heads, inner, layers, dropout, max_len, activation,
                                         mixer_options=mixer_options)
        self.blocks.apply(lambda module: init_weights(module, std))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor, output_all_encoded_layers: bool = True):
        key_padding_mask = attention_mask[:, 0, -1, :] < 0  # (B, T): RecBole's mask is (B, 1, T or 1, T)
        outputs = list(self.blocks.layer_outputs(x, causal=self.causal, key_padding_mask=key_padding_mask))
        return outputs if output_all_encoded_layers else outputs[-1:]


def configured_mixer(config) -> str:
    """Usage: configured_mixer(config) -> "linrec": the config's ``mixer`` or ``attention``; unknown: one line."""
    return resolve_mixer(config["attention"], config["mixer"])


def mixer_encoder(config, max_len: int, causal: bool) -> MixerEncoder:
    """Usage: mixer_encoder(config, model.max_seq_length, causal=True): the encoder from RecBole's config keys."""
    mixer = configured_mixer(config)
    return MixerEncoder(mixer, causal, config["hidden_size"], config["n_heads"], config["inner_size"],
                        config["n_layers"], config["hidden_dropout_prob"], max_len, config["hidden_act"],
                        config["mixer_options"], config["initializer_range"])


class SASRec(recbole_sasrec.SASRec):
    """Usage: SASRec(config, dataset) with ``attention: NAME`` (or ``mixer: NAME``) in RecBole's config."""

    def __init__(self, config, dataset):
        mixer = configured_mixer(config)  # before RecBole builds anything: a wrong name is one line
        super().__init__(config, dataset)
        causal = resolve_causal(mixer, "auto" if config["causal"] is None else config["causal"])
        self.trm_encoder = mixer_encoder(config, self.max_seq_length, causal)


class BERT4Rec(recbole_bert4rec.BERT4Rec):
    """Usage: BERT4Rec(config, dataset) with ``attention: NAME`` (or ``mixer: NAME``, bidirectional) in the config."""

    def __init__(self, config, dataset):
        mixer = configured_mixer(config)
        check_causal(get_mixer_spec(mixer), False, "RecBole's BERT4Rec")
        super().__init__(config, dataset)
        self.trm_encoder = mixer_encoder(config, self.max_seq_length, causal=False)


def from_recbole_state_dict(state: dict) -> dict:
    """Usage: model.load_state_dict(from_recbole_state_dict(recbole_sasrec.state_dict())): a state dict of RecBole's
    own SASRec or BERT4Rec with its encoder keys renamed to ours (the attention must be one with Q/K/V projections,
    e.g. dot; attention-probability dropout has no weights)."""
    renamed = {}
    for key, value in state.items():
        match = re.match(r"trm_encoder\.layer\.(\d+)\.(.*)", key)
        if match is None:
            renamed[key] = value
            continue
        layer, rest = match.groups()
        for pattern, target in RECBOLE_KEYS.items():
            if re.match(pattern, rest):
                renamed["trm_encoder.blocks." + re.sub(pattern, target.format(i=layer), rest, count=1)] = value
                break
        else:
            raise KeyError(f"RecBole encoder key {key!r} has no counterpart in our blocks")
    return renamed
