"""Roofline floors for one attention layer on a GPU: FLOPs, minimal bytes, and the time neither can beat.

Usage:
    device_peaks("NVIDIA H100 80GB HBM3", "bfloat16")   # {"device": "H100 SXM", "flops_per_s": 9.89e14, ...}
    attention_flops("dot", "fwd", B=64, T=512, H=8, D=16, causal=True)
    attention_min_bytes("linrec", "fwdbwd", B=64, T=512, H=8, D=16, dtype="bfloat16")
    roofline_table(frame)   # ok median time rows at attention level on CUDA, with floor_ms and pct_of_floor

Counting (DESIGN.md, "Measurement method"): a matmul of (m x k) by (k x n) is 2mkn FLOPs. Softmax family forward
4·B·H·T²·D (causal: half, the useful work); linear family 4·B·H·T·D². Minimal bytes: the forward reads q, k, v
and writes out, 4·B·H·T·D·s; fwd+bwd also reads q, k, v, out, dout and writes dq, dk, dv, 12·B·H·T·D·s in all.
floor = max(FLOPs / peak, bytes / bandwidth): a kernel at 100% of its floor is as fast as the hardware allows.
"""
from __future__ import annotations

import functools
import inspect
import json
import re

import numpy as np
import pandas as pd

# Vendor datasheet, dense, no sparsity: (regex on the lower-cased name with "-"/"_" read as spaces, label,
# bf16 TFLOP/s, fp16 TFLOP/s, fp32 non-tensor TFLOP/s, memory TB/s). First match wins, so specific names come
# before general ones. A10G has no NVIDIA datasheet (AWS part), so it is left unknown rather than guessed.
PEAKS: tuple[tuple[str, str, float | None, float | None, float, float], ...] = (
    (r"h100 pcie", "H100 PCIe", 756, 756, 51, 2.0),
    (r"h100 nvl", "H100 NVL", 835, 835, 60, 3.9),
    (r"(?<!g)h100", "H100 SXM", 989, 989, 67, 3.35),
    (r"h200 nvl", "H200 NVL", 835, 835, 60, 4.8),
    (r"(?<!g)h200", "H200 SXM", 989, 989, 67, 4.8),  # not GH200 (another memory system)
    (r"a100 sxm4 80gb", "A100 SXM4 80GB", 312, 312, 19.5, 2.039),
    (r"a100 80gb pcie", "A100 80GB PCIe", 312, 312, 19.5, 1.935),
    (r"a100 sxm4 40gb", "A100 SXM4 40GB", 312, 312, 19.5, 1.555),
    (r"a100 pcie 40gb", "A100 PCIe 40GB", 312, 312, 19.5, 1.555),
    (r"\bl4\b", "L4", 121, 121, 30.3, 0.3),
    (r"\ba10\b", "A10", 125, 125, 31.2, 0.6),
    (r"v100s", "V100S PCIe", None, 130, 16.4, 1.134),
    (r"v100 pcie", "V100 PCIe", None, 112, 14, 0.9),
    (r"v100", "V100 SXM2", None, 125, 15.7, 0.9),
)
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_PEAK_COLUMN = {"bfloat16": 2, "float16": 3, "float32": 4}  # index into a PEAKS entry

SOFTMAX = ("dot", "sdpa", "sdpa_math", "sdpa_flash", "sdpa_efficient", "xformers")
LINEAR = ("linrec", "linrec_official", "linrec_causal", "linear_elu", "efficient")  # plus every "linrec-<f>-<n>"
# fwd+bwd as a multiple of fwd: backward is 2x forward for matmuls; fused softmax kernels also recompute the scores
# in backward (FlashAttention-2 counts backward as 2.5x forward).
MODE_FACTOR = {"fwd": 1.0, "infer": 1.0, "fwdbwd": 3.0}
SOFTMAX_FWDBWD = 3.5


def _dtype(dtype: str) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPE_BYTES)}")
    return name


def _match(device_name: str) -> tuple | None:
    name = re.sub(r"[-_\s]+", " ", str(device_name).lower())
    if re.search(r"\bmig\b", name):
        return None  # a MIG slice has a fraction of the device's compute and bandwidth: no datasheet row
    return next((entry for entry in PEAKS if re.search(entry[0], name)), None)


def device_peaks(device_name: str, dtype: str) -> dict | None:
    """Usage: device_peaks("NVIDIA H100 PCIe", "float16") -> {"device", "flops_per_s", "bytes_per_s"};
    None for an unknown device or CPU, or a dtype the device has no rate for (bf16 on V100)."""
    entry, column = _match(device_name), _PEAK_COLUMN[_dtype(dtype)]
    if entry is None or entry[column] is None:
        return None
    flops = entry[column] * 1e12
    return {"device": entry[1], "flops_per_s": flops, "bytes_per_s": entry[5] * 1e12}


@functools.lru_cache(maxsize=None)
def _performer_features(D: int) -> int:
    """The registered default: what Performer(head_dim=D) picks when num_features is not given."""
    from models.attention.performer import Performer
    return Performer(head_dim=D).num_features


@functools.lru_cache(maxsize=None)
def _linformer_proj_dim() -> int:
    from models.attention.linformer import Linformer
    return inspect.signature(Linformer.__init__).parameters["proj_dim"].default


def _family(variant: str) -> str:
    if variant in SOFTMAX:
        return "softmax"
    if variant in LINEAR or variant.startswith("linrec-"):
        return "linear"
    if variant in ("cosformer", "performer", "linformer"):
        return variant
    raise ValueError(f"no FLOP count for attention variant {variant!r}: add it to bench/roofline.py")


def _forward_flops(family: str, B: int, T: int, H: int, D: int, causal: bool, options: dict) -> float:
    if family == "softmax":  # QK^T and PV, each 2·T·T·D per head; causal does half of that usefully
        return 4.0 * B * H * T * T * D / (2 if causal else 1)
    if family == "linear":  # K^T V (D x D state) and Q · state, each 2·T·D·D per head
        return 4.0 * B * H * T * D * D
    if family == "cosformer":  # cos and sin features: feature dim 2D, twice the linear cost
        return 8.0 * B * H * T * D * D
    if family == "performer":  # m features: attention 4·T·m·D, plus projecting q and k, 2·T·D·m each
        m = options.get("num_features") or _performer_features(D)
        return 8.0 * B * H * T * m * D
    k = options.get("proj_dim") or _linformer_proj_dim()  # linformer projects the length axis to k
    return 8.0 * B * H * k * T * D  # attention 4·k·T·D plus projecting K and V, 2·k·T·D each


def _mode_factor(family: str, mode: str) -> float:
    if mode not in MODE_FACTOR:
        raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODE_FACTOR)}")
    return SOFTMAX_FWDBWD if (family, mode) == ("softmax", "fwdbwd") else MODE_FACTOR[mode]


def attention_flops(variant: str, mode: str, B: int, T: int, H: int, D: int, causal: bool = False,
                    options: dict | None = None) -> float:
    """Usage: attention_flops("performer", "fwdbwd", 64, 1024, 8, 16, options={"num_features": 64}) -> FLOPs."""
    family = _family(variant)
    return _forward_flops(family, B, T, H, D, bool(causal), options or {}) * _mode_factor(family, mode)


def attention_min_bytes(variant: str, mode: str, B: int, T: int, H: int, D: int, dtype: str,
                        options: dict | None = None) -> float:
    """Usage: attention_min_bytes("dot", "fwd", 64, 1024, 8, 16, "bfloat16") -> bytes that must cross memory.
    The same for every variant (inputs and outputs only); the variant is checked so unknown names fail alike."""
    _mode_factor(_family(variant), mode)  # validates both names
    tensors = 12 if mode == "fwdbwd" else 4
    return float(tensors * B * H * T * D * DTYPE_BYTES[_dtype(dtype)])


def _options(options) -> dict:
    if isinstance(options, str) and options:
        return json.loads(options)
    return options if isinstance(options, dict) else {}


def _floor(row: pd.Series) -> dict:
    """flops, bytes, peaks, floor and a note for one time row; NaN with a note when a number is unknown."""
    out = {"flops": np.nan, "bytes": np.nan, "peak_flops": np.nan, "bandwidth": np.nan, "floor_ms": np.nan,
           "bound": "", "note": ""}
    try:
        shape = (int(row["B"]), int(row["T"]), int(row["H"]), int(row["D"]))
        out["flops"] = attention_flops(row["variant"], row["mode"], *shape, row["causal"] in (True,),
                                       _options(row["options"]))
        out["bytes"] = attention_min_bytes(row["variant"], row["mode"], *shape, row["dtype"])
    except ValueError as err:
        return {**out, "note": str(err)}
    if _match(row["device_name"]) is None:
        return {**out, "note": f"unknown device {row['device_name']!r}: add it to bench/roofline.py PEAKS"}
    peaks = device_peaks(row["device_name"], row["dtype"])
    if peaks is None:
        return {**out, "note": f"{row['dtype']} not supported on {_match(row['device_name'])[1]}"}
    compute, memory = out["flops"] / peaks["flops_per_s"], out["bytes"] / peaks["bytes_per_s"]
    return {**out, "peak_flops": peaks["flops_per_s"], "bandwidth": peaks["bytes_per_s"],
            "floor_ms": 1e3 * max(compute, memory), "bound": "compute" if compute > memory else "memory"}


def roofline_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Usage: roofline_table(frame) -> the ok median time rows (ms) of attention-level CUDA cells, plus flops,
    bytes, intensity (FLOP/byte), peak_flops, bandwidth, floor_ms, bound ("compute" | "memory"),
    pct_of_floor (100·floor_ms / measured ms) and note ("" or why the floor is NaN).

    CPU rows are left out (no reliable peak table: clocks, SIMD width and threads vary), and so are model-level
    rows: the floor is per attention layer, a whole model adds embeddings, FFNs and the loss.
    """
    required = ("level", "variant", "mode", "B", "T", "H", "D", "dtype", "device", "device_name", "metric", "stat",
                "status", "value")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"roofline_table: rows lack required column {missing[0]!r}")
    rows = frame[frame["status"].eq("ok") & frame["metric"].eq("time") & frame["stat"].eq("median")
                 & frame["level"].eq("attention") & frame["device"].eq("cuda")].copy()
    for column, default in (("causal", False), ("options", None)):
        if column not in rows.columns:
            rows[column] = default
    floors = pd.DataFrame([_floor(row) for _, row in rows.iterrows()], index=rows.index,
                          columns=["flops", "bytes", "peak_flops", "bandwidth", "floor_ms", "bound", "note"])
    out = pd.concat([rows, floors], axis=1)
    out["intensity"] = out["flops"] / out["bytes"]
    out["pct_of_floor"] = 100.0 * out["floor_ms"] / out["value"].astype(float)
    return out.reset_index(drop=True)
