"""Columns of a table that hold image file paths: found, checked row by row, and decoded once.

A column is one of image paths when its values end in an image extension (`IMAGE_EXTENSIONS`, what a folder of
images is read with) on at least `IMAGE_SHARE` of its filled rows. A path is relative to the CSV's folder, or
absolute. Each image is decoded by `automl.data.image_folder.decode_image` (training, `automl predict` and the
exported SavedModel see the same pixels) to a square of the training side, and kept in memory for the run
(`automl.data.image_folder.DecodedImages`): the search, the choice and the report ask for a split's inputs many
times. This module needs no TensorFlow: the column-type rules (`automl.data.inference`) use it, and `import automl`
must not load TensorFlow.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from automl.errors import AutomlError, AutomlWarning

# What `keras.utils.image_dataset_from_directory` reads, and what tf.io.decode_image decodes.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

IMAGE_SHARE = 0.9  # a text column whose values end in an image extension this often holds image paths
SHOWN = 3  # bad rows named in a message


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def looks_like_image_paths(values: pd.Series) -> bool:
    """Whether a column's filled values are mostly image file paths (by their extension)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    return bool(len(present)) and bool(present.str.lower().str.endswith(IMAGE_EXTENSIONS).mean() >= IMAGE_SHARE)


def resolved(values: pd.Series, base: Path | None) -> pd.Series:
    """The paths of a column, absolute: relative ones taken from `base` (the CSV's folder; None: the working one);
    blanks stay blank."""
    def one(value):
        if pd.isna(value) or not str(value).strip():
            return None
        path = Path(str(value).strip()).expanduser()
        return str(path if path.is_absolute() or base is None else base / path)

    return values.map(one)


def problem(path: str | None) -> str | None:
    """What is wrong with one row's image path, in a few words; None when it is an image file that exists."""
    if path is None:
        return "has no image path"
    file = Path(path)
    if file.is_dir():
        return f"{path} is a folder, not an image file"
    if not file.exists():
        return f"{path} does not exist"
    if not is_image(file):
        return f"{path} is not an image file (images end in {', '.join(IMAGE_EXTENSIONS)})"
    return None


def checked_rows(frame: pd.DataFrame, columns: list[str], *, base: Path | None, size: int, decoded: Any,
                 where: str, drop: bool = False, row_name: str = "line", training: bool = True) -> pd.DataFrame:
    """`frame` with its image `columns` as absolute paths, every image decoded into `decoded` (an
    `automl.data.image_folder.DecodedImages`); a row whose image is
    missing, not an image, a folder or undecodable is an error naming the row and the path, or left out with a note
    when `drop`. An image column with no path at all is an error. Rows are named by their line in the file
    (`row_name` "line": the index + 2, after the header) or their label in the DataFrame's index ("row"). Rows to
    predict (not `training`) are never left out: the error's fix is the path, or the row."""
    frame = frame.copy()
    bad: dict[object, str] = {}
    for column in columns:
        frame[column] = resolved(frame[column], base)
        if frame[column].isna().all():
            raise AutomlError(f"{where}: image column '{column}' is empty (no path on any row); fill it with image "
                              f"file paths, or leave the column out (--drop {column})")
        problems = frame[column].map(problem)
        for index, reason in problems.dropna().items():
            bad.setdefault(index, f"image column '{column}': {reason}")
        fine = problems.isna()
        files = frame.loc[fine, column].tolist()
        for position in decoded.undecodable(files, size):
            bad.setdefault(frame.index[fine][position], f"image column '{column}': {files[position]} cannot be "
                                                        "decoded as an image (a damaged or mislabelled file)")
    if not bad:
        return frame
    label = (lambda index: f"line {index + 2}") if row_name == "line" else (lambda index: f"row {index}")
    shown = "; ".join(f"{label(index)}, {reason}" for index, reason in list(bad.items())[:SHOWN])
    more = f" (and {len(bad) - SHOWN} more rows)" if len(bad) > SHOWN else ""
    if not training:
        raise AutomlError(f"{where}: {shown}{more}; fix the path, or remove the row: every row given is predicted")
    if not drop:
        raise AutomlError(f"{where}: {shown}{more}; fix the path, or leave such rows out with "
                          'bad_images = "drop" in the track\'s [data] (--drop-bad-images)')
    if len(bad) == len(frame):
        raise AutomlError(f"{where}: no row has a readable image ({shown}{more}); check the paths")
    warnings.warn(f"{where}: leaving out {len(bad)} of {len(frame)} rows whose image cannot be read ({shown}{more})",
                  AutomlWarning, stacklevel=2)
    return frame.drop(index=list(bad))

