"""GRU4Rec's recurrent mixer (Hidasi et al. 2016): a gated recurrent unit over the window, the classic floor.

Usage:
    mixer = build_mixer("gru", hidden=64)
    y = mixer(x, causal=True, key_padding_mask=m)     # x, y: (B, T, hidden)

torch's ``nn.GRU`` is the fast path (one fused cell per step on CPU, cuDNN on CUDA); ``path="naive"`` runs the same
weights through the textbook cell equations step by step (PyTorch's gate order r, z, n):
    r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h
The state is d numbers per layer whatever the length; it is causal only. Right padding never reaches a real
output (padded steps come after every real one) and the output there is 0.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import check_causal_call, check_input, check_positive, clear_padding
from .registry import register_mixer


def gru_naive(gru: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """Usage: gru_naive(module.gru, x) -> (B, T, hidden): one layer of nn.GRU, step by step."""
    w_ih, w_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    h = x.new_zeros(x.shape[0], gru.hidden_size)
    gates_x = x @ w_ih.T + b_ih  # (B, T, 3·hidden)
    out = []
    for g_x in gates_x.unbind(1):
        g_h = h @ w_hh.T + b_hh  # (B, 3·hidden)
        r_x, z_x, n_x = g_x.chunk(3, dim=-1)
        r_h, z_h, n_h = g_h.chunk(3, dim=-1)
        r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)
        n = torch.tanh(n_x + r * n_h)
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out, dim=1)


class GRUMixer(nn.Module):
    """Usage: GRUMixer(hidden=64)(x, causal=True, key_padding_mask=m). ``path``: "auto" (nn.GRU) or "naive"."""

    def __init__(self, hidden: int, path: str = "auto"):
        super().__init__()
        check_positive("gru", "hidden", hidden)
        self.hidden, self.path = hidden, path
        self.gru = nn.GRU(hidden, hidden, batch_first=True)

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path("cuda") -> "cudnn" | "torch" | "naive": what runs there."""
        if self.path == "naive":
            return "naive"
        return "cudnn" if torch.device(device).type == "cuda" else "torch"

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        check_input("gru", x, self.hidden, key_padding_mask)
        check_causal_call("gru", causal)
        x = clear_padding(x, key_padding_mask)
        if self.path == "naive":
            y = gru_naive(self.gru, x)
        else:
            y = self.gru(x)[0]
        return clear_padding(y, key_padding_mask)


register_mixer("gru", GRUMixer, family="recurrent", causal=True, bidirectional=False, state="fixed: d",
               matrix=False, paths=("naive",),
               description="GRU4Rec's gated recurrent unit (torch nn.GRU), the recurrent baseline")
