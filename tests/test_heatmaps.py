"""Heatmaps from trained checkpoints: the command, the matrices against the models' own, the report figure."""
from __future__ import annotations

import numpy as np
import pytest

from bench.__main__ import main
from bench.heatmaps import heatmap_rows, median_user
from bench.results import read_rows
from bench.train.batches import LeaveOneOut
from reports.build import build_report
from reports.figures_heatmaps import heatmaps_figure, read_heatmaps
from tests.conftest import cyclic_data
from tests.test_train_cli import inter_file, train_args  # noqa: F401  (inter_file is a fixture)


@pytest.fixture
def trained(inter_file, tmp_path):  # noqa: F811
    run_dir = tmp_path / "run"
    for attention in ("dot", "linrec"):
        assert main(train_args(inter_file, run_dir, "--attention", attention, "--no-progress")) == 0
    return run_dir


def test_the_command_writes_one_matrix_per_trained_cell(trained, capsys):
    assert main(["heatmaps", str(trained)]) == 0
    assert "2 heatmaps" in capsys.readouterr().out
    rows = read_rows(trained / "heatmaps.jsonl")
    by_attention = {r["attention"]: r for r in rows}
    assert set(by_attention) == {"dot", "linrec"}
    dot, linrec = (np.asarray(by_attention[a]["matrix"]) for a in ("dot", "linrec"))
    real = by_attention["dot"]["length"]
    assert dot.shape == linrec.shape == (6, 6)
    np.testing.assert_allclose(dot[:real, :real].sum(1), 1.0, rtol=1e-5)  # softmax rows over real keys
    assert np.allclose(np.triu(dot[:real, :real], 1), 0.0)  # SASRec with dot is causal: no future weight
    assert (linrec < 0).any()  # LinRec's implicit weights may be negative: not a softmax


def test_rows_say_which_variants_are_softmax_from_the_registry(trained):
    rows = {r["attention"]: r for r in heatmap_rows(trained)}
    assert rows["dot"]["softmax"] is True and rows["linrec"]["softmax"] is False


def test_the_same_user_and_a_bad_layer(trained):
    rows = heatmap_rows(trained, user=3)
    assert {r["user"] for r in rows} == {3}
    with pytest.raises(ValueError, match="layer 5 / head 0 out of range"):
        heatmap_rows(trained, layer=5)
    with pytest.raises(ValueError, match="user 999 out of range"):
        heatmap_rows(trained, user=999)


def test_a_cell_without_its_checkpoint_is_skipped(trained, capsys):
    next((trained / "checkpoints").glob("*-dot-*.pt")).unlink()
    rows = heatmap_rows(trained)
    assert [r["attention"] for r in rows] == ["linrec"] and "no checkpoint, skipped" in capsys.readouterr().out


def test_a_cell_with_a_truncated_checkpoint_is_skipped(trained, capsys):
    checkpoint = next((trained / "checkpoints").glob("*-dot-*.pt"))
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # cut short
    rows = heatmap_rows(trained)
    assert [r["attention"] for r in rows] == ["linrec"] and "unreadable" in capsys.readouterr().out


def test_a_run_without_training_is_one_line(tmp_path, capsys):
    (tmp_path / "rows.jsonl").write_text("")
    assert main(["heatmaps", str(tmp_path)]) == 2
    assert "no finished training cell" in capsys.readouterr().err


def test_median_user_is_the_middle_history():
    split = LeaveOneOut.from_data(cyclic_data(users=5))
    lengths = sorted((int(n), u) for u, n in enumerate(split.lengths))
    assert median_user(split, 50) == lengths[2][1]


def test_the_report_shows_them_with_padding_greyed(trained, tmp_path):
    heatmap_rows(trained)
    figure, caption = heatmaps_figure(read_heatmaps(trained))
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["dot", "linrec"]
    assert "grey: padding" in caption
    html = build_report([trained], tmp_path / "out")["html"].read_text()
    assert "Attention heatmaps: sasrec on inter" in html


def test_many_attentions_wrap_into_rows_of_five():
    matrix = [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    rows = [{"attention": name, "seed": 0, "matrix": matrix, "length": 2, "layer": 0, "head": 0, "user": 1,
             "model": "sasrec", "dataset": "fixture", "max_len": 3}
            for name in ("dot", "sdpa", "linrec", "linrec_official", "linrec_causal", "linear_elu", "efficient")]
    figure, _ = heatmaps_figure(rows)
    images = [ax for ax in figure.axes if ax.get_images()]
    assert len(images) == 7
    assert {round(ax.get_position().y0, 2) for ax in images}.__len__() == 2  # two rows of panels


def test_a_causal_triangle_is_drawn_white_and_captioned_apart_from_padding():
    causal = [[1.0, 0.0, 0.0, 0.0], [0.4, 0.6, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]]
    full = [[0.5, 0.5, 0.0, 0.0], [0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    base = {"seed": 0, "layer": 0, "head": 0, "user": 1, "model": "sasrec", "dataset": "fixture", "max_len": 4,
            "softmax": True}
    rows = [{**base, "attention": "dot", "matrix": causal, "length": 3},
            {**base, "attention": "linrec", "matrix": full, "length": 2, "softmax": False}]
    figure, caption = heatmaps_figure(rows)
    assert "Causal (dot)" in caption and "not padding" in caption and "grey: padding" in caption
    dot_axis = next(ax for ax in figure.axes if ax.get_title() == "dot")
    background, weights = dot_axis.get_images()
    assert weights.get_array().mask[0, 1] and not background.get_array()[0, 1]  # hidden, on white: not padding
    assert background.get_array()[3, 3] and weights.get_array().mask[3, 3]  # padding: on grey


def test_the_colour_scale_ignores_the_trivial_first_weight_of_a_causal_variant():
    from reports.figures_heatmaps import robust_top

    causal = np.tril(np.full((6, 6), 0.1))
    causal[0, 0] = 1.0  # the first query sees only itself
    assert robust_top(causal) == pytest.approx(0.1)
    base = {"seed": 0, "layer": 0, "head": 0, "user": 1, "model": "sasrec", "dataset": "fixture", "max_len": 6,
            "softmax": True, "attention": "dot", "matrix": causal.tolist(), "length": 6}
    figure, caption = heatmaps_figure([base])
    image = next(ax for ax in figure.axes if ax.get_title() == "dot").get_images()[-1]
    assert image.get_clim()[1] == pytest.approx(0.1) and "99th percentile" in caption


def test_mixers_without_a_matrix_are_skipped_by_name(trained, inter_file, capsys):  # noqa: F811
    assert main(train_args(inter_file, trained, "--mixer", "gru", "--no-progress")) == 0
    capsys.readouterr()
    assert main(["heatmaps", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "gru: no T x T matrix (recurrent), its cells skipped" in out and "2 heatmaps" in out
    assert main(["heatmaps", str(trained), "--mixer", "linrec"]) == 0
    assert {r["attention"] for r in read_rows(trained / "heatmaps.jsonl")} == {"linrec"}
    assert main(["heatmaps", str(trained), "--mixer", "gru"]) == 2
    assert "no finished cell of gru has a T x T matrix" in capsys.readouterr().err
    assert main(["heatmaps", str(trained), "--mixer", "nope"]) == 2
    assert "unknown mixer 'nope'" in capsys.readouterr().err
