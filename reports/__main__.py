"""``python -m reports``: build reports from results/ run folders.

Usage:
    python -m reports build results/reference-ml100k results/reference-profile-cpu --out reports/out [--pdf]
    python -m reports build results/my-gpu-profile --html --pdf --compare results/reference-profile-cpu
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import NothingToReport, build_report


def main(argv=None, prog: str = "python -m reports") -> int:
    """Usage: main(["build", "results/run", "--out", "out"]) -> exit status. ``prog``: the name help shows
    (``linrec-bench report`` calls it with the build command already chosen)."""
    parser = argparse.ArgumentParser(prog=prog.removesuffix(" report"), description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser("build", help="an HTML report (figures PNG/SVG, tables CSV/LaTeX beside it)",
                                prog=prog if prog.endswith(" report") else None)
    build.add_argument("runs", nargs="+", type=Path, help="results/<run> folders to read")
    build.add_argument("--out", type=Path, default=Path("reports/out"), help="output folder (default reports/out)")
    build.add_argument("--title", default="LinRec-Bench report")
    build.add_argument("--html", action="store_true", help="the HTML report (always written; accepted for clarity)")
    build.add_argument("--pdf", action="store_true", help="also print report.pdf (needs Debian's chromium)")
    build.add_argument("--compare", nargs="+", type=Path, default=[], metavar="RUN",
                       help="other run folders: a section compares their cells with these runs' cell by cell")
    build.add_argument("--scale-note", default="", help="a note on the runs' scale, shown at the top")
    args = parser.parse_args(argv)
    try:
        paths = build_report(args.runs, args.out, title=args.title, pdf=args.pdf, scale_note=args.scale_note,
                             compare=args.compare)
    except NothingToReport as err:  # not bad input: there is nothing to show
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {paths['html']} ({len(paths['files'])} figure and table files beside it)")
    if "pdf" in paths:
        print(f"pdf: {paths['pdf']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
