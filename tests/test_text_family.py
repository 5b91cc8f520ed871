"""The text family: three encoders searched over text columns, each saved and reloaded in safe mode."""
from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import write_track
from test_text_columns import titled_table

from automl import load_track
from automl.cli import main
from automl.data.tabular import load_tabular, model_inputs
from automl.errors import AutomlError
from automl.families import get_family
from automl.hypermodels.mlp import to_dataset
from automl.hypermodels.text import TextHyperModel
from automl.hypermodels.text_inputs import learn_vocabularies


@pytest.fixture(scope="module")
def titles(tmp_path_factory):
    path = tmp_path_factory.mktemp("titles") / "titles.csv"
    titled_table(90).drop(columns=["price", "shop"]).to_csv(path, index=False)
    data = load_tabular(path, "y", "binary", text=["title"])
    learn_vocabularies(data.schema, data.train.x)
    return data


@pytest.mark.parametrize("encoder, pooling", [("bag", None), ("embedding", "mean"), ("embedding", "max"),
                                              ("cnn", None)])
def test_each_text_encoder_learns_saves_and_reloads_in_safe_mode(titles, tmp_path, encoder, pooling):
    hp = kt.HyperParameters()
    hp.Fixed("text_encoder", encoder)
    if pooling:
        hp.Fixed("pooling", pooling)
    model = TextHyperModel(titles.schema, "val_auc", "max").build(hp)
    train = model_inputs(titles.train.x, titles.schema)
    model.fit(to_dataset(train, titles.train.y, 16), epochs=2, verbose=0)
    inputs = to_dataset(model_inputs(titles.test.x, titles.schema), None, 64)
    expected = model.predict(inputs, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_the_report_shows_only_the_encoders_own_hyperparameters():
    active = TextHyperModel.active_hyperparameters(
        {"text_encoder": "bag", "bag_tokens": 5000, "pooling": "mean", "filters": 64, "num_layers": 1, "units_1": 9})
    assert active == {"text_encoder": "bag", "bag_tokens": 5000, "pooling": None, "filters": None,
                      "num_layers": 1, "units_1": None}


def test_a_text_track_without_text_columns_is_refused(tmp_path):
    track = write_track(tmp_path)
    track.write_text(track.read_text().replace('family = "mlp"', 'family = "text"'))
    with pytest.raises(AutomlError, match=r"family \"text\" reads text columns; list them in 'data.text'"):
        load_track(track)


def test_the_text_family_is_registered():
    assert get_family("text").space is TextHyperModel


@pytest.mark.slow
def test_a_csv_of_text_only_searches_with_the_text_family(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    titled_table(90).drop(columns=["price", "shop"]).to_csv("titles.csv", index=False)
    assert main(["search", "--csv", "titles.csv", "--target", "y", "--time-limit", "15s",
                 "--results-dir", "results"]) == 0
    assert 'automl: note: family: "text"' in capsys.readouterr().err
    assert load_track("tracks/titles.toml").family == "text"
