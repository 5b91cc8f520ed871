"""Register automl's saved layers with Keras as soon as Keras is loaded, so that after ``import automl`` a plain
``keras.models.load_model(path)`` reads any model automl saved, in whichever order the two are imported.

`import automl` must not wait for TensorFlow (`automl --help` answers in a fraction of a second), so the layers
cannot be imported with it. Instead: if Keras is already loaded, they are registered at once; otherwise a finder
on `sys.meta_path` waits for Keras' own import to finish and registers them then (what `wrapt`'s post-import hooks
do, in the twenty lines this one case needs).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

REGISTERED = "automl.hypermodels.registered"


def register_saved_layers() -> None:
    """Import every module that registers a layer automl saves (`automl.hypermodels.registered`)."""
    importlib.import_module(REGISTERED)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``keras`` is first imported, wraps its loader so that automl's layers are
    registered right after Keras has finished loading. TensorFlow asks for Keras' spec without importing it
    (`importlib.util.find_spec("keras")`), so the finder stays until Keras really runs."""

    def __init__(self) -> None:
        self._looking = False

    def find_spec(self, name, path=None, target=None):
        if name != "keras" or self._looking:
            return None
        self._looking = True  # the lookup below must not come back here
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._looking = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            register_saved_layers()

        spec.loader.exec_module = exec_then_register
        return spec


def register_when_keras_loads() -> None:
    """Register automl's layers now if Keras is loaded, else right after it is."""
    if "keras" in sys.modules:
        register_saved_layers()
    elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
