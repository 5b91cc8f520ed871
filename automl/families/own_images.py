"""A track file from a user's own folder of images: what is in it said, written as readable TOML, rerun with `--track`.

The image twin of `automl.families.own_csv`: ``automl search --images photos/`` lists the classes and the images,
chooses the size they are resized to, weights the classes when they are imbalanced, and writes
``tracks/<name>.toml`` with ``data.kind = "image_dir"``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from automl.data.image_folder import MIN_SIZE, ImageFolder, choose_size, describe_sizes, image_sizes, list_folder
from automl.data.inference import IMBALANCE_RATIO, OwnData
from automl.errors import AutomlError
from automl.families import fitting
from automl.families.own_csv import (
    CsvTrack,
    as_toml,
    check_name,
    family_lines,
    relative_path,
    settings_lines,
    settings_tables,
    split_lines,
    track_name,
    write_track,
)
from automl.track.duration import parse_duration
from automl.track.sections import SECTIONS
from automl.track.toml_text import toml_lines


def image_families(size: int) -> dict[str, dict[str, Any]]:
    """The families a folder of images is searched with, each with the settings it wants in the track: those of the
    registry that fit images (`automl.families.fitting`): the CNN, trained from scratch, and the pretrained backbones
    whose ImageNet weights are found (imported, in Keras' cache, or downloaded by Keras); a note names those left
    out and how to add them. `size` is the side the images are resized to, which the CNN's start is sized by."""
    return fitting(OwnData("image_dir", "multiclass", image_size=size))


def track_from_images(
    folder: str | os.PathLike,
    *,
    name: str | None = None,
    image_size: int | None = None,
    time_limit: str | None = None,
    tracks_dir: str | os.PathLike | None = None,
    replace: bool = False,
) -> CsvTrack:
    """Write a track for `folder` (one subfolder of images per class) to ``<tracks_dir>/<name>.toml``.

    The name defaults to the folder's. `image_size` (pixels) is the side the images are resized to;
    without it, it is chosen from the images and `time_limit` (the track's default when not given),
    which the track keeps. As with a CSV, rerunning finds the same file and leaves it alone; a file
    that differs is kept unless `replace` is true.

    Examples
    --------
    >>> written = track_from_images("photos/", name="clothes", time_limit="20m")
    >>> written.path
    PosixPath('tracks/clothes.toml')
    """
    root = Path(folder).expanduser()
    name = name or track_name(root.resolve().name)
    check_name(name)
    if image_size is not None and image_size < MIN_SIZE:
        raise AutomlError(f"--image-size is {image_size}; give the side in pixels, {MIN_SIZE} or more (e.g. 128)")
    defaults, split = SECTIONS["search"](), SECTIONS["split"]()
    time_limit = time_limit or defaults.time_limit
    listed = list_folder(root)
    size, why = choose_size(listed, validation=split.validation, test=split.test, seed=split.seed,
                            seconds=parse_duration(time_limit, "--time-limit"))
    if image_size is not None:
        size, why = image_size, "given with --image-size"
    sizes = describe_sizes(image_sizes(listed.paths))
    weight, weight_reason = class_weight(listed)
    directory = Path(tracks_dir) if tracks_dir is not None else Path("tracks")
    path = directory / f"{name}.toml"
    counts = ", ".join(f"{c} {n:,}" for c, n in listed.counts().items())
    notes = [f"{len(listed.classes)} classes in {root}: {counts} ({len(listed.paths):,} images)",
             f"image sizes: {sizes}", f"images resized to {size}x{size}: {why}", split_note(listed)]
    if weight == "balanced":
        notes.append(f"class weights: balanced ({weight_reason})")
    text = render_track(name, root, listed, directory, size=size, why=why, sizes=sizes, time_limit=time_limit,
                        class_weight=(weight, weight_reason))
    return CsvTrack(path, name, [*notes, write_track(path, name, text, f"{root}", replace)])


def class_weight(folder: ImageFolder) -> tuple[str, str]:
    """'balanced' when the largest class has over 1 / `IMBALANCE_RATIO` times the images of the smallest."""
    counts = folder.counts()
    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    ratio = f"'{largest}' has {counts[largest]:,} images, '{smallest}' {counts[smallest]:,}"
    if counts[smallest] < IMBALANCE_RATIO * counts[largest]:
        return "balanced", f"imbalanced: {ratio}"
    return "none", f"classes are roughly balanced: {ratio}"


def split_note(folder: ImageFolder) -> str:
    given = [part for part in ("train", "validation", "test") if (folder.parts == part).any()]
    if not given:
        return "split: seeded and stratified by class into train, validation and test (the track's [split])"
    missing = [part for part in ("validation", "test") if part not in given]
    kept = f"split: the folder's own {'/, '.join(given)}/ kept"
    return kept + (f"; {' and '.join(missing)} split off train/, stratified" if missing else "")


def render_track(name: str, root: Path, folder: ImageFolder, directory: Path, *, size: int, why: str, sizes: str,
                 time_limit: str, class_weight: tuple[str, str]) -> str:
    """The track as TOML, with comments saying what was found and chosen, and why."""
    search, split = SECTIONS["search"](), SECTIONS["split"]()
    families = image_families(size)
    if not families:
        raise AutomlError(f"no model family reads a folder of images here; {root} needs one (automl.families)")
    counts = ", ".join(f"{c} {n:,}" for c, n in folder.counts().items())
    lines = [
        f"# Written by automl from the folder {root} ({len(folder.classes)} classes, {len(folder.paths):,} images).",
        f"# Edit it freely, then rerun with `automl search --track {name}` (add --restart after an edit).",
        f"name = {as_toml(name)}",
        f"description = {as_toml(f'the class of an image, from {root.name}/')}",
        'task = "multiclass"',
        *family_lines(families, "image_dir"),
        "",
        "[data]",
        'kind = "image_dir"',
        f"path = {as_toml(relative_path(root, directory)):<30} # relative to this file; one subfolder per class",
        f"# Classes (the subfolders) and their images: {counts}",
        f"# Image sizes: {sizes}",
        "",
        "[split]                         # a train/ with validation/ or test/ beside it keeps its own split",
        *split_lines(split),
        "",
        "[search]",
        'tuner = "hyperband"',
        'objective = "val_accuracy"',
        f"max_epochs = {search['max_epochs']}",
        f"factor = {search['factor']}",
        f"time_limit = {as_toml(time_limit):<24} # per run; `--time-limit` overrides it (model.image_size fits it)",
        f"patience = {search['patience']}",
        f"class_weight = {as_toml(class_weight[0]):<22} # {class_weight[1]}",
        "",
        "[model]",
        f"image_size = {size:<24} # the side images are resized to for training: {why}",
    ]
    lines += settings_lines(families)
    return toml_lines(lines + settings_tables(families))
