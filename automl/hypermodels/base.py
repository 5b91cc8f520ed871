"""What every family's HyperModel shares: its settings, and `fit` over tf.data pipelines with the standard callbacks."""
from __future__ import annotations

from typing import Any, ClassVar

import keras
import keras_tuner as kt
import tensorflow as tf

from automl.data.schema import Schema
from automl.hypermodels.training import fit_timing, trial_callbacks


class SearchSpace(kt.HyperModel):
    """A Keras Tuner HyperModel over the inputs a `Schema` describes, judged on `objective`.

    A subclass writes `build` (the space, top to bottom) and says how its inputs become tf.data
    pipelines (`training_data`, `validation_data`); `fit` is shared: it searches the batch size and
    ReduceLROnPlateau, and adds EarlyStopping and TerminateOnNaN to the trial's callbacks.

    Parameters
    ----------
    schema : Schema
        What the model takes, learned on the training split.
    objective, direction : str
        The validation metric the trials are judged on, and whether to "min" or "max" it.
    batch_sizes : list of int
        The batch sizes to choose from.
    patience : int
        EarlyStopping's patience, in epochs.
    """

    # The hyperparameters of this space a reader compares first, most telling first: the report's columns and
    # plots show them beside the ones every space shares (learning rate, batch size, optimizer).
    main_hyperparameters: ClassVar[tuple[str, ...]] = ()
    # The hyperparameter that picks the kind of network, if the space searches several (a text encoder): the
    # report compares the best trial of each kind.
    compared_by: ClassVar[str | None] = None
    # The searched choices that are techniques a reader asks about (an embedding, a loss, a test-time average),
    # as (hyperparameter, words): the report says which of them the chosen model uses.
    techniques: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Kinds of network (values of `compared_by`) the choice rule takes only when one has the best score: a network
    # over more inputs that costs more than the others, and is worth it only where it beats them.
    chosen_only_when_best: ClassVar[tuple[str, ...]] = ()

    def __init__(self, schema: Schema, objective: str, direction: str, *, batch_sizes: list[int],
                 patience: int, seed: int = 42, name: str | None = None) -> None:
        super().__init__(name=name)
        self.schema = schema
        self.objective = objective
        self.direction = direction
        self.batch_sizes = list(batch_sizes)
        self.patience = patience
        self.seed = seed

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, *,
            validation_data: tuple[Any, Any], callbacks: list | None = None, **kwargs: Any):
        batch_size = hp.Choice("batch_size", self.batch_sizes)
        reduce_lr = hp.Boolean("reduce_lr_on_plateau")
        train, options = self.training_pipeline(x, y, batch_size, kwargs.get("initial_epoch", 0),
                                                kwargs.pop("class_weight", None))
        validation = self.validation_data(*validation_data, batch_size=batch_size)
        callbacks = list(callbacks or []) + trial_callbacks(self.objective, self.direction, self.patience, reduce_lr)
        # shuffle=False: the tf.data pipeline shuffles; Keras would only warn that it ignores the flag.
        with fit_timing(callbacks):
            return model.fit(train, validation_data=validation, callbacks=callbacks, shuffle=False, **options,
                             **kwargs)

    def training_data(self, x: Any, y: Any, batch_size: int, initial_epoch: int,
                      class_weight: dict[int, float] | None = None) -> tuple[tf.data.Dataset, dict]:
        """The training pipeline for one trial, and any extra arguments for `model.fit` (e.g. steps_per_epoch).

        `class_weight` is Keras' (a weight per class label): a space may put the weights in its pipeline as
        each row's sample weight, or hand them to `model.fit` among the arguments (`fit_options`).
        """
        raise NotImplementedError

    def validation_data(self, x: Any, y: Any, batch_size: int) -> tf.data.Dataset:
        raise NotImplementedError

    def training_pipeline(self, x: Any, y: Any, batch_size: int, initial_epoch: int,
                          class_weight: dict[int, float] | None = None) -> tuple[tf.data.Dataset, dict]:
        """`training_data`, given `class_weight` only when there are weights: a plug-in space for tasks without
        class weights need not take them."""
        if class_weight:
            return self.training_data(x, y, batch_size, initial_epoch, class_weight=class_weight)
        return self.training_data(x, y, batch_size, initial_epoch)

    def can_fit_final(self, hp: kt.HyperParameters) -> bool:
        """Whether the configuration `hp` can be retrained on a time budget (`fit_final`, the final fit)."""
        return callable(getattr(self, "fit_final", None))

    @staticmethod
    def active_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
        """The trial's hyperparameters, with those its architecture did not use blanked (None).

        Keras Tuner keeps a value for every hyperparameter ever declared; a report should show only
        those the trial used. By default all are.
        """
        return dict(values)

    def starts_in_space(self, start: dict[str, Any]) -> list[dict[str, Any]]:
        """The trials a track's ``model.start`` (hyperparameters by their plain names) opens the search with, in this
        space's names: itself here (none without a start); a space over several families scopes it
        (`automl.hypermodels.several.SeveralSpaces`), and one over a table's columns and its images opens with each
        kind of network (`automl.hypermodels.combined.CombinedHyperModel`)."""
        return [dict(start)] if start else []


def fit_options(class_weight: dict[int, float] | None, **options: Any) -> dict[str, Any]:
    """`model.fit`'s extra arguments for a training pipeline: `options`, and Keras' own ``class_weight`` if any."""
    return {**options, "class_weight": class_weight} if class_weight else options
