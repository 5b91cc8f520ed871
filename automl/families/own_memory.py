"""A track file from data in memory (a notebook's DataFrame, image arrays, image paths with labels): the data written
beside the track under ``tracks/``, then the track written as for your own CSV or folder.

So a search begun in Python is a track like any other: ``automl search --track <name>`` resumes it, and
``automl report``, ``automl predict`` and ``automl export`` find it. The data is written once; a rerun with the same
data finds it unchanged (and the search resumes); other data under the same name is refused unless `replace`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from automl.data.image_columns import looks_like_image_paths, resolved
from automl.data.tabular import check_own_rows, read_csv
from automl.errors import AutomlError
from automl.families.own_csv import (
    CsvTrack,
    check_name,
    check_own_split,
    csv_track_name,
    track_from_csv,
    track_name,
)
from automl.families.own_images import track_from_images
from automl.store import write_atomic

DIGEST_FILE = ".automl-source"  # hidden: a folder of images lists only visible files


def track_from_frame(frame: pd.DataFrame, target: str, *, name: str, task: str | None = None,
                     tracks_dir: str | os.PathLike | None = None, replace: bool = False,
                     split_by: dict[str, str | None] | None = None, own: dict[str, Any] | None = None) -> CsvTrack:
    """Write `frame` to ``<tracks_dir>/<name>.csv`` and infer its track, as `track_from_csv` does (a column of image
    paths relative to the working folder is written with absolute paths). `own` holds the user's own validation
    and test rows by split: a DataFrame is written beside it (``<name>_validation.csv``), a CSV file is read where
    it is."""
    if not isinstance(frame, pd.DataFrame):
        raise AutomlError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty or len(frame.columns) == 0:
        raise AutomlError("the DataFrame is empty; give one with rows and a target column")
    if target not in frame.columns:
        raise AutomlError(f"target '{target}' is not a column of the DataFrame; its columns are: "
                          f"{', '.join(map(str, frame.columns))}")
    check_name(name)
    directory = Path(tracks_dir) if tracks_dir is not None else Path("tracks")
    files = own_rows_files(own or {}, list(frame.columns), directory, name, replace, split_by or {})
    csv = _written(frame, directory / f"{name}.csv", name, replace)
    return track_from_csv(csv, target, task=task, name=name, tracks_dir=directory, replace=replace,
                          **(split_by or {}), **files)


def own_rows_files(own: dict[str, Any], columns: list[str], directory: Path, name: str, replace: bool,
                   split_by: dict[str, str | None]) -> dict[str, Any]:
    """The user's own validation and test rows (`own`, by split) as `track_from_csv` takes them
    (``validation_csv=``): a DataFrame, checked to have rows and the data's `columns`, written beside the track
    (``<name>_validation.csv``); a CSV file as it is (`track_from_csv` checks it). Nothing is written unless all
    are sound."""
    own = {part: rows for part, rows in own.items() if rows is not None}
    check_own_split(list(own), split_by)
    for part, rows in own.items():
        if isinstance(rows, pd.DataFrame):
            check_own_rows(rows, columns, f"{part}_data")
        elif not isinstance(rows, (str, os.PathLike)):
            raise AutomlError(f"{part}_data is a {type(rows).__name__}; give a DataFrame with the data's columns, "
                              "or a CSV file")
    return {f"{part}_csv": _written(rows, directory / f"{name}_{part}.csv", name, replace)
            if isinstance(rows, pd.DataFrame) else rows for part, rows in own.items()}


def _written(frame: pd.DataFrame, csv: Path, name: str, replace: bool) -> Path:
    """`frame` written to `csv`, or found there unchanged; other data there is kept unless `replace`."""
    # Image paths relative to the working folder, as the frame's user means them, written absolute: the CSV's
    # paths are read relative to its own folder.
    images = [c for c in frame.columns if looks_like_image_paths(frame[c])]
    text = frame.assign(**{c: resolved(frame[c], Path.cwd()) for c in images}).to_csv(index=False)
    if csv.is_file() and csv.read_text(encoding="utf-8") != text and not replace:
        raise AutomlError(f"{csv} holds other data than this DataFrame (an earlier search named '{name}'); "
                          "pass another name=, or restart=True to replace it and start over")
    if not csv.is_file() or csv.read_text(encoding="utf-8") != text:
        csv.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(csv, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return csv


def track_from_arrays(x: Any, y: Any, *, name: str, time_limit: str | None = None,
                      tracks_dir: str | os.PathLike | None = None, replace: bool = False) -> CsvTrack:
    """Write images (a uint8 array (N, height, width, 3), or a list of image files) with their labels `y` to
    ``<tracks_dir>/<name>/<class>/``, one PNG (or the file itself) each, and write its track as `track_from_images`
    does: the model then takes images of any size, as a folder's does."""
    check_name(name)
    if y is None:
        raise AutomlError("images need their labels: pass (x, y), y one class per image, or a folder with one "
                          "subfolder per class")
    labels = [str(label) for label in np.asarray(y).reshape(-1)]
    files = _image_files(x) if _are_paths(x) else None
    images = None if files is not None else _images(x)
    count = len(files) if files is not None else len(images)
    if count != len(labels):
        raise AutomlError(f"{count} images but {len(labels)} labels; give one label per image")
    directory = Path(tracks_dir) if tracks_dir is not None else Path("tracks")
    folder = directory / name
    digest = _digest(images, files, labels)
    written = folder / DIGEST_FILE
    if written.is_file() and written.read_text() == digest:
        return track_from_images(folder, name=name, time_limit=time_limit, tracks_dir=directory, replace=replace)
    if folder.exists() and not replace:
        raise AutomlError(f"{folder} holds other images than these (an earlier search named '{name}'); pass another "
                          "name=, or restart=True to replace them and start over")
    shutil.rmtree(folder, ignore_errors=True)
    for index, label in enumerate(labels):
        (folder / label).mkdir(parents=True, exist_ok=True)
        if files is not None:
            shutil.copyfile(files[index], folder / label / f"{index:06d}{files[index].suffix.lower()}")
        else:
            Image.fromarray(images[index]).save(folder / label / f"{index:06d}.png")
    written.write_text(digest)
    return track_from_images(folder, name=name, time_limit=time_limit, tracks_dir=directory, replace=replace)


def _are_paths(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, str) and all(isinstance(p, (str, os.PathLike)) for p in x)


def _image_files(x: Sequence[str | os.PathLike]) -> list[Path]:
    files = [Path(p).expanduser() for p in x]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise AutomlError(f"image file {missing[0]} does not exist ({len(missing)} missing); check the paths")
    return files


def _images(x: Any) -> np.ndarray:
    images = np.asarray(x)
    if images.ndim == 3:  # grey images: three equal channels, as a folder's are decoded
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
        raise AutomlError(f"expected uint8 images (N, height, width, 3), got {images.dtype} {images.shape}; "
                          "convert with (x * 255).astype('uint8') for 0-1 floats")
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _digest(images: np.ndarray | None, files: list[Path] | None, labels: list[str]) -> str:
    digest = hashlib.sha256("\n".join(labels).encode())
    if images is not None:
        digest.update(str(images.shape).encode())
        digest.update(np.ascontiguousarray(images).tobytes())
    for path in files or []:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def track_for(data: Any, target: Any = None, *, task: str | None = None, name: str | None = None,
              time_limit: str | float | None = None, tracks_dir: str | os.PathLike | None = None,
              replace: bool = False, group: str | None = None, time: str | None = None,
              validation_data: Any = None, test_data: Any = None) -> Any:
    """What `automl.search` was given, as a track it can open: a DataFrame, a folder of images, images and their
    labels ``(x, y)`` (an array, or a list of files) written as a track under `tracks_dir`; a track name, track
    file or `Track` as it is. `validation_data` and `test_data` (a DataFrame or a CSV file) are a table's own rows
    for those splits."""
    own = {"validation": validation_data, "test": test_data}
    split_by = {"group": group, "time": time}
    if isinstance(data, pd.DataFrame):
        if target is None:
            raise AutomlError("a DataFrame needs its target: pass target='<column to predict>'")
        name = name or track_name(str(target))
        return track_from_frame(data, target, name=name, task=task, tracks_dir=tracks_dir, replace=replace,
                                split_by=split_by, own=own).path
    table = isinstance(data, (str, os.PathLike)) and str(data).endswith((".csv", ".csv.gz")) and target is not None
    if table:
        csv = Path(data).expanduser()
        name = name or csv_track_name(csv)
        columns = list(read_csv(csv).columns) if any(isinstance(v, pd.DataFrame) for v in own.values()) else []
        files = own_rows_files(own, columns, Path(tracks_dir or "tracks"), name, replace, split_by)
        return track_from_csv(csv, target, task=task, name=name, tracks_dir=tracks_dir, replace=replace,
                              group=group, time=time, **files).path
    given_own = [f"{part}_data" for part, rows in own.items() if rows is not None]
    if given_own:
        raise AutomlError(f"{' and '.join(given_own)} are a table's own rows (with a DataFrame or a CSV); images are "
                          "split at random, by class, and a folder with train/, validation/ and test/ keeps its split")
    if target is not None and not isinstance(target, str):
        data = (data, target)  # search(images, labels)
    if (group or time) and not isinstance(data, (str, os.PathLike)):
        raise AutomlError("group= and time= split the rows of a table; images are split at random, by class")
    if isinstance(data, tuple):
        if len(data) != 2:
            raise AutomlError(f"give images as (x, y): the images and their labels; got a tuple of {len(data)}")
        return track_from_arrays(*data, name=name or "images", time_limit=_limit(time_limit), tracks_dir=tracks_dir,
                                 replace=replace).path
    if isinstance(data, np.ndarray):
        raise AutomlError("images need their labels: pass (x, y), y one class per image")
    for_table = {"target": target, "task": task, "group": group, "time": time}
    if isinstance(data, (str, os.PathLike)) and Path(data).expanduser().is_dir():
        given = [key for key, value in for_table.items() if value is not None]
        if given:
            raise AutomlError(f"{', '.join(given)} go with a DataFrame or a CSV; a folder's classes are its subfolders")
        folder = Path(data).expanduser()
        return track_from_images(folder, name=name, time_limit=_limit(time_limit), tracks_dir=tracks_dir,
                                 replace=replace).path
    given = [key for key, value in {**for_table, "name": name}.items() if value is not None]
    if given:
        raise AutomlError(f"{', '.join(given)} go with data (a DataFrame, a CSV, images); a track has them already, "
                          "edit its file instead")
    return data


def _limit(time_limit: str | float | None) -> str | None:
    return None if time_limit is None else (time_limit if isinstance(time_limit, str) else f"{round(time_limit)}s")
