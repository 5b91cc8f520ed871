"""The MLP family: tables of raw columns (a CSV), a multi-layer perceptron with its preprocessing inside."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import tensorflow as tf

from automl.data.inference import OwnData
from automl.data.schema import Data, Schema
from automl.data.tabular import load_tabular, model_inputs, read_csv
from automl.errors import AutomlError
from automl.families.base import Family, PredictInputs
from automl.hypermodels.layers import serving_name
from automl.hypermodels.mlp import MLPHyperModel, start_for, to_dataset
from automl.hypermodels.text_inputs import learn_vocabularies
from automl.track.sections import Track

PREDICT_BATCH = 1024


class MLPFamily(Family):
    name = "mlp"
    data_kinds = ("csv",)
    space = MLPHyperModel
    refits = True
    trains_on_the_clock = True  # MLPHyperModel.fit_final: a track may keep a share of its time for a final fit

    reads_images = False  # columns of image paths (data.images): the combined family's

    def check(self, track: Track) -> None:
        super().check(track)
        for key in ("path", "target"):
            if not track.data[key]:
                raise AutomlError(f"{track.source}: missing required key 'data.{key}' for a csv track")
        if track.data.images and not self.reads_images:
            raise AutomlError(f"{track.source}: family \"{self.name}\" does not read image columns "
                              f"({', '.join(track.data.images)} in data.images); use family = \"combined\"")

    summary = "a table (text columns inside)"

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """A table, unless free text is all it has to learn from (the text family's, then), or it has image columns
        (the combined family's)."""
        if super().fits(data) is None or (data.text and not (data.numeric or data.categorical)) or data.images:
            return None
        return {"start": start_for(data.task, bool(data.numeric))}

    settings_notes = {"start": "The search's first trial: a known-good network (automl/hypermodels/mlp.py, START). "
                               "Hyperband then draws from the whole space."}

    def load(self, track: Track, scratch: Path | None = None) -> Data:
        return self.load_table(track)

    def load_table(self, track: Track, **options: Any) -> Data:
        """The track's CSV read, checked and split (`load_tabular`, with `options`); vocabularies learned."""
        data = track.data
        loaded = load_tabular(
            track.data_path(), data.target, track.task, categorical=data.categorical, text=data.text,
            drop=data.drop, positive=data.positive, test=track.split.test, validation=track.split.validation,
            seed=track.split.seed, target_transform=track.model.target_transform, group=track.split.group,
            time=track.split.time, validation_path=track.own_rows("validation"), test_path=track.own_rows("test"),
            **options,
        )
        learn_vocabularies(loaded.schema, loaded.train.x)  # on the training split only
        return loaded

    def space_options(self, track: Track) -> dict[str, Any]:
        return {"max_layers": track.model.max_layers, "max_units": track.model.max_units}

    def model_inputs(self, raw: Any, schema: Schema) -> dict:
        if not isinstance(raw, pd.DataFrame):
            raise AutomlError(f"predict takes a pandas DataFrame of raw columns, got {type(raw).__name__}")
        return model_inputs(raw, schema)

    def dataset(self, inputs: dict, batch_size: int | None = None) -> tf.data.Dataset:
        return to_dataset(inputs, None, batch_size=batch_size or PREDICT_BATCH)

    def read_inputs(self, paths: list[Path], schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> PredictInputs:
        if len(paths) != 1:
            raise AutomlError(f"track '{track_name}' predicts the rows of one CSV; got {len(paths)} inputs "
                              f"({', '.join(map(str, paths))}): predict each on its own, or join them into one CSV")
        path = paths[0]
        frame = read_csv(path)
        missing = [c for c in schema.columns if c not in frame.columns]
        if missing:
            raise AutomlError(
                f"{path} is missing column {', '.join(repr(c) for c in missing)}; "
                f"the model of track '{track_name}' needs: {', '.join(schema.columns)}"
            )
        if id_column is not None and id_column not in frame.columns:
            raise AutomlError(f"--id column '{id_column}' not found in {path}; "
                              f"the columns are: {', '.join(map(str, frame.columns))}")
        used = set(schema.columns) | {id_column}
        ignored = [str(c) for c in frame.columns if c not in used]  # the target, dropped or extra columns
        notes = [f"ignoring column{'s' * (len(ignored) > 1)} the model does not use: {', '.join(ignored)}"]
        leading = {} if id_column is None else {id_column: frame[id_column].to_numpy()}
        return PredictInputs(frame, notes if ignored else [], leading)

    def columns(self, schema: Schema) -> list[str]:
        return schema.columns

    def describe_data(self, track: Track, schema: Schema) -> str:
        split = track.split
        how = (f"; split by group '{split.group}'" if split.group
               else f"; split in time order of '{split.time}' (the latest rows are the test split)" if split.time
               else "")
        own = [f"; {part}: your {part} rows ({track.data[f'{part}_path']})" for part in ("validation", "test")
               if track.data[f"{part}_path"]]
        return f"data: {track.data.path}, target {track.data.target}{how}{''.join(own)}"

    def signature(self, schema: Schema) -> str:
        kinds = {**{c: "float32" for c in schema.numeric},
                 **{c: "int64" if s["dtype"] == "int" else "string" for c, s in schema.categorical.items()},
                 **{c: "string (raw text)" for c in schema.text}}
        return "takes, each shaped (batch, 1): " + ", ".join(f"{serving_name(c)} {kind}" for c, kind in kinds.items())


FAMILY = MLPFamily()
