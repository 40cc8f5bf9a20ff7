"""The profile command end to end: rows, resume after a real kill, torn-line recovery, merged runs, the table."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.results import load_runs, read_rows, repair_rows

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--no-memory", "--repeats", "1", "--warmup", "0", "--no-progress"]


def profile(run_dir, *extra) -> int:
    return main(["profile", "--attention", "dot", "linrec", "--lengths", "8", "16", "--mode", "fwd", "infer",
                 "--tokens", "64", "--run-dir", str(run_dir), *QUICK, *extra])


def test_rows_env_config_and_final_table(tmp_path, capsys):
    assert profile(tmp_path / "run") == 0
    out = capsys.readouterr().out
    assert "profile: 8 cells, 0 finished, 8 to run" in out
    assert "attention, infer, float32, cpu: median ms (ratio to dot)" in out and "(1.00x)" in out
    rows = read_rows(tmp_path / "run" / "rows.jsonl")
    assert len(rows) == 8 * 5  # five time statistics per cell, no memory pass
    first = rows[0]
    for key in ("variant", "level", "mode", "T", "B", "d", "H", "dtype", "device", "status", "unit", "stat", "n",
                "schema", "run_id", "cell", "cell_rows", "threads", "batch_policy"):
        assert key in first, key
    assert first["run_id"] == "run" and first["schema"] == 1
    env = json.loads((tmp_path / "run" / "env.json").read_text())
    for key in ("torch", "cuda", "driver", "xformers", "cpu", "torch_threads", "git_commit", "hostname"):
        assert key in env, key
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["command"] == "profile" and config["grid"]["variants"] == ["dot", "linrec"]


def test_rerun_skips_finished_cells(tmp_path, capsys):
    assert profile(tmp_path / "run") == 0
    before = (tmp_path / "run" / "rows.jsonl").read_text()
    assert profile(tmp_path / "run") == 0
    assert "8 finished, 0 to run" in capsys.readouterr().out
    assert main(["profile", "--attention", "linrec", "dot", "--lengths", "16", "8", "--mode", "infer", "fwd",
                 "--dtype", "fp32", "--tokens", "64", "--run-dir", str(tmp_path / "run"), *QUICK]) == 0
    assert "8 finished, 0 to run" in capsys.readouterr().out  # the same command, spelt otherwise
    assert (tmp_path / "run" / "rows.jsonl").read_text() == before


def test_torn_line_and_incomplete_cell_are_dropped_and_remeasured(tmp_path):
    assert profile(tmp_path / "run") == 0
    path = tmp_path / "run" / "rows.jsonl"
    lines = path.read_text().splitlines()
    first_cell, last_cell = json.loads(lines[0])["cell"], json.loads(lines[-1])["cell"]
    # a kill during the last cell's write: two of its rows made it, the third is torn
    path.write_text("\n".join(lines[:-3]) + "\n" + lines[-3][: len(lines[-3]) // 2])
    with pytest.warns(UserWarning) as caught:
        done = repair_rows(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "skipped an incomplete or corrupt row" in messages and last_cell in messages
    assert first_cell in done and last_cell not in done
    assert profile(tmp_path / "run") == 0
    cells = Counter(r["cell"] for r in read_rows(path))
    assert len(cells) == 8 and set(cells.values()) == {5}  # every cell once, complete


def test_resume_after_a_real_kill(tmp_path):
    """A sweep killed (SIGKILL) mid-run, then resumed: no duplicate and no lost cell."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "bench", "profile", "--attention", "dot", "linrec", "linear_elu",
           "--lengths", "64", "128", "256", "--mode", "fwd", "fwdbwd", "infer", "--tokens", "1024",
           "--run-dir", str(run_dir), "--no-memory", "--repeats", "5", "--warmup", "3", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows_path = run_dir / "rows.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        if rows_path.exists() and len(rows_path.read_text().splitlines()) >= 10:  # two cells written
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished_before = {r["cell"] for r in read_rows(rows_path)}
    assert 2 <= len(finished_before) < 27, "the kill should land mid-sweep"
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"27 cells, {len(finished_before)} finished" in done.stdout
    counts = Counter(r["cell"] for r in read_rows(rows_path))
    assert len(counts) == 27 and set(counts.values()) == {5}
    assert finished_before <= set(counts)


def test_load_runs_merges_runs(tmp_path):
    assert profile(tmp_path / "a") == 0
    assert main(["profile", "--attention", "sdpa", "--lengths", "8", "--mode", "infer", "--tokens", "64",
                 "--run-dir", str(tmp_path / "b"), *QUICK]) == 0
    frame = load_runs(tmp_path / "a", tmp_path / "b", bench="profile")
    assert set(frame["run_id"]) == {"a", "b"} and len(frame) == 8 * 5 + 5
    assert set(frame["variant"]) == {"dot", "linrec", "sdpa"}
    with pytest.raises(FileNotFoundError, match="no rows.jsonl"):
        load_runs(tmp_path / "missing")


def test_model_level_command(tmp_path, capsys):
    code = main(["profile", "--level", "model", "--model", "bert4rec", "--attention", "linrec", "--lengths", "8",
                 "--batch", "2", "--heads", "2", "--hidden", "8", "--layers", "1", "--items", "30",
                 "--mode", "fwdbwd", "--run-dir", str(tmp_path / "m"), *QUICK])
    assert code == 0
    rows = read_rows(tmp_path / "m" / "rows.jsonl")
    assert {r["model"] for r in rows} == {"bert4rec"} and {r["status"] for r in rows} == {"ok"}
    assert {(r["d"], r["H"], r["D"], r["layers"], r["items"]) for r in rows} == {(8, 2, 4, 1, 30)}
    assert "model bert4rec, fwdbwd, float32, cpu" in capsys.readouterr().out


def test_resume_on_another_machine_is_refused(tmp_path, capsys):
    assert profile(tmp_path / "run") == 0
    env_path = tmp_path / "run" / "env.json"
    env = json.loads(env_path.read_text())
    env_path.write_text(json.dumps({**env, "cpu": "Some Other CPU", "torch": "1.0"}))
    rows = (tmp_path / "run" / "rows.jsonl").read_text()
    assert profile(tmp_path / "run") == 2
    assert "measured on another machine or software (differs in: cpu, torch)" in capsys.readouterr().err
    assert (tmp_path / "run" / "rows.jsonl").read_text() == rows
    env_path.write_text(json.dumps({**env, "hostname": "elsewhere"}))  # same hardware and software, other host
    assert profile(tmp_path / "run") == 0
    assert "note: resuming on host" in capsys.readouterr().err


def test_memory_cap_holds_in_this_process_without_a_memory_pass(tmp_path):
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    code = main(["profile", "--attention", "dot", "--lengths", "1024", "--batch", "4", "--mode", "fwdbwd",
                 "--memory-cap-mib", "20", "--run-dir", str(tmp_path / "run"), *QUICK])
    assert code == 0
    row, = read_rows(tmp_path / "run" / "rows.jsonl")
    assert (row["metric"], row["status"]) == ("time", "oom") and "can't allocate memory" in row["message"]
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # the cap is lifted when the sweep ends


def test_a_sweep_where_every_cell_fails_still_reports(tmp_path, capsys):
    code = main(["profile", "--attention", "linformer", "xformers", "--causal", "on", "--lengths", "8", "16",
                 "--mode", "fwd", "--tokens", "64", "--run-dir", str(tmp_path / "run"), *QUICK])
    assert code == 0
    out = capsys.readouterr().out
    assert "unsupported" in out and "failed cells:" in out
    assert {r["status"] for r in read_rows(tmp_path / "run" / "rows.jsonl")} <= {"unsupported", "unavailable"}


def test_a_cell_killed_from_outside_is_measured_again_on_resume(tmp_path, capsys):
    assert profile(tmp_path / "run") == 0
    path = tmp_path / "run" / "rows.jsonl"
    rows = read_rows(path)
    victim = rows[0]["cell"]
    killed = {**rows[0], "metric": "time", "status": "killed", "cell_rows": 1, "message": "signal 9"}
    for key in ("stat", "value", "unit", "n"):
        killed.pop(key, None)
    path.write_text("".join(json.dumps(r) + "\n" for r in [killed] + [r for r in rows if r["cell"] != victim]))
    assert profile(tmp_path / "run") == 0
    assert "incomplete or killed rows of 1 cell" in capsys.readouterr().err
    again = [r for r in read_rows(path) if r["cell"] == victim]
    assert len(again) == 5 and {r["status"] for r in again} == {"ok"}


def test_a_measuring_child_dies_with_its_parent(tmp_path):
    """The parent is killed with SIGKILL (no chance to clean up); its measuring child must not live on."""
    parent = textwrap.dedent("""
        import sys
        from bench.processes import run_module
        run_module("tests.sleeping_child", [sys.argv[1]], capture=False)
    """)
    pid_file = tmp_path / "child.pid"
    process = subprocess.Popen([sys.executable, "-c", parent, str(pid_file)], cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.time() + 10
    while time.time() < deadline and Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), "the child outlived its parent"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


def test_a_crossover_ratio_far_below_one_keeps_its_digits():
    from bench.profile.table import analysis_tables
    from tests.test_reports_figures import profile_rows

    rows = profile_rows()
    rows.loc[(rows["variant"] == "linrec") & (rows["metric"] == "time"), "value"] /= 1000
    out = analysis_tables(rows)  # linrec 2e-5 T against dot 1e-4 T^2 per sequence: 0.000391 at T=512
    assert "always faster (0.000391x)" in out and "(0.00x)" not in out
