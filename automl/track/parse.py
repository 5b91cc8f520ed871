"""Track files: find, parse and validate the declarative TOML that says what to solve, once, into a typed `Track`."""
from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from automl.data.schema import TASKS
from automl.errors import AutomlError
from automl.track.duration import parse_duration
from automl.track.sections import (
    DECISION_METRICS,
    DISTRIBUTIONS,
    PACKAGE_DIR,
    REQUIRED_KEYS,
    SECTIONS,
    TOP_LEVEL,
    TUNERS,
    SearchSection,
    Section,
    Track,
    infer_direction,
)


def track_dirs() -> list[Path]:
    """Where tracks are looked for, in order: $AUTOML_TRACKS, ./tracks, the built-in tracks: inside the package
    where installed from a wheel (automl/tracks/, see setup.py), else beside it in the clone."""
    dirs = [Path(p) for p in os.environ.get("AUTOML_TRACKS", "").split(os.pathsep) if p]
    built_in = PACKAGE_DIR / "tracks"
    dirs += [Path.cwd() / "tracks", built_in if built_in.is_dir() else PACKAGE_DIR.parent / "tracks"]
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def known_tracks() -> dict[str, Path]:
    """Track name -> file, the first directory in `track_dirs()` winning."""
    found: dict[str, Path] = {}
    for directory in track_dirs():
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load_track(name_or_path: str | os.PathLike | Track) -> Track:
    """Read and validate a track by name (``"boston"``) or by path to a ``.toml`` file.

    Examples
    --------
    >>> load_track("boston").task
    'regression'
    """
    if isinstance(name_or_path, Track):
        return name_or_path
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise AutomlError(f"track file {path} does not exist; check the path")
    else:
        tracks = known_tracks()
        if text not in tracks:
            known = ", ".join(sorted(tracks)) or "none found"
            raise AutomlError(
                f"unknown track {text!r}; known tracks: {known} "
                "(or pass the path to a .toml track file)"
            )
        path = tracks[text]
    return parse_track(path)


def parse_track(path: Path) -> Track:
    """Parse one track file; every mistake names the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AutomlError(f"{path}: not valid TOML ({error}); fix the syntax") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AutomlError(f"{path}: cannot read the track file ({error})") from None
    return _track(raw, path)


def track_from_record(record: dict[str, Any], where: Path) -> Track:
    """The track a search recorded in its ``track.json`` (`where`; `Track.record`), validated as a file is: its data
    paths as written, a relative one beside the track file it was read from."""
    source = record.get("source")
    if not isinstance(source, str) or not source:
        raise AutomlError(f"{where} does not say which track file the search read (a search begun before automl "
                          "recorded it); run from the folder the search began in, whose tracks/ holds its track")
    return _track({key: value for key, value in record.items() if key != "source"}, Path(source))


def _track(raw: dict[str, Any], path: Path) -> Track:
    """A track from its keys as parsed (`raw`), read from the file `path`; every mistake names the file and the key."""
    for key, value in raw.items():
        if isinstance(value, dict) and key not in SECTIONS:
            raise AutomlError(f"{path}: unknown section [{key}]; known sections: {', '.join(SECTIONS)}")
    top = _validate(path, None, {k: v for k, v in raw.items() if k not in SECTIONS}, _top_level_types())
    sections: dict[str, Section] = {}
    for name, section in SECTIONS.items():
        given = raw.get(name, {})
        if not isinstance(given, dict):
            raise AutomlError(f"{path}: '{name}' must be a table ([{name}])")
        sections[name] = section(**_validate(path, name, given, _types(section)))
    family = top.get("family", TOP_LEVEL["family"])
    track = Track(
        name=top["name"], task=top["task"], description=top.get("description", ""),
        families=tuple(family) if isinstance(family, list) else (family,),
        source=path.resolve(), **sections,
    )
    direction = track.search.direction or infer_direction(track.objective)
    track = dataclasses.replace(track, search=dataclasses.replace(track.search, direction=direction))
    _check_values(track)
    return track


def _top_level_types() -> dict[str, tuple[type, ...]]:
    return {"name": (str,), "description": (str,), "task": (str,), "family": (str, list)}


def _types(section: type[Section]) -> dict[str, tuple[type, ...]]:
    """Each key's accepted TOML types, from the section's annotations (``list[int]`` -> list, ``str | int``)."""
    hints = typing.get_type_hints(section)
    accepted = {}
    for key in section.keys():
        hint = hints[key]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        accepted[key] = tuple(typing.get_origin(option) or option for option in options)
    return accepted


def _validate(path: Path, section: str | None, given: dict, fields: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    """The keys given in one section, each of its type (an integer where a number goes becomes a float)."""
    prefix = "" if section is None else f"{section}."
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key not in fields:
            raise AutomlError(f"{path}: unknown key '{prefix}{key}'; known keys: {', '.join(fields)}")
        expected = fields[key]
        if expected == (float,) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise AutomlError(f"{path}: '{prefix}{key}' must be {_article(names)}, "
                              f"got {type(value).__name__} {value!r}")
        values[key] = value
    if section is None:
        required = [key for key, default in TOP_LEVEL.items() if default is None]
    else:
        required = REQUIRED_KEYS.get(section, ())
    for key in required:
        if key not in values:
            raise AutomlError(f"{path}: missing required key '{prefix}{key}'")
    return values


def _check_columns(track: Track) -> None:
    """A column goes in one list of [data] at most, and the target in none."""
    data, where = track.data, str(track.source)
    lists = {"categorical": data.categorical, "text": data.text, "images": data.images, "drop": data.drop}
    for key, columns in lists.items():
        if not all(isinstance(c, str) for c in columns):
            raise AutomlError(f"{where}: 'data.{key}' must be a list of column names (strings), got {columns!r}")
        if data.target and data.target in columns:
            raise AutomlError(f"{where}: the target '{data.target}' is listed in 'data.{key}'; remove it from there")
    seen: dict[str, str] = {}
    for key, columns in lists.items():
        for column in columns:
            if column in seen:
                raise AutomlError(f"{where}: column '{column}' is in both 'data.{seen[column]}' and 'data.{key}'; "
                                  "keep it in one")
            seen[column] = key


def _article(type_name: str) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string", "list": "a list"}.get(
        type_name, f"a {type_name}"
    )


def _check_values(track: Track) -> None:
    where = str(track.source)
    search, split = track.search, track.split

    def one_of(key: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
        if value not in allowed:
            raise AutomlError(f"{where}: '{key}' is {value!r}; use one of: {', '.join(allowed)}")

    one_of("task", track.task, TASKS)
    if not track.families:
        raise AutomlError(f"{where}: 'family' is an empty list; name a model family, e.g. family = \"cnn\"")
    one_of("search.tuner", search.tuner, TUNERS)
    one_of("search.class_weight", search.class_weight, ("none", "balanced"))
    one_of("model.target_transform", track.model.target_transform, ("standardize", "log"))
    for key in ("test", "validation"):
        if not 0.0 < split[key] < 1.0:
            raise AutomlError(f"{where}: 'split.{key}' is {split[key]}; use a fraction between 0 and 1")
    if split.test + split.validation >= 0.9:
        raise AutomlError(f"{where}: split.test + split.validation leave under 10 % for training; lower them")
    if split.group and split.time:
        raise AutomlError(f"{where}: 'split.group' and 'split.time' are both set; split by one of them")
    if (split.group or split.time) and track.data.kind != "csv":
        raise AutomlError(f"{where}: 'split.{'group' if split.group else 'time'}' splits the rows of a CSV; "
                          f"a {track.data.kind} track splits its images at random, by class")
    own = [key for key in ("validation_path", "test_path") if track.data[key]]
    if own and track.data.kind != "csv":
        raise AutomlError(f"{where}: 'data.{own[0]}' gives a table's own rows; a {track.data.kind} track's images are "
                          "split at random, by class (a folder with train/, validation/ and test/ keeps its split)")
    if own and (split.group or split.time):
        by = "group" if split.group else "time"
        raise AutomlError(f"{where}: 'data.{own[0]}' holds your own {own[0].removesuffix('_path')} rows and "
                          f"'split.{by}' carves them by a column; remove one of the two")
    for key in ("max_epochs", "max_trials", "hyperband_iterations", "patience"):
        if search[key] < 1:
            raise AutomlError(f"{where}: 'search.{key}' is {search[key]}; use a positive integer")
    if not 0.0 <= search.tolerance < 1.0:
        raise AutomlError(
            f"{where}: 'search.tolerance' is {search.tolerance}; use a fraction of the best score "
            "from 0 (always the top-scoring trial) to below 1, e.g. 0.02 for 2 %"
        )
    if not 0.0 <= search.final_fit < 1.0:
        raise AutomlError(
            f"{where}: 'search.final_fit' is {search.final_fit}; use the share of the time limit "
            "kept for the final fit, from 0 (none) to below 1, e.g. 0.5"
        )
    if search.final_fit_members < 1:
        raise AutomlError(f"{where}: 'search.final_fit_members' is {search.final_fit_members}; use how many networks "
                          "the final fit trains and averages, 1 or more, e.g. 2")
    if not 0.0 <= search.refit < 1.0:
        raise AutomlError(
            f"{where}: 'search.refit' is {search.refit}; use the share of the time limit kept for the refit "
            "on training + validation, from 0 (none) to below 1, e.g. 0.1"
        )
    if search.ensemble < 0:
        raise AutomlError(f"{where}: 'search.ensemble' is {search.ensemble}; use the most trials an ensemble may "
                          "join, 0 or 1 for none, e.g. 5")
    if search.factor < 2:
        raise AutomlError(f"{where}: 'search.factor' is {search.factor}; use an integer of 2 or more")
    one_of("search.distribution", search.distribution, DISTRIBUTIONS)
    one_of("search.direction", search.direction, ("min", "max"))
    one_of("search.decision_metric", search.decision_metric, DECISION_METRICS)
    if track.task != "binary" and search.decision_metric != SearchSection.decision_metric:
        raise AutomlError(f"{where}: 'search.decision_metric' sets a yes/no model's decision threshold; task "
                          f"{track.task!r} has none: remove it")
    if not track.objective.startswith("val_"):
        raise AutomlError(
            f"{where}: 'search.objective' is '{track.objective}'; select on validation data, "
            f"e.g. 'val_{track.objective}'"
        )
    for key in ("fixed", "start"):
        for name, value in track.model[key].items():
            if not isinstance(value, (str, int, float, bool)):
                raise AutomlError(f"{where}: 'model.{key}.{name}' must be a string, number or boolean, got {value!r}")
    both = sorted(set(track.model.fixed) & set(track.model.start))
    if both:
        raise AutomlError(f"{where}: {', '.join(both)} in both model.fixed and model.start; a fixed value is every "
                          "trial's: remove it from model.start")
    sizes = track.model.batch_sizes
    if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise AutomlError(f"{where}: 'model.batch_sizes' must be a list of positive integers, got {sizes!r}")
    parse_duration(search.time_limit, where=f"{track.source}: search.time_limit")  # validates it
    _check_columns(track)
