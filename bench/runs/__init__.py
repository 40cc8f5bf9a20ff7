"""Run folders shared by several workers: claims on cells (claims.py) and where a folder stands (status.py)."""
