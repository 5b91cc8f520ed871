"""The report's sections about the chosen model: what it relies on (and possible leakage), its calibration, its
decision threshold and its mistakes, for the page and summary.md; draws their figures under ``plots/``."""
from __future__ import annotations

import pandas as pd

from automl.reporting import markup, plots
from automl.selection.explain import Explanation
from automl.selection.importance import NEGLIGIBLE_SHARE, Importance, negligible_columns
from automl.store import Store

IMPORTANCE_PNG = "importance.png"
CALIBRATION_PNG = "calibration.png"
RESIDUALS_PNG = "residuals.png"
MISTAKES_PNG = "worst_mistakes.png"


def explanation_sections(explanation: Explanation | None, store: Store) -> list[markup.Section]:
    """The page's sections for `explanation`, their figures drawn; none for a report without one."""
    if explanation is None:
        return []
    sections = (importance_section(explanation, store), calibration_section(explanation, store),
                threshold_section(explanation), mistakes_section(explanation, store))
    return [section for section in sections if section is not None]


def importance_section(explanation: Explanation, store: Store) -> markup.Section | None:
    importance = explanation.importance
    if importance is None:
        return None
    flagged = [leak.column for leak in explanation.leaks]
    plots.importance_bars(importance.table, importance.metric, flagged, store.plot(IMPORTANCE_PNG))
    caption = (f"Permutation importance on the validation split: how much {importance.metric} worsens when one "
               f"column is shuffled (mean of {importance.repeats} shuffles, whiskers one standard deviation). "
               "Grey: columns the model could do without; red: possible leakage.")
    return markup.Section(
        heading="What the model relies on",
        section_id="importance",
        warnings=[f"Possible leakage: {leak.message()}." for leak in explanation.leaks],
        paragraphs=importance_lines(explanation.model, importance),
        tables=[("importance", importance_frame(importance))],
        figures=[markup.Figure(store.plot_link(IMPORTANCE_PNG), caption)],
    )


def calibration_section(explanation: Explanation, store: Store) -> markup.Section | None:
    found = explanation.calibration
    if found is None:
        return None
    plots.reliability_diagram(found.curves, found.probability, store.plot(CALIBRATION_PNG))
    caption = (f"Reliability of the chosen model: observed frequency against the predicted {found.probability}, "
               "in 10 bins (marker size: rows in the bin); on the diagonal, a probability means what it says.")
    return markup.Section(
        heading="How far its probabilities can be trusted",
        section_id="calibration",
        paragraphs=[calibration_line(explanation)],
        figures=[markup.Figure(store.plot_link(CALIBRATION_PNG), caption)],
    )


def threshold_section(explanation: Explanation) -> markup.Section | None:
    found = explanation.threshold
    if found is None:
        return None
    table = found.test.rename(columns={"at_0.5": "at 0.5", "at_threshold": f"at {found.searched:.4g} (searched)"})
    table.index = table.index.str.replace("_", " ")
    return markup.Section(heading="Decision threshold", section_id="decision-threshold",
                          paragraphs=threshold_lines(explanation),
                          tables=[("decision_threshold", table.rename_axis("test split").reset_index())])


def threshold_lines(explanation: Explanation) -> list[str]:
    """What the decision threshold is, where it came from and who uses it; not the choice rule's score threshold."""
    found = explanation.threshold
    metric = found.metric.replace("_", " ")
    searched = (f"The threshold that maximises {metric} on the validation split ({found.validation_rows:,} rows, "
                f"for {explanation.model}) is {found.searched:.4g}: {found.validation['at_threshold']:.4g} there, "
                f"against {found.validation['at_0.5']:.4g} at 0.5. Searched again on bootstrap resamples of that "
                f"split and judged on the rows each left out, a searched threshold gains {found.gain:+.3f} over 0.5")
    if found.used_searched:
        used = f"{searched}, so it is used."
    else:
        used = (f"{searched}: the gain on validation is noise, so 0.5 stays (a model trained with balanced class "
                "weights is already centred there).")
    return [f"The decision threshold is the probability of '{found.positive}' from which the model says "
            f"'{found.positive}': {found.value:.4g}. {used} It is stored in best_model.keras, where automl predict "
            "and the exported SavedModel's 'decision' output find it. (Not to be confused with the choice rule's "
            "score threshold.)",
            "Below, the test figures at 0.5 and at the searched threshold, side by side; they are shown, not used "
            "to decide."]


def mistakes_section(explanation: Explanation, store: Store) -> markup.Section | None:
    found = explanation.mistakes
    if found is None:
        return None
    figures, tables = [], []
    if found.residuals is not None:
        plots.residuals(found.predicted, found.residuals, found.target, store.plot(RESIDUALS_PNG))
        figures.append(markup.Figure(store.plot_link(RESIDUALS_PNG), "Residuals (actual - predicted) against the "
                                     "prediction on the test split: a funnel or a bend shows where the model fails."))
    if found.worst_rows is not None:
        tables.append(("worst_rows", found.worst_rows))
    if found.confused is not None and len(found.confused):
        tables.append(("confused_pairs", found.confused))
    if found.pictures is not None:
        plots.picture_grid(found.pictures, found.captions, store.plot(MISTAKES_PNG))
        figures.append(markup.Figure(store.plot_link(MISTAKES_PNG), "The test images the model got wrong most "
                                     "confidently, with their true and predicted classes (and its probability)."))
    what = ("the test rows with the largest errors, with their raw columns" if found.worst_rows is not None
            else "the class pairs it confuses most on the test split (true class, predicted as)")
    return markup.Section(heading="Where it goes wrong", section_id="mistakes",
                          paragraphs=[f"Model: {explanation.model}. Below: {what}."], tables=tables, figures=figures)


def calibration_line(explanation: Explanation) -> str:
    found = explanation.calibration
    scores = ", ".join(f"{split} {score:.4f}" for split, score in found.brier.items())
    return (f"Model: {explanation.model}. Brier score (mean squared error of the class probabilities; 0 is "
            f"perfect, lower is better): {scores}.")


def importance_lines(model: str, importance: Importance) -> list[str]:
    """What the importance figures are of, and the columns the model could do without."""
    lines = [f"Model: {model}, on the validation split ({importance.rows:,} rows). Validation "
             f"{importance.metric} {importance.baseline:.4g}; a constant guess scores {importance.constant:.4g}. "
             f"Each column is shuffled {importance.repeats} times and the worsening of {importance.metric} "
             "averaged; 'share' is that worsening as a part of what the model gains over the constant guess."]
    unused = negligible_columns(importance)
    if unused:
        lines.append(f"The model could do without {', '.join(unused)}: shuffling "
                     f"{'them changes' if len(unused) > 1 else 'it changes'} {importance.metric} by no more than "
                     f"the spread between shuffles, or under {NEGLIGIBLE_SHARE:.0%} of the top column's importance.")
    return lines


def importance_frame(importance: Importance) -> pd.DataFrame:
    """importance.csv and the page's table: one row per column, most important first."""
    table = importance.table.copy()
    table["could_do_without"] = table.pop("negligible")
    return table.rename(columns={"importance": f"{importance.metric}_worsening"})


def explanation_markdown(explanation: Explanation | None) -> list[str]:
    """summary.md's lines for `explanation`: the importance table and any leakage warning."""
    if explanation is None:
        return []
    lines = []
    if explanation.calibration is not None:
        lines += ["## Calibration", "", calibration_line(explanation), ""]
    if explanation.threshold is not None:
        found = explanation.threshold
        at = found.test["at_threshold"]
        lines += ["## Decision threshold", "", f"{threshold_lines(explanation)[0]} On test: balanced accuracy "
                  f"{found.test.loc['balanced_accuracy', 'at_0.5']:.4g} at 0.5, {at['balanced_accuracy']:.4g} at "
                  f"{found.searched:.4g}, the searched threshold (F1 {found.test.loc['f1', 'at_0.5']:.4g}, "
                  f"{at['f1']:.4g}).", ""]
    if explanation.importance is None:
        return lines
    importance = explanation.importance
    frame = importance_frame(importance)
    lines += ["## What the model relies on", "",
             *[f"**Possible leakage:** {leak.message()}." for leak in explanation.leaks],
             *([""] if explanation.leaks else []),
             *importance_lines(explanation.model, importance), "",
             "| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns),
             *["| " + " | ".join(_text(v) for v in row) + " |" for row in frame.itertuples(index=False)], ""]
    return lines


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    return markup.number(value) if isinstance(value, float) else str(value)
