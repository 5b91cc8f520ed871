"""automl's Keras Tuner tuners: Hyperband, random and Bayesian search with a time budget, a clean stop, per-epoch
curves on disk, and divergence as a failed trial."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
import warnings
import zlib
from collections.abc import Callable

import keras
import keras_tuner as kt
import tensorflow as tf
from keras_tuner.src import config as kt_config
from keras_tuner.src import utils as kt_utils

from automl.errors import AutomlError, ResourceError, disk_failure, last_line, resource_error
from automl.hypermodels.training import FitTimer
from automl.store import Store, write_json
from automl.track.sections import Track
from automl.tuning import distributed
from automl.tuning.housekeeping import forget_trace_gradients, freeze_survivors
from automl.tuning.restore import reload_oracle

MAX_CONSECUTIVE_FAILED_TRIALS = 10

# Hyperband continues a trial from an earlier one's checkpoint; Keras Tuner loads the weights before
# the new optimizer is built, so Keras warns that it skips the saved optimizer state. That is Keras
# Tuner's behaviour (the optimizer restarts at each rung), not a fault of the user's: keep it quiet.
warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
# Keras Tuner prints the traceback of every failed trial; automl keeps the reason in the report.
kt_config.DEBUG = False


def _save_json_atomically(path, obj) -> str:
    """Keras Tuner's `save_json`, but through a temporary file renamed into place: its `oracle.json`, `trial.json`
    and tuner files were written in place, so a full disk (or a kill) mid-write left half a file that stopped every
    rerun; now the old file stays whole until the new one is."""
    text = json.dumps(obj)
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return text


kt_utils.save_json = _save_json_atomically


class StopSearch(Exception):
    """Raised between trials to end the search early; everything finished is already on disk."""


class ResultsUnwritable(kt.errors.FatalError):
    """automl could not write a trial's results: stop the search rather than fail trial after trial. `resource` is
    the failure of the machine behind it (a full disk, ...), when it was one."""

    def __init__(self, message: str, resource: ResourceError | None = None) -> None:
        super().__init__(message)
        self.resource = resource


class SearchLoopMixin:
    """What automl adds to a Keras Tuner tuner: a time budget, a clean stop, and per-epoch curves."""

    deadline: float = math.inf
    search_seed: int = 0  # the track's search.seed (a worker's oracle is the chief's, over the network, without it)
    stop_requested: bool = False
    abort_requested: bool = False
    on_trial_done: Callable[[kt.engine.trial.Trial], None] | None = None
    store: Store | None = None  # where the curves go (`make_tuner` sets it): the tuner's own directory

    def pre_create_trial(self) -> None:
        # Called between trials, after the previous one is saved: the one safe place to stop.
        if self.abort_requested:
            raise KeyboardInterrupt
        reason = self.stop_reason()
        if reason:
            raise StopSearch(reason)

    def stop_reason(self) -> str | None:
        """Why the search must stop now (Ctrl-C, the time limit), or None."""
        return _stop_reason(self)

    def reload(self) -> None:
        """Keras Tuner's constructor calls this to resume when the tuner's own file exists; `make_tuner` resumes
        instead, whether that file exists or not, through `reload_oracle`, which survives a damaged file where Keras
        Tuner's own reload stops at the first. The tuner's own state is empty (`BaseTuner.get_state`): nothing to
        read here."""

    def on_search_begin(self) -> None:
        super().on_search_begin()
        # Keras Tuner shows its own trial table whenever fit is verbose; automl prints one line per trial.
        self.oracle.verbose = 0

    def _build_hypermodel(self, hp):
        # Keras Tuner's _try_build has just cleared the session and collected the previous trial's garbage.
        freeze_survivors()
        return super()._build_hypermodel(hp)

    def run_trial(self, trial, *args, **kwargs):
        # Keras draws the initial weights of an unseeded layer from Python's global random state, which nothing else
        # seeds: the same search gave other trials in every process. Each trial now starts from its own seed.
        keras.utils.set_random_seed(trial_seed(self.search_seed, trial.trial_id))
        started = time.perf_counter()
        timer = FitTimer()
        kwargs = {**kwargs, "callbacks": [*kwargs.get("callbacks", []), timer]}
        try:
            with forget_trace_gradients():  # else TensorFlow keeps every trial's traced graphs (automl.housekeeping)
                histories = super().run_trial(trial, *args, **kwargs)
        except Exception as error:
            # A second Ctrl-C raised inside Keras or TensorFlow may come out wrapped, or be swallowed:
            # stop now all the same, leaving the trial unfinished so that a rerun redoes it.
            if self.abort_requested:
                raise KeyboardInterrupt from None
            # A full disk (a checkpoint that cannot be saved) is no fault of the trial's: stop the search, leaving
            # the trial unfinished for the rerun, rather than fail every trial after it.
            unwritable = self._unwritable(error)
            if unwritable is not None:
                raise ResultsUnwritable(str(unwritable), unwritable) from None
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
            write_json(self.store.history_record(trial.trial_id), record)
        except AutomlError as error:
            raise ResultsUnwritable(str(error), error if isinstance(error, ResourceError) else None) from None
        losses = record["history"].get("loss", [])
        if any(not math.isfinite(v) for v in losses):
            epoch = next(i for i, v in enumerate(losses) if not math.isfinite(v)) + record["initial_epoch"] + 1
            raise kt.errors.FailedTrialError(f"diverged: the training loss became NaN or infinite at epoch {epoch}")
        return histories

    def _unwritable(self, error: Exception) -> ResourceError | None:
        """`error` as the failure of the machine under the search's folder that it is, or None."""
        if isinstance(error, ResourceError) or self.store is None:
            return error if isinstance(error, ResourceError) else None
        code = disk_failure(error, self.store.root)
        return None if code is None else resource_error(code, self.store.root, "running a trial")

    def on_trial_end(self, trial) -> None:
        super().on_trial_end(trial)
        if self.on_trial_done is not None:
            # The oracle's record has the score (on a worker, the chief's oracle scores the trial).
            self.on_trial_done(self.oracle.get_trial(trial.trial_id))


def trial_seed(search_seed: int, trial_id: str) -> int:
    """The seed of one trial's random draws (initial weights, dropout): the search's seed and the trial's id, so
    that a trial starts the same in every run of the search, resumed or not, and whichever worker runs it."""
    return (int(search_seed) * 1_000_003 + zlib.crc32(str(trial_id).encode())) % 2**31


def _stop_reason(tuner: SearchLoopMixin) -> str | None:
    if tuner.stop_requested:
        return "stopped on request (Ctrl-C)"
    # A search with no trial yet runs one all the same (its training stops at the deadline after an epoch): a
    # time limit spent on loading the data must still leave a model to choose, not an empty search.
    if time.monotonic() >= tuner.deadline and tuner.oracle.trials:
        return "time limit reached"
    return None


class RecipeFirstHyperbandOracle(kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband oracle, but a fresh search of a track with a recipe (``model.fixed``) or a start
    (``model.start``) opens with it: the fixed values, the start's values, and each other hyperparameter's default.
    A start may open several trials (`SearchSpace.starts_in_space`: a table with images opens with each kind of
    network), one after the other.
    A search cut short (a ``--time-limit`` of a minute) then still has the known-good configuration to choose and
    to retrain. The trials after it draw the random values Keras Tuner would have drawn from the first (the seed's
    stream is untouched), so a longer search tries the same configurations as before, and one more; a start that
    declares hyperparameters the defaults do not (the units of its later layers) draws those too, which shifts the
    draws after its first one. The start trains for ``max_epochs``, not its bracket's first rung."""

    def __init__(self, *args, recipe: bool = False, starts: list[dict] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recipe = recipe  # whether the track fixes a recipe
        self.starts = [dict(start) for start in starts or []]  # the track's model.start, in the space's names

    def populate_space(self, trial_id):
        first = len(self.trials) < len(self.starts)
        result = super().populate_space(trial_id)
        if first and result.get("status") == "RUNNING":
            # The start trains to convergence (early stopping, or the time limit), not for its bracket's first few
            # epochs: a search cut short has it trained, and Hyperband's first rungs are judged against it.
            result["values"]["tuner/epochs"] = self.max_epochs
        return result

    def _random_values(self):
        if len(self.trials) < len(self.starts):
            return start_values(self.hyperparameters, self.starts[len(self.trials)])
        if self.trials or not self.recipe:
            return super()._random_values()
        return start_values(self.hyperparameters, {})


def start_values(space: kt.HyperParameters, start: dict) -> dict:
    """The first trial's values over `space`: each active hyperparameter at its `start` value, else its default."""
    values = kt.HyperParameters()
    for hp in space.space:
        values.merge([hp])
        if values.is_active(hp):
            values.values[hp.name] = start.get(hp.name, hp.default)
    return values.values


def check_start(space: kt.HyperParameters, start: dict, where: str, *, every_name: bool = True) -> None:
    """One clear error for the ``model.start`` values that lie outside their hyperparameter's range, or (with
    `every_name`) name no hyperparameter of the space, before a trial runs."""
    known = {hp.name: hp for hp in space.space}
    unknown = [name for name in start if name not in known]
    wrong = [f"'model.start.{name}' is {value!r}, outside its range ({_range(known[name])})"
             for name, value in start.items() if name in known and not _in_range(known[name], value)]
    if wrong:
        raise AutomlError(f"{where}: {'; '.join(wrong)}; change or remove {'it' if len(wrong) == 1 else 'them'}")
    if unknown and every_name:
        raise AutomlError(f"{where}: {', '.join(f'model.start.{name}' for name in unknown)} "
                          f"{'is no hyperparameter' if len(unknown) == 1 else 'are no hyperparameters'} of this "
                          f"search; its hyperparameters are: {', '.join(sorted(known))}")


def _in_range(hp, value) -> bool:
    if isinstance(hp, kt.engine.hyperparameters.Fixed):
        return value == hp.value
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return isinstance(value, bool)
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return value in hp.values and type(value) is not bool
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return hp.min_value <= value <= hp.max_value


def _range(hp) -> str:
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return "one of " + ", ".join(map(repr, hp.values))
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return "true or false"
    if isinstance(hp, kt.engine.hyperparameters.Fixed):
        return f"fixed at {hp.value!r}"
    return f"{hp.min_value} to {hp.max_value}"


class HyperbandTuner(SearchLoopMixin, kt.Hyperband):
    def __init__(self, hypermodel, objective, *, max_epochs: int, factor: int, hyperband_iterations: int, seed,
                 hyperparameters=None, tune_new_entries: bool = True, max_consecutive_failed_trials: int,
                 starts: list[dict] | None = None, start_where: str = "model.start", **kwargs):
        # kt.Hyperband.__init__ with automl's oracle (Keras Tuner's own takes no other)
        oracle = RecipeFirstHyperbandOracle(
            objective, max_epochs=max_epochs, factor=factor, hyperband_iterations=hyperband_iterations, seed=seed,
            hyperparameters=hyperparameters, tune_new_entries=tune_new_entries,
            max_consecutive_failed_trials=max_consecutive_failed_trials, recipe=hyperparameters is not None,
            starts=starts)
        self.start_where = start_where  # the track file, for a start's errors
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)

    def _populate_initial_space(self):
        super()._populate_initial_space()  # a fresh search only: a resumed one has its space, and its trials
        for start in self.oracle.starts:
            # The space as Keras Tuner finds it holds what the defaults build (one layer's units): build the start
            # too, so that what its values use (the units of its three layers) is in the space to be set; check
            # first what the defaults' space can tell (a start's optimizer unknown to the model would stop the build).
            check_start(self.oracle.hyperparameters, start, self.start_where, every_name=False)
            space = self.oracle.get_space()
            # every hyperparameter the start makes active at its default (a joined network's backbone, which the
            # start leaves to its defaults), then the start's own values, those not in the space yet too
            space.values.update(start_values(space, start))
            space.values.update(start)
            self.hypermodel.build(space)
            self.oracle.update_space(space)
        for start in self.oracle.starts:  # every name known once each start has been built
            check_start(self.oracle.hyperparameters, start, self.start_where)


class RandomTuner(SearchLoopMixin, kt.RandomSearch):
    pass


class BayesianTuner(SearchLoopMixin, kt.BayesianOptimization):
    pass


def _new_tuner(track: Track, hypermodel: kt.HyperModel, store: Store) -> kt.Tuner:
    search = track.search
    common = {
        "hypermodel": hypermodel,
        "objective": kt.Objective(track.objective, direction=track.direction),
        "directory": str(store.root),
        "project_name": store.tuner_dir.name,
        "overwrite": False,
        "seed": search.seed,
        "max_consecutive_failed_trials": MAX_CONSECUTIVE_FAILED_TRIALS,
        "distribution_strategy": distribution_strategy(search.distribution),
    }
    if track.model.fixed:
        # Held at the track's values; every other hyperparameter is searched as usual (tune_new_entries).
        common.update(hyperparameters=held(hypermodel, track.model.fixed), tune_new_entries=True)
    if search.tuner == "hyperband":
        tuner = HyperbandTuner(
            max_epochs=search.max_epochs, factor=search.factor,
            hyperband_iterations=search.hyperband_iterations, starts=hypermodel.starts_in_space(track.model.start),
            start_where=str(track.source), **common,
        )
    else:
        tuner_class = RandomTuner if search.tuner == "random" else BayesianTuner
        tuner = tuner_class(max_trials=search.max_trials, **common)
    tuner.search_seed = search.seed
    return tuner


def held(hypermodel: kt.HyperModel, values: dict) -> kt.HyperParameters:
    """The track's `model.fixed` as Keras Tuner's Fixed hyperparameters, each also under every condition the
    space asks for its name.

    A Fixed hyperparameter made outside a conditional scope does not hold one the model asks for inside it (SGD's
    rate, asked for only when `optimizer` is "sgd"): Keras Tuner keeps both, and the oracle's draw for the scoped
    one, or its default (the low end of its range) in the first trial, replaces the fixed value. So the space is
    built once with the values fixed, and each name it asks for under conditions is fixed again under them.
    """
    space = kt.HyperParameters()
    for name, value in values.items():
        space.Fixed(name, value)
    hypermodel.build(space)
    fixed = kt.HyperParameters()
    for name, value in values.items():
        fixed.Fixed(name, value)
    for hp in space.space:
        if hp.name in values and hp.conditions:
            fixed.merge([kt.engine.hyperparameters.Fixed(hp.name, values[hp.name], conditions=hp.conditions)])
    return fixed


def distribution_strategy(setting: str):
    """The track's `search.distribution` as a `tf.distribute` strategy for each trial, or None.

    "auto": MirroredStrategy (data parallel over the GPUs of this machine) when several GPUs are
    visible, else none; "mirrored": always (on all visible GPUs, or the CPU); "none": never.
    """
    if setting == "none" or (setting == "auto" and len(tf.config.list_logical_devices("GPU")) < 2):
        return None
    return tf.distribute.MirroredStrategy()


def make_tuner(track: Track, hypermodel: kt.HyperModel, store: Store) -> kt.Tuner:
    """The track's tuner over the store's directory; an existing project is reloaded (resume).

    Keras Tuner would reload only when this process's own tuner file (``<tuner id>.json``) exists; the
    oracle's state is reloaded whenever the project has one or that file, so a search begun by a chief can be
    resumed without one, and the other way round. Workers never reload it: the chief owns it. A damaged trial or
    oracle file is repaired with a note (`automl.tuning.restore`).
    """
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    searched = store.has_search() or store.tuner_file(tuner_id).is_file()
    is_worker = "KERASTUNER_ORACLE_IP" in os.environ and distributed.CHIEF_ID not in tuner_id
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner prints "Reloading Tuner from ..."
            tuner = _new_tuner(track, hypermodel, store)
            tuner.store = store
            if searched and not is_worker:
                reload_oracle(tuner.oracle, store)
            return tuner
    except (ValueError, KeyError, RuntimeError, OSError) as error:
        if disk_failure(error, store.root) is not None:  # a repair that could not be written: the machine's fault,
            raise  # which the store's guard names in one line (exit 3); --restart would throw the search away
        raise AutomlError(
            f"the search in {store.root} cannot be reloaded ({last_line(error)}); "
            "rerun with --restart to start over"
        ) from None


