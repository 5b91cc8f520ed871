"""The decision threshold of a binary model, end to end: chosen on validation, stored in best_model.keras, used by
`automl predict` and by the exported SavedModel's `decision` output, reported on test; set by a track key."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track

import automl
from automl.cli import main
from automl.store import Store
from automl.track.sections import search_settings


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, Path]:
    """One tiny binary search, run once."""
    root = tmp_path_factory.mktemp("binary")
    track = write_track(root, task="binary", max_epochs=2)
    automl.search(str(track), results_dir=root / "results")
    return track, root / "results"


def _test_metrics(results: Path) -> dict:
    return json.loads((results / "tiny" / "test_metrics.json").read_text())


def _new_rows(directory: Path) -> Path:
    csv = directory / "new.csv"
    make_table("binary", rows=60, seed=5).drop(columns=["y"]).to_csv(csv, index=False)
    return csv


def test_test_metrics_record_the_decision_threshold_and_balanced_accuracy_at_it(searched):
    metrics = _test_metrics(searched[1])
    assert 0.0 < metrics["decision_threshold"] < 1.0
    assert 0.0 <= metrics["balanced_accuracy_at_threshold"] <= 1.0


def test_best_model_reloads_in_safe_mode_carrying_the_threshold_with_outputs_unchanged(searched):
    import keras

    from automl.hypermodels.layers import decision_threshold_of

    track, results = searched
    model = keras.models.load_model(results / "tiny" / "best_model.keras", safe_mode=True)
    assert decision_threshold_of(model) == pytest.approx(_test_metrics(results)["decision_threshold"])
    assert model.outputs[0].shape == (None, 1)  # one probability per row, as before the threshold was stored


def test_savedmodel_decision_output_agrees_with_automl_predict(searched, tmp_path, capsys):
    import tensorflow as tf

    from automl.data.tabular import model_inputs

    track, results = searched
    csv, predictions, served = _new_rows(tmp_path), tmp_path / "predictions.csv", tmp_path / "serving" / "1"
    assert main(["predict", "--track", str(track), str(csv), "-o", str(predictions), "--proba",
                 "--results-dir", str(results)]) == 0
    assert main(["export", "--track", str(track), "--format", "savedmodel", str(served),
                 "--results-dir", str(results)]) == 0
    assert "'probability' float32 (batch, 1) and 'decision' bool (batch, 1)" in capsys.readouterr().out

    inputs = model_inputs(pd.read_csv(csv), Store("tiny", results).schema())
    tensors = {k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in inputs.items()}
    loaded = tf.saved_model.load(str(served))
    outputs = loaded.signatures["serving_default"](**tensors)
    table = pd.read_csv(predictions)
    decision = outputs["decision"].numpy().reshape(-1)
    assert table["prediction"].tolist() == np.where(decision, "yes", "no").tolist()
    np.testing.assert_allclose(outputs["probability"].numpy().reshape(-1), table["proba_yes"], rtol=1e-5, atol=1e-6)
    # `serve` stays Keras' own: the probability tensor, as callers of earlier exports use it.
    np.testing.assert_allclose(loaded.serve(tensors).numpy(), outputs["probability"].numpy(), rtol=1e-6)


def test_automl_predict_says_yes_from_the_threshold_on_not_from_one_half(searched, tmp_path):
    track, results = searched
    rows = pd.read_csv(_new_rows(tmp_path))
    threshold = _test_metrics(results)["decision_threshold"]
    probability = automl.predict(str(track), rows, proba=True, results_dir=results)["yes"].to_numpy()
    labels = automl.predict(str(track), rows, results_dir=results)
    assert labels.tolist() == np.where(probability >= np.float32(threshold), "yes", "no").tolist()


def test_report_shows_the_decision_threshold_at_one_half_and_at_it(searched):
    metrics = _test_metrics(searched[1])
    page = (searched[1] / "tiny" / "report.html").read_text()
    assert '<h2 id="decision-threshold">Decision threshold</h2>' in page
    assert f"<th>at 0.5</th><th>at {metrics['searched_decision_threshold']:.4g} (searched)</th>" in page
    assert metrics["decision_threshold"] in (0.5, metrics["searched_decision_threshold"])
    assert ("so it is used" if metrics["threshold_out_of_bag_gain"] > 0 else "so 0.5 stays") in page
    assert "## Decision threshold" in (searched[1] / "tiny" / "summary.md").read_text()


def test_a_model_with_a_threshold_is_measured_like_any_other(searched, tmp_path):
    from automl.data.tabular import model_inputs
    from automl.selection.measures import measure_model

    track, results = searched
    schema = Store("tiny", results).schema()
    rows = model_inputs(make_table("binary", rows=8).drop(columns=["y"]), schema)
    measures = measure_model(automl.best_model(str(track), results_dir=results), rows, tmp_path)
    assert measures["latency_p50_ms"] > 0 and measures["rows_per_second"] > 0


def test_a_model_without_the_layer_has_no_threshold():
    import keras

    from automl.hypermodels.layers import decision_threshold_of, with_decision_threshold

    inputs = keras.Input((2,), name="x")
    plain = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    assert decision_threshold_of(plain) is None
    assert decision_threshold_of(with_decision_threshold(plain, 0.2)) == pytest.approx(0.2)


def test_decision_metric_other_than_the_two_is_one_line_naming_them(tmp_path, capsys):
    track = write_track(tmp_path, task="binary", search_extra='decision_metric = "recall"')
    assert main(["search", "--track", str(track), "--results-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("automl: error: ")
    assert "'search.decision_metric' is 'recall'; use one of: balanced_accuracy, f1" in err


def test_decision_metric_on_a_regression_track_is_one_line_saying_to_remove_it(tmp_path, capsys):
    track = write_track(tmp_path, search_extra='decision_metric = "f1"')
    assert main(["search", "--track", str(track), "--results-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'search.decision_metric'" in err and "remove it" in err


def test_a_search_resumes_across_a_change_of_decision_metric(tmp_path):
    f1 = automl.load_track(write_track(tmp_path, task="binary", search_extra='decision_metric = "f1"'))
    default = automl.load_track(write_track(tmp_path, name="other", task="binary"))
    assert f1.search.decision_metric == "f1" and default.search.decision_metric == "balanced_accuracy"
    assert search_settings(f1.as_dict())["search"] == search_settings(default.as_dict())["search"]
