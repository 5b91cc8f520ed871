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
from typing import TYPE_CHECKING

from automl.errors import AutomlError
from automl.families.base import Family

if TYPE_CHECKING:
    from automl.track.sections import Track

MODULES = {  # a track's family name -> the module whose FAMILY it is
    "mlp": "automl.families.mlp",
    "cnn": "automl.families.cnn",
    "backbone": "automl.families.backbone",
    "text": "automl.families.text",
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


def family_of(track: Track) -> Family:
    """The family that searches `track`: its one family, or all of them as one (``family = ["cnn", "backbone"]``)."""
    if len(track.families) == 1:
        return get_family(track.family)
    from automl.families.several import SeveralFamilies  # brings TensorFlow, as every family does

    return SeveralFamilies(tuple(get_family(name) for name in track.families))
