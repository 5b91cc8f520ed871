"""What every image family shares: the data it reads (CIFAR-10, an npz of arrays) and how images reach its models.

The families differ in their search space (a CNN from scratch, a pretrained backbone, an MLP on pixels); the
data, the checks on raw images, the predict input and the serving signature are the same for all of them, so
a search may span several (``family = ["cnn", "backbone"]``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from automl.data import images
from automl.data.schema import Data, Schema
from automl.errors import AutomlError
from automl.families.base import Family
from automl.hypermodels.image_inputs import VALIDATION_BATCH, image_dataset
from automl.track.sections import Track


class ImageFamily(Family):
    """A family of networks over uint8 images (N, height, width, 3), for multiclass tasks."""

    data_kinds = ("cifar10", "npz")
    tasks = ("multiclass",)

    def check(self, track: Track) -> None:
        super().check(track)
        if track.data.kind == "npz" and not track.data.path:
            raise AutomlError(f"{track.source}: missing required key 'data.path' for an npz track")
        if track.model.images_per_epoch < 0:
            raise AutomlError(f"{track.source}: 'model.images_per_epoch' is {track.model.images_per_epoch}; "
                              "use a positive number of images, or 0 for one full pass")

    def load(self, track: Track) -> Data:
        """CIFAR-10 (a given file, the imported copy, or Keras' download) or the track's own npz; the test
        images stay as given, validation is split off the training images."""
        path = track.data_path() if track.data.path else None
        if track.data.kind == "cifar10":
            arrays, classes = images.cifar10_arrays(path), images.CIFAR10_CLASSES
        else:
            arrays, classes = images.read_npz(path), None
        return images.load_images(arrays, track.task, classes=classes, validation=track.split.validation,
                                  seed=track.split.seed)

    def space_options(self, track: Track) -> dict[str, Any]:
        return {"images_per_epoch": track.model.images_per_epoch}

    def model_inputs(self, raw: Any, schema: Schema) -> np.ndarray:
        return images.image_inputs(raw, schema)

    def dataset(self, inputs: np.ndarray, batch_size: int | None = None) -> tf.data.Dataset:
        return image_dataset(inputs, None, batch_size or VALIDATION_BATCH)

    def read_inputs(self, path: Path, schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> tuple[np.ndarray, list[str]]:
        """The uint8 images of a .npy file, or the x_test array of an .npz."""
        if id_column is not None:
            raise AutomlError("--id names a column of a CSV; an image track's predictions come "
                              "in the order of its images")
        try:
            arrays = np.load(path, allow_pickle=False)
            if not isinstance(arrays, np.ndarray):  # an .npz archive
                with arrays as archive:
                    arrays = archive["x_test"] if "x_test" in archive.files else archive[archive.files[0]]
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise AutomlError(f"cannot read images from {path} ({error}); give a .npy array of uint8 images "
                              "or an .npz with x_test") from None
        return images.image_inputs(arrays, schema), []

    def pictures(self, raw: np.ndarray, indices: Any) -> np.ndarray:
        return raw[np.asarray(indices, dtype="int64")]

    def describe_data(self, track: Track, schema: Schema) -> str:
        source = track.data.path or track.data.kind
        shape = "x".join(map(str, schema.image_shape))
        return f"data: {source}, {shape} uint8 images in {len(schema.classes)} classes"

    def signature(self, schema: Schema) -> str:
        return f"takes 'image': uint8 (batch, {', '.join(map(str, schema.image_shape))})"
