"""The training summary table from fixture rows: mean ± std over seeds, diverged cells, bad folders."""
import pytest

from bench.__main__ import main
from bench.results import append_rows
from bench.train.summary import load_train_rows, summary_table

SETTING = dict(bench="train", dataset="toy", model="sasrec", max_len=50, objective="last", loss="ce", protocol="full",
               shuffle_train_order=False)


def cell_rows(attention, seed, ndcg, status="finished"):
    base = {**SETTING, "attention": attention, "seed": seed, "cell": f"{attention}-{seed}"}
    rows = [{**base, "split": "train", "epoch": e, "metric": "epoch_time", "value": t}
            for e, t in ((1, 10.0), (2, 12.0))]
    rows += [{**base, "split": "train", "epoch": e, "metric": "data_share", "value": 0.01} for e in (1, 2)]
    rows.append({**base, "split": "train", "epoch": 2, "metric": "best_epoch", "value": 2})
    if status == "finished":
        rows += [{**base, "split": "test", "epoch": 2, "metric": m, "value": v}
                 for m, v in (("hr@10", 2 * ndcg), ("ndcg@10", ndcg), ("mrr@10", ndcg / 2))]
    rows.append({**base, "metric": "status", "status": status, "message": ""})
    return rows


@pytest.fixture
def run_dir(tmp_path):
    rows = cell_rows("dot", 0, 0.10) + cell_rows("dot", 1, 0.12) + cell_rows("linrec", 0, 0.11)
    rows += cell_rows("linrec", 1, float("nan"), status="diverged")
    append_rows(tmp_path / "rows.jsonl", rows)
    return tmp_path


def test_mean_and_std_over_seeds(run_dir):
    table = summary_table(load_train_rows([run_dir])).set_index("attention")
    assert table.loc["dot", "ndcg@10"] == "0.1100 ± 0.0141"
    assert table.loc["dot", "n"] == 2 and table.loc["dot", "s/epoch"] == "11.0 ± 0.0"
    assert table.loc["linrec", "ndcg@10"] == "0.1100" and table.loc["linrec", "diverged"] == 1


def test_command_prints_markdown(run_dir, capsys):
    assert main(["train-summary", str(run_dir), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| attention" in out and "0.1100 ± 0.0141" in out


def test_a_folder_without_rows_is_a_one_line_error(tmp_path, capsys):
    assert main(["train-summary", str(tmp_path)]) == 2
    assert "no rows.jsonl" in capsys.readouterr().err


@pytest.mark.parametrize("setting, values", [("hidden", (16, 32)), ("lr", (1e-3, 2e-3)), ("path", ("per-prefix",
                         "per-sequence")), ("protocol", ("full", "uni100"))], ids=["hidden", "lr", "path", "protocol"])
def test_cells_that_differ_in_a_setting_are_rows_of_their_own_not_seeds(tmp_path, setting, values):
    rows = [{**r, setting: values[0]} for r in cell_rows("dot", 0, 0.10)]
    rows += [{**r, setting: values[1], "cell": "dot-other"} for r in cell_rows("dot", 1, 0.20)]
    append_rows(tmp_path / "rows.jsonl", rows)
    table = summary_table(load_train_rows([tmp_path])).set_index(setting)
    assert list(table["n"]) == [1, 1]
    assert table.loc[values[0], "ndcg@10"] == "0.1000" and table.loc[values[1], "ndcg@10"] == "0.2000"


def test_shared_settings_print_once_above_the_table(run_dir, capsys):
    assert main(["train-summary", str(run_dir)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "dataset=toy; model=sasrec; max_len=50 (all cells: 4 more settings in common)"


def test_rows_lacking_keys_are_skipped_with_a_warning_not_a_traceback(tmp_path):
    rows = cell_rows("dot", 0, 0.10) + [{k: v for k, v in r.items() if k != "model"} for r in cell_rows("dot", 1, 0.2)]
    append_rows(tmp_path / "rows.jsonl", rows)
    with pytest.warns(UserWarning, match="skipped 9 row"):
        table = summary_table(load_train_rows([tmp_path]))
    assert list(table["n"]) == [1] and list(table["ndcg@10"]) == ["0.1000"]
