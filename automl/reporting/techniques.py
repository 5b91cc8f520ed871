"""Which techniques the chosen model uses: its space's searched ones (a numeric embedding, a loss, whitening,
...), and whether it is the best trials' ensemble, a refit or a final fit. One line of the report and summary."""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from automl.context import Run
from automl.hypermodels.machine import bfloat16_pays
from automl.selection.choice import Choice
from automl.selection.scoring import HeldOutFigures
from automl.store import ENSEMBLE_ID


def techniques_lines(run: Run, table: pd.DataFrame, choice: Choice, tested: HeldOutFigures) -> list[str]:
    """"Techniques in the chosen model: ..." and a blank line; nothing when the search has none to tell."""
    store = run.store
    ensemble = store.read_json(store.ensemble_record) if run.track.search.builds_ensemble else None
    chosen_ensemble = choice.trial_id == ENSEMBLE_ID and ensemble is not None
    members = [str(m) for m in ensemble["members"]] if chosen_ensemble else [str(choice.trial_id)]
    rows = table.assign(trial_id=table["trial_id"].astype(str)).set_index("trial_id")
    parts = []
    for column, words in run.family.techniques:
        if column not in rows.columns:
            continue
        values = [_word(rows.at[m, column]) for m in members if m in rows.index and pd.notna(rows.at[m, column])]
        if len(members) == 1 and values:
            parts.append(f"{words} {values[0]}")
        elif values:
            parts.append(f"{words} " + ", ".join(f"{value} ({_share(count, len(members))})"
                                                 for value, count in Counter(values).most_common()))
    if run.track.model.levers:  # the CNN's, every trial's (tracks/cifar10.toml)
        levers = [lever if lever != "bfloat16" or bfloat16_pays() else "bfloat16 (not pulled: this machine has no "
                  "bfloat16 instructions)" for lever in run.track.model.levers]
        parts.append("airbench's levers " + ", ".join(levers))
    if chosen_ensemble:
        weights = ", ".join(f"{m} {w:.2f}" for m, w in zip(members, ensemble["weights"], strict=True))
        parts.append(f"the weighted mean of {len(members)} trials (weights: {weights})")
    elif ensemble is not None:
        parts.append("a single trial: the best trials' ensemble " + (
            "did not beat its best member out of sample" if not ensemble.get("candidate")
            else "was not chosen by the rule"))
    refit = tested.refit
    if refit:
        parts.append("refit on training + validation" if refit["used"] else "no refit (the trial's own weights)")
    final_fit = tested.final_fit
    if final_fit:
        members = final_fit.get("members", 1)
        averaged = f" ({members} networks averaged)" if members > 1 else ""
        parts.append(f"final fit on the training split{averaged}" if final_fit["used"]
                     else "no final fit (the trial's own weights)")
    if not parts:
        return []
    return [f"Techniques in the chosen model: {'; '.join(parts)}.", ""]


def _share(count: int, total: int) -> str:
    return f"all {total}" if count == total else f"{count} of {total}"


def _word(value: Any) -> str:
    """A hyperparameter's value in words: on/off for a switch, 0.1 not 0.1000."""
    if isinstance(value, (bool, np.bool_, str)) and str(value) in ("True", "False"):
        return "on" if str(value) == "True" else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)
