"""Comparing runs cell by cell: efficiency ratios per length, accuracy means side by side, the --compare section."""
from __future__ import annotations

import pandas as pd

from reports.build import build_report
from reports.compare import accuracy_comparison, efficiency_comparison
from tests.test_reports_accuracy import train_rows
from tests.test_reports_build import run_folder
from tests.test_reports_figures import profile_rows


def faster(rows: pd.DataFrame, factor: float, device: str = "cuda") -> pd.DataFrame:
    """The same cells measured elsewhere, ``factor`` times the time and memory."""
    return rows.assign(value=rows["value"] * factor, device=device, device_name="Other device")


def test_efficiency_ratios_match_cells_across_devices():
    this = profile_rows()
    other = faster(this[this["T"] != 512], 0.25)  # one length only this side measured
    tables = efficiency_comparison(this, other)
    time = tables["time"]
    assert list(time.columns) == [64, 128, 256]  # 512 matched nothing; dot's oom at 1024 is no cell
    assert set(time.index.get_level_values("variant")) == {"dot", "sdpa", "linrec"}
    assert (time.values == "0.250×").all() and (tables["peak_memory"].values == "0.250×").all()


def test_no_match_gives_empty_tables():
    this = profile_rows()
    other = faster(this, 0.5).assign(dtype="bfloat16")
    assert all(table.empty for table in efficiency_comparison(this, other).values())
    assert all(table.empty for table in efficiency_comparison(this, pd.DataFrame()).values())


def test_accuracy_means_side_by_side_with_the_change():
    this = train_rows({"dot": [0.05, 0.06], "linrec": [0.06, 0.07]})
    other = train_rows({"dot": [0.044], "linrec": [0.078], "sdpa": [0.05]})
    table = accuracy_comparison(this, other, "full")
    row = table.xs("linrec", level="attention").iloc[0]
    assert row[("ndcg@10", "this")] == 0.065 and row[("ndcg@10", "other")] == 0.078
    assert row[("ndcg@10", "change")] == "+20.0%"
    assert "sdpa" not in set(table.index.get_level_values("attention"))  # only the other side has it
    assert accuracy_comparison(this, other, "uni100").empty  # a protocol neither holds: nothing, no error


def test_accuracy_matches_cells_alike_in_every_setting_but_the_device():
    low = train_rows({"linrec": [0.05]}).assign(dropout=0.2)
    high = train_rows({"linrec": [0.09]}).assign(dropout=0.5)
    this = pd.concat([low, high.assign(cell=high["cell"] + "-high")])
    other = train_rows({"linrec": [0.10]}).assign(dropout=0.5, device="cuda", cell="gpu")
    table = accuracy_comparison(this.assign(device="cpu"), other, "full")
    assert list(table.index.get_level_values("dropout")) == [0.5]  # never averaged with the dropout 0.2 cell
    assert table.iloc[0][("ndcg@10", "this")] == 0.09 and table.iloc[0][("ndcg@10", "other")] == 0.10


def test_the_report_gets_a_comparison_section(tmp_path):
    this = run_folder(tmp_path / "cpu-run", profile_rows(), "profile")
    other = run_folder(tmp_path / "gpu-run", faster(profile_rows(), 0.1), "profile")
    html = build_report([this], tmp_path / "out", compare=[other])["html"].read_text()
    section = html[html.index("<h2 id=\"comparison\">"):html.index("<h2 id=\"provenance\">")]
    assert "Compared: median time, other / this" in section and "0.100×" in section
    assert html.count("gpu-run") >= 2  # named in the captions and in the provenance
    plain = build_report([this], tmp_path / "plain")["html"].read_text()
    assert "Comparison with other runs" not in plain
