"""Following a search: one line per trial (score, best, elapsed, time left), the same lines in search.log,
Keras' per-epoch bars behind --verbose, nothing but errors and notes with --quiet."""
from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from automl import load_track
from automl.cli import main
from automl.monitoring.progress import TrialProgress
from automl.tuning.budget import total_units, units_of

TRIAL_LINE = re.compile(r"^trial (\S+) val_mae \S+ \| best \S+ \| \S+ elapsed \| .*left.*$")


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def full_search(tmp_path_factory):
    """One complete Hyperband search through the command line, shared by the tests that only read it."""
    from conftest import write_track

    directory = tmp_path_factory.mktemp("progress")
    track = write_track(directory)
    results = directory / "results"
    status, out, err = _cli("search", "--track", str(track), "--results-dir", str(results))
    assert status == 0, err
    return track, results, out


def test_each_finished_trial_prints_one_line_with_score_best_elapsed_and_time_left(full_search):
    _, results, out = full_search
    lines = [line for line in out.splitlines() if line.startswith("trial ")]
    trials = sorted(p.name.removeprefix("trial_") for p in (results / "tiny" / "tuner").glob("trial_*"))
    assert sorted(TRIAL_LINE.match(line).group(1) for line in lines) == trials
    assert "11/11 epochs of the budget done" in lines[-1]  # Hyperband max_epochs 3, factor 3: 11 epochs


def test_search_log_holds_the_printed_lines(full_search):
    _, results, out = full_search
    logged = [line.split(" ", 2)[2] for line in (results / "tiny" / "search.log").read_text().splitlines()]
    printed = [line for line in out.splitlines() if line.startswith(("trial ", "automl: "))]
    assert printed and all(line in logged for line in printed)


def test_hyperband_budget_is_the_epochs_keras_tuner_trains(full_search):
    track, results, _ = full_search
    trials = [json.loads(p.read_text()) for p in (results / "tiny" / "tuner").glob("trial_*/trial.json")]
    trained = sum(units_of(t["hyperparameters"]["values"], "epochs") for t in trials)
    assert total_units(load_track(str(track))) == (trained, "epochs") == (11.0, "epochs")


def test_time_left_is_the_smaller_of_the_time_limit_and_the_budget_at_this_pace():
    lines = []
    progress = TrialProgress("val_mae", "min", budget=600, write=lines.append, total=10, unit="epochs")
    assert progress.time_left(elapsed=0) == "10m00s left of the time limit"
    progress.used = 2  # 2 epochs in 60 s: the 8 left take about 4 minutes, within the 9 the limit leaves
    assert progress.time_left(elapsed=60) == "about 4m00s left (2/10 epochs of the budget done)"
    progress.used = 1  # 1 epoch in 300 s: the budget would take 45 minutes; the time limit ends it first
    assert progress.time_left(elapsed=300) == "5m00s left of the time limit (1/10 epochs of the budget done)"


def test_quiet_prints_nothing_on_success_but_keeps_the_log(tiny_track, results_dir):
    status, out, err = _cli("search", "--track", str(tiny_track), "--results-dir", str(results_dir),
                            "--quiet", "--time-limit", "1s")
    assert status == 0, err
    assert out == ""
    assert "trial " in (results_dir / "tiny" / "search.log").read_text()


def test_quiet_still_prints_errors(tiny_track, results_dir):
    status, out, err = _cli("search", "--track", str(tiny_track), "--quiet", "--worker", "nohost")
    assert status == 2 and out == ""
    assert err.startswith("automl: error: --worker 'nohost' is not HOST:PORT")


def test_verbose_shows_keras_per_epoch_progress(tiny_track, results_dir):
    status, out, err = _cli("search", "--track", str(tiny_track), "--results-dir", str(results_dir),
                            "--verbose", "--time-limit", "1s")
    assert status == 0, err
    assert "/step - loss: " in out and "val_mae: " in out  # Keras' bar (its "Epoch i/n" only above 1 epoch)
    assert "Search: Running Trial" not in out  # Keras Tuner's own trial table stays off
