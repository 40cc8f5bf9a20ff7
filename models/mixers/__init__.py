"""Token mixers: every registered attention, and the state-space, recurrent and gated-linear mixers beside them.

Usage:
    from models.mixers import build_mixer, get_mixer_spec, list_mixers, mixer_names
    spec = get_mixer_spec("mamba")          # causal / bidirectional, state per layer, matrix, family
    mixer = build_mixer("lru", hidden=64, heads=2, max_len=50)
    y = mixer(x, causal=True, key_padding_mask=m)   # (B, T, hidden)

Adding a mixer: one file that calls register_mixer (see registry.py for the contract), and one import line below.
"""
from .registry import (MixerInputError, MixerSpec, build_mixer, check_causal, get_mixer_spec, is_attention,
                       mixer_names, mixer_unavailable_reason, register_mixer)

from . import gru, mamba, hstu, lru, gla, retnet  # noqa: E402,F401  (each import registers its mixer)

__all__ = ["MixerInputError", "MixerSpec", "build_mixer", "check_causal", "get_mixer_spec", "is_attention",
           "mixer_names", "mixer_unavailable_reason", "register_mixer"]
