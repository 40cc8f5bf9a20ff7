"""Building a report from fixture run folders: HTML with embedded images, tables and figures beside it, empty and
partial runs, failed cells, a missing folder."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from reports.__main__ import main
from reports.build import build_report
from tests.test_reports_accuracy import train_rows
from tests.test_reports_figures import profile_rows


def run_folder(path, frame, command):
    path.mkdir(parents=True)
    with open(path / "rows.jsonl", "w") as handle:
        for row in frame.to_dict("records"):
            handle.write(json.dumps({k: v for k, v in row.items() if v == v}) + "\n")  # NaN left out, as written
    (path / "env.json").write_text(json.dumps({"cpu": "Test CPU", "torch": "2.13.0", "git_commit": "abc123"}))
    (path / "config.json").write_text(json.dumps({"command": command}))
    return path


@pytest.fixture
def runs(tmp_path):
    curves = train_rows()
    epochs = curves[curves["metric"] == "ndcg@10"].assign(split="valid", epoch=1)
    training = run_folder(tmp_path / "train-run", pd.concat([curves, epochs]), "train")
    profiling = run_folder(tmp_path / "profile-run", profile_rows(), "profile")
    return training, profiling


def test_a_report_holds_every_section_with_embedded_images(runs, tmp_path):
    paths = build_report(runs, tmp_path / "out")
    html = paths["html"].read_text()
    for needed in ("Overall accuracy, full protocol", "<b>0.0657", "Median time: attention, fwdbwd",
                   "Scaling: attention, fwdbwd", "Training curves", "Environment and provenance", "abc123",
                   "oom [1]", "[1] dot T=1024 B=4: oom: cap"):
        assert needed in html, needed
    assert html.count("data:image/png;base64,") == 2 and "http://" not in html and "https://" not in html
    names = {p.name for p in paths["files"]}
    assert {"accuracy-full.csv", "accuracy-full.tex"} <= names
    assert any(n.endswith(".svg") for n in names) and all(p.stat().st_size > 0 for p in paths["files"])


def test_a_run_without_rows_gives_empty_sections_not_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "rows.jsonl").write_text("")
    html = build_report([empty], tmp_path / "out")["html"].read_text()
    assert html.count("No rows of this kind in these runs.") >= 3


def test_the_command_builds_and_a_missing_folder_is_one_line(runs, tmp_path, capsys):
    assert main(["build", str(runs[0]), "--out", str(tmp_path / "out")]) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["build", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out2")]) == 2
    assert "no rows.jsonl" in capsys.readouterr().err
