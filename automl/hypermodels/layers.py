"""The preprocessing layers automl adds to Keras', registered so that `.keras` files load with ``safe_mode=True``."""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from automl.data.text import MAX_TEXT_CHARS


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


@keras.saving.register_keras_serializable(package="automl")
def standardize_text(texts):
    """A text's first MAX_TEXT_CHARS characters, lowercased, punctuation made a space: for TextVectorization.

    Keras' own "lower_and_strip_punctuation" lowercases ASCII letters only ("É" stays "É") and strips ASCII
    punctuation only ("¡", "¿", "«" stay glued to words); here both follow Unicode, and accented letters
    (ação, niño) are kept as they are.
    """
    texts = tf.strings.substr(texts, 0, MAX_TEXT_CHARS, unit="UTF8_CHAR")
    texts = tf.strings.lower(texts, encoding="utf-8")
    return tf.strings.regex_replace(texts, r"\p{P}+", " ")
