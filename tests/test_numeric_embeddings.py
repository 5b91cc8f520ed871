"""Numeric columns as the MLP space may encode them: standardized, piecewise-linear on quantile bins, periodic."""
from __future__ import annotations

import math

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from conftest import make_table
from test_mlp import _data, _predict

from automl.data.tabular import load_tabular, model_inputs
from automl.hypermodels.mlp import MLPHyperModel, to_dataset
from automl.hypermodels.numeric import PiecewiseLinearEncoding, standardized_edges


def test_piecewise_linear_encoding_fills_the_bins_below_and_extends_past_the_ends():
    encode = PiecewiseLinearEncoding([[0.0, 1.0, 2.0, 4.0], [-1.0, 1.0]])
    x = np.array([[-1.0, 0.0], [0.5, 3.0], [3.0, -3.0], [5.0, 0.5]], dtype="float32")
    np.testing.assert_allclose(np.asarray(encode(x)), [
        [-1.0, 0.0, 0.0, 0.5],  # below the first edge: the first bin goes negative, the others stay 0
        [0.5, 0.0, 0.0, 2.0],
        [1.0, 1.0, 0.5, -1.0],
        [1.0, 1.0, 1.5, 0.75],  # above the last edge: the last bin goes past 1
    ])


def test_bins_are_the_training_quantiles_on_the_standardized_scale(tmp_path):
    data = _data(tmp_path, "regression")
    edges = standardized_edges(data.schema)
    spec = data.schema.numeric["x1"]
    values = data.train.x["x1"].dropna()
    assert len(edges) == len(data.schema.numeric) and 2 <= len(edges[0]) <= 33
    assert edges[0][0] == pytest.approx((values.min() - spec["mean"]) / np.sqrt(spec["variance"]))
    assert edges[0] == sorted(edges[0])


@pytest.mark.parametrize("encoding", ["piecewise_linear", "periodic"])
def test_each_encoding_saves_reloads_and_takes_blanks_and_unseen_values(tmp_path, encoding):
    data = _data(tmp_path, "regression")
    hp = kt.HyperParameters()
    hp.Fixed("numeric_encoding", encoding)
    model = MLPHyperModel(data.schema, "val_mae", "min").build(hp)
    assert any(layer.name == encoding for layer in model.layers)
    rows = pd.concat([data.test.x, pd.DataFrame({"x1": [np.nan, 1e6], "x2": [-1e6, np.nan],
                                                 "colour": ["purple", None]})], ignore_index=True)
    predicted = _predict(model, rows, data.schema)
    assert np.isfinite(predicted).all()
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(_predict(reloaded, rows, data.schema), predicted, rtol=1e-5, atol=1e-5)


SCALED_LOSSES = {  # the loss on the standardized target, from residuals r in the target's units
    "mse": lambda r, std: np.mean((r / std) ** 2),
    "mae": lambda r, std: np.mean(np.abs(r / std)),
    "huber": lambda r, std: np.mean(np.where(np.abs(r) <= std, 0.5 * (r / std) ** 2, np.abs(r / std) - 0.5)),
}


@pytest.mark.parametrize("loss", list(SCALED_LOSSES))
def test_the_regression_loss_is_searched_and_scaled_to_the_standardized_target(tmp_path, loss):
    data = _data(tmp_path, "regression")
    hp = kt.HyperParameters()
    hp.Fixed("loss", loss)
    model = MLPHyperModel(data.schema, "val_mae", "min").build(hp)
    residuals = data.test.y - _predict(model, data.test.x, data.schema).reshape(-1)
    evaluated = model.evaluate(to_dataset(model_inputs(data.test.x, data.schema), data.test.y, 1024), verbose=0,
                               return_dict=True)["loss"]
    assert evaluated == pytest.approx(SCALED_LOSSES[loss](residuals, data.schema.target_std), rel=1e-4)


LOG_TARGET_LOSSES = {  # with a log target, from predictions p and targets y; s is the target's geometric mean
    "msle": lambda y, p, s, std: np.mean((np.log1p(p) - np.log1p(y)) ** 2) / std**2,
    "mae": lambda y, p, s, std: np.mean(np.abs(p - y)) / s,
    "huber": lambda y, p, s, std: np.mean(np.where(np.abs(p - y) <= s, 0.5 * (p - y) ** 2,
                                                   s * np.abs(p - y) - 0.5 * s**2)) / s**2,
}


@pytest.mark.parametrize("loss", list(LOG_TARGET_LOSSES))
def test_a_log_target_searches_the_squared_log_error_or_the_error_in_its_own_units(tmp_path, loss):
    path = tmp_path / "data.csv"
    make_table("regression", rows=120).to_csv(path, index=False)
    data = load_tabular(path, "y", "regression", target_transform="log")
    hp = kt.HyperParameters()
    hp.Fixed("loss", loss)
    model = MLPHyperModel(data.schema, "val_mae", "min").build(hp)
    predicted = _predict(model, data.test.x, data.schema).reshape(-1)
    evaluated = model.evaluate(to_dataset(model_inputs(data.test.x, data.schema), data.test.y, 1024), verbose=0,
                               return_dict=True)["loss"]
    scale = math.exp(data.schema.target_mean)
    expected = LOG_TARGET_LOSSES[loss](data.test.y, predicted, scale, data.schema.target_std)
    assert evaluated == pytest.approx(expected, rel=1e-3)
