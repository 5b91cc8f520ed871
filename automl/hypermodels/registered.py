"""Every Keras object automl puts into a saved model, registered by importing this module.

A saved model names its layers by their registered name (``automl>WeightedMean``); Keras finds that name only
if the module defining it was imported in the loading process. The modules below are each one that defines a
registered object; `tests/test_saved_models.py` fails when a module with a ``register_keras_serializable``
is missing here, so a new layer cannot be left out (the ensemble's `WeightedMean` once was: issue 29).
"""
from automl.hypermodels import ensemble, image_layers, layers, numeric

MODULES = (ensemble, image_layers, layers, numeric)
