"""The Linear Recurrent Unit (Orvieto et al. 2023) as LRURec uses it (Yue et al. 2024).

Usage:
    mixer = build_mixer("lru", hidden=64, r_min=0.8, r_max=0.99)
    y = mixer(x, causal=True, key_padding_mask=m)     # x, y: (B, T, hidden)

With N = state_multiplier·hidden complex states:
    h_t = λ ⊙ h_{t-1} + γ ⊙ (B x_t + b_B)     # λ = exp(-exp(ν) + i·exp(θ)), |λ| < 1; γ = exp(γ_log); (B, N) complex
    y_t = Re(C h_t + b_C)                       # C: (hidden, N) complex
LRURec's layer, which these facts follow: N = 2·hidden; ring initialisation of λ (|λ|² uniform in
[r_min², r_max²], arg λ uniform in [0, max_phase]); γ_log = log sqrt(1 - |λ|²) at the start and learned with ν, θ;
complex B and C with complex biases, every real and imaginary part drawn from N(0, 0.02) truncated at ±0.04 as
LRURec's model-wide initialisation draws them; no D skip (LRURec's residual is the block's). The complex weights
are real/imaginary pairs of plain Parameters, so the backbone's re-initialisation of nn.Linear leaves them alone.

Paths: "naive" runs the recurrence one step at a time (scan.sequential_scan); "chunked" is scan.chunked_scan;
"auto" is the chunked matrix form: inside chunks of C steps h = Λ bu with the lower-triangular Toeplitz matrix
Λ[t, s] = λ^(t-s) (one batched complex matmul per chunk length), then a scan over chunk ends with λ^C carries
each chunk's state into the next (that scan is the same form again, so no Python loop runs over time). Powers are
exp(k·log λ), never repeated products, and |λ| < 1 keeps them bounded. The scan runs in complex64 (complex128 for float64 input). Causal only.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import check_causal_call, check_input, check_positive, clear_padding
from .registry import MixerInputError, register_mixer
from .scan import chunked_scan, sequential_scan

INIT_STD = 0.02  # LRURec's truncated-normal std, cut at two std
MATMUL_CHUNK = 64


def ring_init(states: int, r_min: float, r_max: float, max_phase: float, generator=None):
    """Usage: nu_log, theta_log, gamma_log = ring_init(128, 0.8, 0.99, 2π): λ drawn uniformly on the ring
    r_min ≤ |λ| ≤ r_max, 0 ≤ arg λ ≤ max_phase, and γ_log = log sqrt(1 - |λ|²)."""
    u1, u2 = torch.rand(2, states, generator=generator)
    radius_sq = (u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2).clamp(min=1e-12)
    nu_log = torch.log(-0.5 * torch.log(radius_sq))  # |λ| = exp(-exp(nu_log))
    theta_log = torch.log(max_phase * u2.clamp(min=1e-12))
    gamma_log = 0.5 * torch.log1p(-radius_sq)
    return nu_log, theta_log, gamma_log


def truncated_normal(*shape) -> nn.Parameter:
    """Usage: truncated_normal(N, d) -> a Parameter from N(0, INIT_STD) cut at ±2·INIT_STD."""
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD))


def toeplitz_powers(log_lambda: torch.Tensor, length: int) -> torch.Tensor:
    """Usage: toeplitz_powers(log_lambda, C) -> (N, C, C): λ_n^(t-s) where s ≤ t, 0 above the diagonal."""
    steps = torch.arange(length, device=log_lambda.device)
    gap = steps[:, None] - steps[None, :]  # (C, C): t - s
    powers = torch.exp(gap.clamp(min=0).to(log_lambda.real.dtype) * log_lambda[:, None, None])  # (N, C, C)
    return powers * (gap >= 0)


def matmul_scan(log_lambda: torch.Tensor, drive: torch.Tensor, chunk: int = MATMUL_CHUNK) -> torch.Tensor:
    """Usage: matmul_scan(log_lambda, bu) -> h, (B, T, N): h_t = λ h_{t-1} + bu_t from h_{-1} = 0, chunk by chunk
    as Toeplitz matmuls; the chunk ends are the same recurrence with λ^C, solved by this function again, so no
    Python loop runs over time (depth log_C(T))."""
    B, T, N = drive.shape
    C = min(chunk, T)
    n = -(-T // C)
    drive = torch.cat([drive, drive.new_zeros(B, n * C - T, N)], dim=1)  # zeros past the end only decay the state
    blocks = drive.reshape(B * n, C, N).permute(2, 1, 0)  # (N, C, B·n)
    local = torch.bmm(toeplitz_powers(log_lambda, C), blocks)  # (N, C, B·n): each chunk from a zero state
    local = local.permute(2, 1, 0).reshape(B, n, C, N)
    if n == 1:
        return local.reshape(B, C, N)[:, :T]
    ends = matmul_scan(C * log_lambda, local[:, :, -1], chunk)  # (B, n, N): the state after each chunk
    incoming = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], dim=1)  # (B, n, N): entering each chunk
    lead = torch.exp(torch.arange(1, C + 1, device=drive.device).to(log_lambda.real.dtype)[:, None] * log_lambda)
    h = local + lead * incoming[:, :, None]  # (B, n, C, N): + λ^(t+1) · incoming state
    return h.reshape(B, n * C, N)[:, :T]


def check_options(hidden, state_multiplier, r_min, r_max, max_phase) -> None:
    """Usage: check_options(64, 2, 0.8, 0.99, 2π): one line for the first bad option."""
    check_positive("lru", "hidden", hidden)
    check_positive("lru", "state_multiplier", state_multiplier)
    for name, value in (("r_min", r_min), ("r_max", r_max), ("max_phase", max_phase)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MixerInputError(f"lru: {name} must be a finite number, got {value!r}")
    if not 0 <= r_min < r_max < 1:
        raise MixerInputError(f"lru: the ring needs 0 <= r_min < r_max < 1 (|λ| < 1 keeps the recurrence stable), "
                              f"got r_min={r_min}, r_max={r_max}")
    if max_phase <= 0:
        raise MixerInputError(f"lru: max_phase must be > 0 (arg λ is drawn in [0, max_phase]), got {max_phase}")


class LRUMixer(nn.Module):
    """Usage: LRUMixer(hidden=64)(x, causal=True, key_padding_mask=m). Options: ``state_multiplier`` (N =
    multiplier·hidden, LRURec 2), ``r_min``, ``r_max``, ``max_phase`` (λ's ring), ``path`` ("auto", "chunked",
    "naive")."""

    def __init__(self, hidden: int, state_multiplier: int = 2, r_min: float = 0.8, r_max: float = 0.99,
                 max_phase: float = 2 * math.pi, path: str = "auto"):
        super().__init__()
        check_options(hidden, state_multiplier, r_min, r_max, max_phase)
        self.hidden, self.path = hidden, path
        self.states = N = state_multiplier * hidden
        self.nu_log, self.theta_log, self.gamma_log = map(nn.Parameter, ring_init(N, r_min, r_max, max_phase))
        self.in_real, self.in_imag = truncated_normal(N, hidden), truncated_normal(N, hidden)
        self.in_bias_real, self.in_bias_imag = truncated_normal(N), truncated_normal(N)
        self.out_real, self.out_imag = truncated_normal(hidden, N), truncated_normal(hidden, N)
        self.out_bias_real = truncated_normal(hidden)  # Re(C h + b_C) needs only b_C's real part

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path() -> "chunked-matmul" (auto), "chunked" or "naive"."""
        return "chunked-matmul" if self.path == "auto" else self.path

    def log_lambda(self, real_dtype: torch.dtype) -> torch.Tensor:
        """Usage: mixer.log_lambda(torch.float32) -> (N,) complex: log λ = -exp(ν) + i·exp(θ)."""
        return torch.complex(-torch.exp(self.nu_log.to(real_dtype)), torch.exp(self.theta_log.to(real_dtype)))

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """Usage: mixer.drive(x) -> γ ⊙ (B x + b_B), (B, T, N) complex, from real x in the scan's real dtype."""
        real = x @ self.in_real.T.to(x.dtype) + self.in_bias_real.to(x.dtype)  # (B, T, N): two real matmuls,
        imag = x @ self.in_imag.T.to(x.dtype) + self.in_bias_imag.to(x.dtype)  # a quarter of a complex one's work
        return torch.complex(real, imag) * torch.exp(self.gamma_log.to(x.dtype))

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        check_input("lru", x, self.hidden, key_padding_mask)
        check_causal_call("lru", causal)
        x = clear_padding(x, key_padding_mask)
        work = torch.float64 if x.dtype == torch.float64 else torch.float32
        log_lambda = self.log_lambda(work)
        bu = self.drive(x.to(work))  # (B, T, N)
        if self.path == "naive":
            h = sequential_scan(torch.exp(log_lambda), bu)
        elif self.path == "chunked":
            h = chunked_scan(torch.exp(log_lambda), bu)
        else:
            h = matmul_scan(log_lambda, bu)
        y = h.real @ self.out_real.T.to(work) - h.imag @ self.out_imag.T.to(work) + self.out_bias_real.to(work)
        return clear_padding(y.to(x.dtype), key_padding_mask)


register_mixer("lru", LRUMixer, family="linear recurrence", causal=True, bidirectional=False,
               state="fixed: N = 2·hidden complex numbers", matrix=False, paths=("naive", "chunked"),
               paper_block="LRURec",
               description="the Linear Recurrent Unit (complex diagonal recurrence) as LRURec uses it")
