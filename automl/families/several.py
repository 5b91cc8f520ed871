"""Several families searched as one (``family = ["cnn", "backbone"]``): one data side, a space over all of theirs.

The families of one search read the same data the same way (the image families share `ImageFamily`), so
the data side — loading, raw inputs, predict input, serving signature — is the first family's; the search
space is `SeveralSpaces`, and the report compares the best trial of each family.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.data.schema import Data, Schema
from automl.errors import AutomlError
from automl.families.base import Family, PredictInputs, ServingInput
from automl.hypermodels.several import FAMILY, SeveralSpaces, main_of, plain_values
from automl.track.sections import Track

# The methods that read and describe data: a search over several families needs them to be one and the same.
DATA_SIDE = ("load", "model_inputs", "dataset", "read_inputs", "describe_data", "signature", "serving_input")


class SeveralFamilies(Family):
    """`families` searched together; the data side is theirs in common, the space the union of theirs."""

    def __init__(self, families: tuple[Family, ...]) -> None:
        self.families = families
        self.first = families[0]
        self.name = "+".join(f.name for f in families)  # type: ignore[misc]
        self.data_kinds = tuple(k for k in self.first.data_kinds if all(k in f.data_kinds for f in families))
        self.tasks = tuple(t for t in self.first.tasks if all(t in f.tasks for f in families))
        self.trains_on_the_clock = any(f.trains_on_the_clock for f in families)  # type: ignore[misc]

    def check(self, track: Track) -> None:
        names = [f.name for f in self.families]
        if len(set(names)) != len(names):
            raise AutomlError(f"{track.source}: 'family' names {sorted({n for n in names if names.count(n) > 1})} "
                              "twice; name each family once")
        for family in self.families:
            family.check(track)
            different = [m for m in DATA_SIDE if getattr(type(family), m) is not getattr(type(self.first), m)]
            if different:
                raise AutomlError(f"{track.source}: families \"{self.first.name}\" and \"{family.name}\" read their "
                                  "data differently, so one search cannot span both; search them as two tracks")

    def hypermodel(self, track: Track, schema: Schema) -> SeveralSpaces:
        return SeveralSpaces({f.name: f.hypermodel(track, schema) for f in self.families})

    @property
    def main_hyperparameters(self) -> tuple[str, ...]:
        return main_of(self.families)

    @property
    def compared_by(self) -> str:
        return FAMILY

    @property
    def chosen_only_when_best(self) -> tuple[str, ...]:
        return ()

    @property
    def techniques(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys(t for family in self.families for t in family.techniques))

    def active_hyperparameters(self, values: dict[str, Any]) -> dict[str, Any]:
        return plain_values(values, {f.name: f for f in self.families})

    def load(self, track: Track, scratch: Path | None = None) -> Data:
        return self.first.load(track, scratch)

    def model_inputs(self, raw: Any, schema: Schema) -> Any:
        return self.first.model_inputs(raw, schema)

    def dataset(self, inputs: Any, batch_size: int | None = None):
        return self.first.dataset(inputs, batch_size)

    def read_inputs(self, paths: list[Path], schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> PredictInputs:
        return self.first.read_inputs(paths, schema, track_name=track_name, id_column=id_column)

    def columns(self, schema: Schema) -> list[str]:
        return self.first.columns(schema)

    def pictures(self, raw: Any, indices: Any, schema: Schema) -> Any:
        return self.first.pictures(raw, indices, schema)

    def describe_data(self, track: Track, schema: Schema) -> str:
        return self.first.describe_data(track, schema)

    def signature(self, schema: Schema) -> str:
        return self.first.signature(schema)

    def serving_input(self, schema: Schema) -> ServingInput | None:
        return self.first.serving_input(schema)
