"""Write a search's report files: report.csv, summary.md, report.html and its figures under plots/."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.data.schema import Schema
from automl.reporting.explanation import importance_frame
from automl.reporting.page import report_page
from automl.reporting.summary import summary_markdown
from automl.selection.choice import Choice
from automl.selection.explain import Explanation
from automl.store import IMPORTANCE_CSV, REPORT_CSV, REPORT_HTML, SUMMARY_MD, Store
from automl.track.sections import Track


def write_report(track: Track, table: pd.DataFrame, choice: Choice, metrics: dict[str, Any], store: Store,
                 schema: Schema, y_test: np.ndarray, predicted: np.ndarray,
                 explanation: Explanation | None = None) -> None:
    """report.csv, importance.csv (tables), summary.md, plots/*.png and report.html."""
    table.to_csv(store.path(REPORT_CSV), index=False)
    if explanation is not None and explanation.importance is not None:
        importance_frame(explanation.importance).to_csv(store.path(IMPORTANCE_CSV), index=False)
    else:
        store.path(IMPORTANCE_CSV).unlink(missing_ok=True)  # an earlier report's would describe another model
    store.path(SUMMARY_MD).write_text(summary_markdown(track, table, choice, metrics, store, schema, explanation),
                                      encoding="utf-8")
    store.path(REPORT_HTML).write_text(
        report_page(track, table, choice, metrics, store, schema, y_test, predicted, explanation), encoding="utf-8")
