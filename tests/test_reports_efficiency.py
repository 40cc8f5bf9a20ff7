"""The efficiency table from fixture rows: ratios to dot and sdpa, failures with their reasons, separate blocks."""
from __future__ import annotations

import pandas as pd
import pytest

from reports.efficiency import efficiency_blocks, efficiency_table, number

BASE = {"bench": "profile", "level": "attention", "model": None, "mode": "fwdbwd", "causal": False,
        "dtype": "float32", "device": "cpu", "device_name": "Test CPU"}


def ok(variant, T, B, ms, mib, **extra):
    return [{**BASE, **extra, "variant": variant, "T": T, "B": B, "metric": "time", "stat": "median", "value": ms,
             "status": "ok"},
            {**BASE, **extra, "variant": variant, "T": T, "B": B, "metric": "peak_memory", "stat": "peak",
             "value": mib, "status": "ok"}]


def frame():
    rows = ok("dot", 64, 8, 10.0, 40.0) + ok("sdpa", 64, 8, 5.0, 10.0) + ok("linrec", 64, 8, 4.0, 8.0)
    rows += ok("sdpa", 128, 4, 12.0, 20.0) + ok("linrec", 128, 4, 4.5, 9.0)
    rows.append({**BASE, "variant": "dot", "T": 128, "B": 4, "metric": "time", "status": "oom",
                 "message": "can't allocate memory: you tried to allocate 4096 MiB"})
    rows += ok("linrec", 64, 8, 3.0, 8.0, causal=True)  # another block
    return pd.DataFrame(rows)


def test_blocks_never_mix_causal_and_non_causal():
    titles = [title for title, _ in efficiency_blocks(frame())]
    assert titles == ["attention, fwdbwd, float32, cpu (Test CPU)",
                      "attention, fwdbwd, causal, float32, cpu (Test CPU)"]
    assert efficiency_blocks(pd.DataFrame()) == []


def test_a_model_level_sweep_keeps_each_attention_as_the_backbone_trains_it():
    model = {"level": "model", "model": "sasrec"}
    rows = ok("dot", 20, 8, 10.0, 40.0, causal=True, **model) + ok("linrec", 20, 8, 4.0, 8.0, causal=False, **model)
    (title, block), = efficiency_blocks(pd.DataFrame(rows))
    assert title == "model sasrec, fwdbwd, causal except linrec (no causal mask), float32, cpu (Test CPU)"
    assert "0.40× dot" in efficiency_table(block, "time")[0].at[(20, 8), "linrec"]
    both = rows + ok("linrec", 20, 8, 5.0, 9.0, causal=True, **model)  # measured both ways: blocks split again
    assert [title for title, _ in efficiency_blocks(pd.DataFrame(both))] == [
        "model sasrec, fwdbwd, float32, cpu (Test CPU)", "model sasrec, fwdbwd, causal, float32, cpu (Test CPU)"]


def test_cells_carry_ratios_to_dot_and_sdpa_and_failures_their_reason():
    block = efficiency_blocks(frame())[0][1]
    table, notes = efficiency_table(block, "time")
    assert table.at[(64, 8), "linrec"] == "4.00 ms · 0.40× dot · 0.80× sdpa"
    assert table.at[(64, 8), "dot"] == "10.0 ms · 2.00× sdpa" and table.at[(64, 8), "sdpa"] == "5.00 ms · 0.50× dot"
    assert table.at[(128, 4), "linrec"] == "4.50 ms · 0.38× sdpa"  # dot failed there: no ratio to it
    assert table.at[(128, 4), "dot"] == "oom [1]"
    assert notes == ["[1] dot T=128 B=4: oom: can't allocate memory: you tried to allocate 4096 MiB"]
    memory, _ = efficiency_table(block, "peak_memory")
    assert memory.at[(64, 8), "linrec"] == "8.00 MiB · 0.20× dot · 0.80× sdpa"
    assert memory.at[(128, 4), "dot"] == "-"  # the memory pass has no row for it


def test_tiny_ratios_keep_two_significant_digits():
    rows = ok("dot", 64, 8, 1000.0, 40.0) + ok("linrec", 64, 8, 1.6, 8.0)
    table, _ = efficiency_table(pd.DataFrame(rows), "time")
    assert table.at[(64, 8), "linrec"] == "1.60 ms · 0.0016× dot"


def test_unknown_metric_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown efficiency metric 'flops'"):
        efficiency_table(frame(), "flops")


@pytest.mark.parametrize("value, text", [(1543.2, "1,543"), (12.34, "12.3"), (0.0456, "0.0456"), (4.0, "4.00")])
def test_numbers_read_well(value, text):
    assert number(value) == text
