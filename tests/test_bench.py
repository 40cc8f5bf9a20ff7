"""The baseline micro-benchmark's plumbing: memory measurement, cells, rows, tables and the command line."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bench.__main__ import main
from bench.perf.microbench import Cell, cell_rows, make_cells, ratio_table
from bench.profile.memory import fresh_process_env
from bench.results import append_rows, read_rows
from models.attention import attention_names


def test_peak_memory_sees_a_transient_allocation_of_known_size():
    """64 MiB allocated and freed inside the call must show as ~64 MiB; the same call without it as ~0."""
    code = textwrap.dedent("""
        import json, torch
        from bench.profile.memory import peak_rss_mib
        def alloc(): torch.ones(16 * 2**20, dtype=torch.float32).sum()  # 64 MiB
        alloc()
        print(json.dumps([peak_rss_mib(alloc), peak_rss_mib(lambda: None)]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=fresh_process_env(),
                          timeout=120, check=True)
    (with_alloc, method), (without, _) = json.loads(done.stdout.strip().splitlines()[-1])
    assert method == "vmhwm"
    assert 60 <= with_alloc <= 72, with_alloc
    assert without < 4, without


def test_cells_follow_the_token_budget_and_refuse_an_impossible_batch():
    cells = make_cells(["linrec", "dot"], [200, 1024, 4096], 12800, 8, 16)
    assert {(c.T, c.B) for c in cells} == {(200, 64), (1024, 12), (4096, 3)}
    assert {(c.variant, c.causal) for c in cells} == {("linrec", False), ("dot", False), ("dot", True)}
    with pytest.raises(ValueError, match="cannot hold one sequence of length 4096"):
        make_cells(["dot"], [4096], 1000, 8, 16)


def test_ratio_table_shows_ratios_and_failed_cells():
    cells = [Cell("linrec_official", False, 8, 2), Cell("dot", False, 8, 2), Cell("xformers", False, 8, 2)]
    timings = [{"median": 2.0, "p20": 1.0, "p80": 3.0, "n": 5}, {"median": 5.0, "p20": 4.0, "p80": 6.0, "n": 5},
               {"status": "unavailable", "message": "CUDA only"}]
    rows = [r for c, t in zip(cells, timings) for r in cell_rows(c, t, None, "run")]
    table = ratio_table(rows, "time", "median")
    assert table.loc[(8, 2), "dot"] == "5.0 (2.50x)"
    assert table.loc[(8, 2), "linrec_official"] == "2.0 (1.00x)"
    assert table.loc[(8, 2), "xformers"] == "unavailable"


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_rows(path, [{"value": 1}, {"value": 2}])
    with open(path, "a") as handle:
        handle.write('{"value": 3, "unit"')  # killed mid-write
    with pytest.warns(UserWarning, match="rows.jsonl:3"):
        rows = read_rows(path)
    assert [r["value"] for r in rows] == [1, 2] and all(r["schema"] == 1 for r in rows)


def test_microbench_writes_a_run_folder(tmp_path, capsys):
    code = main(["microbench", "--variants", "linrec", "dot", "--lengths", "16", "--tokens", "32", "--repeats", "2",
                 "--warmup", "1", "--no-memory", "--results", str(tmp_path)])
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    rows = read_rows(run_dir / "rows.jsonl")
    assert {r["variant"] for r in rows} == {"linrec_official", "linrec", "dot"}
    assert all(r["status"] == "ok" and r["unit"] == "ms" for r in rows)
    assert {"torch", "cpu", "torch_threads", "git_commit"} <= set(json.loads((run_dir / "env.json").read_text()))
    assert json.loads((run_dir / "config.json").read_text())["lengths"] == [16]
    assert "ratio to linrec_official" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["microbench", "--variants", "nope"], "unknown attention 'nope'"),
    (["microbench", "--lengths", "64", "--tokens", "10"], "cannot hold one sequence"),
], ids=["unknown-variant", "tiny-budget"])
def test_bad_microbench_input_is_one_line_before_measuring(argv, message, tmp_path, capsys):
    assert main(argv + ["--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir()), "nothing may be written for bad input"


@pytest.mark.parametrize("bad", ["0", "-4", "12.5", "abc"])
def test_non_positive_or_non_integer_lengths_are_refused(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["microbench", "--lengths", bad])
    assert info.value.code == 2 and "expected a positive integer" in capsys.readouterr().err


def test_list_command_prints_every_variant(capsys):
    from models.attention import attention_names
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in attention_names()) and "no: xformers" in out


def test_the_brief_listing_is_one_line_naming_what_cannot_run_here(capsys):
    assert main(["list", "--brief"]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and out.startswith(f"{len(attention_names())} attention variants")
    assert "unavailable on cpu" in out and "xformers (" in out
    assert len(out) < 400, out  # a line a reader reads, not a table


def test_variants_sharing_a_reason_share_it_once_cut_to_its_first_clause():
    import pandas as pd

    from bench.cli import brief_listing

    table = pd.DataFrame({"available_on_cpu": ["yes", "no: runs on CUDA only (device=cpu); try cuda",
                                               "no: runs on CUDA only (device=cpu); try cuda", "no: not installed"]},
                         index=["dot", "a_triton", "b_triton", "fla"])
    assert brief_listing(table, "cpu").endswith(
        "3 unavailable on cpu: a_triton, b_triton (runs on CUDA only); fla (not installed)")


def test_every_option_of_every_command_says_what_it_does():
    from bench.__main__ import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    silent = {name: [a.option_strings[0] if a.option_strings else a.dest for a in sub._actions
                     if not a.help and a.dest != "help"] for name, sub in commands.items()}
    assert {name: options for name, options in silent.items() if options} == {}
