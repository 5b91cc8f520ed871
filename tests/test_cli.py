"""The command line: user mistakes end in one line naming the problem and the fix, exit status 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import CHOSEN_LINE

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
    assert CHOSEN_LINE.search(out) and "test split" in out and "report.csv" in out


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "automl", "search", "--track", "nope"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("automl: error: unknown track 'nope'") and "Traceback" not in done.stderr
