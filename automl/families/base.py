"""The contract of a model family: what the pipeline asks of MLP, CNN and every family to come."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from automl.data.inference import OwnData
from automl.data.schema import TASKS, Data, Schema
from automl.errors import AutomlError

if TYPE_CHECKING:  # the contract names them; a family's own module imports them (and TensorFlow)
    import tensorflow as tf

    from automl.hypermodels.base import SearchSpace
    from automl.track.sections import Track


@dataclass
class PredictInputs:
    """What `automl predict` read from the paths it was given: the raw inputs, the notes to show about them,
    and the columns that go first in the prediction table, one value per input (a CSV's ``--id`` column, the
    file of each image)."""

    raw: Any
    notes: list[str] = field(default_factory=list)
    leading: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServingInput:
    """What an exported SavedModel takes when it is not the model's own input (encoded image bytes, say):
    the signature's tensor, and the TensorFlow function that turns it into the model's input."""

    spec: tf.TensorSpec
    prepare: Callable[[tf.Tensor], Any]


class Family:
    """A model family: the data it reads, its search space, and how raw inputs reach its models.

    A family is a plug-in: one module with a subclass of this, and one line in the registry
    (`automl.families`). Nothing else in automl asks which family a track has; it asks the family.

    Class attributes
    ----------------
    name : str
        The name track files give in ``family = "..."``.
    data_kinds : tuple of str
        The ``data.kind`` values it reads.
    tasks : tuple of str
        The tasks it solves.
    space : type of SearchSpace
        Its Keras Tuner HyperModel.
    trains_on_the_clock : bool
        Whether its space can retrain the chosen configuration on a time budget (``search.final_fit``).
    refits : bool
        Whether its chosen configuration is retrained on training + validation (``search.refit``): its space's
        `training_data` takes the two splits' model inputs joined, and an epoch is one pass over them.
    summary : str
        What it is, in a few words, for the comment of a written track's ``family`` line.
    settings_notes : dict of str to str
        The comment a written track gives each ``[model]`` setting it asks for (`fits`).
    """

    name: ClassVar[str] = ""
    data_kinds: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = TASKS
    space: ClassVar[type[SearchSpace]]
    trains_on_the_clock: ClassVar[bool] = False
    refits: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    settings_notes: ClassVar[dict[str, str]] = {}

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """Whether a search of the user's own `data` should span this family, and if so the ``[model]`` settings it
        wants written in the track (`automl.families.fitting`); None when it does not fit. A family fits the data
        kinds and tasks it reads unless it says otherwise."""
        return {} if data.kind in self.data_kinds and data.task in self.tasks else None

    def refit_share(self, track: Track) -> float:
        """The share of the time limit kept for the refit on training + validation: none without `refits`, or
        with a final fit (which has its own share)."""
        return track.search.refit if self.refits and not track.search.final_fit else 0.0

    def check(self, track: Track) -> None:
        """Refuse a track this family cannot search, naming the key and the fix (`AutomlError`)."""
        where = str(track.source)
        if track.data.kind not in self.data_kinds:
            raise AutomlError(f"{where}: family '{self.name}' does not go with data.kind '{track.data.kind}'; "
                              f"family \"{self.name}\" reads data.kind {' or '.join(self.data_kinds)}")
        if track.task not in self.tasks:
            raise AutomlError(f"{where}: 'task' is {track.task!r}; family \"{self.name}\" solves "
                              f"{' or '.join(repr(t) for t in self.tasks)}")

    def load(self, track: Track, scratch: Path | None = None) -> Data:
        """The track's data, checked and split with its seed; the schema learned on the training split. `scratch`:
        a folder the family may keep decoded data in, when it is too large for memory (the run's store gives one,
        `automl.context.Run.data`); None keeps everything in memory."""
        raise NotImplementedError

    def hypermodel(self, track: Track, schema: Schema) -> SearchSpace:
        """The family's search space for this track."""
        return self.space(schema, track.objective, track.direction, batch_sizes=track.model.batch_sizes,
                          patience=track.search.patience, seed=track.search.seed, **self.space_options(track))

    def space_options(self, track: Track) -> dict[str, Any]:
        """The track's settings this family's space takes besides the shared ones."""
        return {}

    @property
    def main_hyperparameters(self) -> tuple[str, ...]:
        """Its search space's hyperparameters a reader compares first (the report's columns and plots)."""
        return self.space.main_hyperparameters

    @property
    def compared_by(self) -> str | None:
        """The hyperparameter that picks the kind of network in its space, if any: the report compares kinds."""
        return self.space.compared_by

    @property
    def chosen_only_when_best(self) -> tuple[str, ...]:
        """Kinds of network (values of `compared_by`) the choice rule takes only when one scores best."""
        return self.space.chosen_only_when_best

    @property
    def techniques(self) -> tuple[tuple[str, str], ...]:
        """Its space's searched techniques, as (hyperparameter, words): the report says which the chosen model uses."""
        return self.space.techniques

    def active_hyperparameters(self, values: dict[str, Any]) -> dict[str, Any]:
        return self.space.active_hyperparameters(values)

    def model_inputs(self, raw: Any, schema: Schema) -> Any:
        """Raw inputs (as a user gives them to `automl.predict`) as the model takes them, checked."""
        raise NotImplementedError

    def dataset(self, inputs: Any, batch_size: int | None = None) -> tf.data.Dataset:
        """Model inputs as a batched pipeline for `model.predict`."""
        raise NotImplementedError

    def read_inputs(self, paths: list[Path], schema: Schema, *, track_name: str,
                    id_column: str | None = None) -> PredictInputs:
        """The raw inputs in the files (or folders) given to `automl predict`, checked."""
        raise NotImplementedError

    def columns(self, schema: Schema) -> list[str]:
        """The raw input columns, by name, of a table the family reads: each can be shuffled on its own
        (permutation importance) and shown beside a row's error. None for inputs that are not columns."""
        return []

    def pictures(self, raw: Any, indices: Any, schema: Schema) -> Any:
        """The raw inputs at `indices` as uint8 pictures to show (worst mistakes), or None for inputs that
        are not pictures."""
        return None

    def describe_data(self, track: Track, schema: Schema) -> str:
        """One line for the report: what the data is and what is predicted."""
        raise NotImplementedError

    def signature(self, schema: Schema) -> str:
        """What the exported SavedModel's serving signature takes, in words."""
        raise NotImplementedError

    def serving_input(self, schema: Schema) -> ServingInput | None:
        """What the exported SavedModel takes instead of the model's input, if anything (None: the model's)."""
        return None
