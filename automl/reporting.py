"""After a search: choose the model, export it, measure it once on the test split, write the report."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from automl.results import (
    BEST_MODEL_FILE,
    best_trial_id,
    load_trial_model,
    predict_with,
    schema_of,
    trials_table,
)
from automl.store import Store
from automl.tracks import Track, load_track

REPORT_CSV = "report.csv"
SUMMARY_MD = "summary.md"
TEST_METRICS = "test_metrics.json"
TERMINAL_ROWS = 15


def finalize(track: str | Track, results_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Choose the trial, export its model as one `.keras` file, score it on the test split, write reports.

    The test split is used here only, after selection, to report the chosen model.
    """
    from automl.tuning import load_data

    track = load_track(track)
    store = Store(track.name, results_dir)
    table = trials_table(track, results_dir)
    chosen = best_trial_id(table, track.direction)
    model = load_trial_model(track, chosen, store)
    model.save(store.path(BEST_MODEL_FILE))
    data = load_data(track)
    metrics = {"trial_id": chosen, **test_metrics(model, schema_of(store), data.test.x, data.test.y)}
    store.write_json(TEST_METRICS, metrics)
    write_report(track, table, metrics, store)
    return metrics


def test_metrics(model, schema, x: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R² (regression); accuracy, balanced accuracy, F1, ROC AUC (classification)."""
    from sklearn import metrics as skm

    if schema.task == "regression":
        predicted = predict_with(model, schema, x)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
            "rows": len(y),
        }
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
    }


def write_report(track: Track, table: pd.DataFrame, metrics: dict[str, Any], store: Store) -> None:
    ordered = sort_by_score(table, track.direction)
    ordered.to_csv(store.path(REPORT_CSV), index=False)
    store.path(SUMMARY_MD).write_text(summary_markdown(track, ordered, metrics, store), encoding="utf-8")


def sort_by_score(table: pd.DataFrame, direction: str) -> pd.DataFrame:
    return table.sort_values("score", ascending=direction == "min", na_position="last").reset_index(drop=True)


def summary_markdown(track: Track, table: pd.DataFrame, metrics: dict[str, Any], store: Store) -> str:
    runs = store.read_json("runs.json", default=[])
    chosen = table[table["trial_id"] == metrics["trial_id"]].iloc[0]
    counts = table["status"].value_counts().to_dict()
    hyperparameters = {
        k: v for k, v in chosen.items()
        if k not in _NON_HYPERPARAMETERS and not k.startswith(("train_", "val_")) and pd.notna(v)
    }
    lines = [
        f"# {track.name}: search summary",
        "",
        f"- Task: {track.task}; data: `{track.data.get('path') or track.data['kind']}`, target `{track.data.get('target', '')}`",
        (f"- Tuner: {track.search['tuner']} (max_epochs {track.search['max_epochs']}, factor {track.search['factor']}); "
        f"objective `{track.objective}` ({track.direction})"),
        f"- Trials: {len(table)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})",
        f"- Wall time: {sum(r['seconds'] for r in runs):.0f} s over {len(runs)} run(s)",
        "",
        "## Runs",
        "",
        "| finished | command | seconds | stopped by | trials before → after |",
        "|---|---|---|---|---|",
        *[
            f"| {r['finished']} | `{r.get('command', '')}` | {r['seconds']:.0f} | {r['stopped_by']} | "
            f"{r['trials_before']} → {r['trials_after']} |"
            for r in runs
        ],
        "",
        f"## Chosen model: trial {metrics['trial_id']}",
        "",
        (f"Best validation {track.objective}: {chosen['score']:.4g} (epoch {chosen['best_epoch']:.0f}); "
        f"{int(chosen['params']):,} parameters."),
        "",
        "Test split (used once, after selection):",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in metrics.items() if k not in ("trial_id", "rows")],
        f"| rows | {metrics['rows']} |",
        "",
        "Hyperparameters: " + ", ".join(f"`{k}={_fmt(v)}`" for k, v in hyperparameters.items()),
        "",
        "## Top trials",
        "",
        "```",
        terminal_table(table, track).to_string(index=False),
        "```",
        "",
        f"Every trial: `{REPORT_CSV}`.",
        "",
    ]
    return "\n".join(lines)


_NON_HYPERPARAMETERS = {
    "trial_id", "status", "score", "best_epoch", "epochs_run", "params", "seconds", "message",
    "budget_epochs", "initial_epoch", "bracket", "round", "continues_trial",
}


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def terminal_table(table: pd.DataFrame, track: Track, rows: int = TERMINAL_ROWS) -> pd.DataFrame:
    """The top trials with the columns a reader scans first."""
    wanted = ["trial_id", "status", "score", "best_epoch", "epochs_run", "num_layers", "units_0",
              "optimizer", "learning_rate", "batch_size", "dropout", "params", "seconds"]
    columns = [c for c in wanted if c in table.columns]
    top = sort_by_score(table, track.direction).head(rows)[columns].copy()
    for column in ("score", "learning_rate", "dropout"):
        if column in top:
            top[column] = top[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return top.rename(columns={"score": track.objective})
