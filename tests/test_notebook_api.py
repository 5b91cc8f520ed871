"""The notebook API: `automl.search` of what is in memory, the `Search` it returns, `automl.load`, the progress."""
from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track

import automl
from automl.cli import main
from automl.context import Run
from automl.errors import AutomlError
from automl.families.own_memory import track_for, track_from_arrays
from automl.monitoring.bar import ProgressBar
from automl.selection.choice import candidate_name
from automl.serving.result import Search


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One search of a DataFrame from a fresh folder, shared by the tests that read it (it takes about 30 s)."""
    root = tmp_path_factory.mktemp("notebook")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = automl.search(make_table(rows=120), target="y", time_limit="12s", results_dir=root / "results",
                               seed=3, verbose=0)
        yield SimpleNamespace(root=root, result=result)


def _in(root: Path, monkeypatch) -> None:
    monkeypatch.chdir(root)


def test_a_dataframe_is_written_beside_its_track_so_the_command_line_finds_it(searched):
    tracks = searched.root / "tracks"
    assert (tracks / "y.toml").is_file()
    assert pd.read_csv(tracks / "y.csv").shape == (120, 4)
    assert isinstance(searched.result, Search) and searched.result.path == searched.root / "results" / "y"


def test_the_seed_given_is_the_search_seed_recorded(searched):
    recorded = json.loads(searched.result.run.store.track_record.read_text())
    assert recorded["search"]["seed"] == 3


def test_the_result_predicts_rows_with_or_without_the_target(searched):
    rows = make_table(rows=5, seed=9)
    with_target = searched.result.predict(rows)
    assert with_target.shape == (5,) and np.isfinite(with_target).all()
    np.testing.assert_allclose(searched.result.predict(rows.drop(columns=["y"])), with_target)


def test_the_leaderboard_is_the_report_table_with_its_diagnosis(searched):
    table = searched.result.leaderboard()
    assert {"trial_id", "score", "diagnosis", "chosen"} <= set(table.columns)
    assert table["chosen"].sum() == 1 and table is searched.result.table


def test_evaluate_gives_the_test_measures_on_labelled_rows(searched):
    figures = searched.result.evaluate(make_table(rows=30, seed=4))
    assert {"rmse", "mae", "r2"} <= set(figures) and figures["rows"] == 30


def test_evaluate_without_the_target_column_says_so(searched):
    with pytest.raises(AutomlError, match="target column 'y'"):
        searched.result.evaluate(make_table(rows=5).drop(columns=["y"]))


def test_importance_is_the_importance_table(searched):
    importance = searched.result.importance()
    assert set(importance["column"]) == {"x1", "x2", "colour"}


def test_the_html_shows_the_choice_why_the_trials_and_the_curves(searched):
    page = searched.result._repr_html_()
    chosen = candidate_name(searched.result.leaderboard().query("chosen")["trial_id"].item())
    assert f"Chosen model: {html.escape(chosen)}" in page and "within" in page  # the choice, and the rule's why
    assert page.count("<table") >= 2  # the test figures and the trials compared
    assert "data:image/png;base64," in page


def test_the_repr_is_one_paragraph_naming_the_choice(searched):
    text = repr(searched.result)
    assert "\n" not in text and "Search 'y'" in text and "chosen: " in text


def test_load_reopens_the_search_from_its_folder(searched, monkeypatch):
    _in(searched.root, monkeypatch)
    again = automl.load(searched.result.path)
    rows = make_table(rows=4, seed=2)
    np.testing.assert_allclose(again.predict(rows), searched.result.predict(rows))
    assert len(again.leaderboard()) == len(searched.result.leaderboard())


def test_the_per_trial_lines_go_to_the_search_log(searched):
    log = searched.result.run.store.search_log().read_text()
    assert "trial 0000 val_mae" in log and "time limit reached" in log


def test_export_writes_the_chosen_model(searched, tmp_path):
    assert searched.result.export(tmp_path).name == "y.keras"


def test_load_of_a_search_that_is_not_there_is_one_line(tmp_path):
    with pytest.raises(AutomlError, match="no search 'nothing'"):
        automl.load("nothing", results_dir=tmp_path)


@pytest.mark.parametrize(("data", "target", "message"), [
    (pd.DataFrame(), "y", "the DataFrame is empty"),
    (make_table(rows=10), "price", "target 'price' is not a column of the DataFrame; its columns are: x1, x2"),
    (make_table(rows=10), None, "a DataFrame needs its target"),
    (np.zeros((4, 8, 8, 3), dtype="uint8"), None, "images need their labels"),
    ((np.zeros((4, 8, 8, 3), dtype="uint8"), None), None, "images need their labels"),
    ((np.zeros((4, 8, 8, 3), dtype="uint8"), [0, 1]), None, "4 images but 2 labels"),
    ((np.zeros((4, 8, 8, 3), dtype="float32"), [0, 1, 0, 1]), None, "expected uint8 images"),
])
def test_bad_data_is_one_clear_error(tmp_path, monkeypatch, data, target, message):
    _in(tmp_path, monkeypatch)
    with pytest.raises(AutomlError, match=message.replace("(", r"\(")):
        automl.search(data, target=target, results_dir=tmp_path / "results", verbose=0)
    assert not (tmp_path / "results").exists()


def test_other_data_under_the_same_name_is_refused_until_restart(tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    from automl.families.own_memory import track_from_frame

    track_from_frame(make_table(rows=40), "y", name="houses")
    with pytest.raises(AutomlError, match="holds other data than this DataFrame"):
        track_from_frame(make_table(rows=40, seed=1), "y", name="houses")
    written = track_from_frame(make_table(rows=40, seed=1), "y", name="houses", replace=True)
    assert len(pd.read_csv(tmp_path / "tracks" / "houses.csv")) == 40 and written.name == "houses"


def test_a_verbose_keras_does_not_have_is_refused(tmp_path):
    with pytest.raises(AutomlError, match="verbose=3"):
        automl.search(make_table(rows=10), target="y", verbose=3)


def test_image_arrays_are_written_as_a_folder_once(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, size=(12, 8, 8, 3), dtype="uint8")
    y = ["cat", "dog"] * 6
    written = track_from_arrays(x, y, name="pets", tracks_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "pets").iterdir() if p.is_dir()) == ["cat", "dog"]
    assert len(list((tmp_path / "pets" / "dog").glob("*.png"))) == 6
    again = track_from_arrays(x, y, name="pets", tracks_dir=tmp_path)
    assert again.path == written.path and "unchanged" in again.notes[-1]
    with pytest.raises(AutomlError, match="holds other images"):
        track_from_arrays(x[::-1], y, name="pets", tracks_dir=tmp_path)


def _trial(trial_id: str, score: float):
    return SimpleNamespace(trial_id=trial_id, score=score, status="COMPLETED", message=None,
                           hyperparameters=SimpleNamespace(values={"tuner/epochs": 2}))


def test_the_bar_counts_trials_and_shows_the_best_and_the_time_left(tiny_track, results_dir):
    run = Run.open(str(tiny_track), results_dir).started("1m")
    hooks = ProgressBar(run, 1)
    hooks.run_started(run)
    hooks.trial_done(_trial("0000", 3.0))
    hooks.trial_done(_trial("0001", 2.5))
    text = hooks.status()
    assert text.startswith("2 trials, best val_mae 2.5, ") and "left" in text
    assert hooks.bar.total == 60 and 0 <= hooks.bar.n <= 60
    hooks.close()
    assert hooks.bar is None
    assert "trial 0001 val_mae 2.5" in run.store.search_log().read_text()


def test_verbose_two_writes_a_line_per_trial_and_no_bar(tiny_track, results_dir, capsys):
    run = Run.open(str(tiny_track), results_dir).started("1m")
    hooks = ProgressBar(run, 2)
    hooks.run_started(run)
    hooks.trial_done(_trial("0000", 3.0))
    assert hooks.bar is None and "trial 0000 val_mae 3" in capsys.readouterr().out


def test_verbose_zero_shows_nothing_and_still_logs(tiny_track, results_dir, capsys):
    run = Run.open(str(tiny_track), results_dir).started("1m")
    hooks = ProgressBar(run, 0)
    hooks.run_started(run)
    hooks.trial_done(_trial("0000", math.nan))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert "trial 0000" in run.store.search_log().read_text()


@pytest.mark.slow
def test_image_arrays_are_searched_and_predicted_at_any_size(tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    y = np.array(["dark", "light"] * 15)
    x = np.where((y == "light")[:, None, None, None], 200, 40).astype("uint8") * np.ones((1, 32, 32, 3), "uint8")
    x = (x + rng.integers(0, 30, size=x.shape)).astype("uint8")
    result = automl.search((x, y), name="shades", time_limit="15s", results_dir=tmp_path / "results", verbose=0)
    assert (tmp_path / "tracks" / "shades.toml").is_file()
    bigger = np.full((3, 48, 40, 3), 210, dtype="uint8")
    assert set(result.predict(bigger)) <= {"dark", "light"}
    assert list(result.predict_proba(bigger).columns) == ["dark", "light"]
    files = sorted((tmp_path / "tracks" / "shades" / "light").glob("*.png"))[:2]
    assert len(result.predict(files)) == 2
    assert 0.0 <= result.evaluate(x, y)["accuracy"] <= 1.0


def test_a_folder_and_a_csv_become_their_tracks_and_a_track_stays_as_it_is(tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    x = np.random.default_rng(1).integers(0, 255, size=(12, 8, 8, 3), dtype="uint8")
    track_from_arrays(x, ["a", "b"] * 6, name="letters", tracks_dir=tmp_path / "made")
    assert track_for(tmp_path / "made" / "letters", name="folder") == Path("tracks/folder.toml")
    make_table(rows=30).to_csv(tmp_path / "houses.csv", index=False)
    assert track_for(str(tmp_path / "houses.csv"), "y") == Path("tracks/houses.toml")
    assert track_for("boston") == "boston"
    with pytest.raises(AutomlError, match="target go with a DataFrame or a CSV"):
        track_for(tmp_path / "made" / "letters", "label")
    with pytest.raises(AutomlError, match="name go with data"):
        track_for("boston", name="other")


def test_the_command_line_predicts_with_the_search_begun_in_python(searched, monkeypatch, capsys):
    _in(searched.root, monkeypatch)
    make_table(rows=3, seed=5).to_csv(searched.root / "new.csv", index=False)
    code = main(["predict", "--track", "y", str(searched.root / "new.csv"),
                 "--results-dir", str(searched.root / "results")])
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert code == 0 and len(table) == 3 and "prediction" in table.columns


def test_load_from_another_folder_rebuilds_the_track_the_search_recorded(searched, tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    again = automl.load(searched.result.path)
    assert again.run.track.source == searched.root.resolve() / "tracks" / "y.toml"
    assert again.run.track.data_path() == searched.root.resolve() / "tracks" / "y.csv"
    rows = make_table(rows=4, seed=2)
    np.testing.assert_allclose(again.predict(rows), searched.result.predict(rows))
    assert len(again.leaderboard()) == len(searched.result.leaderboard()) and again.report.is_file()
    assert again.export(tmp_path / "out").name == "y.keras" and "Chosen model" in again._repr_html_()


def test_load_reads_the_record_where_the_track_file_here_is_another_search(searched, tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    (tmp_path / "tracks").mkdir()
    write_track(tmp_path / "tracks", name="y", task="binary", frame=make_table("binary", rows=40))
    assert automl.load(searched.result.path).run.track.task == "regression"


def test_load_of_a_search_recorded_without_its_track_file_says_where_to_run_it(searched, tmp_path, monkeypatch):
    _in(tmp_path, monkeypatch)
    old = tmp_path / "results" / "y"
    old.mkdir(parents=True)
    record = json.loads(searched.result.run.store.track_record.read_text())
    del record["source"]  # as a search begun before track.json recorded it
    (old / "track.json").write_text(json.dumps(record))
    with pytest.raises(AutomlError, match=r"track.json does not say which track file the search read .* run from "
                                          "the folder the search began in"):
        automl.load(old)
