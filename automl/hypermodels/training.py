"""What every trial shares whatever the model family: optimizers and the standard callbacks."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import keras

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
FINAL_FIT_MAX_EPOCHS = 10_000  # a final fit ends on time (`TimeBudgetSchedule`), not on a count of epochs


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """One of the searched optimizers; SGD always with Nesterov momentum, as it is used in practice."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=1e-4)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")


def trial_callbacks(objective: str, direction: str, patience: int, reduce_lr: bool) -> list[keras.callbacks.Callback]:
    """EarlyStopping and TerminateOnNaN in every trial; ReduceLROnPlateau when the space picks it."""
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=objective, mode=direction, patience=patience, restore_best_weights=True
        ),
        keras.callbacks.TerminateOnNaN(),
    ]
    if reduce_lr:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=objective, mode=direction, factor=0.3, patience=max(2, patience // 3), min_lr=1e-6
            )
        )
    return callbacks


class StopAtDeadline(keras.callbacks.Callback):
    """Ends training after the batch during which the search's time ran out (`deadline` on `time.monotonic`).

    Keras Tuner checks nothing between batches: without this, a long trial started just before the
    time limit would run past it by its whole length. The trial ends as a shorter trial, with the
    epochs it completed and its validation score.
    """

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() >= self.deadline:
            self.stopped = True
            self.model.stop_training = True


class FitTimer(keras.callbacks.Callback):
    """Seconds spent inside `model.fit`, so that a trial's time can be split into training and everything around
    it (building, data, reporting).

    A space's `fit` times its whole call to `model.fit` (`timing`): Keras' own work before the first callback and
    after the last (its data adapter; EarlyStopping restoring the best weights) is inside `model.fit` too, and a
    callback cannot see it. A `fit` that does not use `timing` is timed from this callback's `on_train_begin` to
    its `on_train_end`. Keras Tuner deep-copies a trial's callbacks before each execution; this one is shared
    instead, so the tuner that added it reads the time back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self._began: float | None = None
        self._timing = False

    def __deepcopy__(self, memo: dict) -> FitTimer:
        return self

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Time the block (a call to `model.fit`); the callback's own hooks count nothing meanwhile."""
        self._timing, began = True, time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - began
            self._timing = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self._timing:
            self._began = time.perf_counter()

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self._timing and self._began is not None:
            self.seconds += time.perf_counter() - self._began
        self._began = None


def fit_timing(callbacks: list) -> AbstractContextManager:
    """The `timing` of the `FitTimer` among `callbacks` (a trial's), or a block that times nothing."""
    timer = next((c for c in callbacks if isinstance(c, FitTimer)), None)
    return timer.timing() if timer is not None else nullcontext()


class TimeBudgetSchedule(keras.callbacks.Callback):
    """A one-cycle learning rate on the clock: up linearly to `peak` over the first `warmup` share of
    `seconds`, then down linearly to zero as the time runs out, when training stops.

    A schedule over steps would need the number of steps that fit the time, which depends on how busy
    the machine is; one over time always ends annealed when the budget does.
    """

    def __init__(self, seconds: float, peak: float, warmup: float = 0.15, floor: float = 0.01) -> None:
        super().__init__()
        self.seconds = seconds
        self.peak = peak
        self.warmup = warmup
        self.floor = floor  # a share of the peak: the first and last steps still learn
        self.started = math.nan

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate.assign(self.rate(time.monotonic() - self.started))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.started >= self.seconds:
            self.model.stop_training = True

    def rate(self, elapsed: float) -> float:
        share = share_of(elapsed, self.seconds)
        if share < self.warmup:
            scale = share / self.warmup
        else:
            scale = (1.0 - share) / (1.0 - self.warmup)
        return self.peak * max(scale, self.floor)


class Lookahead(keras.callbacks.Callback):
    """airbench's Lookahead: every `every` steps, an average of the weights takes a step towards the network's
    (decay d: average = d x average + (1 - d) x weights), and the network goes back to the average. `d` grows
    as the cube of the share of `seconds` gone, up to `top`: early training runs free, the end is averaged over
    its last steps. At the end the network keeps the average. Every float weight is averaged, batch
    normalization's moving statistics too, as airbench averages its whole state.

    On the clock, as `TimeBudgetSchedule` is: the schedule needs no count of the steps that fit the time.
    """

    def __init__(self, seconds: float, every: int = 5, top: float = 0.95 ** 5) -> None:
        super().__init__()
        self.seconds = seconds
        self.every = every
        self.top = top
        self.started = math.nan
        self.average: list = []
        self.steps = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()
        self.average = [keras.Variable(w, trainable=False) for w in self._weights()]
        self.steps = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            self.step(self.top * share_of(time.monotonic() - self.started, self.seconds) ** 3)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.step(1.0)

    def step(self, decay: float) -> None:
        for average, weight in zip(self.average, self._weights(), strict=True):
            average.assign(decay * average + (1.0 - decay) * weight)
            weight.assign(average)

    def _weights(self) -> list:
        return [w for w in self.model.weights if "float" in str(w.dtype)]


def share_of(elapsed: float, seconds: float) -> float:
    """The share of a budget of `seconds` that `elapsed` is, within 0 and 1: where a schedule on the clock stands."""
    return min(max(elapsed / seconds, 0.0), 1.0)
