"""MLPHyperModel: the search space for tables, with the preprocessing inside the model."""
from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf
from keras import layers

from automl.data.schema import Schema
from automl.hypermodels.base import SearchSpace
from automl.hypermodels.layers import FillMissing, MissingIndicator, column_layer_name
from automl.hypermodels.numeric import ENCODINGS, encode_numbers
from automl.hypermodels.text_inputs import bag_of_words
from automl.hypermodels.training import FINAL_FIT_MAX_EPOCHS, OPTIMIZERS, TimeBudgetSchedule, make_optimizer

REGRESSION_LOSSES = {  # name -> the Keras loss, given the target's scale (its standard deviation)
    "mse": lambda scale: "mean_squared_error",
    "mae": lambda scale: "mean_absolute_error",
    "huber": lambda scale: keras.losses.Huber(delta=scale),
}
# A log target (model.target_transform = "log"): the squared error of the logs, or the error in the target's own
# units, where the track's objective (val_mae) measures it; its scale is then the geometric mean of the target.
LOG_TARGET_LOSSES = {"msle": lambda scale: "mean_squared_logarithmic_error", **{
    name: REGRESSION_LOSSES[name] for name in ("mae", "huber")}}
EMBEDDING_THRESHOLD = 12  # categories with more values than this may be embedded instead of one-hot
# A text column inside a table: TF-IDF over its 5,000 commonest words and word pairs. The text family
# (hypermodels/text.py) searches the encoding and its size; a table's MLP keeps one, fast and strong.
TABLE_TEXT_TOKENS = 5_000


# The first trial of a search of your own table (``model.start``, written into the track by `automl search --csv`):
# the used-cars recipe (tracks/used_cars.toml: numeric columns piecewise-linear on quantile bins, categories
# one-hot, 3 ReLU layers with batch normalization, AdamW, L2 1e-4, the absolute error for a val_mae objective) at
# 256 units a layer, for tables smaller than its 60,000 rows. Hyperband then draws from the whole space.
START = {"num_layers": 3, "units_0": 256, "units_1": 256, "units_2": 256, "numeric_encoding": "piecewise_linear",
         "activation": "relu", "batch_norm": True, "dropout": 0.0, "l1": 0.0, "l2": 1e-4, "optimizer": "adamw",
         "learning_rate": 2e-3}


def start_for(task: str, numeric: bool = True) -> dict[str, Any]:
    """`START` for a table of `task`: regression adds its loss, the absolute error (the objective is val_mae); a table
    without `numeric` columns has no numeric encoding to set."""
    start = {key: value for key, value in START.items() if numeric or key != "numeric_encoding"}
    return {**start, "loss": "mae"} if task == "regression" else start


class MLPHyperModel(SearchSpace):
    """A multi-layer perceptron over raw table columns, for regression, binary and multiclass tasks.

    The model takes one named input per column (numbers as float32, categories as strings or
    integers) and carries its preprocessing: Normalization with the training statistics, missing
    values filled (plus a 0/1 missing flag for columns that had blanks in training), categories looked
    up (unseen ones go to an out-of-vocabulary slot) and one-hot encoded or embedded, free text (raw
    strings) as TF-IDF of its words and word pairs (`text_features`). For regression the
    target is standardized for training and the scaling is undone inside the model, so predictions come
    out in the target's units.

    Parameters
    ----------
    Those of `SearchSpace` (the schema gives the columns, their statistics and vocabularies), and:

    max_layers, max_units : int
        The deepest and the widest network the space holds.

    Examples
    --------
    >>> hypermodel = MLPHyperModel(schema, objective="val_mae", direction="min")
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    """

    main_hyperparameters = ("num_layers", "units_0", "numeric_encoding", "loss", "dropout", "activation", "batch_norm",
                            "l2")
    techniques = (("numeric_encoding", "numeric features"), ("categorical_encoding", "categories"), ("loss", "loss"))

    def __init__(
        self,
        schema: Schema,
        objective: str,
        direction: str,
        *,
        batch_sizes: list[int] = (32, 64, 128, 256),
        max_layers: int = 4,
        max_units: int = 512,
        patience: int = 8,
        seed: int = 42,
        name: str = "mlp",
    ) -> None:
        super().__init__(schema, objective, direction, batch_sizes=batch_sizes, patience=patience, seed=seed, name=name)
        self.max_layers = max_layers
        self.max_units = max_units
        self._datasets: dict[tuple, tuple[dict, np.ndarray, tf.data.Dataset]] = {}
        self._inputs: dict[tuple[str, str], keras.KerasTensor] = {}

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs, x = self.table_features(hp)
        return self.compiled(hp, inputs, x, name="mlp")

    def table_features(self, hp: kt.HyperParameters) -> tuple[dict[str, keras.KerasTensor], keras.KerasTensor]:
        """The model's inputs (one per column) and the dense layers' output over them: the table as one vector."""
        inputs, features = self._preprocessing(hp)
        x = features[0] if len(features) == 1 else layers.Concatenate(name="features")(features)

        activation = hp.Choice("activation", ["relu", "gelu", "tanh"])
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
        l1 = hp.Choice("l1", [0.0, 1e-6, 1e-5, 1e-4, 1e-3])
        l2 = hp.Choice("l2", [0.0, 1e-6, 1e-5, 1e-4, 1e-3])
        batch_norm = hp.Boolean("batch_norm")
        for i in range(hp.Int("num_layers", 1, self.max_layers)):
            units = hp.Int(f"units_{i}", 16, self.max_units, sampling="log")
            regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
            x = layers.Dense(units, kernel_regularizer=regularizer, use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization()(x)
            x = layers.Activation(activation)(x)
            if dropout > 0:
                x = layers.Dropout(dropout, seed=self.seed + i)(x)
        return inputs, x

    def compiled(self, hp: kt.HyperParameters, inputs: dict[str, keras.KerasTensor], x: keras.KerasTensor, *,
                 name: str) -> keras.Model:
        """The task's head on `x`, as a model over `inputs`, compiled with the searched optimizer and rate."""
        outputs, loss, loss_weight, metrics = self._head(hp, x)
        model = keras.Model(inputs, outputs, name=name)
        forget_calls(inputs.values())
        optimizer = make_optimizer(
            hp.Choice("optimizer", list(OPTIMIZERS)),
            hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3),  # Adam's own default
        )
        model.compile(optimizer=optimizer, loss=loss, loss_weights=[loss_weight], metrics=metrics)
        return model

    def training_data(self, x: dict, y: np.ndarray, batch_size: int, initial_epoch: int,
                      class_weight: dict[int, float] | None = None):
        return self._dataset(x, y, batch_size, shuffle_seed=self.seed, class_weight=class_weight), {}

    def validation_data(self, x: dict, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
        return self._dataset(x, y, max(1024, batch_size))

    def _dataset(self, x: dict, y: np.ndarray, batch_size: int, shuffle_seed: int | None = None,
                 class_weight: dict[int, float] | None = None) -> tf.data.Dataset:
        """`to_dataset`, made once per search for each split, batch size and class weights, and reused by every
        trial; with `class_weight`, each row's class weight is its sample weight, the pipeline's third element.

        Making one converts every column to a tensor and traces the batch's gather, once per column: on
        Caravan (85 columns, trials of 3 s) that was 0.14 s of each trial's 0.35 s outside `model.fit`.
        Keras' own ``class_weight`` would map a lookup over the pipeline in every `fit`, tracing it anew
        over the 85 columns: 0.04 s of each trial. Both weigh the loss and the training metrics the same.
        A reused training pipeline goes on reshuffling, so each trial sees its own order of the rows,
        drawn from the seed's stream (the same in every search of the same trials).
        """
        weights = tuple(sorted(class_weight.items())) if class_weight else None
        key = (batch_size, shuffle_seed, weights)
        cached = self._datasets.get(key)
        if cached is None or cached[0] is not x or cached[1] is not y:
            sample_weight = None if weights is None else row_weights(y, class_weight)
            cached = self._datasets[key] = (x, y, to_dataset(x, y, batch_size, shuffle_seed, sample_weight))
        return cached[2]

    def fit_final(self, hp: kt.HyperParameters, model: keras.Model, x: dict, y: np.ndarray, *,
                  validation_data: tuple[dict, np.ndarray], seconds: float, verbose: int = 0,
                  class_weight: dict[int, float] | None = None, **kwargs: Any):
        """Train a fresh model of a chosen configuration for `seconds` (the final fit): full passes over the
        training split on a one-cycle learning rate over the time (`TimeBudgetSchedule`), peaking at the
        searched rate. Early stopping and ReduceLROnPlateau are left out: the schedule anneals, and the time is
        the budget. `class_weight` weighs the rows as in the trials; `kwargs` go to `model.fit`."""
        batch_size = hp.get("batch_size")
        train, options = self.training_pipeline(x, y, batch_size, 0, class_weight)
        validation = self.validation_data(*validation_data, batch_size=batch_size)
        callbacks = [TimeBudgetSchedule(seconds, peak=hp.get("learning_rate")), keras.callbacks.TerminateOnNaN()]
        return model.fit(train, epochs=FINAL_FIT_MAX_EPOCHS, validation_data=validation, callbacks=callbacks,
                         shuffle=False, verbose=verbose, **options, **kwargs)

    @staticmethod
    def active_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
        """The trial's hyperparameters with the units of layers it does not have blanked (None).

        Keras Tuner keeps a value for every hyperparameter ever declared, so a 1-layer trial still
        carries `units_3`; a report should not show it.
        """
        layers_used = int(values.get("num_layers", 0))
        active = {}
        for name, value in values.items():
            prefix, _, index = name.rpartition("_")
            if prefix == "units" and index.isdigit() and int(index) >= layers_used:
                value = None
            active[name] = value
        return active

    def column_inputs(self) -> dict[str, keras.KerasTensor]:
        """The model's input of each table column: numbers float32, categories int64 or string, text string."""
        schema = self.schema
        dtypes = {**{column: "float32" for column in schema.numeric},
                  **{column: "int64" if spec["dtype"] == "int" else "string"
                     for column, spec in schema.categorical.items()},
                  **{column: "string" for column in schema.text}}  # one raw string per row
        return {column: self._input(column, dtype) for column, dtype in dtypes.items()}

    def _preprocessing(self, hp: kt.HyperParameters) -> tuple[dict[str, keras.KerasTensor], list]:
        schema = self.schema
        inputs = self.column_inputs()
        features = []
        if schema.numeric:
            numbers = [inputs[column] for column in schema.numeric]
            x = numbers[0] if len(numbers) == 1 else layers.Concatenate(name="numeric")(numbers)
            x = layers.Normalization(
                mean=[s["mean"] for s in schema.numeric.values()],
                variance=[s["variance"] for s in schema.numeric.values()],
                name="normalization",
            )(x)
            x = FillMissing(name="fill_missing")(x)
            encoding = hp.Choice("numeric_encoding", list(ENCODINGS))
            with hp.conditional_scope("numeric_encoding", ["periodic"]):
                sigma = hp.Choice("periodic_sigma", [0.03, 0.1, 0.3]) if encoding == "periodic" else None
            features.append(encode_numbers(x, encoding, schema, self.seed, sigma=sigma))
        if schema.missing_indicators:
            flags = [inputs[column] for column in schema.missing_indicators]
            x = flags[0] if len(flags) == 1 else layers.Concatenate(name="missing_inputs")(flags)
            features.append(MissingIndicator(name="missing_indicator")(x))
        large = [c for c, s in schema.categorical.items() if len(s["vocabulary"]) > EMBEDDING_THRESHOLD]
        encoding = hp.Choice("categorical_encoding", ["one_hot", "embedding"]) if large else "one_hot"
        for column, spec in schema.categorical.items():
            lookup = layers.IntegerLookup if spec["dtype"] == "int" else layers.StringLookup
            size = len(spec["vocabulary"]) + 1  # + the out-of-vocabulary slot
            if column in large and encoding == "embedding":
                ids = lookup(vocabulary=spec["vocabulary"], name=column_layer_name(column, "lookup"))(inputs[column])
                dim = embedding_size(size)
                embedded = layers.Embedding(size, dim, name=column_layer_name(column, "embedding"))(ids)
                features.append(layers.Flatten(name=column_layer_name(column, "flat"))(embedded))
            else:
                features.append(
                    lookup(vocabulary=spec["vocabulary"], output_mode="one_hot",
                           name=column_layer_name(column, "lookup"))(inputs[column])
                )
        features += self.text_features(hp, {column: inputs[column] for column in schema.text})
        return inputs, features

    def _input(self, column: str, dtype: str) -> keras.KerasTensor:
        """The model's input for one column, shaped (batch, 1): made once per search, shared by every trial's model.

        Keras makes an input in 0.4 ms (its layer's attributes go through two layers of tracking), so that a
        table of 85 columns spent 0.034 s of each trial outside `model.fit` making them again (Caravan, py-spy).
        Models may share inputs, as they share layers; `forget_calls` keeps the shared ones from holding on to
        the models built on them.
        """
        key = (column, dtype)
        if key not in self._inputs:
            self._inputs[key] = keras.Input(shape=(1,), name=column, dtype=dtype)
        return self._inputs[key]

    def text_features(self, hp: kt.HyperParameters, texts: dict[str, keras.KerasTensor]) -> list:
        """The features of the text columns (named string inputs): here a bag of words per column."""
        return [bag_of_words(column, self.schema.text[column], text, TABLE_TEXT_TOKENS)
                for column, text in texts.items()]

    def _head(self, hp: kt.HyperParameters, x):
        schema = self.schema
        if schema.task == "regression":
            z = layers.Dense(1, name="standardized")(x)
            # Train on a standardized target (losses weighted by 1/std², or 1/std for the absolute error) and undo
            # the scaling in the model, so SGD does not diverge on large targets and predictions are in real units.
            outputs = layers.Rescaling(schema.target_std, offset=schema.target_mean, name="target_scale")(z)
            metrics = [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]
            # The loss is searched, judged on the track's objective: a val_mae track is often best served by
            # the absolute error itself, or Huber's (squared near 0, absolute beyond one standard deviation).
            if schema.target_transform == "log":
                outputs = layers.Activation("exponential", name="exp")(outputs)
                loss = hp.Choice("loss", list(LOG_TARGET_LOSSES))
                if loss == "msle":
                    return outputs, LOG_TARGET_LOSSES[loss](1.0), 1.0 / schema.target_std**2, metrics
                scale = math.exp(schema.target_mean)  # the logs' mean: the target's geometric mean
                weight = 1.0 / scale if loss == "mae" else 1.0 / scale**2
                return outputs, LOG_TARGET_LOSSES[loss](scale), weight, metrics
            loss = hp.Choice("loss", list(REGRESSION_LOSSES))
            std = schema.target_std
            weight = 1.0 / std if loss == "mae" else 1.0 / std**2
            return outputs, REGRESSION_LOSSES[loss](std), weight, metrics
        if schema.task == "binary":
            outputs = layers.Dense(1, activation="sigmoid", name="probability")(x)
            metrics = [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]
            return outputs, "binary_crossentropy", 1.0, metrics
        outputs = layers.Dense(len(schema.classes), activation="softmax", name="probabilities")(x)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        return outputs, "sparse_categorical_crossentropy", 1.0, metrics


def forget_calls(inputs) -> None:
    """Let shared inputs forget the layers called on them (their layer's ``_outbound_nodes``), once a model is built.

    Keras records there every call on a tensor, and reads it nowhere (a model walks its graph backwards, from its
    outputs): an input shared by every trial's model would keep every trial's model alive.
    """
    for tensor in inputs:
        tensor._keras_history.operation._outbound_nodes.clear()


def embedding_size(categories: int) -> int:
    """fast.ai's rule of thumb, capped: 1.6 * n^0.56, at most 32."""
    return int(min(32, round(1.6 * categories**0.56)))


def row_weights(y: np.ndarray, class_weight: dict[int, float]) -> np.ndarray:
    """Each row's weight: its class's in `class_weight` (Keras' mapping of class labels to weights)."""
    lookup = np.zeros(max(class_weight) + 1, dtype="float32")
    for label, weight in class_weight.items():
        lookup[label] = weight
    return lookup[np.asarray(y).reshape(-1).astype("int64")]


def to_dataset(x: dict, y: np.ndarray | None, batch_size: int, shuffle_seed: int | None = None,
               sample_weight: np.ndarray | None = None) -> tf.data.Dataset:
    """A batched tf.data pipeline over named column arrays (strings included): batches of ``x``, of ``(x, y)``,
    or of ``(x, y, sample_weight)``.

    The pipeline shuffles and batches row numbers, and gathers each batch from whole columns held once as
    tensors. A pipeline of rows (``from_tensor_slices``, then a shuffle buffer of every row) holds one small
    tensor per cell: on used cars, 60,000 rows of 10 columns, it was filled and freed at every epoch.

    tf.data's autotuning is off: gathering a batch from memory costs nothing to tune, and the autotuner's
    own threads took the core from training. A 2-epoch used-cars trial of the recipe on one core took 11.1 s
    with it, 6.3 to 7.2 s without (benchmarks/studies/pipeline_speed.py).
    """
    structure = x if y is None else (x, y) if sample_weight is None else (x, y, sample_weight)
    columns = tf.nest.map_structure(_held, structure)
    rows = int(tf.nest.flatten(columns)[0].shape[0])
    numbers = tf.data.Dataset.range(rows)
    if shuffle_seed is not None:
        numbers = numbers.shuffle(max(rows, 1), seed=shuffle_seed, reshuffle_each_iteration=True)

    @tf.autograph.experimental.do_not_convert
    def gather(batch: tf.Tensor):
        return tf.nest.map_structure(lambda column: _gathered(column, batch), columns)

    options = tf.data.Options()
    options.autotune.enabled = False
    return numbers.batch(batch_size).map(gather).with_options(options)


def _held(column: Any) -> Any:
    """A column as the pipeline holds it: a tensor in memory, or, for images memory-mapped from disk (a table's
    image column too large for memory, `automl.data.image_folder.DecodedImages`), the mapped array itself."""
    return column if isinstance(column, np.memmap) else tf.convert_to_tensor(column)


def _gathered(column: Any, batch: tf.Tensor) -> tf.Tensor:
    """A batch's rows of a column: gathered from the tensor, or read from the mapped file, that batch only."""
    if not isinstance(column, np.memmap):
        return tf.gather(column, batch)
    rows = tf.numpy_function(lambda chosen: np.asarray(column[chosen]), [batch], tf.as_dtype(column.dtype),
                             stateful=False)
    rows.set_shape((None, *column.shape[1:]))
    return rows
