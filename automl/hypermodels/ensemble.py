"""An ensemble of trained models as one Keras model over the same raw inputs: the weighted mean of their outputs.

What the choice stage builds from the search's best trials (`automl.selection.ensemble`): one `.keras` file and
one SavedModel, like any trial's model, that takes the rows (or images) as they come.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="automl")
class WeightedMean(layers.Layer):
    """The weighted mean of its inputs (tensors of one shape), with fixed `weights` that sum to one."""

    def __init__(self, weights: Sequence[float], **kwargs) -> None:
        super().__init__(**kwargs)
        total = float(sum(weights))
        if not weights or total <= 0 or min(weights) < 0:
            raise ValueError(f"ensemble weights must be non-negative with a positive sum, got {list(weights)}")
        self.member_weights = [float(w) / total for w in weights]

    def call(self, inputs):
        return sum(weight * member for weight, member in zip(self.member_weights, inputs, strict=True))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "weights": self.member_weights}


def ensemble_model(members: Sequence[keras.Model], weights: Sequence[float], names: Sequence[str]) -> keras.Model:
    """One model whose output is the `weights`-weighted mean of `members`' outputs, each member named by `names`.

    The members must take the same inputs (a dict of named columns, or one image tensor): the ensemble's
    inputs are made like the first member's, and every member is called on them.
    """
    if not members or len(members) != len(weights) or len(members) != len(names):
        raise ValueError("an ensemble needs as many weights and names as members, and at least one member")
    inputs = keras.tree.map_structure(
        lambda tensor: keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=tensor.name), members[0].input)
    outputs = [keras.Model(member.input, member.output, name=name)(inputs)
               for member, name in zip(members, names, strict=True)]
    mean = WeightedMean(weights, name="weighted_mean", dtype="float32")(outputs)
    return keras.Model(inputs, mean, name="ensemble")
