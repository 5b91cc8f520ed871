"""The HTML report's markup: one self-describing page with the choice and its reasons, the figures and every trial."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
th { background: #f2f2f2; } td.text { text-align: left; }
tr.chosen { background: #fff3d6; } tr.top { background: #e8f0fe; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #ddd; }
.reason { font-size: 1.1em; background: #f7f7f7; border-left: 4px solid #d9822b; padding: 0.6em 1em; }
.wide { overflow-x: auto; }
.warning { background: #fdecea; border-left: 4px solid #c0392b; padding: 0.6em 1em; }
"""


@dataclass(frozen=True)
class Figure:
    """A PNG relative to the report, with the caption that says what to look for."""

    src: str
    caption: str


@dataclass(frozen=True)
class Section:
    """A part of the page about the chosen model: a heading, paragraphs, warnings, small tables and figures."""

    heading: str
    section_id: str
    paragraphs: Sequence[str] = ()
    warnings: Sequence[str] = ()
    tables: Sequence[tuple[str, pd.DataFrame]] = ()  # (table id, frame)
    figures: Sequence[Figure] = ()


def render(*, title: str, summary: Sequence[str], reason: str, rule: str, measured_note: str,
           comparison: pd.DataFrame, diagnoses: Mapping[str, int], thresholds: Mapping[str, Any],
           figures: Sequence[Figure], trials: pd.DataFrame, chosen: str, top: str,
           sections: Sequence[Section] = ()) -> str:
    """The report page as an HTML string; every piece of text is escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in summary) + "</ul>",
        f"<h2>The model to deploy: trial {escape(chosen)}</h2>",
        f'<p class="reason" id="reason">{escape(reason)}</p>',
        f"<p><strong>Rule.</strong> {escape(rule)}</p>",
        f"<p><strong>Measurements.</strong> {escape(measured_note)}</p>",
        "<h3>Chosen and top-scoring models side by side</h3>",
        "<p>Test split figures: the test split is used here only, after the choice.</p>",
        _table(comparison, table_id="comparison"),
        *[_section(section) for section in sections],
        "<h2>Diagnoses</h2>",
        "<p>" + escape(", ".join(f"{label}: {count}" for label, count in diagnoses.items())) + "</p>",
        "<p>Thresholds: " + escape(", ".join(f"{k} = {v}" for k, v in thresholds.items())) + " (see the README).</p>",
        "<h2>Figures</h2>",
        *[_figure(f) for f in figures],
        f"<h2>All trials ({len(trials)})</h2>",
        '<div class="wide">' + _table(trials, table_id="trials", chosen=chosen, top=top) + "</div>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _section(section: Section) -> str:
    parts = [f'<h2 id="{escape(section.section_id)}">{escape(section.heading)}</h2>',
             *[f'<p class="warning">{escape(text)}</p>' for text in section.warnings],
             *[f"<p>{escape(text)}</p>" for text in section.paragraphs],
             *[_table(frame, table_id=table_id) for table_id, frame in section.tables],
             *[_figure(f) for f in section.figures]]
    return "\n".join(parts)


def _figure(figure: Figure) -> str:
    return (f'<figure><img src="{escape(figure.src)}" alt="{escape(figure.caption)}">'
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>")


def _table(frame: pd.DataFrame, *, table_id: str, chosen: str | None = None, top: str | None = None) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        trial_id = str(row.get("trial_id", ""))
        css = "chosen" if trial_id == chosen else "top" if trial_id == top else ""
        cells = "".join(_cell(v) for v in row)
        rows.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return "<td></td>"
    if isinstance(value, (bool, np.bool_)):
        return f'<td class="text">{"yes" if value else ""}</td>'
    if isinstance(value, (float, np.floating)):
        return f"<td>{number(value)}</td>"
    if isinstance(value, (int, np.integer)):
        return f"<td>{value:,}</td>"
    return f'<td class="text">{escape(str(value))}</td>'


def number(value: float) -> str:
    """Four significant figures; whole thousands with separators rather than in e-notation."""
    if math.isnan(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
