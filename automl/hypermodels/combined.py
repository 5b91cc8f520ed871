"""CombinedHyperModel: one network over a table's columns and its columns of images, joined late; and, in the same
space, the network over the table alone and the one over the images alone, so that one Hyperband compares them.

The ``inputs`` hyperparameter picks what a trial's network reads: ``table`` (the MLP's encodings and dense layers,
its text columns read by the text family's searched encoder), ``images`` (a CNN trained from scratch, or a
pretrained backbone, per image column) or ``table+images``. Each part ends in a vector; the vectors are
concatenated and go through the fusion's dense layer (its width and dropout searched) to the task's head: late
fusion, as AutoGluon's multimodal fusion MLP does. Each part's hyperparameters are its own space's, under a name
scope (``table/dropout``, ``images/filters``) and active only when the part is read, as in a search over several
families (`automl.hypermodels.several`). The search opens with known-good parts over each kind (`start_for`).

Every network of the space takes every column (the unused ones are inputs it ignores), so the trials are
interchangeable in production, and a network over more inputs is chosen only when it scores best
(`chosen_only_when_best`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
from keras import layers

from automl.data.schema import Schema
from automl.hypermodels import cnn, mlp
from automl.hypermodels.backbone import BackboneHyperModel, fit_in_phases
from automl.hypermodels.cnn import CNNHyperModel
from automl.hypermodels.image_inputs import VALIDATION_BATCH, ImageSpace
from automl.hypermodels.layers import column_layer_name
from automl.hypermodels.mlp import MLPHyperModel
from automl.hypermodels.text import TextHyperModel, searched_text_features
from automl.hypermodels.training import make_optimizer

INPUTS = ("table", "images", "table+images")
TABLE, IMAGES = "table", "images"  # the name scopes of the parts' hyperparameters
ENCODERS = {"cnn": CNNHyperModel, "backbone": BackboneHyperModel}
# What the CNN's start sets that is not its image part's here: the joined network is compiled as the table's MLP is.
CNN_ONLY = ("label_smoothing", "flip_average", "optimizer", "learning_rate")
SHARED = ("optimizer", "learning_rate", "loss")  # the table's start's training settings: every part's here


def start_for(task: str, image_encoder: str, numeric: bool = True) -> dict[str, Any]:
    """The known-good parts joined (``model.start`` of a table with image columns): the table's MLP start
    (`automl.hypermodels.mlp.START`, its AdamW at 2e-3 for the whole network), and with images read from scratch
    the CNN's start (`automl.hypermodels.cnn.START`; its blocks and filters come from the images' side when the
    search begins, `CombinedHyperModel.starts_in_space`), joined with no fusion layer. A pretrained backbone keeps
    its own defaults. The search opens with it over each kind of input, so the comparison starts each kind from the
    same parts."""
    table = mlp.start_for(task, numeric)
    start = {key: table[key] for key in SHARED if key in table}
    start.update({f"{TABLE}/{key}": value for key, value in table.items() if key not in SHARED})
    if image_encoder == "cnn":
        start.update({f"{IMAGES}/{key}": value for key, value in cnn.START.items() if key not in CNN_ONLY})
    return {**start, "fusion_units": 0, "fusion_dropout": 0.0}


class CombinedHyperModel(MLPHyperModel):
    """The table's MLP, an image encoder per image column, or both joined, over raw rows whose image columns hold
    uint8 images (any size: each is resized inside to what its encoder takes).

    Parameters
    ----------
    Those of `MLPHyperModel`, and:

    image_encoder : {"cnn", "backbone"}
        How images are read: `CNNHyperModel`'s network, or `BackboneHyperModel`'s pretrained one (then trained in
        its two phases, the head and then fine-tuning, within each trial).
    weights : dict of str to Path
        The backbones to search, with their weights files (``image_encoder="backbone"``).

    Examples
    --------
    >>> hypermodel = CombinedHyperModel(schema, "val_accuracy", "max", batch_sizes=[32])
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    """

    compared_by = "inputs"
    # The choice rule takes a trial of these kinds only when it has the best score (`automl.selection.choice`):
    # the joined network costs both parts' latency, and is worth it only where it beats each part alone.
    chosen_only_when_best = ("table+images",)
    main_hyperparameters = ("inputs", "fusion_units", "fusion_dropout", "table/num_layers", "table/units_0",
                            "table/dropout", "table/text_encoder", "images/backbone", "images/trainable_layers",
                            "images/num_blocks", "images/filters", "images/dropout")

    def __init__(self, schema: Schema, objective: str, direction: str, *, image_encoder: str = "cnn",
                 weights: dict[str, Path] | None = None, batch_sizes: list[int] = (32, 64, 128),
                 max_layers: int = 4, max_units: int = 512, patience: int = 8, seed: int = 42,
                 name: str = "combined") -> None:
        super().__init__(schema, objective, direction, batch_sizes=batch_sizes, max_layers=max_layers,
                         max_units=max_units, patience=patience, seed=seed, name=name)
        options = {"batch_sizes": batch_sizes, "patience": patience, "seed": seed}
        if image_encoder == "backbone":
            options["weights"] = weights
        self.encoder: ImageSpace = ENCODERS[image_encoder](schema, objective, direction, **options)
        # A table of nothing but image columns has no table part: its networks read the images alone.
        self.kinds = INPUTS if schema.numeric or schema.categorical or schema.text else (IMAGES,)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        uses = hp.Choice("inputs", list(self.kinds))
        inputs = self.column_inputs()
        for column in self.schema.images:
            inputs[column] = keras.Input(shape=(None, None, 3), dtype="uint8", name=column)
        features = []
        if TABLE in self.kinds:
            with hp.conditional_scope("inputs", [TABLE, "table+images"]), hp.name_scope(TABLE):
                if uses != IMAGES:
                    features.append(self.table_features(hp)[1])
        with hp.conditional_scope("inputs", [IMAGES, "table+images"]), hp.name_scope(IMAGES):
            if uses != TABLE:
                features += [self._image_vector(hp, column, inputs[column]) for column in self.schema.images]
                self._phases(hp)
        x = features[0] if len(features) == 1 else layers.Concatenate(name="fusion")(features)
        units = hp.Choice("fusion_units", [0, 64, 256])  # 0: the head sits on the joined vectors
        if units:
            x = layers.Dense(units, activation="relu", name="fusion_dense")(x)
        dropout = hp.Float("fusion_dropout", 0.0, 0.5, step=0.25)
        if dropout:
            x = layers.Dropout(dropout, seed=self.seed + 20, name="fusion_dropout")(x)
        return self.compiled(hp, inputs, x, name="combined")

    def text_features(self, hp: kt.HyperParameters, texts: dict[str, keras.KerasTensor]) -> list:
        """The table's text columns, read as the text family reads them: its encoder searched (a bag of words, word
        embeddings or a 1-D convolution, `automl.hypermodels.text`), in the table's scope."""
        return searched_text_features(hp, self.schema, texts) if texts else []

    def _image_vector(self, hp: kt.HyperParameters, column: str, image: keras.KerasTensor) -> keras.KerasTensor:
        """One image column's vector: the images resized to what the encoder takes, then the encoder, a model of
        its own (so that two columns' encoders, and the table's layers, keep their own layer names)."""
        side = self.encoder.input_side(hp)
        resized = layers.Resizing(side, side, name=column_layer_name(column, "resizing"))(image)
        pixels = keras.Input(shape=(side, side, 3), name=column_layer_name(column, "pixels"))
        vector = self.encoder.image_features(hp, pixels)
        return keras.Model(pixels, vector, name=column_layer_name(column, "encoder"))(resized)

    def _phases(self, hp: kt.HyperParameters) -> tuple[int, int | None, float | None]:
        """A backbone's two phases (`BackboneHyperModel.phases`), in the images' scope; one phase otherwise."""
        return self.encoder.phases(hp) if isinstance(self.encoder, BackboneHyperModel) else (0, None, None)

    def validation_data(self, x: dict, y: Any, batch_size: int) -> Any:
        """The MLP's validation pipeline, in batches of `VALIDATION_BATCH` images at most (the MLP's 1,024 rows,
        through a CNN at 64x64, took 2.0 GiB where 256 take 1.2)."""
        return self._dataset(x, y, max(VALIDATION_BATCH, batch_size))

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, *,
            validation_data: tuple[Any, Any], callbacks: list | None = None, **kwargs: Any):
        """The MLP's fit; a network that reads images with a backbone trains in its two phases (`fit_in_phases`):
        the head and the other parts first, then the backbone's last layers too, at the fine-tuning rate."""
        phases = (0, None, None)
        if hp.get("inputs") != TABLE:
            with hp.conditional_scope("inputs", [IMAGES, "table+images"]), hp.name_scope(IMAGES):
                phases = self._phases(hp)

        def fit(**more: Any):
            return super(CombinedHyperModel, self).fit(hp, model, x, y, validation_data=validation_data,
                                                       callbacks=callbacks, **more)

        def recompile(model: keras.Model, learning_rate: float) -> None:  # the same loss, a fresh optimizer
            config = model.get_compile_config()
            config["optimizer"] = keras.optimizers.serialize(make_optimizer(hp.get("optimizer"), learning_rate))
            model.compile_from_config(config)

        return fit_in_phases(fit, model, phases, recompile, **kwargs)

    def starts_in_space(self, start: dict[str, Any]) -> list[dict[str, Any]]:
        """The start over each kind of input (the table alone, the table and images joined, the images alone, in
        that order: the cheapest first, then the network the track is for), unless it names its ``inputs``; a CNN
        part sized by the images' side (`automl.hypermodels.cnn.start_for`) where the start does not size it."""
        if not start:
            return []
        if isinstance(self.encoder, CNNHyperModel) and any(key.startswith(f"{IMAGES}/") for key in start):
            sized = cnn.start_for(self.schema.image_shape[0])
            start = {**{f"{IMAGES}/{key}": sized[key] for key in ("num_blocks", "filters")}, **start}
        kinds = [start["inputs"]] if "inputs" in start else [k for k in (TABLE, "table+images", IMAGES)
                                                             if k in self.kinds]
        read = {scope for kind in kinds for scope in (TABLE, IMAGES) if scope in kind}
        return [{key: value for key, value in {**start, "inputs": kind}.items()
                 if "/" not in key or key.split("/")[0] in read} for kind in kinds]

    @staticmethod
    def active_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
        """The trial's values, with the part it does not read blanked (None), and each part's own blanking."""
        uses = values.get("inputs")
        active = {k: v for k, v in values.items() if not k.startswith((f"{TABLE}/", f"{IMAGES}/"))}
        for scope, used in ((TABLE, uses != IMAGES), (IMAGES, uses != TABLE)):
            own = {k[len(scope) + 1:]: v for k, v in values.items() if k.startswith(f"{scope}/")}
            space = TextHyperModel if scope == TABLE else ENCODERS["backbone" if "backbone" in own else "cnn"]
            own = space.active_hyperparameters(own) if used else dict.fromkeys(own)
            active.update({f"{scope}/{k}": v for k, v in own.items()})
        return active
