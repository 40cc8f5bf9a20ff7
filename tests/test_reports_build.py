"""Building a report from fixture run folders: HTML with embedded images, tables and figures beside it, empty and
partial runs, failed cells, a missing folder."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
import subprocess
import warnings

import pandas as pd
import pytest

from reports.__main__ import main
from reports.build import build_report
from tests.test_reports_accuracy import NDCG, train_rows
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
    curves = train_rows({**NDCG, "linrec-relu-token": [0.04, 0.045, 0.05]})  # an ablation variant: its figure
    epochs = curves[curves["metric"] == "ndcg@10"].assign(split="valid", epoch=1)
    training = run_folder(tmp_path / "train-run", pd.concat([curves, epochs]), "train")
    profiling = run_folder(tmp_path / "profile-run", profile_rows(), "profile")
    return training, profiling


def test_a_report_holds_every_section_with_embedded_images(runs, tmp_path):
    paths = build_report(runs, tmp_path / "out")
    html = paths["html"].read_text()
    for needed in ("Overall accuracy, full protocol", "<b>0.0657", "Median time: attention, fwdbwd",
                   "Scaling: attention, fwdbwd", "Training curves", "Environment and provenance", "abc123",
                   "LinRec variants against dot, full protocol", "Speed-up over sdpa: attention, fwdbwd",
                   "oom [1]", "[1] dot T=1024 B=4: oom: cap"):
        assert needed in html, needed
    assert html.count("data:image/png;base64,") == 4 and "http://" not in html and "https://" not in html
    names = {p.name for p in paths["files"]}
    assert {"accuracy-train-run-full.csv", "accuracy-train-run-full.tex"} <= names
    assert any(n.endswith(".svg") for n in names) and all(p.stat().st_size > 0 for p in paths["files"])


@pytest.mark.parametrize("text", ["", "garbage\n42\n"], ids=["empty", "garbage"])
def test_a_run_without_a_single_row_is_one_line_and_exit_1(tmp_path, capsys, text):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "rows.jsonl").write_text(text)
    with pytest.warns(UserWarning) if text else contextlib.nullcontext():
        assert main(["build", str(empty), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no rows to report" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_profile_run_whose_cells_all_failed_reports_them(tmp_path):
    rows = profile_rows()
    failed = rows.drop(columns=["value", "stat"], errors="ignore").assign(status="oom", message="cap 20 MiB")
    failed = failed.drop_duplicates(["variant", "T", "metric"])
    run = run_folder(tmp_path / "all-failed", failed, "profile")
    html = build_report([run], tmp_path / "out")["html"].read_text()
    assert "oom [1]" in html and "cap 20 MiB" in html


def test_the_command_builds_and_a_missing_folder_is_one_line(runs, tmp_path, capsys):
    assert main(["build", str(runs[0]), "--out", str(tmp_path / "out")]) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["build", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out2")]) == 2
    assert "no rows.jsonl" in capsys.readouterr().err
    assert main(["build", str(runs[1]), "--html", "--compare", str(runs[1]), "--out", str(tmp_path / "out3")]) == 0
    assert "Comparison with other runs" in (tmp_path / "out3" / "report.html").read_text()
    assert main(["build", str(runs[1]), "--compare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o4")]) == 2
    assert "no rows.jsonl" in capsys.readouterr().err  # a missing comparison folder: the same one line


browser = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")


def ink(png) -> float:
    """Share of pixels that are not (near) white: 0 for a blank page."""
    import numpy as np
    from PIL import Image

    return float((np.asarray(Image.open(png).convert("L")) < 230).mean())


@browser
def test_the_html_renders_in_a_real_browser_with_every_image(runs, tmp_path):
    from PIL import Image

    from reports.browser import screenshot

    paths = build_report(runs, tmp_path / "out")
    html = paths["html"].read_text()
    for encoded in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        Image.open(io.BytesIO(base64.b64decode(encoded))).verify()  # a broken image would not decode
    shot = screenshot(paths["html"], tmp_path / "shot.png", width=1200, height=1600)
    assert ink(shot) > 0.02  # tables and figures drawn, not a blank page


@browser
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_pdf_has_the_same_content_on_rendered_pages(runs, tmp_path):
    paths = build_report(runs, tmp_path / "out", pdf=True)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(paths["pdf"]), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3  # accuracy, efficiency, scaling and the rest do not fit one page
    assert all(ink(page) > 0.005 for page in pages)
    text = subprocess.run(["pdftotext", str(paths["pdf"]), "-"], capture_output=True, text=True).stdout
    for needed in ("Overall accuracy, full protocol", "Scaling: attention, fwdbwd", "Environment and provenance"):
        assert needed in text
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(paths["pdf"]), "-"], capture_output=True,
                           text=True).stdout
    for needed in ("Contents", "Ablation: LinRec's feature map", "What these runs show", "What train-run shows",
                   "best test NDCG@10, sasrec, full protocol", "faster than sdpa"):
        assert needed in first, needed  # a reader finds every section, and what the runs show, on page one
    assert lowest_ink(pages[0]) > 0.6  # page one is filled, not a title above three quarters of white


def lowest_ink(png) -> float:
    """How far down the page (0 top, 1 bottom) its last non-white row of pixels lies."""
    import numpy as np
    from PIL import Image

    rows = np.flatnonzero((np.asarray(Image.open(png).convert("L")) < 230).any(axis=1))
    return float(rows[-1] + 1) / Image.open(png).height if rows.size else 0.0


def test_asking_for_a_pdf_without_a_browser_is_one_line(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["build", str(runs[0]), "--out", str(tmp_path / "out"), "--pdf"]) == 2
    assert "apt-get install chromium" in capsys.readouterr().err


def test_each_training_run_gets_its_own_table_in_the_order_given_under_the_section_of_its_kind(runs, tmp_path):
    other = tmp_path / "a-run"  # sorts first by name, comes second by order; an ablation run like runs[0]
    run_folder(other, train_rows({"dot": [0.02], "linrec": [0.03], "linrec-elu-none": [0.01]}), "train")
    plain = tmp_path / "c-plain"  # no ablation variant, no moved setting: an accuracy run
    run_folder(plain, train_rows({"dot": [0.02], "linrec": [0.03]}), "train")
    html = build_report([runs[0], other, plain], tmp_path / "out")["html"].read_text()
    body = html[html.index("</nav>"):]  # the contents list every title once before the sections
    accuracy, ablation = body.index('<h2 id="accuracy">'), body.index('<h2 id="ablation">Ablation')
    assert accuracy < body.index("Overall accuracy, full protocol, run c-plain") < ablation
    first = body.index("Overall accuracy, full protocol, run train-run")
    assert ablation < first < body.index("Overall accuracy, full protocol, run a-run")
    assert "LinRec variants against dot, full protocol, run train-run" in body
    assert "LinRec variants against dot, full protocol, run c-plain" not in body  # no ablation variant, no figure
    assert body.index("Training curves, toy, run train-run") < body.index("Environment and provenance")


def test_provenance_names_the_command_that_made_each_run(runs, tmp_path):
    env = json.loads((runs[1] / "env.json").read_text())
    line = "python -m bench profile --attention dot sdpa linrec --lengths 64 128 256 512"
    (runs[1] / "env.json").write_text(json.dumps({**env, "command_line": line}))
    html = build_report(runs, tmp_path / "out")["html"].read_text()
    assert line in html and "train {}" in html  # a run from before commands were recorded: its command name


def test_the_bench_command_records_its_command_line(tmp_path):
    from bench.__main__ import main as bench_main

    argv = ["microbench", "--variants", "dot", "--lengths", "16", "--tokens", "16", "--heads", "1", "--head-dim",
            "4", "--repeats", "1", "--warmup", "1", "--no-memory", "--results", str(tmp_path)]
    assert bench_main(argv) == 0
    (env_path,) = tmp_path.glob("*/env.json")
    env = json.loads(env_path.read_text())
    assert env["command_line"].startswith("python -m bench microbench --variants dot --lengths 16")


def test_provenance_lists_every_cell_that_did_not_finish_or_measure(runs, tmp_path):
    cut = {"bench": "train", "cell": "linrec-s9-full", "model": "sasrec", "attention": "linrec", "max_len": 50,
           "dataset": "toy", "seed": 9, "protocol": "full", "metric": "status", "status": "diverged",
           "message": "loss became nan at epoch 2"}
    broken = run_folder(tmp_path / "broken-run", train_rows(extra_cells=[cut]), "train")
    html = build_report([broken, runs[1]], tmp_path / "out")["html"].read_text()
    failed = html[html.index("<h3>Cells that did not finish or measure"):]
    assert "linrec-s9-full" in failed and "loss became nan at epoch 2" in failed  # training, its reason
    assert "dot fwdbwd T=1024 B=4" in failed and "cap" in failed  # profiling, named by its settings, its reason
    clean = build_report([runs[0]], tmp_path / "clean")["html"].read_text()
    assert "<p>None.</p>" in clean[clean.index("Cells that did not finish or measure"):]


def test_markup_from_data_is_escaped_and_only_our_own_markup_remains(tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    rows = train_rows().assign(dataset=evil)
    rows.loc[rows["attention"] == "sdpa", "attention"] = "<script>alert(2)</script>"
    run = run_folder(tmp_path / "evil-run", rows, "train")
    html = build_report([run], tmp_path / "out")["html"].read_text()
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<b>0.0657" in html  # the best value is still bold: markup built around escaped text


def test_the_pdf_printer_gets_no_file_access(monkeypatch, tmp_path):
    import reports.browser as browser

    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        (tmp_path / "out.pdf").write_bytes(b"%PDF")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(browser, "find_browser", lambda: "chromium")
    monkeypatch.setattr(browser.subprocess, "run", fake_run)
    browser.html_to_pdf(tmp_path / "report.html", tmp_path / "out.pdf")
    assert not any("file-access" in flag for flag in seen["command"])


PROFILE_KEYS = ["level", "mode", "causal", "dtype", "device", "variant", "T", "B", "H", "D", "metric", "status",
                "value", "stat"]
TRAIN_KEYS = ["cell", "model", "attention", "dataset", "max_len", "seed", "protocol", "metric", "split", "value",
              "status"]


@pytest.mark.parametrize("bench, key", [("profile", k) for k in PROFILE_KEYS] + [("train", k) for k in TRAIN_KEYS],
                         ids=[f"profile-{k}" for k in PROFILE_KEYS] + [f"train-{k}" for k in TRAIN_KEYS])
def test_rows_lacking_a_key_their_bench_needs_are_skipped_with_one_warning(tmp_path, capsys, bench, key):
    rows = profile_rows() if bench == "profile" else train_rows()
    carrying = rows[rows[key].notna()]
    broken = carrying.head(5).drop(columns=[key])  # five rows that need the key lack it; the rest are whole
    run = run_folder(tmp_path / "run", pd.concat([rows.drop(index=carrying.index[:5]), broken]), bench)
    with pytest.warns(UserWarning, match=rf"rows.jsonl: skipped 5 row\(s\) lacking keys their bench needs: {key}"):
        assert main(["build", str(run), "--out", str(tmp_path / "out")]) == 0
    assert "report:" in capsys.readouterr().out


@pytest.mark.parametrize("bench, key", [("profile", "T"), ("train", "model"), ("train", "status"),
                                        ("train", "shuffle_train_order"), ("train", "path")],
                         ids=["profile-T", "train-model", "train-status", "train-shuffle", "train-path"])
def test_a_run_whose_every_row_lacks_a_key_is_no_traceback(tmp_path, capsys, bench, key):
    rows = profile_rows() if bench == "profile" else train_rows()
    run = run_folder(tmp_path / "run", rows.drop(columns=[key]), bench)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["build", str(run), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err


@pytest.mark.parametrize("seeds, claims", [(1, False), (3, True)], ids=["one-seed", "three-seeds"])
def test_the_accuracy_caption_claims_spread_and_tests_only_with_seeds(tmp_path, seeds, claims):
    values = {name: [0.05 + 0.01 * k + 0.001 * s for s in range(seeds)] for k, name in enumerate(("dot", "linrec"))}
    run = run_folder(tmp_path / "run", train_rows(values), "train")
    html = build_report([run], tmp_path / "out")["html"].read_text()
    assert ("paired t-test" in html) == claims and ("mean ± std" in html) == claims
    assert ("one seed per row, so no spread and no significance test" in html) == (not claims)


def with_env(run, commit, cells=None):
    (run / "env.json").write_text(json.dumps({"cpu": "Test CPU", "git_commit": commit}))
    if cells is not None:
        (run / "config.json").write_text(json.dumps({"command": "train", "cells": cells}))
    return run


def test_a_clean_run_carries_no_provenance_mark(tmp_path):
    run = with_env(run_folder(tmp_path / "clean", profile_rows(), "profile"), "abc123")
    html = build_report([run], tmp_path / "out")["html"].read_text()
    assert "Provenance:" not in html and ">clean<" in html


def test_runs_are_marked_for_a_dirty_tree_mixed_or_other_commits_and_unrecorded_cells(tmp_path):
    profile = with_env(run_folder(tmp_path / "profile", profile_rows().assign(git_commit="abc123"), "profile"),
                       "abc123")
    dirty = with_env(run_folder(tmp_path / "dirty", profile_rows().assign(git_commit="abc123-dirty"), "profile"),
                     "abc123-dirty")
    rows = train_rows()
    cells = sorted(set(rows["cell"]))
    recorded = {cell: {"env": {"git_commit": "abc123" if i % 2 else "fed987"}} for i, cell in enumerate(cells[1:])}
    mixed = with_env(run_folder(tmp_path / "mixed", rows, "train"), "abc123", {cells[0]: {}, **recorded})
    html = build_report([profile, dirty, mixed], tmp_path / "out")["html"].read_text()
    notice = html[html.index("Provenance:"):html.index("Read these numbers")]
    assert "<code>profile</code>" not in notice  # shares its commit with the runs beside it, clean
    assert "<code>dirty</code> measured on a dirty tree (abc123-dirty)" in notice
    assert "mixes 2 commits" in notice and "1 training cell(s) without a recorded environment" in notice
    alone = with_env(run_folder(tmp_path / "alone", profile_rows().assign(git_commit="0ddba11"), "profile"),
                     "0ddba11")
    html = build_report([profile, alone], tmp_path / "out2")["html"].read_text()
    assert "measured at 0ddba11, a commit none of the runs beside it shares (abc123)" in html
