"""Performance claims about LinRec, measured side by side in one run: ``python -m bench perf`` and the older
``python -m bench microbench``.

Files: checks.py (the claims, their cells and the claims table), breakdown.py (where a SASRec step spends its
time), training.py (one training epoch per path), cli.py (``perf``), microbench.py (``microbench``).
"""
