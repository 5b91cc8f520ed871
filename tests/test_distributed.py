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
from automl.tuning.liveness import LOST_AFTER_VARIABLE
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


def _start(track: Path, results: Path, *role: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
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


def _start_workers_then_chief(track: Path, results: Path, port: int, ids: list[str], verbose: tuple = (),
                              env: dict[str, str] | None = None):
    """Workers first, so that both are waiting for trials when the chief starts serving; `env` goes to all."""
    workers, seen = {}, {}
    for worker_id in ids:
        workers[worker_id] = _start(track, results, "--worker", f"127.0.0.1:{port}", "--worker-id", worker_id,
                                    *(["--verbose"] if worker_id in verbose else []), env=env)
    for worker_id, process in workers.items():
        seen[worker_id] = []
        _read_until(process, r"running trials of", seen[worker_id])
    chief = _start(track, results, "--chief", "--port", str(port), env=env)
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


def _kill_mid_trial(doomed: subprocess.Popen, seen: list[str], results: Path):
    """SIGKILL a verbose worker as its second trial trains; returns the trials finished then (their records and
    the times their files were written) and the ids of those running."""
    _read_until(doomed, r"^trial \S+ ", seen)  # one trial finished on the doomed worker ...
    _read_until(doomed, r"Epoch 1/", seen)  # ... and the next one is training
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    finished = {i: t for i, t in _trial_files(results).items() if t["status"] == "COMPLETED"}
    stamps = {i: (results / "tiny" / "tuner" / f"trial_{i}" / "trial.json").stat().st_mtime_ns for i in finished}
    return finished, stamps, [i for i, t in _trial_files(results).items() if t["status"] == "RUNNING"]


def _unchanged(results: Path, finished: dict[str, dict], stamps: dict[str, int]) -> bool:
    after = _trial_files(results)
    return bool(finished) and all(after[i] == t for i, t in finished.items()) and all(
        (results / "tiny" / "tuner" / f"trial_{i}" / "trial.json").stat().st_mtime_ns == stamps[i] for i in finished)


@pytest.mark.slow
def test_a_worker_killed_mid_trial_loses_no_finished_trial_and_its_restart_redoes_the_trial(tmp_path):
    # Enough trials that some are left when the doomed worker finishes its first: in CI the steady worker once ran
    # 4 of 5 before the doomed one (verbose, so slower) finished one, and the doomed worker had nothing left to run
    trials = 10
    track, results, port = _track(tmp_path, rows=3000, max_trials=trials), tmp_path / "results", _free_port()
    started = time.monotonic()
    patient = {LOST_AFTER_VARIABLE: "600"}  # the chief waits for "doomed" to come back, however slow the machine
    chief, workers, seen = _start_workers_then_chief(track, results, port, ["steady", "doomed"], verbose=("doomed",),
                                                     env=patient)
    finished, stamps, running = _kill_mid_trial(workers["doomed"], seen["doomed"], results)

    steady_output = _finish(workers["steady"], seen["steady"])  # the budget is spent; the chief waits for "doomed"
    interrupted = [i for i in running if i not in _trials_of(steady_output)]
    assert chief.poll() is None
    restarted = _start(track, results, "--worker", f"127.0.0.1:{port}", "--worker-id", "doomed", env=patient)
    redone = _trials_of(_finish(restarted))
    chief_output = _finish(chief)
    print(f"chief + 2 workers, one killed and restarted, {trials} trials: {time.monotonic() - started:.1f}s")

    assert _unchanged(results, finished, stamps)  # finished trials kept as they were
    assert len(interrupted) == 1 and redone == interrupted  # Keras Tuner gave the interrupted trial back to the same worker id
    report = trials_only(pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str}))
    assert len(report) == report["trial_id"].nunique() == trials  # each trial counted once
    assert set(report["status"]) == {"completed"}
    assert "waiting for the running trials of doomed" in chief_output
    assert set(_trials_of(steady_output)).isdisjoint(redone)


@pytest.mark.slow
@pytest.mark.ci
def test_a_worker_killed_mid_trial_and_never_restarted_is_given_up_on_and_another_redoes_its_trial(tmp_path):
    # Enough trials that the steady worker still has some to run when the chief gives up on "doomed": with 10, it
    # had 3 left (about 9 s) on a quiet machine
    trials = 12
    track, results, port = _track(tmp_path, rows=3000, max_trials=trials), tmp_path / "results", _free_port()
    started = time.monotonic()
    chief, workers, seen = _start_workers_then_chief(track, results, port, ["steady", "doomed"], verbose=("doomed",),
                                                     env={LOST_AFTER_VARIABLE: "8"})
    finished, stamps, running = _kill_mid_trial(workers["doomed"], seen["doomed"], results)
    steady_output = _finish(workers["steady"], seen["steady"])
    chief_output = _finish(chief)  # exit status 0
    print(f"chief + 2 workers, one killed and given up on, {trials} trials: {time.monotonic() - started:.1f}s")

    given_up = re.findall(r"worker doomed has not been heard from for 8 s: its trial (\S+) goes to the next worker "
                          r"that asks", chief_output)
    assert len(given_up) == 1 and given_up[0] in running, chief_output  # noted once, naming the interrupted trial
    assert given_up[0] in _trials_of(steady_output)  # the steady worker redid it
    assert given_up[0] not in _trials_of("".join(seen["doomed"]))
    assert _unchanged(results, finished, stamps)
    report = trials_only(pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str}))
    assert len(report) == report["trial_id"].nunique() == trials  # each trial counted once
    assert set(report["status"]) == {"completed"}
    assert "search complete" in chief_output and "late report" not in chief_output


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


class _Aborted(Exception):
    pass


class _Context:
    """What a servicer method sees of a request from a worker: its metadata, and `abort`."""

    def __init__(self, sender: str | None = None, beat: bool = False) -> None:
        from automl.tuning import liveness

        self.metadata = [*([(liveness.SENDER, sender.encode())] if sender else []), *([(liveness.BEAT, "1")] * beat)]

    def invocation_metadata(self):
        return self.metadata

    def abort(self, code, details):
        raise _Aborted(code, details)


def test_the_chief_gives_up_on_a_silent_worker_its_trial_goes_to_the_next_and_late_reports_are_ignored(tmp_path):
    import keras_tuner as kt
    from keras_tuner.src import protos
    from keras_tuner.src.engine.trial import Trial

    from automl.errors import AutomlWarning
    from automl.tuning import liveness

    space = kt.HyperParameters()
    space.Int("units", 1, 1000)
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_mae", "min"), max_trials=9,
                                           hyperparameters=space, seed=1)
    oracle._set_project_dir(str(tmp_path), "p")
    now = [0.0]
    watch = liveness.Watch(oracle, 10, clock=lambda: now[0])
    servicer, service = liveness.Servicer(oracle, watch), protos.get_service()

    def ask(worker: str) -> Trial:
        return Trial.from_proto(servicer.CreateTrial(service.CreateTrialRequest(tuner_id=worker), _Context(worker)).trial)

    def report(worker: str, trial: Trial, value: float) -> None:
        servicer.UpdateTrial(service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"val_mae": value}),
                             _Context(worker))
        trial.status = "COMPLETED"
        servicer.EndTrial(service.EndTrialRequest(trial=trial.to_proto()), _Context(worker))

    def beat(worker: str, trial: Trial):
        return servicer.GetTrial(service.GetTrialRequest(trial_id=trial.trial_id), _Context(worker, beat=True))

    lost = ask("doomed")
    now[0] = 6
    steady = ask("steady")
    now[0] = 9.9
    assert watch.give_up_lost(stopping=False) == []  # not yet
    now[0] = 10
    assert watch.give_up_lost(stopping=False) == [
        f"worker doomed has not been heard from for 10 s: its trial {lost.trial_id} goes to the next worker that asks"]
    assert set(oracle.ongoing_trials) == {"steady"} and oracle.tuner_ids == {"steady"}
    assert watch.give_up_lost(stopping=False) == []  # noted once
    with pytest.raises(_Aborted, match="no longer doomed's"):
        beat("doomed", lost)  # the lost worker, if it comes back, drops its trial at its next beat
    assert beat("steady", steady).trial.trial_id == steady.trial_id

    report("steady", steady, 1.0)
    redone = ask("steady")  # the next worker that asks redoes the lost trial, with its hyperparameters
    assert redone.trial_id == lost.trial_id and redone.hyperparameters.values == lost.hyperparameters.values
    with pytest.warns(AutomlWarning, match=f"a late report on trial {lost.trial_id} from worker doomed is ignored"):
        report("doomed", lost, 0.0)
    assert oracle.trials[lost.trial_id].status == "RUNNING" and not oracle.trials[lost.trial_id].metrics.exists("val_mae")
    report("steady", redone, 2.0)
    assert oracle.trials[lost.trial_id].status == "COMPLETED" and oracle.trials[lost.trial_id].score == 2.0

    now[0] = 100  # a worker that left between trials (Ctrl-C) is no longer waited for
    assert watch.give_up_lost(stopping=True) == ["worker steady has not been heard from for 10 s: "
                                                 "the chief no longer waits for it"]
    assert not oracle.tuner_ids and not oracle.ongoing_trials


def test_a_worker_names_itself_beats_while_it_trains_and_drops_a_trial_the_chief_took(monkeypatch):
    import grpc
    import keras_tuner as kt
    from keras_tuner.src.engine.trial import Trial

    from automl.errors import AutomlWarning
    from automl.tuning import liveness

    class Refused(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.FAILED_PRECONDITION

    class Stub:  # the chief, as the worker's gRPC stub reaches it
        beats: list[tuple[str, dict]] = []
        taken = False

        def GetTrial(self, request, metadata=(), **options):  # noqa: N802
            self.beats.append((request.trial_id, dict(metadata)))
            if self.taken:
                raise Refused()

    monkeypatch.setenv(LOST_AFTER_VARIABLE, "0.4")  # a beat every 0.1 s
    trial, ended, batches = Trial(kt.HyperParameters(), trial_id="3", status="RUNNING"), [], []
    client = type("Client", (), {})()
    client.stub, client.tuner_id, client.create_trial = Stub(), "wörker", lambda tuner_id: trial
    tuner = type("Tuner", (), {})()
    tuner.oracle, tuner.on_trial_end = client, ended.append
    tuner.on_batch_end = lambda trial, model, batch, logs=None: batches.append(batch)
    stop = liveness.keep_heard(tuner)
    try:
        assert client.create_trial("wörker") is trial

        def until(done) -> None:
            deadline = time.monotonic() + 30
            while not done():
                assert time.monotonic() < deadline
                time.sleep(0.05)

        until(lambda: Stub.beats)
        assert Stub.beats[0] == ("3", {liveness.SENDER: "wörker".encode(), liveness.BEAT: "1"})
        tuner.on_batch_end(trial, None, 0)
        Stub.taken = True  # the chief gave the trial to another worker: the next beat learns it ...

        def stopped() -> bool:
            try:
                tuner.on_batch_end(trial, None, 1)
            except liveness.TrialTaken:
                return True
            return False

        until(stopped)  # ... and training stops at the next batch
        with pytest.warns(AutomlWarning, match="gave its trial 3 to another worker: this one dropped it"):
            tuner.on_trial_end(trial)
        assert not ended and batches[0] == 0  # the trial is not reported
    finally:
        stop.set()


@pytest.mark.parametrize("given", ["soon", "0", "-5", "inf"])
def test_a_lost_after_that_is_no_number_of_seconds_is_one_line(monkeypatch, given):
    from automl.errors import AutomlError
    from automl.tuning import liveness

    monkeypatch.setenv(liveness.LOST_AFTER_VARIABLE, given)
    with pytest.raises(AutomlError, match=f"AUTOML_WORKER_LOST_AFTER='{given}' is not a number of seconds"):
        liveness.lost_after()


def test_a_stopping_chief_leaves_a_lost_workers_trial_for_the_next_run_which_redoes_it_first(
        tiny_track, results_dir, monkeypatch):
    import threading

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.engine.trial import Trial

    from automl.errors import AutomlWarning
    from automl.tuning import distributed, liveness, tuners

    time_is_up = threading.Event()
    monkeypatch.setattr(tuners, "_stop_reason", lambda tuner: "time limit reached" if time_is_up.is_set() else None)
    monkeypatch.setenv(liveness.LOST_AFTER_VARIABLE, "2")
    port, outcome = _free_port(), []
    chief = threading.Thread(target=lambda: outcome.append(
        search_track(str(tiny_track), results_dir=results_dir, role=distributed.chief(port))))
    with pytest.warns(AutomlWarning) as notes:
        chief.start()
        service, oracle = protos.get_service(), protos.get_service_grpc().OracleStub(
            grpc.insecure_channel(f"127.0.0.1:{port}"))
        ask = {"wait_for_ready": True, "timeout": 120}
        lost = Trial.from_proto(oracle.CreateTrial(service.CreateTrialRequest(tuner_id="w"), **ask).trial)
        time_is_up.set()  # ... and the worker "w" is never heard from again
        chief.join(timeout=120)
    assert not chief.is_alive() and outcome[0].stopped_by == "time limit reached"
    assert f"worker w has not been heard from for 2 s: its trial {lost.trial_id} is left unfinished: the next run " \
        "of this command redoes it first" in [str(note.message) for note in notes]

    done = []
    monkeypatch.setattr(tuners, "_stop_reason", lambda tuner: None)
    resumed = search_track(str(tiny_track), results_dir=results_dir, on_trial_done=lambda t: done.append(t.trial_id))
    assert done[0] == lost.trial_id and resumed.trials_before == 1 and resumed.trials_after == len(done)
    assert _trial_files(results_dir)[lost.trial_id]["status"] == "COMPLETED"


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
