"""Results I/O: whole-file replacement that never leaves half a file, rows rewritten in one go."""
from __future__ import annotations

import pytest

from bench.results import append_rows, atomic_write, read_rows, write_json, write_rows


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_write(path) as handle:
            handle.write('{"a": ')
            raise RuntimeError("killed mid-write")
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_refused_check_keeps_the_old_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")

    def refuse(tmp):
        assert tmp.read_bytes() == b"new" and tmp != path  # the check sees the whole new file, not yet in place
        raise ValueError("wrong digest")

    with pytest.raises(ValueError, match="wrong digest"):
        with atomic_write(path, "wb", check=refuse) as handle:
            handle.write(b"new")
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_write_rows_replaces_what_append_rows_added(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_rows(path, [{"value": 1}, {"value": 2}])
    write_rows(path, [{"value": 3}])
    assert read_rows(path) == [{"schema": 1, "value": 3}]
    write_rows(path, [])
    assert path.read_text() == ""


def test_an_append_after_a_torn_last_line_drops_it_and_loses_nothing_new(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_rows(path, [{"value": 1}])
    with open(path, "a") as handle:
        handle.write('{"value": 2, "unit"')  # killed mid-write
    with pytest.warns(UserWarning, match="dropped a torn last line"):
        append_rows(path, [{"value": 3}, {"value": 4}])
    assert [r["value"] for r in read_rows(path)] == [1, 3, 4]


def test_an_append_after_a_whole_row_without_its_newline_keeps_both(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"value": 1}\n{"value": 2}')
    append_rows(path, [{"value": 3}])
    assert [r["value"] for r in read_rows(path)] == [1, 2, 3]


@pytest.mark.parametrize("text, message", [
    pytest.param("[1, 2]", "expected a JSON object, found list", id="a-list"),
    pytest.param("42", "expected a JSON object, found int", id="a-number"),
    pytest.param("{nope", "not valid JSON", id="garbage"),
])
def test_a_json_file_of_the_wrong_shape_is_one_line_naming_it(tmp_path, text, message):
    from bench.results import read_json

    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_json(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_rows_that_are_not_objects_are_skipped_and_bytes_that_are_not_utf8_named(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"value": 1}\n42\n["x"]\n')
    with pytest.warns(UserWarning) as caught:
        assert read_rows(path) == [{"value": 1}]
    assert [str(w.message).split("rows.jsonl")[1][:2] for w in caught] == [":2", ":3"]
    path.write_bytes(b'{"value": 1}\n\xff\xfe\n')
    with pytest.raises(ValueError, match="rows.jsonl: not UTF-8 text"):
        read_rows(path)


def test_appends_from_several_processes_never_interleave(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "rows.jsonl"
    script = ("import sys; from bench.results import append_rows; "
              "[append_rows(sys.argv[1], [{'worker': sys.argv[2], 'i': i, 'pad': 'x' * 20000} for i in range(5)]) "
              "for _ in range(20)]")
    workers = [subprocess.Popen([sys.executable, "-c", script, str(path), str(w)]) for w in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0] * 4
    rows = read_rows(path)
    assert len(rows) == 4 * 20 * 5 and all(len(r["pad"]) == 20000 for r in rows)


def test_a_renamed_run_reads_under_its_folder_name(tmp_path):
    from bench.results import load_runs

    (tmp_path / "reference-perf").mkdir()
    write_rows(tmp_path / "reference-perf" / "rows.jsonl", [{"bench": "perf", "run_id": "perf-s12b", "value": 1.0}])
    assert list(load_runs(tmp_path / "reference-perf")["run_id"]) == ["reference-perf"]


def test_a_run_whose_config_lists_its_cells_has_no_training_records(tmp_path):
    from bench.results import recorded_cells

    write_json(tmp_path / "config.json", {"command": "perf", "cells": ["linrec fwdbwd T=200", "dot fwdbwd T=200"]})
    assert recorded_cells(tmp_path) == {}
