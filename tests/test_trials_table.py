"""A trial's row: Keras Tuner's best step is an index into the run's own epochs, which a continued Hyperband trial
starts at its initial epoch."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl.selection.trials import _trial_row

CONTINUED = {  # trial 0034 of caravan's reference search: it continues trial 0026 from epoch 2
    "initial_epoch": 2, "epochs": [2, 3],
    "history": {"loss": [0.5113, 0.4658], "val_auc": [0.7035, 0.7085], "val_loss": [0.5521, 0.4973]},
    "params": 100, "seconds": 3.0,
}


def trial(history: dict, best_step: int) -> SimpleNamespace:
    return SimpleNamespace(trial_id="0034", status="COMPLETED", score=history["history"]["val_auc"][best_step],
                           record={"best_step": best_step}, values={"units": 8}, pruned=False,
                           history=lambda: history)


def test_a_continued_trial_reads_its_figures_at_the_best_step_of_its_own_run():
    row = _trial_row(trial(CONTINUED, best_step=1), dict)
    assert row["val_auc"] == pytest.approx(0.7085) and row["train_loss"] == pytest.approx(0.4658)
    assert row["best_epoch"] == 4 and row["epochs_run"] == 2  # its second epoch, the fourth counted across rounds


def test_a_first_round_trial_is_unchanged():
    first = {**CONTINUED, "initial_epoch": 0, "epochs": [0, 1]}
    row = _trial_row(trial(first, best_step=0), dict)
    assert row["val_auc"] == pytest.approx(0.7035) and row["best_epoch"] == 1
