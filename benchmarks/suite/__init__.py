"""The benchmark suite: every measure of issue 17's bar side by side, into results.json and its README table.

``python -m benchmarks.suite.run_all`` runs it; each other module is one part (or what the parts share).
"""
