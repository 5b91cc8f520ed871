"""The command line: user mistakes end in one line naming the problem and the fix, exit status 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_table, write_track

from automl.cli import main


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_one_line_error(status, err, pattern):
    import re

    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("automl: error: ") and "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]


def _broken_tracks(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    cases = {}
    missing_target = write_track(tmp_path / "a", frame=make_table().rename(columns={"y": "target"}))
    cases["missing target column"] = (["--track", str(missing_target)], r"column 'y' not found; the columns are")
    nan_target = make_table()
    nan_target.loc[3, "y"] = np.nan
    cases["NaN target"] = (["--track", str(write_track(tmp_path / "b", frame=nan_target))], r"missing values")
    text = make_table().astype({"x1": object})
    text.loc[2, "x1"] = "oops"
    cases["text in numeric column"] = (["--track", str(write_track(tmp_path / "c", frame=text))], r"'x1' is numeric")
    empty = write_track(tmp_path / "d")
    (tmp_path / "d" / "tiny.csv").write_text("")
    cases["empty CSV"] = (["--track", str(empty)], r"is empty")
    missing_file = write_track(tmp_path / "e")
    (tmp_path / "e" / "tiny.csv").unlink()
    cases["missing data file"] = (["--track", str(missing_file)], r"data file 'tiny.csv' not found")
    malformed = write_track(tmp_path / "f")
    malformed.write_text("name = \n")
    cases["malformed track file"] = (["--track", str(malformed)], r"not valid TOML")
    incomplete = write_track(tmp_path / "g")
    incomplete.write_text('name = "x"\ntask = "regression"\n')
    cases["incomplete track file"] = (["--track", str(incomplete)], r"missing required key")
    cases["unknown track"] = (["--track", "bostn"], r"unknown track 'bostn'; known tracks: .*boston")
    cases["zero time limit"] = (["--track", "boston", "--time-limit", "0"], r"--time-limit: '0' must be longer than zero")
    cases["nonsense time limit"] = (["--track", "boston", "--time-limit", "soon"], r"'soon' is not a duration")
    return cases


CASES = ["missing target column", "NaN target", "text in numeric column", "empty CSV", "missing data file",
         "malformed track file", "incomplete track file", "unknown track", "zero time limit", "nonsense time limit"]


@pytest.mark.parametrize("case", CASES)
def test_bad_search_input_is_one_line_and_exit_2(tmp_path, capsys, case):
    for sub in "abcdefg":
        (tmp_path / sub).mkdir()
    argv, pattern = _broken_tracks(tmp_path)[case]
    status, _, err = _run(capsys, "search", *argv, "--results-dir", str(tmp_path / "results"))
    _assert_one_line_error(status, err, pattern)


def test_report_without_a_search_is_one_line_and_exit_2(tmp_path, capsys):
    status, _, err = _run(capsys, "report", "--track", "boston", "--results-dir", str(tmp_path))
    _assert_one_line_error(status, err, r"no search found for track 'boston'")


def test_tracks_lists_the_built_in_tracks(capsys):
    status, out, _ = _run(capsys, "tracks")
    assert status == 0
    for name in ("boston", "used_cars", "caravan"):
        assert name in out
    assert "time_limit" in out and "val_auc" in out


def test_search_prints_a_line_per_trial_and_the_chosen_model(tiny_track, tmp_path, capsys):
    status, out, err = _run(capsys, "search", "--track", str(tiny_track), "--results-dir", str(tmp_path / "r"))
    assert status == 0, err
    assert out.count("\ntrial ") >= 3 and "| best " in out
    assert "chosen: trial" in out and "test split" in out and "report.csv" in out


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "automl", "search", "--track", "nope"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("automl: error: unknown track 'nope'") and "Traceback" not in done.stderr
