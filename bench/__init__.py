"""LinRec-Bench harness: measurement, results I/O and the command line (python -m bench ...)."""
