"""Keep trial 500 of a search as quick to start as trial 1, and a second search in the same process as the first.

Two costs grow with every trial a process has run, outside `model.fit`:

- **TensorFlow keeps every traced train step alive.** Keras' optimizer sums the gradients over the
  replicas with `ReplicaContext.all_reduce`, which wraps them in a `tf.custom_gradient`; in graph mode
  that registers a new ``CustomGradient-N`` in TensorFlow's global gradient registry at every trace,
  and the registry holds the traced graph for good (about 7,500 Python objects for a small MLP; two
  traces per trial). Nothing ever needs the gradient again once the trace is done, so each trial's
  registrations are dropped when it ends.
- **Keras Tuner calls `gc.collect()` before building each trial's model**, and a full collection
  walks every object the process holds: about 420,000 once TensorFlow is imported, 0.4 s on this
  2-core machine, before any leak. The objects alive when the search starts (modules, the data) are
  frozen out of the collector's sight for the search (`gc.freeze`), so it walks only the trial's own.

Measured on Boston (323 training rows, trials of a few seconds): time outside `model.fit` grew from
0.65 s to 2.4 s per trial over 85 trials, and started at 5.4 s in the fifth search of one process.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _gradient_registry() -> dict | None:
    """TensorFlow's registry of gradient functions (a private dictionary; None if TensorFlow moved it)."""
    try:
        from tensorflow.python.framework import ops
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        return None
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradients_registered() -> int:
    """How many ``tf.custom_gradient`` registrations TensorFlow holds (0 if its registry cannot be read)."""
    registry = _gradient_registry()
    return sum(key.startswith(CUSTOM_GRADIENT_PREFIX) for key in registry) if registry is not None else 0


@contextmanager
def forget_trace_gradients() -> Iterator[None]:
    """Drop the ``tf.custom_gradient`` registrations made inside the block once it ends (one trial)."""
    registry = _gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            for key in [k for k in registry if k.startswith(CUSTOM_GRADIENT_PREFIX) and k not in before]:
                registry.pop(key, None)


_frozen = 0  # how many `frozen_heap` blocks are open


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Hide the objects alive now from the garbage collector for the block (a search); give them back after."""
    global _frozen
    gc.collect()
    gc.freeze()
    _frozen += 1
    try:
        yield
    finally:
        _frozen -= 1
        gc.unfreeze()


def freeze_survivors() -> None:
    """Inside `frozen_heap`, hide from the collector what has just outlived a full collection, as `frozen_heap` did.

    Called after Keras Tuner's collection before a trial's build, when no model is alive: what survives is the
    search's own state (its trials' records, the cached pipelines), which every later collection would walk again.
    """
    if _frozen:
        gc.freeze()
