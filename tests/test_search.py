"""The search: runs, writes every trial, resumes without redoing work, stops on time, restarts on demand."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, search_track, trials_only, write_track

import automl
from automl.errors import AutomlError
from automl.store import Store
from automl.tuning.loop import StopSearch


def _trial_files(results_dir, name="tiny"):
    return {p.parent.name: p.stat().st_mtime_ns for p in (results_dir / name / "tuner").glob("trial_*/trial.json")}


def _stop_after(count):
    seen = []

    def on_trial_done(trial):
        seen.append(trial.trial_id)
        if len(seen) >= count:
            raise StopSearch("test stop")
    return on_trial_done


def test_search_writes_every_trial_and_the_report(tiny_track, results_dir):
    table = automl.search(str(tiny_track), results_dir=results_dir).leaderboard()
    root = results_dir / "tiny"
    assert len(trials_only(table)) == len(Store("tiny", results_dir).trials()) >= 3
    assert set(table["status"]) == {"completed"}
    assert {"trial_id", "score", "epochs_run", "num_layers", "learning_rate", "optimizer", "params", "seconds",
            "train_loss", "val_loss", "train_mae", "val_mae"} <= set(table.columns)
    assert table["score"].is_monotonic_increasing  # best (lowest MAE) first
    assert (root / "report.csv").is_file() and (root / "summary.md").is_file()
    assert len(pd.read_csv(root / "report.csv")) == len(table)
    metrics = json.loads((root / "test_metrics.json").read_text())
    assert {"rmse", "mae", "r2"} <= set(metrics)
    assert metrics["trial_id"] == table.loc[table["chosen"], "trial_id"].item()  # the choice rule's pick
    assert metrics["top"]["trial_id"] == table.iloc[0]["trial_id"]  # and the top-scoring one beside it


def test_best_model_takes_raw_rows_and_predict_gives_values(tiny_track, results_dir):
    automl.search(str(tiny_track), results_dir=results_dir)
    rows = make_table(rows=5, seed=9).drop(columns=["y"])
    predicted = automl.predict(str(tiny_track), rows, results_dir=results_dir)
    assert predicted.shape == (5,) and np.isfinite(predicted).all()
    model = automl.best_model(str(tiny_track), results_dir=results_dir)
    assert {t.name for t in model.inputs} == {"x1", "x2", "colour"}


def test_resume_keeps_finished_trials(tiny_track, results_dir):
    search_track(str(tiny_track), results_dir=results_dir, on_trial_done=_stop_after(2))
    first = _trial_files(results_dir)
    assert len(first) == 2
    outcome = search_track(str(tiny_track), results_dir=results_dir)
    after = _trial_files(results_dir)
    assert outcome.trials_before == 2 and outcome.trials_after > 2
    assert {k: after[k] for k in first} == first  # finished trials untouched, not redone


def test_rerunning_a_complete_search_runs_no_trial(tiny_track, results_dir):
    search_track(str(tiny_track), results_dir=results_dir)
    before = _trial_files(results_dir)
    outcome = search_track(str(tiny_track), results_dir=results_dir)
    assert outcome.stopped_by == "search complete"
    assert _trial_files(results_dir) == before


def test_time_limit_stops_between_trials_and_keeps_everything(tiny_track, results_dir):
    outcome = search_track(str(tiny_track), results_dir=results_dir, time_limit=0.01)
    assert outcome.stopped_by == "time limit reached"
    assert outcome.trials_after <= 1  # the running trial, if any, finished and was saved
    assert search_track(str(tiny_track), results_dir=results_dir).trials_after > outcome.trials_after


def test_restart_starts_over(tiny_track, results_dir):
    search_track(str(tiny_track), results_dir=results_dir, on_trial_done=_stop_after(2))
    outcome = search_track(str(tiny_track), results_dir=results_dir, restart=True, on_trial_done=_stop_after(1))
    assert outcome.trials_before == 0 and outcome.trials_after == 1


def test_changed_track_asks_for_restart(tiny_track, results_dir):
    search_track(str(tiny_track), results_dir=results_dir, on_trial_done=_stop_after(1))
    tiny_track.write_text(tiny_track.read_text().replace("max_epochs = 3", "max_epochs = 4"))
    with pytest.raises(AutomlError, match=r"changed since the search .* --restart"):
        search_track(str(tiny_track), results_dir=results_dir)


def test_changing_only_the_tolerance_resumes(tiny_track, results_dir):
    search_track(str(tiny_track), results_dir=results_dir, on_trial_done=_stop_after(1))
    tiny_track.write_text(tiny_track.read_text().replace("patience = 3", "patience = 3\ntolerance = 0.1"))
    assert search_track(str(tiny_track), results_dir=results_dir).trials_before == 1


def test_binary_search_reports_balanced_accuracy_and_predicts_labels(tmp_path, results_dir):
    track = write_track(tmp_path, task="binary", objective="val_auc", search_extra='class_weight = "balanced"')
    table = automl.search(str(track), results_dir=results_dir).leaderboard()
    assert table["score"].is_monotonic_decreasing  # AUC: highest first
    metrics = json.loads((results_dir / "tiny" / "test_metrics.json").read_text())
    assert {"accuracy", "balanced_accuracy", "f1", "roc_auc"} <= set(metrics)
    rows = make_table("binary", rows=4, seed=3).drop(columns=["y"])
    assert set(automl.predict(str(track), rows, results_dir=results_dir)) <= {"yes", "no"}
    probabilities = automl.predict(str(track), rows, proba=True, results_dir=results_dir)
    assert list(probabilities.columns) == ["no", "yes"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_other_tuners_respect_max_trials(tmp_path, results_dir, tuner):
    track = write_track(tmp_path, tuner=tuner, search_extra="max_trials = 2")
    outcome = search_track(str(track), results_dir=results_dir)
    assert outcome.trials_after == 2


def test_report_before_any_search_says_what_to_run(tiny_track, results_dir):
    with pytest.raises(AutomlError, match=r"no search found for track 'tiny' .* run `automl search --track tiny` first"):
        automl.report(str(tiny_track), results_dir=results_dir)


def test_a_search_gives_the_same_trials_in_any_process_state(tiny_track, tmp_path):
    """Unseeded Keras layers draw their initial weights from Python's global random state: a search seeds each
    trial, so that what ran before in the process (here, other draws) does not change its trials."""
    import random

    scores = []
    for draws in (0, 7):
        random.seed(draws)
        for _ in range(draws):
            random.random()
        results = tmp_path / f"after_{draws}"
        search_track(str(tiny_track), results_dir=results)
        scores.append({t.trial_id: t.score for t in Store("tiny", results).trials()})
    assert len(scores[0]) >= 3 and scores[0] == scores[1]
