"""Profiling: time and peak memory of attentions (or whole models) across sequence lengths, one cell at a time.

Files: cells.py (the grid of named cells, checked before anything runs), steps.py (the work a cell measures),
timing.py (warm-up, repeats, statistics; side by side), memory.py (peak memory on CPU and CUDA), measure.py (one
cell, failures as rows, its own process where needed), table.py (console tables), analysis.py (scaling exponents,
crossover lengths, speed-ups), flops.py and roofline.py (FLOPs, minimal bytes, the GPU floor), cli.py
(``python -m bench profile``). table.py, analysis.py and roofline.py are pure pandas: reports use them.
"""
