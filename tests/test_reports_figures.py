"""Figures from fixture rows: the scaling figure's lines, fitted slopes, crossover marks and caption; the styles."""
from __future__ import annotations

import pandas as pd
import pytest

from reports.figures_curves import curves_figure
from reports.figures_scaling import scaling_figure
from reports.style import FIXED, attention_colour, attention_hatch, attention_style

BASE = {"bench": "profile", "run_id": "fixture", "level": "attention", "model": None, "mode": "fwdbwd",
        "causal": False, "dtype": "float32", "device": "cpu", "device_name": "Test CPU", "batch_policy": "tokens",
        "tokens": 4096, "H": 2, "D": 4, "options": None}


def profile_rows():
    rows = []
    for T in (64, 128, 256, 512):
        B = 4096 // T
        for variant, time_per_seq, mib_per_seq in (("dot", 1e-4 * T * T, 1e-4 * T * T), ("sdpa", 3e-4 * T ** 1.5,
                                                   1e-3 * T), ("linrec", 0.02 * T, 2e-3 * T)):
            for metric, stat, value in (("time", "median", time_per_seq * B), ("peak_memory", "peak", mib_per_seq * B)):
                rows.append({**BASE, "variant": variant, "T": T, "B": B, "metric": metric, "stat": stat,
                             "value": value, "status": "ok"})
    rows.append({**BASE, "variant": "dot", "T": 1024, "B": 4, "metric": "time", "status": "oom", "message": "cap"})
    return pd.DataFrame(rows)


def test_scaling_figure_draws_each_variant_with_its_slope_and_marks_the_crossover(tmp_path):
    figure, caption = scaling_figure(profile_rows(), "fixture")
    time_axis, memory_axis = figure.axes
    labels = [line.get_label() for line in time_axis.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["dot (T^2.00, r² 1.00)", "linrec (T^1.00, r² 1.00)", "sdpa (T^1.50, r² 1.00)"]
    assert [line.get_label() for line in memory_axis.get_lines()][:3] == [
        "dot (T^2.00, r² 1.00)", "linrec (T^1.00, r² 1.00)", "sdpa (T^1.00, r² 1.00)"]
    assert time_axis.get_xscale() == "log" and "(ms)" in time_axis.get_ylabel() and "(MiB)" in memory_axis.get_ylabel()
    # linrec per sequence 0.02 T against sdpa 3e-4 T^1.5: equal at T = 4444 -> never within 64..512
    assert "star marks" not in caption and "dot T=1024 (oom)" in caption and "Test CPU" in caption
    path = tmp_path / "scaling.png"
    figure.savefig(path)
    assert path.stat().st_size > 10_000


def test_a_crossing_variant_gets_its_star():
    rows = profile_rows()
    linrec = rows["variant"] == "linrec"
    rows.loc[linrec & (rows["metric"] == "time"), "value"] /= 100  # now faster than sdpa from the first length on
    rows.loc[linrec & (rows["metric"] == "time") & (rows["T"] == 64), "value"] *= 1000  # but slower at 64
    _, caption = scaling_figure(rows)
    assert "linrec T=128" in caption


@pytest.mark.parametrize("name", ["dot", "linrec", "linrec-relu-seq", "cosformer"])
def test_every_attention_has_one_stable_colour(name):
    assert attention_colour(name) == attention_colour(name) == attention_style(name)["color"]
    assert attention_colour(name).startswith("#")


def test_the_fixed_colours_are_distinct():
    assert len(set(FIXED.values())) == len(FIXED)


def test_speedup_heatmap_colours_by_speedup_over_sdpa():
    from reports.figures_compare import speedup_heatmap

    figure, caption = speedup_heatmap(profile_rows())
    texts = {t.get_text() for t in figure.axes[0].texts}
    # linrec 0.02 T against sdpa 3e-4 T^1.5 per sequence: at T=64 sdpa/linrec = 3e-4 * 8 / 0.02 = 0.12
    assert "0.12" in texts and "above 1 (blue) the variant is faster" in caption


def model_level_rows(linrec_causal: tuple = (False,)) -> pd.DataFrame:
    """SASRec steps as trained: dot and sdpa causal, linrec (no causal mask) not; linrec_causal=(False, True): both."""
    rows = profile_rows()
    rows = rows[rows["status"].eq("ok")].assign(level="model", model="sasrec", causal=True)
    linrec = rows[rows["variant"].eq("linrec")]
    return pd.concat([rows[rows["variant"].ne("linrec")], *[linrec.assign(causal=flag) for flag in linrec_causal]],
                     ignore_index=True)


def test_the_model_level_speedup_heatmap_pairs_each_attention_as_the_backbone_trains_it():
    from reports.figures_compare import speedup_heatmap

    figure, _ = speedup_heatmap(model_level_rows())
    rows = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert rows == ["dot", "linrec"]
    assert all(label.get_rotation() == 0 for label in figure.axes[0].get_yticklabels())  # names read level
    columns = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert columns == ["64", "128", "256", "512"]


def test_a_model_level_sweep_measured_both_ways_pairs_causal_with_causal_only():
    from bench.profile.analysis import speedup_table

    both = speedup_table(model_level_rows((False, True)))
    assert set(both["variant"]) == {"dot", "linrec"} and set(both["causal"]) == {True}
    assert len(both[both["variant"].eq("linrec")]) == 4  # the causal linrec cells only, one per length


def test_ablation_bars_follow_the_summary():
    from reports.accuracy import accuracy_summary
    from reports.figures_compare import ablation_figure
    from tests.test_reports_accuracy import train_rows

    values = {"dot": [0.05, 0.055], "linrec": [0.06, 0.065], "linrec-relu-token": [0.04, 0.045], "sdpa": [0.05]}
    figure, caption = ablation_figure(accuracy_summary(train_rows(values)))
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dot", "linrec", "linrec-relu-token"]
    assert [round(b.get_width(), 4) for b in ax.patches] == [0.0525, 0.0625, 0.0425]
    assert all(t.get_rotation() == 0 for t in ax.get_yticklabels() + ax.get_xticklabels())  # names read level
    assert [b.get_hatch() or "" for b in ax.patches] == ["", "", "///"]  # linrec-relu-token: green, dashed
    assert "seeds per bar: 2" in caption
    single = {name: per_seed[:1] for name, per_seed in values.items()}
    _, caption = ablation_figure(accuracy_summary(train_rows(single)))
    assert "one seed per bar, so no error bars" in caption and "std" not in caption


def test_sensitivity_moves_one_setting_at_a_time():
    from reports.figures_sensitivity import sensitivity_figure

    rows = []
    for attention, base in (("dot", 0.05), ("linrec", 0.06)):
        for max_len, hidden in ((25, 64), (50, 64), (100, 64), (50, 128)):
            for seed in (0, 1):
                cell = f"{attention}-{max_len}-{hidden}-{seed}"
                common = {"bench": "train", "cell": cell, "model": "sasrec", "attention": attention,
                          "max_len": max_len, "hidden": hidden, "heads": 2, "layers": 2, "seed": seed,
                          "shuffle_train_order": False}
                rows += [{**common, "metric": "status", "status": "finished"},
                         {**common, "split": "test", "metric": "ndcg@10", "value": base + max_len / 1e4 + seed / 1e3},
                         {**common, "split": "train", "metric": "epoch_time", "value": max_len / 10}]
    figure, caption = sensitivity_figure(pd.DataFrame(rows), "max_len")
    accuracy = figure.axes[0]
    xs = sorted({float(x) for line in accuracy.get_lines() for x in line.get_xdata()})
    assert xs == [25.0, 50.0, 100.0]  # the hidden=128 cell is left out: another setting moved
    assert len(figure.axes) == 2 and "Sensitivity to max length N" in caption
    assert "error bars the std over seeds" in caption and "no memory panel" in caption  # two seeds, no profile
    with pytest.raises(ValueError, match="unknown sensitivity setting 'dropout'"):
        sensitivity_figure(pd.DataFrame(rows), "dropout")


@pytest.mark.parametrize("lengths, panels", [((25, 50, 100), 3), ((50,), 2)], ids=["memory-line", "one-point"])
def test_sensitivity_memory_panel_needs_two_profiled_settings(lengths, panels):
    from reports.figures_sensitivity import sensitivity_figure

    rows = []
    for attention in ("dot", "linrec"):
        for max_len in (25, 50):
            common = {"bench": "train", "cell": f"{attention}-{max_len}", "model": "sasrec", "attention": attention,
                      "max_len": max_len, "hidden": 64, "heads": 2, "layers": 2, "seed": 0,
                      "shuffle_train_order": False}
            rows += [{**common, "metric": "status", "status": "finished"},
                     {**common, "split": "test", "metric": "ndcg@10", "value": 0.05}]
        rows += [{"bench": "profile", "level": "model", "variant": attention, "T": T, "d": 64, "H": 2,
                  "layers": 2, "metric": "peak_memory", "stat": "peak", "value": T / 10, "status": "ok"}
                 for T in lengths]
    figure, caption = sensitivity_figure(pd.DataFrame(rows), "max_len")
    assert len(figure.axes) == panels
    assert ("peak memory of one model training step" in caption) == (panels == 3)
    assert "one seed per point, so no error bars" in caption


def test_roofline_only_for_gpu_rows():
    from reports.figures_roofline import roofline_figure

    cpu = profile_rows()
    assert roofline_figure(cpu) == (None, "")
    gpu = cpu.assign(device="cuda", device_name="NVIDIA H100 80GB HBM3", dtype="bfloat16")
    figure, caption = roofline_figure(gpu)
    assert figure is not None and figure.axes[0].get_title() == "NVIDIA H100 80GB HBM3, bfloat16"
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[0] == "roofline" and {"dot", "sdpa", "linrec"} <= set(labels)
    assert "datasheet" in caption


def test_curve_legends_name_each_attentions_training_path():
    rows = pd.DataFrame([{"model": "sasrec", "max_len": 50, "protocol": "full", "cell": f"{a}-{seed}", "attention": a,
                          "path": path, "epoch": epoch, "value": 0.01 * epoch}
                         for a, path in (("dot", "per-sequence"), ("linrec", "per-prefix"))
                         for seed in (0, 1) for epoch in (1, 2)])
    figure, _ = curves_figure(rows)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["dot [per-sequence]", "linrec [per-prefix]"]  # one entry each, seeds share it


def test_slopes_show_their_r2_and_a_falling_or_poor_fit_is_marked_unreliable():
    rows = profile_rows()
    falling = (rows["variant"] == "linrec") & (rows["metric"] == "time") & (rows["status"] == "ok")
    rows.loc[falling, "value"] = [112.0, 3.0, 60.0, 1.4]  # a loaded machine's timings: no scaling law
    rows.loc[falling & (rows["T"] == 64), "loaded"] = "other processes used 60% of the CPUs"
    figure, caption = scaling_figure(rows, "fixture")
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert any(label.startswith("dot (T^2.00, r² 1.00)") for label in labels)
    assert any(label.startswith("linrec (unreliable fit: negative slope, r²") for label in labels)
    assert "marked unreliable" in caption and "Timed under load even after retries" in caption
    assert "linrec T=64" in caption


def test_the_sensitivity_caption_counts_epochs_timed_under_load():
    from reports.figures_sensitivity import sensitivity_figure

    rows = []
    for max_len, share in ((25, 0.02), (50, 0.6)):
        common = {"bench": "train", "cell": f"dot-{max_len}", "model": "sasrec", "attention": "dot",
                  "max_len": max_len, "hidden": 64, "heads": 2, "layers": 2, "seed": 0}
        rows += [{**common, "metric": "status", "status": "finished"},
                 {**common, "split": "test", "metric": "ndcg@10", "value": 0.05},
                 {**common, "split": "train", "epoch": 1, "metric": "epoch_time", "value": 1.0},
                 {**common, "split": "train", "epoch": 1, "metric": "others_cpu", "value": share}]
    _, caption = sensitivity_figure(pd.DataFrame(rows), "max_len")
    assert "1 of 2 epochs were timed while other processes used more than 25% of the CPUs" in caption


def test_settings_read_back_as_floats_print_as_they_were_set():
    from reports.style import whole

    assert [whole(v) for v in (8.0, 16, 0.5, "dot", None)] == ["8", "16", "0.5", "dot", "None"]
    rows = profile_rows().astype({"H": float, "D": float, "T": float})
    _, caption = scaling_figure(rows, "fixture")
    assert "H=2, D=4" in caption and "H=2.0" not in caption and "T=1024 (oom)" in caption


def test_a_variant_faster_at_every_length_gets_its_star_too():
    rows = profile_rows()
    linrec = (rows["variant"] == "linrec") & (rows["metric"] == "time")
    rows.loc[linrec, "value"] /= 1000  # faster than sdpa at every length
    figure, caption = scaling_figure(rows)
    assert "linrec T=64 (every length measured)" in caption
    stars = [line for line in figure.axes[0].get_lines() if line.get_marker() == "*" and line.get_linestyle() == "None"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [64]


def test_curves_name_the_control_and_the_setting_a_sensitivity_cell_moves():
    base = {"model": "sasrec", "max_len": 50, "protocol": "full", "path": "per-prefix", "epoch": 1, "value": 0.1}
    rows = pd.DataFrame([{**base, "cell": "a", "attention": "dot", "hidden": 16, "shuffle_train_order": False},
                         {**base, "cell": "b", "attention": "dot", "hidden": 32, "shuffle_train_order": False},
                         {**base, "cell": "c", "attention": "dot", "hidden": 32, "shuffle_train_order": True},
                         {**base, "cell": "d", "attention": "linrec", "hidden": 32, "shuffle_train_order": None}])
    figure, caption = curves_figure(rows)
    assert "each other configuration has a marker and is named by the settings it moves" in caption
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["dot [per-prefix] hidden=16", "dot [per-prefix]", "dot (shuffled order: control) [per-prefix]",
                      "linrec [per-prefix]"]  # hidden=32 is the base: only the moved setting is named
    lines = figure.axes[0].get_lines()
    assert [line.get_linestyle() for line in lines].count(":") == 1  # the control, dotted
    assert [line.get_marker() for line in lines] == ["o", "None", "None", "None"]  # the moved configuration's mark


def test_curve_labels_name_only_what_moves_within_their_own_panel():
    base = {"protocol": "full", "path": "per-window", "epoch": 1, "value": 0.1, "max_len": 20}
    rows = pd.DataFrame([{**base, "cell": f"{model}-{attention}", "model": model, "attention": attention,
                          "batch_size": batch, "lr": lr}
                         for model, batch, lr in (("bert4rec", 64, 0.005), ("sasrec", 512, 0.002))
                         for attention in ("dot", "linrec")])
    figure, caption = curves_figure(rows)
    assert "has a marker" not in caption
    for ax in figure.axes:  # the backbones' own settings differ, but nothing moves within a panel
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["dot [per-window]", "linrec [per-window]"]


def test_every_registered_attention_has_a_look_of_its_own():
    from models.attention import attention_names
    from reports.style import STYLES

    looks = {name: (attention_style(name)["color"], attention_style(name)["linestyle"]) for name in attention_names()}
    assert set(looks) <= set(STYLES), "a registered variant without its own line in reports/style.py STYLES"
    assert len(set(looks.values())) == len(looks)  # no two alike, however many share a figure
    assert all(attention_style(name)["marker"] != "*" for name in attention_names())  # a star marks crossovers
    bars = {(attention_colour(name), attention_hatch(name)) for name in attention_names()}
    assert len(bars) == len(looks)  # bars too: the hatch stands in for the dash
