"""Lost workers of a distributed search: each worker is heard from regularly, and the chief gives up on one it has
not heard from for a while, handing its trial to the next worker that asks.

A worker signs every request it sends with its tuner id (gRPC metadata), and while it runs a trial a daemon thread
beats every few seconds (a `GetTrial` of that trial, marked as a beat), so that it is heard from within the longest
epoch. On the chief, `Watch` stamps each request as it is answered; `Watch.give_up_lost` (the chief's polling loop)
takes the trial of a worker not heard from for `lost_after()` seconds out of the oracle's running trials and puts it
on Keras Tuner's retry queue, which `create_trial` serves first: the next worker that asks redoes it, with its
hyperparameters. A search that is stopping leaves it there, unfinished, and the oracle's saved state keeps the queue,
so the next run of the same command redoes it first. A lost worker that comes back (it was only slow) is told at
its next beat that its trial went elsewhere and drops it; whatever it reports for that trial is ignored.
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable

import grpc
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import trial as trial_module

from automl.errors import AutomlError, AutomlWarning

HEARTBEAT_SECONDS = 5.0  # a worker running a trial beats this often (or four times per lost_after(), if sooner)
LOST_AFTER_SECONDS = 60.0  # the chief gives up on a worker it has not heard from for this long
LOST_AFTER_VARIABLE = "AUTOML_WORKER_LOST_AFTER"  # seconds, instead of LOST_AFTER_SECONDS; set it on every machine
SENDER = "automl-worker-bin"  # the metadata that names the worker (its tuner id) on each request; binary: any text
BEAT = "automl-beat"  # the metadata that marks a request as a beat


def lost_after() -> float:
    """Seconds without news after which the chief gives up on a worker: LOST_AFTER_SECONDS unless the environment's
    AUTOML_WORKER_LOST_AFTER says otherwise."""
    given = os.environ.get(LOST_AFTER_VARIABLE)
    if given is None:
        return LOST_AFTER_SECONDS
    try:
        seconds = float(given)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise AutomlError(f"{LOST_AFTER_VARIABLE}={given!r} is not a number of seconds; "
                          f"unset it (default {LOST_AFTER_SECONDS:g}) or give one, e.g. 60")
    return seconds


class Watch:
    """The chief's record of when it last heard from each worker; its lock makes each answer to a worker and each
    giving up one step, so that a trial is never given up in the middle of a report on it."""

    def __init__(self, oracle, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.oracle, self.seconds, self.clock = oracle, seconds, clock
        self.heard: dict[str, float] = {}
        self.lock = threading.Lock()

    def hear(self, tuner_id: str) -> None:
        self.heard[tuner_id] = self.clock()

    def owner(self, trial_id: str) -> str | None:
        """The tuner id running the trial now, or None if none does (finished, or given up and waiting)."""
        return next((t for t, trial in self.oracle.ongoing_trials.items() if trial.trial_id == trial_id), None)

    def give_up_lost(self, stopping: bool) -> list[str]:
        """Give up on each worker not heard from for `seconds`: its running trial goes to Keras Tuner's retry queue,
        and the chief no longer waits for it. Returns a note per worker given up on."""
        notes = []
        with self.lock:
            oracle, now = self.oracle, self.clock()
            for tuner_id in sorted(set(oracle.tuner_ids) | set(oracle.ongoing_trials)):
                if now - self.heard.setdefault(tuner_id, now) < self.seconds:
                    continue
                oracle.tuner_ids.discard(tuner_id)
                self.heard.pop(tuner_id)
                trial = oracle.ongoing_trials.pop(tuner_id, None)
                silent = f"worker {tuner_id} has not been heard from for {self.seconds:g} s"
                if trial is None:
                    notes.append(f"{silent}: the chief no longer waits for it")
                    continue
                oracle._retry_queue.append(trial.trial_id)  # noqa: SLF001 -- Keras Tuner's queue, served first
                oracle.save()
                fate = ("is left unfinished: the next run of this command redoes it first" if stopping
                        else "goes to the next worker that asks")
                notes.append(f"{silent}: its trial {trial.trial_id} {fate}")
        return notes


class TrialTaken(Exception):
    """Raised in a worker's training when the chief has given its trial to another worker."""


def _heard(method):
    """A servicer method that first hears the worker that sent the request."""
    def answer(self, request, context):
        with self.watch.lock:
            self._sender(context)
            return method(self, request, context)
    return answer


class Servicer(oracle_chief.OracleServicer):
    """Keras Tuner's servicer, which also hears each worker and ignores what a worker reports on a trial that is no
    longer its own (it was given up on: it waits in the queue, or another worker runs it)."""

    def __init__(self, oracle, watch: Watch) -> None:
        super().__init__(oracle)
        self.watch = watch

    GetSpace = _heard(oracle_chief.OracleServicer.GetSpace)
    UpdateSpace = _heard(oracle_chief.OracleServicer.UpdateSpace)
    GetBestTrials = _heard(oracle_chief.OracleServicer.GetBestTrials)

    def _sender(self, context) -> tuple[str | None, bool]:
        """The tuner id of the worker that sent the request (now heard from), and whether the request is a beat."""
        metadata = dict(context.invocation_metadata())
        sender = metadata.get(SENDER)
        sender = sender.decode() if isinstance(sender, bytes) else sender
        if sender:
            self.watch.hear(sender)
        return sender, BEAT in metadata

    def _late(self, context, trial_id: str) -> bool:
        """Whether the request reports on a trial its sender no longer runs (a worker without automl's metadata is
        taken at its word while the trial runs)."""
        sender, _ = self._sender(context)
        owner = self.watch.owner(trial_id)
        late = owner is None or (sender is not None and sender != owner)
        if late:
            warnings.warn(f"a late report on trial {trial_id} from worker {sender or '(unnamed)'} is ignored: "
                          "that worker was given up on, and the trial with it", AutomlWarning, stacklevel=2)
        return late

    def CreateTrial(self, request, context):  # noqa: N802 -- gRPC's names
        with self.watch.lock:
            self._sender(context)
            self.watch.hear(request.tuner_id)  # a worker without automl's metadata is heard when it asks
            return super().CreateTrial(request, context)

    def UpdateTrial(self, request, context):  # noqa: N802
        with self.watch.lock:
            if self._late(context, request.trial_id):
                trial = self.oracle.get_trial(request.trial_id)
                return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())
            return super().UpdateTrial(request, context)

    def EndTrial(self, request, context):  # noqa: N802
        with self.watch.lock:
            if self._late(context, request.trial.trial_id):
                return protos.get_service().EndTrialResponse()
            return super().EndTrial(request, context)

    def GetTrial(self, request, context):  # noqa: N802
        with self.watch.lock:
            sender, beat = self._sender(context)
            running = self.oracle.ongoing_trials.get(sender)
            if not beat or (running is not None and running.trial_id == request.trial_id):
                return super().GetTrial(request, context)
        # A beat for a trial its worker no longer runs: the worker drops it (`keep_heard`).
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"trial {request.trial_id} is no longer {sender}'s")
        return None  # unreached: abort raises


class _Running:
    """What a worker runs now (set by its main thread, read by its beat): a trial id, and the one the chief took."""

    trial_id: str | None = None
    taken: str | None = None


def keep_heard(tuner) -> threading.Event:
    """Make a worker's tuner heard by the chief: its requests signed with its tuner id, a beat every few seconds
    while a trial runs, and a trial the chief has given to another worker dropped at the next batch, unreported.
    Returns the event that stops the beat (a daemon thread, which otherwise ends with the process)."""
    client = tuner.oracle
    client.stub = _Signed(client.stub, client.tuner_id)
    running = _Running()
    create_trial, on_batch_end, on_trial_end = client.create_trial, tuner.on_batch_end, tuner.on_trial_end

    def create_and_beat(tuner_id):
        trial = create_trial(tuner_id)
        running.trial_id = trial.trial_id if trial.status == trial_module.TrialStatus.RUNNING else None
        return trial

    def stop_if_taken(trial, model, batch, logs=None):
        if running.taken == trial.trial_id:
            raise TrialTaken(f"the chief gave trial {trial.trial_id} to another worker")
        return on_batch_end(trial, model, batch, logs)

    def end_unless_taken(trial):
        running.trial_id = None
        if running.taken != trial.trial_id:
            return on_trial_end(trial)
        warnings.warn(f"the chief had not heard from this worker for a while and gave its trial {trial.trial_id} to "
                      "another worker: this one dropped it and goes on", AutomlWarning, stacklevel=2)
        return None

    client.create_trial, tuner.on_batch_end, tuner.on_trial_end = create_and_beat, stop_if_taken, end_unless_taken
    every, stop = min(HEARTBEAT_SECONDS, lost_after() / 4), threading.Event()
    threading.Thread(target=_beat_until, args=(stop, client.stub, running, every), name="automl-beat",
                     daemon=True).start()
    return stop


def _beat_until(stop: threading.Event, stub, running: _Running, every: float) -> None:
    while not stop.wait(every):
        beat(stub, running, every)


def beat(stub, running: _Running, timeout: float) -> None:
    """Tell the chief that this worker still runs its trial (if it runs one); note the trial as taken if the chief
    answers that it is no longer this worker's. A chief out of reach is tried again at the next beat."""
    trial_id = running.trial_id
    if trial_id is None:
        return
    try:
        stub.GetTrial(protos.get_service().GetTrialRequest(trial_id=trial_id), metadata=((BEAT, "1"),),
                      timeout=timeout)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.FAILED_PRECONDITION and running.trial_id == trial_id:
            running.taken = trial_id


class _Signed:
    """A worker's gRPC stub whose every call names the worker (binary metadata: a tuner id may be any text)."""

    def __init__(self, stub, tuner_id: str) -> None:
        self._stub, self._sender = stub, ((SENDER, tuner_id.encode()),)

    def __getattr__(self, name: str):
        call = getattr(self._stub, name)

        def signed(request, metadata=(), **options):
            return call(request, metadata=(*self._sender, *metadata), **options)
        return signed
