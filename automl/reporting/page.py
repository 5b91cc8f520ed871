"""report.html: the summary, the justification with test figures side by side, the figures and every trial."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from automl.context import Run
from automl.data.schema import Schema
from automl.reporting import markup, plots
from automl.reporting.explanation import explanation_sections
from automl.reporting.techniques import techniques_lines
from automl.selection.choice import Choice, candidate_name
from automl.selection.compare import best_of_each
from automl.selection.diagnosis import LABELS
from automl.selection.explain import Explanation
from automl.selection.measures import THROUGHPUT_BATCH, TIMED_CALLS
from automl.selection.scoring import HeldOutFigures
from automl.selection.table import thresholds_for
from automl.selection.trials import is_ensemble
from automl.store import ENSEMBLE_ID
from automl.track.sections import Track

CURVE_TRIALS = 4  # learning curves of the top trials: enough to compare, few enough to read
SHARED_HYPERPARAMETERS = ("learning_rate", "batch_size", "optimizer")  # every search space has them
HTML_COLUMNS = ["trial_id", "status", "score", "chosen", "top_score", "within_tolerance", "diagnosis",
                "latency_p50_ms", "latency_p95_ms", "rows_per_second", "model_bytes", "params", "seconds",
                "best_epoch", "epochs_run"]  # then the main hyperparameters, then:
LAST_HTML_COLUMNS = ["diagnosis_detail", "message"]


def main_hyperparameters(run: Run) -> list[str]:
    """The hyperparameters the report shows: the run's family's main ones, then those every space shares."""
    return list(dict.fromkeys([*run.family.main_hyperparameters, *SHARED_HYPERPARAMETERS]))


def comparison(table: pd.DataFrame, choice: Choice, tested: HeldOutFigures, objective: str) -> pd.DataFrame:
    """The chosen and the top-scoring model, measure by measure: validation, test, speed, size, diagnosis."""
    rows = {trial_id: table[table["trial_id"] == trial_id].iloc[0]
            for trial_id in (choice.trial_id, choice.top_trial_id)}
    chosen, top = rows[choice.trial_id], rows[choice.top_trial_id]
    # The figures both models have; the chosen model's decision threshold has a section of its own.
    tests = tested.shared()
    # A final fit of several networks averaged is measured on its own: its trial's speed and size are not its own.
    final_fit = tested.final_fit or {}
    own = {**final_fit.get("measures", {}), "params": final_fit["params"]} if "params" in final_fit else {}
    lines = [(f"{objective} (validation)", chosen["score"], top["score"])]
    lines += [(f"test {k}", tested.figures[k], tested.top[k]) for k in tests]
    for column, label in (("latency_p50_ms", "CPU latency p50, ms per row (batch 1)"),
                          ("latency_p95_ms", "CPU latency p95, ms per row (batch 1)"),
                          ("rows_per_second", f"rows per second (batch {THROUGHPUT_BATCH})"),
                          ("model_bytes", "saved model, bytes"), ("params", "parameters"),
                          ("seconds", "training seconds"), ("epochs_run", "epochs run"), ("diagnosis", "diagnosis")):
        if column in table:
            lines.append((label, own.get(column, chosen[column]), top[column]))
    return pd.DataFrame(lines, columns=["measure", f"chosen: {candidate_name(choice.trial_id)}",
                                        f"top score: {candidate_name(choice.top_trial_id)}"])


def summary_lines(run: Run, table: pd.DataFrame, schema: Schema | None) -> list[str]:
    track = run.track
    runs = run.store.read_json(run.store.runs_record, default=[])
    ensemble = is_ensemble(table)
    trials = table[~ensemble]
    counts = trials["status"].value_counts().to_dict()
    return [
        f"Task: {track.task}; {run.family.describe_data(track, schema)}",
        (f"Tuner: {track.search.tuner} (max_epochs {track.search.max_epochs}, "
         f"factor {track.search.factor}); objective {track.objective} ({track.direction})"),
        f"Trials: {len(trials)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
        + ("; and the best trials' ensemble" if ensemble.any() else ""),
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


def make_figures(run: Run, table: pd.DataFrame, choice: Choice, y_test: np.ndarray,
                 predicted: np.ndarray) -> list[markup.Figure]:
    """Draw the PNG files under ``plots/`` and return them with their captions."""
    track, store, schema = run.track, run.store, run.schema()
    objective = track.objective
    top = table[table["score"].notna() & ~is_ensemble(table)].head(CURVE_TRIALS)  # trials have curves
    figures = []
    plots.learning_curves(store.histories(), list(zip(top["trial_id"], top["diagnosis"], strict=True)), objective,
                          store.plot("learning_curves.png"))
    figures.append(markup.Figure(store.plot_link("learning_curves.png"),
                               f"Learning curves of the top {len(top)} trials by validation {objective}: "
                               "training (solid) and validation (dashed), with each trial's diagnosis."))
    plots.score_vs_latency(table, choice.trial_id, choice.top_trial_id, choice.threshold, objective,
                           store.plot("score_vs_latency.png"))
    figures.append(markup.Figure(store.plot_link("score_vs_latency.png"),
                               f"Validation {objective} against CPU latency for the measured trials; the band is "
                               f"the {choice.tolerance:.1%} tolerance, the star the chosen model, "
                               "the ring the top score."))
    columns = [c for c in main_hyperparameters(run)
               if c in table and table.loc[table["score"].notna(), c].nunique() > 1]
    if columns:
        plots.score_vs_hyperparameters(table, columns, choice.trial_id, objective,
                                       store.plot("score_vs_hyperparameters.png"))
        figures.append(markup.Figure(store.plot_link("score_vs_hyperparameters.png"),
                                   f"Validation {objective} against each main hyperparameter; "
                                   "the star is the chosen model."))
    if track.task == "regression":
        plots.predicted_vs_actual(np.asarray(y_test), np.asarray(predicted), schema.target,
                                  store.plot("test_predictions.png"))
        caption = f"Chosen model ({candidate_name(choice.trial_id)}) on the test split: predicted against actual."
    else:
        plots.confusion_matrix(np.asarray(y_test), np.asarray(predicted), schema.classes,
                               store.plot("test_predictions.png"))
        caption = f"Chosen model ({candidate_name(choice.trial_id)}) on the test split: confusion matrix."
    figures.append(markup.Figure(store.plot_link("test_predictions.png"), caption))
    return figures


def report_page(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures, y_test: np.ndarray,
                predicted: np.ndarray, explanation: Explanation | None = None) -> str:
    """report.html's text; draws its figures under ``plots/``."""
    track = run.track
    figures = make_figures(run, table, choice, y_test, predicted)
    thresholds = thresholds_for(track).__dict__
    return markup.render(
        title=f"{track.name}: search report",
        summary=summary_lines(run, table, run.schema()),
        reason=" ".join([choice.reason, *final_fit_lines(tested.final_fit, track),
                         *refit_lines(tested.refit),
                         *techniques_lines(run, table, choice, tested)]).strip(),
        rule=choice.rule(track.objective, track.direction),
        measured_note=measured_note(table),
        comparison=comparison(table, choice, tested, track.objective),
        diagnoses=diagnosis_counts(table),
        thresholds=thresholds,
        figures=figures,
        trials=table[[c for c in [*HTML_COLUMNS, *main_hyperparameters(run), *LAST_HTML_COLUMNS]
                      if c in table.columns]].rename(columns={"score": track.objective}),
        chosen=choice.trial_id,
        top=choice.top_trial_id,
        sections=[*kinds_sections(run, table, choice, tested), *explanation_sections(explanation, run.store)],
    )


def kinds_lines(run: Run, table: pd.DataFrame, choice: Choice,
                tested: HeldOutFigures) -> tuple[list[str], pd.DataFrame] | None:
    """Which kind of network won (each family, each text encoder, ...), at what latency, and which went to
    production: the best trial of each kind side by side, with its test figures where they were measured
    (`HeldOutFigures.compared`); None when the search had one kind."""
    track, by = run.track, run.family.compared_by
    best = best_of_each(table, by, track.direction)
    if len(best) < 2:
        return None
    compared = tested.compared
    for key in dict.fromkeys(k for figures in compared.values() for k in figures if k not in ("trial_id", "rows")):
        best[f"test_{key}"] = [compared.get(str(kind), {}).get(key, np.nan) for kind in best[by]]
    won, others = best.iloc[0], best.iloc[1:]
    speed = lambda row: (f", p50 latency {row['latency_p50_ms']:.3g} ms"  # noqa: E731
                         if pd.notna(row.get("latency_p50_ms")) else "")
    lines = [f"The search compared {len(best)} kinds of network ({by}); the best trial of each, best validation "
             f"{track.objective} first. {won[by]} won: trial {won['trial_id']}, {track.objective} "
             f"{won['score']:.4g}{speed(won)}; "
             + "; ".join(f"{row[by]}: trial {row['trial_id']}, {row['score']:.4g}{speed(row)}"
                         for _, row in others.iterrows()) + "."]
    chosen = table.loc[table["trial_id"] == choice.trial_id].iloc[0]
    if by in chosen and pd.notna(chosen[by]):
        lines.append(f"To production: {chosen[by]} (trial {choice.trial_id}). {choice.reason}")
    elif choice.trial_id == ENSEMBLE_ID:
        lines.append(f"To production: the ensemble of the best trials, whatever their kind. {choice.reason}")
    if compared:
        lines.append("The test figures are each kind's best trial's own weights, on the test split the search never "
                     "saw; they are shown, not used to choose.")
    return lines, best.rename(columns={"score": track.objective})


def kinds_sections(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures) -> list[markup.Section]:
    found = kinds_lines(run, table, choice, tested)
    if found is None:
        return []
    lines, best = found
    return [markup.Section(heading="Networks compared", section_id="networks-compared", paragraphs=lines,
                           tables=[("networks_compared", best)])]


def final_fit_lines(fit: dict[str, Any] | None, track: Track) -> list[str]:
    """What the final fit did, for the summary: nothing when the track has none."""
    if not fit:
        return []
    objective = track.objective
    score = fit["validation"].get(objective, float("nan"))
    unit = fit.get("unit") or track.examples  # a record written before tables had a final fit does not say
    members = fit.get("members", 1)
    networks = (f"{members} networks of the chosen configuration trained from scratch (their own seeds) and "
                f"averaged, each" if members > 1 else "the chosen configuration retrained from scratch")
    what = (f"Final fit: {networks} on all {fit['train_images']:,} training "
            f"{unit}, {fit['epochs']:g} passes{' in all' if members > 1 else ''} in {fit['seconds'] / 60:.1f} min "
            f"({fit['images_per_second']:.0f} "
            f"{unit}/s) on a one-cycle learning rate over {'its share of ' if members > 1 else ''}the time left, "
            f"reaching {objective} {score:.4f} (the trial's own weights: {fit['trial_score']:.4f}")
    scores = fit.get("member_scores")
    what += f"; each network alone: {', '.join(f'{v:.4f}' for v in scores)})." if scores else ")."
    if fit["used"]:
        what += " The chosen column below is this model; the top-scoring one is its trial's own weights."
    else:
        what += " That is worse, so the trial's own weights stay the chosen model."
    return [what, ""]


def refit_lines(refit: dict[str, Any] | None) -> list[str]:
    """What the refit on training + validation did (`automl.tuning.refit`), for the summary: nothing without one."""
    if not refit:
        return []
    if not refit["epochs_run"]:
        return [f"Refit on training + validation: not run, by the rule fixed in advance: {refit['reason']}. The "
                "trial's own weights are the model.", ""]
    what = (f"Refit: the chosen configuration retrained from scratch on training + validation ({refit['rows']:,} "
            f"rows), {refit['epochs_run']} of the {refit['epochs_planned']} epochs its trial found best, in "
            f"{refit['seconds']:.0f} s.")
    if refit["used"]:
        own = refit.get("trial_model_test", {})
        figures = ", ".join(f"{k} {own[k]:.4g}" for k in ("mae", "rmse", "roc_auc", "accuracy") if k in own)
        what += (f" It is the model in production, by the rule fixed in advance: it {refit['reason']}. The chosen "
                 f"column below is the refit; the trial's own weights scored {figures} on the test split.")
    else:
        what += f" Not used, by the rule fixed in advance: {refit['reason']}; the trial's own weights are the model."
    return [what, ""]
