"""The command line: the only module that prints; user mistakes become one line and exit status 2."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from automl.errors import AutomlError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except AutomlError as error:
        print(f"automl: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nautoml: interrupted; finished trials are kept; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl", description="Hyperband search over Keras models, from a track to a production model."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    search = commands.add_parser("search", help="run or resume a track's search")
    search.add_argument("--track", required=True, help="track name (see `automl tracks`) or path to a .toml file")
    search.add_argument("--time-limit", help="wall-clock budget for this run: 90s, 15m, 2h (default: the track's)")
    search.add_argument("--restart", action="store_true", help="delete the previous search and start over")
    _add_results_dir(search)
    search.set_defaults(run=run_search)

    tracks = commands.add_parser("tracks", help="list the tracks")
    tracks.set_defaults(run=run_tracks)

    report = commands.add_parser(
        "report", help="diagnose the trials, choose the model; write report.csv, report.html and summary.md"
    )
    report.add_argument("--track", required=True, help="track name or path to a .toml file")
    _add_results_dir(report)
    report.set_defaults(run=run_report)
    return parser


def _add_results_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", help="where searches live (default: $AUTOML_RESULTS or ./search_results)")


def run_search(args: argparse.Namespace) -> int:
    from automl.tracks import load_track, parse_duration

    track = load_track(args.track)  # fail fast on user mistakes, before TensorFlow loads
    budget = parse_duration(args.time_limit, "--time-limit") if args.time_limit else track.time_limit_seconds
    with quiet_tensorflow():
        from automl import reporting, tuning
    print(f"automl: searching '{track.name}' ({track.task}, {track.search['tuner']}, "
          f"objective {track.objective}) for up to {_duration(budget)}", flush=True)
    progress = TrialProgress(track.objective, track.direction, budget)
    outcome = tuning.search(
        track, time_limit=budget, restart=args.restart, results_dir=args.results_dir,
        on_trial_done=progress, command="automl " + " ".join(sys.argv[1:]) if sys.argv[1:] else "automl search",
    )
    print(f"automl: {outcome.stopped_by} after {_duration(outcome.seconds)}; "
          f"{outcome.trials_after} trials ({outcome.trials_after - outcome.trials_before} this run)", flush=True)
    metrics = reporting.finalize(track, args.results_dir)
    return _print_report(track, args.results_dir, metrics)


def run_report(args: argparse.Namespace) -> int:
    from automl.tracks import load_track

    track = load_track(args.track)
    with quiet_tensorflow():
        from automl import reporting
    metrics = reporting.finalize(track, args.results_dir)
    return _print_report(track, args.results_dir, metrics)


def _print_report(track, results_dir, metrics: dict) -> int:
    from automl import reporting
    from automl.results import BEST_MODEL_FILE, TOP_MODEL_FILE
    from automl.store import Store

    table, choice = reporting.report_table(track, results_dir)  # measures are cached by finalize: none is redone
    store = Store(track.name, results_dir)
    shown = reporting.terminal_table(table, track)
    print(shown.to_string(index=False))
    if len(table) > len(shown):
        print(f"... {len(table) - len(shown)} more trials in {store.path(reporting.REPORT_CSV)}")
    top = metrics["top"]

    def figures(values: dict) -> str:
        return ", ".join(f"{k} {v:.4g}" for k, v in values.items() if k not in ("trial_id", "rows", "top"))

    print(f"chosen: trial {metrics['trial_id']}; test split ({metrics['rows']} rows): {figures(metrics)}")
    if top["trial_id"] != metrics["trial_id"]:
        print(f"top score: trial {top['trial_id']}; test split: {figures(top)}")
    if choice is not None:
        print(f"why: {choice.reason}")
    print(f"wrote {store.path(reporting.REPORT_HTML)}, {store.path(reporting.REPORT_CSV)}, "
          f"{store.path(reporting.SUMMARY_MD)}, "
          f"{store.path(BEST_MODEL_FILE)} (chosen), {store.path(TOP_MODEL_FILE)} (top score)")
    return 0


def run_tracks(args: argparse.Namespace) -> int:
    import automl

    table = automl.tracks()
    if table.empty:
        raise AutomlError("no tracks found; add .toml files to ./tracks or set AUTOML_TRACKS")
    print(table.to_string(index=False))
    return 0


class TrialProgress:
    """One line per finished trial: its score, the best so far, time spent and left."""

    def __init__(self, objective: str, direction: str, budget: float) -> None:
        self.objective, self.direction, self.budget = objective, direction, budget
        self.started = time.monotonic()
        self.best = math.nan
        self.count = 0

    def __call__(self, trial) -> None:
        self.count += 1
        score = trial.score
        if score is not None and math.isfinite(score) and (
            math.isnan(self.best) or (score > self.best if self.direction == "max" else score < self.best)
        ):
            self.best = score
        elapsed = time.monotonic() - self.started
        status = trial.status.lower() if isinstance(trial.status, str) else str(trial.status).lower()
        shown = f"{self.objective} {score:.4g}" if score is not None else status
        print(f"trial {trial.trial_id} {shown} | best {self.best:.4g} | {_duration(elapsed)} elapsed, "
              f"{_duration(max(0.0, self.budget - elapsed))} left", flush=True)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """Import TensorFlow without the CUDA and oneDNN chatter it writes straight to file descriptor 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    yield
