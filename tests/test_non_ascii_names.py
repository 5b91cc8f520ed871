"""Columns and classes named in any script (prix_😀, größe, 面积): the model's layers, and a search from the CLI."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest
from conftest import CHOSEN_LINE

from automl.hypermodels.layers import column_layer_name, serving_name


def test_a_column_named_in_ascii_keeps_its_layer_name():
    assert column_layer_name("sale_price", "lookup") == "sale_price_lookup"


@pytest.mark.parametrize("column", ["prix_😀", "größe", "面积", "sale price", "km/h"])
def test_a_column_named_otherwise_gets_a_name_tensorflow_accepts(column):
    assert re.fullmatch(r"[A-Za-z0-9_.-]+_lookup", column_layer_name(column, "lookup"))


@pytest.mark.parametrize("column", ["prix_😀", "größe", "面积", "sale price", "_id", "😀"])
def test_a_column_named_otherwise_gets_a_serving_name_tensorflow_accepts(column):
    assert re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.-]*", serving_name(column))
    assert serving_name("sale_price") == "sale_price" and serving_name("面积") != serving_name("北京")


def test_columns_that_differ_only_outside_ascii_get_distinct_layer_names():
    assert column_layer_name("面积", "lookup") != column_layer_name("北京", "lookup")


@pytest.mark.slow
def test_cli_searches_a_csv_whose_column_and_class_names_are_not_ascii(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    pd.DataFrame({"prix_😀": x, "größe": rng.uniform(size=80), "面积": rng.choice(["北", "南"], size=80),
                  "classe_✓": np.where(x > 0, "oui_😀", "non_é")}).to_csv(tmp_path / "données.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "automl", "search", "--csv", "données.csv", "--target", "classe_✓",
                           "--time-limit", "5s"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert CHOSEN_LINE.search(done.stdout)
    track = tomllib.loads((tmp_path / "tracks" / "donn_es.toml").read_text(encoding="utf-8"))
    assert track["data"]["target"] == "classe_✓" and track["data"]["positive"] == "oui_😀"
    assert track["data"]["categorical"] == ["面积"]
    exported = subprocess.run([sys.executable, "-m", "automl", "export", "--track", "donn_es", "--format",
                               "savedmodel", "served"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stderr[-3000:]
    # The signature names each column's tensor (`serving_name`), and serves the rows as the search's model does.
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    names = {column: serving_name(column) for column in ("prix_😀", "größe", "面积")}
    assert set(served.structured_input_signature[1]) == set(names.values()) and len(set(names.values())) == 3
    assert all(name in exported.stdout for name in names.values())
    row = {names["prix_😀"]: tf.constant([[1.5]]), names["größe"]: tf.constant([[0.5]]),
           names["面积"]: tf.constant([["北"]])}
    assert float(served(**row)["probability"].numpy()[0, 0]) >= 0.0
