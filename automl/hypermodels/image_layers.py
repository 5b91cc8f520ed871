"""The fast-training recipe's pieces for image networks, registered so that `.keras` files load with
``safe_mode=True``: a fixed patch-whitening first layer, the horizontal-flip average of test-time
augmentation, and cross-entropy on smoothed labels for integer class labels.

What each is for, after airbench (Keller Jordan, github KellerJordan/cifar10-airbench) and Page's ResNet-9:
whitening lets the first blocks start from decorrelated edges and colours; label smoothing keeps the
network from chasing certainty on the training images; the flip average scores each image and its mirror
image, for a fraction of a point of accuracy at twice the inference cost (which the choice rule weighs).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from automl.data.whitening import PATCH


@keras.saving.register_keras_serializable(package="automl")
class PatchWhitening(layers.Layer):
    """A 2x2 convolution ("valid") fixed to the whitening of the training images' patches
    (`automl.data.whitening.patch_whitening`), in both signs: 2 * patch * channels outputs, decorrelated and
    of unit variance on the training split. The kernel is frozen; the bias starts at minus the mean patch's
    projection and is learned. Takes images scaled to 0-1, as the statistics were.
    """

    def __init__(self, kernel: list[list[float]], mean: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.whitening_kernel = [list(map(float, row)) for row in kernel]
        self.patch_mean = list(map(float, mean))

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        directions = np.asarray(self.whitening_kernel, dtype="float32")
        if directions.shape[0] != PATCH * PATCH * channels:
            raise ValueError(f"a whitening of {directions.shape[0]} patch values does not fit {channels} channels")
        both = np.concatenate([directions, -directions], axis=1)
        self.kernel = self.add_weight(name="kernel", shape=(PATCH, PATCH, channels, both.shape[1]),
                                      initializer="zeros", trainable=False)
        self.kernel.assign(both.reshape(PATCH, PATCH, channels, both.shape[1]))
        self.bias = self.add_weight(name="bias", shape=(both.shape[1],), initializer="zeros")
        self.bias.assign(-np.asarray(self.patch_mean, dtype="float32") @ both)

    def call(self, inputs):
        kernel, bias = ops.cast(self.kernel, inputs.dtype), ops.cast(self.bias, inputs.dtype)
        return ops.conv(inputs, kernel, padding="valid") + bias

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        shrink = lambda d: None if d is None else d - PATCH + 1  # noqa: E731
        return batch, shrink(height), shrink(width), 2 * PATCH * PATCH * channels

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel": self.whitening_kernel, "mean": self.patch_mean}


@keras.saving.register_keras_serializable(package="automl")
class FlipAverage(layers.Wrapper):
    """Test-time augmentation: outside training, the mean of the wrapped network's outputs on the images and
    on their horizontal mirror images; in training, the network on the images alone (augmentation already
    flips them at random), so that training costs what it did.
    """

    def call(self, inputs, training=None):
        if training:
            return self.layer(inputs, training=True)
        mirrored = ops.flip(inputs, axis=-2)  # (batch, height, width, channels): width is the axis before last
        return (self.layer(inputs, training=False) + self.layer(mirrored, training=False)) / 2.0

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="automl")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy on integer labels with label smoothing: the true class's target is
    1 - smoothing + smoothing / classes, every other class's smoothing / classes. Keras' sparse
    cross-entropy has no smoothing, and one-hot labels would change every metric's inputs.
    """

    def __init__(self, smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "smoothing": self.smoothing}
