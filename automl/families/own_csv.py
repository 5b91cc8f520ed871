"""A track file from a user's own CSV: inferred, written as readable TOML, and rerun later with `--track`."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from automl.data.inference import Inference, infer
from automl.data.tabular import check_own_rows, read_csv
from automl.errors import AutomlError
from automl.families import MODULES, family_of, fitting, get_family
from automl.store import write_atomic
from automl.track.parse import known_tracks, parse_track
from automl.track.sections import SECTIONS
from automl.track.toml_text import toml_key, toml_lines, toml_value

OBJECTIVES = {"regression": "val_mae", "binary": "val_auc", "multiclass": "val_accuracy"}
SPLIT_NOTES = {"group": "each of its values on one side of the split only (not a feature)",
               "time": "split in its time order: the latest rows are the test split (not a feature)"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class CsvTrack:
    """The track written (or found unchanged) for a CSV, and what to tell the user about it."""

    path: Path
    name: str
    notes: list[str]


def track_from_csv(
    csv: str | os.PathLike,
    target: str,
    *,
    task: str | None = None,
    name: str | None = None,
    drop: list[str] = (),
    class_weight: str | None = None,
    tracks_dir: str | os.PathLike | None = None,
    replace: bool = False,
    group: str | None = None,
    time: str | None = None,
    validation_csv: str | os.PathLike | None = None,
    test_csv: str | os.PathLike | None = None,
    drop_bad_images: bool = False,
) -> CsvTrack:
    """Infer a track from `csv` and write it to ``<tracks_dir>/<name>.toml`` (default ``./tracks``).

    `group` (a column: each of its values on one side of the split only) or `time` (a column: the latest rows are
    tested on) choose how the rows are split (``split.group``, ``split.time``); neither column is a feature.
    `validation_csv` and `test_csv` are your own rows for those splits, with the CSV's columns
    (``data.validation_path``, ``data.test_path``): what is not given is carved off `csv`.
    `drop_bad_images`: rows whose image file (a column of image paths) is missing or unreadable are left out
    (``data.bad_images = "drop"``) instead of stopping the search.

    Rerunning with the same CSV and options finds the same file and leaves it alone (so the search
    resumes). A file of that name that differs (edited by hand, or another CSV) is kept unless
    `replace` is true; the error says how to go on.

    Examples
    --------
    >>> written = track_from_csv("houses.csv", "price")
    >>> written.path
    PosixPath('tracks/houses.toml')
    """
    csv = Path(csv).expanduser()
    if not csv.is_file():
        raise AutomlError(f"CSV file {csv} does not exist; check the path")
    name = name or csv_track_name(csv)
    check_name(name)
    if task is not None and task not in OBJECTIVES:
        raise AutomlError(f"--task is '{task}'; use one of: {', '.join(OBJECTIVES)}")
    if group and time:
        raise AutomlError("split by --group or by --time, not both")
    split_by = {key: value for key, value in {"group": group, "time": time}.items() if value}
    frame = read_csv(csv)
    own = own_files(frame, {"validation": validation_csv, "test": test_csv}, split_by)
    inference = infer(frame, target, task=task, drop=[*drop, *split_by.values()], where=csv.name)
    if class_weight is not None:
        inference.class_weight, inference.class_weight_reason = class_weight, "given with --class-weight"
    directory = Path(tracks_dir) if tracks_dir is not None else Path("tracks")
    path = directory / f"{name}.toml"
    text = render_track(name, csv, inference, directory, split_by, own, "drop" if drop_bad_images else "error")
    notes = [*inference.notes, *family_notes(inference), write_track(path, name, text, csv.name, replace)]
    return CsvTrack(path, name, notes)


def own_files(frame: pd.DataFrame, given: dict[str, str | os.PathLike | None],
              split_by: dict[str, str]) -> dict[str, Path]:
    """The user's own validation and test CSVs of `given` (by split), checked: each there, with rows and `frame`'s
    columns; refused beside a split by a column (`split_by`), which would carve rows the user gave."""
    own = {part: Path(file).expanduser() for part, file in given.items() if file is not None}
    check_own_split(list(own), split_by)
    for part, file in own.items():
        if not file.is_file():
            raise AutomlError(f"{part} CSV {file} does not exist; check the path")
        check_own_rows(read_csv(file), list(frame.columns), file.name)
    return own


def check_own_split(own: list[str], split_by: dict[str, str | None]) -> None:
    """Your own validation or test rows (the splits in `own`) and a split by a column (`split_by`) do not go together:
    the column would carve rows you gave."""
    given = {key: column for key, column in split_by.items() if column}
    if own and given:
        key, column = next(iter(given.items()))
        raise AutomlError(f"your own {' and '.join(own)} rows are the split, and a split by {key} ('{column}') carves "
                          "the rows: give one or the other")


def csv_track_name(csv: Path) -> str:
    """The default name of a CSV's track: the file's name without its suffixes."""
    stem = csv.name
    for suffix in (".gz", ".csv"):
        stem = stem.removesuffix(suffix)
    return track_name(stem)


def track_name(text: str) -> str:
    """A track name made of `text` (a file's or a folder's name): characters a name cannot hold become '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip("_.-") or "my_track"


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AutomlError(f"track name '{name}' must be letters, digits, '_', '-' or '.'; pass --name")


def write_track(path: Path, name: str, text: str, source: str, replace: bool) -> str:
    """Write a track file made from `source` (a CSV, a folder), or find it unchanged; the note that says which.

    A file of that name that differs (edited by hand, or made from other data) is kept unless `replace`;
    the error says how to go on. A name another track has is refused.
    """
    existing = known_tracks().get(name)
    if existing is not None and existing.resolve() != path.resolve():
        raise AutomlError(f"a track named '{name}' already exists ({existing}); pass --name to choose another name")
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return f"{path} is unchanged; using it"
    if path.is_file() and not replace:
        raise AutomlError(
            f"{path} already exists and differs from what {source} gives now; run `automl search --track {name}` "
            "to use it as it is, pass --name for a new track, or add --restart to overwrite it and start over"
        )
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    family_of(parse_track(path))  # what we write must be a valid track, for its families too
    return f"wrote {path}; edit it and rerun with `automl search --track {name}`"


def family_notes(inference: Inference) -> list[str]:
    """What the user is told of the family chosen for a CSV, when it is not the first one the registry has for
    tables (``family: "text" ...``)."""
    chosen = list(fitting(inference.own_data()))
    tables = [name for name in MODULES if "csv" in get_family(name).data_kinds]
    if not chosen or chosen[:1] == tables[:1]:
        return []
    return [f'family: "{chosen[0]}" ({get_family(chosen[0]).summary})']


def family_lines(families: dict[str, dict[str, Any]], kind: str) -> list[str]:
    """The track's ``family`` line: the `families` the registry found fit the data (`automl.families.fitting`), with
    what each built-in family that reads `kind` is, so a reader can change it."""
    names = list(families)
    what = "; ".join(f"{name}: {get_family(name).summary}" for name in MODULES if kind in get_family(name).data_kinds)
    return [f"family = {as_toml(names[0] if len(names) == 1 else names):<28} # {what}"]


def settings_lines(families: dict[str, dict[str, Any]]) -> list[str]:
    """The plain ``[model]`` settings the families want written (`Family.fits`), each with the family's note on it;
    a setting that is a table is `settings_tables`'."""
    lines = []
    for name, settings in families.items():
        notes = get_family(name).settings_notes
        lines += [f"{key} = {as_toml(value):<24} # {notes[key]}" if key in notes else f"{key} = {as_toml(value)}"
                  for key, value in settings.items() if not isinstance(value, dict)]
    return lines


def settings_tables(families: dict[str, dict[str, Any]]) -> list[str]:
    """The families' settings that are tables (``[model.start]``), after the ``[model]`` lines: each a table of its
    own, a key a line, under the family's note on it."""
    lines = []
    for name, settings in families.items():
        notes = get_family(name).settings_notes
        for key, table in settings.items():
            if isinstance(table, dict):
                lines += ["", *([f"# {notes[key]}"] if key in notes else []), f"[model.{key}]",
                          *(f"{toml_key(k)} = {as_toml(v)}" for k, v in table.items())]
    return lines


def render_track(name: str, csv: Path, inference: Inference, directory: Path,
                 split_by: dict[str, str] | None = None, own: dict[str, Path] | None = None,
                 bad_images: str = "error") -> str:
    """The track as TOML, with comments saying what was inferred and why."""
    search, split = SECTIONS["search"](), SECTIONS["split"]()  # the defaults
    families = fitting(inference.own_data())
    if not families:
        raise AutomlError(f"no model family fits {csv.name}: nothing to learn from besides '{inference.target}'; "
                          "add columns, or check --drop")
    lines = [
        f"# Written by automl from {csv.name} ({inference.rows} rows, {len(inference.roles) + 1} columns).",
        f"# Edit it freely, then rerun with `automl search --track {name}` (add --restart after an edit).",
        f"name = {as_toml(name)}",
        f"description = {as_toml(f'{inference.target} from {csv.name}')}",
        f"task = {as_toml(inference.task):<30} # inferred: {inference.task_reason}; regression | binary | multiclass",
        *family_lines(families, "csv"),
        "",
        "[data]",
        'kind = "csv"',
        f"path = {as_toml(relative_path(csv, directory)):<30} # relative to this file",
        f"target = {as_toml(inference.target)}",
        f"categorical = {as_toml(inference.categorical)}",
        f"text = {as_toml(inference.text):<28} # free text: its words enter the model",
        f"drop = {as_toml(inference.drop)}",
        *[f"{part}_path = {as_toml(relative_path(file, directory)):<{29 - len(part)}} # your own {part} rows, in "
          f"place of split.{part} of {csv.name}" for part, file in (own or {}).items()],
    ]
    if inference.images:
        lines.append(f"images = {as_toml(inference.images):<26} # image file paths (relative to the CSV): their "
                     "images enter the model")
        lines.append(f"bad_images = {as_toml(bad_images):<22} # a row whose image is missing or unreadable: "
                     "error | drop (the row)")
    positive = inference.classes[-1] if inference.task == "binary" else None
    if isinstance(positive, (str, int)) and not isinstance(positive, bool):
        lines.append(f"positive = {as_toml(positive):<26} # the class whose probability the model gives")
    lines += ["# What each column was taken for (numeric columns are the ones in neither list):"]
    lines += [f"#   {column}: {role} - {reason}" for column, (role, reason) in inference.roles.items()]
    lines += [
        "",
        "[split]",
        *split_lines(split),
        *[f"{key} = {as_toml(column):<29} # {SPLIT_NOTES[key]}" for key, column in (split_by or {}).items()],
        "",
        "[search]",
        'tuner = "hyperband"',
        (f"objective = {as_toml(OBJECTIVES[inference.task]):<25} # any validation metric: val_mae, val_rmse, "
        "val_loss, val_auc, val_accuracy"),
        f"max_epochs = {search['max_epochs']}",
        f"factor = {search['factor']}",
        f"time_limit = {as_toml(search['time_limit']):<24} # per run; `--time-limit` overrides it",
        f"patience = {search['patience']}",
    ]
    if inference.task != "regression":
        lines.append(f"class_weight = {as_toml(inference.class_weight):<22} # {inference.class_weight_reason}")
    settings = settings_lines(families)
    if settings:
        lines += ["", "[model]", *settings]
    return toml_lines(lines + settings_tables(families))


def relative_path(csv: Path, directory: Path) -> str:
    """`csv` relative to the track file's directory, so the pair can move together; absolute where no relative
    path exists."""
    try:
        return Path(os.path.relpath(csv.resolve(), directory.resolve())).as_posix()
    except ValueError:
        return str(csv.resolve())


def as_toml(value) -> str:
    """A TOML literal (automl/track/toml_text.py): non-ASCII names written as themselves, in UTF-8."""
    return toml_value(value)


def split_lines(split) -> list[str]:
    """The [split] keys of a written track, with their defaults (the CSV and the images writers share them)."""
    return [f"test = {split['test']}", f"validation = {split['validation']}", f"seed = {split['seed']}"]
