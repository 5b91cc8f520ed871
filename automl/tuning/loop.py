"""Run a track's search: resumable, within its budget, one search per directory, every trial on disk as it ends."""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from automl.context import Run
from automl.data.schema import Data
from automl.errors import AutomlError, AutomlWarning, SearchFailed, disk_failure, last_line, resource_error
from automl.families.base import Family
from automl.hypermodels.training import StopAtDeadline
from automl.store import Store, TrialFile
from automl.track.sections import Track, same_search
from automl.tuning import distributed, liveness
from automl.tuning.distributed import LOCAL, Role
from automl.tuning.housekeeping import frozen_heap
from automl.tuning.lock import search_lock
from automl.tuning.pruning import prune_checkpoints
from automl.tuning.tuners import (
    MAX_CONSECUTIVE_FAILED_TRIALS,
    ResultsUnwritable,
    SearchLoopMixin,
    StopSearch,
    make_tuner,
)

__all__ = ["SearchRun", "StopSearch", "search"]


@dataclass
class SearchRun:
    """What a search run did; the trials themselves are read back from disk by `automl.selection`."""

    track: str
    stopped_by: str
    seconds: float
    trials_before: int
    trials_after: int
    # The split the search used, so that the stages after it score the test split without reading the data again.
    data: Data | None = field(default=None, repr=False)


def search(
    run: Run,
    *,
    restart: bool = False,
    on_trial_done: Callable[[kt.engine.trial.Trial], None] | None = None,
    command: str = "",
    verbose: bool = False,
    tensorboard: bool = False,
    role: Role = LOCAL,
    keep_checkpoints: bool = False,
) -> SearchRun:
    """Run (or resume) the run's search until it completes or its budget's search deadline passes.

    The clock is the run's `budget` (`automl.pipeline.run` starts it; `Run.started`). `tensorboard` writes each
    trial's curves and hyperparameters (TensorBoard's HParams) under ``<results>/<track>/logs/``. `role` makes this
    process the chief or a worker of a distributed search (see `automl.tuning.distributed`); all processes must
    share the results directory. After each trial and at the end, the checkpoints of trials that can no
    longer be chosen nor continued are deleted (`automl.tuning.pruning`); `keep_checkpoints` keeps them all.

    Examples
    --------
    >>> searched = search(Run.open("boston").started("5m"))
    >>> searched.stopped_by
    'search complete'
    """
    track, family, store, budget = run.track, run.family, run.store, run.budget
    if budget is None:
        raise ValueError("a search needs the run's clock: pass run.started(time_limit)")
    if role.is_worker and restart:
        raise AutomlError("--restart goes to the chief (or a search of one machine), not to a worker")
    # One search per directory; workers share the chief's, so only the chief (or a local search) locks it.
    lock = contextlib.nullcontext() if role.is_worker else search_lock(store.lock_file)
    with lock, distributed.keras_tuner_environment(role):
        if restart:
            store.clear()
        _check_same_track(track, store)
        data = run.data()
        if not role.is_worker:
            store.write_json(store.track_record, track.record())
            store.write_json(store.schema_record, data.schema.to_dict())
        tuner = make_tuner(track, family.hypermodel(track, data.schema), store)
        started = time.monotonic()
        tuner.deadline = budget.search_deadline
        # The chief (or a local search) owns the oracle, so it alone prunes; workers only train.
        prune = None if keep_checkpoints or role.is_worker else _pruner(run)
        tuner.on_trial_done = _after_trial(prune, on_trial_done)
        callbacks = [StopAtDeadline(tuner.deadline)] if math.isfinite(tuner.deadline) else []
        if tensorboard:
            # Keras Tuner gives each trial its own log directory and adds TensorBoard's HParams callback.
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(store.tensorboard_dir)))
        args, kwargs = fit_arguments(track, family, data, verbose=verbose, callbacks=callbacks)
        before = len(store.trials())
        with frozen_heap():  # Keras Tuner's gc.collect() before each trial walks only what trials make
            stopped_by = _run(tuner, store, args, kwargs, role)
        if prune is not None:
            prune()
        seconds = time.monotonic() - started
        if not role.is_worker:
            _record_run(store, command, seconds, stopped_by, before, len(store.trials()))
    return SearchRun(track.name, stopped_by, seconds, before, len(store.trials()), data)


def fit_arguments(track: Track, family: Family, data: Data, verbose: bool = False,
                  callbacks: list | None = None) -> tuple[tuple, dict]:
    """What `tuner.search` passes on to the HyperModel's `fit`: the model's inputs and labels.

    `verbose` shows Keras' per-epoch progress bars.
    """
    schema = data.schema
    kwargs: dict[str, Any] = {
        "validation_data": (family.model_inputs(data.validation.x, schema), data.validation.y),
        "verbose": 1 if verbose else 0,
    }
    if callbacks:
        kwargs["callbacks"] = list(callbacks)
    if track.search.tuner != "hyperband":
        kwargs["epochs"] = track.search.max_epochs
    weights = class_weight(track, data.train.y, len(schema.classes))
    if weights:
        kwargs["class_weight"] = weights
    return (family.model_inputs(data.train.x, schema), data.train.y), kwargs


def class_weight(track: Track, y, classes: int) -> dict[int, float] | None:
    """Keras' ``class_weight`` for labels `y` when the track asks for balanced classes: each class weighted by
    the inverse of its frequency, so that all weigh the same in the loss; else None."""
    if track.task == "regression" or track.search.class_weight != "balanced":
        return None
    counts = np.bincount(y, minlength=classes)
    return {i: len(y) / (len(counts) * max(c, 1)) for i, c in enumerate(counts)}


def _pruner(run: Run) -> Callable[[], None]:
    finished: dict[str, TrialFile] = {}  # each finished trial's record is read once per search

    def prune() -> None:
        try:
            prune_checkpoints(run.store, run.track.direction, run.track.search.tolerance,
                              compared_by=run.family.compared_by, finished=finished)
        except (OSError, AutomlError) as error:  # disk a trial freed is a saving, not a reason to stop the search
            warnings.warn(f"checkpoints not pruned ({error})", AutomlWarning, stacklevel=2)
    return prune


def _after_trial(prune: Callable[[], None] | None,
                 on_trial_done: Callable[[kt.engine.trial.Trial], None] | None):
    if prune is None:
        return on_trial_done

    def after(trial: kt.engine.trial.Trial) -> None:
        prune()
        if on_trial_done is not None:
            on_trial_done(trial)
    return after


def _run(tuner: SearchLoopMixin, store: Store, args: tuple, kwargs: dict, role: Role = LOCAL) -> str:
    """Run Keras Tuner's loop; returns why it stopped. Failures keep every finished trial on disk."""
    with _stop_on_interrupt(tuner):
        if role.is_chief:
            return distributed.serve(tuner, tuner.stop_reason, tuner.on_trial_done)
        if role.is_worker:
            distributed.patient_worker(tuner)
            liveness.keep_heard(tuner)  # the chief hears from it while it trains, and gives up on it if it dies
        try:
            tuner.search(*args, **kwargs)
        except StopSearch as stop:
            return str(stop)
        except ResultsUnwritable as error:
            if error.resource is not None:
                raise error.resource from None
            raise AutomlError(f"search stopped: {error}; finished trials are kept") from None
        except (kt.errors.FatalError, RuntimeError) as error:
            if isinstance(error, RuntimeError) and "consecutive failures" not in str(error):
                raise
            raise SearchFailed(
                f"search stopped: {MAX_CONSECUTIVE_FAILED_TRIALS} trials failed in a row "
                f"(last: {last_line(error)}); finished trials are kept in {store.root}"
            ) from None
        except (OSError, tf.errors.OpError) as error:  # Keras Tuner's own files (trial.json, oracle.json, ...)
            code = disk_failure(error, store.root)
            if code is not None:
                raise resource_error(code, store.root, "saving a trial") from None
            reason = getattr(error, "strerror", None) or last_line(error)
            raise AutomlError(
                f"search stopped: cannot write results in {store.root} ({reason}); "
                "free disk space or fix permissions, then rerun to resume; finished trials are kept"
            ) from None
    return "search complete"


def _check_same_track(track: Track, store: Store) -> None:
    previous = store.read_json(store.track_record)
    # The tolerance only changes the choice, so searches begun before it existed, or with another value, resume.
    if store.has_search() and previous is not None and not same_search(track, previous):
        raise AutomlError(
            f"track '{track.name}' changed since the search in {store.root} began; "
            "rerun with --restart to start over (or undo the change to resume)"
        )


def _record_run(store: Store, command: str, seconds: float, stopped_by: str, before: int, after: int) -> None:
    runs = store.read_json(store.runs_record, default=[])
    runs.append({
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command,
        "seconds": round(seconds, 1),
        "stopped_by": stopped_by,
        "trials_before": before,
        "trials_after": after,
    })
    store.write_json(store.runs_record, runs)


@contextmanager
def _stop_on_interrupt(tuner: SearchLoopMixin) -> Iterator[None]:
    """First Ctrl-C: finish the running trial, then stop. Second Ctrl-C: stop now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        if tuner.stop_requested:
            tuner.abort_requested = True
            raise KeyboardInterrupt
        tuner.stop_requested = True
        warnings.warn("Ctrl-C: stopping after the running trial; press Ctrl-C again to stop now",
                      AutomlWarning, stacklevel=2)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
