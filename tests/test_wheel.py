"""The built wheel works outside the checkout: installed on its own, run from another folder, it trains, profiles
and reports, with its data in the user cache folder, its sweep files and report template inside the package and its
version recorded (there is no git checkout to name)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_SKIPPED = {".git", ".venv", "data", "build", "dist", "results"}  # what a wheel is not built from


def skipped(folder: str, names: list[str]) -> set[str]:
    """copytree's ignore: the checkout's own top-level folders, and build by-products anywhere."""
    top = TOP_LEVEL_SKIPPED if Path(folder) == ROOT else set()
    return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources, installed (no dependencies: this venv has them) into a folder."""
    source, site = tmp_path_factory.mktemp("source") / "linrec-bench", tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT, source, ignore=skipped)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(source / "dist"), str(source)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel, = (source / "dist").glob("linrec_bench-*.whl")
    shutil.rmtree(source / "bench")  # nothing may come from the copy's sources from here on
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                           str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return site


def run(site: Path, cwd: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(cwd / "cache"), "LINREC_COMPILE": "0"}
    env.pop("LINREC_BENCH_DATA", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_wheel_ships_its_template_and_sweep_files(wheel_site):
    assert (wheel_site / "reports" / "templates" / "report.html.j2").is_file()
    shipped = {p.relative_to(ROOT / "bench").as_posix() for p in (ROOT / "bench" / "sweeps").rglob("*.toml")}
    assert {"sweeps/smoke.toml", "sweeps/quick-accuracy.toml", "sweeps/profile/full.toml"} <= shipped
    assert all((wheel_site / "bench" / name).is_file() for name in shipped)  # every grid, run_all's included
    assert (wheel_site / "bin" / "linrec-bench").is_file() and (wheel_site / "bench" / "data" / "fetch.py").is_file()
    points = (next(wheel_site.glob("linrec_bench-*.dist-info")) / "entry_points.txt").read_text()
    assert "linrec-bench = reports.console:main" in points


def test_the_installed_wheel_trains_profiles_and_reports_from_another_folder(wheel_site, tmp_path):
    where = run(wheel_site, tmp_path, "-c", "import bench, reports; print(bench.__file__, reports.__file__)")
    assert where.stdout.startswith(str(wheel_site)), where.stdout + where.stderr  # the wheel's code, not the checkout's
    train = run(wheel_site, tmp_path, str(wheel_site / "bin" / "linrec-bench"), "train", "--dataset", "synthetic",
                "--synthetic-users", "40", "--synthetic-items", "30", "--synthetic-mean-length", "10",
                "--synthetic-max-length", "16", "--max-len", "8", "--hidden", "8", "--layers", "1", "--inner", "16",
                "--epochs", "1", "--device", "cpu", "--run-dir", "results/train", "--no-progress")
    assert train.returncode == 0, train.stderr[-2000:]
    data = run(wheel_site, tmp_path, "-c", "from bench.data.fetch import default_data_dir; print(default_data_dir())")
    assert data.stdout.strip() == str(tmp_path / "cache" / "linrec-bench" / "data")  # not beside site-packages
    env = json.loads((tmp_path / "results" / "train" / "env.json").read_text())
    assert env["linrec_bench"] and env["git_commit"] is None  # no checkout: the version says what ran
    profile = run(wheel_site, tmp_path, str(wheel_site / "bin" / "linrec-bench"), "profile", "--attention", "dot",
                  "--lengths", "16", "--tokens", "32", "--mode", "fwd", "--repeats", "2", "--no-memory", "--device",
                  "cpu", "--run-dir", "results/profile", "--no-progress")
    assert profile.returncode == 0, profile.stderr[-2000:]
    report = run(wheel_site, tmp_path, str(wheel_site / "bin" / "linrec-bench"), "report", "results/train",
                 "results/profile", "--out", "report")
    assert report.returncode == 0, report.stderr[-2000:]
    assert (tmp_path / "report" / "report.html").stat().st_size > 1000
