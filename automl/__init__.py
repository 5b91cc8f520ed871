"""automl: Hyperband search over Keras models for tables and images, one command from data to a production model.

The public API is a few verbs that behave the same on every track:

>>> import automl
>>> automl.search("boston", time_limit="5m")      # run or resume the search
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

import os
from typing import Any

import pandas as pd

from automl.context import Run
from automl.errors import AutomlError
from automl.serving.registration import register_when_keras_loads
from automl.track.parse import known_tracks
from automl.track.sections import Track

# The verbs import their stages when first called (the imports inside the functions below): the stages bring
# TensorFlow, and `import automl`, like `automl --help`, should not wait for it. cli.py does the same.

__all__ = [
    "AutomlError",
    "Track",
    "best_model",
    "export",
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


def search(track: str | Track, *, time_limit: str | float | None = None, restart: bool = False,
           results_dir: str | os.PathLike | None = None, keep_checkpoints: bool = False) -> pd.DataFrame:
    """Run or resume the track's search, then choose, export and test the model; returns `report(track)`.

    Parameters
    ----------
    track : str or Track
        A track name (``"boston"``), a path to a track file, or a loaded `Track`.
    time_limit : str or float, optional
        Wall-clock budget for this run (``"90s"``, ``"15m"``, ``"2h"``, or seconds); the search stops
        cleanly after the running trial. Defaults to the track's ``search.time_limit``.
    restart : bool
        Delete the track's previous search and start over; by default a search resumes.
    results_dir : path, optional
        Where searches live; defaults to ``$AUTOML_RESULTS`` or ``./search_results``.
    keep_checkpoints : bool
        Keep every trial's weights. By default the checkpoints of trials that can no longer be chosen
        (outside the tolerance of the best score) nor continued by Hyperband are deleted as the search goes.
    """
    from automl import pipeline

    outcome = pipeline.run(Run.open(track, results_dir), time_limit=time_limit, restart=restart,
                           command=f"automl.search({str(track)!r}, time_limit={time_limit!r})",
                           keep_checkpoints=keep_checkpoints)
    return outcome.finished.table


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
