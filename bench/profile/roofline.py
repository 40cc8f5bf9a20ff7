"""Roofline floors for one attention layer on a GPU: the time neither compute nor memory traffic can beat.

Usage:
    device_peaks("NVIDIA H100 80GB HBM3", "bfloat16")   # {"device": "H100 SXM", "flops_per_s": 9.89e14, ...}
    roofline_table(frame)   # ok median time rows at attention level on CUDA, with floor_ms and pct_of_floor

floor = max(FLOPs / peak, bytes / bandwidth): a kernel at 100% of its floor is as fast as the hardware allows.
FLOPs and minimal bytes are counted by flops.py; rows that ``bench profile`` writes carry them (``flops``,
``min_bytes``), so a report reads them from the results. Rows without them are counted here from their settings.
Pure pandas at import: reports use this module without loading the models.
"""
from __future__ import annotations

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
PEAK_COLUMN = {"bfloat16": 2, "float16": 3, "float32": 4}  # index into a PEAKS entry


def _peak_column(dtype: str) -> int:
    name = str(dtype).removeprefix("torch.")
    if name not in PEAK_COLUMN:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(PEAK_COLUMN)}")
    return PEAK_COLUMN[name]


def _match(device_name: str) -> tuple | None:
    name = re.sub(r"[-_\s]+", " ", str(device_name).lower())
    if re.search(r"\bmig\b", name):
        return None  # a MIG slice has a fraction of the device's compute and bandwidth: no datasheet row
    return next((entry for entry in PEAKS if re.search(entry[0], name)), None)


def device_peaks(device_name: str, dtype: str) -> dict | None:
    """Usage: device_peaks("NVIDIA H100 PCIe", "float16") -> {"device", "flops_per_s", "bytes_per_s"};
    None for an unknown device or CPU, or a dtype the device has no rate for (bf16 on V100)."""
    entry, column = _match(device_name), _peak_column(dtype)
    if entry is None or entry[column] is None:
        return None
    flops = entry[column] * 1e12
    return {"device": entry[1], "flops_per_s": flops, "bytes_per_s": entry[5] * 1e12}


def _options(options) -> dict:
    if isinstance(options, str) and options:
        return json.loads(options)
    return options if isinstance(options, dict) else {}


def _recorded(row: pd.Series, column: str) -> float | None:
    value = row.get(column)
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def _counts(row: pd.Series) -> tuple[float | None, float]:
    """(FLOPs, minimal bytes) of a time row: as recorded by the profiler, else counted from the row's settings."""
    flops, min_bytes = _recorded(row, "flops"), _recorded(row, "min_bytes")
    if flops is not None and min_bytes is not None:
        return flops, min_bytes
    from .flops import attention_flops, attention_min_bytes  # counting needs the registry: only for such rows

    shape = (int(row["B"]), int(row["T"]), int(row["H"]), int(row["D"]))
    return (attention_flops(row["variant"], row["mode"], *shape, row["causal"] in (True,), _options(row["options"])),
            attention_min_bytes(row["variant"], row["mode"], *shape, row["dtype"]))


def _floor(row: pd.Series) -> dict:
    """flops, bytes, peaks, floor and a note for one time row; NaN with a note when a number is unknown."""
    out = {"flops": np.nan, "bytes": np.nan, "peak_flops": np.nan, "bandwidth": np.nan, "floor_ms": np.nan,
           "bound": "", "note": ""}
    try:
        out["flops"], out["bytes"] = _counts(row)
    except ValueError as err:
        return {**out, "note": str(err)}
    if out["flops"] is None:
        return {**out, "flops": np.nan, "note": f"{row['variant']}: unknown FLOPs (its spec names no formula)"}
    if _match(row["device_name"]) is None:
        return {**out, "note": f"unknown device {row['device_name']!r}: add it to bench/profile/roofline.py PEAKS"}
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
    out = pd.concat([rows.drop(columns=["flops", "min_bytes"], errors="ignore"), floors], axis=1)
    out["intensity"] = out["flops"] / out["bytes"]
    out["pct_of_floor"] = 100.0 * out["floor_ms"] / out["value"].astype(float)
    return out.reset_index(drop=True)
