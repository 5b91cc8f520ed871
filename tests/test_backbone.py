"""The backbone family: pretrained weights found, checked and imported (never random), the two-phase fit, and the
saved model; weights files are made by saving randomly initialised backbones, so nothing is downloaded."""
from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import keras
import keras_tuner as kt
import numpy as np
import pytest

import automl
from automl import load_track
from automl.cli import main
from automl.data.schema import Schema
from automl.errors import AutomlError, AutomlWarning
from automl.hypermodels import weights
from automl.hypermodels.backbone import BACKBONE_LAYER, BackboneHyperModel
from automl.hypermodels.pretrained import IMAGENET_STDDEV_RGB, PRETRAINED

MOBILENET = "mobilenet_v1_0.25"
SCHEMA = Schema(task="multiclass", target="label", classes=["a", "b", "c"], kind="images", image_shape=[32, 32, 3])


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    """automl's and Keras' homes in tmp_path, and no network: Keras' download fails as it does offline."""
    monkeypatch.setenv("AUTOML_HOME", str(tmp_path / "automl_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline(entry):
        raise OSError(f"URL fetch failure on {entry.origin}: no network")

    monkeypatch.setattr(weights, "keras_download", offline)
    monkeypatch.setattr(weights, "_failed_downloads", {})


def saved_weights(directory: Path, name: str, size: int, file_name: str = "weights.weights.h5", **options) -> Path:
    """A randomly initialised backbone's weights, as `save_weights` writes them."""
    path = directory / file_name
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        application = getattr(keras.applications, PRETRAINED[name].application)
        application(include_top=False, weights=None, input_shape=(size, size, 3), **options).save_weights(path)
    return path


@pytest.fixture(scope="session")
def mobilenet_file(tmp_path_factory) -> Path:
    return saved_weights(tmp_path_factory.mktemp("weights"), MOBILENET, 128, alpha=0.25)


def images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8), rng.integers(0, 3, size=count)


def configured(space: BackboneHyperModel, **values) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def space_of(path: Path, **options) -> BackboneHyperModel:
    return BackboneHyperModel(SCHEMA, "val_accuracy", "max", batch_sizes=[8], weights={MOBILENET: path}, **options)


# Weights: found, checked, imported; never random.

def test_imported_weights_are_found_where_the_search_looks(mobilenet_file):
    stored = weights.import_weights(MOBILENET, mobilenet_file)
    assert stored.name == "mobilenet_v1_0.25.weights.h5" and stored.parent == weights.weights_dir()
    assert weights.weights_path(MOBILENET) == stored
    backbone = weights.load_backbone(MOBILENET, 160, stored)  # 128-pixel weights load at 160: the same tensors
    assert backbone.input_shape == (None, 160, 160, 3)


def test_keras_cache_is_found_under_the_name_keras_downloads(mobilenet_file, tmp_path):
    cached = tmp_path / "keras_home" / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert weights.weights_path(MOBILENET) == cached


def test_no_weights_anywhere_is_one_line_naming_both_fixes():
    with pytest.raises(AutomlError) as error:
        weights.available([MOBILENET])
    message = str(error.value)
    assert "\n" not in message and "mobilenet_v1_0.25" in message
    assert "connect to the network" in message and "automl weights import mobilenet_v1_0.25 FILE" in message


def test_a_failed_download_is_not_tried_again_in_the_same_process(monkeypatch):
    tries = []
    monkeypatch.setattr(weights, "keras_download", lambda entry: tries.append(entry.name) or 1 / 0)
    for _ in range(2):
        with pytest.raises(AutomlError, match=r"download failed \(division by zero\)"):
            weights.weights_path(MOBILENET)
    assert tries == [MOBILENET]


def test_a_file_of_the_wrong_hash_is_refused(tmp_path):
    legacy = tmp_path / "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    with h5py.File(legacy, "w") as handle:  # the legacy format keras.applications downloads, with other bytes
        handle.attrs["layer_names"] = [b"conv"]
    with pytest.raises(AutomlError, match=r"has md5 \w+, not the d3e8ec802a04aa4fc771ee12a9a9b836 Keras publishes"):
        weights.import_weights("mobilenet_v3_small", legacy)
    assert not weights.weights_dir().exists() or not list(weights.weights_dir().iterdir())


def test_a_file_of_other_shapes_is_refused_in_one_line(tmp_path):
    wider = saved_weights(tmp_path, MOBILENET, 128, alpha=0.5)  # MobileNet 0.5: twice the channels
    with pytest.raises(AutomlError) as error:
        weights.import_weights(MOBILENET, wider)
    assert "\n" not in str(error.value) and "does not hold mobilenet_v1_0.25's weights" in str(error.value)


def test_a_file_that_is_not_weights_is_refused(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(AutomlError, match="is not a weights file"):
        weights.import_weights(MOBILENET, text)


def test_other_backbones_load_where_their_weights_exist(tmp_path):
    efficientnet = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(224, 224, 3))
    normalization = next(layer for layer in efficientnet.layers if isinstance(layer, keras.layers.Normalization))
    normalization.adapt_variance.assign([4.0, 9.0, 16.0])
    efficientnet.save_weights(tmp_path / "b0.weights.h5")
    path = weights.import_weights("efficientnet_b0", tmp_path / "b0.weights.h5")
    loaded = weights.load_backbone("efficientnet_b0", 224, path)
    normalization = next(layer for layer in loaded.layers if isinstance(layer, keras.layers.Normalization))
    # keras.applications' extra Rescaling for ImageNet weights, folded into the variance
    expected = np.array([4.0, 9.0, 16.0]) * IMAGENET_STDDEV_RGB
    np.testing.assert_allclose(np.ravel(normalization.variance), expected, rtol=1e-6)


def test_missing_weights_skip_a_backbone_with_a_note_naming_the_fix(mobilenet_file):
    weights.import_weights(MOBILENET, mobilenet_file)
    with pytest.warns(AutomlWarning, match=r"backbone efficientnet_b0 skipped: no ImageNet weights.*automl weights "
                                           r"import NAME FILE"):
        found = weights.available([MOBILENET, "efficientnet_b0"])
    assert list(found) == [MOBILENET]


def test_an_unknown_backbone_in_a_track_is_one_line_naming_the_known_ones(tmp_path):
    track = write_backbone_track(tmp_path, backbones='["mobilenet", "mobilenet_v1_0.25"]')
    with pytest.raises(AutomlError, match=r"'model.backbones': unknown backbone 'mobilenet'; known backbones: "
                                          r"mobilenet_v1_0.25, mobilenet_v3_small, efficientnet_b0"):
        load_track(track)


def test_weights_import_command_stores_the_file_or_says_why_not(mobilenet_file, tmp_path, capsys):
    assert main(["weights", "import", MOBILENET, str(mobilenet_file)]) == 0
    assert "stored mobilenet_v1_0.25's weights in" in capsys.readouterr().out
    assert main(["weights", "import", "resnet", str(mobilenet_file)]) == 2
    assert capsys.readouterr().err.strip().startswith("automl: error: unknown backbone 'resnet'; known backbones:")


# The model and its two-phase training.

def test_the_model_takes_raw_uint8_resizes_to_the_backbone_and_reloads_in_safe_mode(mobilenet_file, tmp_path):
    space = space_of(mobilenet_file)
    hp = configured(space, image_size=128, translation=0.1, zoom=0.1, dense_units=128, dropout=0.2)
    model = space.build(hp)
    assert model.inputs[0].dtype == "uint8" and tuple(model.outputs[0].shape) == (None, 3)
    assert model.get_layer("resizing").output.shape[1:3] == (128, 128)
    assert not model.get_layer(BACKBONE_LAYER).trainable_weights  # the head trains first
    x, y = images(16)
    space.fit(hp, model, x, y, validation_data=(x, y), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the optimizer's state, of no use to predict
        reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_images_of_any_size_are_resized_once_straight_to_the_backbone_input(mobilenet_file):
    files = Schema(task="multiclass", target="label", classes=["a", "b"], kind="image_files", image_shape=[64, 64, 3])
    space = BackboneHyperModel(files, "val_accuracy", "max", batch_sizes=[8], weights={MOBILENET: mobilenet_file})
    model = space.build(configured(space, image_size=160))
    assert tuple(model.inputs[0].shape) == (None, None, None, 3)
    resizing = [layer for layer in model.layers if isinstance(layer, keras.layers.Resizing)]
    assert [tuple(layer.output.shape[1:3]) for layer in resizing] == [(160, 160)]
    assert model.predict(np.zeros((2, 300, 200, 3), dtype=np.uint8), verbose=0).shape == (2, 2)


class Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ended = []

    def on_epoch_end(self, epoch, logs=None):
        self.ended.append((epoch, "val_accuracy" in (logs or {})))


def test_after_the_head_phase_the_last_layers_fine_tune_and_every_epoch_is_seen(mobilenet_file):
    space = space_of(mobilenet_file)
    hp = configured(space, image_size=128, trainable_layers=12, head_epochs=1)
    model = space.build(hp)
    x, y = images(16)
    seen = Epochs()
    history = space.fit(hp, model, x, y, validation_data=(x, y), epochs=3, callbacks=[seen], verbose=0)
    assert history.epoch == [0, 1, 2] and len(history.history["val_accuracy"]) == 3
    assert seen.ended == [(0, True), (1, True), (2, True)] and history.model is model
    backbone = model.get_layer(BACKBONE_LAYER)
    last = backbone.layers[-12:]
    assert all(not layer.trainable for layer in backbone.layers[:-12])
    assert all(layer.trainable != isinstance(layer, keras.layers.BatchNormalization) for layer in last)
    assert backbone.trainable_weights and all(w.path.split("/")[-2] in {layer.name for layer in last}
                                              for w in backbone.trainable_weights)


def test_a_trial_continued_past_the_head_phase_fine_tunes_from_a_checkpoint_saved_while_fine_tuning(
        mobilenet_file, tmp_path):
    space = space_of(mobilenet_file)
    hp = configured(space, image_size=128, trainable_layers=12, head_epochs=1)
    model = space.build(hp)
    x, y = images(16)
    space.fit(hp, model, x, y, validation_data=(x, y), epochs=2, verbose=0)
    model.save_weights(tmp_path / "checkpoint.weights.h5")  # as Keras Tuner's best-epoch checkpoint does
    rebuilt = space.build(hp)  # frozen, as Hyperband and load_trial_model rebuild it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rebuilt.load_weights(tmp_path / "checkpoint.weights.h5")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    history = space.fit(hp, rebuilt, x, y, validation_data=(x, y), epochs=3, initial_epoch=2, verbose=0)
    assert history.epoch == [2] and rebuilt.get_layer(BACKBONE_LAYER).trainable_weights


def test_the_final_fit_trains_the_head_then_fine_tunes_on_the_clock(mobilenet_file):
    space = space_of(mobilenet_file)
    hp = configured(space, image_size=128, trainable_layers=12, head_epochs=1, batch_size=8)
    hp.Fixed("tuner/epochs", 2)
    model = space.build(hp)
    x, y = images(16)
    history = space.fit_final(hp, model, x, y, validation_data=(x, y), seconds=4)
    passes = len(history.epoch)
    assert passes >= 2 and history.epoch == list(range(passes)) and model.get_layer(BACKBONE_LAYER).trainable_weights
    # 2 steps a pass, the last pass of each phase possibly cut after its first: the count is of both phases
    assert 2 * passes - 2 <= int(model.optimizer.iterations.numpy()) <= 2 * passes


def test_a_frozen_configuration_hides_the_fine_tuning_settings():
    values = {"backbone": "mobilenet_v3_small", "image_size": 128, "trainable_layers": 0, "head_epochs": 2,
              "fine_tune_learning_rate": 1e-4}
    active = BackboneHyperModel.active_hyperparameters(values)
    assert active["head_epochs"] is None and active["fine_tune_learning_rate"] is None and active["image_size"] is None


def write_backbone_track(directory: Path, backbones: str = '["mobilenet_v1_0.25"]') -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(48, 32, 32, 3), dtype=np.uint8)
    y = np.arange(48) % 3
    x[y == 1, :16] = 255  # something to learn: class 1 is bright at the top
    np.savez(directory / "tiny.npz", x_train=x[:36], y_train=y[:36], x_test=x[36:], y_test=y[36:])
    track = directory / "tiny_backbone.toml"
    track.write_text(f"""\
name = "tiny_backbone"
task = "multiclass"
family = "backbone"
[data]
kind = "npz"
path = "tiny.npz"
[split]
validation = 0.25
seed = 1
[search]
tuner = "random"
max_trials = 3
objective = "val_accuracy"
max_epochs = 2
time_limit = "2m"
patience = 2
[model]
batch_sizes = [16]
backbones = {backbones}
""")
    return track


@pytest.mark.slow
def test_a_search_of_mobilenet_on_a_tiny_npz_exports_a_model_of_raw_uint8(mobilenet_file, tmp_path):
    # Random search: three trials, as short as a real search gets (Hyperband's continued trials are tested above).
    weights.import_weights(MOBILENET, mobilenet_file)
    track = write_backbone_track(tmp_path)
    results = tmp_path / "results"
    table = automl.search(str(track), results_dir=results).leaderboard()
    assert set(table["status"]) == {"completed"} and len(table) >= 2
    assert {"backbone", "trainable_layers", "val_accuracy"} <= set(table.columns)
    model = automl.best_model(str(track), results_dir=results)
    assert model.inputs[0].dtype == "uint8"
    assert set(automl.predict(str(track), images(4)[0], results_dir=results)) <= {0, 1, 2}


def test_a_table_with_images_read_by_a_backbone_opens_with_its_start_over_each_kind(mobilenet_file, tmp_path):
    """With weights found, the combined family reads the images with the backbone, left at its defaults by the
    start: the joined start's backbone settings are the defaults, not missing (the search stopped there)."""
    from conftest import first_trials
    from test_combined import shop

    from automl.families.own_csv import track_from_csv

    weights.import_weights(MOBILENET, mobilenet_file)
    written = track_from_csv(shop(tmp_path / "data", rows=60), "label", tracks_dir=tmp_path / "tracks").path
    assert 'image_encoder = "backbone"' in written.read_text()
    opening = first_trials(written, tmp_path / "results", 3)
    assert [trial["inputs"] for trial in opening] == ["table", "table+images", "images"]
    for trial in opening[1:]:
        assert trial["images/backbone"] == MOBILENET and trial["images/trainable_layers"] == 0
        assert trial["tuner/epochs"] == 30
