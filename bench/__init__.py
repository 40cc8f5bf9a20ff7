"""LinRec-Bench harness: ``python -m bench ...`` (see __main__.py), one package per part of the job.

    data/      data sets: fetch and verify, file formats, k-core and truncation, the synthetic generator
    train/     training and evaluation of a recommender, cell by cell, resumable; named grids of cells
    profile/   time and peak memory per attention (or model) and length; analysis and roofline
    perf/      the LinRec performance claims, side by side; the baseline micro-benchmark
Beside them: results.py (run folders and rows, atomic writes; no torch), environment.py (what env.json records),
processes.py (the one way a child process starts), machine.py (free memory), cli.py (argument types, ``list``),
heatmaps.py (attention matrices from trained checkpoints) and run_all.py (the main job's stages).
"""
