"""The architecture, read from the code's own imports: reports -> bench -> models, no cycles, bench/ in parts."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "bench", "reports")
ALLOWED = {"models": set(), "bench": {"models"}, "reports": {"bench"}}  # whom each top-level package may import


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for top in PACKAGES for p in sorted((ROOT / top).rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every project module ``name`` imports (at its top or inside a function), resolved to a file's module."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    resolved = set()
    for target in found:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


GRAPH = {name: imports_of(name) for name in MODULES}


@pytest.mark.parametrize("top", PACKAGES)
def test_imports_point_one_way(top):
    wrong = sorted(f"{name} -> {target}" for name, targets in GRAPH.items() if name.split(".")[0] == top
                   for target in targets if target.split(".")[0] not in ALLOWED[top] | {top})
    assert not wrong, f"{top} may import only {sorted(ALLOWED[top]) or 'nothing else'}: {wrong}"


def test_no_import_cycle_between_files():
    def is_package_of(parent: str, child: str) -> bool:  # a package's __init__ may re-export its own modules
        return MODULES[parent].name == "__init__.py" and child.startswith(parent + ".")

    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if is_package_of(name, target) or is_package_of(target, name):
                continue
            if state.get(target) == "open":
                return path + [name, target]
            if target not in state and (cycle := visit(target, path + [name])):
                return cycle
        state[name] = "done"
        return None

    for name in MODULES:
        if name not in state:
            cycle = visit(name, [])
            assert cycle is None, "import cycle: " + " -> ".join(cycle[cycle.index(cycle[-1]):])


def test_reports_load_neither_torch_nor_the_models():
    probe = "import sys, reports.build; print(sorted(m for m in ('models', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_bench_shows_its_parts_as_packages():
    parts = {p.parent.name for p in (ROOT / "bench").glob("*/__init__.py")}
    assert {"data", "train", "profile", "perf"} <= parts
    loose = [p.name for p in (ROOT / "bench").glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(loose) <= 10, loose


def test_no_private_name_is_imported_from_another_file():
    crossing = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PACKAGES):
                crossing += [f"{name}: {alias.name}" for alias in node.names
                             if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not crossing, crossing


def test_no_source_file_is_over_400_lines():
    lines = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    long = {name: n for name, n in lines.items() if n > 400}
    assert not long, long
