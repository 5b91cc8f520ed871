"""Write a search's report files: report.csv, summary.md, report.html and its figures under plots/."""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.context import Run
from automl.reporting.explanation import importance_frame
from automl.reporting.page import report_page
from automl.reporting.summary import summary_markdown
from automl.selection.choice import Choice
from automl.selection.explain import Explanation
from automl.selection.scoring import HeldOutFigures


def write_report(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures, y_test: np.ndarray,
                 predicted: np.ndarray, explanation: Explanation | None = None) -> None:
    """report.csv, importance.csv (tables), summary.md, plots/*.png and report.html."""
    store = run.store
    table.to_csv(store.report_csv, index=False)
    if explanation is not None and explanation.importance is not None:
        importance_frame(explanation.importance).to_csv(store.importance_csv, index=False)
    else:
        store.importance_csv.unlink(missing_ok=True)  # an earlier report's would describe another model
    store.summary_md.write_text(summary_markdown(run, table, choice, tested, explanation), encoding="utf-8")
    store.report_html.write_text(report_page(run, table, choice, tested, y_test, predicted, explanation),
                                 encoding="utf-8")
