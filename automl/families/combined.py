"""The combined family: a table whose columns hold image file paths beside numbers, categories and text, read by one
network over all of them (and, in the same search, by the table alone and the images alone, to compare).

It reads a CSV as the MLP family does, plus its image columns (``data.images``): the paths are checked row by row
and the images decoded once, at the training side, when the data is loaded (`automl.data.image_columns`); the
model's input of an image column is those uint8 pixels, resized inside to what its encoder takes, so the saved
model takes images of any size. Its space is `CombinedHyperModel`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from automl.data import image_folder
from automl.data.image_columns import checked_rows, resolved
from automl.data.image_folder import DecodedImages
from automl.data.inference import OwnData
from automl.data.schema import Data, Schema
from automl.data.tabular import read_csv
from automl.data.whitening import SAMPLE as WHITENING_SAMPLE
from automl.data.whitening import patch_whitening
from automl.errors import AutomlError
from automl.families.base import PredictInputs, ServingInput
from automl.families.mlp import MLPFamily
from automl.hypermodels import weights
from automl.hypermodels.combined import ENCODERS, CombinedHyperModel, start_for
from automl.hypermodels.image_inputs import VALIDATION_BATCH
from automl.hypermodels.pretrained import PRETRAINED
from automl.track.sections import Track

BAD_IMAGES = ("error", "drop")


class CombinedFamily(MLPFamily):
    name = "combined"
    space = CombinedHyperModel
    reads_images = True
    refits = False  # a refit would decode and train the images again on training + validation: not on this clock
    trains_on_the_clock = False
    summary = "a table with columns of image files: one network over its columns and images"
    settings_notes = {"image_encoder": "how images are read: cnn (from scratch) or backbone (pretrained)",
                      "backbones": "pretrained networks whose ImageNet weights were found (docs/backbones.md)",
                      "start": "The search's first trials: the table's and the images' known-good networks "
                               "(automl/hypermodels/combined.py, start_for), over the table alone, the table and "
                               "images joined, and the images alone. Hyperband then draws from the whole space."}

    def __init__(self) -> None:
        self.decoded = DecodedImages()  # each image decoded once per process, however often its split is asked for

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """A table with image columns; its images read by a pretrained backbone when some backbone's weights are
        found here, else by a CNN trained from scratch; the search opens with the known-good parts (`start_for`)."""
        if data.kind not in self.data_kinds or data.task not in self.tasks or not data.images:
            return None
        try:
            settings = {"image_encoder": "backbone", "backbones": list(weights.available(PRETRAINED))}
        except AutomlError:
            settings = {"image_encoder": "cnn"}
        return {**settings, "start": start_for(data.task, settings["image_encoder"], bool(data.numeric))}

    def check(self, track: Track) -> None:
        super().check(track)
        where, model = track.source, track.model
        if not track.data.images:
            raise AutomlError(f"{where}: family \"combined\" reads a table with columns of image files; list them in "
                              "'data.images' (e.g. images = [\"photo\"]), or use family = \"mlp\" for a table")
        if track.data.bad_images not in BAD_IMAGES:
            raise AutomlError(f"{where}: 'data.bad_images' is {track.data.bad_images!r}; use one of: "
                              f"{', '.join(BAD_IMAGES)}")
        if model.image_encoder not in ENCODERS:
            raise AutomlError(f"{where}: 'model.image_encoder' is {model.image_encoder!r}; use one of: "
                              f"{', '.join(ENCODERS)}")
        if model.image_encoder == "backbone":
            try:
                weights.check_names(model.backbones)
            except AutomlError as error:
                raise AutomlError(f"{where}: 'model.backbones': {error}") from None
        if model.image_size and model.image_size < image_folder.MIN_SIZE:
            raise AutomlError(f"{where}: 'model.image_size' is {model.image_size}; use a side in pixels of "
                              f"{image_folder.MIN_SIZE} or more (e.g. 128), or 0 to choose it from the images")

    def load(self, track: Track, scratch: Path | None = None) -> Data:
        """The table split as the MLP family splits it, with its image columns' paths made absolute and every image
        decoded at the training side (`image_side`), in memory or, past `image_folder.memory_limit`, memory-mapped
        in `scratch`; bad rows stop the load, or are left out (``data.bad_images = "drop"``)."""
        path = track.data_path()
        frame = read_csv(path)
        for column in track.data.images:
            if column not in frame.columns:
                raise AutomlError(f"{path.name}: image column '{column}' not found; the columns are: "
                                  f"{', '.join(map(str, frame.columns))}")
        side = self.image_side(track, frame, path.parent)
        images = int(frame[track.data.images].notna().sum().sum())
        # Past the memory's share for images, they are decoded into memory-mapped files in the run's scratch
        # folder and trained on a batch at a time, as a folder of images is (`image_folder.load_image_folder`).
        self.decoded.spill_to(scratch if scratch is not None and image_folder.past_memory(images, side) else None)
        frame = checked_rows(frame, track.data.images, base=path.parent, size=side, decoded=self.decoded,
                             where=path.name, drop=track.data.bad_images == "drop")
        loaded = self.load_table(track, images=track.data.images, frame=frame)
        loaded.schema.image_shape = [side, side, 3]
        if track.model.image_encoder == "cnn":  # the CNN's first layer, from the training images (as a folder's)
            first = loaded.schema.images[0]
            loaded.schema.whitening = patch_whitening(self.decoded.pixels(
                loaded.train.x[first].tolist()[:WHITENING_SAMPLE], side), seed=track.split.seed)
        return loaded

    def image_side(self, track: Track, frame: pd.DataFrame, base: Path) -> int:
        """``model.image_size``, else what the images and the time limit afford
        (`automl.data.image_folder.default_image_size`), at least a backbone's smallest input."""
        if track.model.image_size:
            return track.model.image_size
        files = [Path(p) for column in track.data.images for p in resolved(frame[column], base).dropna()]
        train = int(len(frame) * (1.0 - track.split.test - track.split.validation))
        side = image_folder.default_image_size(image_folder.image_sizes(files), train, track.time_limit_seconds)[0]
        if track.model.image_encoder == "backbone":
            side = max(side, min(s for name in track.model.backbones or PRETRAINED for s in PRETRAINED[name].sizes))
        return side

    def space_options(self, track: Track) -> dict[str, Any]:
        found = weights.available(track.model.backbones or PRETRAINED) if track.model.image_encoder == "backbone" \
            else None
        return {**super().space_options(track), "image_encoder": track.model.image_encoder, "weights": found}

    def model_inputs(self, raw: Any, schema: Schema) -> dict:
        """The MLP's inputs, and each image column's images (paths relative to the working folder, or absolute)."""
        inputs = super().model_inputs(raw, schema)
        side = schema.image_shape[0]
        frame = checked_rows(raw[schema.images], schema.images, base=None, size=side, decoded=self.decoded,
                             where="predict", row_name="row", training=False)
        for column in schema.images:
            inputs[column] = self.decoded.pixels(frame[column].tolist(), side)
        return inputs

    def pictures(self, raw: pd.DataFrame, indices: Any, schema: Schema) -> np.ndarray:
        """The first image column's images of the rows at `indices`, as the model saw them (the report's worst
        mistakes)."""
        files = raw[schema.images[0]].iloc[np.asarray(indices, dtype="int64")].tolist()
        return self.decoded.pixels(files, schema.image_shape[0])

    def dataset(self, inputs: dict, batch_size: int | None = None) -> tf.data.Dataset:
        """The MLP's pipeline, in batches of at most `VALIDATION_BATCH` rows: a batch of rows is a batch of images
        through a CNN, whose activations grow with it (the permutation importance's 8,192 rows a batch took the
        clothing table's report to 12.6 GiB at 64x64; 256 keep it under 2 GiB)."""
        return super().dataset(inputs, min(batch_size or VALIDATION_BATCH, VALIDATION_BATCH))

    def read_inputs(self, paths: list[Path], schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> PredictInputs:
        """The rows of one CSV, as the MLP family reads them, with the image paths taken from the CSV's folder."""
        read = super().read_inputs(paths, schema, track_name=track_name, id_column=id_column)
        read.raw = checked_rows(read.raw, schema.images, base=paths[0].parent, size=schema.image_shape[0],
                                decoded=self.decoded, where=paths[0].name, training=False)
        return read

    def describe_data(self, track: Track, schema: Schema) -> str:
        side = schema.image_shape[0]
        return (f"{super().describe_data(track, schema)}; images from column {', '.join(schema.images)} at "
                f"{side}x{side}")

    def signature(self, schema: Schema) -> str:
        side = schema.image_shape[0]
        images = ", ".join(f"{c} string (batch,): encoded image bytes (JPEG, PNG, BMP or GIF), decoded and resized "
                           f"to {side}x{side} inside" for c in schema.images)
        return f"{super().signature(schema)}; and {images}"

    def serving_input(self, schema: Schema) -> ServingInput:
        """The raw columns as the model takes them, and each image column's encoded bytes, decoded inside as
        training did (`decode_image`)."""
        side = schema.image_shape[0]
        dtypes = {**{c: tf.float32 for c in schema.numeric}, **{c: tf.string for c in schema.text},
                  **{c: tf.int64 if s["dtype"] == "int" else tf.string for c, s in schema.categorical.items()}}
        specs = {c: tf.TensorSpec((None, 1), dtype, name=c) for c, dtype in dtypes.items()}
        specs.update({c: tf.TensorSpec((None,), tf.string, name=c) for c in schema.images})

        def prepare(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            decode = lambda one: image_folder.decode_image(one, side)  # noqa: E731
            return {**inputs, **{c: tf.map_fn(decode, inputs[c], fn_output_signature=tf.TensorSpec(
                (side, side, 3), tf.uint8)) for c in schema.images}}

        return ServingInput(specs, prepare)


FAMILY = CombinedFamily()
