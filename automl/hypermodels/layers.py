"""The preprocessing layers automl adds to Keras', registered so that `.keras` files load with ``safe_mode=True``."""
from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="automl")
class FillMissing(layers.Layer):
    """Missing numbers (NaN) become the training mean, i.e. 0 after Normalization."""

    def call(self, inputs):
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)


@keras.saving.register_keras_serializable(package="automl")
class MissingIndicator(layers.Layer):
    """1.0 where a number is missing (NaN), else 0.0: the model can learn that a blank means something."""

    def call(self, inputs):
        return ops.cast(ops.isnan(inputs), self.compute_dtype)
