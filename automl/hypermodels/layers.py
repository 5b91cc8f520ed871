"""The layers automl adds to Keras', registered so that `.keras` files load with ``safe_mode=True``: missing values
inside the model, the standardization of free text, and the decision threshold a binary model carries to production."""
from __future__ import annotations

import re
import zlib

import keras
import tensorflow as tf
from keras import layers, ops

from automl.data.text import MAX_TEXT_CHARS

# What a layer's name may hold: TensorFlow makes it a name scope (letters, digits, _ . > - \\ /); Keras forbids /.
_LAYER_NAME = re.compile(r"[A-Za-z0-9_.>-]+")
# What a SavedModel signature's input may be named (TensorFlow's rule for an argument's name).
_SIGNATURE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.-]*")


def column_layer_name(column: str, suffix: str) -> str:
    """The name of a column's layer (``price_lookup``). A column named with other characters (``prix_😀``,
    ``面积``, a space) keeps its ASCII part and gains a hash of its name, so that names stay distinct."""
    name = f"{column}_{suffix}"
    if _LAYER_NAME.fullmatch(name):
        return name
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', column)}_{_crc(column)}_{suffix}"


def serving_name(column: str) -> str:
    """The name of a column's input in an exported SavedModel's signature, the key of its tensor in a request: the
    column's name where TensorFlow accepts it (letters, digits, ``_ . -``, not first ``_`` or ``-``), else its ASCII
    part and a hash of its name (``prix_😀`` → ``prix__1a2b3c4d``), so that two columns never share one."""
    if _SIGNATURE_NAME.fullmatch(column):
        return column
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', column).lstrip('_.-') or 'column'}_{_crc(column)}"


def _crc(column: str) -> str:
    return f"{zlib.crc32(column.encode('utf-8')):08x}"


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


@keras.saving.register_keras_serializable(package="automl")
class DecisionThreshold(layers.Layer):
    """The probability of the positive class, unchanged, carrying the decision threshold: say yes from `threshold` on.

    The threshold is chosen after the search (`automl.selection.threshold`) and must travel with the model to
    production; as a layer's setting it lives in the `.keras` file itself (no side file), loads in safe mode,
    and leaves the model's output, and so every caller of ``model.predict``, as it was.
    """

    def __init__(self, threshold: float, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


DECISION_THRESHOLD_LAYER = "decision_threshold"


def with_decision_threshold(model: keras.Model, threshold: float) -> keras.Model:
    """`model` (a binary classifier, one probability out) with `threshold` stored in a last `DecisionThreshold`.

    ``model.input`` keeps the inputs' structure (a dict of named columns, or one image tensor), so the wrapped
    model is called exactly as the original; its layers are the original's, not copies.
    """
    # float32 whatever the global policy: an identity layer must not cast the probability to bfloat16.
    marked = DecisionThreshold(threshold, name=DECISION_THRESHOLD_LAYER, dtype="float32")(model.outputs[0])
    return keras.Model(model.input, marked, name=model.name)


def decision_threshold_of(model: keras.Model) -> float | None:
    """The decision threshold stored in `model`, or None: not binary, or saved before thresholds were stored."""
    for layer in model.layers:
        if isinstance(layer, DecisionThreshold):
            return layer.threshold
    return None
