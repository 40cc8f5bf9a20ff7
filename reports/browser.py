"""Headless Chromium for the PDF (printed from the very HTML, so both hold the same content) and for screenshots.

Usage:
    html_to_pdf("reports/out/report.html", "reports/out/report.pdf")
    screenshot("reports/out/report.html", "shot.png", width=1280, height=2400)

Chromium is Debian's package ``chromium`` (``apt-get install chromium``); without it, asking for a PDF is a one-line
error that says so. Runs with --no-sandbox only as root, where Chromium refuses to start otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str:
    """Usage: find_browser() -> the path of a Chromium; OSError with the install command when there is none."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise OSError("the PDF is printed by headless Chromium, and none was found: apt-get install chromium")


def _run(args: list[str], output: Path, timeout: float) -> None:
    flags = ["--headless", "--disable-gpu", "--hide-scrollbars"]  # no file access: the report embeds everything
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")
    output.unlink(missing_ok=True)
    try:
        done = subprocess.run([find_browser(), *flags, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OSError(f"Chromium did not finish {output.name} within {timeout:.0f} s") from None
    if not output.exists() or output.stat().st_size == 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise OSError(f"Chromium wrote no {output.name} (exit {done.returncode}): {tail}")


def html_to_pdf(html: str | Path, pdf: str | Path, timeout: float = 180.0) -> Path:
    """Usage: see module docstring. A4 pages, no browser header or footer; returns the PDF path."""
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()], pdf, timeout)
    return pdf


def screenshot(html: str | Path, png: str | Path, width: int = 1280, height: int = 2400,
               timeout: float = 120.0) -> Path:
    """Usage: see module docstring. The top ``height`` pixels of the page at ``width``."""
    html, png = Path(html).resolve(), Path(png).resolve()
    _run([f"--window-size={width},{height}", f"--screenshot={png}", html.as_uri()], png, timeout)
    return png
