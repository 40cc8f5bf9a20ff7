"""``linrec-bench``: every command of ``python -m bench``, and ``report``, under one console script.

Usage:
    linrec-bench train --attention linrec              # any python -m bench command, the same options
    linrec-bench report results/my-run --out report    # python -m reports build results/my-run --out report
    linrec-bench --help                                # the bench commands, and report

It lives in reports/ because it is the one place that may reach both halves (reports -> bench -> models); each
half is imported only when its command runs, so ``report`` does not load torch.
"""
from __future__ import annotations

import sys

PROG = "linrec-bench"
REPORT = ("report", "reports")


def main(argv=None) -> int:
    """Usage: main(["report", "results/run"]) -> exit status, as the bench or reports command gives it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in REPORT:
        from reports.__main__ import main as report_main

        return report_main(["build", *argv[1:]], prog=f"{PROG} report")
    from bench.__main__ import main as bench_main

    return bench_main(argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
