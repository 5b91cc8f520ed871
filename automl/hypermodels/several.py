"""One search space over several families' spaces: a ``family`` choice, then that family's own space.

Each family's hyperparameters are declared under its name (Keras Tuner's name scope: ``cnn/filters``,
``backbone/dropout``) and only while the ``family`` choice is that family (a conditional scope), so two
spaces may use the same names (``learning_rate``, ``dropout``) with different ranges, and Hyperband samples
and continues each trial in one family's space. A trial's table row shows its own family's values under
their plain names (`active_hyperparameters`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import keras
import keras_tuner as kt

from automl.hypermodels.base import SearchSpace

FAMILY = "family"  # the hyperparameter that picks the family: the report compares the best trial of each


class SeveralSpaces(SearchSpace):
    """The union of `spaces` (family name -> its SearchSpace), chosen among by the ``family`` hyperparameter.

    `build`, `fit` and `fit_final` go to the chosen family's space, inside its name and conditional scope.
    """

    compared_by = FAMILY

    def __init__(self, spaces: dict[str, SearchSpace]) -> None:
        first = next(iter(spaces.values()))
        super().__init__(first.schema, first.objective, first.direction, batch_sizes=first.batch_sizes,
                         patience=first.patience, seed=first.seed, name="+".join(spaces))
        self.spaces = dict(spaces)

    @property
    def main_hyperparameters(self) -> tuple[str, ...]:  # type: ignore[override]
        return main_of(self.spaces.values())

    @contextlib.contextmanager
    def _scope(self, hp: kt.HyperParameters):
        name = hp.Choice(FAMILY, list(self.spaces))
        with hp.conditional_scope(FAMILY, [name]), hp.name_scope(name):
            yield self.spaces[name]

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        with self._scope(hp) as space:
            return space.build(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any):
        with self._scope(hp) as space:
            return space.fit(hp, model, *args, **kwargs)

    def can_fit_final(self, hp: kt.HyperParameters) -> bool:
        return self.spaces[hp.get(FAMILY)].can_fit_final(hp)

    def fit_final(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any):
        with self._scope(hp) as space:
            return space.fit_final(hp, model, *args, **kwargs)

    def active_hyperparameters(self, values: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        return plain_values(values, self.spaces)

    def starts_in_space(self, start: dict[str, Any]) -> list[dict[str, Any]]:
        """A track's ``model.start`` in this space's names: its ``family`` (the first family when it names none),
        and the rest under that family's scope (``filters`` -> ``cnn/filters``), as `plain_values` undoes."""
        if not start:
            return []
        name = start.get(FAMILY, next(iter(self.spaces)))
        return [{FAMILY: name, **{f"{name}/{key}": value for key, value in start.items() if key != FAMILY}}]


def main_of(spaces: Iterable[Any]) -> tuple[str, ...]:
    """The hyperparameters a reader compares first: the family, then each family's own, in order, once."""
    return tuple(dict.fromkeys([FAMILY, *(h for space in spaces for h in space.main_hyperparameters)]))


def plain_values(values: dict[str, Any], spaces: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's family, and its own active hyperparameters under their plain names (as a search of that family
    alone shows them). `spaces` maps each family name to what answers `active_hyperparameters` for it."""
    name = values.get(FAMILY)
    if name not in spaces:
        return dict(values)
    prefix = f"{name}/"
    own = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
    return {FAMILY: name, **spaces[name].active_hyperparameters(own)}
