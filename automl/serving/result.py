"""`Search`: what `automl.search` returns and `automl.load` reopens, a handle on one run's folder.

It holds the run (`automl.context.Run`: the track, its family, its store) and nothing the folder does not hold, so a
search begun in a notebook is the same search for ``automl report``, ``automl predict`` and a later `automl.load`.
Its methods are the verbs (predict, evaluate, export); in Jupyter it shows its report (`_repr_html_`).
"""
from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from automl.context import Run
from automl.errors import AutomlError
from automl.selection.choice import candidate_name
from automl.selection.scoring import HeldOutFigures, evaluate
from automl.serving.export import export as export_model
from automl.serving.models import load_best_model
from automl.serving.predict import predict as predict_raw

SHOWN_COLUMNS = ("trial_id", "status", "score", "diagnosis", "params", "latency_p50_ms", "chosen")
SHOWN_TRIALS = 10
CURVES = "learning_curves.png"


class Search:
    """One search: its chosen model, its leaderboard, its report, and predictions on what it searched.

    Examples
    --------
    >>> result = automl.search(frame, target="price", time_limit="5m")
    >>> result.predict(new_rows)          # values, or class labels
    >>> result.leaderboard().head()       # every trial, best first, with its diagnosis
    >>> automl.load("price").report       # the same search, reopened from its folder
    """

    def __init__(self, run: Run, table: pd.DataFrame | None = None) -> None:
        self.run = run
        self._table = table

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def path(self) -> Path:
        """The search's folder, ``<results>/<track>/``."""
        return self.run.store.root

    @property
    def report(self) -> Path:
        """report.html, the search's whole report."""
        return self.run.store.report_html

    @property
    def finished(self) -> bool:
        """Whether a model was chosen, tested and exported (an interrupted search has trials only)."""
        return self.run.store.test_metrics.is_file()

    def best_model(self, by: str = "choice") -> keras.Model:
        """The chosen Keras model (``by="score"``: the top-scoring one); it takes raw columns or raw images."""
        return load_best_model(self._finished_run(), by)

    def predict(self, data: Any, *, by: str = "choice") -> np.ndarray:
        """Values or class labels for `data`: what `search` took (a DataFrame, with or without the target column;
        image files or folders; an array of images of any size)."""
        return predict_raw(self._finished_run(), self.inputs(data), by=by)

    def predict_proba(self, data: Any, *, by: str = "choice") -> pd.DataFrame:
        """Class probabilities for `data`, one column per class."""
        if self.run.track.task == "regression":
            raise AutomlError(f"'{self.name}' is a regression; predict_proba is for classifiers, use predict")
        return predict_raw(self._finished_run(), self.inputs(data), proba=True, by=by)

    def evaluate(self, data: Any, y: Any = None) -> dict[str, float]:
        """The chosen model's figures on labelled data: a DataFrame with the target column, images with their
        labels `y`, or a folder with one subfolder per class (RMSE, MAE, R²; or accuracy, balanced accuracy, F1,
        ROC AUC)."""
        run = self._finished_run()
        schema = run.schema()
        if isinstance(data, pd.DataFrame):
            if schema.target not in data.columns:
                raise AutomlError(f"evaluate needs the target column '{schema.target}' in the DataFrame")
            truth = data[schema.target]
        elif y is not None:
            truth = pd.Series(np.asarray(y).reshape(-1))
        else:
            truth = pd.Series([Path(file).parent.name for file in self._read(data).leading.get("file", [])])
        x = self.inputs(data)
        if len(truth) != len(x):
            raise AutomlError(f"{len(x)} inputs but {len(truth)} labels; give one label per input")
        figures, _ = evaluate(load_best_model(run), run.family, schema, x, self._encoded(truth, schema))
        return figures

    def leaderboard(self) -> pd.DataFrame:
        """Every trial, best score first, with its diagnosis, size, latency and place in the choice (report.csv)."""
        if self._table is None:
            if not self.run.store.report_csv.is_file():
                raise AutomlError(f"search '{self.name}' has no report yet; resume it with automl.search, or run "
                                  f"`automl report --track {self.name}`")
            self._table = pd.read_csv(self.run.store.report_csv)
        return self._table

    @property
    def table(self) -> pd.DataFrame:
        """The leaderboard, as `automl.search` returned it before it returned a `Search`."""
        return self.leaderboard()

    def importance(self) -> pd.DataFrame | None:
        """The chosen model's permutation importance of each raw column (importance.csv), or None (images)."""
        path = self.run.store.importance_csv
        return pd.read_csv(path) if path.is_file() else None

    def export(self, path: str | os.PathLike, *, format: str = "keras", overwrite: bool = False) -> Path:
        """The chosen model as ``<path>/<name>.keras`` or, ``format="savedmodel"``, a SavedModel in `path`."""
        return export_model(self._finished_run(), path, format=format, overwrite=overwrite)

    def inputs(self, data: Any) -> Any:
        """`data` as the model's raw inputs: a DataFrame without its target column; image files and folders
        decoded; images resized to the training size where the model does not resize them itself."""
        schema = self.run.searched().schema()
        if isinstance(data, pd.DataFrame):
            return data.drop(columns=[schema.target], errors="ignore")
        if schema.kind == "table":
            raise AutomlError(f"'{self.name}' predicts rows of a table; give a DataFrame, got {type(data).__name__}")
        if isinstance(data, (str, os.PathLike)) or (isinstance(data, (list, tuple)) and data
                                                   and all(isinstance(p, (str, os.PathLike)) for p in data)):
            return self._read(data).raw
        images = np.asarray(data)
        if schema.kind == "images" and images.ndim == 4 and tuple(images.shape[1:3]) != tuple(schema.image_shape[:2]):
            import tensorflow as tf  # only for an array of another size than an image track's

            images = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(images, schema.image_shape[:2])), 0, 255),
                             tf.uint8).numpy()
        return images

    def _read(self, data: Any):
        schema = self.run.searched().schema()
        paths = [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(p) for p in data]
        return self.run.family.read_inputs(paths, schema, track_name=self.name)

    @staticmethod
    def _encoded(truth: pd.Series, schema) -> np.ndarray:
        if schema.task == "regression":
            return truth.to_numpy(dtype="float64")
        index = {str(c): i for i, c in enumerate(schema.classes)}
        unknown = sorted({str(v) for v in truth if str(v) not in index})
        if unknown:
            raise AutomlError(f"labels {', '.join(unknown[:5])} are not classes of '{schema.target}' "
                              f"({', '.join(map(str, schema.classes))})")
        return np.asarray([index[str(v)] for v in truth], dtype="int64")

    def _finished_run(self) -> Run:
        if not self.finished:
            raise AutomlError(f"search '{self.name}' has no chosen model yet (interrupted before the end); resume it "
                              f"with automl.search, or run `automl report --track {self.name}`")
        return self.run

    def __repr__(self) -> str:
        track = self.run.track
        what = f"Search '{self.name}': {track.task} of {track.data.target or 'the class'} ({', '.join(track.families)})"
        if not self.finished:
            return f"{what}, not finished; its folder is {self.path}."
        tested = HeldOutFigures.read(self.run.store)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in tested.figures.items()
                          if k in ("rmse", "mae", "r2", "accuracy", "balanced_accuracy", "roc_auc"))
        trials = len(self.leaderboard())
        return (f"{what}; {trials} trials, chosen: {candidate_name(tested.trial_id)}, on the test split {shown}; "
                f"report: {self.report}.")

    def _repr_html_(self) -> str:
        return report_html(self)


def report_html(result: Search) -> str:
    """The report in a notebook cell: the chosen model and why, the trials compared, the learning curves."""
    track = result.run.track
    parts = [f"<div class='automl-search'><h3>automl search '{html.escape(result.name)}'</h3>",
             f"<p>{html.escape(track.task)}, objective {html.escape(track.objective)}; folder "
             f"<code>{html.escape(str(result.path))}</code></p>"]
    if not result.finished:
        parts.append("<p>Not finished: no model chosen yet. Resume it with <code>automl.search</code>.</p></div>")
        return "".join(parts)
    parts.append(chosen_section(result.run.store.summary_md))
    table = result.leaderboard()
    shown = table[[c for c in SHOWN_COLUMNS if c in table.columns]].head(SHOWN_TRIALS)
    parts.append(f"<h4>Trials compared (best {len(shown)} of {len(table)})</h4>"
                 + shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    curves = result.run.store.plot(CURVES)
    if curves.is_file():
        encoded = base64.b64encode(curves.read_bytes()).decode("ascii")
        parts.append(f"<h4>Learning curves</h4><img alt='learning curves' style='max-width:100%' "
                     f"src='data:image/png;base64,{encoded}'/>")
    parts.append(f"<p>The whole report: <code>{html.escape(str(result.report))}</code></p></div>")
    return "".join(parts)


def chosen_section(summary: Path) -> str:
    """summary.md's "Chosen model" section (the choice, why, the test split) as HTML: paragraphs and its table."""
    if not summary.is_file():
        return ""
    lines = summary.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Chosen model")), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    out, rows = [f"<h4>{html.escape(lines[start][3:])}</h4>"], []
    for line in [*lines[start + 1:end], ""]:
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
            continue
        if rows:
            head, *body = rows
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
                       + "</table>")
            rows = []
        if line.strip():
            out.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    return "".join(out)
