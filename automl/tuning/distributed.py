"""Keras Tuner's distributed mode: a chief serves the oracle over gRPC, workers on other machines run trials.

Keras Tuner does the scheduling; automl picks each process's role, serves the chief's oracle with a
time limit and a clean stop, and keeps workers from busy-waiting while the oracle has nothing to give.
"""
from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from automl.errors import AutomlError, AutomlWarning

CHIEF_ID = "chief"
DEFAULT_PORT = 8000
CHIEF_BIND = "0.0.0.0"  # workers on other machines must reach the chief
POLL_SECONDS = 0.5  # Keras Tuner's own chief polls every 20 s once the oracle stops; a search ends sooner here
IDLE_SECONDS = 1.0  # a worker waits this long before asking again when the oracle has no trial to give yet


@dataclass(frozen=True)
class Role:
    """What this process is in a search: a local search, the chief (oracle only) or a worker (trials only)."""

    kind: str = "local"  # local | chief | worker
    host: str = ""
    port: int = 0
    tuner_id: str = "tuner0"

    @property
    def is_chief(self) -> bool:
        return self.kind == "chief"

    @property
    def is_worker(self) -> bool:
        return self.kind == "worker"

    def environment(self) -> dict[str, str]:
        """The variables Keras Tuner reads to run distributed (none for a local search)."""
        if self.kind == "local":
            return {}
        return {"KERASTUNER_TUNER_ID": self.tuner_id, "KERASTUNER_ORACLE_IP": self.host,
                "KERASTUNER_ORACLE_PORT": str(self.port)}


LOCAL = Role()


def chief(port: int = DEFAULT_PORT) -> Role:
    if not 0 < port < 65536:
        raise AutomlError(f"--port {port} is not a TCP port; use a number from 1 to 65535, e.g. {DEFAULT_PORT}")
    return Role("chief", CHIEF_BIND, port, CHIEF_ID)


def worker(address: str, worker_id: str | None = None) -> Role:
    """A worker of the chief at ``HOST:PORT``; its id is ``worker-<host>-<pid>`` unless given.

    Give a fixed id (``--worker-id``) to restart a killed worker: Keras Tuner hands the trial it
    was running back to the same id.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AutomlError(f"--worker {address!r} is not HOST:PORT; "
                          f"give the chief's address, e.g. 10.0.0.5:{DEFAULT_PORT}")
    tuner_id = worker_id or f"worker-{socket.gethostname()}-{os.getpid()}"
    if CHIEF_ID in tuner_id:
        raise AutomlError(f"--worker-id {tuner_id!r} contains 'chief', which Keras Tuner reserves for the chief")
    return Role("worker", host.strip("[]"), int(port), tuner_id)


def role_from_flags(*, as_chief: bool, worker_of: str | None, port: int | None, worker_id: str | None,
                    tensorboard: bool, chief_only: dict[str, object]) -> Role:
    """The role `automl search` gives this process, from its flags; `chief_only` names the flags (with their
    values) that belong to the chief, which runs the search, and that a worker refuses."""
    if port is not None and not as_chief:
        raise AutomlError("--port goes with --chief (a worker takes the chief's address: --worker HOST:PORT)")
    if worker_id and not worker_of:
        raise AutomlError("--worker-id goes with --worker HOST:PORT")
    if as_chief:
        if tensorboard:
            raise AutomlError("--tensorboard goes to the workers, which train; the chief trains nothing")
        return chief(port or DEFAULT_PORT)
    if not worker_of:
        return LOCAL
    given = [flag for flag, value in chief_only.items() if value]
    if given:
        raise AutomlError(f"{', '.join(given)} go{'es' * (len(given) == 1)} to the chief, which runs the search; "
                          "a worker only runs trials")
    return worker(worker_of, worker_id)


@contextmanager
def keras_tuner_environment(role: Role) -> Iterator[None]:
    """Set Keras Tuner's variables for the block (it reads them when the tuner is made and when it searches)."""
    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(role.environment())
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


def serve(tuner, stop_reason: Callable[[], str | None],
          on_trial_done: Callable | None = None, poll: float = POLL_SECONDS) -> str:
    """Serve the tuner's oracle to the workers until the search is over; returns why it ended.

    Keras Tuner's servicer answers the workers. The search is over when the oracle has told a
    worker to stop (budget spent) or `stop_reason` gives a reason (time limit, Ctrl-C), and then
    every worker that asked for trials has been told to stop and no trial is running. Once
    stopping, every request for a new trial is answered "stopped": workers started with no time
    limit of their own stop with the chief's. A worker not heard from for `liveness.lost_after()`
    seconds is given up on: its trial goes to the next worker that asks (`automl.tuning.liveness`).
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import trial as trial_module

    from automl.tuning import liveness

    oracle = tuner.oracle
    watch = liveness.Watch(oracle, liveness.lost_after())
    servicer = liveness.Servicer(oracle, watch)
    reason: list[str] = []
    create_trial, end_trial = oracle.create_trial, oracle.end_trial

    def create_or_stop(tuner_id):
        if not reason and (why := stop_reason()):  # a worker asking just after the time limit stops at once
            reason.append(why)
        if reason and tuner_id not in oracle.ongoing_trials:
            oracle.tuner_ids.discard(tuner_id)
            return trial_module.Trial(oracle.hyperparameters.copy(), status=trial_module.TrialStatus.STOPPED)
        return create_trial(tuner_id)

    def end_and_report(trial):
        end_trial(trial)
        if on_trial_done is not None:
            try:
                on_trial_done(oracle.trials[trial.trial_id])
            except Exception as error:  # noqa: BLE001 -- a report of a trial must never take the oracle down
                warnings.warn(f"after trial {trial.trial_id}: {error}", AutomlWarning, stacklevel=2)

    oracle.create_trial, oracle.end_trial = create_or_stop, end_and_report
    oracle.verbose = 0  # Keras Tuner's own trial display: automl prints one line per trial instead
    tuner.save()
    server = grpc.server(_thread_pool())
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise AutomlError(f"the chief cannot listen on {address} (is the port in use?); pick another with --port")
    server.start()
    waiting_noted = False
    try:
        while True:
            time.sleep(poll)
            if not reason:
                why = "search complete" if servicer.stop_triggered else stop_reason()
                if why:
                    reason.append(why)
            for note in watch.give_up_lost(stopping=bool(reason)):
                warnings.warn(note, AutomlWarning, stacklevel=2)
            if reason and oracle_chief.exit_chief(oracle):
                return reason[0]
            if reason and not waiting_noted and oracle.ongoing_trials:
                waiting_noted = True
                warnings.warn(
                    f"{reason[0]}; waiting for the running trials of {', '.join(sorted(oracle.ongoing_trials))} "
                    f"(a worker that was killed: restart it with the same --worker-id, or wait {watch.seconds:g} s "
                    "for the chief to give up on it, or press Ctrl-C twice here)",
                    AutomlWarning, stacklevel=2,
                )
    finally:
        server.stop(grace=2)
        oracle.create_trial, oracle.end_trial = create_trial, end_trial
        oracle.save()


def patient_worker(tuner) -> None:
    """A worker asks again after a pause, not at once, when the oracle has no trial for it yet (IDLE)."""
    from keras_tuner.src.engine import trial as trial_module

    client = tuner.oracle
    create_trial = client.create_trial

    def create_or_wait(tuner_id):
        trial = create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.IDLE:
            time.sleep(IDLE_SECONDS)
        return trial

    client.create_trial = create_or_wait


def _thread_pool():
    from concurrent import futures

    return futures.ThreadPoolExecutor(max_workers=1)  # as Keras Tuner: one request at a time
