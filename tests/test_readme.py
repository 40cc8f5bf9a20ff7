"""The README's set-up works on a fresh machine as written: package lists updated before installing, the pinned
torch installed before the project, and the same pin and test command as CI's."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Set up (fresh machine), run, test", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_packages_are_installed_after_their_lists_are_updated():
    first = setup_block()[0]
    assert first.startswith("apt-get update && apt-get install -y"), first


def test_torch_is_pinned_and_installed_before_the_project_as_ci_does():
    second = setup_block()[1]
    assert second.index("pip install torch==2.13.0") < second.index('pip install -e ".[dev]"')
    assert "pip install --quiet torch==2.13.0" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_runs_the_main_job_and_the_tests_ci_runs():
    assert setup_block()[2:] == ["bash run_all.sh", "python -m pytest"]
    assert "\npython -m pytest " in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
