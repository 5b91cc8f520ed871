"""Model families are plug-ins: a new one is its own module plus one registration, and the whole pipeline runs it.

The "linear" family below is such a module: a trivial search space (one Dense layer over the normalized
numeric columns, only the learning rate searched) that reads tables as the MLP family does. Nothing
else in automl is told about it.
"""
from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_tuner as kt
import pandas as pd
import pytest
from conftest import CHOSEN_LINE, make_table, write_track
from keras import layers

from automl import families, load_track
from automl.cli import main
from automl.data.schema import Schema
from automl.errors import AutomlError
from automl.families import family_names, get_family, register_family
from automl.families.mlp import MLPFamily
from automl.hypermodels.base import SearchSpace
from automl.hypermodels.mlp import to_dataset


class LinearSpace(SearchSpace):
    """Linear regression on the numeric columns; the learning rate is the only hyperparameter."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        schema = self.schema
        inputs = {c: keras.Input(shape=(1,), name=c, dtype="float32") for c in schema.numeric}
        x = layers.Concatenate()(list(inputs.values()))
        x = layers.Normalization(mean=[s["mean"] for s in schema.numeric.values()],
                                 variance=[s["variance"] for s in schema.numeric.values()])(x)
        z = layers.Dense(1)(x)
        outputs = layers.Rescaling(schema.target_std, offset=schema.target_mean)(z)
        model = keras.Model(inputs, outputs, name="linear")
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-2, 1e-1, sampling="log")),
                      loss="mean_squared_error", loss_weights=[1.0 / schema.target_std**2],
                      metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
        return model

    def training_data(self, x, y, batch_size, initial_epoch):
        return to_dataset(x, y, batch_size, shuffle_seed=self.seed), {}

    def validation_data(self, x, y, batch_size):
        return to_dataset(x, y, batch_size)


class LinearFamily(MLPFamily):
    """Reads tables as the MLP family does; searches `LinearSpace`."""

    name = "linear"
    space = LinearSpace

    def space_options(self, track):
        return {}


@pytest.fixture
def linear_family(monkeypatch):
    monkeypatch.setattr(families, "_registered", dict(families._registered))  # registered for this test only
    return register_family(LinearFamily())


def test_a_registered_family_is_known_to_track_files(linear_family, tmp_path):
    assert "linear" in family_names() and get_family("linear") is linear_family
    track = load_track(_linear_track(tmp_path))
    assert track.family == "linear" and track.families == ("linear",)


def test_an_unknown_family_is_one_line_naming_the_known_ones(tmp_path):
    track = write_track(tmp_path)
    track.write_text(track.read_text().replace('family = "mlp"', 'family = "nope"'))
    with pytest.raises(AutomlError, match=r"'family' is 'nope'; use one of: backbone, cnn, combined, mlp"):
        load_track(track)
    with pytest.raises(AutomlError, match=r"unknown model family 'nope'; known families: backbone, cnn, combined, mlp"):
        get_family("nope")


def test_a_new_family_searches_reports_predicts_and_exports_through_the_cli(linear_family, tmp_path, capsys):
    track, results = _linear_track(tmp_path), tmp_path / "results"
    assert main(["search", "--track", str(track), "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert CHOSEN_LINE.search(out) and "learning_rate" in out
    root = results / "tiny"
    metrics = json.loads((root / "test_metrics.json").read_text())
    assert metrics["mae"] < 40.0  # the target spans about 60; a fitted line is far better than its spread
    assert (root / "report.html").is_file() and "Task: regression; data: tiny.csv, target y" in (
        root / "summary.md").read_text()
    rows = tmp_path / "rows.csv"
    make_table(rows=5, seed=3).drop(columns=["colour", "y"]).to_csv(rows, index=False)
    assert main(["predict", "--track", str(track), str(rows), "-o", str(tmp_path / "out.csv"),
                 "--results-dir", str(results)]) == 0
    assert len(pd.read_csv(tmp_path / "out.csv")["prediction"]) == 5
    assert main(["export", "--track", str(track), str(tmp_path / "export"), "--results-dir", str(results)]) == 0
    assert keras.models.load_model(tmp_path / "export" / "tiny.keras", safe_mode=True).name == "linear"


def _linear_track(directory: Path) -> Path:
    # No ensemble: the exported model must be this family's own network, whichever candidate is chosen.
    track = write_track(directory, frame=make_table().drop(columns="colour"), search_extra="ensemble = 0")
    track.write_text(track.read_text().replace('family = "mlp"', 'family = "linear"'))
    return track


def test_each_family_describes_its_own_data_for_the_report():
    images = Schema(task="multiclass", target="label", classes=list(range(10)), kind="images", image_shape=[32, 32, 3])
    line = get_family("cnn").describe_data(load_track("cifar10"), images)
    assert line == "data: cifar10, 32x32x3 uint8 images in 10 classes"  # was "data: cifar10, target " (empty)
    table = Schema(task="regression", target="MEDV")
    assert get_family("mlp").describe_data(load_track("boston"), table) == "data: boston.csv.gz, target MEDV"
