"""End to end on the real Boston data: a small search, then a rerun that redoes no trial."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from automl import load_track
from automl.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.ci]


def test_real_boston_search_resumes_without_redoing_trials(tmp_path, capsys):
    track_file = tmp_path / "boston_small.toml"
    shutil.copy(load_track("boston").source, track_file)
    text = track_file.read_text()
    text = text.replace('name = "boston"', 'name = "boston_small"').replace("max_epochs = 60", "max_epochs = 9")
    text = text.replace('path = "boston.csv.gz"', f'path = "{load_track("boston").data_path()}"')
    track_file.write_text(text)
    results = tmp_path / "results"
    argv = ["search", "--track", str(track_file), "--results-dir", str(results)]

    assert main(argv) == 0
    first = pd.read_csv(results / "boston_small" / "report.csv")
    trial_files = sorted((results / "boston_small" / "tuner").glob("trial_*/trial.json"))
    stamps = {p: p.stat().st_mtime_ns for p in trial_files}
    test_mae = json.loads((results / "boston_small" / "test_metrics.json").read_text())["mae"]
    assert len(first) >= 10 and (first["status"] == "completed").all()
    assert test_mae < 5.0  # predicting the training mean gives about 6.5 on this split

    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "search complete" in out and "(0 this run)" in out
    assert {p: p.stat().st_mtime_ns for p in trial_files} == stamps
    assert len(pd.read_csv(results / "boston_small" / "report.csv")) == len(first)
