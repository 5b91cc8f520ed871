"""automl's benchmarks: a package, run from the repository root as ``python -m benchmarks.<part>.<script>``.

- ``benchmarks.suite``: the benchmark that writes ``search_results/benchmarks/results.json`` and the table of
  its figures (``README.md`` beside it): ``run_all`` and the parts it runs. ``suite.cifar10`` writes
  ``search_results/cifar10/benchmark.json``, which ``run_all`` reads.
- ``benchmarks.studies``: one-off measurements behind a choice in the code or a figure in the docs; each
  writes its figures under ``benchmarks/results/``. ``benchmarks/README.md`` lists them, one line each.

The suite never imports a study; a study may use the suite's parts.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
RESULTS = ROOT / "benchmarks" / "results"  # the studies' figures, committed
