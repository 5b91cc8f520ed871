"""BackboneHyperModel: transfer learning from an ImageNet network of keras.applications, in two phases.

The head (pooling, an optional dense layer, the classifier) first trains on the frozen backbone; then the
backbone's last layers are unfrozen and the whole trains on, at a lower learning rate. That is the recipe of
Keras' transfer-learning guide, searched: which backbone, at which input size, how many layers to fine-tune,
when, and at which rates.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras import layers

from automl.data.schema import Schema
from automl.hypermodels.image_inputs import VALIDATION_BATCH, ImageSpace, image_dataset, image_input, steps_per_epoch
from automl.hypermodels.pretrained import PRETRAINED
from automl.hypermodels.training import FINAL_FIT_MAX_EPOCHS, TimeBudgetSchedule
from automl.hypermodels.weights import load_backbone

BACKBONE_LAYER = "backbone"
# How many of the backbone's last layers the second phase trains (0: the backbone stays frozen). MobileNet v1
# has 86 layers, six to a depthwise-separable block: 12 is its last two blocks, 36 its last six.
TRAINABLE_LAYERS = (0, 12, 36)
MAX_HEAD_SHARE = 0.8  # the final fit gives the head at most this share of its time, and fine-tuning the rest


class BackboneHyperModel(ImageSpace):
    """A pretrained backbone and a searched head over raw uint8 images (N, height, width, 3), multiclass.

    The model carries its preprocessing: `Resizing` to the backbone's input size (when the images differ),
    augmentation (active in training only), the backbone's own ImageNet preprocessing as a `Rescaling`
    (MobileNetV3 and EfficientNet hold theirs inside), and the backbone, always called with
    ``training=False`` so that its BatchNormalization layers keep their ImageNet statistics, even while
    fine-tuning (as Keras' transfer-learning guide does); they also stay frozen.

    Parameters
    ----------
    Those of `ImageSpace`, and:

    weights : dict of str to Path
        The backbones to search (names of `PRETRAINED`), each with its weights file.

    Examples
    --------
    >>> hypermodel = BackboneHyperModel(schema, "val_accuracy", "max", batch_sizes=[32],
    ...                                 weights={"mobilenet_v1_0.25": Path("mobilenet_2_5_224_tf_no_top.h5")})
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    """

    main_hyperparameters = ("backbone", "image_size", "trainable_layers", "head_epochs", "pooling", "dense_units",
                            "dropout")
    compared_by = "backbone"

    def __init__(self, schema: Schema, objective: str, direction: str, *, weights: dict[str, Path],
                 batch_sizes: list[int] = (32, 64), images_per_epoch: int = 0, patience: int = 5, seed: int = 42,
                 name: str = "backbone") -> None:
        super().__init__(schema, objective, direction, batch_sizes=batch_sizes, images_per_epoch=images_per_epoch,
                         patience=patience, seed=seed, name=name)
        if not weights:
            raise ValueError("a backbone search needs at least one backbone with weights")
        self.weights = dict(weights)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs, x = image_input(self.schema, (self.input_side(hp),) * 2)
        x = self.image_features(hp, x)
        outputs = layers.Dense(len(self.schema.classes), activation="softmax", name="probabilities")(x)
        model = keras.Model(inputs, outputs, name="backbone_classifier")
        self.phases(hp)  # read by `fit`: the built model's backbone is frozen
        compile_model(model, hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"))
        return model

    def input_side(self, hp: kt.HyperParameters) -> int:
        """The side of the images the searched backbone takes."""
        return self._input_size(hp, hp.Choice("backbone", list(self.weights)))

    def image_features(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """Images (0-255, `input_side` square) as one vector: the backbone's preprocessing, augmentation, the frozen
        backbone, pooling, and a dense layer if searched (what the classifier, or a network over images and other
        inputs, sits on)."""
        name = hp.Choice("backbone", list(self.weights))
        size = self._input_size(hp, name)
        entry = PRETRAINED[name]
        # The backbone's preprocessing_input, as a layer: MobileNet v1's maps 0..255 to -1..1; the others take
        # 0..255 floats (this layer only casts the uint8 images) and normalise inside.
        x = layers.Rescaling(entry.scale, offset=entry.offset, name="preprocessing")(x)
        # Augmentation: active in training only; cheap geometric changes that keep the label.
        if hp.Boolean("flip", default=True):
            x = layers.RandomFlip("horizontal", seed=self.seed, name="flip")(x)
        translation = hp.Choice("translation", [0.0, 0.1])
        if translation:
            x = layers.RandomTranslation(translation, translation, seed=self.seed + 1, name="translation")(x)
        zoom = hp.Choice("zoom", [0.0, 0.1])
        if zoom:
            x = layers.RandomZoom(zoom, seed=self.seed + 2, name="zoom")(x)

        backbone = load_backbone(name, size, self.weights[name])
        backbone.name = BACKBONE_LAYER
        backbone.trainable = False
        x = backbone(x, training=False)

        pooling = hp.Choice("pooling", ["avg", "max"])
        x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D}[pooling](name="pooling")(x)
        dropout = hp.Float("dropout", 0.0, 0.4, step=0.2)
        dense_units = hp.Choice("dense_units", [0, 128])  # 0: the classifier sits on the pooled features
        if dense_units:
            if dropout:
                x = layers.Dropout(dropout, seed=self.seed + 3, name="dense_dropout")(x)
            x = layers.Dense(dense_units, activation="relu", name="dense")(x)
        if dropout:
            x = layers.Dropout(dropout, seed=self.seed + 4, name="dropout")(x)
        return x

    @staticmethod
    def phases(hp: kt.HyperParameters) -> tuple[int, int | None, float | None]:
        """The searched phases: how many of the backbone's last layers fine-tuning trains (0: none), after how
        many epochs of the head alone, at which rate (None for a frozen backbone)."""
        trainable = hp.Choice("trainable_layers", list(TRAINABLE_LAYERS))
        with hp.conditional_scope("trainable_layers", [n for n in TRAINABLE_LAYERS if n]):
            # Epochs of the first phase (head only); Hyperband's later epochs fine-tune.
            head_epochs = hp.Int("head_epochs", 1, 3)
            rate = hp.Float("fine_tune_learning_rate", 1e-5, 1e-3, sampling="log")
        return (trainable, head_epochs, rate) if trainable else (0, None, None)

    @staticmethod
    def active_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
        """Fine-tuning's settings are blank for a frozen backbone, and the input size for a backbone with one."""
        active = dict(values)
        if not values.get("trainable_layers"):
            active.update(head_epochs=None, fine_tune_learning_rate=None)
        entry = PRETRAINED.get(values.get("backbone"))
        if entry is not None and len(entry.sizes) == 1:
            active["image_size"] = None
        return active

    def _input_size(self, hp: kt.HyperParameters, name: str) -> int:
        """The searched input size of backbones whose weights suit several (MobileNet v1), else the one size."""
        several = [n for n in self.weights if len(PRETRAINED[n].sizes) > 1]
        if not several:
            return PRETRAINED[name].sizes[0]
        with hp.conditional_scope("backbone", several):
            chosen = hp.Choice("image_size", sorted({s for n in several for s in PRETRAINED[n].sizes}))
        sizes = PRETRAINED[name].sizes
        return chosen if chosen in sizes else sizes[-1]

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, *,
            validation_data: tuple[Any, Any], callbacks: list | None = None, **kwargs: Any):
        """Keras Tuner's fit, in two phases (`fit_in_phases`): the head, then fine-tuning."""
        def fit(**more: Any):
            return super(BackboneHyperModel, self).fit(hp, model, x, y, validation_data=validation_data,
                                                       callbacks=callbacks, **more)

        return fit_in_phases(fit, model, self.phases(hp), compile_model, **kwargs)

    def fit_final(self, hp: kt.HyperParameters, model: keras.Model, x: np.ndarray, y: np.ndarray, *,
                  validation_data: tuple[np.ndarray, np.ndarray], seconds: float, verbose: int = 0,
                  **kwargs: Any):
        """Train a fresh model of a chosen configuration for `seconds`: the head, then fine-tuning, each on a
        one-cycle learning rate over its share of the time (`TimeBudgetSchedule`) peaking at its searched rate,
        so that the model ends annealed at the deadline.

        The head's share is that of its epochs in the chosen trial (``head_epochs`` of ``tuner/epochs``), at
        most `MAX_HEAD_SHARE`.
        """
        batch_size = hp.get("batch_size")
        train = image_dataset(x, y, batch_size, shuffle_seed=self.seed)
        validation = image_dataset(*validation_data, batch_size=VALIDATION_BATCH)
        trainable = hp.get("trainable_layers")
        share = min(hp.get("head_epochs") / max(hp.values.get("tuner/epochs", 1), 1), MAX_HEAD_SHARE) if trainable \
            else 1.0
        phases = [(share * seconds, hp.get("learning_rate"))]
        if trainable:
            phases.append(((1.0 - share) * seconds, hp.get("fine_tune_learning_rate")))
        histories, steps = [], 0
        for phase, (phase_seconds, rate) in enumerate(phases):
            if phase:
                steps = int(model.optimizer.iterations.numpy())
                unfreeze(model, trainable, rate)
            callbacks = [TimeBudgetSchedule(phase_seconds, peak=rate), keras.callbacks.TerminateOnNaN()]
            done = sum(len(history.epoch) for history in histories)  # fine-tuning's passes number on
            histories.append(model.fit(train, steps_per_epoch=steps_per_epoch(len(y), batch_size), initial_epoch=done,
                                       epochs=done + FINAL_FIT_MAX_EPOCHS, validation_data=validation,
                                       callbacks=callbacks, shuffle=False, verbose=verbose, **kwargs))
        # Fine-tuning's optimizer started its count anew; the model's count is of every step it trained, which
        # the final fit's record reads (images trained). Training is over: no Adam step sees this count.
        model.optimizer.iterations.assign_add(steps)
        return joined(histories)


def fit_in_phases(fit: Callable[..., keras.callbacks.History], model: keras.Model,
                  phases: tuple[int, int | None, float | None], recompile: Callable[[keras.Model, float], None],
                  **kwargs: Any) -> keras.callbacks.History:
    """`fit` (a space's Keras Tuner fit, given epochs) in two phases: epochs before the head's (`phases`, from
    `BackboneHyperModel.phases`) train the head, the later ones fine-tune, after `unfreeze` recompiles the model
    with `recompile` at the fine-tuning rate.

    Hyperband continues a trial from its checkpoint with ``initial_epoch``: a trial that starts past the head's
    epochs fine-tunes from its first epoch. Keras Tuner's callbacks (its best-epoch checkpoint, the objective's
    reports) see both phases, and the History returned holds every epoch of both; a phase that stopped early
    (EarlyStopping, NaN, the search's deadline) ends the trial.
    """
    trainable, head_epochs, rate = phases
    epochs, initial_epoch = kwargs.pop("epochs", 1), kwargs.pop("initial_epoch", 0)
    head_epochs = head_epochs if trainable else epochs
    histories = []
    if initial_epoch < head_epochs:
        last = min(epochs, head_epochs)
        history = fit(epochs=last, initial_epoch=initial_epoch, **kwargs)
        histories.append(history)
        if last == epochs or model.stop_training or len(history.epoch) < last - initial_epoch:
            return history
    unfreeze(model, trainable, rate, recompile)
    histories.append(fit(epochs=epochs, initial_epoch=max(initial_epoch, head_epochs), **kwargs))
    return joined(histories)


def compile_model(model: keras.Model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def unfreeze(model: keras.Model, count: int, learning_rate: float,
             recompile: Callable[[keras.Model, float], None] = compile_model) -> None:
    """Make the last `count` layers of the model's backbones (one, or one per image column, each in its own
    encoder) trainable, BatchNormalization excepted, and recompile at `learning_rate` with `recompile` (a fresh
    Adam: the head's moments are of other variables)."""
    for backbone in backbones_in(model):
        backbone.trainable = True
        for index, layer in enumerate(backbone.layers):
            layer.trainable = index >= len(backbone.layers) - count and not isinstance(layer,
                                                                                        layers.BatchNormalization)
    with model.distribute_strategy.scope():  # the scope the model was built in (several GPUs: mirrored)
        recompile(model, learning_rate)


def backbones_in(model: keras.Model) -> list[keras.Model]:
    """The backbones (`BACKBONE_LAYER`) among the model's layers and those of the models nested in it."""
    found = []
    for layer in model.layers:
        if layer.name == BACKBONE_LAYER:
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += backbones_in(layer)
    return found


def joined(histories: list[keras.callbacks.History]) -> keras.callbacks.History:
    """One History of consecutive fits, epoch after epoch: what Keras Tuner and the trial record read."""
    if len(histories) == 1:
        return histories[0]
    history = keras.callbacks.History()
    history.set_model(histories[-1].model)
    history.params = histories[-1].params
    history.epoch = [epoch for part in histories for epoch in part.epoch]
    keys = dict.fromkeys(key for part in histories for key in part.history)
    history.history = {key: [value for part in histories for value in part.history.get(key, [])] for key in keys}
    return history
