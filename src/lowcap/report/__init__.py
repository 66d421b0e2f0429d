"""Figures, summary.json, the claims check and report.html, built from a run's store alone."""
