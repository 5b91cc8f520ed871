"""After a search: diagnose and measure the trials, choose the model, export it, test it once, write the report."""
from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.choice import Choice, choose, score_threshold
from automl.diagnosis import Thresholds, diagnose_trials
from automl.measures import measure_trials
from automl.pruning import KEEP_TOP
from automl.results import (
    BEST_MODEL_FILE,
    TOP_MODEL_FILE,
    best_trial_id,
    load_trial_model,
    no_model_to_choose,
    predict_with,
    read_histories,
    schema_of,
    trials_table,
)
from automl.store import Store
from automl.tracks import Track, load_track

if TYPE_CHECKING:
    from automl.data.images import ImageData
    from automl.data.tabular import TabularData

REPORT_CSV = "report.csv"
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
TEST_METRICS = "test_metrics.json"
PLOTS_DIR = "plots"
TERMINAL_ROWS = 15
# Besides the candidates, measure the top few by score so the speed/score plot has a context (pruning keeps them).
TOP_MEASURED = KEEP_TOP
LATENCY_ROWS = 64  # validation rows cycled through for the latency calls; the test split stays untouched
FIRST_COLUMNS = ["trial_id", "status", "score", "chosen", "top_score", "within_tolerance", "diagnosis",
                 "latency_p50_ms", "latency_p95_ms", "rows_per_second", "model_bytes", "params", "seconds",
                 "best_epoch", "epochs_run"]
LAST_COLUMNS = ["diagnosis_detail", "message"]


def thresholds_for(track: Track) -> Thresholds:
    """The diagnosis thresholds; "stalled" never waits longer than the track's EarlyStopping patience."""
    return Thresholds(stall_epochs=min(Thresholds.stall_epochs, track.search["patience"]))


def report_table(track: str | Track, results_dir: str | os.PathLike | None = None,
                 data=None) -> tuple[pd.DataFrame, Choice | None]:
    """Every trial with its diagnosis, size, latency and place in the choice, best score first; and the choice.

    Size and latency are measured (once, then read from each trial's ``measures.json``) for the
    candidates within the tolerance and the `TOP_MEASURED` best; other trials are left blank.
    """
    track = load_track(track)
    store = Store(track.name, results_dir)
    table = trials_table(track, results_dir)
    if table.empty:
        return table, None
    completed = table["status"].eq("completed") & table["score"].notna()
    top = best_trial_id(table, track.direction) if completed.any() else None
    diagnoses = diagnose_trials(table, read_histories(store), top, objective=track.objective,
                                direction=track.direction, thresholds=thresholds_for(track))
    table = table.merge(diagnoses, on="trial_id", how="left")
    if top is None:
        return _ordered(sort_by_score(table, track.direction)), None
    rows = functools.cache(lambda: _latency_rows(track, data))
    measured = measure_trials(track, trials_to_measure(table, track), store, rows)
    table = table.merge(measured, on="trial_id", how="left")
    choice = choose(table, track.direction, track.search["tolerance"], objective=track.objective)
    table["chosen"] = table["trial_id"] == choice.trial_id
    table["top_score"] = table["trial_id"] == choice.top_trial_id
    table["within_tolerance"] = table["trial_id"].isin(choice.candidates)
    return _ordered(sort_by_score(table, track.direction)), choice


def trials_to_measure(table: pd.DataFrame, track: Track) -> list[str]:
    """The completed trials within the tolerance of the best score, plus the `TOP_MEASURED` best."""
    completed = sort_by_score(table[table["status"].eq("completed") & table["score"].notna()], track.direction)
    best = float(completed["score"].iloc[0])
    threshold = score_threshold(best, track.direction, track.search["tolerance"])
    within = completed["score"] <= threshold if track.direction == "min" else completed["score"] >= threshold
    return list(dict.fromkeys([*completed[within]["trial_id"], *completed["trial_id"].head(TOP_MEASURED)]))


def _latency_rows(track: Track, data) -> dict[str, np.ndarray] | np.ndarray:
    """The model's inputs for the first `LATENCY_ROWS` validation rows (by column), or validation images."""
    from automl.data.tabular import model_inputs
    from automl.tuning import load_data

    data = data or load_data(track)
    if data.schema.kind == "images":
        return data.validation.x[:LATENCY_ROWS]
    return model_inputs(data.validation.x.head(LATENCY_ROWS), data.schema)


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in FIRST_COLUMNS if c in table.columns]
    last = [c for c in LAST_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first + last] + last]


@dataclass
class Finalized:
    """What `finalize` wrote: the test figures (chosen model's, the top one's under ``"top"``), the table, the choice."""

    metrics: dict[str, Any]
    table: pd.DataFrame
    choice: Choice


def finalize(track: str | Track, results_dir: str | os.PathLike | None = None, *,
             data: TabularData | ImageData | None = None, deadline: float | None = None) -> Finalized:
    """Choose the trial, export the chosen and top-scoring models, score both on the test split, write reports.

    The test split is used here only, after the choice, to report the two models side by side. `data` is
    the split the search just used, if at hand; otherwise the track's data is loaded again. A track with
    a final fit (``search.final_fit``) retrains the chosen configuration until `deadline` (the end of
    the search's time limit, on `time.monotonic`), unless it was done already; without a deadline
    (a report of a finished search) the final fit on disk, if any, is the chosen model.
    """
    from automl.final_fit import final_model
    from automl.tuning import load_data

    track = load_track(track)
    store = Store(track.name, results_dir)
    data = data or load_data(track)
    table, choice = report_table(track, results_dir, data=data)
    if choice is None:
        raise no_model_to_choose(table)
    schema = schema_of(store)
    model, final_fit = None, None
    if track.search["final_fit"]:
        score = float(table.loc[table["trial_id"] == choice.trial_id, "score"].iloc[0])
        model, final_fit = final_model(track, store, choice.trial_id, score, data, deadline)
    model = model or load_trial_model(track, choice.trial_id, store)
    model.save(store.path(BEST_MODEL_FILE))
    chosen_metrics, predicted = evaluate(model, schema, data.test.x, data.test.y)
    if choice.top_trial_id == choice.trial_id and not (final_fit and final_fit["used"]):
        shutil.copyfile(store.path(BEST_MODEL_FILE), store.path(TOP_MODEL_FILE))
        top_metrics = chosen_metrics
    else:
        top_model = load_trial_model(track, choice.top_trial_id, store)
        top_model.save(store.path(TOP_MODEL_FILE))
        top_metrics, _ = evaluate(top_model, schema, data.test.x, data.test.y)
    metrics = {"trial_id": choice.trial_id, **chosen_metrics, "top": {"trial_id": choice.top_trial_id, **top_metrics}}
    if final_fit is not None:
        metrics["final_fit"] = final_fit
    store.write_json(TEST_METRICS, metrics)
    write_report(track, table, choice, metrics, store, data.test.y, predicted)
    return Finalized(metrics, table, choice)


def evaluate(model, schema, x: pd.DataFrame, y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Test figures and predictions: RMSE, MAE, R² and values (regression); accuracy, balanced accuracy,
    F1, ROC AUC and class indices (classification)."""
    from sklearn import metrics as skm

    if schema.task == "regression":
        predicted = predict_with(model, schema, x)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
            "rows": len(y),
        }, predicted
    probabilities = predict_with(model, schema, x, proba=True).to_numpy()
    predicted = probabilities.argmax(axis=1)
    binary = schema.task == "binary"
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "f1": float(skm.f1_score(y, predicted, average="binary" if binary else "macro")),
        "roc_auc": float(
            skm.roc_auc_score(y, probabilities[:, 1]) if binary
            else skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=list(range(len(schema.classes))))
        ),
        "rows": len(y),
    }, predicted


def test_metrics(model, schema, x: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """The test figures of `evaluate`, without the predictions."""
    return evaluate(model, schema, x, y)[0]


test_metrics.__test__ = False  # a helper named test_*, not a test: keep pytest from collecting it when imported


def write_report(track: Track, table: pd.DataFrame, choice: Choice, metrics: dict[str, Any], store: Store,
                 y_test: np.ndarray, predicted: np.ndarray) -> None:
    """report.csv, summary.md, plots/*.png and report.html."""
    from automl.report_page import report_page, summary_markdown

    table.to_csv(store.path(REPORT_CSV), index=False)
    store.path(SUMMARY_MD).write_text(summary_markdown(track, table, choice, metrics, store), encoding="utf-8")
    page = report_page(track, table, choice, metrics, store, y_test, predicted)
    store.path(REPORT_HTML).write_text(page, encoding="utf-8")


def sort_by_score(table: pd.DataFrame, direction: str) -> pd.DataFrame:
    return table.sort_values("score", ascending=direction == "min", na_position="last").reset_index(drop=True)


def terminal_table(table: pd.DataFrame, track: Track, rows: int = TERMINAL_ROWS) -> pd.DataFrame:
    """The top trials with the columns a reader scans first."""
    top = sort_by_score(table, track.direction).head(rows).copy()
    if "chosen" in top:
        top["pick"] = [("chosen" if c else "") + ("," if c and t else "") + ("top" if t else "")
                       for c, t in zip(top["chosen"].fillna(False), top["top_score"].fillna(False))]
    wanted = ["trial_id", "pick", "status", "score", "diagnosis", "epochs_run", "num_layers", "units_0",
              "num_blocks", "filters", "convs_per_block",
              "optimizer", "learning_rate", "batch_size", "params", "latency_p50_ms", "seconds"]
    top = top[[c for c in wanted if c in top.columns]]
    for column in ("score", "learning_rate", "latency_p50_ms"):
        if column in top:
            top[column] = top[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return top.rename(columns={"score": track.objective, "latency_p50_ms": "p50_ms"})
