"""A search may span several families (``family = ["cnn", "flat"]``): one Hyperband over all their spaces.

"flat" is a family made in this file: the image data side every image family shares, and a space of one
Dense layer over the pixels whose ``dropout`` is a choice of values where the CNN's is a float range, so the
test also shows that each family's hyperparameters live under its own name.
"""
from __future__ import annotations

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import trials_only
from keras import layers
from test_cnn import TINY_CIFAR10, write_image_track

import automl
from automl import families, load_track
from automl.errors import AutomlError
from automl.families import family_of, register_family
from automl.families.images import ImageFamily
from automl.hypermodels.cnn import CNNHyperModel
from automl.hypermodels.image_inputs import image_input
from automl.hypermodels.several import SeveralSpaces


class FlatSpace(CNNHyperModel):
    """Pixels straight into a softmax; trains and retrains as the CNN does."""

    main_hyperparameters = ("dropout",)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs, x = image_input(self.schema)
        x = layers.Flatten()(layers.Rescaling(1.0 / 255)(x))
        x = layers.Dropout(hp.Choice("dropout", [0.0, 0.5]))(x)
        outputs = layers.Dense(len(self.schema.classes), activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-3, 3e-3])),
                      loss="sparse_categorical_crossentropy",
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model


class FlatFamily(ImageFamily):
    name = "flat"
    space = FlatSpace
    trains_on_the_clock = True


@pytest.fixture
def flat_family(monkeypatch):
    monkeypatch.setattr(families, "_registered", dict(families._registered))  # registered for this test only
    return register_family(FlatFamily())


def both_track(tmp_path, family='["cnn", "flat"]'):
    track = write_image_track(tmp_path)
    track.write_text(track.read_text().replace('family = "cnn"', f"family = {family}"))
    return track


def test_each_familys_hyperparameters_live_under_its_name(flat_family, tmp_path):
    track = load_track(both_track(tmp_path))
    family = family_of(track)
    assert track.families == ("cnn", "flat") and family.compared_by == "family"
    assert family.main_hyperparameters[:2] == ("family", "num_blocks") and "dropout" in family.main_hyperparameters
    schema = family.load(track).schema
    space = family.hypermodel(track, schema)
    assert isinstance(space, SeveralSpaces)
    hp = kt.HyperParameters()
    hp.Fixed("family", "flat")
    space.build(hp)
    assert hp.values["flat/dropout"] in (0.0, 0.5) and not any(k.startswith("cnn/") for k in hp.values)
    other = kt.HyperParameters()
    other.Fixed("family", "cnn")
    space.build(other)
    assert 0.0 <= other.values["cnn/dropout"] <= 0.4 and "cnn/num_blocks" in other.values
    shown = family.active_hyperparameters(hp.values)
    assert shown["family"] == "flat" and shown["dropout"] == hp.values["flat/dropout"]
    assert not any("/" in k for k in shown)


@pytest.mark.parametrize("family, message", [
    ('["cnn", "cnn"]', r"'family' names \['cnn'\] twice"),
    ("[]", r"'family' is an empty list"),
    ('["cnn", "mlp"]', r"family 'mlp' does not go with data.kind 'npz'"),
])
def test_a_wrong_list_of_families_is_one_line(flat_family, tmp_path, family, message):
    with pytest.raises(AutomlError, match=message):
        load_track(both_track(tmp_path, family))


@pytest.mark.slow
def test_one_search_spans_both_families_and_the_report_compares_them(flat_family, tmp_path):
    track = both_track(tmp_path)
    text = track.read_text().replace("max_epochs = 2", "max_epochs = 4")
    track.write_text(text)
    results = tmp_path / "results"
    table = automl.search(str(track), results_dir=results).leaderboard()
    assert set(trials_only(table)["family"]) == {"cnn", "flat"}
    assert {"num_blocks", "dropout", "learning_rate"} <= set(table.columns)  # plain names, each family's own
    folder = results / "tiny_images"
    metrics = json.loads((folder / "test_metrics.json").read_text())
    assert set(metrics["compared"]) == {"cnn", "flat"}
    assert all(0.0 <= figures["accuracy"] <= 1.0 for figures in metrics["compared"].values())
    page = (folder / "report.html").read_text()
    assert "Networks compared" in page and "To production:" in page and "test_accuracy" in page
    with np.load(TINY_CIFAR10) as arrays:
        said = automl.predict(str(track), arrays["x_test"][:4], results_dir=results)
    assert len(said) == 4


def test_the_terminal_shows_the_hyperparameters_of_the_families_on_top(flat_family, tmp_path):
    import pandas as pd

    from automl.context import Run
    from automl.reporting.summary import terminal_table

    table = pd.DataFrame({"trial_id": ["1", "2"], "status": ["completed"] * 2, "score": [0.8, 0.3],
                          "family": ["flat", "flat"], "num_blocks": [None, None], "filters": [None, None],
                          "dropout": [0.5, 0.0], "learning_rate": [1e-3, 3e-3]})
    shown = terminal_table(table, Run.open(both_track(tmp_path)))
    assert list(shown.columns[:5]) == ["trial_id", "status", "val_accuracy", "family", "dropout"]
