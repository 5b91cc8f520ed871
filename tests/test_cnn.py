"""CNNHyperModel: builds, trains on raw uint8 images, saves and reloads exactly; a real search end to end (slow)."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import TINY_CIFAR10, fixed

import automl
from automl.data.images import CIFAR10_CLASSES
from automl.data.schema import Schema
from automl.hypermodels.cnn import CNNHyperModel
from automl.hypermodels.image_inputs import image_dataset, steps_per_epoch

SCHEMA = Schema(task="multiclass", target="label", classes=CIFAR10_CLASSES, kind="images", image_shape=[32, 32, 3])
LIGHTEST = {"num_blocks": 2, "filters": 16, "convs_per_block": 1, "kernel_size": 3, "dense_units": 0}


def images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=count)


def test_builds_on_raw_uint8_images_with_a_softmax_over_the_classes():
    model = CNNHyperModel(SCHEMA, "val_accuracy", "max").build(kt.HyperParameters())
    assert model.inputs[0].dtype == "uint8" and tuple(model.inputs[0].shape) == (None, 32, 32, 3)
    assert tuple(model.outputs[0].shape) == (None, 10)
    assert {"rescaling", "flip", "translation"} <= {layer.name for layer in model.layers}


def test_the_heaviest_candidate_stays_under_a_million_parameters():
    heaviest = {"num_blocks": 4, "filters": 64, "convs_per_block": 2, "kernel_size": 5, "pooling": "flatten",
                "dense_units": 256}
    hypermodel = CNNHyperModel(SCHEMA, "val_accuracy", "max")
    assert hypermodel.build(fixed(LIGHTEST)).count_params() < 10_000
    assert hypermodel.build(fixed(heaviest)).count_params() < 1_000_000


def test_one_epoch_is_images_per_epoch_images_from_a_repeating_stream():
    x, y = images(32)
    hypermodel = CNNHyperModel(SCHEMA, "val_accuracy", "max", batch_sizes=[8], images_per_epoch=20)
    hp = fixed(LIGHTEST)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, x, y, validation_data=images(8, seed=1), epochs=2, verbose=0)
    assert steps_per_epoch(20, 8) == 3
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_saved_model_reloads_in_safe_mode_and_predicts_the_same_on_raw_uint8(tmp_path):
    x, y = images(16)
    hypermodel = CNNHyperModel(SCHEMA, "val_accuracy", "max", batch_sizes=[8])
    hp = fixed({**LIGHTEST, "rotation": 0.05, "zoom": 0.1})  # every augmentation layer must survive the round trip
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, x, y, validation_data=(x, y), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    expected = model.predict(image_dataset(x, None, 8), verbose=0)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-5)


def write_image_track(directory: Path) -> Path:
    track = directory / "tiny_images.toml"
    track.write_text(f"""\
name = "tiny_images"
task = "multiclass"
family = "cnn"
[data]
kind = "npz"
path = "{TINY_CIFAR10.resolve()}"
[split]
validation = 0.2
seed = 1
[search]
objective = "val_accuracy"
max_epochs = 2
factor = 2
time_limit = "3m"
patience = 2
[model]
batch_sizes = [64]
""")
    return track


@pytest.mark.slow
def test_search_on_real_cifar10_images_reports_test_figures_and_predicts_raw_uint8(tmp_path):
    track = write_image_track(tmp_path)
    results = tmp_path / "results"
    table = automl.search(str(track), results_dir=results).leaderboard()
    assert set(table["status"]) == {"completed"} and len(table) >= 3
    assert {"num_blocks", "filters", "val_accuracy", "latency_p50_ms"} <= set(table.columns)
    metrics = json.loads((results / "tiny_images" / "test_metrics.json").read_text())
    assert metrics["rows"] == 100 and {"accuracy", "balanced_accuracy", "f1", "roc_auc"} <= set(metrics)
    assert (results / "tiny_images" / "plots" / "test_predictions.png").is_file()
    with np.load(TINY_CIFAR10) as arrays:
        test_images = arrays["x_test"][:5]
    assert set(automl.predict(str(track), test_images, results_dir=results)) <= set(range(10))
    probabilities = automl.predict(str(track), test_images, proba=True, results_dir=results)
    assert probabilities.shape == (5, 10)
    model = automl.best_model(str(track), results_dir=results)
    assert model.inputs[0].dtype == "uint8"
    with pytest.raises(automl.AutomlError, match=r"expected uint8 images of shape \(N, 32, 32, 3\), got float64"):
        automl.predict(str(track), test_images / 255.0, results_dir=results)
