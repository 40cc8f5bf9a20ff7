"""LinRec (Liu et al., SIGIR 2023): L2-normalised linear attention, its official form and its ablations.

Usage:
    out = linrec_official(q, k, v)                       # the official code's maths, masks ignored
    out = linrec_attention(q, k, v, key_padding_mask=m)  # same maths, padding honoured, safe epsilon
    out = linrec_attention(q, k, v, feature_map="relu", norm="seq")   # an ablation
    out = linrec_attention(q, k, v, key_padding_mask=m, fast=False)     # plain autograd ("linrec_autograd")

Official maths: Q^ = ELU(Q) / ||ELU(Q)||_2 and K^ = ELU(K) / ||ELU(K)||_2, both per token over the head
dimension, plain ELU (not ELU + 1), no epsilon; out = Q^ (K^T V) / sqrt(D). No denominator: the implicit weights
are cosines / sqrt(D), may be negative, and rows do not sum to 1.

Ablation axes (one implementation): feature map in {elu, relu, elu1 (= ELU + 1), id} and normalisation in
{token (official: per token over D), none, seq (Q per token, K per feature over the real positions, the paper as
some read it; the 1/sqrt(D) scale is kept so the ablation changes one thing)}.

``linrec`` itself (elu, token) runs the fast path of linrec_fast.py by default: one autograd Function with an
analytic backward and far fewer passes over memory than the official formulation, the same numbers to
rounding. ``linrec_autograd`` registers the plain autograd composition of the same maths, kept as the oracle and
as the "what did the Function buy" column of ``python -m bench perf``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .contract import AttentionInputError, check_inputs, refuse_causal
from .linear_core import linear_attention, linear_matrix
from .linrec_fast import linrec_fast
from .linrec_kernels import cpu_kernel_ran
from .registry import register_function

FEATURE_MAPS = {
    "elu": F.elu,
    "relu": F.relu,
    "elu1": lambda x: F.elu(x) + 1.0,
    "id": lambda x: x,
}
NORMS = ("token", "none", "seq")


def linrec_features(q, k, key_padding_mask=None, *, feature_map: str = "elu", norm: str = "token",
                    eps: float = 1e-6):
    """Usage: q_hat, k_hat = linrec_features(q, k, mask). Both (B, T, H, D); padded keys are zero."""
    if feature_map not in FEATURE_MAPS:
        raise AttentionInputError(f"linrec: unknown feature_map {feature_map!r}; valid: {', '.join(FEATURE_MAPS)}")
    if norm not in NORMS:
        raise AttentionInputError(f"linrec: unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    phi_q, phi_k = FEATURE_MAPS[feature_map](q), FEATURE_MAPS[feature_map](k)
    if key_padding_mask is not None:
        phi_k = phi_k.masked_fill(key_padding_mask[:, :, None, None], 0.0)
    if norm == "none":
        return phi_q, phi_k
    phi_q = phi_q / phi_q.norm(dim=-1, keepdim=True).clamp_min(eps)
    key_axis = -1 if norm == "token" else 1  # over D per token, or over T per feature
    return phi_q, phi_k / phi_k.norm(dim=key_axis, keepdim=True).clamp_min(eps)


def linrec_attention(q, k, v, *, causal: bool = False, key_padding_mask=None, feature_map: str = "elu",
                     norm: str = "token", eps: float = 1e-6, fast: bool = True):
    """Usage: see module docstring. Non-causal; padded keys contribute nothing, padded queries give 0."""
    name = ablation_name(feature_map, norm) if fast else "linrec_autograd"
    check_inputs(name, q, k, v, key_padding_mask)
    refuse_causal(name, causal, "use linrec_causal for causal LinRec")
    if fast and (feature_map, norm) == ("elu", "token"):
        return linrec_fast(q, k, v, key_padding_mask, eps)
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, feature_map=feature_map, norm=norm, eps=eps)
    return linear_attention(q_hat, k_hat, v, causal=False, key_padding_mask=key_padding_mask, normalize=False,
                            scale=q.shape[-1] ** -0.5)


def linrec_matrix(q, k, *, causal: bool = False, key_padding_mask=None, feature_map: str = "elu",
                  norm: str = "token", eps: float = 1e-6, fast: bool = True):
    """Usage: linrec_matrix(q, k, key_padding_mask=m) -> (B, H, T, T) = Q^ K^T / sqrt(D), padding zeroed."""
    refuse_causal(ablation_name(feature_map, norm), causal, "use linrec_causal for causal LinRec")
    q_hat, k_hat = linrec_features(q, k, key_padding_mask, feature_map=feature_map, norm=norm, eps=eps)
    return linear_matrix(q_hat, k_hat, causal=False, key_padding_mask=key_padding_mask, normalize=False,
                         scale=q.shape[-1] ** -0.5)


def _official_features(q, k):
    elu_q, elu_k = F.elu(q), F.elu(k)
    return elu_q / elu_q.norm(dim=-1, keepdim=True), elu_k / elu_k.norm(dim=-1, keepdim=True)  # no epsilon


def linrec_official(q, k, v, *, causal: bool = False, key_padding_mask=None):
    """Usage: see module docstring. Faithful to the official code: ``causal`` and ``key_padding_mask`` are
    accepted and IGNORED (every token sees every token, padding included); a zero vector gives NaN."""
    check_inputs("linrec_official", q, k, v, key_padding_mask)
    q_hat, k_hat = _official_features(q, k)
    state = torch.einsum("bthf,bthd->bhfd", k_hat, v)  # (B, H, D, D)
    return torch.einsum("bthf,bhfd->bthd", q_hat, state) / q.shape[-1] ** 0.5  # (B, T, H, D)


def linrec_official_matrix(q, k, *, causal: bool = False, key_padding_mask=None):
    """Usage: linrec_official_matrix(q, k) -> (B, H, T, T) = Q^ K^T / sqrt(D), masks ignored like the forward."""
    q_hat, k_hat = _official_features(q, k)
    return torch.einsum("bihf,bjhf->bhij", q_hat, k_hat) / q.shape[-1] ** 0.5


def ablation_name(feature_map: str, norm: str) -> str:
    """Usage: ablation_name("relu", "seq") -> "linrec-relu-seq"; the official pair (elu, token) is "linrec"."""
    return "linrec" if (feature_map, norm) == ("elu", "token") else f"linrec-{feature_map}-{norm}"


register_function("linrec_official", linrec_official, linrec_official_matrix, causal=False, padding=False,
                  exact=False, ignores_masks=True, flops="linear",
                  description="official LinRec code: ELU, per-token L2 over D, no eps, /sqrt(D); IGNORES causal "
                              "and padding masks")
for _fmap in FEATURE_MAPS:
    for _norm in NORMS:
        _what = "LinRec with padding honoured and eps (official maths)" if ablation_name(_fmap, _norm) == "linrec" \
            else f"LinRec ablation: feature map {_fmap}, normalisation {_norm}"
        register_function(ablation_name(_fmap, _norm), linrec_attention, linrec_matrix, causal=False, padding=True,
                          exact=False, fixed={"feature_map": _fmap, "norm": _norm}, flops="linear",
                          kernel=cpu_kernel_ran if ablation_name(_fmap, _norm) == "linrec" else None,
                          description=f"{_what}; non-causal")
register_function("linrec_autograd", linrec_attention, linrec_matrix, causal=False, padding=True, exact=False,
                  fixed={"fast": False}, flops="linear", description="linrec by plain autograd (no custom Function): the oracle and "
                                                     "the baseline of the fast path")
