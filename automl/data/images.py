"""Images: find the CIFAR-10 arrays (a given file, an imported copy, or Keras' download), check them, split them.

`import_dataset` (`automl data import`) checks and stores every importable dataset, ToLD-BR's CSV too.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from automl.data.home import IMPORTABLE, imported_path, store_copy
from automl.data.schema import Data, Schema, Split
from automl.data.tabular import read_csv
from automl.data.whitening import patch_whitening
from automl.errors import AutomlError, first_line

KEYS = ("x_train", "y_train", "x_test", "y_test")
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TOLD_BR_COLUMNS = ("text", "toxic")  # ToLD-BR's binary file: tweets, and yes/no
MIN_IMAGES = 20
Arrays = dict[str, np.ndarray]


def read_npz(path: Path, classes: int | None = None) -> Arrays:
    """The four arrays of an npz in the format of ``keras.datasets.cifar10.load_data()``, checked.

    `classes`: how many classes the labels may name (labels are 0 .. classes-1); None takes any
    non-negative labels.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                raise AutomlError(
                    f"{path}: no array named {', '.join(repr(k) for k in missing)} (found: "
                    f"{', '.join(archive.files) or 'none'}); an image npz holds {', '.join(KEYS)}"
                )
            arrays = {k: archive[k] for k in KEYS}
    except FileNotFoundError:
        raise AutomlError(f"image file {path} does not exist; check the path") from None
    except (OSError, ValueError, EOFError) as error:
        reason = first_line(error)
        raise AutomlError(f"cannot read {path} as an npz archive ({reason}); check the file") from None
    check_arrays(arrays, str(path), classes)
    return arrays


def check_arrays(arrays: Arrays, where: str, classes: int | None = None) -> None:
    """Images (N, H, W, 3) uint8 and labels (N,) or (N, 1) integers within the classes, in matching numbers."""
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.dtype != np.uint8:
            raise AutomlError(f"{where}: 'x_{part}' has dtype {x.dtype}; images must be uint8 (0-255)")
        if x.ndim != 4 or x.shape[-1] != 3:
            raise AutomlError(f"{where}: 'x_{part}' has shape {x.shape}; images must be (N, height, width, 3)")
        if x.shape[1:] != arrays["x_train"].shape[1:]:
            raise AutomlError(f"{where}: 'x_{part}' images are {x.shape[1:]}, 'x_train' images "
                              f"{arrays['x_train'].shape[1:]}; all images must have one size")
        if not np.issubdtype(y.dtype, np.integer):
            raise AutomlError(f"{where}: 'y_{part}' has dtype {y.dtype}; labels must be integers")
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise AutomlError(f"{where}: 'y_{part}' has shape {y.shape}; labels must be (N,) or (N, 1)")
        if len(y) != len(x):
            raise AutomlError(f"{where}: 'x_{part}' has {len(x)} images but 'y_{part}' {len(y)} labels; "
                              "they must match")
        if len(y) and (y.min() < 0 or (classes is not None and y.max() >= classes)):
            bad = y.min() if y.min() < 0 else y.max()
            allowed = f"0 to {classes - 1}" if classes is not None else "0 or more"
            raise AutomlError(f"{where}: 'y_{part}' holds label {int(bad)}; labels must be {allowed}")
    if len(arrays["x_train"]) < MIN_IMAGES:
        raise AutomlError(f"{where}: 'x_train' has {len(arrays['x_train'])} images; "
                          f"a search needs at least {MIN_IMAGES}")


def import_dataset(name: str, path: str | os.PathLike) -> Path:
    """Check a local copy of a known dataset and copy it where the loader finds it; returns where it went.

    Examples
    --------
    >>> import_dataset("cifar10", "../shared/data/cifar10/cifar10.npz")
    PosixPath('/home/me/.automl/datasets/cifar10.npz')
    """
    if name not in IMPORTABLE:
        raise AutomlError(f"cannot import dataset {name!r}; known datasets: {', '.join(IMPORTABLE)}")
    source = Path(path).expanduser()
    _CHECKS[name](source)
    return store_copy(source, name)


def _check_told_br(path: Path) -> None:
    frame = read_csv(path)
    missing = [c for c in TOLD_BR_COLUMNS if c not in frame.columns]
    if missing:
        raise AutomlError(f"{path}: no column {', '.join(repr(c) for c in missing)}; ToLD-BR's binary file "
                          f"(told_br_toxic.csv) has the columns {', '.join(TOLD_BR_COLUMNS)}")


_CHECKS: dict[str, Callable[[Path], Any]] = {
    "cifar10": lambda path: read_npz(path, classes=len(CIFAR10_CLASSES)), "told_br": _check_told_br,
}


def keras_cifar10() -> Arrays:
    """`keras.datasets.cifar10.load_data()` (downloads about 170 MB the first time)."""
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def cifar10_arrays(path: Path | None = None, download: Callable[[], Arrays] = keras_cifar10) -> Arrays:
    """CIFAR-10 from `path` if given, else from the imported copy, else from Keras' download."""
    classes = len(CIFAR10_CLASSES)
    if path is not None:
        return read_npz(path, classes)
    if imported_path("cifar10").is_file():
        return read_npz(imported_path("cifar10"), classes)
    try:
        arrays = download()
    except Exception as error:  # noqa: BLE001  any failure of the download has the same two fixes
        reason = first_line(error, 200)
        raise AutomlError(
            f"CIFAR-10 is not available: no imported copy at {imported_path('cifar10')} and Keras' download "
            f"failed ({reason}); import a local copy once with `automl data import cifar10 PATH` "
            "(an npz with x_train, y_train, x_test, y_test), or connect to the network and rerun"
        ) from None
    check_arrays(arrays, "keras.datasets.cifar10", classes)
    return arrays


def load_images(arrays: Arrays, task: str, *, classes: list[Any] | None = None,
                validation: float = 0.1, seed: int = 42) -> Data:
    """Split a stratified, seeded validation set off the training images; the test images stay as given."""
    if task != "multiclass":
        raise AutomlError(f"an image track classifies into classes; set task = \"multiclass\" (got {task!r})")
    y_train = arrays["y_train"].reshape(-1).astype("int64")
    y_test = arrays["y_test"].reshape(-1).astype("int64")
    if classes is None:
        classes = list(range(int(max(y_train.max(), y_test.max(initial=0))) + 1))
    counts = np.bincount(y_train, minlength=len(classes))
    present = int((counts > 0).sum())
    validation_size = math.ceil(validation * len(y_train))
    # Stratify where it can be done: every class twice or more, and room for each class on both sides.
    can_stratify = counts[counts > 0].min() >= 2 and present <= min(validation_size, len(y_train) - validation_size)
    stratify = y_train if can_stratify else None
    try:
        train_idx, val_idx = train_test_split(np.arange(len(y_train)), test_size=validation,
                                              random_state=seed, stratify=stratify)
    except ValueError as error:
        raise AutomlError(f"cannot split the training images ({error}); "
                          "add images or change split.validation") from None
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)
    x_train = arrays["x_train"]
    schema = Schema(task=task, target="label", classes=list(classes), kind="images",
                    image_shape=[int(d) for d in x_train.shape[1:]],
                    whitening=patch_whitening(x_train[train_idx], seed=seed))
    return Data(
        schema,
        Split(x_train[train_idx], y_train[train_idx]),
        Split(x_train[val_idx], y_train[val_idx]),
        Split(arrays["x_test"], y_test),
    )


def image_inputs(images: Any, schema: Schema) -> np.ndarray:
    """Check raw images against what the model was trained on: uint8, (N, height, width, 3); a model of image
    files (``schema.kind == "image_files"``) resizes them itself, and takes any height and width."""
    shape = tuple(schema.image_shape)
    if schema.kind == "image_files":
        shape = (None, None, shape[-1])
    expected = f"expected uint8 images of shape (N, {', '.join('any' if d is None else str(d) for d in shape)})"
    if not isinstance(images, np.ndarray):
        raise AutomlError(f"{expected}, got {type(images).__name__}")
    fits = images.ndim == len(shape) + 1 and all(d in (None, n) for d, n in zip(shape, images.shape[1:], strict=True))
    if images.dtype != np.uint8 or not fits:
        raise AutomlError(f"{expected}, got {images.dtype} of shape {images.shape}")
    return images
