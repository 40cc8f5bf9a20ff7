"""A dilated causal convolution mixer, NextItNet's token mixing (Yuan et al., WSDM 2019) in the mixer frame: two
depthwise causal convolutions (dilations 1 and 2, kernel 3), a GELU between them, then a pointwise projection.

Usage:
    mixer = build_mixer("dilated_conv", hidden=64)        # after this plug-in is loaded
    y = mixer(x, causal=True, key_padding_mask=m)         # x, y: (B, T, hidden)

Each output sees the last 1 + (kernel-1)·(1+2) = 7 positions (kernel 3, dilations 1 and 2); its state for
inference is that window, fixed in T. Causal only: the convolutions pad on the left.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.mixers import register_mixer


class DilatedConvMixer(nn.Module):
    """Usage: DilatedConvMixer(hidden=64, kernel=3)(x, causal=True, key_padding_mask=m)."""

    def __init__(self, hidden: int, kernel: int = 3):
        super().__init__()
        if hidden < 1 or kernel < 1:
            raise ValueError(f"dilated_conv: hidden and kernel must be positive, got {hidden} and {kernel}")
        self.kernel, self.dilations = kernel, (1, 2)
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel, dilation=d, groups=hidden)
                                   for d in self.dilations)
        self.out = nn.Linear(hidden, hidden)

    def kernel_path(self, device="cpu") -> str:
        """Usage: mixer.kernel_path("cpu") -> "torch": torch's conv1d runs everywhere."""
        return "torch"

    def forward(self, x: torch.Tensor, *, causal: bool = True, key_padding_mask=None) -> torch.Tensor:
        if not causal:
            raise ValueError("dilated_conv is causal only (left-padded convolutions)")
        keep = None if key_padding_mask is None else (~key_padding_mask)[..., None].to(x.dtype)  # (B, T, 1)
        h = x if keep is None else x * keep
        h = h.transpose(1, 2)  # (B, hidden, T)
        for i, (conv, dilation) in enumerate(zip(self.convs, self.dilations)):
            h = conv(F.pad(h, ((self.kernel - 1) * dilation, 0)))  # left padding: position t sees <= t
            h = F.gelu(h) if i == 0 else h
        y = self.out(h.transpose(1, 2))  # (B, T, hidden)
        return y if keep is None else y * keep


register_mixer("dilated_conv", DilatedConvMixer, family="convolution", causal=True, bidirectional=False,
               state="fixed: (kernel-1)·(1+2)·d (the receptive window)", matrix=False, paths=(),
               description="dilated causal depthwise convolutions, NextItNet's token mixing [example plug-in]")
