"""The fast-training recipe's pieces for image networks, registered so that `.keras` files load with
``safe_mode=True``: a fixed patch-whitening first layer, the test-time average over mirror images (and
1-pixel shifts), cross-entropy on smoothed labels for integer class labels, and airbench's identity
initialisation and fast-learning bias after a batch normalization whose scale is frozen at 1.

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

    With `shifts` (airbench's second level), that mean weighs one half, and the other half is the same mean
    over the images moved by one pixel up and left and by one pixel down and right (the edge reflected):
    six passes of the network per image.
    """

    def __init__(self, layer, shifts: bool = False, **kwargs) -> None:
        super().__init__(layer, **kwargs)
        self.shifts = bool(shifts)

    def call(self, inputs, training=None):
        if training:
            return self.layer(inputs, training=True)
        mirrored = self._mirrored(inputs)
        if not self.shifts:
            return mirrored
        padded = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        shifted = (self._mirrored(padded[:, :-2, :-2, :]) + self._mirrored(padded[:, 2:, 2:, :])) / 2.0
        return (mirrored + shifted) / 2.0

    def _mirrored(self, images):
        mirrored = ops.flip(images, axis=-2)  # (batch, height, width, channels): width is the axis before last
        return (self.layer(images, training=False) + self.layer(mirrored, training=False)) / 2.0

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "shifts": self.shifts}


@keras.saving.register_keras_serializable(package="automl")
class Dirac(keras.initializers.Initializer):
    """airbench's convolution kernels: PyTorch's default uniform draw (bound 1 / sqrt(fan in)), with the first
    min(in, out) filters set to the identity (each passes its own input channel through, at the kernel's
    centre), so that a deep stack starts close to passing its input on."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape, dtype=None):
        height, width, inputs, outputs = shape
        kernel = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform", seed=self.seed)(shape, dtype)
        identity = np.zeros(shape, dtype="float32")
        kept = np.ones(shape, dtype="float32")
        for channel in range(min(inputs, outputs)):
            kept[:, :, :, channel] = 0.0
            identity[height // 2, width // 2, channel, channel] = 1.0
        return kernel * ops.convert_to_tensor(kept, dtype) + ops.convert_to_tensor(identity, dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="automl")
class FastBias(layers.Layer):
    """A learned bias per channel that learns `gain`² times faster than the other weights under SGD: the layer
    adds `gain` x its weight, so the weight's gradient and each step's change to the bias both grow by `gain`.
    After a `BatchNormalization(scale=False, center=False)` it is airbench's batch normalization, whose scale is
    frozen at 1 and whose bias alone is learned, at 64 times the rate (gain 8). Decoupled weight decay shrinks the
    bias at the others' rate, as airbench's decay divided by the same 64 does."""

    def __init__(self, gain: float = 8.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gain = float(gain)

    def build(self, input_shape) -> None:
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros")

    def call(self, inputs):
        return inputs + ops.cast(self.bias * self.gain, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


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
