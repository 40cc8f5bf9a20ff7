"""Readers of the real formats on tiny files written here: good files parse, every bad one is a one-line error."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from bench.data import DataFormatError
from bench.data.formats import read_atomic_inter, read_gowalla, read_ml100k_udata, read_ml1m

INTER = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "u2\ti9\t3\t881250949\n"
         "u1\ti7\t4\t881250950\n")
ML1M = "1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n"
UDATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
GOWALLA = ("0\t2010-10-19T23:55:27Z\t30.2359091167\t-97.7951395833\t22847\n"
           "0\t2010-10-18T22:17:43Z\t30.2691029532\t-97.7493953705\t420315\n")


def write(tmp_path, name: str, content) -> object:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, newline="")
    return path


def test_atomic_inter_keeps_token_ids_and_parses_timestamps(tmp_path):
    frame = read_atomic_inter(write(tmp_path, "toy.inter", INTER))
    assert list(frame.columns) == ["user", "item", "timestamp"]
    assert frame["user"].tolist() == ["u2", "u1"] and frame["item"].tolist() == ["i9", "i7"]
    assert frame["timestamp"].tolist() == [881250949.0, 881250950.0]


def test_atomic_inter_without_timestamp_and_with_sequence_columns(tmp_path):
    text = "item_id:token\tuser_id:token\ttags:token_seq\n10\t1\ta b c\n11\t1\t\n"
    frame = read_atomic_inter(write(tmp_path, "no-time.inter", text))
    assert list(frame.columns) == ["user", "item"] and frame["item"].tolist() == ["10", "11"]


def test_a_utf8_byte_order_mark_is_not_part_of_the_header(tmp_path):
    frame = read_atomic_inter(write(tmp_path, "bom.inter", b"\xef\xbb\xbf" + INTER.encode()))
    assert frame["user"].tolist() == ["u2", "u1"]


def test_blank_lines_and_crlf_are_accepted(tmp_path):
    text = INTER.replace("\n", "\r\n").replace("u1", "\r\nu1") + "\r\n\r\n"
    frame = read_atomic_inter(write(tmp_path, "crlf.inter", text))
    assert frame["user"].tolist() == ["u2", "u1"] and frame["timestamp"].tolist()[-1] == 881250950.0


def test_ml1m_reads_double_colon_lines(tmp_path):
    frame = read_ml1m(write(tmp_path, "ratings.dat", ML1M))
    assert frame["user"].tolist() == [1, 1, 2] and frame["item"].dtype == np.int64
    assert frame["timestamp"].tolist() == [978300760.0, 978302109.0, 978298709.0]


def test_udata_reads_tab_lines(tmp_path):
    frame = read_ml100k_udata(write(tmp_path, "u.data", UDATA))
    assert frame.to_dict("list") == {"user": [196, 186], "item": [242, 302], "timestamp": [881250949.0, 891717742.0]}


def test_ids_too_large_for_a_float_stay_exact(tmp_path):
    frame = read_ml100k_udata(write(tmp_path, "u.data", "9007199254740993\t2\t3\t4\n"))
    assert frame["user"].tolist() == [2**53 + 1]


@pytest.mark.parametrize("compressed", [False, True], ids=["txt", "gz"])
def test_gowalla_converts_iso_times_to_unix_seconds(tmp_path, compressed):
    name = "checkins.txt.gz" if compressed else "checkins.txt"
    frame = read_gowalla(write(tmp_path, name, gzip.compress(GOWALLA.encode()) if compressed else GOWALLA))
    assert frame["item"].tolist() == [22847, 420315]
    assert frame["timestamp"].tolist() == [1287532527.0, 1287440263.0]


ML1M_17 = "1::1193::5::978300760\n" * 16 + "1::1193::5\n"
BAD_FILES = [
    # id, reader, file name, content, line (None: no line), what the message says
    ("inter-empty", read_atomic_inter, "e.inter", "", None, "found an empty file"),
    ("inter-whitespace", read_atomic_inter, "w.inter", " \n\n", None, "found an empty file"),
    ("inter-header-only", read_atomic_inter, "h.inter", "user_id:token\titem_id:token\n", None, "found none"),
    ("inter-missing-item", read_atomic_inter, "m.inter", "user_id:token\trating:float\n1\t2\n", 1,
     "missing item_id:token; found user_id:token, rating:float"),
    ("inter-untyped-header", read_atomic_inter, "u.inter", "user_id\titem_id\n1\t2\n", 1, "found 'user_id'"),
    ("inter-wrong-type", read_atomic_inter, "t.inter", "user_id:float\titem_id:token\n1\t2\n", 1,
     "expected user_id:token in the header, found user_id:float"),
    ("inter-duplicate-column", read_atomic_inter, "d.inter", "user_id:token\tuser_id:token\titem_id:token\n", 1,
     "found 'user_id' twice"),
    ("inter-comma-separated", read_atomic_inter, "c.inter", "user_id:token,item_id:token\n1,2\n", 1,
     "found 'user_id:token,item_id:token'"),
    ("inter-bad-timestamp", read_atomic_inter, "b.inter", INTER + "u3\ti1\t5\tyesterday\n", 4,
     "expected a finite number for timestamp, found 'yesterday'"),
    ("inter-infinite-timestamp", read_atomic_inter, "i.inter", INTER.replace("881250950", "inf"), 3,
     "expected a finite number for timestamp, found 'inf'"),
    ("inter-missing-field", read_atomic_inter, "f.inter", INTER + "u3\ti1\t5\n", 4,
     "expected 4 fields separated by tabs (one per header column), found 3"),
    ("inter-extra-field", read_atomic_inter, "x.inter", INTER + "u3\ti1\t5\t1\t9\n", 4, "found 5"),
    ("inter-empty-token", read_atomic_inter, "k.inter", INTER + "\ti1\t5\t1\n", 4, "non-empty user_id token"),
    ("inter-not-utf8", read_atomic_inter, "n.inter", INTER.encode() + b"u\xff\ti1\t5\t1\n", 4,
     "expected UTF-8 text, found the byte 0xff"),
    ("ml1m-17-three-fields", read_ml1m, "ratings.dat", ML1M_17, 17, "expected 4 fields separated by '::', found 3"),
    ("ml1m-tab-separated", read_ml1m, "ratings.dat", UDATA, 1, "expected 4 fields separated by '::', found 1"),
    ("ml1m-comma-separated", read_ml1m, "ratings.dat", "1,1193,5,978300760\n", 1, "found 1"),
    ("ml1m-single-colon", read_ml1m, "ratings.dat", ML1M + "1::2:x:3::4\n", 4,
     "expected nothing between the two ':' of '::', found 'x'"),
    ("ml1m-stray-colon", read_ml1m, "ratings.dat", ML1M + "1:::2::3::4\n", 4, "found a stray ':'"),
    ("ml1m-text-user", read_ml1m, "ratings.dat", "a::1193::5::978300760\n", 1,
     "expected an integer for UserID, found 'a'"),
    ("ml1m-fractional-time", read_ml1m, "ratings.dat", ML1M + "3::1::5::97.5\n", 4,
     "expected an integer for Timestamp, found '97.5'"),
    ("ml1m-empty", read_ml1m, "ratings.dat", "", None, "found an empty file"),
    ("udata-colon-separated", read_ml100k_udata, "u.data", ML1M, 1, "expected 4 fields separated by tabs, found 1"),
    ("udata-text-time", read_ml100k_udata, "u.data", UDATA + "1\t2\t3\tnoon\n", 3,
     "expected an integer for timestamp, found 'noon'"),
    ("gowalla-bad-time", read_gowalla, "g.txt", GOWALLA + "1\t2010/10/19 23:55\t1.0\t2.0\t5\n", 3,
     "expected check-in time like 2010-10-19T23:55:27Z, found '2010/10/19 23:55'"),
    ("udata-empty-field", read_ml100k_udata, "u.data", UDATA + "1\t\t3\t4\n", 3,
     "expected an integer for item id, found ''"),
    ("udata-stray-carriage-return", read_ml100k_udata, "u.data", "1\t2\t3\t4\r\r\n5\t6\t7\t8\n", None,
     "stray '\\r' line endings"),
    ("gowalla-impossible-date", read_gowalla, "g.txt", GOWALLA + "1\t2010-02-30T10:00:00Z\t1.0\t2.0\t5\n", 3,
     "found '2010-02-30T10:00:00Z'"),
    ("gowalla-short-time", read_gowalla, "g.txt", "1\t2010-10-19T23:55Z\t1.0\t2.0\t5\n", 1,
     "found '2010-10-19T23:55Z'"),
    ("gowalla-four-fields", read_gowalla, "g.txt", "0\t2010-10-19T23:55:27Z\t30.2\t-97.7\n", 1,
     "expected 5 fields separated by tabs, found 4"),
    ("gowalla-text-location", read_gowalla, "g.txt", GOWALLA.replace("22847", "home"), 1,
     "expected an integer for location id, found 'home'"),
    ("gowalla-not-gzip", read_gowalla, "g.txt.gz", GOWALLA, None, "cannot read it"),
    ("inter-nul-in-a-field", read_atomic_inter, "nul.inter", INTER.replace("u1", "u\x001").encode(), 3,
     "expected text, found a NUL byte"),
    ("ml1m-nul", read_ml1m, "nul.dat", ML1M.replace("661", "6\x0061").encode(), 2, "found a NUL byte"),
]


@pytest.mark.parametrize("reader,name,content,line,expected",
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES])
def test_bad_file_is_one_line_naming_file_line_and_problem(tmp_path, reader, name, content, line, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(DataFormatError) as caught:
        reader(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert expected in message


@pytest.mark.parametrize("reader", [read_atomic_inter, read_ml1m, read_ml100k_udata, read_gowalla],
                         ids=["inter", "ml1m", "udata", "gowalla"])
def test_missing_file_and_folder_are_named(tmp_path, reader):
    with pytest.raises(DataFormatError, match=r"nothing-here\.txt: no such file \(expected "):
        reader(tmp_path / "nothing-here.txt")
    with pytest.raises(DataFormatError, match="not a file"):
        reader(tmp_path)
