"""Validating a GPU in one command: ``python -m bench device-check`` (cli.py, steps.py, verdicts.py)."""
