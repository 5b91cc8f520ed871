"""Pretrained weights: where a backbone's ImageNet weights are found, how an offline copy is checked and imported
(`automl weights import NAME FILE`), and how they are loaded into the network. Never silently random weights.

A backbone's weights are, in order: the copy imported into ``$AUTOML_HOME/weights``; Keras' own cache
(``$KERAS_HOME/models``, default ``~/.keras/models``) under the file name Keras' download gives them, so a
file Keras fetched once serves here too; else Keras' download of that file (with a network). Without any of
them, a one-line error names both fixes.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import h5py
import keras

from automl.data.home import copy_atomically, weights_dir
from automl.errors import AutomlError, AutomlWarning, first_line
from automl.hypermodels.pretrained import PRETRAINED, Pretrained

# The two files `model.load_weights` reads, told apart by how their names end: Keras 3's weights file, and the
# legacy HDF5 file keras.applications downloads.
SUFFIXES = {"keras": ".weights.h5", "legacy": ".h5"}
# Downloads that failed in this process, with why: a search builds its space once per trial it loads, and a
# network that drops connections silently would make each try wait; weights found on disk still count.
_failed_downloads: dict[str, str] = {}


def keras_cache_dir() -> Path:
    """``$KERAS_HOME``, else ``~/.keras``: Keras' cache, whose ``models/`` holds the weights it downloaded."""
    return Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser()


def keras_download(entry: Pretrained) -> Path:
    """Keras' own download of `entry`'s weights into its cache (checked against Keras' hash when it has one).

    Keras prints "Downloading data from ..." on standard output, which is the predictions' and the report's;
    whether it worked is said by automl (the search uses the weights, or a note names those skipped)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return Path(keras.utils.get_file(entry.file_name, entry.origin, file_hash=entry.file_hash,
                                         cache_subdir="models", cache_dir=str(keras_cache_dir())))


def check_names(names: Iterable[str]) -> None:
    unknown = [name for name in names if name not in PRETRAINED]
    if unknown:
        raise AutomlError(f"unknown backbone {', '.join(repr(n) for n in unknown)}; known backbones: "
                          f"{', '.join(PRETRAINED)}")


def find(name: str) -> Path | None:
    """The weights file of backbone `name` on this machine (imported, else in Keras' cache), or None."""
    places = [weights_dir() / f"{name}{suffix}" for suffix in SUFFIXES.values()]
    places.append(keras_cache_dir() / "models" / PRETRAINED[name].file_name)
    return next((place for place in places if place.is_file()), None)


def weights_path(name: str, download: Callable[[Pretrained], Path] | None = None) -> Path:
    """The weights file of backbone `name`: found here, else downloaded by Keras; an `AutomlError` otherwise."""
    check_names([name])
    found = find(name)
    if found is not None:
        return found
    entry = PRETRAINED[name]
    if name not in _failed_downloads:
        try:
            return (download or keras_download)(entry)
        except Exception as error:  # noqa: BLE001  any failure of the download has the same two fixes
            _failed_downloads[name] = first_line(error, 120)
    raise AutomlError(
        f"no ImageNet weights for backbone '{name}': none imported in {weights_dir()}, none in Keras' cache "
        f"({keras_cache_dir() / 'models' / entry.file_name}), and Keras' download failed "
        f"({_failed_downloads[name]}); connect to the network so that Keras downloads them, or import a copy "
        f"once with `automl weights import {name} FILE`")


def available(names: Iterable[str], download: Callable[[Pretrained], Path] | None = None) -> dict[str, Path]:
    """The weights files of those of `names` that have some, with a note (`AutomlWarning`) naming those
    skipped for want of weights; an `AutomlError` when none has any."""
    names = list(names)
    found: dict[str, Path] = {}
    missing: list[str] = []
    first_error: AutomlError | None = None
    for name in names:
        try:
            found[name] = weights_path(name, download)
        except AutomlError as error:
            missing.append(name)
            first_error = first_error or error
    if not found:
        if len(names) == 1 and first_error is not None:
            raise first_error
        raise AutomlError(f"no ImageNet weights for any of the backbones {', '.join(names)}; connect to the network "
                          "so that Keras downloads them, or import a copy once with `automl weights import NAME "
                          "FILE`")
    if missing:
        warnings.warn(f"backbone{'s' * (len(missing) > 1)} {', '.join(missing)} skipped: no ImageNet weights "
                      f"(none imported, none in Keras' cache, no download); add them with `automl weights import "
                      f"NAME FILE` or with a network, or leave them out of model.backbones", AutomlWarning,
                      stacklevel=2)
    return found


def load_backbone(name: str, size: int, path: Path, *, shown: Path | None = None) -> keras.Model:
    """Backbone `name` built for `size`-pixel images with the weights in `path` (see `automl.hypermodels.pretrained`
    for why 224-pixel weights serve every size); errors name the file as `shown` (default: `path`)."""
    entry = PRETRAINED[name]
    backbone = entry.build(size)
    try:
        with warnings.catch_warnings():  # Keras warns once per layer before it raises; the error says it all
            warnings.simplefilter("ignore")
            backbone.load_weights(str(path))
    except (ValueError, OSError, KeyError) as error:
        reason = first_line(error, 160).split(" Example error message")[0]
        raise AutomlError(f"{shown or path} does not hold {name}'s weights ({reason}); import the no-top "
                          f"ImageNet weights of keras.applications.{entry.application} with "
                          f"`automl weights import {name} FILE`") from None
    entry.adjust(backbone)
    return backbone


def file_format(path: Path) -> str:
    """'legacy' for the HDF5 weights keras.applications downloads, 'keras' for Keras 3's ``.weights.h5``."""
    try:
        with h5py.File(path, "r") as handle:
            if "layer_names" in handle.attrs:
                return "legacy"
            if "vars" in handle or "layers" in handle:
                return "keras"
    except OSError as error:
        raise AutomlError(f"{path} is not a weights file ({first_line(error, 120)}); give the no-top "
                          "weights .h5 that keras.applications downloads, or a .weights.h5 of the backbone") from None
    raise AutomlError(f"{path} is an HDF5 file without weights; give the no-top weights .h5 that keras.applications "
                      "downloads, or a .weights.h5 of the backbone")


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(name: str, path: Path) -> str:
    """Refuse a file that is not backbone `name`'s weights: Keras' published md5 for its own file, where it has
    one, and in every case that the tensors load into the network with the right shapes. Returns its format."""
    entry = PRETRAINED[name]
    kind = file_format(path)
    if kind == "legacy" and entry.file_hash and md5(path) != entry.file_hash:
        raise AutomlError(f"{path} has md5 {md5(path)}, not the {entry.file_hash} Keras publishes for "
                          f"{entry.file_name} ({name}); give that file, as Keras downloads it, or a "
                          ".weights.h5 saved from the backbone")
    with tempfile.TemporaryDirectory() as directory:  # `load_weights` reads the format from the file name
        named = Path(directory) / f"weights{SUFFIXES[kind]}"
        os.symlink(path.resolve(), named)
        load_backbone(name, min(entry.sizes), named, shown=path)
    return kind


def import_weights(name: str, path: str | os.PathLike) -> Path:
    """Check a local copy of backbone `name`'s weights and store it where the search finds it.

    Examples
    --------
    >>> import_weights("mobilenet_v1_0.25", "mobilenet_2_5_224_tf_no_top.h5")
    PosixPath('/home/me/.automl/weights/mobilenet_v1_0.25.h5')
    """
    check_names([name])
    source = Path(path).expanduser()
    if not source.is_file():
        raise AutomlError(f"weights file {source} does not exist; check the path")
    kind = check_file(name, source)
    target = copy_atomically(source, weights_dir() / f"{name}{SUFFIXES[kind]}")
    for other in SUFFIXES.values():  # one copy per backbone: the last imported
        if other != SUFFIXES[kind]:
            (weights_dir() / f"{name}{other}").unlink(missing_ok=True)
    return target
