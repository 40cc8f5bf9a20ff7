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
