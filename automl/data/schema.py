"""What a model takes, and a dataset split three ways: shared by every kind of data."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

TASKS = ("regression", "binary", "multiclass")


@dataclass
class Schema:
    """What the model needs to know about its inputs, learned on the training split only.

    Saved as JSON beside the search so the model can be rebuilt without reloading the data.
    """

    task: str
    target: str
    numeric: dict[str, dict[str, float]] = field(default_factory=dict)
    categorical: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Free-text columns: their lengths (`automl.data.text.describe_text`) and the vocabularies learned on
    # the training split (`automl.hypermodels.text_inputs.learn_vocabularies`); raw strings go in.
    text: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Columns of image file paths: each row's image enters the model as uint8 pixels (`automl.data.image_columns`).
    images: list[str] = field(default_factory=list)
    # Numeric columns with blanks in the training split: the model also sees a 0/1 "was missing" flag.
    missing_indicators: list[str] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    target_transform: str = "standardize"
    # "table" (columns above) or "images" (uint8 arrays of `image_shape`); schema.json files written
    # before images existed have neither key and load as tables.
    kind: str = "table"
    image_shape: list[int] = field(default_factory=list)
    # Images: the 2x2 patch whitening of the training split (`automl.data.whitening`), for a fixed first layer.
    whitening: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.text, *self.images]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Schema:
        return cls(**values)


@dataclass
class Split:
    """The raw inputs of one split (a DataFrame of columns, or a uint8 array of images) and the encoded target."""

    x: Any
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Data:
    """A dataset split with a fixed seed: the schema learned on `train`, and the three splits."""

    schema: Schema
    train: Split
    validation: Split
    test: Split
