"""automl: Hyperband search over Keras models for tables and images, one command from data to a production model.

The public API is a few verbs that behave the same on every track:

>>> import automl
>>> result = automl.search(frame, target="price")  # a DataFrame (or images, a folder, a track): a `Search`
>>> result.predict(rows); result.leaderboard()    # in Jupyter, `result` shows its report
>>> automl.search("boston", time_limit="5m")      # run or resume a track's search
>>> automl.load("search_results/boston")          # reopen a search from its folder
>>> model = automl.best_model("boston")           # the chosen Keras model; takes raw rows
>>> top = automl.best_model("boston", by="score") # the top-scoring one, for comparison
>>> automl.predict("boston", frame)               # raw rows in, predictions out
>>> automl.predict("cifar10", images)             # image tracks: uint8 (N, 32, 32, 3) in, class names out
>>> automl.report("boston")                       # every trial as a DataFrame, with diagnosis and latency
>>> automl.export("boston", "serving/boston/1", format="savedmodel")   # for TensorFlow Serving
>>> automl.track_from_csv("houses.csv", "price")  # your own CSV -> tracks/houses.toml
>>> automl.track_from_images("photos/")           # your own images, a subfolder per class -> tracks/photos.toml
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pandas as pd

from automl.context import Run
from automl.errors import AutomlError
from automl.serving.registration import register_when_keras_loads
from automl.store import Store
from automl.track.parse import known_tracks, parse_track, track_from_record
from automl.track.sections import Track, same_search

# The verbs import their stages when first called (the imports inside the functions below): the stages bring
# TensorFlow, and `import automl`, like `automl --help`, should not wait for it. cli.py does the same.

__all__ = [
    "AutomlError",
    "Track",
    "best_model",
    "export",
    "load",
    "load_track",
    "predict",
    "report",
    "search",
    "track_from_csv",
    "track_from_images",
    "tracks",
]
__version__ = "0.1.0"

# A model automl saved loads with a plain `keras.models.load_model` once automl is imported (docs/python.md).
register_when_keras_loads()


def search(data: Any, target: Any = None, *, task: str | None = None, time_limit: str | float | None = None,
           name: str | None = None, results_dir: str | os.PathLike | None = None, restart: bool = False,
           seed: int | None = None, verbose: int = 1, keep_checkpoints: bool = False, group: str | None = None,
           time: str | None = None, validation_data: Any = None, test_data: Any = None):
    """Search `data` (or resume its search), then choose, retrain, test, export and report; returns a `Search`.

    Parameters
    ----------
    data : DataFrame, folder, (x, y), str or Track
        A DataFrame of rows (tables, text; `target` names the column to predict), a folder of images (one
        subfolder per class), images and their labels ``(x, y)`` (a uint8 array (N, height, width, 3) or a list of
        image files), a CSV file (with `target`); or a track name (``"boston"``), a track file or a `Track`.
        Data is written under ``./tracks`` with its track file (``tracks/<name>.toml``), so the command line can
        resume, report and serve the same search (``automl search --track <name>``).
    target : str, optional
        The column to predict (a DataFrame, a CSV), or the labels of images given as `data`.
    task : {"regression", "binary", "multiclass"}, optional
        Inferred from the target when not given.
    time_limit : str or float, optional
        Wall-clock budget for this run (``"90s"``, ``"15m"``, ``"2h"``, or seconds); the search stops
        cleanly after the running trial. Defaults to the track's ``search.time_limit``.
    name : str, optional
        The track's name for data given in memory (default: the target's name, or the folder's, or "images").
    restart : bool
        Delete the previous search of that name (and the data written for it) and start over; by default a search
        resumes.
    results_dir : path, optional
        Where searches live; defaults to ``$AUTOML_RESULTS`` or ``./search_results``.
    group, time : str, optional
        A table's split (a DataFrame, a CSV): by the values of the `group` column (a customer, a sender: each on
        one side only), or in the time order of the `time` column (the latest rows are the test split). Neither
        column is a feature. By default the rows are split at random, stratified by class.
    validation_data, test_data : DataFrame or CSV file, optional
        A table's own validation and test rows, with the columns of `data`: the search selects on your validation
        rows and reports the chosen model once on your test rows, instead of carving them off `data` (the one not
        given is carved off `data` at random, ``split.validation`` or ``split.test`` of its rows). A DataFrame is
        written beside the track (``tracks/<name>_validation.csv``), which names both (``data.validation_path``,
        ``data.test_path``). For tables only: images given as arrays or a folder are split at random, by class (a
        folder with ``train/``, ``validation/`` and ``test/`` subfolders keeps its split). Not with `group` or `time`,
        which carve the splits themselves.
    seed : int, optional
        The search's seed (``search.seed``): the same seed, data and budget repeat the same trials.
    verbose : {0, 1, 2}
        As Keras has it: 0 silent, 1 a progress bar (a widget in Jupyter), 2 a line per trial. The lines go to the
        search's ``search.log`` in every case.
    keep_checkpoints : bool
        Keep every trial's weights. By default the checkpoints of trials that can no longer be chosen
        (outside the tolerance of the best score) nor continued by Hyperband are deleted as the search goes.

    Examples
    --------
    >>> result = automl.search(frame, target="price", time_limit="5m")
    >>> result.predict(new_rows)
    >>> result                      # in Jupyter: the report inline
    """
    from automl import pipeline
    from automl.families.own_memory import track_for
    from automl.monitoring.bar import VERBOSE, ProgressBar
    from automl.serving.result import Search

    if verbose not in VERBOSE:
        raise AutomlError(f"verbose={verbose!r}; use 0 (silent), 1 (a progress bar) or 2 (a line per trial)")
    track = track_for(data, target, task=task, name=name, time_limit=time_limit, replace=restart, group=group,
                      time=time, validation_data=validation_data, test_data=test_data)
    run = Run.open(track, results_dir)
    if seed is not None:
        run = dataclasses.replace(run, track=dataclasses.replace(
            run.track, search=dataclasses.replace(run.track.search, seed=int(seed))))
    hooks = ProgressBar(run, verbose, restart=restart)
    try:
        outcome = pipeline.run(run, time_limit=time_limit, restart=restart, hooks=hooks,
                               command=f"automl.search({run.name!r}, time_limit={time_limit!r})",
                               keep_checkpoints=keep_checkpoints)
    finally:
        hooks.close()
    return Search(run, outcome.finished.table)


def load(search: str | os.PathLike, *, results_dir: str | os.PathLike | None = None):
    """Reopen a search, finished or interrupted, from its folder (``search_results/<name>``) or by its name, as
    `search` returned it: a `Search` to predict with, export, or show.

    Its track is the track file the command line finds (``./tracks``, then the built-in tracks) where that file
    describes the same search; otherwise the track the search recorded in its folder (``track.json``), whose data
    paths point where the search read its data, so a search reopens from any directory.

    Examples
    --------
    >>> result = automl.load("search_results/price")
    >>> result.leaderboard().head()
    """
    from automl.serving.result import Search

    folder = Path(search).expanduser()
    if folder.is_dir():
        name, results_dir = folder.resolve().name, folder.resolve().parent
    else:
        name = str(search)
    store = Store(name, results_dir)
    if not store.track_record.is_file():
        raise AutomlError(f"no search '{name}' in {store.root.parent}; give the search's folder "
                          "(search_results/<name>) or its name with results_dir=")
    record = store.read_json(store.track_record)
    here = known_tracks().get(name)
    track = parse_track(here) if here is not None else None
    if track is None or not same_search(track, record):
        track = track_from_record(record, store.track_record)
    return Search(Run.open(track, results_dir).searched())


def best_model(track: str | Track, *, by: str = "choice", results_dir: str | os.PathLike | None = None):
    """The model of the track's search to deploy: a Keras model that takes raw columns.

    Parameters
    ----------
    by : {"choice", "score"}
        ``"choice"`` (default): the model the choice rule picked (within the track's
        ``search.tolerance`` of the best validation score, the fastest, then the smallest).
        ``"score"``: the top-scoring model, kept for comparison.

    Examples
    --------
    >>> automl.best_model("boston").count_params() <= automl.best_model("boston", by="score").count_params()
    """
    from automl.serving.models import load_best_model

    return load_best_model(Run.open(track, results_dir), by=by)


def predict(track: str | Track, data: Any, *, proba: bool = False, by: str = "choice",
            results_dir: str | os.PathLike | None = None) -> Any:
    """Predictions of the chosen model (or ``by="score"``: the top-scoring one): values, class labels, or
    probabilities (`proba=True`).

    `data` is a DataFrame of raw rows for a table track, a uint8 array of images (N, 32, 32, 3) for an
    image track: ``automl.predict("cifar10", images)`` gives class names such as ``"cat"``.
    """
    from automl.serving.predict import predict as predict_raw

    return predict_raw(Run.open(track, results_dir), data, proba=proba, by=by)


def export(track: str | Track, directory: str | os.PathLike, *, format: str = "keras",
           results_dir: str | os.PathLike | None = None, overwrite: bool = False):
    """The chosen model as ``<directory>/<track>.keras`` (``format="keras"``) or as a TF SavedModel in
    `directory` (``format="savedmodel"``) whose ``serving_default`` signature takes the raw columns."""
    from automl.serving.export import export as export_model

    return export_model(Run.open(track, results_dir), directory, format=format, overwrite=overwrite)


def load_track(track: str | os.PathLike | Track) -> Track:
    """Read a track by name (``"boston"``) or path to a ``.toml`` file, validated: the keys every track shares, and
    what its model family checks.

    Examples
    --------
    >>> automl.load_track("boston").task
    'regression'
    """
    return Run.open(track).track


def track_from_csv(csv: str | os.PathLike, target: str, **options: Any):
    """Infer a track from your own CSV and write it to ``tracks/<name>.toml``
    (see `automl.families.own_csv.track_from_csv`).

    Returns the written track (`.path`, `.name`) and the notes on what was inferred (`.notes`);
    pass `.path` to `search`.
    """
    from automl.families.own_csv import track_from_csv as write

    return write(csv, target, **options)


def track_from_images(folder: str | os.PathLike, **options: Any):
    """Write a track for your own folder of images (one subfolder per class) to ``tracks/<name>.toml``
    (see `automl.families.own_images.track_from_images`); returns it as `track_from_csv` does."""
    from automl.families.own_images import track_from_images as write

    return write(folder, **options)


def report(track: str | Track, *, results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every trial of the track's search, one row each, best score first: the table of ``report.csv``.

    Besides the hyperparameters and metrics, each row has its ``diagnosis`` (over-fitting,
    under-fitting, stalled, diverged, healthy) with ``diagnosis_detail`` and the numbers behind it,
    ``model_bytes``, ``latency_p50_ms``, ``latency_p95_ms`` and ``rows_per_second`` (measured for the
    candidates and the top trials, blank for the others), and ``chosen``, ``top_score`` and
    ``within_tolerance``.
    """
    from automl.pipeline import report as report_table

    return report_table(Run.open(track, results_dir))[0]


def tracks() -> pd.DataFrame:
    """The known tracks with their task, data and budget."""
    rows = []
    for name in known_tracks():
        track = load_track(name)
        rows.append({
            "track": track.name, "task": track.task, "family": ", ".join(track.families),
            "data": track.data.path or track.data.kind, "target": track.data.target,
            "objective": track.objective, "tuner": track.search.tuner,
            "max_epochs": track.search.max_epochs, "time_limit": track.search.time_limit,
        })
    return pd.DataFrame(rows)
