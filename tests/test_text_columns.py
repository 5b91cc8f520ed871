"""Free text inside table rows: words in accents survive, the vocabulary travels in the model, bad text is refused."""
from __future__ import annotations

import warnings

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from automl.cli import main
from automl.data.tabular import load_tabular, model_inputs
from automl.data.text import MAX_TEXT_CHARS
from automl.errors import AutomlError, AutomlWarning
from automl.hypermodels.layers import standardize_text
from automl.hypermodels.mlp import MLPHyperModel, to_dataset
from automl.hypermodels.text_inputs import learn_vocabularies

TITLES = ["Ação de graças em São Paulo", "Niño pequeño con camión rojo", "Pão de açúcar fresquinho",
          "Canción del corazón ¡Olé!", "Camiseta térmica niña", "Coração de estudante"]


def titled_table(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """A text column of Spanish and Portuguese titles, a number and a category; the target is in the words."""
    rng = np.random.default_rng(seed)
    title = [f"{TITLES[i % len(TITLES)]} {rng.choice(['azul', 'verde', 'grande'])} nº{i}" for i in range(rows)]
    frame = pd.DataFrame({"title": title, "price": rng.uniform(5, 50, rows).round(2),
                          "shop": rng.choice(["norte", "sul"], rows)})
    frame["y"] = np.where(np.arange(rows) % len(TITLES) < 3, "yes", "no")  # the first three titles are "yes"
    return frame


def _load(tmp_path, frame: pd.DataFrame, text=("title",)):
    frame.to_csv(tmp_path / "titles.csv", index=False)
    return load_tabular(tmp_path / "titles.csv", "y", "binary", text=list(text))


def test_standardization_keeps_accents_and_lowercases_every_letter():
    out = standardize_text(tf.constant(["ÁGUA, Ação e NIÑO: ¡Olé!"])).numpy()[0].decode()
    assert out.split() == ["água", "ação", "e", "niño", "olé"]


def test_the_vocabulary_is_learned_on_the_training_split_with_accents(tmp_path):
    data = _load(tmp_path, titled_table())
    learn_vocabularies(data.schema, data.train.x)
    spec = data.schema.text["title"]
    assert {"ação", "niño", "coração", "açúcar"} <= set(spec["vocabulary"])
    assert "são paulo" in spec["bag_vocabulary"] and len(spec["idf"]) == len(spec["bag_vocabulary"])
    held_out = set(data.test.x["title"].str.extract(r"nº(\d+)")[0])
    assert not {f"nº{n}" for n in held_out} & set(spec["vocabulary"])  # test rows' own words are unseen


def test_a_model_with_text_saves_and_reloads_in_safe_mode_with_the_same_predictions(tmp_path):
    data = _load(tmp_path, titled_table())
    learn_vocabularies(data.schema, data.train.x)
    model = MLPHyperModel(data.schema, "val_auc", "max").build(kt.HyperParameters())
    inputs = model_inputs(data.test.x, data.schema)
    model.fit(to_dataset(model_inputs(data.train.x, data.schema), data.train.y, 16), epochs=2, verbose=0)
    expected = model.predict(to_dataset(inputs, None, 64), verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(to_dataset(inputs, None, 64), verbose=0), expected, rtol=1e-6)


def test_a_text_column_empty_in_every_training_row_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"text column 'title' is empty in every training row; .*data.drop"):
        _load(tmp_path, titled_table().assign(title=""))


def test_a_numeric_column_given_as_text_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"column 'price' is listed in data.text but holds numbers"):
        _load(tmp_path, titled_table(), text=("title", "price"))


def test_very_long_texts_are_truncated_with_a_note(tmp_path):
    frame = titled_table()
    frame.loc[:9, "title"] = "palavra " * 400  # 3,200 characters
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _load(tmp_path, frame)
    notes = [str(w.message) for w in caught if issubclass(w.category, AutomlWarning)]
    assert any(f"longer than {MAX_TEXT_CHARS} characters; the model reads the first {MAX_TEXT_CHARS}" in n
               for n in notes)
    cut = standardize_text(tf.constant(["a" * (MAX_TEXT_CHARS + 50)])).numpy()[0].decode()
    assert len(cut) == MAX_TEXT_CHARS


@pytest.mark.slow
def test_a_csv_with_text_searches_predicts_and_exports_raw_strings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    titled_table(90).to_csv("titles.csv", index=False)
    assert main(["search", "--csv", "titles.csv", "--target", "y", "--time-limit", "15s",
                 "--results-dir", "results"]) == 0
    err = capsys.readouterr().err
    assert "automl: note: text column 'title': free text" in err
    assert 'text = ["title"]' in (tmp_path / "tracks" / "titles.toml").read_text()
    titled_table(8, seed=1).drop(columns="y").to_csv("new.csv", index=False)
    assert main(["predict", "--track", "titles", "new.csv", "-o", "out.csv", "--results-dir", "results"]) == 0
    assert set(pd.read_csv("out.csv")["prediction"]) <= {"yes", "no"}
    assert main(["export", "--track", "titles", "--format", "savedmodel", "served", "--results-dir", "results"]) == 0
    assert "title string (raw text)" in capsys.readouterr().out
    served = tf.saved_model.load("served")
    rows = titled_table(4, seed=2)
    outputs = served.serve({"title": tf.constant(rows[["title"]].to_numpy(dtype=str)),
                            "price": tf.constant(rows[["price"]].to_numpy(dtype="float32")),
                            "shop": tf.constant(rows[["shop"]].to_numpy(dtype=str))}).numpy()
    assert outputs.shape == (4, 1) and ((outputs >= 0) & (outputs <= 1)).all()
