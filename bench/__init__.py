"""LinRec-Bench harness: ``python -m bench ...`` (see __main__.py), one package per part of the job.

    data/      data sets: fetch and verify, file formats, k-core and truncation, the synthetic generator
    train/     training and evaluation of a recommender, cell by cell, resumable; named grids of cells
    profile/   time and peak memory per attention (or model) and length; analysis and roofline
    perf/      the LinRec performance claims, side by side; the baseline micro-benchmark
Beside them: results.py (run folders and rows, atomic writes; no torch), environment.py (what env.json records),
processes.py (the one way a child process starts), machine.py (free memory), cli.py (argument types, ``list``),
heatmaps.py (attention matrices from trained checkpoints) and run_all.py (the main job's stages).
"""


def shadowing_models() -> str | None:
    """Usage: shadowing_models() -> None, or the one line to print when another ``models`` package (a research
    project's own models/ folder, first on sys.path) hides this suite's: found without importing anything."""
    import importlib.util
    from pathlib import Path

    ours = Path(__file__).resolve().parents[1] / "models"
    found = importlib.util.find_spec("models")
    if found is None:
        return f"no 'models' package is importable (expected {ours}): install LinRec-Bench (pip install -e .)"
    place = Path(found.origin).parent if found.origin else Path(next(iter(found.submodule_search_locations)))
    if place.resolve() == ours:
        return None
    return (f"another 'models' package shadows LinRec-Bench's: {place} comes first on sys.path (expected {ours}); "
            f"run from another folder or rename that package")
