"""Reports: read results/ only and render tables, plots and heatmaps into HTML and PDF (python -m reports)."""
