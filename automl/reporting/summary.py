"""summary.md and the terminal's table: the report's story in plain text, for a terminal or a diff."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.context import Run
from automl.reporting import markup
from automl.reporting.explanation import explanation_markdown
from automl.reporting.page import (
    comparison,
    diagnosis_counts,
    final_fit_lines,
    kinds_lines,
    refit_lines,
    summary_lines,
)
from automl.reporting.techniques import techniques_lines
from automl.selection.choice import Choice, candidate_name
from automl.selection.explain import Explanation
from automl.selection.scoring import HeldOutFigures
from automl.selection.trials import sort_by_score

TERMINAL_ROWS = 15
TERMINAL_HYPERPARAMETERS = 3


def terminal_table(table: pd.DataFrame, run: Run, rows: int = TERMINAL_ROWS) -> pd.DataFrame:
    """The top trials with the columns a reader scans first."""
    track = run.track
    top = sort_by_score(table, track.direction).head(rows).copy()
    if "chosen" in top:
        top["pick"] = [("chosen" if c else "") + ("," if c and t else "") + ("top" if t else "")
                       for c, t in zip(top["chosen"].fillna(False), top["top_score"].fillna(False), strict=True)]
    # The family's three most telling hyperparameters that these trials have (a search over several families shows
    # those of the families on top), then those every search space has.
    telling = [h for h in run.family.main_hyperparameters if h in top and top[h].notna().any()]
    wanted = ["trial_id", "pick", "status", "score", "diagnosis", "epochs_run", *telling[:TERMINAL_HYPERPARAMETERS],
              "optimizer", "learning_rate", "batch_size", "params", "latency_p50_ms", "seconds"]
    top = top[[c for c in wanted if c in top.columns]]
    for column in ("score", "learning_rate", "latency_p50_ms"):
        if column in top:
            top[column] = top[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return top.rename(columns={"score": track.objective, "latency_p50_ms": "p50_ms"})


def summary_markdown(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures,
                     explanation: Explanation | None = None) -> str:
    """summary.md: the same story as report.html in plain text, for reading in a terminal or a diff."""
    track, store = run.track, run.store
    runs = store.read_json(store.runs_record, default=[])
    side_by_side = comparison(table, choice, tested, track.objective)
    lines = [
        f"# {track.name}: search summary",
        "",
        *[f"- {line}" for line in summary_lines(run, table, run.schema())],
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
        f"## Chosen model: {candidate_name(choice.trial_id)}",
        "",
        choice.reason,
        "",
        f"Rule: {choice.rule(track.objective, track.direction)}",
        "",
        *final_fit_lines(tested.final_fit, track),
        *refit_lines(tested.refit),
        *techniques_lines(run, table, choice, tested),
        "Test split (used once, after the choice), with the top-scoring model beside it:",
        "",
        "| " + " | ".join(side_by_side.columns) + " |",
        "|---|---|---|",
        *[f"| {m} | {_fmt(a)} | {_fmt(b)} |" for m, a, b in side_by_side.itertuples(index=False)],
        "",
        *kinds_markdown(run, table, choice, tested),
        *explanation_markdown(explanation),
        "## Top trials",
        "",
        "```",
        terminal_table(table, run).to_string(index=False),
        "```",
        "",
        f"Every trial: `{store.report_csv.name}`; figures and the full story: `{store.report_html.name}`.",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return markup.number(value) if isinstance(value, (float, np.floating)) else str(value)


def kinds_markdown(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures) -> list[str]:
    """The networks the search compared, for summary.md; nothing when it searched one kind."""
    found = kinds_lines(run, table, choice, tested)
    if found is None:
        return []
    lines, best = found
    return ["## Networks compared", "", *lines, "", "| " + " | ".join(map(str, best.columns)) + " |",
            "|" + "---|" * len(best.columns),
            *["| " + " | ".join(_fmt(v) for v in row) + " |" for row in best.itertuples(index=False)], ""]
