"""How uint8 images enter every image model: the ``image`` input, and tf.data pipelines over image arrays."""
from __future__ import annotations

import math

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from automl.data.schema import Schema
from automl.hypermodels.base import SearchSpace, fit_options

VALIDATION_BATCH = 256


def image_input(schema: Schema, size: tuple[int, int] | None = None) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's ``image`` input (uint8, named so), and the tensor a family's network starts from.

    Arrays of one size (CIFAR-10, an npz) go in as they are: (batch, height, width, 3). Images read from
    files (``schema.kind == "image_files"``) may come in any height and width: `Resizing` to the size the
    model trained on sits inside the model, so the exported file takes them as they are. With `size`
    (height, width), the network starts from images of that size instead (a pretrained backbone's input),
    resized once, from the images as they come.
    """
    height, width, channels = schema.image_shape
    size = tuple(size or (height, width))
    if schema.kind != "image_files":
        inputs = keras.Input(shape=(height, width, channels), dtype="uint8", name="image")
        return inputs, inputs if size == (height, width) else keras.layers.Resizing(*size, name="resizing")(inputs)
    inputs = keras.Input(shape=(None, None, channels), dtype="uint8", name="image")
    return inputs, keras.layers.Resizing(*size, name="resizing")(inputs)


def image_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int,
                  shuffle_seed: int | None = None, alternating_flip: bool = False) -> tf.data.Dataset:
    """uint8 images (and labels) as a tf.data pipeline; with `shuffle_seed`, an endless reshuffled stream.

    No Python loop touches an image: the arrays are sliced by tf.data, batched and prefetched
    while the model trains on the previous batch. Images memory-mapped from disk (`np.memmap`: a folder
    of images too large for memory, `automl.data.image_folder`) are read a batch at a time instead, as
    `from_tensor_slices` would copy them all into memory.

    With `alternating_flip` (and a `shuffle_seed`), airbench's flip: a random half of the images is mirrored in
    the first pass over them, the other half in the second, and so on, so that every two passes show each image
    both ways, where a coin per image and pass shows a quarter of them one way only.
    """
    if alternating_flip and shuffle_seed is not None:
        return _alternating(x, y, batch_size, shuffle_seed)
    if isinstance(x, np.memmap):
        return _streamed(x, y, batch_size, shuffle_seed)
    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _streamed(x: np.memmap, y: np.ndarray | None, batch_size: int, shuffle_seed: int | None) -> tf.data.Dataset:
    """`image_dataset` of images on disk: the positions are shuffled and batched, and each batch's images read."""
    positions = tf.data.Dataset.range(len(x))
    if shuffle_seed is not None:
        positions = positions.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
    labels = None if y is None else tf.constant(y)

    def read(batch: tf.Tensor):
        images = _rows_on_disk(x, batch)
        return images if labels is None else (images, tf.gather(labels, batch))

    return positions.batch(batch_size).map(read, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _alternating(x: np.ndarray, y: np.ndarray | None, batch_size: int, seed: int) -> tf.data.Dataset:
    """`image_dataset`'s endless stream with airbench's alternating flip: the positions are shuffled anew each
    pass and batched, each batch's images read, and an image mirrored when its own coin (drawn once) differs
    from the pass's parity."""
    count = len(x)
    first = tf.constant(np.random.default_rng(seed).integers(0, 2, count).astype(bool))
    labels = None if y is None else tf.constant(y)
    held = None if isinstance(x, np.memmap) else tf.constant(x)
    positions = tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True).repeat()

    def read(order: tf.Tensor, batch: tf.Tensor):
        images = _rows_on_disk(x, batch) if held is None else tf.gather(held, batch)
        odd_pass = tf.equal((order // count) % 2, 1)
        flip = tf.not_equal(tf.gather(first, batch), odd_pass)
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
        return images if labels is None else (images, tf.gather(labels, batch))

    batches = positions.enumerate().batch(batch_size)
    return batches.map(read, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _rows_on_disk(x: np.memmap, batch: tf.Tensor) -> tf.Tensor:
    """The images at positions `batch` of a memory-mapped array, read inside the pipeline."""
    images = tf.numpy_function(lambda chosen: x[chosen], [batch], tf.uint8, stateful=False)
    images.set_shape((None, *x.shape[1:]))
    return images


def steps_per_epoch(images: int, batch_size: int) -> int:
    return max(1, math.ceil(images / batch_size))


class ImageSpace(SearchSpace):
    """What every image family's search space shares: its epochs are `images_per_epoch` images from a shuffled,
    repeating stream of the training split (0: one full pass).

    With a fraction of the training set per epoch, Hyperband's low rungs see subsets of the data and its top
    rung several full passes.
    """

    # Whether training mirrors the images by airbench's alternating flip in the pipeline (`image_dataset`), in place
    # of a coin per image in the model's augmentation.
    alternating_flip = False

    def __init__(self, schema: Schema, objective: str, direction: str, *, batch_sizes: list[int],
                 images_per_epoch: int = 0, patience: int = 5, seed: int = 42, name: str | None = None) -> None:
        super().__init__(schema, objective, direction, batch_sizes=batch_sizes, patience=patience, seed=seed, name=name)
        self.images_per_epoch = images_per_epoch

    def training_data(self, x: np.ndarray, y: np.ndarray, batch_size: int, initial_epoch: int,
                      class_weight: dict[int, float] | None = None):
        steps = steps_per_epoch(self.images_per_epoch or len(y), batch_size)
        # A trial that continues an earlier rung's trial goes on where that one's stream stopped,
        # so it sees new images rather than the same subset again.
        train = image_dataset(x, y, batch_size, shuffle_seed=self.seed,
                              alternating_flip=self.alternating_flip).skip(initial_epoch * steps)
        return train, fit_options(class_weight, steps_per_epoch=steps)

    def validation_data(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
        return image_dataset(x, y, batch_size=VALIDATION_BATCH)

    def input_side(self, hp: kt.HyperParameters) -> int:
        """The side of the square images `image_features` takes: the training size, unless the space searches it."""
        return self.schema.image_shape[0]

    def image_features(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """Images (0-255, `input_side` square) as one vector, the network before its classifier: what a network over
        images and other inputs joins to the rest (`automl.hypermodels.combined`)."""
        raise NotImplementedError
