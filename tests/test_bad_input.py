"""Bad input, table-driven: every user mistake ends in one line naming the problem and the fix,
exit status 2, no traceback, and nothing finished is lost."""
from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track

import automl
from automl.cli import main
from automl.errors import AutomlError


def _track(tmp_path: Path, frame: pd.DataFrame | None = None, edit: Callable[[str], str] | None = None,
           csv_text: str | None = None) -> list[str]:
    track = write_track(tmp_path, frame=frame)
    if edit is not None:
        track.write_text(edit(track.read_text()))
    if csv_text is not None:
        (tmp_path / "tiny.csv").write_bytes(csv_text.encode("latin-1"))
    return ["search", "--track", str(track)]


def _with(frame_edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], list[str]]:
    return lambda tmp: _track(tmp, frame=frame_edit(make_table()))


def _mostly_blank_target(frame):
    frame.loc[:69, "y"] = np.nan  # blank on 70 of 120 rows; a few blank rows are left out with a note (issue 16)
    return frame


def _text_in_numbers(frame):
    frame = frame.astype({"x1": object})
    frame.loc[2, "x1"] = "oops"
    return frame


SEARCH_CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "unknown track": (lambda tmp: ["search", "--track", "bostn"], r"unknown track 'bostn'; known tracks: .*boston"),
    "malformed TOML": (lambda tmp: _track(tmp, edit=lambda t: t.replace('task = "regression"', "task = ")), r"not valid TOML"),
    "unknown key": (lambda tmp: _track(tmp, edit=lambda t: t.replace("factor = 3", "factr = 3")), r"unknown key 'search\.factr'"),
    "wrong type": (lambda tmp: _track(tmp, edit=lambda t: t.replace("seed = 7", 'seed = "seven"')), r"'split\.seed' must be an integer"),
    "incomplete track": (lambda tmp: _track(tmp, edit=lambda t: t.replace('target = "y"', "")), r"missing required key 'data\.target'"),
    "missing data file": (lambda tmp: _track(tmp, edit=lambda t: t.replace("tiny.csv", "nowhere.csv")), r"data file 'nowhere\.csv' not found"),
    "missing target column": (_with(lambda f: f.rename(columns={"y": "price"})), r"column 'y' not found; the columns are: x1, x2, colour, price"),
    "mostly blank target": (_with(_mostly_blank_target), r"target 'y' is blank on 70 of 120 rows \(more than 50%\)"),
    "text in a numeric column": (_with(_text_in_numbers), r"column 'x1' is numeric but line 4 holds text \('oops'\)"),
    "empty CSV": (lambda tmp: _track(tmp, csv_text=""), r"is empty; it needs a header row"),
    "header-only CSV": (lambda tmp: _track(tmp, csv_text="x1,x2,colour,y\n"), r"has a header but no rows"),
    "one-row CSV": (lambda tmp: _track(tmp, frame=make_table(rows=1)), r"has 1 rows; a search needs at least"),
    "unreadable data file": (lambda tmp: _corrupt_gz(tmp), r"cannot read .*tiny\.csv\.gz as CSV"),
    "single-class target": (lambda tmp: _single_class(tmp), r"single class \('yes'\)"),
    "all-missing column": (_with(lambda f: f.assign(empty=np.nan)), r"column 'empty' is empty"),
    "zero time limit": (lambda tmp: ["search", "--track", "boston", "--time-limit", "0"], r"'0' must be longer than zero"),
    "nonsense time limit": (lambda tmp: ["search", "--track", "boston", "--time-limit", "15 minutes"], r"is not a duration"),
    "report before any search": (lambda tmp: ["report", "--track", "boston"], r"no search found for track 'boston'"),
}


def _corrupt_gz(tmp: Path) -> list[str]:
    argv = _track(tmp, edit=lambda text: text.replace("tiny.csv", "tiny.csv.gz"))
    (tmp / "tiny.csv.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data")
    return argv


def _single_class(tmp: Path) -> list[str]:
    def binary(text: str) -> str:
        return text.replace('task = "regression"', 'task = "binary"').replace("val_mae", "val_auc")
    return _track(tmp, frame=make_table("binary").assign(y="yes"), edit=binary)


def _assert_one_line(status: int, err: str, pattern: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("automl: error: ")
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("case", list(SEARCH_CASES))
def test_bad_search_input_ends_in_one_line_and_exit_2(case, tmp_path, capsys):
    make_argv, pattern = SEARCH_CASES[case]
    argv = make_argv(tmp_path)
    status = main([*argv, "--results-dir", str(tmp_path / "results")])
    _assert_one_line(status, capsys.readouterr().err, pattern)


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory) -> tuple[Path, Path]:
    """One tiny search, run once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("finished")
    track = write_track(root)
    automl.search(str(track), results_dir=root / "results")
    return track, root / "results"


@pytest.fixture
def search_copy(finished_search, tmp_path) -> tuple[Path, Path]:
    track, results = finished_search
    shutil.copytree(results, tmp_path / "results")
    return track, tmp_path / "results"


def _trial_files(results: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (results / "tiny" / "tuner").glob("trial_*/trial.json")}


def test_predict_input_missing_a_column_names_it_and_keeps_the_search(search_copy):
    track, results = search_copy
    before = _trial_files(results)
    rows = make_table(rows=3).drop(columns=["y", "x2"])
    with pytest.raises(AutomlError, match=r"input is missing column 'x2'; the model needs: x1, x2, colour"):
        automl.predict(str(track), rows, results_dir=results)
    assert _trial_files(results) == before


def test_predict_refuses_what_is_not_a_dataframe(search_copy):
    track, results = search_copy
    with pytest.raises(AutomlError, match=r"predict takes a pandas DataFrame of raw columns, got list"):
        automl.predict(str(track), [[1, 2, "red"]], results_dir=results)


def test_corrupted_model_file_says_how_to_rebuild_it_and_report_repairs_it(search_copy, capsys):
    track, results = search_copy
    (results / "tiny" / "best_model.keras").write_bytes(b"not a zip file")
    with pytest.raises(AutomlError, match=r"best_model\.keras cannot be loaded .*run `automl report --track tiny`"):
        automl.best_model(str(track), results_dir=results)
    assert main(["report", "--track", str(track), "--results-dir", str(results)]) == 0
    assert automl.best_model(str(track), results_dir=results) is not None


def test_corrupted_search_state_is_rebuilt_from_the_trials_and_keeps_the_files(search_copy, capsys):
    track, results = search_copy  # a complete search: the rerun runs no trial (tests/test_faults.py resumes one)
    oracle = results / "tiny" / "tuner" / "oracle.json"
    oracle.write_text("{ truncated")
    before = _trial_files(results)
    capsys.readouterr()
    assert main(["search", "--track", str(track), "--results-dir", str(results), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"automl: note: {oracle} cannot be read (" in err and "Traceback" not in err, err
    assert _trial_files(results) == before and json.loads(oracle.read_text())["end_order"]  # whole again


def test_a_model_file_that_would_run_code_is_refused(search_copy):
    import keras

    track, results = search_copy
    inputs = keras.Input(shape=(1,), name="x1")
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe.save(results / "tiny" / "best_model.keras")
    with pytest.raises(AutomlError, match=r"cannot be loaded"):
        automl.best_model(str(track), results_dir=results)
