"""A long search stays as quick per trial at its end as at its start: TensorFlow's traces are let go."""
from __future__ import annotations

import gc
import weakref

import tensorflow as tf
from conftest import search_track

from automl.hypermodels.mlp import MLPHyperModel
from automl.tuning.housekeeping import (
    custom_gradients_registered,
    forget_trace_gradients,
    freeze_survivors,
    frozen_heap,
)


def _trace_a_custom_gradient() -> None:
    @tf.custom_gradient
    def double(x):
        return 2.0 * x, lambda dy: 2.0 * dy

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = double(x)
        return tape.gradient(y, x)

    assert float(step(tf.constant(1.0))) == 2.0  # traced in graph mode: registers a custom gradient


def test_a_trace_registers_a_custom_gradient_that_the_block_forgets():
    before = custom_gradients_registered()
    _trace_a_custom_gradient()
    assert custom_gradients_registered() == before + 1  # what TensorFlow keeps for good without automl
    with forget_trace_gradients():
        _trace_a_custom_gradient()
        _trace_a_custom_gradient()
        assert custom_gradients_registered() == before + 3
    assert custom_gradients_registered() == before + 1


def test_frozen_heap_hides_the_objects_alive_and_gives_them_back():
    with frozen_heap():
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0


def test_survivors_are_frozen_only_inside_a_frozen_heap():
    freeze_survivors()
    assert gc.get_freeze_count() == 0  # outside a search: nothing is hidden from the collector for good
    with frozen_heap():
        before = gc.get_freeze_count()
        survivor = [[] for _ in range(100)]  # lists: objects the collector tracks
        freeze_survivors()
        assert gc.get_freeze_count() >= before + 100 and survivor
    assert gc.get_freeze_count() == 0


def test_each_trial_builds_its_model_once_every_earlier_model_is_gone(tiny_track, results_dir, monkeypatch):
    """What is frozen between trials, or shared between trials (the MLP's inputs), holds no trial's model nor its
    layers: one still alive at the next trial's build would be kept until the search ends. (Keras Tuner also builds models to learn the space before the search: those are
    not the trials'.)"""
    models: list[weakref.ref] = []
    alive_at_build: list[int] = []
    build = MLPHyperModel.build

    def watched(self, hp):
        model = build(self, hp)
        if gc.get_freeze_count():  # inside the search's frozen heap: a trial's build
            alive_at_build.append(sum(ref() is not None for ref in models))
            models.append(weakref.ref(model))
            models.append(weakref.ref(model.layers[-1]))  # its output layer: a layer may outlive its model
        return model

    monkeypatch.setattr(MLPHyperModel, "build", watched)
    run = search_track(str(tiny_track), results_dir=results_dir)
    assert run.trials_after >= 3 and len(alive_at_build) == run.trials_after
    assert alive_at_build == [0] * len(alive_at_build)


def test_a_search_keeps_no_trace_of_its_trials(tiny_track, results_dir):
    """Keras' optimizer registers a custom gradient at every trace of a train step (two per trial); a
    search of several trials, then a second one in the same process, leave the registry as it was."""
    before = custom_gradients_registered()
    first = search_track(str(tiny_track), results_dir=results_dir)
    assert first.trials_after >= 3 and custom_gradients_registered() == before
    search_track(str(tiny_track), results_dir=results_dir, restart=True)
    assert custom_gradients_registered() == before and gc.get_freeze_count() == 0


def test_a_trial_s_fit_time_is_its_whole_call_to_model_fit():
    """Keras works before the first callback and after the last (EarlyStopping restores the best weights there):
    the time inside `model.fit` counts all of it, and the callback's own hooks count nothing twice."""
    import time

    import keras
    import numpy as np

    from automl.hypermodels.training import FitTimer, fit_timing

    class SlowEnd(keras.callbacks.Callback):  # work inside model.fit, after the timer's own on_train_end
        def on_train_end(self, logs=None):
            time.sleep(0.3)

    timer = FitTimer()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = (np.zeros((8, 1)), np.zeros(8))
    began = time.perf_counter()
    with fit_timing([timer, SlowEnd()]):
        model.fit(*data, epochs=1, verbose=0, callbacks=[timer, SlowEnd()])
    elapsed = time.perf_counter() - began
    assert 0.3 <= timer.seconds <= elapsed
    hooks_only = FitTimer()  # a space's fit that does not time its call: the callback's hooks do
    model.fit(*data, epochs=1, verbose=0, callbacks=[hooks_only, SlowEnd()])
    assert 0 < hooks_only.seconds < 0.3
    with fit_timing([]):  # no timer among the callbacks: nothing to time
        pass
