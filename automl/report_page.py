"""The report's content: the summary, the justification with test figures side by side, the figures, in HTML and Markdown."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from automl import markup, plots
from automl.choice import Choice
from automl.diagnosis import LABELS
from automl.measures import THROUGHPUT_BATCH, TIMED_CALLS
from automl.results import read_histories
from automl.store import Store
from automl.tracks import Track

CURVE_TRIALS = 4  # learning curves of the top trials: enough to compare, few enough to read
MAIN_HYPERPARAMETERS = ["learning_rate", "num_layers", "units_0", "dropout", "batch_size", "optimizer",
                        "activation", "batch_norm", "l2", "num_blocks", "filters", "convs_per_block", "kernel_size"]
HTML_COLUMNS = ["trial_id", "status", "score", "chosen", "top_score", "within_tolerance", "diagnosis",
                "latency_p50_ms", "latency_p95_ms", "rows_per_second", "model_bytes", "params", "seconds",
                "best_epoch", "epochs_run", *MAIN_HYPERPARAMETERS, "diagnosis_detail", "message"]


def comparison(table: pd.DataFrame, choice: Choice, metrics: dict[str, Any], objective: str) -> pd.DataFrame:
    """The chosen and the top-scoring model, measure by measure: validation, test, speed, size, diagnosis."""
    rows = {trial_id: table[table["trial_id"] == trial_id].iloc[0] for trial_id in (choice.trial_id, choice.top_trial_id)}
    chosen, top = rows[choice.trial_id], rows[choice.top_trial_id]
    tests = [k for k in metrics if k not in ("trial_id", "top", "final_fit")]
    lines = [(f"{objective} (validation)", chosen["score"], top["score"])]
    lines += [(f"test {k}", metrics[k], metrics["top"][k]) for k in tests]
    for column, label in (("latency_p50_ms", "CPU latency p50, ms per row (batch 1)"),
                          ("latency_p95_ms", "CPU latency p95, ms per row (batch 1)"),
                          ("rows_per_second", f"rows per second (batch {THROUGHPUT_BATCH})"),
                          ("model_bytes", "saved model, bytes"), ("params", "parameters"),
                          ("seconds", "training seconds"), ("epochs_run", "epochs run"), ("diagnosis", "diagnosis")):
        if column in table:
            lines.append((label, chosen[column], top[column]))
    return pd.DataFrame(lines, columns=["measure", f"chosen: trial {choice.trial_id}",
                                        f"top score: trial {choice.top_trial_id}"])


def summary_lines(track: Track, table: pd.DataFrame, store: Store) -> list[str]:
    runs = store.read_json("runs.json", default=[])
    counts = table["status"].value_counts().to_dict()
    return [
        f"Task: {track.task}; data: {track.data.get('path') or track.data['kind']}, target {track.data.get('target', '')}",
        (f"Tuner: {track.search['tuner']} (max_epochs {track.search['max_epochs']}, "
         f"factor {track.search['factor']}); objective {track.objective} ({track.direction})"),
        f"Trials: {len(table)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})",
        f"Wall time: {sum(r['seconds'] for r in runs):.0f} s over {len(runs)} run(s)",
    ]


def measured_note(table: pd.DataFrame) -> str:
    measured = int(table["latency_p50_ms"].notna().sum()) if "latency_p50_ms" in table else 0
    completed = int((table["status"] == "completed").sum())
    return (
        f"Size and latency were measured for {measured} of {completed} completed trials: those within the tolerance "
        f"and the top few by score; the others are left blank, as measuring every trial would cost more than the "
        f"choice needs. Latency is CPU time on the machine that wrote this report ({os.cpu_count()} cores): the "
        f"saved .keras file loaded back and called through a compiled tf.function, one row per call "
        f"(p50 and p95 over {TIMED_CALLS} calls after warm-up), and batches of {THROUGHPUT_BATCH} rows for throughput."
    )


def diagnosis_counts(table: pd.DataFrame) -> dict[str, int]:
    counts = table["diagnosis"].value_counts().to_dict() if "diagnosis" in table else {}
    return {label: int(counts[label]) for label in LABELS if label in counts}


def make_figures(track: Track, table: pd.DataFrame, choice: Choice, store: Store, y_test: np.ndarray,
                 predicted: np.ndarray) -> list[markup.Figure]:
    """Draw the PNG files under ``plots/`` and return them with their captions."""
    from automl.reporting import PLOTS_DIR
    from automl.results import schema_of

    folder = store.path(PLOTS_DIR)
    objective = track.objective
    top = table[table["score"].notna()].head(CURVE_TRIALS)
    figures = []
    plots.learning_curves(read_histories(store), list(zip(top["trial_id"], top["diagnosis"])), objective,
                          folder / "learning_curves.png")
    figures.append(markup.Figure(f"{PLOTS_DIR}/learning_curves.png",
                               f"Learning curves of the top {len(top)} trials by validation {objective}: "
                               "training (solid) and validation (dashed), with each trial's diagnosis."))
    plots.score_vs_latency(table, choice.trial_id, choice.top_trial_id, choice.threshold, objective,
                           folder / "score_vs_latency.png")
    figures.append(markup.Figure(f"{PLOTS_DIR}/score_vs_latency.png",
                               f"Validation {objective} against CPU latency for the measured trials; the band is "
                               f"the {choice.tolerance:.1%} tolerance, the star the chosen model, the ring the top score."))
    columns = [c for c in MAIN_HYPERPARAMETERS if c in table and table.loc[table["score"].notna(), c].nunique() > 1]
    if columns:
        plots.score_vs_hyperparameters(table, columns, choice.trial_id, objective, folder / "score_vs_hyperparameters.png")
        figures.append(markup.Figure(f"{PLOTS_DIR}/score_vs_hyperparameters.png",
                                   f"Validation {objective} against each main hyperparameter; the star is the chosen model."))
    schema = schema_of(store)
    if track.task == "regression":
        plots.predicted_vs_actual(np.asarray(y_test), np.asarray(predicted), track.data.get("target", ""),
                                  folder / "test_predictions.png")
        caption = f"Chosen model (trial {choice.trial_id}) on the test split: predicted against actual."
    else:
        plots.confusion_matrix(np.asarray(y_test), np.asarray(predicted), schema.classes, folder / "test_predictions.png")
        caption = f"Chosen model (trial {choice.trial_id}) on the test split: confusion matrix."
    figures.append(markup.Figure(f"{PLOTS_DIR}/test_predictions.png", caption))
    return figures


def report_page(track: Track, table: pd.DataFrame, choice: Choice, metrics: dict[str, Any], store: Store,
                y_test: np.ndarray, predicted: np.ndarray) -> str:
    """report.html's text; draws its figures under ``plots/``."""
    from automl.reporting import thresholds_for

    figures = make_figures(track, table, choice, store, y_test, predicted)
    thresholds = thresholds_for(track).__dict__
    return markup.render(
        title=f"{track.name}: search report",
        summary=summary_lines(track, table, store),
        reason=" ".join([choice.reason, *final_fit_lines(metrics.get("final_fit"), track.objective)]).strip(),
        rule=choice.rule(track.objective, track.direction),
        measured_note=measured_note(table),
        comparison=comparison(table, choice, metrics, track.objective),
        diagnoses=diagnosis_counts(table),
        thresholds=thresholds,
        figures=figures,
        trials=table[[c for c in HTML_COLUMNS if c in table.columns]].rename(columns={"score": track.objective}),
        chosen=choice.trial_id,
        top=choice.top_trial_id,
    )


def final_fit_lines(fit: dict[str, Any] | None, objective: str) -> list[str]:
    """What the final fit did, for the summary: nothing when the track has none."""
    if not fit:
        return []
    score = fit["validation"].get(objective, float("nan"))
    what = (f"Final fit: the chosen configuration retrained from scratch on all {fit['train_images']:,} training "
            f"images, {fit['epochs']:g} passes in {fit['seconds'] / 60:.1f} min ({fit['images_per_second']:.0f} "
            f"images/s) on a one-cycle learning rate over the time left, reaching {objective} {score:.4f} "
            f"(the trial's own weights: {fit['trial_score']:.4f}).")
    if fit["used"]:
        what += " The chosen column below is this model; the top-scoring one is its trial's own weights."
    else:
        what += " That is worse, so the trial's own weights stay the chosen model."
    return [what, ""]


def summary_markdown(track: Track, table: pd.DataFrame, choice: Choice, metrics: dict[str, Any], store: Store) -> str:
    """summary.md: the same story as report.html in plain text, for reading in a terminal or a diff."""
    from automl.reporting import REPORT_CSV, REPORT_HTML, terminal_table

    runs = store.read_json("runs.json", default=[])
    side_by_side = comparison(table, choice, metrics, track.objective)
    lines = [
        f"# {track.name}: search summary",
        "",
        *[f"- {line}" for line in summary_lines(track, table, store)],
        "- Diagnoses: " + ", ".join(f"{k} {v}" for k, v in diagnosis_counts(table).items()),
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
        f"## Chosen model: trial {choice.trial_id}",
        "",
        choice.reason,
        "",
        f"Rule: {choice.rule(track.objective, track.direction)}",
        "",
        *final_fit_lines(metrics.get("final_fit"), track.objective),
        "Test split (used once, after the choice), with the top-scoring model beside it:",
        "",
        "| " + " | ".join(side_by_side.columns) + " |",
        "|---|---|---|",
        *[f"| {m} | {_fmt(a)} | {_fmt(b)} |" for m, a, b in side_by_side.itertuples(index=False)],
        "",
        "## Top trials",
        "",
        "```",
        terminal_table(table, track).to_string(index=False),
        "```",
        "",
        f"Every trial: `{REPORT_CSV}`; figures and the full story: `{REPORT_HTML}`.",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return markup.number(value) if isinstance(value, (float, np.floating)) else str(value)
