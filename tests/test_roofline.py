"""Roofline floors: peak table lookup, hand-counted FLOPs and bytes, and the H100 memory-bound/compute-bound check."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.profile.flops import attention_flops, attention_min_bytes
from bench.profile.roofline import device_peaks, roofline_table

B, T, H, D = 2, 10, 3, 4


@pytest.mark.parametrize("name, dtype, tflops, tbs", [
    pytest.param("NVIDIA H100 80GB HBM3", "bfloat16", 989, 3.35, id="h100-sxm-bf16"),
    pytest.param("NVIDIA H100 80GB HBM3", "float32", 67, 3.35, id="h100-sxm-fp32"),
    pytest.param("NVIDIA H100 PCIe", "float16", 756, 2.0, id="h100-pcie-before-h100"),
    pytest.param("NVIDIA H200", "bfloat16", 989, 4.8, id="h200"),
    pytest.param("NVIDIA A100-SXM4-80GB", "bfloat16", 312, 2.039, id="a100-sxm-80"),
    pytest.param("NVIDIA A100-SXM4-40GB", "float16", 312, 1.555, id="a100-sxm-40"),
    pytest.param("NVIDIA A100 80GB PCIe", "float32", 19.5, 1.935, id="a100-pcie-80"),
    pytest.param("NVIDIA L4", "bfloat16", 121, 0.3, id="l4"),
    pytest.param("Tesla V100-SXM2-32GB", "float16", 125, 0.9, id="v100-fp16"),
])
def test_device_peaks_known(name, dtype, tflops, tbs):
    peaks = device_peaks(name, dtype)
    assert peaks["flops_per_s"] == pytest.approx(tflops * 1e12)
    assert peaks["bytes_per_s"] == pytest.approx(tbs * 1e12)


@pytest.mark.parametrize("name, dtype", [
    pytest.param("Tesla V100-SXM2-32GB", "bfloat16", id="v100-has-no-bf16"),
    pytest.param("NVIDIA L40S", "bfloat16", id="l40s-is-not-l4"),
    pytest.param("NVIDIA A10G", "bfloat16", id="a10g-no-datasheet"),
    pytest.param("AMD EPYC 7763 64-Core Processor", "float32", id="cpu"),
    pytest.param("NVIDIA GH200 480GB", "bfloat16", id="gh200-is-not-h200"),
    pytest.param("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bfloat16", id="mig-slice"),
])
def test_device_peaks_none(name, dtype):
    assert device_peaks(name, dtype) is None


@pytest.mark.parametrize("variant, mode, causal, options, expected", [
    pytest.param("dot", "fwd", False, None, 4 * B * H * T * T * D, id="dot-fwd"),
    pytest.param("sdpa_flash", "fwd", True, None, 2 * B * H * T * T * D, id="sdpa-causal-half"),
    pytest.param("dot", "fwdbwd", False, None, 3.5 * 4 * B * H * T * T * D, id="softmax-fwdbwd-3.5x"),
    pytest.param("xformers", "infer", False, None, 4 * B * H * T * T * D, id="infer-is-fwd"),
    pytest.param("linrec", "fwd", False, None, 4 * B * H * T * D * D, id="linrec-fwd"),
    pytest.param("linrec-relu-seq", "fwdbwd", False, None, 3 * 4 * B * H * T * D * D, id="ablation-fwdbwd-3x"),
    pytest.param("cosformer", "fwd", True, None, 8 * B * H * T * D * D, id="cosformer-2x-linear"),
    pytest.param("performer", "fwd", False, {"num_features": 8}, 8 * B * H * T * 8 * D, id="performer-m8"),
    pytest.param("linformer", "fwdbwd", False, {"proj_dim": 5}, 3 * 8 * B * H * 5 * T * D, id="linformer-k5"),
])
def test_attention_flops(variant, mode, causal, options, expected):
    assert attention_flops(variant, mode, B, T, H, D, causal=causal, options=options) == pytest.approx(expected)


def test_defaults_are_the_registered_ones():
    # Performer(head_dim=4) picks max(4, int(4 ln 4)) = 5 features; Linformer's proj_dim defaults to 64.
    assert attention_flops("performer", "fwd", B, T, H, D) == pytest.approx(8 * B * H * T * 5 * D)
    assert attention_flops("linformer", "fwd", B, T, H, D) == pytest.approx(8 * B * H * 64 * T * D)


@pytest.mark.parametrize("dtype, mode, expected", [
    pytest.param("float32", "fwd", 4 * B * H * T * D * 4, id="fp32-fwd"),
    pytest.param("bfloat16", "fwd", 4 * B * H * T * D * 2, id="bf16-fwd"),
    pytest.param("float16", "infer", 4 * B * H * T * D * 2, id="fp16-infer"),
    pytest.param("float32", "fwdbwd", 12 * B * H * T * D * 4, id="fp32-fwdbwd"),
])
def test_min_bytes(dtype, mode, expected):
    assert attention_min_bytes("dot", mode, B, T, H, D, dtype) == expected


@pytest.mark.parametrize("call", [
    pytest.param(lambda: attention_flops("flash_linear", "fwd", B, T, H, D), id="flops"),
    pytest.param(lambda: attention_min_bytes("flash_linear", "fwd", B, T, H, D, "float32"), id="bytes"),
])
def test_unknown_variant_names_it(call):
    with pytest.raises(ValueError, match="flash_linear"):
        call()


def test_unknown_mode_and_dtype():
    with pytest.raises(ValueError, match="'train'"):
        attention_flops("dot", "train", B, T, H, D)
    with pytest.raises(ValueError, match="'int8'"):
        attention_min_bytes("dot", "fwd", B, T, H, D, "int8")


def _row(variant="dot", T=512, device_name="NVIDIA H100 80GB HBM3", dtype="bfloat16", value=1.0, **extra) -> dict:
    return {"level": "attention", "model": None, "variant": variant, "mode": "fwd", "causal": False, "B": 64,
            "T": T, "H": 8, "D": 16, "dtype": dtype, "device": "cuda", "device_name": device_name, "metric": "time",
            "stat": "median", "status": "ok", "value": value, "unit": "ms", **extra}


def test_design_self_check_h100_bf16():
    frame = pd.DataFrame([_row("dot", 580), _row("dot", 600), _row("linrec", 16384)])
    table = roofline_table(frame)
    assert list(table["bound"]) == ["memory", "compute", "memory"]


def test_floor_and_pct_by_hand():
    table = roofline_table(pd.DataFrame([_row("linrec", 1024, value=0.01)]))
    row = table.iloc[0]
    expected_ms = 1e3 * (4 * 64 * 8 * 1024 * 16 * 2) / 3.35e12  # memory-bound: bytes / bandwidth
    assert row["floor_ms"] == pytest.approx(expected_ms)
    assert row["pct_of_floor"] == pytest.approx(100 * expected_ms / 0.01)
    assert row["intensity"] == pytest.approx(16 / 2)  # 4·T·D² FLOPs over 4·T·D·2 bytes
    assert row["note"] == ""


@pytest.mark.parametrize("row, note", [
    pytest.param(_row(device_name="NVIDIA B200"),
                 "unknown device 'NVIDIA B200': add it to bench/profile/roofline.py PEAKS", id="unknown-device"),
    pytest.param(_row(device_name="Tesla V100-SXM2-32GB"), "bfloat16 not supported on V100 SXM2", id="dtype"),
    pytest.param(_row(variant="flash_linear"), "flash_linear", id="unknown-variant"),
])
def test_notes(row, note):
    table = roofline_table(pd.DataFrame([row]))
    assert note in table.iloc[0]["note"]
    assert math.isnan(table.iloc[0]["floor_ms"])


def test_cpu_model_level_and_failed_rows_are_excluded():
    frame = pd.DataFrame([_row(), _row(device="cpu", device_name="AMD EPYC"), _row(level="model", model="sasrec"),
                          _row(stat="p20"), {**_row(status="oom", value=None), "stat": None}])
    assert len(roofline_table(frame)) == 1


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="'device_name'"):
        roofline_table(pd.DataFrame([_row()]).drop(columns="device_name"))


def test_counts_recorded_by_the_profiler_are_used_as_they_are():
    # a variant no longer registered still gets its floor: the row carries its own FLOPs and bytes
    row = _row("retired_variant", 1024, value=0.01, flops=2e9, min_bytes=1e6)
    table = roofline_table(pd.DataFrame([row]))
    assert table.iloc[0]["note"] == "" and table.iloc[0]["flops"] == 2e9 and table.iloc[0]["bytes"] == 1e6
    assert table.iloc[0]["floor_ms"] == pytest.approx(1e3 * max(2e9 / 989e12, 1e6 / 3.35e12))
    assert list(table.columns).count("flops") == 1

