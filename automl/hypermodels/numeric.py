"""How numeric columns enter an MLP: standardized, or embedded (Gorishniy, Rubachev and Babenko, "On Embeddings
for Numerical Features in Tabular Deep Learning", NeurIPS 2022).

- ``normalize``: the standardized value itself (what automl did before).
- ``piecewise_linear``: each value as its position within quantile bins learned on the training split: 1 for
  the bins below it, its fraction of the bin it is in, 0 above (`PiecewiseLinearEncoding`). An MLP then fits
  a step or a kink in one layer where it needed several.
- ``periodic``: sines and cosines of the value at trainable frequencies, then a linear map and a ReLU, per
  column (`PeriodicEmbedding`, the paper's "PLR").

Both embeddings work on the standardized value with blanks already filled (0, the training mean), so a
missing value is encoded as the mean and its flag stays the separate `MissingIndicator`. Both are registered
layers whose settings are plain numbers, so `.keras` files load with ``safe_mode=True``.
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from automl.data.schema import Schema

ENCODINGS = ("normalize", "piecewise_linear", "periodic")


@keras.saving.register_keras_serializable(package="automl")
class PiecewiseLinearEncoding(layers.Layer):
    """(batch, columns) standardized values -> (batch, sum of the columns' bins) encodings.

    `edges` holds, per column, the increasing edges of its bins (at least two). Bin t of a column with
    edges b gives (x - b[t]) / (b[t+1] - b[t]), clipped to [0, 1] except below the first bin and above the
    last, which extend linearly, so values outside the training range still order.
    """

    def __init__(self, edges: list[list[float]], **kwargs):
        super().__init__(**kwargs)
        self.edges = [[float(v) for v in column] for column in edges]
        width = max(len(column) for column in self.edges) - 1
        lower, size, first, last = [], [], [], []
        for column in self.edges:
            bins = len(column) - 1
            low = np.asarray(column[:-1] + [column[-1]] * (width - bins))
            high = np.asarray(column[1:] + [column[-1] + 1.0] * (width - bins))
            lower.append(low)
            size.append(high - low)
            first.append(np.arange(width) == 0)
            last.append(np.arange(width) == bins - 1)
        self._lower = np.asarray(lower, dtype="float32")  # (columns, width); padding bins give 0
        self._size = np.asarray(size, dtype="float32")
        self._free_below = np.asarray(first)
        self._free_above = np.asarray(last)
        self._keep = np.concatenate([np.arange(width) < len(c) - 1 for c in self.edges])

    def call(self, inputs):
        fraction = (ops.expand_dims(inputs, -1) - self._lower) / self._size  # (batch, columns, width)
        encoded = ops.clip(fraction, 0.0, 1.0)
        encoded = ops.where(self._free_below & (fraction < 0), fraction, encoded)
        encoded = ops.where(self._free_above & (fraction > 1), fraction, encoded)
        flat = ops.reshape(encoded, (-1, self._lower.size))
        return ops.take(flat, np.flatnonzero(self._keep), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(self._keep.sum()))

    def get_config(self) -> dict:
        return {**super().get_config(), "edges": self.edges}


@keras.saving.register_keras_serializable(package="automl")
class PeriodicEmbedding(layers.Layer):
    """(batch, columns) standardized values -> (batch, columns * units): per column, ReLU(W [sin 2πcx, cos 2πcx])
    with `frequencies` trainable frequencies c drawn from N(0, `sigma`) and a linear map W of its own."""

    def __init__(self, frequencies: int = 16, units: int = 16, sigma: float = 0.1, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.frequencies, self.units, self.sigma, self.seed = int(frequencies), int(units), float(sigma), seed

    def build(self, input_shape):
        columns = int(input_shape[-1])
        self.frequency = self.add_weight(
            name="frequency", shape=(columns, self.frequencies),
            initializer=keras.initializers.RandomNormal(stddev=self.sigma, seed=self.seed))
        self.kernel = self.add_weight(name="kernel", shape=(columns, 2 * self.frequencies, self.units),
                                      initializer=keras.initializers.GlorotUniform(seed=self.seed))
        self.bias = self.add_weight(name="bias", shape=(columns, self.units), initializer="zeros")

    def call(self, inputs):
        angle = 2 * math.pi * ops.expand_dims(inputs, -1) * self.frequency  # (batch, columns, frequencies)
        waves = ops.concatenate([ops.sin(angle), ops.cos(angle)], axis=-1)
        out = ops.relu(ops.einsum("bcf,cfu->bcu", waves, self.kernel) + self.bias)
        return ops.reshape(out, (-1, out.shape[1] * self.units))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(input_shape[-1]) * self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "frequencies": self.frequencies, "units": self.units, "sigma": self.sigma,
                "seed": self.seed}


def standardized_edges(schema: Schema) -> list[list[float]]:
    """Each numeric column's quantile edges on the standardized scale the model sees; [-1, 1] where the training
    split gave fewer than two (a constant column, or a schema saved before quantiles were kept)."""
    edges = []
    for spec in schema.numeric.values():
        std = math.sqrt(spec["variance"])
        column = [(q - spec["mean"]) / std for q in spec.get("quantiles", [])]
        edges.append(column if len(column) >= 2 else [-1.0, 1.0])
    return edges


def encode_numbers(x, encoding: str, schema: Schema, seed: int, sigma: float = 0.1):
    """The standardized, filled numeric columns `x` (batch, columns) in the chosen `encoding`."""
    if encoding == "piecewise_linear":
        return PiecewiseLinearEncoding(standardized_edges(schema), name="piecewise_linear")(x)
    if encoding == "periodic":
        return PeriodicEmbedding(sigma=sigma, seed=seed, name="periodic")(x)
    return x
