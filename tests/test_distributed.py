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
from conftest import make_table, write_track

REPO = Path(__file__).parents[1]
TIMEOUT = 300  # seconds for a whole distributed search on a loaded 2-core machine; it takes about a minute
TRIAL_LINE = re.compile(r"^trial (\S+) ", re.MULTILINE)

pytestmark = pytest.mark.slow


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
    return {p.parent.name.removeprefix("trial_"): json.loads(p.read_text())
            for p in (results / "tiny" / "tuner").glob("trial_*/trial.json")}


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
    report = pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str})
    assert sorted(report["trial_id"]) == sorted(ran["one"] + ran["two"])  # the report has each trial, once
    assert set(report["status"]) == {"completed"}
    assert "search complete" in chief_output and "chosen: trial" in chief_output
    assert sorted(_trials_of(chief_output)) == sorted(report["trial_id"])  # the chief followed every trial
    assert not (results / "tiny" / "search.lock").exists()


def test_a_worker_killed_mid_trial_loses_no_finished_trial_and_its_restart_redoes_the_trial(tmp_path):
    track, results, port = _track(tmp_path, rows=3000, max_trials=5), tmp_path / "results", _free_port()
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
    print(f"chief + 2 workers, one killed and restarted, 5 trials: {time.monotonic() - started:.1f}s")

    after = _trial_files(results)
    assert finished and all(after[i] == t for i, t in finished.items())  # finished trials kept as they were
    assert all((results / "tiny" / "tuner" / f"trial_{i}" / "trial.json").stat().st_mtime_ns == stamps[i]
               for i in finished)
    assert len(interrupted) == 1 and redone == interrupted  # Keras Tuner gave the interrupted trial back to the same worker id
    report = pd.read_csv(results / "tiny" / "report.csv", dtype={"trial_id": str})
    assert len(report) == report["trial_id"].nunique() == 5  # each trial counted once
    assert set(report["status"]) == {"completed"}
    assert "waiting for the running trials of doomed" in chief_output
    assert set(_trials_of(steady_output)).isdisjoint(redone)
