"""Distributed search on Keras Tuner's engine: a chief and two workers on 127.0.0.1 share one results directory.

Each test spawns real processes (`python -m automl search --chief|--worker`), as on several machines.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import tensorflow as tf
from conftest import CHOSEN_LINE, make_table, search_track, trials_only, write_track

from automl.cli import main
from automl.hypermodels.mlp import MLPHyperModel
from automl.tuning.loop import StopSearch
from automl.tuning.tuners import distribution_strategy

REPO = Path(__file__).parents[1]
TIMEOUT = 300  # seconds for a whole distributed search on a loaded 2-core machine; it takes about a minute
TRIAL_LINE = re.compile(r"^trial (\S+) ", re.MULTILINE)



def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _track(tmp_path: Path, rows: int, max_trials: int) -> Path:
    return write_track(tmp_path, tuner="random", frame=make_table(rows=rows), search_extra=f"max_trials = {max_trials}")


def _start(track: Path, results: Path, *role: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "automl", "search", "--track", str(track), "--results-dir", str(results), *role],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _read_until(process: subprocess.Popen, pattern: str, seen: list[str]) -> None:
    """Read the process's output into `seen` until a line matches `pattern` (or fail if it ends first)."""
    deadline = time.monotonic() + TIMEOUT
    for line in process.stdout:
        seen.append(line)
        if re.search(pattern, line):
            return
        assert time.monotonic() < deadline, "".join(seen)
    pytest.fail(f"the process ended before printing {pattern!r}:\n{''.join(seen)}")


def _finish(process: subprocess.Popen, seen: list[str] | None = None) -> str:
    out, _ = process.communicate(timeout=TIMEOUT)
    text = "".join(seen or []) + out
    assert process.returncode == 0, text
    return text


def _trials_of(output: str) -> list[str]:
    return TRIAL_LINE.findall(output)


def _trial_files(results: Path) -> dict[str, dict]:
    return {p.parent.name.removeprefix("trial_"): _read_written(p)
            for p in (results / "tiny" / "tuner").glob("trial_*/trial.json")}


def _read_written(path: Path, attempts: int = 50) -> dict:
    """A trial.json that a running process may be writing at this moment (Keras Tuner writes it in place)."""
    for _ in range(attempts - 1):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:  # caught half-written: read it again once the writer is done
            time.sleep(0.1)
    return json.loads(path.read_text())


def _start_workers_then_chief(track: Path, results: Path, port: int, ids: list[str], verbose: tuple = ()):
    """Workers first, so that both are waiting for trials when the chief starts serving."""
    workers, seen = {}, {}
    for worker_id in ids:
        workers[worker_id] = _start(track, results, "--worker", f"127.0.0.1:{port}", "--worker-id", worker_id,
                                    *(["--verbose"] if worker_id in verbose else []))
    for worker_id, process in workers.items():
        seen[worker_id] = []
        _read_until(process, r"running trials of", seen[worker_id])
    chief = _start(track, results, "--chief", "--port", str(port))
    return chief, workers, seen


@pytest.mark.slow
def test_chief_and_two_workers_run_each_trial_once_and_the_report_has_them_all(tmp_path):
    track, results, port = _track(tmp_path, rows=400, max_trials=6), tmp_path / "results", _free_port()
    started = time.monotonic()
    chief, workers, seen = _start_workers_then_chief(track, results, port, ["one", "two"])
    ran = {worker_id: _trials_of(_finish(process, seen[worker_id])) for worker_id, process in workers.items()}
    chief_output = _finish(chief)
    print(f"chief + 2 workers, 6 trials: {time.monotonic() - started:.1f}s")

    assert ran["one"] and ran["two"], ran  # both workers ran trials
    assert not set(ran["one"]) & set(ran["two"]), ran  # no trial ran on both
    assert len(ran["one"]) + len(ran["two"]) == 6
    report = trials_only(pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str}))
    assert sorted(report["trial_id"]) == sorted(ran["one"] + ran["two"])  # the report has each trial, once
    assert set(report["status"]) == {"completed"}
    assert "search complete" in chief_output and CHOSEN_LINE.search(chief_output)
    assert sorted(_trials_of(chief_output)) == sorted(report["trial_id"])  # the chief followed every trial
    assert not (results / "tiny" / "search.lock").exists()


@pytest.mark.slow
@pytest.mark.ci
def test_a_worker_killed_mid_trial_loses_no_finished_trial_and_its_restart_redoes_the_trial(tmp_path):
    # Enough trials that some are left when the doomed worker finishes its first: in CI the steady worker once ran
    # 4 of 5 before the doomed one (verbose, so slower) finished one, and the doomed worker had nothing left to run
    trials = 10
    track, results, port = _track(tmp_path, rows=3000, max_trials=trials), tmp_path / "results", _free_port()
    started = time.monotonic()
    chief, workers, seen = _start_workers_then_chief(track, results, port, ["steady", "doomed"], verbose=("doomed",))
    doomed = workers["doomed"]
    _read_until(doomed, r"^trial \S+ ", seen["doomed"])  # one trial finished on the doomed worker ...
    _read_until(doomed, r"Epoch 1/", seen["doomed"])  # ... and the next one is training
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    finished = {i: t for i, t in _trial_files(results).items() if t["status"] == "COMPLETED"}
    stamps = {i: (results / "tiny" / "tuner" / f"trial_{i}" / "trial.json").stat().st_mtime_ns for i in finished}
    running = [i for i, t in _trial_files(results).items() if t["status"] == "RUNNING"]

    steady_output = _finish(workers["steady"], seen["steady"])  # the budget is spent; the chief waits for "doomed"
    interrupted = [i for i in running if i not in _trials_of(steady_output)]
    assert chief.poll() is None
    restarted = _start(track, results, "--worker", f"127.0.0.1:{port}", "--worker-id", "doomed")
    redone = _trials_of(_finish(restarted))
    chief_output = _finish(chief)
    print(f"chief + 2 workers, one killed and restarted, {trials} trials: {time.monotonic() - started:.1f}s")

    after = _trial_files(results)
    assert finished and all(after[i] == t for i, t in finished.items())  # finished trials kept as they were
    assert all((results / "tiny" / "tuner" / f"trial_{i}" / "trial.json").stat().st_mtime_ns == stamps[i]
               for i in finished)
    assert len(interrupted) == 1 and redone == interrupted  # Keras Tuner gave the interrupted trial back to the same worker id
    report = trials_only(pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str}))
    assert len(report) == report["trial_id"].nunique() == trials  # each trial counted once
    assert set(report["status"]) == {"completed"}
    assert "waiting for the running trials of doomed" in chief_output
    assert set(_trials_of(steady_output)).isdisjoint(redone)


def test_at_its_time_limit_the_chief_stops_each_worker_after_its_trial_and_ends(tiny_track, results_dir, monkeypatch):
    import threading

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.engine.trial import Trial

    from automl.tuning import distributed, tuners

    time_is_up = threading.Event()
    monkeypatch.setattr(tuners, "_stop_reason", lambda tuner: "time limit reached" if time_is_up.is_set() else None)
    port, outcome = _free_port(), []
    chief = threading.Thread(target=lambda: outcome.append(
        search_track(str(tiny_track), results_dir=results_dir, role=distributed.chief(port))))
    chief.start()
    service, oracle = protos.get_service(), protos.get_service_grpc().OracleStub(
        grpc.insecure_channel(f"127.0.0.1:{port}"))
    ask = {"wait_for_ready": True, "timeout": 120}
    trial = Trial.from_proto(oracle.CreateTrial(service.CreateTrialRequest(tuner_id="w"), **ask).trial)
    assert trial.status == "RUNNING"
    time_is_up.set()  # the time limit passes while the worker trains
    oracle.UpdateTrial(service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"val_mae": 1.0}, step=0), **ask)
    trial.status = "COMPLETED"
    oracle.EndTrial(service.EndTrialRequest(trial=trial.to_proto()), **ask)
    after = Trial.from_proto(oracle.CreateTrial(service.CreateTrialRequest(tuner_id="w"), **ask).trial)
    chief.join(timeout=60)
    assert after.status == "STOPPED" and not chief.is_alive()
    assert outcome[0].stopped_by == "time limit reached" and outcome[0].trials_after == 1


def test_a_search_begun_elsewhere_resumes_without_its_tuner_file(tiny_track, results_dir):
    """Keras Tuner reloads only with its own <tuner id>.json; a chief's search resumed alone has none."""
    def stop_after_two(trial, seen=[]):  # noqa: B006 -- counts the trials of this one search
        seen.append(trial.trial_id)
        if len(seen) == 2:
            raise StopSearch("test stop")

    search_track(str(tiny_track), results_dir=results_dir, on_trial_done=stop_after_two)
    tuner_dir = results_dir / "tiny" / "tuner"
    (tuner_dir / "tuner0.json").rename(tuner_dir / "chief.json")  # as a chief leaves it
    finished = {p: p.read_text() for p in tuner_dir.glob("trial_*/trial.json")}
    outcome = search_track(str(tiny_track), results_dir=results_dir)
    assert outcome.trials_before == 2 and outcome.trials_after > 2
    assert all(p.read_text() == text for p, text in finished.items())  # not overwritten by a fresh oracle


@pytest.mark.parametrize(("argv", "message"), [
    (["--worker", "10.0.0.5:8000", "--restart"], "--restart goes to the chief, which runs the search"),
    (["--worker", "10.0.0.5:8000", "--time-limit", "5m", "--notify", "true"],
     "--time-limit, --notify go to the chief, which runs the search; a worker only runs trials"),
    (["--port", "9000"], "--port goes with --chief"),
    (["--chief", "--tensorboard"], "--tensorboard goes to the workers, which train"),
    (["--worker-id", "a"], "--worker-id goes with --worker HOST:PORT"),
    (["--worker", "10.0.0.5"], "--worker '10.0.0.5' is not HOST:PORT"),
    (["--chief", "--port", "70000"], "--port 70000 is not a TCP port"),
    (["--worker", "h:1", "--worker-id", "chief-2"], "--worker-id 'chief-2' contains 'chief'"),
])
def test_role_mistakes_are_one_line(tiny_track, capsys, argv, message):
    assert main(["search", "--track", str(tiny_track), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"automl: error: {message}") and len(err.strip().splitlines()) == 1


def test_no_strategy_on_one_device_unless_asked():
    assert distribution_strategy("none") is None
    assert distribution_strategy("auto") is None or len(tf.config.list_logical_devices("GPU")) > 1
    assert isinstance(distribution_strategy("mirrored"), tf.distribute.MirroredStrategy)


def test_mirrored_trials_build_their_models_under_the_strategy(tmp_path, results_dir, monkeypatch):
    track = write_track(tmp_path, tuner="random", search_extra='max_trials = 1\ndistribution = "mirrored"')
    strategies = []
    build = MLPHyperModel.build

    def spy(self, hp):
        strategies.append(type(tf.distribute.get_strategy()).__name__)
        return build(self, hp)

    monkeypatch.setattr(MLPHyperModel, "build", spy)
    assert search_track(str(track), results_dir=results_dir).trials_after == 1
    assert "MirroredStrategy" in strategies
