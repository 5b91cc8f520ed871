"""A table's own validation and test rows (`validation_data=`, `test_data=`; ``data.validation_path``,
``data.test_path``): written beside the track, used as those splits, said in the report."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track

import automl
from automl import load_track
from automl.data.tabular import load_tabular
from automl.errors import AutomlError
from automl.families import get_family
from automl.families.own_memory import track_for


def _rows(data, part):
    """A split's rows as a DataFrame of the columns the model reads, to compare with the rows given."""
    return getattr(data, part).x[["x1", "x2", "colour"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One search of a DataFrame with its own validation and test rows (about 30 s)."""
    root = tmp_path_factory.mktemp("own_split")
    validation, test = make_table(rows=30, seed=5), make_table(rows=25, seed=6)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = automl.search(make_table(rows=100), target="y", validation_data=validation, test_data=test,
                               time_limit="10s", results_dir=root / "results", seed=2, verbose=0)
        yield SimpleNamespace(root=root, result=result, validation=validation, test=test)


def test_the_rows_given_are_written_beside_the_track_which_names_them(searched):
    tracks = searched.root / "tracks"
    pd.testing.assert_frame_equal(pd.read_csv(tracks / "y_validation.csv"), searched.validation)
    assert len(pd.read_csv(tracks / "y_test.csv")) == 25
    track = load_track(tracks / "y.toml")
    assert (track.data.validation_path, track.data.test_path) == ("y_validation.csv", "y_test.csv")
    recorded = json.loads(searched.result.run.store.track_record.read_text())
    assert recorded["data"]["test_path"] == "y_test.csv" and recorded["source"] == str(tracks.resolve() / "y.toml")


def test_the_test_figures_are_on_the_test_rows_given_and_the_report_says_so(searched):
    tested = json.loads(searched.result.run.store.test_metrics.read_text())
    assert tested["rows"] == 25
    summary = searched.result.run.store.summary_md.read_text()
    assert "validation: your validation rows (y_validation.csv); test: your test rows (y_test.csv)" in summary


def test_a_rerun_with_the_same_rows_resumes_and_other_rows_are_refused(searched, monkeypatch):
    monkeypatch.chdir(searched.root)
    assert track_for(make_table(rows=100), "y", validation_data=searched.validation,
                     test_data=searched.test).name == "y.toml"
    with pytest.raises(AutomlError, match="y_validation.csv holds other data"):
        track_for(make_table(rows=100), "y", validation_data=make_table(rows=30, seed=8), test_data=searched.test)


def test_the_search_reopens_from_another_folder(searched, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    again = automl.load(searched.result.path)
    assert again.run.track.own_rows("test") == searched.root.resolve() / "tracks" / "y_test.csv"
    rows = make_table(rows=4, seed=2)
    np.testing.assert_allclose(again.predict(rows), searched.result.predict(rows))


def test_the_table_loader_uses_the_rows_given_as_the_splits(tmp_path):
    track = write_track(tmp_path, frame=make_table(rows=60))
    validation, test = make_table(rows=15, seed=1), make_table(rows=12, seed=2)
    validation.to_csv(tmp_path / "val.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    data = load_tabular(tmp_path / "tiny.csv", "y", "regression", validation_path=tmp_path / "val.csv",
                        test_path=tmp_path / "test.csv")
    assert len(data.train.y) == 60  # nothing carved off the data
    pd.testing.assert_frame_equal(_rows(data, "validation"), validation[["x1", "x2", "colour"]])
    pd.testing.assert_frame_equal(_rows(data, "test"), test[["x1", "x2", "colour"]])
    np.testing.assert_allclose(data.test.y, test["y"].to_numpy(dtype="float32"))
    assert track.is_file()


def test_the_split_not_given_is_carved_off_the_data_stratified(tmp_path):
    frame = make_table("binary", rows=100)
    frame.to_csv(tmp_path / "data.csv", index=False)
    make_table("binary", rows=20, seed=3).to_csv(tmp_path / "val.csv", index=False)
    data = load_tabular(tmp_path / "data.csv", "y", "binary", validation_path=tmp_path / "val.csv", test=0.2)
    assert (len(data.train.y), len(data.validation.y), len(data.test.y)) == (80, 20, 20)
    assert data.test.y.sum() == 10  # stratified: as many yes as no, as in the data


def test_a_validation_file_without_a_column_is_one_clear_error(tmp_path):
    write_track(tmp_path, frame=make_table(rows=60))
    make_table(rows=15).drop(columns=["x2"]).to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(AutomlError, match="val.csv: column 'x2' not found"):
        load_tabular(tmp_path / "tiny.csv", "y", "regression", validation_path=tmp_path / "val.csv")


@pytest.mark.parametrize(("own", "split_by", "message"), [
    ({"validation_data": make_table(rows=10).drop(columns=["x2"])}, {},
     "validation_data: column 'x2' not found; the columns are: x1, colour, y"),
    ({"test_data": make_table(rows=10).iloc[:0]}, {}, "test_data has no rows"),
    ({"validation_data": make_table(rows=10)}, {"group": "colour"},
     r"your own validation rows are the split, and a split by group \('colour'\) carves the rows"),
    ({"test_data": make_table(rows=10)}, {"time": "x1"}, r"a split by time \('x1'\)"),
    ({"validation_data": np.zeros((10, 4))}, {}, "validation_data is a ndarray; give a DataFrame"),
])
def test_bad_rows_of_ones_own_are_one_clear_error_and_write_nothing(tmp_path, monkeypatch, own, split_by, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AutomlError, match=message):
        automl.search(make_table(rows=40), target="y", results_dir=tmp_path / "results", verbose=0, **own, **split_by)
    assert not (tmp_path / "tracks").exists() and not (tmp_path / "results").exists()


def test_a_csv_with_csv_files_of_its_own_rows_becomes_its_track(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_table(rows=60).to_csv(tmp_path / "shop.csv", index=False)
    make_table(rows=15, seed=1).to_csv(tmp_path / "shop_val.csv", index=False)
    track = load_track(track_for(tmp_path / "shop.csv", "y", validation_data=tmp_path / "shop_val.csv",
                                 test_data=make_table(rows=12, seed=2)))
    assert track.data.validation_path == "../shop_val.csv" and track.data.test_path == "shop_test.csv"
    assert len(get_family("mlp").load(track).test.y) == 12
    with pytest.raises(AutomlError, match="validation CSV .*missing.csv does not exist"):
        track_for(tmp_path / "shop.csv", "y", validation_data=tmp_path / "missing.csv")


def test_images_take_no_rows_of_their_own(tmp_path):
    images = (np.zeros((4, 8, 8, 3), dtype="uint8"), [0, 1, 0, 1])
    with pytest.raises(AutomlError, match="validation_data are a table's own rows .* a folder with train/, "
                                          "validation/ and test/ keeps its split"):
        track_for(images, validation_data=make_table(rows=4), tracks_dir=tmp_path)


@pytest.mark.parametrize(("extra", "split", "message"), [
    ('validation_path = "val.csv"', 'group = "colour"',
     "'data.validation_path' holds your own validation rows and 'split.group' carves them by a column"),
    ('test_path = "test.csv"', 'time = "x1"', "'data.test_path' holds your own test rows and 'split.time'"),
])
def test_a_track_file_cannot_both_give_its_rows_and_carve_them(tmp_path, extra, split, message):
    track = write_track(tmp_path, data_extra=extra)
    track.write_text(track.read_text().replace("seed = 7", f"seed = 7\n{split}"))
    with pytest.raises(AutomlError, match=message):
        load_track(track)


def test_an_image_track_takes_no_validation_file(tmp_path):
    track = write_track(tmp_path, data_extra='validation_path = "val.csv"')
    track.write_text(track.read_text().replace('kind = "csv"', 'kind = "npz"').replace('family = "mlp"',
                                                                                     'family = "cnn"'))
    with pytest.raises(AutomlError, match="'data.validation_path' gives a table's own rows; a npz track"):
        load_track(track)
