"""``linrec-bench`` (reports/console.py): one console script for every bench command and the report."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reports.console import main

SCRIPT = Path(sys.executable).parent / "linrec-bench"  # where pip installs the console script of this venv


def test_bench_commands_and_the_report_run_under_one_name(capsys, tmp_path):
    assert main(["list", "--brief"]) == 0
    assert "attention variants" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) in (1, 2)
    assert "error:" in capsys.readouterr().err and not (tmp_path / "out" / "report.html").exists()


def test_the_installed_script_names_itself_and_the_report_command():
    assert SCRIPT.is_file(), f"no {SCRIPT}: install the project (pip install -e .) so its console script exists"
    done = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: linrec-bench")
    assert "report RUN..." in done.stdout and "train-grid" in done.stdout
    report = subprocess.run([str(SCRIPT), "report", "--help"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and report.stdout.startswith("usage: linrec-bench report")


def test_a_models_package_of_ones_own_that_shadows_ours_is_one_line(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")  # a research project's own models/ folder
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench", "list", "--brief"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"another 'models' package shadows LinRec-Bench's: {tmp_path / 'models'} comes first" in done.stderr
