"""The attention zoo: every variant behind one contract (see contract.py) and one registry (see registry.py).

Usage:
    from models.attention import get_attention, list_attentions, unavailable_reason
    attn = get_attention("linrec_causal", head_dim=16)
    out = attn(q, k, v, causal=True, key_padding_mask=mask)   # q, k, v, out: (B, T, H, D)

Adding a variant: one file that calls register_function / register_module, and one import line below; or, outside
this package, a plug-in module that calls them (models/plugins.py), whose claims are checked as it registers.
"""
from .check import ContractError
from .contract import AttentionInputError, AttentionUnavailable, AttentionUnsupported
from .registry import (FLOP_FORMULAS, AttentionSpec, attention_names, get_attention, get_spec, kernel_ran,
                       list_attentions, register_function, register_module, unavailable_reason)

from . import dot, sdpa, xformers_mem, linrec, linrec_causal, linrec_triton, linrec_fla, linear_elu, efficient, \
    performer, linformer, cosformer  # noqa: E402,F401  (each import registers its variants)

__all__ = ["AttentionInputError", "AttentionSpec", "AttentionUnavailable", "AttentionUnsupported", "ContractError",
           "FLOP_FORMULAS", "attention_names", "get_attention", "get_spec", "kernel_ran", "list_attentions", "register_function", "register_module",
           "unavailable_reason"]
