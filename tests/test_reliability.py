"""Reliability: a killed search resumes without losing or double-counting trials; divergence, a second
search on the same track, and unwritable results all end cleanly with finished work kept."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from conftest import CHOSEN_LINE, make_table, search_track, trials_only, write_track

import automl
from automl.cli import main
from automl.store import LOCK_FILE
from automl.tuning.lock import search_lock

REPO = Path(__file__).parents[1]


def _trials(results: Path, name: str = "tiny") -> dict[str, dict]:
    """The trials on disk; while a search runs, a trial.json Keras Tuner is writing (not atomically) is skipped."""
    trials = {}
    for path in (results / name / "tuner").glob("trial_*/trial.json"):
        try:
            trials[path.parent.name] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return trials


def _ongoing(results: Path, name: str = "tiny") -> list[str]:
    try:
        oracle = json.loads((results / name / "tuner" / "oracle.json").read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return list(oracle.get("ongoing_trials", {}).values())


@pytest.mark.slow
@pytest.mark.ci
def test_sigkill_mid_trial_then_rerun_redoes_only_the_interrupted_trial(tmp_path):
    # Trials long enough (about a second) to be caught in the middle.
    track = write_track(tmp_path, frame=make_table(rows=3000), max_epochs=9)
    results = tmp_path / "results"
    command = [sys.executable, "-m", "automl", "search", "--track", str(track), "--results-dir", str(results)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    killed_in = None
    while time.monotonic() < deadline and process.poll() is None:
        done = [t for t, v in _trials(results).items() if v["status"] == "COMPLETED"]
        running = _ongoing(results)
        if len(done) >= 2 and running:
            os.kill(process.pid, signal.SIGKILL)
            killed_in = running[0]
            break
        time.sleep(0.05)
    process.wait(timeout=30)
    assert killed_in is not None, "the search ended before it could be killed mid-trial"
    before = _trials(results)
    finished = {t: v for t, v in before.items() if v["status"] == "COMPLETED"}
    assert before[f"trial_{killed_in}"]["status"] == "RUNNING"

    rerun = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    after = _trials(results)
    assert {t: after[t] for t in finished} == finished  # finished trials untouched
    assert after[f"trial_{killed_in}"]["status"] == "COMPLETED"  # the interrupted one was redone
    report = trials_only(automl.report(str(track), results_dir=results))
    assert sorted(report["trial_id"]) == sorted(v["trial_id"] for v in after.values())  # each once
    assert report["trial_id"].is_unique and set(report["status"]) == {"completed"}


def _diverge_every_other_trial(monkeypatch):
    from automl.hypermodels import mlp

    calls = {"n": 0}
    real = mlp.make_optimizer

    def optimizer(name, learning_rate):
        calls["n"] += 1
        return keras.optimizers.SGD(1e12) if calls["n"] % 2 == 0 else real(name, learning_rate)
    monkeypatch.setattr(mlp, "make_optimizer", optimizer)


def test_diverged_trials_are_failed_with_the_reason_and_the_search_goes_on(tiny_track, results_dir, monkeypatch):
    _diverge_every_other_trial(monkeypatch)
    search_track(str(tiny_track), results_dir=results_dir)
    report = automl.report(str(tiny_track), results_dir=results_dir)
    failed = report[report["status"] == "failed"]
    assert len(failed) >= 1 and (report["status"] == "completed").sum() >= 1
    assert failed["message"].str.contains("diverged: the training loss became NaN or infinite at epoch").all()


def test_search_where_every_trial_fails_exits_1_with_one_line(tiny_track, tmp_path, capsys, monkeypatch):
    from automl.hypermodels import mlp

    monkeypatch.setattr(mlp, "make_optimizer", lambda name, learning_rate: keras.optimizers.SGD(float("inf")))
    status = main(["search", "--track", str(tiny_track), "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1 and err[0].startswith("automl: failed: no trial completed") and "diverged" in err[0]


def test_second_search_on_the_same_track_is_refused(tiny_track, results_dir, capsys):
    with search_lock(results_dir / "tiny" / LOCK_FILE):
        status = main(["search", "--track", str(tiny_track), "--results-dir", str(results_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert f"in use by another search (PID {os.getpid()}" in err[0]


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tiny_track, results_dir, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=False)
    (results_dir / "tiny").mkdir(parents=True)
    import socket

    (results_dir / "tiny" / LOCK_FILE).write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": "yesterday"})
    )
    status = main(["search", "--track", str(tiny_track), "--results-dir", str(results_dir)])
    err = capsys.readouterr().err
    assert status == 0
    assert f"automl: note: took over the lock of a search that is no longer running (PID {int(dead.stdout)}" in err
    assert not (results_dir / "tiny" / LOCK_FILE).exists()  # released at the end


def test_full_disk_stops_the_search_with_one_line_and_keeps_finished_trials(tiny_track, results_dir, capsys, monkeypatch):
    from keras_tuner.src.engine import trial as trial_module

    real_save = trial_module.Trial.save
    saves = {"n": 0}

    def save(self, fname):
        saves["n"] += 1
        if saves["n"] > 4:  # a few trials get written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, fname)
    monkeypatch.setattr(trial_module.Trial, "save", save)
    status = main(["search", "--track", str(tiny_track), "--results-dir", str(results_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 3 and len(err) == 1  # the machine failed, not the user: 3, not 2
    assert err[0].startswith(f"automl: stopped: the disk holding {results_dir / 'tiny'} is full (saving a trial): ")
    assert err[0].endswith("free space or use --results-dir; rerun the same command to continue")
    monkeypatch.undo()
    report = automl.report(str(tiny_track), results_dir=results_dir)
    assert (report["status"] == "completed").sum() >= 1  # finished trials still readable


def test_unwritable_trial_history_stops_the_search_instead_of_failing_every_trial(tiny_track, results_dir, capsys, monkeypatch):
    from automl.errors import resource_error
    from automl.tuning import tuners

    def refuse(path, value):
        raise resource_error(errno.EROFS, path.parent, f"writing {path.name}")
    monkeypatch.setattr(tuners, "write_json", refuse)
    status = main(["search", "--track", str(tiny_track), "--results-dir", str(results_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 3 and len(err) == 1 and "cannot be written (read-only file system; writing history.json)" in err[0]
    assert not (results_dir / "tiny" / LOCK_FILE).exists()


def _start_and_wait_for_trials(track: Path, results: Path, completed: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "automl", "search", "--track", str(track), "--results-dir", str(results)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        states = _trials(results).values()
        if sum(v["status"] == "COMPLETED" for v in states) >= completed and _ongoing(results):
            return process
        time.sleep(0.05)
    raise AssertionError("the search ended before it could be interrupted")


def _lines_until(stream, wanted: str) -> list[str]:
    lines = []
    for line in stream:
        lines.append(line)
        if line.strip() == wanted:
            break
    return lines


@pytest.mark.slow
def test_one_ctrl_c_finishes_the_running_trial_then_stops_cleanly(tmp_path):
    track = write_track(tmp_path, frame=make_table(rows=3000), max_epochs=9)
    results = tmp_path / "results"
    process = _start_and_wait_for_trials(track, results, completed=2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped on request (Ctrl-C)" in out and CHOSEN_LINE.search(out)
    assert "automl: note: Ctrl-C: stopping after the running trial; press Ctrl-C again to stop now" in err
    assert {v["status"] for v in _trials(results).values()} == {"COMPLETED"}  # the running trial was finished


@pytest.mark.slow
@pytest.mark.ci
def test_two_ctrl_c_stop_at_once_and_a_rerun_resumes(tmp_path):
    # Trials of several seconds, so both signals land inside the same trial.
    track = write_track(tmp_path, frame=make_table(rows=12000), max_epochs=9)
    results = tmp_path / "results"
    process = _start_and_wait_for_trials(track, results, completed=2)
    process.send_signal(signal.SIGINT)
    # Two signals that arrive while TensorFlow holds the main thread count as one (POSIX coalesces
    # them): wait until the first is acknowledged, as a user sees the note before pressing again.
    note = "automl: note: Ctrl-C: stopping after the running trial; press Ctrl-C again to stop now"
    assert any(line.strip() == note for line in _lines_until(process.stderr, note))
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == (
        "automl: interrupted; finished trials are kept; rerun the same command to resume"
    )
    before = _trials(results)
    finished = {t: v for t, v in before.items() if v["status"] == "COMPLETED"}
    interrupted = [t for t, v in before.items() if v["status"] == "RUNNING"]
    assert len(interrupted) == 1
    # The rerun redoes the interrupted trial first (Keras Tuner's retry queue). Its budget leaves room to start it
    # on a slow machine: the clock runs while the rerun loads the table, and a spent budget starts no trial.
    assert main(["search", "--track", str(track), "--results-dir", str(results), "--time-limit", "30"]) == 0
    after = _trials(results)
    assert {t: after[t] for t in finished} == finished
    assert after[interrupted[0]]["status"] == "COMPLETED"
