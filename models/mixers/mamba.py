"""Mamba's selective state-space (S6) block as Mamba4Rec uses it (Gu & Dao 2023; Liu et al. 2024).

Usage:
    mixer = build_mixer("mamba", hidden=64, d_state=32, d_conv=4, expand=2)
    y = mixer(x, causal=True, key_padding_mask=m)     # x, y: (B, T, hidden)

With E = expand·hidden channels and N = d_state states per channel:
    x, z = split(in_proj(x))                 # (B, T, E) each, no bias
    u = SiLU(causal depthwise conv_k(x))     # kernel d_conv, with bias
    Δ, B, C = x_proj(u)                      # Δ: dt_rank numbers, B, C: (B, T, N); Δ = softplus(W_Δ Δ + b_Δ), (B, T, E)
    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t # (B, E, N) per step; A = -exp(A_log), S4D-real: A[e, n] = -(n + 1)
    y = out_proj((C_t · h_t + D ⊙ u_t) ⊙ SiLU(z))
Defaults are Mamba4Rec's (d_state 32, d_conv 4, expand 2, dt_rank = ceil(hidden / 16)). The Δ projection keeps
Mamba's initialisation (weight U(±dt_rank^-0.5), bias the inverse softplus of a log-uniform Δ in [1e-3, 0.1]):
it is a plain Parameter so the backbone's N(0, 0.02) re-initialisation of every nn.Linear leaves it alone
(Mamba4Rec's own re-initialisation resets it to N(0, 0.02) with zero bias, i.e. Δ ≈ 0.69 at the start).

Paths: "naive" runs the recurrence step by step, discretising each step as it goes (the reference); "chunked"
materialises exp(ΔA) and ΔBu, (B, T, E, N), and runs scan.chunked_scan; "loop" materialises them and runs
scan.loop_scan (in place, its own backward). "auto" is mamba-ssm's selective_scan_fn on CUDA where it is installed
and "loop" on CUDA otherwise; on CPU it is "naive": with E·N = 4,096 numbers of state a token at d=64 (d_state 32,
expand 2) the scans that materialise (B, T, E, N) are bound by memory traffic, and on the reference 2-core CPU
neither beat the step loop where training runs (512 windows of N=20: naive 0.16 s a forward+backward, loop 0.51 s,
chunked 1.01 s); one long history (B=2, T=2048, d=64) gave 0.40, 0.29 and 0.48 s. The state is E·N numbers per
layer whatever T; causal only.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import check_causal_call, check_input, check_positive, clear_padding
from .registry import MixerInputError, register_mixer
from .scan import chunked_scan, loop_scan

DT_MIN, DT_MAX, DT_FLOOR = 1e-3, 0.1, 1e-4


def selective_scan_naive(u, delta, A, B, C, D):
    """Usage: selective_scan_naive(u, delta, A, B, C, D) -> y (B, T, E): one step at a time.
    u, delta: (B, T, E); A: (E, N); B, C: (B, T, N); D: (E,)."""
    h = u.new_zeros(u.shape[0], A.shape[0], A.shape[1])  # (B, E, N)
    out = []
    for u_t, d_t, b_t, c_t in zip(u.unbind(1), delta.unbind(1), B.unbind(1), C.unbind(1)):
        h = torch.exp(d_t[..., None] * A) * h + (d_t * u_t)[..., None] * b_t[:, None, :]
        out.append((h * c_t[:, None, :]).sum(-1))  # (B, E)
    return torch.stack(out, dim=1) + D * u


def materialised_scan(scan):
    """Usage: materialised_scan(chunked_scan) -> a selective scan (u, delta, A, B, C, D) -> y that materialises
    exp(ΔA) and ΔBu, (B, T, E, N), and runs ``scan`` over them."""
    def selective_scan(u, delta, A, B, C, D):
        decay = torch.exp(delta[..., None] * A)  # (B, T, E, N)
        drive = (delta * u)[..., None] * B[:, :, None, :]  # (B, T, E, N)
        return torch.einsum("bten,btn->bte", scan(decay, drive), C) + D * u
    return selective_scan


def mamba_ssm_scan():
    """Usage: mamba_ssm_scan() -> mamba-ssm's selective_scan_fn, or None where it is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


def selective_scan_cuda(u, delta, A, B, C, D):
    """Usage: selective_scan_cuda(u, delta, A, B, C, D) -> y, through mamba-ssm's fused CUDA kernel."""
    y = mamba_ssm_scan()(u.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(), A,
                         B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous(), D)  # (B, E, T)
    return y.transpose(1, 2)




SCANS = {"naive": selective_scan_naive, "chunked": materialised_scan(chunked_scan),
         "loop": materialised_scan(loop_scan), "mamba-ssm": selective_scan_cuda}


def dt_bias_init(channels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Usage: dt_bias_init(128) -> (E,): softplus⁻¹ of Δ drawn log-uniform in [DT_MIN, DT_MAX], floored at
    DT_FLOOR, so that Δ = softplus(bias) starts there."""
    r = torch.rand(channels, generator=generator)
    dt = torch.exp(r * (math.log(DT_MAX) - math.log(DT_MIN)) + math.log(DT_MIN)).clamp(min=DT_FLOOR)
    return dt + torch.log(-torch.expm1(-dt))


def check_options(hidden, d_state, d_conv, expand, dt_rank) -> None:
    """Usage: check_options(64, 32, 4, 2, None): one line for the first bad option."""
    check_positive("mamba", "hidden", hidden)
    check_positive("mamba", "d_state", d_state)
    check_positive("mamba", "d_conv", d_conv)
    if isinstance(expand, bool) or not isinstance(expand, int) or expand < 1:
        raise MixerInputError(f"mamba: expand must be a positive integer (E = expand·hidden channels), "
                              f"got {expand!r}")
    if dt_rank is not None:
        check_positive("mamba", "dt_rank", dt_rank)


class MambaMixer(nn.Module):
    """Usage: MambaMixer(hidden=64, d_state=32, d_conv=4, expand=2)(x, causal=True, key_padding_mask=m).
    ``dt_rank``: the rank of Δ's projection (default ceil(hidden / 16)); ``path``: "auto", "naive", "chunked" or
    "loop"."""

    def __init__(self, hidden: int, d_state: int = 32, d_conv: int = 4, expand: int = 2, dt_rank: int | None = None,
                 path: str = "auto"):
        super().__init__()
        check_options(hidden, d_state, d_conv, expand, dt_rank)
        self.hidden, self.path = hidden, path
        self.channels, self.d_state = expand * hidden, d_state
        self.dt_rank = dt_rank or math.ceil(hidden / 16)
        E = self.channels
        self.in_proj = nn.Linear(hidden, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, d_conv, groups=E, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(E, self.dt_rank + 2 * d_state, bias=False)
        bound = self.dt_rank ** -0.5
        self.dt_weight = nn.Parameter(torch.empty(E, self.dt_rank).uniform_(-bound, bound))
        self.dt_bias = nn.Parameter(dt_bias_init(E))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, hidden, bias=False)

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path("cuda") -> "mamba-ssm" | "loop (mamba-ssm not installed)" | "naive" | ...: the path
        a forward takes there."""
        if self.path != "auto":
            return self.path
        if torch.device(device).type != "cuda":
            return "naive"
        return "mamba-ssm" if mamba_ssm_scan() is not None else "loop (mamba-ssm not installed)"

    def scan_inputs(self, x: torch.Tensor):
        """Usage: u, delta, B, C, z = mixer.scan_inputs(x): the projections and conv before the scan, (B, T, ·)."""
        T = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, T, E) each
        u = F.silu(self.conv1d(u.transpose(1, 2))[..., :T].transpose(1, 2))  # causal: the conv's left padding only
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(dt @ self.dt_weight.T.to(dt.dtype) + self.dt_bias.to(dt.dtype))  # (B, T, E)
        return u, delta, B, C, z

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        check_input("mamba", x, self.hidden, key_padding_mask)
        check_causal_call("mamba", causal)
        x = clear_padding(x, key_padding_mask)
        u, delta, B, C, z = self.scan_inputs(x)
        kind = self.kernel_path(x.device).split(" ")[0]
        work = torch.float64 if x.dtype == torch.float64 else torch.float32  # the scan runs in fp32 for bf16/fp16
        A = -torch.exp(self.A_log.to(work))
        y = SCANS[kind](u.to(work), delta.to(work), A, B.to(work), C.to(work), self.D.to(work))
        y = self.out_proj(y.to(x.dtype) * F.silu(z))
        return clear_padding(y, key_padding_mask)


register_mixer("mamba", MambaMixer, family="state space", causal=True, bidirectional=False,
               state="fixed: E·N (expand·d channels x d_state)", matrix=False, paths=("naive", "chunked", "loop"),
               paper_block="Mamba4Rec",
               description="Mamba's selective state-space block (S6) as Mamba4Rec uses it")
