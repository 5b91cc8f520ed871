"""MLPHyperModel: builds and trains for every task, carries its preprocessing, saves and reloads safely."""
from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from automl.data.tabular import load_tabular, model_inputs
from automl.hypermodels.mlp import MLPHyperModel, to_dataset

active_hyperparameters = MLPHyperModel.active_hyperparameters


def _data(tmp_path, task):
    path = tmp_path / "data.csv"
    make_table(task, rows=120).to_csv(path, index=False)
    return load_tabular(path, "y", task)


def _predict(model, frame, schema):
    return model.predict(to_dataset(model_inputs(frame, schema), None, 64), verbose=0)


@pytest.mark.parametrize("task, objective, width", [
    ("regression", "val_mae", 1), ("binary", "val_auc", 1), ("multiclass", "val_accuracy", 3),
])
def test_builds_and_trains_one_epoch_for_each_task(tmp_path, task, objective, width):
    data = _data(tmp_path, task)
    hypermodel = MLPHyperModel(data.schema, objective, "min" if task == "regression" else "max", batch_sizes=[32])
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    history = hypermodel.fit(
        hp, model, model_inputs(data.train.x, data.schema), data.train.y,
        validation_data=(model_inputs(data.validation.x, data.schema), data.validation.y), epochs=1, verbose=0,
    )
    assert objective in history.history and np.isfinite(history.history["loss"][0])
    assert _predict(model, data.test.x, data.schema).shape == (len(data.test), width)


def test_regression_predictions_come_out_in_target_units(tmp_path):
    data = _data(tmp_path, "regression")
    model = MLPHyperModel(data.schema, "val_mae", "min").build(kt.HyperParameters())
    predicted = _predict(model, data.test.x, data.schema)
    # An untrained head outputs about 0 in standardized units, i.e. about the training mean.
    assert abs(predicted.mean() - data.schema.target_mean) < 3 * data.schema.target_std


def test_unseen_categories_and_missing_numbers_still_predict(tmp_path):
    data = _data(tmp_path, "binary")
    model = MLPHyperModel(data.schema, "val_auc", "max").build(kt.HyperParameters())
    rows = pd.DataFrame({"x1": [np.nan, 0.5], "x2": [3.0, np.nan], "colour": ["purple", None]})
    predicted = _predict(model, rows, data.schema)
    assert np.isfinite(predicted).all()


def test_large_vocabularies_put_embedding_in_the_space(tmp_path):
    frame = make_table(rows=200).assign(city=[f"c{i % 40}" for i in range(200)])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    data = load_tabular(path, "y", "regression")
    hp = kt.HyperParameters()
    hp.Fixed("categorical_encoding", "embedding")
    model = MLPHyperModel(data.schema, "val_mae", "min").build(hp)
    assert any(isinstance(layer, keras.layers.Embedding) for layer in model.layers)


def test_saved_model_reloads_in_safe_mode_with_the_same_predictions(tmp_path):
    data = _data(tmp_path, "regression")
    model = MLPHyperModel(data.schema, "val_mae", "min").build(kt.HyperParameters())
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(_predict(model, data.test.x, data.schema), _predict(reloaded, data.test.x, data.schema), rtol=1e-5)


def test_unused_layer_widths_are_blanked():
    values = {"num_layers": 2, "units_0": 64, "units_1": 32, "units_2": 16, "optimizer": "adam"}
    assert active_hyperparameters(values) == {**values, "units_2": None}


def test_the_pipeline_gives_every_row_once_per_pass_reshuffled_with_its_label():
    x = {"number": np.arange(10, dtype="float32").reshape(-1, 1),
         "word": np.array([[f"w{i}"] for i in range(10)], dtype=object)}
    y = np.arange(10, dtype="float32") * 100
    dataset = to_dataset(x, y, batch_size=4, shuffle_seed=1)
    assert not dataset.options().autotune.enabled
    passes = []
    for _ in range(2):
        batches = list(dataset.as_numpy_iterator())
        assert [len(labels) for _, labels in batches] == [4, 4, 2]
        numbers = np.concatenate([columns["number"][:, 0] for columns, _ in batches])
        words = np.concatenate([columns["word"][:, 0] for columns, _ in batches])
        labels = np.concatenate([labels for _, labels in batches])
        assert sorted(numbers) == list(range(10))
        np.testing.assert_array_equal(labels, numbers * 100)  # rows stay whole
        assert [w.decode() for w in words] == [f"w{int(n)}" for n in numbers]
        passes.append(list(numbers))
    assert passes[0] != list(range(10)) and passes[0] != passes[1]  # shuffled, and again at each pass
    unshuffled = to_dataset(x, None, batch_size=4)
    assert np.concatenate([c["number"][:, 0] for c in unshuffled.as_numpy_iterator()]).tolist() == list(range(10))


def test_a_search_makes_each_pipeline_once_per_split_and_batch_size(tmp_path):
    data = _data(tmp_path, "regression")
    hypermodel = MLPHyperModel(data.schema, "val_mae", "min", batch_sizes=[32])
    x, y = model_inputs(data.train.x, data.schema), data.train.y
    vx, vy = model_inputs(data.validation.x, data.schema), data.validation.y
    train, _ = hypermodel.training_data(x, y, 32, initial_epoch=0)
    assert hypermodel.training_data(x, y, 32, initial_epoch=3)[0] is train  # a later trial reuses it
    assert hypermodel.training_data(x, y, 64, initial_epoch=0)[0] is not train
    validation = hypermodel.validation_data(vx, vy, 32)
    assert validation is not train and hypermodel.validation_data(vx, vy, 64) is validation  # both batch 1,024
    other = {k: v.copy() for k, v in x.items()}  # other rows (a refit's): a pipeline of their own
    assert hypermodel.training_data(other, y, 32, initial_epoch=0)[0] is not train
    rows = np.concatenate([labels for _, labels in hypermodel.training_data(other, y, 32, 0)[0].as_numpy_iterator()])
    assert sorted(rows) == sorted(y)


def test_class_weights_in_the_pipeline_train_as_keras_class_weight_does(tmp_path):
    data = _data(tmp_path, "binary")
    x, y = model_inputs(data.train.x, data.schema), data.train.y
    weights = {0: 0.6, 1: 3.0}
    hypermodel = MLPHyperModel(data.schema, "val_auc", "max", batch_sizes=[32])
    train, options = hypermodel.training_data(x, y, 32, initial_epoch=0, class_weight=weights)
    assert options == {}  # the weights are in the pipeline, not handed to Keras
    assert hypermodel.training_data(x, y, 32, initial_epoch=0, class_weight=dict(weights))[0] is train
    assert hypermodel.training_data(x, y, 32, initial_epoch=0)[0] is not train  # unweighted: its own pipeline
    for _, labels, sample_weight in train.take(2).as_numpy_iterator():
        np.testing.assert_allclose(sample_weight, np.where(labels == 1, 3.0, 0.6))
    hp = kt.HyperParameters()
    hp.Fixed("numeric_encoding", "normalization")
    finals = []
    for pipeline, keras_weights in ((to_dataset(x, y, 32), weights), (hypermodel._dataset(x, y, 32, None, weights), None)):
        keras.utils.set_random_seed(0)
        model = hypermodel.build(hp)
        model.fit(pipeline, epochs=2, verbose=0, shuffle=False, class_weight=keras_weights)
        finals.append(model.get_weights())
    for ours, theirs in zip(*finals, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
