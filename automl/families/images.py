"""What every image family shares: the data it reads (CIFAR-10, an npz of arrays, a folder of image files) and how
images reach its models.

The families differ in their search space (a CNN from scratch, a pretrained backbone, an MLP on pixels); the
data, the checks on raw images, the predict input and the serving signature are the same for all of them, so
a search may span several (``family = ["cnn", "backbone"]``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from automl.data import image_folder, images
from automl.data.schema import Data, Schema
from automl.errors import AutomlError
from automl.families.base import Family, PredictInputs, ServingInput
from automl.hypermodels.image_inputs import VALIDATION_BATCH, image_dataset
from automl.track.sections import Track


class ImageFamily(Family):
    """A family of networks over uint8 images (N, height, width, 3), for multiclass tasks."""

    data_kinds = ("cifar10", "npz", "image_dir")
    tasks = ("multiclass",)

    def check(self, track: Track) -> None:
        super().check(track)
        if track.data.kind in ("npz", "image_dir") and not track.data.path:
            raise AutomlError(f"{track.source}: missing required key 'data.path' for an {track.data.kind} track")
        if track.data.kind == "image_dir":
            image_folder_of(track)  # must exist
        if track.model.images_per_epoch < 0:
            raise AutomlError(f"{track.source}: 'model.images_per_epoch' is {track.model.images_per_epoch}; "
                              "use a positive number of images, or 0 for one full pass")
        if track.model.image_size and track.model.image_size < image_folder.MIN_SIZE:
            raise AutomlError(f"{track.source}: 'model.image_size' is {track.model.image_size}; use a side in pixels "
                              f"of {image_folder.MIN_SIZE} or more (e.g. 128), or 0 to choose it from the images")

    def load(self, track: Track, scratch: Path | None = None) -> Data:
        """CIFAR-10 (a given file, the imported copy, or Keras' download) or the track's own npz, whose test
        images stay as given and whose validation is split off the training images; or a folder of image
        files, split three ways (`automl.data.image_folder`), decoded into `scratch` when too large for memory."""
        if track.data.kind == "image_dir":
            split = track.split
            # The cache's files are unlinked once mapped, so only the disk they use matters.
            return image_folder.load_image_folder(
                image_folder_of(track), size=image_size(track), validation=split.validation, test=split.test,
                seed=split.seed, cache_dir=scratch)
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

    def read_inputs(self, paths: list[Path], schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> PredictInputs:
        """Image files and folders (an image_dir track), or the uint8 images of a .npy file or an .npz's x_test."""
        if id_column is not None:
            raise AutomlError("--id names a column of a CSV; an image track's predictions come "
                              "in the order of its images")
        if schema.kind == "image_files":
            return _read_image_files(paths, schema)
        if len(paths) != 1:
            raise AutomlError(f"track '{track_name}' predicts the images of one .npy or .npz file; got {len(paths)}")
        path = paths[0]
        try:
            arrays = np.load(path, allow_pickle=False)
            if not isinstance(arrays, np.ndarray):  # an .npz archive
                with arrays as archive:
                    arrays = archive["x_test"] if "x_test" in archive.files else archive[archive.files[0]]
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise AutomlError(f"cannot read images from {path} ({error}); give a .npy array of uint8 images "
                              "or an .npz with x_test") from None
        return PredictInputs(images.image_inputs(arrays, schema))

    def pictures(self, raw: np.ndarray, indices: Any, schema: Schema) -> np.ndarray:
        return raw[np.asarray(indices, dtype="int64")]

    def describe_data(self, track: Track, schema: Schema) -> str:
        source = track.data.path or track.data.kind
        shape = "x".join(map(str, schema.image_shape))
        if schema.kind == "image_files":
            side = schema.image_shape[0]
            return f"data: {source}, {len(schema.classes)} classes, {_files_in(track)} resized to {side}x{side}"
        return f"data: {source}, {shape} uint8 images in {len(schema.classes)} classes"

    def signature(self, schema: Schema) -> str:
        if schema.kind == "image_files":
            side = schema.image_shape[0]
            return ("takes 'image': encoded image bytes (JPEG, PNG, BMP or GIF), string (batch,); decoded and "
                    f"resized to {side}x{side} inside")
        return f"takes 'image': uint8 (batch, {', '.join(map(str, schema.image_shape))})"

    def serving_input(self, schema: Schema) -> ServingInput | None:
        """Image files: the SavedModel takes their bytes and decodes them as training did (`decode_image`)."""
        if schema.kind != "image_files":
            return None
        side = schema.image_shape[0]

        def prepare(contents: tf.Tensor) -> tf.Tensor:
            return tf.map_fn(lambda one: image_folder.decode_image(one, side), contents,
                             fn_output_signature=tf.TensorSpec((side, side, 3), tf.uint8))

        return ServingInput(tf.TensorSpec((None,), tf.string, name="image"), prepare)


def image_folder_of(track: Track) -> Path:
    """The track's folder of images (``data.path``, relative to the track file), which must exist."""
    folder = Path(track.data.path).expanduser()
    folder = folder if folder.is_absolute() else track.source.parent / folder
    if not folder.is_dir():
        raise AutomlError(f"track '{track.name}': image folder '{track.data.path}' not found (looked in {folder}); "
                          "fix data.path in the track file")
    return folder


def image_size(track: Track) -> int:
    """The side the track's images are resized to: ``model.image_size``, else chosen from the images and the
    time limit (`automl.data.image_folder.default_image_size`)."""
    if track.model.image_size:
        return track.model.image_size
    return image_folder.choose_size(image_folder.list_folder(image_folder_of(track)), validation=track.split.validation,
                                    test=track.split.test, seed=track.split.seed,
                                    seconds=track.time_limit_seconds)[0]


def _files_in(track: Track) -> str:
    """'3,068 JPEG/PNG images', as the folder holds now ('images' where it cannot be listed)."""
    try:
        folder = image_folder.list_folder(image_folder_of(track))
    except AutomlError:
        return "images"
    kinds = sorted({p.suffix.lower().lstrip(".").replace("jpg", "jpeg").upper() for p in folder.paths})
    return f"{len(folder.paths):,} {'/'.join(kinds)} images"


def _read_image_files(paths: list[Path], schema: Schema) -> PredictInputs:
    """Image files, and the images in folders (recursively), decoded as training did; a file column first."""
    files, notes = image_folder.files_to_predict(paths)
    decoded, bad = image_folder.read_images(files, schema.image_shape[0])
    if bad:
        shown = ", ".join(str(files[i]) for i in bad[:image_folder.SHOWN_EXAMPLES])
        raise AutomlError(f"cannot decode {len(bad)} of {len(files)} images ({shown}); remove them or give "
                          "JPEG, PNG, BMP or GIF files")
    return PredictInputs(decoded, notes, {"file": [str(f) for f in files]})
