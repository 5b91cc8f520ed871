"""Run a Keras Tuner search for a track: resumable, with a wall-clock budget, results on disk."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.src import config as kt_config

from automl import distributed
from automl.data.images import ImageData
from automl.data.tabular import Schema, TabularData, load_tabular, model_inputs
from automl.distributed import LOCAL, Role
from automl.errors import AutomlError, AutomlWarning, SearchFailed
from automl.final_fit import search_deadline
from automl.housekeeping import forget_trace_gradients, frozen_heap
from automl.hypermodels.mlp import MLPHyperModel
from automl.hypermodels.training import FitTimer, StopAtDeadline
from automl.lock import LOCK_FILE, search_lock
from automl.pruning import prune_checkpoints
from automl.store import Store, write_json
from automl.tracks import (
    IMAGE_KINDS,
    Track,
    load_track,
    parse_duration,
    search_settings,
)

MAX_CONSECUTIVE_FAILED_TRIALS = 10

# Hyperband continues a trial from an earlier one's checkpoint; Keras Tuner loads the weights before
# the new optimizer is built, so Keras warns that it skips the saved optimizer state. That is Keras
# Tuner's behaviour (the optimizer restarts at each rung), not a fault of the user's: keep it quiet.
warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
# Keras Tuner prints the traceback of every failed trial; automl keeps the reason in the report.
kt_config.DEBUG = False
TENSORBOARD_DIR = "logs"  # per trial: logs/<trial id>/execution0/, with HParams
HISTORY_FILE = "history.json"  # per trial, beside Keras Tuner's trial.json: the learning curves


class StopSearch(Exception):
    """Raised between trials to end the search early; everything finished is already on disk."""


class ResultsUnwritable(kt.errors.FatalError):
    """automl could not write a trial's results: stop the search rather than fail trial after trial."""


class SearchLoopMixin:
    """What automl adds to a Keras Tuner tuner: a time budget, a clean stop, and per-epoch curves."""

    deadline: float = math.inf
    stop_requested: bool = False
    abort_requested: bool = False
    on_trial_done: Callable[[kt.engine.trial.Trial], None] | None = None

    def pre_create_trial(self) -> None:
        # Called between trials, after the previous one is saved: the one safe place to stop.
        if self.abort_requested:
            raise KeyboardInterrupt
        reason = _stop_reason(self)
        if reason:
            raise StopSearch(reason)

    def on_search_begin(self) -> None:
        super().on_search_begin()
        # Keras Tuner shows its own trial table whenever fit is verbose; automl prints one line per trial.
        self.oracle.verbose = 0

    def run_trial(self, trial, *args, **kwargs):
        started = time.perf_counter()
        timer = FitTimer()
        kwargs = {**kwargs, "callbacks": [*kwargs.get("callbacks", []), timer]}
        try:
            with forget_trace_gradients():  # else TensorFlow keeps every trial's traced graphs (automl.housekeeping)
                histories = super().run_trial(trial, *args, **kwargs)
        except Exception:
            # A second Ctrl-C raised inside Keras or TensorFlow may come out wrapped, or be swallowed:
            # stop now all the same, leaving the trial unfinished so that a rerun redoes it.
            if self.abort_requested:
                raise KeyboardInterrupt from None
            raise
        if self.abort_requested:
            raise KeyboardInterrupt
        history = histories[-1]
        record = {
            "seconds": round(time.perf_counter() - started, 3),
            "fit_seconds": round(timer.seconds, 3),  # inside model.fit; the rest is building, data, saving
            "initial_epoch": int(trial.hyperparameters.values.get("tuner/initial_epoch", 0)),
            "epochs": [int(e) for e in history.epoch],
            "history": {k: [float(v) for v in values] for k, values in history.history.items()},
            "params": int(history.model.count_params()),
        }
        try:
            write_json(Path(self.get_trial_dir(trial.trial_id)) / HISTORY_FILE, record)
        except AutomlError as error:
            raise ResultsUnwritable(str(error)) from None
        losses = record["history"].get("loss", [])
        if any(not math.isfinite(v) for v in losses):
            epoch = next(i for i, v in enumerate(losses) if not math.isfinite(v)) + record["initial_epoch"] + 1
            raise kt.errors.FailedTrialError(f"diverged: the training loss became NaN or infinite at epoch {epoch}")
        return histories

    def on_trial_end(self, trial) -> None:
        super().on_trial_end(trial)
        if self.on_trial_done is not None:
            # The oracle's record has the score (on a worker, the chief's oracle scores the trial).
            self.on_trial_done(self.oracle.get_trial(trial.trial_id))


def _stop_reason(tuner: SearchLoopMixin) -> str | None:
    if tuner.stop_requested:
        return "stopped on request (Ctrl-C)"
    if time.monotonic() >= tuner.deadline:
        return "time limit reached"
    return None


class HyperbandTuner(SearchLoopMixin, kt.Hyperband):
    pass


class RandomTuner(SearchLoopMixin, kt.RandomSearch):
    pass


class BayesianTuner(SearchLoopMixin, kt.BayesianOptimization):
    pass


@dataclass
class SearchOutcome:
    """What a search run did; the trials themselves are read back from disk by `results`."""

    track: str
    stopped_by: str
    seconds: float
    trials_before: int
    trials_after: int
    # The split the search used, so that the report scores the test split without reading the data again.
    data: TabularData | ImageData | None = field(default=None, repr=False)
    # When the time limit ends (on time.monotonic): the final fit, if the track has one, may train until then.
    deadline: float = math.inf


def load_data(track: Track) -> TabularData | ImageData:
    """The track's data, split with its seed."""
    if track.data["kind"] in IMAGE_KINDS:
        return load_image_track(track)
    return load_tabular(
        track.data_path(),
        track.data["target"],
        track.task,
        categorical=track.data["categorical"],
        drop=track.data["drop"],
        positive=track.data["positive"],
        test=track.split["test"],
        validation=track.split["validation"],
        seed=track.split["seed"],
        target_transform=track.model["target_transform"],
    )


def load_image_track(track: Track) -> ImageData:
    """CIFAR-10 (a given file, the imported copy, or Keras' download) or the track's own npz; the test
    images stay as given, validation is split off the training images."""
    from automl.data import images

    path = track.data_path() if track.data["path"] else None
    if track.data["kind"] == "cifar10":
        arrays, classes = images.cifar10_arrays(path), images.CIFAR10_CLASSES
    else:
        arrays, classes = images.read_npz(path), None
    return images.load_images(arrays, track.task, classes=classes,
                              validation=track.split["validation"], seed=track.split["seed"])


def make_hypermodel(track: Track, schema: Schema) -> kt.HyperModel:
    """The track family's HyperModel: MLP for tables, CNN for images."""
    if schema.kind == "images":
        from automl.hypermodels.cnn import CNNHyperModel

        return CNNHyperModel(
            schema,
            track.objective,
            track.direction,
            batch_sizes=track.model["batch_sizes"],
            images_per_epoch=track.model["images_per_epoch"],
            patience=track.search["patience"],
            seed=track.search["seed"],
        )
    return MLPHyperModel(
        schema,
        track.objective,
        track.direction,
        batch_sizes=track.model["batch_sizes"],
        max_layers=track.model["max_layers"],
        max_units=track.model["max_units"],
        patience=track.search["patience"],
        seed=track.search["seed"],
    )


def _new_tuner(track: Track, hypermodel: kt.HyperModel, store: Store) -> kt.Tuner:
    search = track.search
    common = {
        "hypermodel": hypermodel,
        "objective": kt.Objective(track.objective, direction=track.direction),
        "directory": str(store.root),
        "project_name": store.tuner_dir.name,
        "overwrite": False,
        "seed": search["seed"],
        "max_consecutive_failed_trials": MAX_CONSECUTIVE_FAILED_TRIALS,
        "distribution_strategy": distribution_strategy(search["distribution"]),
    }
    if search["tuner"] == "hyperband":
        return HyperbandTuner(
            max_epochs=search["max_epochs"], factor=search["factor"],
            hyperband_iterations=search["hyperband_iterations"], **common,
        )
    tuner_class = RandomTuner if search["tuner"] == "random" else BayesianTuner
    return tuner_class(max_trials=search["max_trials"], **common)


def distribution_strategy(setting: str):
    """The track's `search.distribution` as a `tf.distribute` strategy for each trial, or None.

    "auto": MirroredStrategy (data parallel over the GPUs of this machine) when several GPUs are
    visible, else none; "mirrored": always (on all visible GPUs, or the CPU); "none": never.
    """
    import tensorflow as tf

    if setting == "none" or (setting == "auto" and len(tf.config.list_logical_devices("GPU")) < 2):
        return None
    return tf.distribute.MirroredStrategy()


def make_tuner(track: Track, hypermodel: kt.HyperModel, store: Store) -> kt.Tuner:
    """The track's tuner over the store's directory; an existing project is reloaded (resume).

    Keras Tuner reloads only when this process's own tuner file (``<tuner id>.json``) exists; the
    oracle's state is reloaded whenever the project has one, so a search begun by a chief can be
    resumed without one, and the other way round. Workers never reload it: the chief owns it.
    """
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    reloads = (store.tuner_dir / f"{tuner_id}.json").is_file()
    is_worker = "KERASTUNER_ORACLE_IP" in os.environ and distributed.CHIEF_ID not in tuner_id
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
            tuner = _new_tuner(track, hypermodel, store)
            if store.has_search() and not reloads and not is_worker:
                tuner.oracle.reload()
            return tuner
    except (ValueError, KeyError, RuntimeError, OSError) as error:
        raise AutomlError(
            f"the search in {store.root} cannot be reloaded ({_last_line(error)}); "
            "rerun with --restart to start over"
        ) from None


def fit_arguments(track: Track, data: TabularData | ImageData, verbose: bool = False,
                  callbacks: list | None = None) -> tuple[tuple, dict]:
    """What `tuner.search` passes on to the HyperModel's `fit`: model inputs (columns or uint8 images) and labels.

    `verbose` shows Keras' per-epoch progress bars.
    """
    schema = data.schema
    inputs = (lambda x: x) if schema.kind == "images" else (lambda x: model_inputs(x, schema))
    kwargs: dict[str, Any] = {
        "validation_data": (inputs(data.validation.x), data.validation.y),
        "verbose": 1 if verbose else 0,
    }
    if callbacks:
        kwargs["callbacks"] = list(callbacks)
    if track.search["tuner"] != "hyperband":
        kwargs["epochs"] = track.search["max_epochs"]
    if track.task != "regression" and track.search["class_weight"] == "balanced":
        counts = np.bincount(data.train.y, minlength=len(schema.classes))
        kwargs["class_weight"] = {i: len(data.train.y) / (len(counts) * max(c, 1)) for i, c in enumerate(counts)}
    return (inputs(data.train.x), data.train.y), kwargs


def count_trials(store: Store) -> int:
    return sum(1 for d in store.trial_dirs() if (d / "trial.json").is_file())


def search(
    track: str | Track,
    *,
    time_limit: str | float | None = None,
    restart: bool = False,
    results_dir: str | os.PathLike | None = None,
    on_trial_done: Callable[[kt.engine.trial.Trial], None] | None = None,
    command: str = "",
    verbose: bool = False,
    tensorboard: bool = False,
    role: Role = LOCAL,
    keep_checkpoints: bool = False,
) -> SearchOutcome:
    """Run (or resume) the track's search until it completes or the time limit is reached.

    `tensorboard` writes each trial's curves and hyperparameters (TensorBoard's HParams) under
    ``<results>/<track>/logs/``. `role` makes this process the chief or a worker of a distributed
    search (see `automl.distributed`); all processes must share the results directory.
    After each trial and at the end, the checkpoints of trials that can no longer be chosen nor
    continued are deleted (`automl.pruning`); `keep_checkpoints` keeps them all.

    Examples
    --------
    >>> outcome = search("boston", time_limit="5m")
    >>> outcome.stopped_by
    'search complete'
    """
    track = load_track(track)
    budget = parse_duration(time_limit, "--time-limit") if time_limit is not None else track.time_limit_seconds
    store = Store(track.name, results_dir)
    if role.is_worker and restart:
        raise AutomlError("--restart goes to the chief (or a search of one machine), not to a worker")
    # One search per directory; workers share the chief's, so only the chief (or a local search) locks it.
    lock = contextlib.nullcontext() if role.is_worker else search_lock(store.root)
    with lock, distributed.keras_tuner_environment(role):
        if restart:
            _clear(store)
        _check_same_track(track, store)
        data = load_data(track)
        if not role.is_worker:
            store.write_json("track.json", track.as_dict())
            store.write_json("schema.json", data.schema.to_dict())
        tuner = make_tuner(track, make_hypermodel(track, data.schema), store)
        started = time.monotonic()
        # A worker's time limit is the chief's: a worker that left on its own would keep the chief waiting.
        deadline = math.inf if role.is_worker else started + budget
        tuner.deadline = math.inf if role.is_worker else search_deadline(track, started, budget)
        # The chief (or a local search) owns the oracle, so it alone prunes; workers only train.
        prune = None if keep_checkpoints or role.is_worker else _pruner(track, store)
        tuner.on_trial_done = _after_trial(prune, on_trial_done)
        callbacks = [StopAtDeadline(tuner.deadline)] if math.isfinite(tuner.deadline) else []
        if tensorboard:
            callbacks.append(_tensorboard_callback(store))
        args, kwargs = fit_arguments(track, data, verbose=verbose, callbacks=callbacks)
        before = count_trials(store)
        with frozen_heap():  # Keras Tuner's gc.collect() before each trial walks only what trials make
            stopped_by = _run(tuner, store, args, kwargs, role)
        if prune is not None:
            prune()
        seconds = time.monotonic() - started
        if not role.is_worker:
            _record_run(store, command, seconds, stopped_by, before, count_trials(store))
    return SearchOutcome(track.name, stopped_by, seconds, before, count_trials(store), data, deadline)


def _pruner(track: Track, store: Store) -> Callable[[], None]:
    def prune() -> None:
        try:
            prune_checkpoints(store, track.direction, track.search["tolerance"])
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


def _tensorboard_callback(store: Store):
    import keras

    # Keras Tuner gives each trial its own log directory and adds TensorBoard's HParams callback.
    return keras.callbacks.TensorBoard(log_dir=str(store.path(TENSORBOARD_DIR)))


def _run(tuner: kt.Tuner, store: Store, args: tuple, kwargs: dict, role: Role = LOCAL) -> str:
    """Run Keras Tuner's loop; returns why it stopped. Failures keep every finished trial on disk."""
    import tensorflow as tf

    with _stop_on_interrupt(tuner):
        if role.is_chief:
            return distributed.serve(tuner, lambda: _stop_reason(tuner), tuner.on_trial_done)
        if role.is_worker:
            distributed.patient_worker(tuner)
        try:
            tuner.search(*args, **kwargs)
        except StopSearch as stop:
            return str(stop)
        except ResultsUnwritable as error:
            raise AutomlError(f"search stopped: {error}; finished trials are kept") from None
        except (kt.errors.FatalError, RuntimeError) as error:
            if isinstance(error, RuntimeError) and "consecutive failures" not in str(error):
                raise
            raise SearchFailed(
                f"search stopped: {MAX_CONSECUTIVE_FAILED_TRIALS} trials failed in a row "
                f"(last: {_last_line(error)}); finished trials are kept in {store.root}"
            ) from None
        except (OSError, tf.errors.OpError) as error:
            reason = getattr(error, "strerror", None) or _last_line(error)
            raise AutomlError(
                f"search stopped: cannot write results in {store.root} ({reason}); "
                "free disk space or fix permissions, then rerun to resume; finished trials are kept"
            ) from None
    return "search complete"


def _clear(store: Store) -> None:
    """--restart: everything of the previous search goes, except the lock this search holds."""
    for path in store.root.iterdir():
        if path.name == LOCK_FILE:
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _check_same_track(track: Track, store: Store) -> None:
    previous = store.read_json("track.json")
    # The tolerance only changes the choice, so searches begun before it existed, or with another value, resume.
    if store.has_search() and previous is not None and (
        search_settings(previous) != search_settings(_json_round_trip(track.as_dict()))
    ):
        raise AutomlError(
            f"track '{track.name}' changed since the search in {store.root} began; "
            "rerun with --restart to start over (or undo the change to resume)"
        )


def _json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _record_run(store: Store, command: str, seconds: float, stopped_by: str, before: int, after: int) -> None:
    runs = store.read_json("runs.json", default=[])
    runs.append({
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command,
        "seconds": round(seconds, 1),
        "stopped_by": stopped_by,
        "trials_before": before,
        "trials_after": after,
    })
    store.write_json("runs.json", runs)


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
