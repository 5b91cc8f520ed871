"""The report's line on which techniques the chosen model uses (automl.reporting.techniques)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import write_track

from automl.context import Run
from automl.reporting import techniques
from automl.reporting.page import summary_lines
from automl.reporting.techniques import techniques_lines
from automl.selection.choice import Choice
from automl.selection.scoring import HeldOutFigures
from automl.store import ENSEMBLE_ID, ENSEMBLE_JSON

REPO = Path(__file__).parents[1]


def _choice(trial_id: str) -> Choice:
    return Choice(trial_id=trial_id, top_trial_id=trial_id, candidates=(trial_id,), tolerance=0.02, threshold=1.0,
                  reason="")


def _tested(**records) -> HeldOutFigures:
    """Test figures with only the records a test names (a refit's, a final fit's)."""
    return HeldOutFigures("0003", {}, {}, **records)


TABLE = pd.DataFrame({
    "trial_id": ["0007", "0003", "0005", ENSEMBLE_ID],
    "numeric_encoding": ["periodic", "piecewise_linear", "periodic", None],
    "categorical_encoding": ["one_hot", "one_hot", "embedding", None],
    "loss": ["huber", "mae", "huber", None],
})


def test_a_single_trial_names_its_searched_techniques_the_ensemble_it_was_preferred_to_and_its_refit(tmp_path):
    run = Run.open(write_track(tmp_path), tmp_path / "results")
    store = run.store
    store.write_json(ENSEMBLE_JSON, {"members": ["0007", "0005"], "weights": [0.5, 0.5], "candidate": False})
    refit = {"used": True}
    (line, blank) = techniques_lines(run, TABLE, _choice("0003"), _tested(refit=refit))
    assert line == ("Techniques in the chosen model: numeric features piecewise_linear; categories one_hot; loss mae; "
                    "a single trial: the best trials' ensemble did not beat its best member out of sample; "
                    "refit on training + validation.") and blank == ""
    refit["used"] = False
    assert "no refit (the trial's own weights)" in techniques_lines(run, TABLE, _choice("0003"),
                                                                    _tested(refit=refit))[0]


def test_the_ensemble_counts_its_members_choices_and_gives_their_weights(tmp_path):
    run = Run.open(write_track(tmp_path), tmp_path / "results")
    store = run.store
    store.write_json(ENSEMBLE_JSON, {"members": ["0007", "0003", "0005"], "weights": [0.5, 0.25, 0.25],
                                     "candidate": True})
    (line, _) = techniques_lines(run, TABLE, _choice(ENSEMBLE_ID), _tested())
    assert "numeric features periodic (2 of 3), piecewise_linear (1 of 3)" in line
    assert "loss huber (2 of 3), mae (1 of 3)" in line
    assert "categories one_hot (2 of 3), embedding (1 of 3)" in line
    (line, _) = techniques_lines(run, TABLE.assign(categorical_encoding="one_hot"), _choice(ENSEMBLE_ID), _tested())
    assert "categories one_hot (all 3);" in line
    assert line.endswith("the weighted mean of 3 trials (weights: 0007 0.50, 0003 0.25, 0005 0.25).")


@pytest.mark.parametrize("bfloat16", [True, False], ids=["bfloat16 instructions", "none"])
def test_an_image_models_switches_read_on_or_off_and_its_final_fit_is_named(tmp_path, monkeypatch, bfloat16):
    monkeypatch.setattr(techniques, "bfloat16_pays", lambda: bfloat16)
    source = (REPO / "tracks" / "cifar10.toml").read_text().replace('name = "cifar10"', 'name = "images"')
    (tmp_path / "images.toml").write_text(source.replace("[model]\n", '[model]\nlevers = ["dirac", "bfloat16"]\n'))
    run = Run.open(tmp_path / "images.toml", tmp_path / "results")
    table = pd.DataFrame({"trial_id": ["0001"], "whitening": [True], "label_smoothing": [0.1],
                          "flip_average": [False]})
    (line, _) = techniques_lines(run, table, _choice("0001"), _tested(final_fit={"used": True}))
    assert line == ("Techniques in the chosen model: patch whitening on; label smoothing 0.1; flip averaging off; "
                    "airbench's levers dirac, "
                    + ("bfloat16" if bfloat16 else "bfloat16 (not pulled: this machine has no bfloat16 instructions)")
                    + "; final fit on the training split.")


def test_without_any_technique_to_tell_there_is_no_line(tmp_path):
    run = Run.open(write_track(tmp_path), tmp_path / "results")
    table = pd.DataFrame({"trial_id": ["0001"], "units_0": [32]})
    assert techniques_lines(run, table, _choice("0001"), _tested()) == []


def test_the_summary_counts_trials_without_the_ensembles_row(tmp_path):
    run = Run.open(write_track(tmp_path), tmp_path / "results")
    table = TABLE.assign(status="completed")
    assert "Trials: 3 (3 completed); and the best trials' ensemble" in summary_lines(run, table, None)
    assert "Trials: 3 (3 completed)" in summary_lines(run, table[table["trial_id"] != ENSEMBLE_ID], None)
