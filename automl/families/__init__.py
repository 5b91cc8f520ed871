"""The model families a track can name (``family = "mlp"``), and the registry that finds them.

A family is a plug-in (`automl.families.base.Family`): one module that defines it, plus one line in
`MODULES` below; or `register_family` at run time, as a test or a user's own code does. Nothing else in
automl branches on the family.

A family's module is imported when the family is first asked for (`importlib`), not when automl is:
families bring TensorFlow with them, and `automl --help`, `import automl` and a track name that does not
exist must answer without it. This is the one lazy import of automl's own modules outside ``cli.py`` and
``__init__.py``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from automl.data.inference import OwnData
from automl.errors import AutomlError
from automl.families.base import Family

if TYPE_CHECKING:
    from automl.track.sections import Track

MODULES = {  # a track's family name -> the module whose FAMILY it is
    "mlp": "automl.families.mlp",
    "cnn": "automl.families.cnn",
    "backbone": "automl.families.backbone",
    "text": "automl.families.text",
    "combined": "automl.families.combined",
}
_registered: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Make `family` available to track files under ``family.name`` (replacing one of that name)."""
    if not family.name:
        raise ValueError("a family needs a name")
    _registered[family.name] = family
    return family


def family_names() -> list[str]:
    return sorted({*MODULES, *_registered})


def get_family(name: str) -> Family:
    """The family registered under `name`; an `AutomlError` naming the known ones otherwise."""
    if name not in _registered:
        if name not in MODULES:
            raise AutomlError(f"unknown model family {name!r}; known families: {', '.join(family_names())}")
        register_family(importlib.import_module(MODULES[name]).FAMILY)
    return _registered[name]


def fitting(data: OwnData) -> dict[str, dict[str, Any]]:
    """The built-in families (`MODULES`, in its order) that fit a user's own `data`, each with the ``[model]``
    settings it wants in the track (`Family.fits`), with one start between them (`_one_start`): what ``automl search
    --csv`` and ``--images`` write. A family registered at run time is searched when a track names it, and never
    volunteers for your data."""
    found = {}
    for name in MODULES:
        settings = get_family(name).fits(data)
        if settings is not None:
            found[name] = settings
    return _one_start(found)


def _one_start(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A search opens with one start (``model.start``): the first family's that offers one. Over several families it
    names its family (``family = "cnn"``, as `SearchSpace.starts_in_space` reads it), and the others' are left out."""
    offering = [name for name, settings in found.items() if "start" in settings]
    if len(found) == 1 or not offering:
        return found
    first = offering[0]
    kept = {name: {key: value for key, value in settings.items() if key != "start" or name == first}
            for name, settings in found.items()}
    kept[first]["start"] = {"family": first, **found[first]["start"]}
    return kept


def family_of(track: Track) -> Family:
    """The family that searches `track`: its one family, or all of them as one (``family = ["cnn", "backbone"]``),
    once it has checked the track.

    The parser (`automl.track.parse`) checks what every track shares; what only a family knows (the data kinds and
    tasks it takes, its own settings, whether it trains on the clock for a final fit) is checked here, so that the
    track layer never asks the families above it. `automl.context.Run.open` calls this once per run.
    """
    where = str(track.source)
    for name in track.families:
        if name not in MODULES and name not in _registered:
            raise AutomlError(f"{where}: 'family' is {name!r}; use one of: {', '.join(family_names())}")
    if len(track.families) == 1:
        family = get_family(track.family)
    else:
        from automl.families.several import SeveralFamilies  # brings TensorFlow, as every family does

        family = SeveralFamilies(tuple(get_family(name) for name in track.families))
    family.check(track)
    if track.search.final_fit and not family.trains_on_the_clock:
        trainers = " or ".join(f'"{n}"' for n in family_names() if get_family(n).trains_on_the_clock)
        raise AutomlError(f"{where}: 'search.final_fit' is for families that train on the clock ({trainers}); "
                          "remove it")
    return family
