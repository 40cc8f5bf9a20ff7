"""Fetching without the network: a fake recbole wheel, file:// archives, checksums, trust on first use, safe zips."""
from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from bench.data import DataFormatError, DownloadError, fetch
from bench.data.archives import download, safe_extract, sha256_of, verify_sha256, write_bytes_atomic
from bench.data.formats import read_atomic_inter, read_ml1m

UDATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
INTER = fetch.ML100K_INTER_HEADER + UDATA


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return path


@pytest.fixture
def no_pip(monkeypatch):
    def fail(requirement, dest):
        raise DownloadError(f"pip download {requirement} failed (no network in this test)")
    monkeypatch.setattr(fetch, "pip_download", fail)


@pytest.fixture
def fake_wheel(monkeypatch, tmp_path):
    """pip_download returns a wheel built here; returns the list of calls."""
    calls = []

    def fake(requirement, dest):
        calls.append(requirement)
        return make_zip(dest / "recbole-1.2.1-py3-none-any.whl", {fetch.ML100K_MEMBER: INTER})
    monkeypatch.setattr(fetch, "pip_download", fake)
    monkeypatch.setattr(fetch, "ML100K_INTER_SHA256", digest(INTER))
    return calls


def test_sha256_helpers(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert sha256_of(path) == digest(b"abc") == verify_sha256(path, digest(b"abc").upper())
    with pytest.raises(DataFormatError) as caught:
        verify_sha256(path, "0" * 64)
    assert str(caught.value) == f"{path}: SHA-256 mismatch: expected {'0' * 64}, found {digest(b'abc')}"
    with pytest.raises(DataFormatError, match="missing.bin: cannot read it"):
        sha256_of(tmp_path / "missing.bin")


def test_atomic_write_refuses_wrong_bytes_and_leaves_nothing(tmp_path):
    target = tmp_path / "out.inter"
    with pytest.raises(DataFormatError, match="SHA-256 mismatch"):
        write_bytes_atomic(target, b"wrong", digest(b"right"))
    assert list(tmp_path.iterdir()) == []
    assert write_bytes_atomic(target, b"right", digest(b"right")).read_bytes() == b"right"


@pytest.mark.parametrize("evil", ["../evil", "/abs/evil", "a/../../evil", "C:/evil", "..\\evil"],
                         ids=["dotdot", "absolute", "nested-dotdot", "drive", "backslash"])
def test_safe_extract_refuses_escaping_members_and_extracts_nothing(tmp_path, evil):
    archive = make_zip(tmp_path / "evil.zip", {"ok.txt": b"fine", evil: b"owned"})
    target = tmp_path / "out"
    with pytest.raises(DataFormatError) as caught:
        safe_extract(archive, target)
    assert str(caught.value).startswith(f"{archive}: refusing to extract member {evil!r}")
    assert not (target / "ok.txt").exists() and not (tmp_path / "evil").exists()


def test_safe_extract_good_members_missing_member_and_bad_zip(tmp_path):
    archive = make_zip(tmp_path / "good.zip", {"d/a.txt": b"A", "d/b.txt": b"B"})
    assert safe_extract(archive, tmp_path / "out", ["d/b.txt"]) == [(tmp_path / "out" / "d" / "b.txt").resolve()]
    assert not (tmp_path / "out" / "d" / "a.txt").exists()
    with pytest.raises(DataFormatError, match="expected a member 'd/c.txt', found none"):
        safe_extract(archive, tmp_path / "out", ["d/c.txt"])
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="bad.zip: expected a valid zip archive"):
        safe_extract(tmp_path / "bad.zip", tmp_path / "out")


def test_download_failure_names_the_url(tmp_path):
    url = (tmp_path / "absent.zip").as_uri()
    with pytest.raises(DownloadError, match=f"could not download {url}"):
        download(url, tmp_path / "x.zip")
    assert list(tmp_path.iterdir()) == []


def test_ml100k_from_the_wheel_then_from_the_cache(tmp_path, fake_wheel, monkeypatch):
    path = fetch.fetch_ml100k(tmp_path)
    assert path == tmp_path / "ml-100k.inter" and path.read_bytes() == INTER and fake_wheel == ["recbole==1.2.1"]
    assert read_atomic_inter(path)["user"].tolist() == ["196", "186"]
    assert fetch.fetch_ml100k(tmp_path) == path and len(fake_wheel) == 1      # verified cache: no second download
    path.write_bytes(b"user_id:token\titem_id:token\ncorrupted\t1\n")
    assert fetch.fetch_ml100k(tmp_path).read_bytes() == INTER and len(fake_wheel) == 2


def test_ml100k_falls_back_to_the_grouplens_zip(tmp_path, no_pip, monkeypatch):
    archive = make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": UDATA, "ml-100k/README": b"readme"})
    monkeypatch.setattr(fetch, "ML100K_ZIP_URL", archive.as_uri())
    monkeypatch.setattr(fetch, "ML100K_ZIP_SHA256", sha256_of(archive))
    monkeypatch.setattr(fetch, "ML100K_INTER_SHA256", digest(INTER))
    assert fetch.fetch_ml100k(tmp_path / "data").read_bytes() == INTER
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k.inter"]   # no leftovers


def test_ml100k_when_every_source_fails_says_what_was_tried(tmp_path, no_pip, monkeypatch):
    archive = make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": UDATA + b"1\t2\t3\n"})
    monkeypatch.setattr(fetch, "ML100K_ZIP_URL", archive.as_uri())
    monkeypatch.setattr(fetch, "ML100K_ZIP_SHA256", sha256_of(archive))
    with pytest.raises(DownloadError) as caught:
        fetch.fetch_ml100k(tmp_path / "data")
    message = str(caught.value)
    assert "\n" not in message and "pip download recbole==1.2.1 failed" in message
    assert "u.data:3: expected 4 fields separated by tabs, found 3" in message and "pass --path" in message
    assert not (tmp_path / "data" / "ml-100k.inter").exists()


def test_ml100k_wheel_with_unexpected_content_is_refused(tmp_path, fake_wheel, monkeypatch):
    monkeypatch.setattr(fetch, "ML100K_INTER_SHA256", "f" * 64)
    monkeypatch.setattr(fetch, "ML100K_ZIP_URL", (tmp_path / "absent.zip").as_uri())
    with pytest.raises(DownloadError, match="SHA-256 mismatch: expected f{64}, found " + digest(INTER)):
        fetch.fetch_ml100k(tmp_path)


def test_pip_download_command_and_failure(tmp_path, monkeypatch):
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for recbole==1.2.1")
    monkeypatch.setattr(fetch.subprocess, "run", fake_run)
    with pytest.raises(DownloadError, match=r"failed \(ERROR: No matching distribution found"):
        fetch.pip_download("recbole==1.2.1", tmp_path)
    assert seen["command"][1:4] == ["-m", "pip", "download"] and "--no-deps" in seen["command"]


def test_ml1m_is_verified_extracted_and_cached(tmp_path, monkeypatch):
    ratings = b"1::1193::5::978300760\n2::661::3::978302109\n"
    archive = make_zip(tmp_path / "ml-1m.zip", {"ml-1m/ratings.dat": ratings, "ml-1m/movies.dat": b"x"})
    monkeypatch.setattr(fetch, "ML1M_ZIP_URL", archive.as_uri())
    monkeypatch.setattr(fetch, "ML1M_ZIP_SHA256", sha256_of(archive))
    data_dir = tmp_path / "data"
    path = fetch.fetch_ml1m(data_dir)
    assert path == (data_dir / "ml-1m" / "ratings.dat").resolve() and read_ml1m(path)["user"].tolist() == [1, 2]
    monkeypatch.setattr(fetch, "ML1M_ZIP_URL", (tmp_path / "gone.zip").as_uri())
    assert fetch.fetch_ml1m(data_dir).read_bytes() == ratings                  # the verified zip is reused
    monkeypatch.setattr(fetch, "ML1M_ZIP_SHA256", "0" * 64)
    with pytest.raises(DownloadError, match=r"ml-1m: could not download .*gone\.zip.*pass --path to ratings\.dat"):
        fetch.fetch_ml1m(data_dir)


def test_ml1m_with_a_tampered_download_is_refused(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "ml-1m.zip", {"ml-1m/ratings.dat": b"1::1::1::1\n"})
    monkeypatch.setattr(fetch, "ML1M_ZIP_URL", archive.as_uri())
    with pytest.raises(DataFormatError, match=f"SHA-256 mismatch: expected {fetch.ML1M_ZIP_SHA256}"):
        fetch.fetch_ml1m(tmp_path / "data")
    assert not (tmp_path / "data" / "ml-1m.zip").exists()


def test_gowalla_is_trusted_on_first_use_then_verified(tmp_path, monkeypatch):
    source = tmp_path / "remote.txt.gz"
    source.write_bytes(b"first version")
    monkeypatch.setattr(fetch, "GOWALLA_URL", source.as_uri())
    data_dir = tmp_path / "data"
    path = fetch.fetch_gowalla(data_dir)
    recorded = json.loads((data_dir / "checksums.json").read_text())
    assert recorded == {path.name: digest(b"first version")}
    source.write_bytes(b"changed upstream")
    assert fetch.fetch_gowalla(data_dir).read_bytes() == b"first version"     # cached copy matches the record
    path.write_bytes(b"corrupted")
    with pytest.raises(DataFormatError, match=f"SHA-256 mismatch: expected {digest(b'first version')}"):
        fetch.fetch_gowalla(data_dir)


def test_data_folder_comes_from_argument_then_environment_then_repo(tmp_path, monkeypatch):
    monkeypatch.setenv(fetch.DATA_DIR_VARIABLE, str(tmp_path / "env"))
    assert fetch.resolve_data_dir() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert fetch.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(fetch.DATA_DIR_VARIABLE)
    assert fetch.default_data_dir() == Path(__file__).resolve().parents[1] / "data"  # a checkout: its data/
    monkeypatch.setattr(fetch, "REPO_ROOT", tmp_path / "site-packages")  # an installed wheel: no pyproject beside
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert fetch.default_data_dir() == tmp_path / "cache" / "linrec-bench" / "data"
    (tmp_path / "file").write_text("")
    with pytest.raises(DataFormatError, match="cannot use it as the data folder"):
        fetch.resolve_data_dir(tmp_path / "file" / "sub")


def test_the_tests_fetch_into_a_user_cache_not_the_repository():
    from bench.data.fetch import REPO_ROOT, default_data_dir

    assert REPO_ROOT not in default_data_dir().resolve().parents and default_data_dir() != REPO_ROOT / "data"
