"""The suite of real tables: each (table, split, method, seconds) a cached cell, run in pinned lanes, then suite.json.

    taskset -c 0 python -m benchmarks.suite.table_suite run --lane 0/2 &
    taskset -c 1 python -m benchmarks.suite.table_suite run --lane 1/2 &
    wait; python -m benchmarks.suite.table_suite summary

Each cell runs in a process of its own (it inherits the lane's core) and writes
``<out>/suite_cells/<table>/split<seed>/<method>_<seconds>s.json``: its held-out figures, its error, its wall
time, or why it failed. A cell whose file exists is skipped, so a stopped run resumes where it stopped; a lane
takes every other cell of the plan. `summary` reads the cells, applies the paired rule (`verdict`) and writes
``suite.json``, ``suite.md`` and ``suite_ranks.png``; into ``search_results/benchmarks/`` only when every cell of
the full plan is there. `--tables`, `--splits`, `--methods` and `--seconds` run part of the plan (a smoke run,
into a scratch `--out`).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import ROOT
from benchmarks.suite.runs import finite, python_path, stamp
from benchmarks.suite.tables import AUTOKERAS_TABLES, FIVE_MINUTE_TABLES, SPLIT_SEEDS, TABLES

OUT = ROOT / "search_results" / "benchmarks"
MAIN_SECONDS, LONG_SECONDS = 120, 300
MAIN_METHODS = ("automl", "lightgbm", "catboost", "hist_gradient_boosting", "autogluon")
LONG_METHODS = ("automl", "lightgbm", "catboost")
PEERS = ("lightgbm", "catboost", "hist_gradient_boosting", "autogluon", "autokeras")
TIE = 0.02  # the paired rule's margin: a mean relative difference of errors within 2 % is a tie
FLOOR = 1e-4  # errors below this (a perfect AUC) count as this in ratios


@dataclass(frozen=True, order=True)
class Cell:
    table: str
    split: int
    method: str
    seconds: int

    @property
    def key(self) -> str:
        return f"{self.table}/split{self.split}/{self.method}_{self.seconds}s"

    def path(self, out: Path) -> Path:
        return out / "suite_cells" / f"{self.key}.json"

    def work(self, out: Path) -> Path:
        return out / "suite_work" / self.key


def plan(tables: Iterable[str] | None = None, splits: Iterable[int] | None = None,
         methods: Iterable[str] | None = None, seconds: Iterable[int] | None = None) -> list[Cell]:
    """The cells of the full suite, or of the part named: every table at 2 minutes (AutoKeras on its tables),
    the 5-minute tables at 5 minutes with automl and the two GBMs. Split seeds run outermost, so a run stopped
    half-way has every table on its first splits."""
    names = [t.name for t in TABLES]
    wanted = set(tables or names)
    cells = []
    for split in splits if splits is not None else SPLIT_SEEDS:
        for name in names:
            if name not in wanted:
                continue
            for method in (*MAIN_METHODS, "autokeras"):
                if method != "autokeras" or name in AUTOKERAS_TABLES:
                    cells.append(Cell(name, split, method, MAIN_SECONDS))
            if name in FIVE_MINUTE_TABLES:
                cells += [Cell(name, split, method, LONG_SECONDS) for method in LONG_METHODS]
    if methods:
        cells = [c for c in cells if c.method in set(methods)]
    if seconds:  # a smoke run's budgets: each kept cell at each of them
        cells = sorted({Cell(c.table, c.split, c.method, s) for c in cells if c.seconds == MAIN_SECONDS
                        for s in seconds}, key=lambda c: (c.split, names.index(c.table), c.seconds, c.method))
    return cells


def lane(cells: list[Cell], index: int, lanes: int) -> list[Cell]:
    """Lane `index` of `lanes`: every `lanes`-th cell of the plan."""
    return cells[index::lanes]


def run_lane(cells: list[Cell], out: Path, execute: Callable[[Cell, Path], None]) -> list[Cell]:
    """Run each cell whose file is missing (`execute` writes it); the cells run."""
    done = []
    for cell in cells:
        if cell.path(out).is_file():
            continue
        execute(cell, out)
        done.append(cell)
    return done


def execute_in_process_of_its_own(cell: Cell, out: Path) -> None:
    """One cell in its own Python process: a crash, or a method's threads and memory, end with it."""
    started = time.monotonic()
    print(f"{stamp()} {cell.key} ...", flush=True)
    result = subprocess.run([sys.executable, "-m", "benchmarks.suite.table_suite", "cell", "--table", cell.table,
                             "--split", str(cell.split), "--method", cell.method, "--seconds", str(cell.seconds),
                             "--out", str(out)], env=python_path(), cwd=ROOT, capture_output=True, text=True)
    if not cell.path(out).is_file():  # the process died before it could say why: that is the cell's outcome
        write_cell(cell, out, {"failed": f"exit {result.returncode}: {result.stderr.strip()[-2000:]}"})
    print(f"{stamp()} {cell.key} {time.monotonic() - started:.0f} s: {_said(cell, out)}", flush=True)


def _said(cell: Cell, out: Path) -> str:
    record = json.loads(cell.path(out).read_text(encoding="utf-8"))
    if "failed" in record:
        return "failed: " + (record["failed"].strip().splitlines() or ["?"])[-1]
    return f"error {record['error']:.4g}, {record['wall_seconds']} s"


def write_cell(cell: Cell, out: Path, record: dict[str, Any]) -> None:
    path = cell.path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(finite({"table": cell.table, "split": cell.split, "method": cell.method,
                                            "seconds": cell.seconds, "date": stamp(), **record}), indent=2),
                         encoding="utf-8")
    temporary.replace(path)


def measure_cell(cell: Cell, out: Path) -> None:
    """The cell's method on its split, in this process; its file says what came out, or why it failed."""
    import traceback

    from benchmarks.suite import peers, tables

    frame, table = tables.load(cell.table)
    train, test = tables.split(frame, table, cell.split)
    work = cell.work(out)
    shutil.rmtree(work, ignore_errors=True)  # a cell that died half-way starts over
    work.mkdir(parents=True)
    try:
        record = peers.run(cell.method, train, test, table, cell.seconds, work)
    except Exception:  # noqa: BLE001 - a method that fails on a table is a result: the cell says how
        record = {"failed": traceback.format_exc()[-4000:]}
    write_cell(cell, out, {"task": table.task, "train_rows": len(train), "test_rows": len(test), **record})
    for path in sorted(work.rglob("*"), reverse=True):  # the searches' files go; their logs stay
        if path.is_file() and path.suffix != ".log":
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# ---------------------------------------------------------------------------------------------------- the rule

def relative_difference(automl: float | None, other: float | None) -> float:
    """One split: (other's error - automl's) / the larger of the two; above 0, automl did better. A method that
    failed on the split loses it outright (+1 or -1); both failing is 0."""
    if automl is None or other is None:
        return 0.0 if automl is None and other is None else (1.0 if other is None else -1.0)
    larger = max(automl, other, FLOOR)
    return (other - automl) / larger


def verdict(automl: dict[int, float | None], other: dict[int, float | None], tie: float = TIE) -> str | None:
    """automl against one method on one table, paired over the splits both were run on: "win" when the mean
    relative difference of errors is above `tie` and automl's error is lower on more than half the splits,
    "loss" the other way round, "tie" otherwise; None when they share no split."""
    splits = sorted(set(automl) & set(other))
    if not splits:
        return None
    differences = [relative_difference(automl[s], other[s]) for s in splits]
    mean = statistics.fmean(differences)
    if mean > tie and sum(d > 0 for d in differences) > len(splits) / 2:
        return "win"
    if mean < -tie and sum(d < 0 for d in differences) > len(splits) / 2:
        return "loss"
    return "tie"


# ---------------------------------------------------------------------------------------------------- summary

def read_cells(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "suite_cells").glob("*/*/*.json"))]


def errors_by(cells: list[dict[str, Any]]) -> dict[tuple[int, str, str], dict[int, float | None]]:
    """(seconds, table, method) -> {split: held-out error, None where the method failed}."""
    found: dict[tuple[int, str, str], dict[int, float | None]] = {}
    for cell in cells:
        found.setdefault((cell["seconds"], cell["table"], cell["method"]), {})[cell["split"]] = (
            None if "failed" in cell else cell["error"])
    return found


def _share(verdicts: list[str], counted: tuple[str, ...]) -> float | None:
    return sum(v in counted for v in verdicts) / len(verdicts) if verdicts else None


def summarize(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """suite.json's figures and its per-table details, from the cells' records."""
    errors = errors_by(cells)
    tasks = {c["table"]: c["task"] for c in cells}
    seconds = sorted({s for s, _, _ in errors})
    # the main budget: 120 s, or a smoke run's shortest (its figures then are those of that budget)
    first = MAIN_SECONDS if MAIN_SECONDS in seconds or not seconds else seconds[0]
    tables: dict[str, Any] = {}
    verdicts: dict[tuple[int, str], list[str]] = {}
    ratios = []
    for (budget, name, method), by_split in sorted(errors.items()):
        done = [e for e in by_split.values() if e is not None]
        row = tables.setdefault(name, {"task": tasks[name]}).setdefault(f"{budget}s", {})
        row[method] = {"mean": statistics.fmean(done) if done else None,
                       "std": statistics.stdev(done) if len(done) > 1 else 0.0 if done else None,
                       "splits": len(by_split), "failed": len(by_split) - len(done)}
    for (budget, name, method), by_split in sorted(errors.items()):
        automl = errors.get((budget, name, "automl"))
        if method == "automl" or automl is None:
            continue
        said = verdict(automl, by_split)
        if said:
            tables[name][f"{budget}s"][method]["automl_is"] = said
            verdicts.setdefault((budget, method), []).append(said)
    for name in tables:
        row = tables[name].get(f"{first}s", {})
        gbms = [row[m]["mean"] for m in ("lightgbm", "catboost") if m in row and row[m]["failed"] == 0]
        if "automl" in row and row["automl"]["failed"] == 0 and len(gbms) == 2:
            ratio = max(row["automl"]["mean"], FLOOR) / max(min(gbms), FLOOR)
            tables[name]["error_ratio_vs_best_gbm"] = ratio
            ratios.append(ratio)
    main = lambda method: verdicts.get((first, method), [])  # noqa: E731
    figures = {
        "suite_tables": len(tables),
        "suite_splits": len({c["split"] for c in cells}),
        "suite_seconds": seconds,
        "suite_main_seconds": first,
        "suite_cells": len(cells),
        "suite_failed_cells": sum("failed" in c for c in cells),
        "win_or_tie_share_vs_lightgbm": _share(main("lightgbm"), ("win", "tie")),
        "win_or_tie_share_vs_catboost": _share(main("catboost"), ("win", "tie")),
        "win_or_tie_share_vs_hist_gradient_boosting": _share(main("hist_gradient_boosting"), ("win", "tie")),
        "geomean_error_ratio_vs_best_gbm": math.exp(statistics.fmean(map(math.log, ratios))) if ratios else None,
        "geomean_tables": len(ratios),
        "win_share_vs_autokeras": _share(main("autokeras"), ("win",)),
        "win_or_tie_share_vs_autogluon": _share(main("autogluon"), ("win", "tie")),
        "win_or_tie_share_vs_lightgbm_5m": _share(verdicts.get((LONG_SECONDS, "lightgbm"), []), ("win", "tie")),
        "win_or_tie_share_vs_catboost_5m": _share(verdicts.get((LONG_SECONDS, "catboost"), []), ("win", "tie")),
    }
    counts = {f"{budget}s_vs_{method}": {v: said.count(v) for v in ("win", "tie", "loss")}
              for (budget, method), said in sorted(verdicts.items())}
    return {**figures, "wins_ties_losses": counts, "tables": tables, "rule": RULE}


RULE = (f"per table, paired over the splits: relative difference of errors (other - automl) / the larger; win: "
        f"mean above {TIE:g} and automl lower on more than half the splits; loss: the mirror; otherwise tie; a "
        "failed cell loses its split")


def markdown(summary: dict[str, Any]) -> str:
    """The per-table table: each method's mean ± std error over the splits, and automl's verdict against it."""
    lines = []
    for budget in summary["suite_seconds"]:
        methods = [m for m in ("automl", *PEERS)
                   if any(m in t.get(f"{budget}s", {}) for t in summary["tables"].values())]
        lines += [f"### {budget} s a run", "", "Error: MAE (regression), 1 - ROC AUC (binary), 1 - accuracy "
                  "(multiclass); mean ± std over the splits; W/T/L: automl's verdict against that method.", "",
                  "| table | task | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
        for name, table in sorted(summary["tables"].items()):
            row = table.get(f"{budget}s")
            if row:
                lines.append(f"| {name} | {table['task']} | " + " | ".join(_entry(row.get(m)) for m in methods) + " |")
        lines.append("")
    lines += ["| key | value |", "|---|---|"]
    lines += [f"| `{k}` | {_number(v)} |" for k, v in summary.items()
              if k not in ("tables", "wins_ties_losses", "rule")]
    return "\n".join(lines) + "\n"


def _entry(stats: dict[str, Any] | None) -> str:
    if not stats:
        return ""
    said = {"win": " W", "tie": " T", "loss": " L"}.get(stats.get("automl_is"), "")
    failed = f" ({stats['failed']} failed)" if stats["failed"] else ""
    return "failed" if stats["mean"] is None else f"{stats['mean']:.4g} ± {stats['std']:.2g}{said}{failed}"


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def rank_plot(summary: dict[str, Any], path: Path) -> None:
    """Each method's rank on each table at the main budget (1: lowest mean error), among the methods run on
    every table, and its mean rank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"{summary['suite_main_seconds']}s"
    rows = [t[key] for t in summary["tables"].values() if key in t]
    methods = [m for m in ("automl", *PEERS) if rows and all(m in r and r[m]["mean"] is not None for r in rows)]
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for row in rows:
        ordered = sorted(methods, key=lambda m: row[m]["mean"])
        for method in methods:
            ties = [i + 1 for i, m in enumerate(ordered) if row[m]["mean"] == row[method]["mean"]]
            ranks[method].append(statistics.fmean(ties))
    figure, axes = plt.subplots(figsize=(6, 0.6 * max(len(methods), 1) + 1.2))
    for y, method in enumerate(methods):
        axes.scatter(ranks[method], [y] * len(ranks[method]), alpha=0.35, color="tab:blue")
        axes.scatter([statistics.fmean(ranks[method])], [y], marker="D", color="black")
    axes.set_yticks(range(len(methods)), methods)
    axes.set_xlabel(f"rank on each table at {summary['suite_main_seconds']} s (1: lowest error); ◆ mean rank")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_summary(out: Path) -> dict[str, Any]:
    cells = read_cells(out)
    if out.resolve() == OUT.resolve():
        missing = [c for c in plan() if not c.path(out).is_file()]
        if missing:
            raise SystemExit(f"{len(missing)} cells of the full plan are missing (first: {missing[0].key}); only a "
                             "full run writes search_results/benchmarks/suite.json: finish it, or give --out")
    summary = summarize(cells)
    (out / "suite.json").write_text(json.dumps(finite(summary), indent=2), encoding="utf-8")
    (out / "suite.md").write_text(markdown(summary), encoding="utf-8")
    rank_plot(summary, out / "suite_ranks.png")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["run", "summary", "cell"])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--lane", default="0/1", help="INDEX/LANES: this lane takes every LANES-th cell")
    parser.add_argument("--tables", help="comma-separated table names (default: all)")
    parser.add_argument("--splits", help="comma-separated split seeds (default: 0,1,2)")
    parser.add_argument("--methods", help="comma-separated methods (default: all)")
    parser.add_argument("--seconds", help="comma-separated budgets for a smoke run (default: 120 and 300)")
    parser.add_argument("--table")
    parser.add_argument("--split", type=int)
    parser.add_argument("--method")
    args = parser.parse_args(argv)
    listed = lambda text, kind=str: [kind(v) for v in text.split(",")] if text else None  # noqa: E731
    if args.phase == "cell":
        measure_cell(Cell(args.table, args.split, args.method, int(args.seconds)), args.out)
        return
    if args.phase == "run":
        partial = any((args.tables, args.splits, args.methods, args.seconds))
        if partial and args.out.resolve() == OUT.resolve():
            raise SystemExit("part of the plan goes to a scratch --out, not search_results/benchmarks")
        index, lanes = (int(v) for v in args.lane.split("/"))
        cells = lane(plan(listed(args.tables), listed(args.splits, int), listed(args.methods),
                          listed(args.seconds, int)), index, lanes)
        print(f"lane {index}/{lanes}: {len(cells)} cells, {sum(c.path(args.out).is_file() for c in cells)} done")
        run_lane(cells, args.out, execute_in_process_of_its_own)
        return
    summary = write_summary(args.out)
    print(json.dumps({k: v for k, v in finite(summary).items() if k not in ("tables",)}, indent=2))


if __name__ == "__main__":
    main()
