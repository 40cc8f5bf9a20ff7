"""An example LinRec-Bench plug-in: importing it registers one attention and one token mixer.

Usage:
    python -m bench --plugin linrec_bench_example train --attention sigmoid
    python -m bench --plugin linrec_bench_example train --mixer dilated_conv

Both register through the suite's public API (models.attention.register_function, models.mixers.register_mixer),
which checks every claim they make (causal, padding, matrix) before it accepts them.
"""
from . import dilated_conv, sigmoid  # noqa: F401  (each import registers its variant)
