"""The report's figures as PNG files: learning curves, score against latency and hyperparameters, test-split fit."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# matplotlib's object-oriented Figure, not pyplot: no GUI backend, no global state in the user's process,
# and nothing to close; files are written with the Agg renderer.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

DPI = 100
CATEGORY_LIMIT = 6  # a hyperparameter with at most this many values is plotted as categories...
CONTINUOUS = {"learning_rate", "units_0"}  # ...unless it is searched on a continuous (log) scale
CHOSEN_STYLE = {"marker": "*", "s": 260, "color": "tab:red", "edgecolor": "black", "zorder": 5}
TOP_STYLE = {"marker": "o", "s": 160, "facecolor": "none", "edgecolor": "tab:blue", "linewidth": 2, "zorder": 4}


def learning_curves(records: Mapping[str, Mapping[str, Any]], trials: Sequence[tuple[str, str]], objective: str,
                    path: Path) -> Path:
    """Training and validation loss and objective per epoch, one column per trial; `trials` are (id, diagnosis)."""
    metric = objective.removeprefix("val_")
    figure = Figure(figsize=(3.6 * max(1, len(trials)), 6))
    axes = figure.subplots(2, max(1, len(trials)), squeeze=False)
    for column, (trial_id, diagnosis) in enumerate(trials):
        record = records.get(trial_id, {})
        history = record.get("history", {})
        epochs = [e + 1 for e in record.get("epochs", [])]
        for row, (train, val) in enumerate((("loss", "val_loss"), (metric, objective))):
            axis = axes[row][column]
            for key, style in ((train, "-"), (val, "--")):
                values = history.get(key, [])
                if values:
                    axis.plot(epochs[: len(values)] or range(1, len(values) + 1), values, style, marker=".",
                              label="validation" if key.startswith("val_") else "training")
            axis.set_xlabel("epoch")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
            axis.set_ylabel(train)
            axis.grid(alpha=0.3)
            if row == 0:
                axis.set_title(f"trial {trial_id}\n{diagnosis}", fontsize=10)
                axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def score_vs_latency(table: pd.DataFrame, chosen: str, top: str, threshold: float, objective: str, path: Path) -> Path:
    """Validation score against p50 latency for the measured trials, the tolerance band shaded, the choice marked."""
    measured = table[table["latency_p50_ms"].notna() & table["score"].notna()]
    figure = Figure(figsize=(7, 4.5))
    axis = figure.subplots()
    axis.scatter(measured["latency_p50_ms"], measured["score"], color="tab:gray", label="measured trials")
    for trial_id, style, label in ((top, TOP_STYLE, f"top score (trial {top})"),
                                   (chosen, CHOSEN_STYLE, f"chosen (trial {chosen})")):
        row = measured[measured["trial_id"] == trial_id]
        if not row.empty:
            axis.scatter(row["latency_p50_ms"], row["score"], label=label, **style)
    if len(measured):
        best = measured.loc[measured["trial_id"] == top, "score"]
        if not best.empty:
            axis.axhspan(min(best.iloc[0], threshold), max(best.iloc[0], threshold), color="tab:green", alpha=0.15,
                         label="within tolerance")
    axis.set_xlabel("CPU latency, p50 ms per row at batch 1")
    axis.set_ylabel(f"validation {objective}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def score_vs_hyperparameters(table: pd.DataFrame, columns: Sequence[str], chosen: str, objective: str,
                             path: Path) -> Path:
    """The validation score against each hyperparameter: scatter for numbers, strip per value for choices."""
    completed = table[table["score"].notna()]
    width = min(4, max(1, len(columns)))
    rows = max(1, math.ceil(len(columns) / width))
    figure = Figure(figsize=(3.4 * width, 3.0 * rows))
    axes = figure.subplots(rows, width, squeeze=False)
    for axis, column in zip(axes.flat, columns, strict=False):
        values = completed[column]
        # Few distinct values (layers, dropout steps, L2 choices, booleans) read best as categories.
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and (column in CONTINUOUS or values.nunique() > CATEGORY_LIMIT):
            x = values.astype(float)
        else:
            categories = sorted(values.dropna().unique())
            x = values.map({c: i for i, c in enumerate(categories)})
            labels = [f"{c:g}" if isinstance(c, (float, np.floating)) else str(c) for c in categories]
            axis.set_xticks(range(len(categories)), labels, rotation=30, fontsize=8)
        axis.scatter(x, completed["score"], color="tab:gray", s=18)
        mask = completed["trial_id"] == chosen
        axis.scatter(x[mask], completed.loc[mask, "score"], **{**CHOSEN_STYLE, "s": 140})
        if column == "learning_rate":
            axis.set_xscale("log")
            axis.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a log axis overlap
        axis.set_xlabel(column)
        axis.set_ylabel(objective)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(columns):]:
        axis.axis("off")
    figure.tight_layout()
    return _save(figure, path)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any], path: Path) -> Path:
    """Counts of true class (rows) against predicted class (columns) on the test split."""
    from sklearn.metrics import confusion_matrix as counts_of

    counts = counts_of(y_true, y_pred, labels=list(range(len(classes))))
    figure = Figure(figsize=(1.2 * len(classes) + 3, 1.2 * len(classes) + 2.5))
    axis = figure.subplots()
    axis.imshow(counts, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        axis.text(j, i, str(value), ha="center", va="center",
                  color="white" if value > counts.max() / 2 else "black")
    labels = [str(c) for c in classes]
    axis.set_xticks(range(len(labels)), labels)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title("chosen model, test split")
    figure.tight_layout()
    return _save(figure, path)


def predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray, target: str, path: Path) -> Path:
    """Predicted against actual target on the test split, with the line of perfect predictions."""
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    axis.scatter(y_true, y_pred, s=14, alpha=0.6)
    low, high = float(np.nanmin([y_true.min(), y_pred.min()])), float(np.nanmax([y_true.max(), y_pred.max()]))
    axis.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
    axis.set_xlabel(f"actual {target}")
    axis.set_ylabel(f"predicted {target}")
    axis.set_title("chosen model, test split")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def importance_bars(table: pd.DataFrame, metric: str, flagged: Sequence[str], path: Path) -> Path:
    """Permutation importance per column, most important on top, one standard deviation as whiskers; columns
    the model could do without in grey, possible leaks in red."""
    rows = table.iloc[::-1]  # barh draws from the bottom up
    colours = ["tab:red" if c in flagged else "tab:gray" if n else "tab:blue"
               for c, n in zip(rows["column"], rows["negligible"], strict=True)]
    figure = Figure(figsize=(7, 1.2 + 0.35 * len(rows)))
    axis = figure.subplots()
    axis.barh([str(c) for c in rows["column"]], rows["importance"], xerr=rows["std"], color=colours, capsize=3)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"validation {metric} worsening when the column is shuffled")
    axis.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    return _save(figure, path)


def reliability_diagram(curves: Mapping[str, Any], probability: str, path: Path) -> Path:
    """Observed frequency against predicted probability per split (bins with their rows as marker size),
    with the diagonal of a perfectly calibrated model."""
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="black", linewidth=1, label="perfectly calibrated")
    for name, curve in curves.items():
        sizes = 20 + 200 * curve.rows / max(curve.rows.max(), 1)
        axis.plot(curve.predicted, curve.observed, marker=None, label=name)
        axis.scatter(curve.predicted, curve.observed, s=sizes, alpha=0.6)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel(f"predicted {probability}")
    axis.set_ylabel("observed frequency")
    axis.set_title("chosen model: reliability")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def residuals(predicted: np.ndarray, errors: np.ndarray, target: str, path: Path) -> Path:
    """Actual minus predicted against predicted on the test split: a funnel or a curve shows where it fails."""
    figure = Figure(figsize=(6, 4.5))
    axis = figure.subplots()
    axis.scatter(predicted, errors, s=12, alpha=0.5)
    axis.axhline(0, color="black", linewidth=1)
    axis.set_xlabel(f"predicted {target}")
    axis.set_ylabel("residual (actual - predicted)")
    axis.set_title("chosen model, test split")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def picture_grid(pictures: np.ndarray, captions: Sequence[str], path: Path, columns: int = 4) -> Path:
    """Pictures in a grid, each with its caption (true and predicted class)."""
    rows = max(1, math.ceil(len(pictures) / columns))
    figure = Figure(figsize=(2.2 * columns, 2.5 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, picture, caption in zip(axes.flat, pictures, captions, strict=False):
        axis.imshow(picture.squeeze(), cmap="gray" if picture.shape[-1] == 1 else None)
        axis.set_title(caption, fontsize=8)
    figure.tight_layout()
    return _save(figure, path)
