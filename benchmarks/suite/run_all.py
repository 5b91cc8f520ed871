"""Run every benchmark side by side in one go and write results.json and a README.md table of the figures.

Usage: python -m benchmarks.suite.run_all [--quick] [--results-dir DIR] [--only PART,...] [--resume] [--run-cifar10]

Real run (hours: 5 searches per tabular track at its own time limit, a 50-trial used-cars search, a
plain Keras Tuner search): writes ``<results-dir>/benchmarks/results.json`` and ``README.md``; the
benchmark's own searches go to ``<results-dir>/benchmarks/work/``, never over the reference runs.
``--quick``: the same code on a few hundred rows per table, 2 seeds and searches of seconds (a smoke run of
a few minutes); writes under ``<results-dir>/benchmarks_quick/`` so it never overwrites real figures.
CIFAR-10 takes 2 hours on its own (``python -m benchmarks.suite.cifar10``): its figures are read from
``<results-dir>/cifar10/benchmark.json`` (or ``--cifar10-json``) unless ``--run-cifar10`` runs it here.
``--only quality,efficiency`` reruns some parts and keeps the other parts' figures from results.json;
``--resume`` after an interruption does not search again the tabular tracks whose quality runs finished.
``--tracks used_cars`` limits the quality, anytime and ensemble parts to some tracks, so that two runs pinned to one
core each (``taskset -c 0 ...`` and ``taskset -c 1 ...``) can share a 2-core machine; they merge what they write
into the same results.json, and a last ``--resume`` run reads every finished track back.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.suite.runs import (
    QUICK_SEEDS,
    ROOT,
    SEEDS,
    TABULAR_TRACKS,
    Context,
    finite,
    machine,
    python_path,
    stamp,
)

BY_TRACK = ("quality", "anytime", "ensemble")  # parts whose details are per track, so that --tracks runs merge
PARTS = ("quality", "anytime", "latency", "efficiency", "overhead", "memory", "disk", "ensemble", "cifar10", "text")
# key -> (what, goal as text, test of the value (given all the figures) or None)
GOALS: dict[str, tuple[str, str, Callable[[float, dict], bool] | None]] = {
    "boston_mae_ratio_vs_gbm": ("1. Boston test MAE (the objective), automl / GBM", "≤ 0.93 (5-min search)",
                                lambda v, _: v <= 0.93),
    "boston_rmse_ratio_vs_gbm": ("1. Boston test RMSE, automl / GBM", "≤ 0.97 (5-min search)", lambda v, _: v <= 0.97),
    "used_cars_mae_ratio_vs_gbm": ("1. Used cars test MAE, automl / GBM", "≤ 0.97 (15-min search)",
                                   lambda v, _: v <= 0.97),
    "caravan_auc_minus_gbm": ("1. Caravan test ROC AUC, automl − GBM chosen on validation", "≥ 0.01",
                              lambda v, _: v >= 0.01),
    "caravan_auc_minus_gbm_grid_best": ("1. Caravan test ROC AUC, automl − the grid's best GBM on test", "≥ 0",
                                        lambda v, _: v >= 0),
    "used_cars_60s_mae_ratio_vs_gbm": ("1b. Used cars test MAE after a 60 s search, automl / GBM", "≤ 1.05",
                                       lambda v, _: v <= 1.05),
    "boston_60s_mae_ratio_vs_gbm": ("1b. Boston test MAE after a 60 s search, automl / GBM", "≤ 1.05",
                                    lambda v, _: v <= 1.05),
    "caravan_60s_auc_minus_gbm": ("1b. Caravan test ROC AUC after a 60 s search, automl − GBM", "≥ −0.01",
                                  lambda v, _: v >= -0.01),
    "used_cars_vs_plain_kt_mae_ratio": ("2. Used cars test MAE, automl / plain Keras Tuner (same time)", "≤ 0.95",
                                        lambda v, _: v <= 0.95),
    "trial_overhead_share": ("3. Share of search time outside model.fit", "≤ 0.05", lambda v, _: v <= 0.05),
    "trial_overhead_growth_s": ("3. Seconds outside fit, last 10 trials of a search − first 10", "≈ 0 (no leak)",
                                None),
    "rss_growth_mb_trial5_to_50": ("4. RSS growth, trial 5 → 50 (MB)", "≤ 200", lambda v, _: v <= 200),
    "used_cars_search_disk_mb": ("5. Disk of a used-cars search (MB)", "≤ k × model size (k checkpoints kept)",
                                 lambda v, f: v <= (f.get("used_cars_k_times_model_mb") or 0)),
    "cifar10_test_accuracy": ("7. CIFAR-10 test accuracy (automl)", "", None),
    "told_br_auc_minus_tfidf": ("8. ToLD-BR test ROC AUC, automl − TF-IDF + logistic regression", "≥ 0",
                                lambda v, _: v >= 0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on tiny data, a few minutes")
    parser.add_argument("--results-dir", default=str(ROOT / "search_results"),
                        help="writes <dir>/benchmarks/ (--quick: <dir>/benchmarks_quick/); reads <dir>/cifar10/")
    parser.add_argument("--only", help=f"comma-separated parts to run: {', '.join(PARTS)}")
    parser.add_argument("--seeds", type=int,
                        help=f"search seeds per tabular track (default {SEEDS}; --quick {QUICK_SEEDS})")
    parser.add_argument("--run-cifar10", action="store_true",
                        help="run benchmarks.suite.cifar10 (2 h; with --quick its 2-minute smoke run) "
                             "instead of reading it")
    parser.add_argument("--cifar10-json", help="read CIFAR-10's figures from this benchmark.json")
    parser.add_argument("--resume", action="store_true",
                        help="after an interrupted run: tabular tracks whose quality searches finished are not redone")
    parser.add_argument("--tracks",
                        help=f"the quality and anytime parts' tracks (default all: {', '.join(TABULAR_TRACKS)})")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir).resolve()
    ctx = Context(quick=args.quick, out=results_dir / ("benchmarks_quick" if args.quick else "benchmarks"),
                  results_dir=results_dir, seeds=args.seeds or (QUICK_SEEDS if args.quick else SEEDS))
    parts = args.only.split(",") if args.only else list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")
    args.tracks = tuple(args.tracks.split(",")) if args.tracks else TABULAR_TRACKS
    if set(args.tracks) - set(TABULAR_TRACKS):
        parser.error(f"unknown track(s) {', '.join(sorted(set(args.tracks) - set(TABULAR_TRACKS)))}; "
                     f"tabular tracks: {', '.join(TABULAR_TRACKS)}")
    ctx.out.mkdir(parents=True, exist_ok=True)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # tf.function retracing warnings: every search retraces by design
    report: dict[str, Any] = {}
    command = " ".join(["python -m benchmarks.suite.run_all", *(argv if argv is not None else sys.argv[1:])])
    invocation = {"command": command,
                  "cores_used": len(os.sched_getaffinity(0)), "started": stamp(), "parts": parts, "commit": commit()}
    report.update(date=stamp(), quick=ctx.quick, machine=machine(), seeds=ctx.seeds, command=invocation["command"],
                  parts={})
    fresh = not args.only
    for part in parts:
        started = time.monotonic()
        print(f"run_all: {part} ...", flush=True)
        ctx.commands = []
        result = run_part(part, ctx, {**_previous(ctx).get("parts", {}), **report["parts"]}, args)
        result["seconds"] = round(time.monotonic() - started, 1)
        result["commands"] = ctx.commands
        report["parts"][part] = result
        report["load_average_end"] = round(os.getloadavg()[0], 2)
        invocation["ended"] = stamp()
        write(ctx, report, invocation, fresh=fresh)
        fresh = False
        print(f"run_all: {part} done in {result['seconds']:g} s: {json.dumps(result.get('figures', {}))}", flush=True)
    print(f"run_all: wrote {ctx.out / 'results.json'} and {ctx.out / 'README.md'}")
    return 0


def run_part(part: str, ctx: Context, done: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """One measure: its figures (the keys of results.json) and the details behind them."""
    if part == "quality":
        from benchmarks.suite.quality import quality

        return quality(ctx, resume=args.resume, tracks=args.tracks)
    if part == "memory":
        from benchmarks.suite.resources import memory

        return memory(ctx)
    if part == "cifar10":
        return cifar10(ctx, args.run_cifar10, args.cifar10_json)
    if part == "text":
        return text(ctx)
    from benchmarks.suite.quality import done_tracks

    # another run pinned to the other core may have finished tracks that results.json does not have yet
    quality_details = {**done_tracks(ctx), **done.get("quality", {}).get("details", {})} or None
    if part == "anytime":
        from benchmarks.suite.anytime import anytime

        return anytime(ctx, quality_details, args.tracks)
    if part == "latency":
        from benchmarks.suite.quality import latency

        return latency(quality_details or {})
    if part == "efficiency":
        from benchmarks.suite.plain_keras_tuner import efficiency

        return efficiency(ctx, quality_details)
    if part == "overhead":
        from benchmarks.suite.resources import overhead

        return overhead(quality_details, done.get("overhead", {}).get("details", {}).get("tracks", {}))
    if part == "disk":
        from benchmarks.suite.resources import disk

        return disk(quality_details)
    from benchmarks.suite.ensemble import ensemble

    return ensemble(ctx, {k: v for k, v in (quality_details or {}).items() if k in args.tracks})


def cifar10(ctx: Context, run: bool, given: str | None) -> dict[str, Any]:
    """CIFAR-10's accuracy against wall time: read from benchmark.json (its own 2-hour run), or run it here."""
    if run:
        results = ctx.work / "cifar10" if ctx.quick else ctx.results_dir
        command = [sys.executable, "-m", "benchmarks.suite.cifar10", "--results-dir", str(results)]
        command += ["--quick"] if ctx.quick else []
        ctx.commands.append(" ".join(["python", *command[1:]]))
        subprocess.run(command, check=True, env=python_path())
        path = results / ("cifar10_quick" if ctx.quick else "cifar10") / "benchmark.json"
        how = "run here"
    else:
        path = Path(given) if given else (None if ctx.quick else ctx.results_dir / "cifar10" / "benchmark.json")
        how = f"read from {path}"
    if path is None or not path.is_file():
        why = ("not run in --quick (add --run-cifar10 for its 2-minute smoke run)" if path is None
               else f"{path} not found: run `python -m benchmarks.suite.cifar10` (2 hours), or pass --run-cifar10")
        return {"figures": {"cifar10_test_accuracy": None}, "details": {"skipped": why}}
    bench = json.loads(path.read_text(encoding="utf-8"))
    plot = path.parent / "plots" / "accuracy_vs_time.png"
    keys = ("test_accuracy", "search_seconds", "trials", "baseline_test_accuracy", "baseline_trials", "date",
            "machine", "quick", "command", "peak_rss_mb", "final_fit_seconds")
    return {"figures": {"cifar10_test_accuracy": bench["test_accuracy"],
                        "cifar10_plain_kt_test_accuracy": bench.get("baseline_test_accuracy")},
            "details": {"how": how, "benchmark_json": str(path), "plot": str(plot) if plot.is_file() else None,
                        **{k: bench.get(k) for k in keys}}}


def text(ctx: Context) -> dict[str, Any]:
    """ToLD-BR: the reference run's test ROC AUC (search_results/told_br, 15 minutes) against the TF-IDF +
    logistic regression a user would reach for, fitted here on the same split."""
    from automl.errors import AutomlError
    from benchmarks.suite.text_baseline import baseline

    if ctx.quick:
        return {"figures": {"told_br_auc_minus_tfidf": None}, "details": {"skipped": "not run in --quick"}}
    try:
        result = baseline("told_br", ctx.results_dir)
    except AutomlError as error:  # the data is not imported on this machine
        return {"figures": {"told_br_auc_minus_tfidf": None}, "details": {"skipped": str(error)}}
    ctx.commands.append("python -m benchmarks.suite.text_baseline --track told_br")
    return {"figures": {"told_br_auc_minus_tfidf": result.get("told_br_auc_minus_tfidf"),
                        "told_br_tfidf_test_roc_auc": result["tfidf_test_roc_auc"],
                        "told_br_test_roc_auc": result.get("automl_test_roc_auc")},
            "details": result}


def commit() -> str | None:
    """The code measured: the repository's commit, "+dirty" when files differ from it (None outside git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + (
            "+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _previous(ctx: Context) -> dict[str, Any]:
    path = ctx.out / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def figures_of(report: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for part in PARTS:
        figures.update(report.get("parts", {}).get(part, {}).get("figures", {}))
    return figures


def write(ctx: Context, report: dict[str, Any], invocation: dict[str, Any], fresh: bool) -> None:
    """results.json (the figures at the top level, each part's details under "parts") and README.md.

    Merged, under a lock, into what results.json holds (unless this is the first write of a run of every
    part): the parts this run measured replace theirs (the quality part track by track), the others stay,
    and `invocation` joins the list of runs that made the file.
    """
    with open(ctx.out / ".results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = {} if fresh else _previous(ctx)
        parts = dict(previous.get("parts", {}))
        for name, result in report["parts"].items():
            parts[name] = _merged_by_track(parts.get(name), result) if name in BY_TRACK else result
        invocations = [i for i in previous.get("invocations", []) if i["started"] != invocation["started"]
                       or i["command"] != invocation["command"]] + [invocation]
        merged = {k: v for k, v in report.items() if k != "parts"} | {"invocations": invocations, "parts": parts}
        figures = finite(figures_of(merged))
        document = finite({k: v for k, v in merged.items() if k != "parts"} | figures | {"parts": parts})
        (ctx.out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        from benchmarks.suite.readme import readme

        (ctx.out / "README.md").write_text(readme(document, GOALS, figures, ctx.out), encoding="utf-8")


def _merged_by_track(previous: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """A part (quality, anytime) of two runs over different tracks: this run's tracks replace the earlier run's."""
    if not previous:
        return result
    details = {**previous.get("details", {}), **result["details"]}
    commands = [c for d in details.values() for c in d.get("commands", [])]
    return {**result, "figures": {**previous.get("figures", {}), **result["figures"]}, "details": details,
            "commands": commands}


if __name__ == "__main__":
    sys.exit(main())
