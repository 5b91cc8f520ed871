"""The refit of a table's chosen configuration on training + validation, and the rule that decides whether it is
the model."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import make_table, write_track

import automl
from automl.context import Run
from automl.pipeline import finish
from automl.tuning import refit as refit_module
from automl.tuning.refit import cross_fit_check, refit_is_sound


@pytest.mark.parametrize("loss, planned, trial, used, why", [
    ([0.9, 0.5, 0.4], 3, 0.45, True, "ran its 3 epochs"),
    ([0.9, 0.5], 3, 0.45, False, "stopped it after 2 of its 3 epochs"),
    ([0.9, math.nan, 0.4], 3, 0.45, False, "NaN"),
    ([0.9, 0.3, 0.4], 3, 0.45, False, "diverged"),
    ([0.9, 0.7, 0.6], 3, 0.45, False, "above the trial's"),
    ([0.9, 0.7, 0.6], 3, math.nan, True, "ran its 3 epochs"),  # a trial with no training loss recorded
])
def test_the_refit_rule(loss, planned, trial, used, why):
    verdict, reason = refit_is_sound(loss, planned, trial)
    assert verdict is used and why in reason


@pytest.mark.parametrize("cross, trial, direction, used", [
    (1.9, 2.0, "min", True), (2.0, 2.0, "min", True), (2.1, 2.0, "min", False),
    (0.8, 0.7, "max", True), (0.6, 0.7, "max", False),
])
def test_the_cross_fit_check(cross, trial, direction, used):
    verdict, reason = cross_fit_check(cross, trial, "val_x", direction)
    assert verdict is used and f"{cross:.4g}" in reason and f"{trial:.4g}" in reason


def test_the_cross_fit_scores_the_trial_as_the_search_did_and_a_refit_it_turns_down_is_not_run(
        tmp_path, results_dir, monkeypatch):
    scored = []
    real = refit_module._cross_fit
    monkeypatch.setattr(refit_module, "_cross_fit", lambda *a: scored.append(real(*a)) or (math.inf, 0.0))
    track = write_track(tmp_path, frame=make_table("regression", rows=200), search_extra="ensemble = 0\n")
    automl.search(str(track), results_dir=results_dir)
    store = results_dir / "tiny"
    refit = json.loads((store / "refit.json").read_text())
    (cross, own), = scored
    table = automl.report(str(track), results_dir=results_dir)
    score = float(table.loc[table["trial_id"] == refit["trial_id"], "score"].iloc[0])
    assert math.isfinite(cross) and own == pytest.approx(score, rel=1e-4)  # the trial's val_mae, from its outputs
    assert not refit["used"] and refit["epochs_run"] == 0 and refit["loss"] == []
    assert "cross-fit" in refit["reason"] or "half the validation split" in refit["reason"]
    assert not (store / "refit_model.keras").exists()
    assert "Refit on training + validation: not run" in (store / "summary.md").read_text()


def test_a_table_track_keeps_its_refit_share_of_the_time_limit(tiny_track, tmp_path):
    budget = Run.open(tiny_track).started("100s").budget
    assert budget.final_deadline - budget.search_deadline == pytest.approx(10.0)
    none = write_track(tmp_path, name="none", search_extra="refit = 0.0\n")
    budget = Run.open(none).started("100s").budget
    assert budget.final_deadline == pytest.approx(budget.search_deadline)


def test_a_search_refits_the_chosen_configuration_on_training_and_validation(tmp_path, results_dir, monkeypatch):
    monkeypatch.setattr(refit_module, "_cross_fit", lambda *a: (1.0, 2.0))  # the cross-fit beats the trial's weights
    track = write_track(tmp_path, frame=make_table("regression", rows=200), search_extra="ensemble = 0\n")
    automl.search(str(track), results_dir=results_dir)
    store = results_dir / "tiny"
    refit = json.loads((store / "refit.json").read_text())
    metrics = json.loads((store / "test_metrics.json").read_text())
    assert refit["trial_id"] == metrics["trial_id"] and refit["rows"] == 120 + 40  # 60 % + 20 % of 200 rows
    assert refit["epochs_planned"] >= 1 and len(refit["loss"]) == refit["epochs_run"]
    assert metrics["refit"]["used"] == refit["used"] and "trial_model_test" in metrics["refit"]
    assert refit["cross_fit"] == {"score": 1.0, "trial_score": 2.0} and refit["epochs_run"] == refit["epochs_planned"]
    frame = make_table("regression", rows=30, seed=3)
    predicted = np.asarray(automl.predict(str(track), frame.drop(columns="y"), results_dir=results_dir), dtype=float)
    if refit["used"]:
        import keras

        from automl.data.tabular import model_inputs
        from automl.hypermodels.mlp import to_dataset
        from automl.store import Store

        schema = Store("tiny", results_dir).schema()
        refitted = keras.models.load_model(store / "refit_model.keras", safe_mode=True)
        expected = refitted.predict(to_dataset(model_inputs(frame, schema), None, 64), verbose=0).reshape(-1)
        np.testing.assert_allclose(predicted, expected, rtol=1e-5)
        assert "Refit:" in (store / "summary.md").read_text()
    # a report of the finished search (`automl report`) reuses the refit on disk: nothing trains again
    before = (store / "refit.json").stat().st_mtime_ns
    finished = finish(Run.open(str(track), results_dir))
    assert (store / "refit.json").stat().st_mtime_ns == before
    assert finished.metrics["trial_id"] == metrics["trial_id"] and finished.metrics["mae"] == metrics["mae"]


def test_no_refit_when_the_track_sets_none(tmp_path, results_dir):
    track = write_track(tmp_path, search_extra="refit = 0.0\nensemble = 0\n")
    automl.search(str(track), results_dir=results_dir)
    assert not (results_dir / "tiny" / "refit.json").exists()
    assert "refit" not in json.loads((results_dir / "tiny" / "test_metrics.json").read_text())


def test_the_cross_fit_orders_its_figure_as_its_measure_does(tmp_path, results_dir, monkeypatch):
    measures = []
    monkeypatch.setattr(refit_module, "_cross_fit", lambda train, measure, *a: measures.append(measure) or (0.7, 0.8))
    track = write_track(tmp_path, task="binary", objective="val_loss", search_extra="ensemble = 0\n")
    automl.search(str(track), results_dir=results_dir)
    refit = json.loads((results_dir / "tiny" / "refit.json").read_text())
    assert [(m.name, m.direction) for m in measures] == [("log_loss", "min")]  # val_loss, as sklearn scores it
    assert refit["cross_fit"] == {"score": 0.7, "trial_score": 0.8} and refit["epochs_run"] > 0  # lower: it ran
