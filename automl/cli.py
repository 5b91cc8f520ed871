"""The command line: the only module that prints; user mistakes become one line and exit status 2, a machine that
failed under the run (a full disk, a read-only or vanished folder) one line and exit status 3."""
from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from automl import __version__
from automl.context import Run
from automl.data.home import IMPORTABLE
from automl.errors import AutomlError, AutomlWarning, ResourceError, SearchFailed, disk_failure, resource_error
from automl.monitoring.log import SearchLog
from automl.monitoring.progress import duration as _duration
from automl.monitoring.quiet import quiet_tensorflow
from automl.selection.choice import candidate_name
from automl.store import results_root, write_atomic
from automl.tuning import distributed

# The imports inside the functions below are deliberate: the stages they load bring TensorFlow (about 4 s and
# chatter on file descriptor 2), which `automl --help`, `automl search --track nope` and flag mistakes must not
# wait for. Each one sits under `quiet_tensorflow()`; automl/__init__.py does the same for the Python API.

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3  # the machine failed (ResourceError): fix it and rerun the same command to continue
EXIT_INTERRUPTED = 130
_python_show_warning = warnings.showwarning
_shown_notes: set[str] = set()  # each note once per command: `search --csv` reads the CSV twice, and says so once


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    warnings.showwarning = _show_warning
    _shown_notes.clear()
    try:
        return args.run(args)
    except ResourceError as error:
        print(f"automl: stopped: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except AutomlError as error:
        print(f"automl: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SearchFailed as error:
        print(f"automl: failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nautoml: interrupted; finished trials are kept; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        # The net under every stage's own guard: a failure of the machine under the results folder that no stage
        # named is still one line, not a traceback; any other error is a bug, and keeps its traceback.
        root = results_root(getattr(args, "results_dir", None))
        code = disk_failure(error, root)
        if code is None:
            raise
        print(f"automl: stopped: {resource_error(code, root, f'automl {args.command}')}", file=sys.stderr)
        return EXIT_ENVIRONMENT


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """automl's own warnings as one `automl: note:` line; others as Python prints them."""
    if issubclass(category, AutomlWarning):
        if str(message) not in _shown_notes:
            _shown_notes.add(str(message))
            print(f"automl: note: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl", description="Hyperband search over Keras models, from a track to a production model."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    search = commands.add_parser("search", help="run or resume a track's search (or one of your own CSV or images)")
    source = search.add_mutually_exclusive_group(required=True)
    source.add_argument("--track", help="track name (see `automl tracks`) or path to a .toml file")
    source.add_argument("--csv", help="your own CSV: infer a track, write tracks/<name>.toml, search it")
    source.add_argument("--images", metavar="FOLDER", help="your own images, one subfolder per class: write "
                        "tracks/<name>.toml, search it")
    own = search.add_argument_group("with --csv or --images")
    own.add_argument("--name", help="the track's name (default: the CSV's file name without .csv, or the folder's)")
    own.add_argument("--image-size", type=int, metavar="PX", help="--images: the side images are resized to "
                     "(default: chosen from the images and the time limit)")
    own.add_argument("--target", help="the column to predict")
    own.add_argument("--task", choices=["regression", "binary", "multiclass"], help="default: inferred from the target")
    own.add_argument("--drop", action="append", default=[], metavar="COL",
                     help="a column not to learn from (repeat, or separate with commas)")
    own.add_argument("--class-weight", choices=["none", "balanced"],
                     help="classification: weight classes by inverse frequency (default: balanced when imbalanced)")
    own.add_argument("--group", metavar="COL", help="split by this column: each of its values (a customer, a sender) "
                     "on one side only")
    own.add_argument("--time", metavar="COL",
                     help="split in this column's time order: the latest rows are the test split")
    own.add_argument("--drop-bad-images", action="store_true",
                     help="leave out rows whose image file (a column of image paths) is missing or unreadable")
    search.add_argument("--time-limit", help="wall-clock budget for this run: 90s, 15m, 2h (default: the track's)")
    search.add_argument("--restart", action="store_true",
                        help="delete the previous search and start over (with --csv: also rewrite the track file)")
    search.add_argument("--keep-checkpoints", action="store_true",
                        help="keep every trial's weights (by default those that can no longer be chosen nor "
                             "continued are deleted as the search goes)")
    _add_results_dir(search)
    shown = search.add_argument_group("progress").add_mutually_exclusive_group()
    shown.add_argument("--verbose", action="store_true", help="also show Keras' per-epoch progress bars")
    shown.add_argument("--quiet", action="store_true",
                       help="print nothing but notes and errors (the per-trial lines still go to search.log)")
    tracked = search.add_argument_group("tracking and alerts")
    tracked.add_argument("--tensorboard", action="store_true",
                         help="log each trial's curves and hyperparameters (HParams) under <results>/<track>/logs/")
    tracked.add_argument("--mlflow", metavar="URI",
                         help="one MLflow run per trial, and the chosen model, at this tracking URI "
                              "(e.g. file:./mlruns); "
                              "needs pip install 'automl-hyperband[mlflow]'")
    tracked.add_argument("--wandb", action="store_true",
                         help="one Weights & Biases run per trial (WANDB_MODE=offline works without a network); "
                              "needs pip install 'automl-hyperband[wandb]'")
    tracked.add_argument("--notify", metavar="CMD",
                         help="run this shell command with a JSON event on its standard input when a trial sets a "
                              "new best, a trial diverges, and the search ends")
    several = search.add_argument_group("several machines (Keras Tuner's distributed mode; share --results-dir)")
    role = several.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true",
                      help="serve the search's oracle to workers; trains nothing, writes the report at the end")
    role.add_argument("--worker", metavar="HOST:PORT", help="run trials for the chief at this address")
    several.add_argument("--port", type=int,
                         help=f"with --chief: the port to listen on (default {distributed.DEFAULT_PORT})")
    several.add_argument("--worker-id", help="with --worker: a fixed id, so that a restarted worker redoes the trial "
                                             "it was running (default: worker-<host>-<pid>)")
    search.set_defaults(run=run_search)

    tracks = commands.add_parser("tracks", help="list the tracks")
    tracks.set_defaults(run=run_tracks)

    report = commands.add_parser(
        "report", help="diagnose the trials, choose the model; write report.csv, report.html and summary.md"
    )
    report.add_argument("--track", required=True, help="track name or path to a .toml file")
    _add_results_dir(report)
    report.set_defaults(run=run_report)

    predict = commands.add_parser(
        "predict", help="predict the rows of a CSV (image tracks: image files, folders, or a .npy) with a track's model"
    )
    predict.add_argument("--track", required=True, help="track name or path to a .toml file")
    predict.add_argument("input", nargs="+", help="CSV of raw rows with the columns the model was trained on (image "
                         "folder tracks: image files and folders; other image tracks: .npy of uint8 images, or .npz)")
    predict.add_argument("-o", "--output", help="CSV to write (default: standard output)")
    predict.add_argument("--id", dest="id_column", metavar="COL", help="copy this input column first into the output")
    predict.add_argument("--proba", action="store_true", help="classification: add a proba_<class> column per class")
    _add_results_dir(predict)
    predict.set_defaults(run=run_predict)

    export = commands.add_parser("export", help="export the chosen model: a .keras file or a TF SavedModel")
    export.add_argument("--track", required=True, help="track name or path to a .toml file")
    export.add_argument("--format", choices=["keras", "savedmodel"], default="keras",
                        help="keras: DIR/<track>.keras; savedmodel: DIR becomes a SavedModel (default: keras)")
    export.add_argument("directory", metavar="DIR", help="where to write; e.g. serving/<track>/1 for TF Serving")
    export.add_argument("--overwrite", action="store_true", help="replace an existing export")
    _add_results_dir(export)
    export.set_defaults(run=run_export)

    data = commands.add_parser("data", help="manage datasets kept outside the tracks (e.g. CIFAR-10 for offline use)")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    importing = data_commands.add_parser(
        "import", help="check a local copy of a dataset and store it where the loader finds it ($AUTOML_HOME/datasets)"
    )
    importing.add_argument("name", choices=list(IMPORTABLE), help="the dataset")
    importing.add_argument("path", help="cifar10: an npz with x_train, y_train, x_test, y_test as keras.datasets "
                           "returns them; told_br: told_br_toxic.csv (columns text, toxic)")
    importing.set_defaults(run=run_data_import)

    weights = commands.add_parser("weights", help="manage pretrained weights (family \"backbone\") for offline use")
    importing = weights.add_subparsers(dest="weights_command", metavar="ACTION", required=True).add_parser(
        "import", help="check a local copy of a backbone's ImageNet weights and store it where the search finds it "
                       "($AUTOML_HOME/weights)")
    importing.add_argument("name", help="the backbone: mobilenet_v1_0.25, mobilenet_v3_small or efficientnet_b0")
    importing.add_argument("path", help="its no-top weights: the .h5 that keras.applications downloads, or a "
                                        ".weights.h5 that Keras 3 saved")
    importing.set_defaults(run=run_weights_import)
    return parser


def run_data_import(args: argparse.Namespace) -> int:
    from automl.data.images import import_dataset

    stored = import_dataset(args.name, args.path)
    print(f"automl: stored {args.name} in {stored}; its track (--track {args.name}) now loads it from there")
    return 0


def run_weights_import(args: argparse.Namespace) -> int:
    with quiet_tensorflow():  # checking the file builds the backbone, with TensorFlow
        from automl.hypermodels.weights import import_weights

        stored = import_weights(args.name, args.path)
    print(f"automl: stored {args.name}'s weights in {stored}; family \"backbone\" now finds them")
    return 0


def _add_results_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", help="where searches live (default: $AUTOML_RESULTS or ./search_results)")


def run_search(args: argparse.Namespace) -> int:
    role = _role_of(args)  # fail fast on user mistakes, before TensorFlow loads
    run = _open(_track_of_search(args), args.results_dir)
    with quiet_tensorflow():
        from automl import pipeline
        from automl.monitoring.follower import SearchFollower
    log = SearchLog(run.store.search_log(role.tuner_id if role.is_worker else None),
                    show=None if args.quiet else _print_line)
    follower = SearchFollower(log.say, role=role, restart=args.restart, notify=args.notify, mlflow_uri=args.mlflow,
                              wandb=args.wandb)
    outcome = pipeline.run(
        run, time_limit=args.time_limit, restart=args.restart, role=role, hooks=follower,
        command="automl " + " ".join(sys.argv[1:]) if sys.argv[1:] else "automl search",
        verbose=args.verbose, tensorboard=args.tensorboard, keep_checkpoints=args.keep_checkpoints,
    )
    if role.is_worker:
        searched = outcome.searched
        log.say(f"automl: {searched.stopped_by} after {_duration(searched.seconds)}; this worker ran "
                f"{follower.progress.count} trials; the chief writes the report")
        return 0
    if args.quiet:
        return 0
    return _print_report(run, outcome.finished)


def _role_of(args: argparse.Namespace) -> distributed.Role:
    return distributed.role_from_flags(
        as_chief=args.chief, worker_of=args.worker, port=args.port, worker_id=args.worker_id,
        tensorboard=args.tensorboard,
        chief_only={"--restart": args.restart, "--time-limit": args.time_limit, "--notify": args.notify,
                    "--mlflow": args.mlflow, "--wandb": args.wandb})


def _track_of_search(args: argparse.Namespace) -> str:
    """`--track` as given, or the track written for `--csv` or `--images` (what was found printed as notes)."""
    for_csv = [flag for flag, value in {"--target": args.target, "--task": args.task, "--drop": args.drop,
                                        "--class-weight": args.class_weight, "--group": args.group,
                                        "--drop-bad-images": args.drop_bad_images,
                                        "--time": args.time}.items() if value]
    if args.track:
        given = for_csv + [flag for flag, value in {"--name": args.name, "--image-size": args.image_size}.items()
                           if value]
        if given:
            raise AutomlError(f"{', '.join(given)} go with --csv or --images; with --track, edit the track file "
                              "instead")
        return args.track
    if args.images and for_csv:
        raise AutomlError(f"{', '.join(for_csv)} go with --csv; --images learns the class from the subfolders")
    if args.csv and args.image_size:
        raise AutomlError("--image-size goes with --images")
    if args.csv and not args.target:
        raise AutomlError("--csv needs --target COLUMN, the column to predict")
    with quiet_tensorflow():  # the written track is checked by its model family
        from automl.families.own_csv import track_from_csv
        from automl.families.own_images import track_from_images

        if args.images:
            written = track_from_images(args.images, name=args.name, image_size=args.image_size,
                                        time_limit=args.time_limit, replace=args.restart)
        else:
            written = track_from_csv(args.csv, args.target, task=args.task, name=args.name, replace=args.restart,
                                     class_weight=args.class_weight, group=args.group, time=args.time,
                                     drop_bad_images=args.drop_bad_images,
                                     drop=[c.strip() for v in args.drop for c in v.split(",") if c.strip()])
    _notes(written.notes)
    return str(written.path)


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"automl: note: {note}", file=sys.stderr, flush=True)


def _open(track: str, results_dir: str | None) -> Run:
    """The run of `track` in `results_dir`, resolved once; checking the track asks its model family, whose module
    brings TensorFlow."""
    with quiet_tensorflow():
        return Run.open(track, results_dir)


def run_predict(args: argparse.Namespace) -> int:
    run = _open(args.track, args.results_dir).searched()
    with quiet_tensorflow():
        from automl.serving.predict import prediction_table
    read = run.family.read_inputs([Path(p) for p in args.input], run.schema(), track_name=run.name,
                                  id_column=args.id_column)
    _notes(read.notes)
    table = prediction_table(run, read.raw, proba=args.proba, leading=read.leading)
    if not args.output:
        table.to_csv(sys.stdout, index=False)
        return 0
    write_atomic(Path(args.output), lambda path: table.to_csv(path, index=False), "write --output elsewhere")
    print(f"automl: wrote {len(table)} predictions to {args.output}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    run = _open(args.track, args.results_dir).searched()
    with quiet_tensorflow():
        from automl.serving.export import export, served_outputs
        from automl.serving.models import load_best_model
    path = export(run, args.directory, format=args.format, overwrite=args.overwrite)
    print(f"automl: wrote {path}")
    if args.format == "savedmodel":
        # The inputs are the family's; the outputs the model's (a binary one returns its decision too).
        outputs = served_outputs(load_best_model(run))
        print(f"automl: signature 'serving_default' {run.family.signature(run.schema())}; {outputs}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    run = _open(args.track, args.results_dir)
    with quiet_tensorflow():
        from automl import pipeline
    return _print_report(run, pipeline.finish(run))


def _print_report(run: Run, finished) -> int:
    from automl.reporting.summary import terminal_table  # loaded with the pipeline, which wrote the report

    tested, table, choice, store = finished.tested, finished.table, finished.choice, run.store
    shown = terminal_table(table, run)
    print(shown.to_string(index=False))
    if len(table) > len(shown):
        print(f"... {len(table) - len(shown)} more trials in {store.report_csv}")

    def figures(values: dict) -> str:
        return ", ".join(f"{k} {v:.4g}" for k, v in values.items()
                         if k not in ("trial_id", "rows") and isinstance(v, (int, float)))

    print(f"chosen: {candidate_name(tested.trial_id)}; test split ({tested.rows} rows): {figures(tested.figures)}")
    if tested.top["trial_id"] != tested.trial_id:
        print(f"top score: {candidate_name(tested.top['trial_id'])}; test split: {figures(tested.top)}")
    if choice is not None:
        print(f"why: {choice.reason}")
    print(f"wrote {store.report_html}, {store.report_csv}, {store.summary_md}, "
          f"{store.best_model} (chosen), {store.top_model} (top score)")
    return 0


def run_tracks(args: argparse.Namespace) -> int:
    import automl

    with quiet_tensorflow():
        table = automl.tracks()
    if table.empty:
        raise AutomlError("no tracks found; add .toml files to ./tracks or set AUTOML_TRACKS")
    print(table.to_string(index=False))
    return 0


def _print_line(line: str) -> None:
    print(line, flush=True)
