"""A CSV's first trial, 2 min on 6 tables × 2 splits: no start, a start, a trained start → results/start_trial.json

Each variant is a table-suite run (`benchmarks/suite/table_suite.py`, cells cached) of automl at one commit, one
core each, as a user runs it (``search --csv`` with ``--target`` and ``--time-limit 120s``); the peers ran once,
in the first run's lane:

    T=salaries,cps1985,house_prices,credit_card,mroz,gsoep_school
    # at 63eb381 (no start), core 0; the peers on core 1:
    taskset -c 0 python -m benchmarks.suite.table_suite run --out OUT/base --tables $T --splits 0,1 \\
        --methods automl --seconds 120
    taskset -c 1 python -m benchmarks.suite.table_suite run --out OUT/base --tables $T --splits 0,1 \\
        --methods lightgbm,hist_gradient_boosting --seconds 120
    # at dd3f610 (the start, at its bracket's epochs) on core 1, and at 9848969 (trained for max_epochs) on core 0:
    taskset -c 1 python -m benchmarks.suite.table_suite run --out OUT/start --tables $T --splits 0,1 ...
    taskset -c 0 python -m benchmarks.suite.table_suite run --out OUT/start_trained --tables $T --splits 0,1 ...
    python -m benchmarks.studies.start_trial OUT/base OUT/start OUT/start_trained

This file reads the cells and writes each one's test error (MAE, 1 − AUC, 1 − accuracy), its ratio to tuned
LightGBM's on the same split, and per variant the geometric mean of the ratios and its ratio to the first
variant's, cell by cell. Two splits of six small tables: a direction to follow, not the suite's verdict.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from benchmarks import ROOT
from benchmarks.suite.table_suite import TIE

VARIANTS = ("no_start", "start", "start_trained")
COMMITS = {"no_start": "63eb381", "start": "dd3f610", "start_trained": "9848969"}
SECONDS = 120


def cells(out: Path, method: str) -> dict[tuple[str, int], dict]:
    """The cached cells of `method` under a table-suite `out`, by (table, split)."""
    found = {}
    for path in sorted((out / "suite_cells").glob(f"*/split*/{method}_{SECONDS}s.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        found[(cell["table"], cell["split"])] = cell
    return found


def geomean(values: list[float]) -> float | None:
    return round(math.exp(sum(math.log(v) for v in values) / len(values)), 4) if values else None


def study(outs: dict[str, Path], peers: Path) -> dict:
    lightgbm, gbm = cells(peers, "lightgbm"), cells(peers, "hist_gradient_boosting")
    runs = {name: cells(out, "automl") for name, out in outs.items()}
    rows, ratios = [], {name: [] for name in outs}
    for key in sorted(lightgbm):
        row = {"table": key[0], "split": key[1], "lightgbm": lightgbm[key]["error"],
               "hist_gradient_boosting": gbm[key]["error"] if key in gbm else None}
        for name, found in runs.items():
            error = found[key]["error"] if key in found else None
            row[name] = error
            if error is not None:
                ratios[name].append(max(error, 1e-4) / max(row["lightgbm"], 1e-4))
        rows.append(row)
    first = next(iter(outs))
    summary = {}
    for name in outs:
        paired = [max(r[name], 1e-4) / max(r[first], 1e-4) for r in rows
                  if r[name] is not None and r[first] is not None]
        summary[name] = {
            "commit": COMMITS.get(name), "cells": len(ratios[name]),
            "geomean_error_ratio_vs_lightgbm": geomean(ratios[name]),
            "cells_better_than_lightgbm_by_2pct": sum(r < 1 - TIE for r in ratios[name]),
            "cells_within_2pct_of_lightgbm": sum(1 - TIE <= r <= 1 + TIE for r in ratios[name]),
            f"geomean_error_ratio_vs_{first}": geomean(paired),
            f"cells_better_than_{first}_by_2pct": sum(r < 1 - TIE for r in paired),
            f"cells_worse_than_{first}_by_2pct": sum(r > 1 + TIE for r in paired),
        }
    return {"seconds": SECONDS, "cores_per_run": 1, "variants": summary, "cells": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outs", nargs=len(VARIANTS), type=Path, help="the table-suite --out of each variant, in "
                        f"this order: {', '.join(VARIANTS)}; the first holds the peers' cells too")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "start_trial.json")
    args = parser.parse_args()
    results = study(dict(zip(VARIANTS, args.outs, strict=True)), args.outs[0])
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["variants"], indent=2))


if __name__ == "__main__":
    main()
