"""CNNHyperModel: the search space for small images, with rescaling and augmentation inside the model."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras import layers

from automl.data.schema import Schema
from automl.hypermodels.image_inputs import (
    VALIDATION_BATCH,
    ImageSpace,
    image_dataset,
    image_input,
    steps_per_epoch,
)
from automl.hypermodels.image_layers import Dirac, FastBias, FlipAverage, PatchWhitening, SmoothedSparseCrossentropy
from automl.hypermodels.machine import bfloat16_pays
from automl.hypermodels.training import (
    FINAL_FIT_MAX_EPOCHS,
    OPTIMIZERS,
    Lookahead,
    TimeBudgetSchedule,
    make_optimizer,
)

# The widest block. Measured on this 2-core CPU (benchmarks/studies/cnn_speed.py): 5x5 convolutions everywhere and
# blocks up to 256 filters made the heaviest candidate train at 19 images/s, 15 times slower than a
# 290k-parameter network; one Hyperband epoch of it took 8 minutes.
MAX_FILTERS = 128

# The first trial of a search of your own folder of images (``model.start``, written into the track by `automl search
# --images`): the CIFAR-10 track's network (after airbench: the patch-whitening first layer, blocks of two 3x3
# convolutions that halve the resolution after their first, batch normalization) with airbench's max pooling at the
# end and label smoothing 0.2, trained by AdamW at 2e-3 (L2 5e-4); its batch is the track's first (32 by default).
# `start_for` sizes it by the images' side. Not Nesterov SGD at 0.05, as airbench and the CIFAR-10 track train: in
# 3-minute searches of 3,000 CIFAR-10 images the AdamW start scored 0.629 mean test accuracy over 3 splits, the SGD
# one 0.603; on the clothing photos, whose imbalanced classes get balanced class weights, SGD learned slowest in its
# first epochs (0.49 validation accuracy at epoch 8 at 32 px, AdamW 0.59), and in a 30-minute search at 96 px its
# start stopped early at 0.18 after 9 epochs, where AdamW's reached 0.80. Over 20 epochs at 32 px the optimizers
# ended within 0.04 of each other. All in benchmarks/studies/cnn_start.py (results/cnn_start.json).
# Its blocks and filters are `start_for`'s, from the images' side.
START = {"whitening": True, "convs_per_block": 2, "downsample": "early", "kernel_size": 3, "batch_norm": True,
         "dropout": 0.0, "l2": 5e-4, "pooling": "global_max", "dense_units": 0, "label_smoothing": 0.2,
         "flip_average": False, "rotation": 0.0, "zoom": 0.0, "optimizer": "adamw", "learning_rate": 2e-3}


# airbench's levers (Keller Jordan, github KellerJordan/cifar10-airbench, arXiv 2404.00498), each a name a track
# lists in `model.levers` (tracks/cifar10.toml; what each gave: benchmarks/studies/cifar10_levers.py):
LEVERS = {
    "airbench_net": "airbench's network: blocks 4 times as wide after the first (64, 256, 256), GELU, logits "
                    "without bias scaled by 1/9, 2-pixel shifts, Nesterov SGD at momentum 0.85 with decoupled "
                    "weight decay",
    "frozen_scale_bn": "batch normalization with its scale frozen at 1, momentum 0.6 and its bias "
                       "learned 64 times faster",
    "dirac": "convolutions initialised to pass their input channels through",
    "alternating_flip": "each image mirrored in every other pass, in place of a coin per pass",
    "lookahead": "the final fit's weights pulled back to their running average every 5 steps",
    "tta_shifts": "the test-time average over 1-pixel shifts as well as mirror images",
    "bfloat16": "bfloat16 arithmetic (float32 weights) on a GPU or a CPU with AVX512-BF16 or AMX; float32 elsewhere",
}
AIRBENCH_WIDEST = 256
AIRBENCH_MOMENTUM = 0.85
AIRBENCH_RATE = 11.5  # airbench's learning rate per 1,024 images, over its kilostep scale 1024 x (1 + 1 / (1 - 0.85))
# airbench's weight decay, 0.0153 per 1,024 images, as Keras' decoupled decay. airbench adds 0.0153 x batch / kilostep
# scale x (the schedule's share) of each weight to its gradient, and momentum carries that into 1 / (1 - 0.85) steps;
# Keras shrinks each weight by learning rate x decay a step, its rate being 11.5 x batch / kilostep scale x (the same
# share). Equal when decay = 0.0153 / (11.5 x (1 - 0.85)) = 0.0089, whatever the batch.
AIRBENCH_DECAY = 0.0153 / (AIRBENCH_RATE * (1 - AIRBENCH_MOMENTUM))
# airbench's batch normalization keeps 60 % of its running statistics a step (PyTorch's momentum 0.4): Keras' 0.6.
AIRBENCH_BN_MOMENTUM = 0.6
VALIDATE_EVERY = 4  # passes between the final fit's validations when the test-time average costs 6 passes an image


def start_for(side: int) -> dict[str, Any]:
    """`START` for square images of `side` pixels: a block for each halving that leaves at least 4 x 4 pixels to the
    last one (3 blocks at 32 px, 4 from 64 px; the space searches 2 to 4), and 16 filters in the first block past
    48 px. On the clothing photos at 96 px, 30 epochs of 16 filters reached 0.780 test accuracy in 444 s of one core,
    32 filters 0.766 in 1,044 s."""
    blocks = 2
    while blocks < 4 and side // 2 ** (blocks + 1) >= 4:
        blocks += 1
    return {"whitening": START["whitening"], "num_blocks": blocks, "filters": 32 if side <= 48 else 16, **START}


class CNNHyperModel(ImageSpace):
    """A convolutional network over raw uint8 images (N, height, width, 3), for multiclass tasks.

    The model carries its preprocessing: `Rescaling` to 0-1 and augmentation layers (random
    horizontal flip and translation always; rotation and zoom when the space picks them), which
    are active in training only, so the exported model takes the images as they are.

    One epoch is `images_per_epoch` images drawn from a shuffled, repeating stream of the training
    split (0: one full pass), as in every `ImageSpace`.

    Parameters
    ----------
    Those of `SearchSpace` (the schema gives the image shape and the classes), and:

    images_per_epoch : int
        Training images per epoch; 0 for one pass over the training split.

    Examples
    --------
    >>> hypermodel = CNNHyperModel(schema, objective="val_accuracy", direction="max")
    >>> model = hypermodel.build(keras_tuner.HyperParameters())
    """

    main_hyperparameters = ("num_blocks", "filters", "convs_per_block", "downsample", "kernel_size", "dropout")
    techniques = (("whitening", "patch whitening"), ("label_smoothing", "label smoothing"),
                  ("flip_average", "flip averaging"))

    def __init__(
        self,
        schema: Schema,
        objective: str,
        direction: str,
        *,
        batch_sizes: list[int] = (64, 128),
        images_per_epoch: int = 0,
        patience: int = 5,
        seed: int = 42,
        name: str = "cnn",
        levers: list[str] = (),
    ) -> None:
        super().__init__(schema, objective, direction, batch_sizes=batch_sizes, images_per_epoch=images_per_epoch,
                         patience=patience, seed=seed, name=name)
        unknown = sorted(set(levers) - set(LEVERS))
        if unknown:
            raise ValueError(f"unknown levers {unknown}; use some of {sorted(LEVERS)}")
        self.levers = frozenset(levers)
        self.alternating_flip = "alternating_flip" in self.levers

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        with self._precision():
            return self._compiled(hp)

    def _precision(self):
        # bfloat16 only where the hardware has it: emulated, it trained 10 times slower than float32
        return _policy("mixed_bfloat16") if "bfloat16" in self.levers and bfloat16_pays() else nullcontext()

    def _compiled(self, hp: kt.HyperParameters) -> keras.Model:
        inputs, x = image_input(self.schema)
        x = self.augmented(hp, x)

        # Test-time augmentation (`FlipAverage`): the network scores each image and its mirror image outside
        # training; the choice rule weighs what it gains against its doubled latency.
        flip_average = hp.Boolean("flip_average")
        network_input = keras.Input(shape=x.shape[1:], name="augmented") if flip_average else x
        outputs = self._network(hp, network_input)
        if flip_average:
            network = keras.Model(network_input, outputs, name="network")
            outputs = FlipAverage(network, shifts="tta_shifts" in self.levers, name="flip_average")(x)

        model = keras.Model(inputs, outputs, name="cnn")
        optimizer = make_optimizer(hp.Choice("optimizer", list(OPTIMIZERS)), learning_rate(hp))
        if "airbench_net" in self.levers and isinstance(optimizer, keras.optimizers.SGD):
            optimizer = keras.optimizers.SGD(learning_rate(hp), momentum=AIRBENCH_MOMENTUM, nesterov=True,
                                             weight_decay=AIRBENCH_DECAY)
        # Label smoothing: the recipes that train CIFAR-10 in few passes use 0.2 (airbench) or 0.1.
        smoothing = hp.Choice("label_smoothing", [0.0, 0.1, 0.2])
        loss = SmoothedSparseCrossentropy(smoothing) if smoothing else "sparse_categorical_crossentropy"
        model.compile(optimizer=optimizer, loss=loss,
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    def image_features(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """Images (0-255, at the training size) as one vector: augmented, then the convolutional blocks, pooled."""
        return self._features(hp, self.augmented(hp, x))

    def augmented(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """Images scaled to 0-1 and augmented (in training only)."""
        x = layers.Rescaling(1.0 / 255, name="rescaling")(x)
        # Augmentation: active in training only; cheap geometric changes that keep the label.
        if not self.alternating_flip:  # else the training pipeline mirrors the images (`image_dataset`)
            x = layers.RandomFlip("horizontal", seed=self.seed, name="flip")(x)
        if "airbench_net" in self.levers:  # whole pixels, up to 2, as airbench's crops of reflected edges
            shift = 2.0 / x.shape[1]
            x = layers.RandomTranslation(shift, shift, interpolation="nearest", seed=self.seed + 1,
                                         name="translation")(x)
        else:
            x = layers.RandomTranslation(0.1, 0.1, seed=self.seed + 1, name="translation")(x)
        rotation = hp.Choice("rotation", [0.0, 0.05])
        if rotation:
            x = layers.RandomRotation(rotation, seed=self.seed + 2, name="rotation")(x)
        zoom = hp.Choice("zoom", [0.0, 0.1])
        if zoom:
            x = layers.RandomZoom(zoom, seed=self.seed + 3, name="zoom")(x)
        return x

    def _network(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """The convolutional blocks and the classifier, on augmented images scaled to 0-1."""
        x = self._features(hp, x)
        classes = len(self.schema.classes)
        if "airbench_net" in self.levers:
            x = layers.Dense(classes, use_bias=False, name="logits")(x)
            x = layers.Rescaling(1.0 / 9.0, name="logit_scale")(x)
            return layers.Activation("softmax", dtype="float32", name="probabilities")(x)
        return layers.Dense(classes, activation="softmax", dtype="float32", name="probabilities")(x)

    def _features(self, hp: kt.HyperParameters, x: keras.KerasTensor) -> keras.KerasTensor:
        """The convolutional blocks, pooled (and a dense layer, if searched), on augmented images scaled to 0-1."""
        airbench = "airbench_net" in self.levers
        activation = "gelu" if airbench else "relu"
        if self.schema.whitening and hp.Boolean("whitening"):
            # The first layer fixed to the whitening of the training split's 2x2 patches (airbench).
            x = PatchWhitening(self.schema.whitening["kernel"], self.schema.whitening["mean"], name="whitening")(x)
            x = layers.Activation(activation, name="whitening_relu")(x)
        num_blocks = hp.Int("num_blocks", 2, 4)
        filters = hp.Choice("filters", [16, 32, 48, 64])  # of the first block; each next block doubles it
        convs_per_block = hp.Int("convs_per_block", 1, 2)
        # Where a block halves the resolution: "end" after its convolutions (VGG), "early" right after its
        # first one, so that the others run on a quarter of the pixels (as the fast CIFAR-10 networks
        # of the airbench family do): about half the cost for the same widths (benchmarks/studies/cnn_speed.py).
        downsample = hp.Choice("downsample", ["end", "early"])
        # The first convolution's kernel; the others are 3x3: two 3x3 see as far as one 5x5 at 72 % of the
        # cost, while a 5x5 on the 3 colour channels costs next to nothing.
        kernel_size = hp.Choice("kernel_size", [3, 5])
        batch_norm = hp.Boolean("batch_norm", default=True)
        dropout = hp.Float("dropout", 0.0, 0.4, step=0.1)
        l2 = hp.Choice("l2", [0.0, 1e-5, 1e-4, 5e-4])
        regularizer = keras.regularizers.L2(l2) if l2 else None
        for block in range(num_blocks):
            width = min(filters * 4, AIRBENCH_WIDEST) if airbench and block else min(filters * 2**block, MAX_FILTERS)
            for conv in range(convs_per_block):
                kernel = kernel_size if block == conv == 0 else 3
                dirac = Dirac(seed=self.seed + 20 + 2 * block + conv) if "dirac" in self.levers else "glorot_uniform"
                x = layers.Conv2D(width, kernel, padding="same", use_bias=not batch_norm, kernel_initializer=dirac,
                                  kernel_regularizer=regularizer, name=f"conv{block}_{conv}")(x)
                if downsample == "early" and conv == 0:
                    x = layers.MaxPooling2D(name=f"pool{block}")(x)
                if batch_norm and "frozen_scale_bn" in self.levers:
                    # airbench: no scale, a fast bias
                    x = layers.BatchNormalization(momentum=AIRBENCH_BN_MOMENTUM, epsilon=1e-5, center=False,
                                                  scale=False, name=f"bn{block}_{conv}")(x)
                    x = FastBias(name=f"bias{block}_{conv}")(x)
                elif batch_norm:
                    # Momentum 0.9, not Keras' 0.99: a first-rung trial takes 35-70 steps, after which 0.99's
                    # moving statistics are still mostly their initial values and validation sees chance level.
                    x = layers.BatchNormalization(momentum=0.9, name=f"bn{block}_{conv}")(x)
                x = layers.Activation(activation, name=f"relu{block}_{conv}")(x)
            if downsample == "end":
                x = layers.MaxPooling2D(name=f"pool{block}")(x)
            if dropout:
                x = layers.Dropout(dropout, seed=self.seed + 10 + block, name=f"dropout{block}")(x)

        pooling = hp.Choice("pooling", ["global_average", "global_max", "flatten"])
        x = {"global_average": layers.GlobalAveragePooling2D, "global_max": layers.GlobalMaxPooling2D,
             "flatten": layers.Flatten}[pooling](name=pooling)(x)
        dense_units = hp.Choice("dense_units", [0, 128, 256])  # 0: the classifier sits on the pooled features
        if dense_units:
            x = layers.Dense(dense_units, activation="relu", kernel_regularizer=regularizer, name="dense")(x)
            if dropout:
                x = layers.Dropout(dropout, seed=self.seed + 9, name="dense_dropout")(x)
        return x

    def fit_final(self, hp: kt.HyperParameters, model: keras.Model, x: np.ndarray, y: np.ndarray, *,
                  validation_data: tuple[np.ndarray, np.ndarray], seconds: float, verbose: int = 0,
                  **kwargs: Any):
        """Train a fresh model of a chosen configuration for `seconds`: full passes over the training split,
        on a one-cycle learning rate over the time (`TimeBudgetSchedule`) that peaks at the searched rate.

        Early stopping and ReduceLROnPlateau are left out: the schedule anneals, and the time is the budget.
        """
        batch_size = hp.get("batch_size")
        train = image_dataset(x, y, batch_size, shuffle_seed=self.seed, alternating_flip=self.alternating_flip)
        validation = image_dataset(*validation_data, batch_size=VALIDATION_BATCH)
        callbacks = [TimeBudgetSchedule(seconds, peak=learning_rate(hp)), keras.callbacks.TerminateOnNaN()]
        if "lookahead" in self.levers:
            callbacks.append(Lookahead(seconds))
        # Six passes of the network per validation image with the shifts: validated every few passes, and at the end.
        every = VALIDATE_EVERY if "tta_shifts" in self.levers and hp.get("flip_average") else 1
        history = model.fit(train, steps_per_epoch=steps_per_epoch(len(y), batch_size), epochs=FINAL_FIT_MAX_EPOCHS,
                            validation_data=validation, validation_freq=every, callbacks=callbacks, shuffle=False,
                            verbose=verbose, **kwargs)
        if len(history.history.get("loss", [])) % every:  # the last pass was not validated: its figures end the list
            for name, value in model.evaluate(validation, verbose=0, return_dict=True).items():
                history.history.setdefault(f"val_{name}", []).append(value)
        return history


@contextmanager
def _policy(name: str) -> Iterator[None]:
    """Layers made inside compute under Keras' dtype policy `name` (their weights' dtype is the policy's own)."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def learning_rate(hp: kt.HyperParameters) -> float:
    """The searched learning rate, on the scale that suits the optimizer already chosen in `hp`.

    SGD with momentum on a batch-normalized network trains best near 0.01-0.2, the adaptive
    optimizers near 1e-3: one range for all would waste most samples. SGD's is `sgd_learning_rate`,
    the others' `learning_rate`, each active only with its optimizers (Keras Tuner's conditional
    hyperparameters need distinct names).
    """
    with hp.conditional_scope("optimizer", ["sgd"]):
        sgd = hp.Float("sgd_learning_rate", 3e-3, 0.3, sampling="log")
    with hp.conditional_scope("optimizer", [name for name in OPTIMIZERS if name != "sgd"]):
        adaptive = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    return sgd if hp.get("optimizer") == "sgd" else adaptive
