"""The report stage: report.html with its figures, summary.md, and the terminal table."""
