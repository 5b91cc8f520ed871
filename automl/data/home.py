"""Datasets imported once into ``$AUTOML_HOME/datasets`` (`automl data import NAME PATH`): where they go.

Large or licensed data is not shipped in the package: a track finds a local copy given in the track, or the
copy imported here (CIFAR-10, ToLD-BR). Pretrained weights imported offline (`automl weights import`) are kept
beside them, in ``$AUTOML_HOME/weights``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from automl.errors import AutomlError

IMPORTABLE = {"cifar10": ".npz", "told_br": ".csv"}  # what `automl data import` takes, with the file kind


def automl_home() -> Path:
    """``$AUTOML_HOME``, else ``~/.automl``: where imported datasets are kept."""
    return Path(os.environ.get("AUTOML_HOME") or "~/.automl").expanduser()


def imported_dir() -> Path:
    return automl_home() / "datasets"


def weights_dir() -> Path:
    """Where `automl weights import` keeps pretrained weights."""
    return automl_home() / "weights"


def imported_path(name: str) -> Path:
    """Where an imported dataset is stored and its loader looks for it."""
    return imported_dir() / f"{name}{IMPORTABLE.get(name, '')}"


def store_copy(source: Path, name: str) -> Path:
    """Copy a checked file to `imported_path(name)`."""
    return copy_atomically(source, imported_path(name))


def copy_atomically(source: Path, target: Path) -> Path:
    """Copy `source` to `target`; written beside it and renamed, so no loader sees half a file."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")  # created with the usual permissions
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise AutomlError(f"cannot store the copy in {target.parent} ({error.strerror or error}); "
                          "free disk space, fix permissions or set AUTOML_HOME") from None
    return target
