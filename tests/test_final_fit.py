"""The time budget inside training (a trial stops at the search's deadline; a one-cycle rate over the clock)
and the final fit of an image or table track: the chosen configuration retrained with the time the search left."""
from __future__ import annotations

import itertools
import json
import time
import warnings

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import make_table, write_track
from test_cnn import (
    LIGHTEST,
    SCHEMA,
    CNNHyperModel,
    fixed,
    images,
    write_image_track,
)

import automl
from automl import load_track, pipeline
from automl.context import Run
from automl.errors import AutomlError, AutomlWarning
from automl.hypermodels.training import StopAtDeadline, TimeBudgetSchedule
from automl.serving.models import TrialNetwork
from automl.store import FINAL_FIT_JSON, Store
from automl.tuning.final_fit import final_model


def tiny_model() -> keras.Model:
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def tiny_data(rows: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype("float32")
    return x, x.sum(axis=1)


def test_one_cycle_over_the_clock_rises_to_the_peak_then_falls_to_the_floor():
    schedule = TimeBudgetSchedule(100.0, peak=0.2, warmup=0.2, floor=0.01)
    rates = [schedule.rate(t) for t in range(0, 101, 5)]
    peak_at = rates.index(max(rates))
    assert max(rates) == pytest.approx(0.2) and peak_at == 4  # 20 s of 100
    assert all(a < b for a, b in itertools.pairwise(rates[:peak_at + 1]))
    assert all(a > b for a, b in itertools.pairwise(rates[peak_at:]))
    assert rates[0] == rates[-1] == pytest.approx(0.2 * 0.01)
    assert schedule.rate(150.0) == pytest.approx(0.002)  # past the end: the floor, never negative


def test_training_on_a_time_budget_ends_on_time_with_the_rate_annealed():
    model = tiny_model()
    x, y = tiny_data()
    started = time.monotonic()
    history = model.fit(x, y, batch_size=8, epochs=100_000, verbose=0, callbacks=[TimeBudgetSchedule(1.5, peak=0.05)])
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 30.0 and 1 <= len(history.epoch) < 100_000  # loose: CI machines are busy
    assert float(model.optimizer.learning_rate.numpy()) < 0.05 * 0.1  # ended at the bottom of the cycle


def test_a_trial_still_training_at_the_deadline_stops_after_the_batch_running_then():
    model = tiny_model()
    x, y = tiny_data()
    stop = StopAtDeadline(time.monotonic() - 1.0)
    history = model.fit(x, y, batch_size=8, epochs=50, verbose=0, callbacks=[stop])
    assert stop.stopped and len(history.epoch) == 1
    assert model.optimizer.iterations.numpy() == 1


def test_the_final_fit_trains_a_fresh_cnn_on_a_one_cycle_rate_for_its_seconds():
    x, y = images(64)
    hypermodel = CNNHyperModel(SCHEMA, "val_accuracy", "max", batch_sizes=[16])
    hp = fixed({**LIGHTEST, "optimizer": "sgd", "sgd_learning_rate": 0.05, "batch_size": 16})
    model = hypermodel.build(hp)
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, x, y, validation_data=(x[:16], y[:16]), seconds=4.0)
    assert 4.0 <= time.monotonic() - started < 60.0
    assert "val_accuracy" in history.history and len(history.epoch) >= 1
    assert float(model.optimizer.learning_rate.numpy()) < 0.05 * 0.1


def test_sgd_and_the_adaptive_optimizers_search_their_own_learning_rate_ranges():
    import keras_tuner as kt

    from automl.hypermodels.cnn import learning_rate

    for optimizer, name, low, high in (("sgd", "sgd_learning_rate", 3e-3, 0.3), ("adam", "learning_rate", 1e-4, 1e-2)):
        hp = kt.HyperParameters()
        hp.Choice("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
        hp.values["optimizer"] = optimizer
        assert learning_rate(hp) == low
        active = [p for p in hp.space if "learning_rate" in p.name and hp.is_active(p)]
        assert [(p.name, p.min_value, p.max_value) for p in active] == [(name, low, high)]


def test_keras_tuner_builds_the_cnn_space_with_every_condition_active(tmp_path):
    import keras_tuner as kt

    tuner = kt.RandomSearch(CNNHyperModel(SCHEMA, "val_accuracy", "max"), objective="val_accuracy",
                            max_trials=1, directory=str(tmp_path), project_name="space")
    names = {p.name for p in tuner.oracle.hyperparameters.space}
    assert {"learning_rate", "sgd_learning_rate", "downsample", "pooling"} <= names


@pytest.mark.parametrize("line, message", [
    ("final_fit = 1.0", r"'search.final_fit' is 1.0; use the share of the time limit"),
    ("final_fit = -0.1", r"'search.final_fit' is -0.1"),
])
def test_a_final_fit_share_out_of_range_is_refused(tmp_path, line, message):
    track = write_image_track(tmp_path)
    track.write_text(track.read_text().replace("[search]\n", f"[search]\n{line}\n"))
    with pytest.raises(AutomlError, match=message):
        load_track(str(track))


def test_a_final_fit_is_refused_for_a_plug_in_family_that_cannot_train_on_the_clock(tmp_path, monkeypatch):
    from automl import families
    from automl.families.mlp import MLPFamily

    class EpochsOnly(MLPFamily):  # a plug-in whose space trains for epochs only
        name = "epochs_only"
        trains_on_the_clock = False

    monkeypatch.setattr(families, "_registered", dict(families._registered))  # registered for this test only
    families.register_family(EpochsOnly())
    track = write_track(tmp_path, search_extra="final_fit = 0.5")
    track.write_text(track.read_text().replace('family = "mlp"', 'family = "epochs_only"'))
    with pytest.raises(AutomlError, match=r"'search.final_fit' is for families that train on the clock "
                                          r"\(\"backbone\" or \"cnn\" or \"mlp\" or \"text\"\); remove it"):
        load_track(str(track))


def test_the_final_fit_trains_a_fresh_mlp_on_a_one_cycle_rate_for_its_seconds(tmp_path):
    from automl.families import family_of
    from automl.tuning.loop import fit_arguments

    track = load_track(str(write_track(tmp_path, frame=make_table(rows=400))))
    family = family_of(track)
    data = family.load(track)
    hypermodel = family.hypermodel(track, data.schema)
    hp = fixed_mlp({"optimizer": "adam", "learning_rate": 3e-3})
    model = hypermodel.build(hp)
    (x, y), kwargs = fit_arguments(track, family, data)
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, x, y, validation_data=kwargs["validation_data"], seconds=3.0)
    assert 3.0 <= time.monotonic() - started < 60.0
    assert len(history.epoch) > 5 and history.history["val_mae"][-1] < history.history["val_mae"][0] / 2
    assert float(model.optimizer.learning_rate.numpy()) < 3e-3 * 0.1  # ended at the bottom of the cycle


def test_the_final_fit_averages_networks_from_their_own_seeds_when_the_track_asks_and_time_allows(tmp_path,
                                                                                                monkeypatch):
    from automl.families import family_of
    from automl.selection.scoring import model_outputs
    from automl.tuning import final_fit

    track = load_track(str(write_track(tmp_path, frame=make_table(rows=400), search_extra="final_fit_members = 2")))
    assert final_fit.members_for(track, 3 * final_fit.MIN_MEMBER_SECONDS) == 2  # as many as asked, no more
    assert final_fit.members_for(track, 1.5 * final_fit.MIN_MEMBER_SECONDS) == 1  # each gets its least time
    monkeypatch.setattr(final_fit, "MIN_MEMBER_SECONDS", 1.0)
    family = family_of(track)
    data = family.load(track)
    hypermodel = family.hypermodel(track, data.schema)
    trial = kt.engine.trial.Trial(fixed_mlp({"optimizer": "adam", "learning_rate": 3e-3}), trial_id="0001")
    seed, started = hypermodel.seed, time.monotonic()
    model, fit = final_fit.train(Run(track, family, Store(track.name, tmp_path / "results")),
                                 TrialNetwork(trial, hypermodel), 1e9, data, seconds=4.0)
    assert 4.0 <= time.monotonic() - started < 60.0 and hypermodel.seed == seed  # the next network starts as before
    assert fit.members == 2 and len(fit.member_scores) == 2 and fit.used
    networks = [model.get_layer(f"network_{i}") for i in range(2)]
    outputs = [model_outputs(m, family, data.schema, data.validation.x) for m in (model, *networks)]
    assert not np.allclose(outputs[1], outputs[2])  # their own seeds: two networks, not one twice
    np.testing.assert_allclose(outputs[0], (outputs[1] + outputs[2]) / 2, rtol=1e-5, atol=1e-4)
    assert fit.validation["val_mae"] == pytest.approx(np.mean(np.abs(outputs[0] - data.validation.y)), rel=1e-5)
    assert fit.images == pytest.approx(fit.epochs * fit.train_images, rel=0.01)


def fixed_mlp(values: dict) -> kt.HyperParameters:
    """A small MLP configuration: the space's names all fixed (the conditional ones it does not use left out)."""
    hp = kt.HyperParameters()
    for name, value in {"num_layers": 1, "units_0": 32, "numeric_encoding": "normalize", "activation": "relu",
                        "dropout": 0.0, "l1": 0.0, "l2": 0.0, "batch_norm": False, "loss": "mae",
                        "batch_size": 16, "reduce_lr_on_plateau": False, **values}.items():
        hp.Fixed(name, value)
    return hp


def test_without_a_deadline_no_final_fit_is_trained_and_one_of_another_trial_is_not_used(tmp_path):
    track = load_track(str(write_image_track(tmp_path)))
    run = Run.open(track, tmp_path / "results")  # no clock: a report, not a search
    store = run.store
    assert final_model(run, "0003", 0.5, data=None) == (None, None)
    store.write_json(FINAL_FIT_JSON, {"trial_id": "0001", "used": True})
    with pytest.warns(AutomlWarning, match="the final fit on disk is of trial 0001, not of the chosen trial 0003"):
        assert final_model(run, "0003", 0.5, data=None) == (None, None)


@pytest.mark.slow
def test_a_search_with_a_final_fit_retrains_the_choice_in_the_time_left_and_a_rerun_keeps_it(tmp_path):
    track = write_image_track(tmp_path)
    track.write_text(track.read_text().replace("[search]\n", "[search]\nfinal_fit = 0.5\n")
                     .replace('time_limit = "3m"', 'time_limit = "80s"'))
    results = tmp_path / "results"
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AutomlWarning)  # on 300 images the final fit may lose to the trial
        automl.search(str(track), results_dir=results)
    assert time.monotonic() - started < 80 + 40  # the time limit, and the report after it
    root = results / "tiny_images"
    fit = json.loads((root / FINAL_FIT_JSON).read_text())
    metrics = json.loads((root / "test_metrics.json").read_text())
    assert metrics["final_fit"] == fit and fit["trial_id"] == metrics["trial_id"]
    assert fit["seconds"] >= 10 and fit["images"] > 0 and len(fit["history"]["val_accuracy"]) >= 1
    assert fit["images"] == pytest.approx(fit["epochs"] * fit["train_images"], rel=0.01)
    assert (root / "final_model.keras").is_file() == fit["used"] and fit["unit"] == "images"
    assert "Final fit: the chosen configuration retrained from scratch" in (root / "summary.md").read_text()
    chosen = automl.best_model(str(track), results_dir=results)
    assert chosen.inputs[0].dtype == "uint8"

    modified = (root / FINAL_FIT_JSON).stat().st_mtime_ns
    automl.search(str(track), results_dir=results)  # the search is complete or out of time: nothing retrains
    assert (root / FINAL_FIT_JSON).stat().st_mtime_ns == modified
    again = pipeline.finish(Run.open(str(track), results))  # `automl report`: the final fit on disk, no training
    assert again.metrics["accuracy"] == metrics["accuracy"] and again.metrics["final_fit"] == fit


@pytest.mark.slow
def test_a_table_search_with_a_final_fit_retrains_the_choice_instead_of_a_refit_or_an_ensemble(tmp_path,
                                                                                               monkeypatch):
    monkeypatch.setattr("automl.tuning.final_fit.MIN_MEMBER_SECONDS", 5.0)  # two networks in the final fit's 15 s
    frame = make_table(rows=400)
    track = write_track(tmp_path, frame=frame, search_extra="final_fit = 0.5\nfinal_fit_members = 2")
    track.write_text(track.read_text().replace('time_limit = "5m"', 'time_limit = "40s"'))
    results = tmp_path / "results"
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AutomlWarning)
        automl.search(str(track), results_dir=results)
    assert time.monotonic() - started < 40 + 40
    root = results / "tiny"
    fit = json.loads((root / FINAL_FIT_JSON).read_text())
    metrics = json.loads((root / "test_metrics.json").read_text())
    assert metrics["final_fit"] == fit and fit["trial_id"] == metrics["trial_id"] != "ensemble"
    assert fit["seconds"] >= 10 and fit["epochs"] > 1 and len(fit["history"]["val_mae"]) >= 1
    assert "refit" not in metrics and not (root / "ensemble.json").exists()  # the final fit has the time
    assert fit["unit"] == "rows" and fit["train_images"] == 240  # 60 % of the 400 rows
    assert fit["members"] == 2 and len(fit["member_scores"]) == 2
    if fit["used"]:  # the averaged networks measured as the model in production, not as their trial
        trial = json.loads((root / "tuner" / f"trial_{fit['trial_id']}" / "history.json").read_text())
        assert fit["params"] == 2 * trial["params"] and fit["measures"]["model_bytes"] > 0
        assert f"| parameters | {fit['params']} |" in (root / "summary.md").read_text()
    summary = " ".join((root / "summary.md").read_text().split())
    assert "2 networks of the chosen configuration trained from scratch" in summary
    assert "averaged, each on all 240 training rows" in summary
    assert (root / "final_model.keras").is_file() == fit["used"]
    if fit["used"]:
        assert fit["validation"]["val_mae"] <= fit["trial_score"]
    predicted = automl.predict(str(track), frame.drop(columns="y").head(5), results_dir=results)
    assert np.isfinite(predicted).all() and len(predicted) == 5
