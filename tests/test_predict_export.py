"""From your own CSV to a served model: search, predict raw rows with blanks, export, reload and compare."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import CHOSEN_LINE
from test_own_csv import _own_table

import automl
from automl.cli import main
from automl.data.tabular import model_inputs
from automl.store import Store


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny real search of an own-CSV track (binary, with blanks, an ID, a date and a text column)."""
    root = tmp_path_factory.mktemp("own")
    _own_table(120).to_csv(root / "shop.csv", index=False)
    written = automl.track_from_csv(root / "shop.csv", "y", tracks_dir=root / "tracks")
    # A user may edit the track: here, a budget a test can afford.
    text = written.path.read_text().replace("max_epochs = 30", "max_epochs = 3").replace("patience = 8", "patience = 2")
    # and a smaller start, inside the smaller space below (a start outside it is an error naming the values)
    text = text.replace("num_layers = 3\n", "num_layers = 2\n").replace("units_2 = 256\n", "").replace("= 256\n", "= 32\n")
    written.path.write_text(text + "\n[model]\nbatch_sizes = [16]\nmax_units = 32\nmax_layers = 2\n")
    automl.search(str(written.path), results_dir=root / "results")
    return written.path, root / "results"


def _rows(n: int = 8) -> pd.DataFrame:
    rows = _own_table(40).tail(n).drop(columns=["y"]).reset_index(drop=True)
    rows.loc[0, ["x1", "colour"]] = [np.nan, None]  # raw rows with blanks
    return rows


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_model_carries_a_missing_indicator_for_columns_with_blanks(searched):
    track, results = searched
    schema = Store("shop", results).schema()
    assert schema.missing_indicators == ["x1"]
    model = automl.best_model(str(track), results_dir=results)
    # the chosen network, or each member of the chosen ensemble (`automl.hypermodels.ensemble`), carries it
    networks = [layer for layer in model.layers if isinstance(layer, keras.Model)] or [model]
    assert all("missing_indicator" in [layer.name for layer in network.layers] for network in networks)


def test_predict_writes_labels_and_probabilities_with_the_id_first(searched, tmp_path, capsys):
    track, results = searched
    _rows().to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    status, stdout, err = _run(capsys, "predict", "--track", str(track), str(tmp_path / "new.csv"), "-o", str(out),
                               "--id", "row_id", "--proba", "--results-dir", str(results))
    assert status == 0, err
    table = pd.read_csv(out)
    assert list(table.columns) == ["row_id", "prediction", "proba_no", "proba_yes"]
    assert table["row_id"].tolist() == _rows()["row_id"].tolist()
    assert set(table["prediction"]) <= {"no", "yes"}
    np.testing.assert_allclose(table[["proba_no", "proba_yes"]].sum(axis=1), 1.0, rtol=1e-5)
    assert "automl: note: ignoring column the model does not use: signed_up" in err  # comment is text, used
    assert f"wrote 8 predictions to {out}" in stdout


def test_predict_without_output_writes_csv_to_stdout(searched, tmp_path, capsys):
    track, results = searched
    _rows(3).to_csv(tmp_path / "new.csv", index=False)
    status, stdout, _ = _run(capsys, "predict", "--track", str(track), str(tmp_path / "new.csv"),
                             "--results-dir", str(results))
    assert status == 0 and stdout.splitlines()[0] == "prediction" and len(stdout.splitlines()) == 4


def test_predict_input_missing_a_column_is_one_line_naming_it(searched, tmp_path, capsys):
    track, results = searched
    _rows().drop(columns=["x2", "colour"]).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    status, _, err = _run(capsys, "predict", "--track", str(track), str(tmp_path / "new.csv"), "-o", str(out),
                          "--results-dir", str(results))
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("automl: error: ") and "missing column 'x2', 'colour'" in err
    assert not out.exists()


def test_predict_with_an_unknown_id_column_is_one_line(searched, tmp_path, capsys):
    track, results = searched
    _rows().to_csv(tmp_path / "new.csv", index=False)
    status, _, err = _run(capsys, "predict", "--track", str(track), str(tmp_path / "new.csv"), "--id", "nope",
                          "--results-dir", str(results))
    assert status == 2 and err.strip().startswith("automl: error: --id column 'nope' not found")


def test_exported_keras_and_savedmodel_predict_like_the_model(searched, tmp_path, capsys):
    import keras
    import tensorflow as tf

    track, results = searched
    model = automl.best_model(str(track), results_dir=results)
    inputs = model_inputs(_rows(), Store("shop", results).schema())
    expected = model.predict({k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in inputs.items()},
                             verbose=0)

    status, stdout, err = _run(capsys, "export", "--track", str(track), "--format", "keras", str(tmp_path / "k"),
                               "--results-dir", str(results))
    assert status == 0, err
    reloaded = keras.models.load_model(tmp_path / "k" / "shop.keras", safe_mode=True)
    tensors = {k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in inputs.items()}
    np.testing.assert_allclose(reloaded.predict(tensors, verbose=0), expected, rtol=1e-5, atol=1e-6)

    served = tmp_path / "serving" / "shop" / "1"
    status, stdout, err = _run(capsys, "export", "--track", str(track), "--format", "savedmodel", str(served),
                               "--results-dir", str(results))
    assert status == 0, err
    assert "x1 float32" in stdout and "colour string" in stdout
    loaded = tf.saved_model.load(str(served))
    np.testing.assert_allclose(loaded.serve(tensors).numpy(), expected, rtol=1e-5, atol=1e-6)
    signature = loaded.signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"x1", "x2", "colour", "comment"}  # text is kept


def test_export_refuses_to_overwrite(searched, tmp_path, capsys):
    track, results = searched
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "shop.keras").write_text("keep me")
    status, _, err = _run(capsys, "export", "--track", str(track), str(tmp_path / "k"), "--results-dir", str(results))
    assert status == 2 and "already exists" in err and "--overwrite" in err
    assert (tmp_path / "k" / "shop.keras").read_text() == "keep me"


def test_search_csv_writes_the_track_then_reruns_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _own_table(60).to_csv(tmp_path / "shop.csv", index=False)
    status, out, err = _run(capsys, "search", "--csv", "shop.csv", "--target", "y", "--time-limit", "1s",
                            "--results-dir", "results")
    assert status == 0, err
    assert "automl: note: task: binary (two distinct values; target 'y')" in err
    assert "automl: note: text column 'comment': free text" in err  # kept: its words enter the model
    assert (tmp_path / "tracks" / "shop.toml").is_file() and CHOSEN_LINE.search(out)
    status, out, err = _run(capsys, "search", "--track", "shop", "--time-limit", "1s", "--results-dir", "results")
    assert status == 0, err
    assert CHOSEN_LINE.search(out)
