"""Track files: find, parse and validate the declarative TOML that says what to solve."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.errors import AutomlError

TASKS = ("regression", "binary", "multiclass")
FAMILIES = ("mlp", "cnn")
TUNERS = ("hyperband", "random", "bayesian")
DISTRIBUTIONS = ("auto", "mirrored", "none")
DATA_KINDS = ("csv", "npz", "cifar10")
IMAGE_KINDS = ("npz", "cifar10")
MAXIMISED = ("auc", "accuracy", "precision", "recall", "f1", "r2")
PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "data" / "datasets"

# The schema: section -> key -> (type, default). A default of REQUIRED means the key must be given.
REQUIRED = object()
SCHEMA: dict[str | None, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    None: {
        "name": (str, REQUIRED),
        "description": (str, ""),
        "task": (str, REQUIRED),
        "family": (str, "mlp"),
    },
    "data": {
        "kind": (str, "csv"),
        "path": (str, ""),
        "target": (str, ""),
        "categorical": (list, []),
        "drop": (list, []),
        "positive": ((str, int), ""),
    },
    "split": {
        "test": (float, 0.2),
        "validation": (float, 0.2),
        "seed": (int, 42),
    },
    "search": {
        "tuner": (str, "hyperband"),
        "objective": (str, REQUIRED),
        "direction": (str, ""),
        "max_epochs": (int, 30),
        "factor": (int, 3),
        "hyperband_iterations": (int, 1),
        "max_trials": (int, 50),
        "time_limit": (str, "15m"),
        "patience": (int, 8),
        "class_weight": (str, "none"),
        "seed": (int, 42),
        # The choice rule: trials within this relative distance of the best validation score are
        # equally good, and the fastest, then smallest, of them is chosen. 2 % is about the spread of
        # retraining one network with other seeds on caravan (benchmarks/rerun_spread.py; README).
        "tolerance": (float, 0.02),
        # Data parallelism within a trial (tf.distribute): auto | mirrored | none. "auto" mirrors the
        # model over the GPUs when this machine has several, and trains as usual otherwise.
        "distribution": (str, "auto"),
        # Image tracks: the share of the time limit kept for the final fit, which retrains the chosen
        # configuration on the whole training split with the time left (automl/final_fit.py); 0: none,
        # the chosen trial's own weights are the model.
        "final_fit": (float, 0.0),
    },
    "model": {
        "batch_sizes": (list, [32, 64, 128, 256]),
        "max_layers": (int, 4),
        "max_units": (int, 512),
        "target_transform": (str, "standardize"),
        # Image tracks: training images per Hyperband epoch, drawn from a shuffled stream (0: one full pass).
        "images_per_epoch": (int, 0),
    },
}


@dataclass(frozen=True)
class Track:
    """A validated track: what to solve, on which data, with which search budget."""

    name: str
    task: str
    family: str
    source: Path
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def objective(self) -> str:
        return self.search["objective"]

    @property
    def direction(self) -> str:
        return self.search["direction"]

    @property
    def time_limit_seconds(self) -> float:
        return parse_duration(self.search["time_limit"], where=f"{self.source}: search.time_limit")

    def data_path(self) -> Path:
        """The data file, looked up beside the track file, then in automl's bundled datasets."""
        return resolve_data_path(self.data["path"], self.source.parent, self.name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "task": self.task, "family": self.family,
            "data": self.data, "split": self.split, "search": self.search, "model": self.model,
        }


def track_dirs() -> list[Path]:
    """Where tracks are looked for, in order: $AUTOML_TRACKS, ./tracks, the tracks shipped beside automl."""
    dirs = [Path(p) for p in os.environ.get("AUTOML_TRACKS", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "tracks", PACKAGE_DIR.parent / "tracks"]
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
    sections: dict[str | None, dict[str, Any]] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key not in SCHEMA:
            raise AutomlError(f"{path}: unknown section [{key}]; known sections: {_known(SCHEMA)}")
    for section, fields in SCHEMA.items():
        given = raw if section is None else raw.get(section, {})
        if not isinstance(given, dict):
            raise AutomlError(f"{path}: '{section}' must be a table ([{section}])")
        sections[section] = _validate_section(path, section, given, fields)
    track = Track(
        name=sections[None]["name"],
        task=sections[None]["task"],
        family=sections[None]["family"],
        description=sections[None]["description"],
        source=path.resolve(),
        data=sections["data"],
        split=sections["split"],
        search=sections["search"],
        model=sections["model"],
    )
    _check_values(track)
    return track


def _known(keys) -> str:
    return ", ".join(str(k) for k in keys if k is not None)


def _validate_section(path: Path, section: str | None, given: dict, fields: dict) -> dict[str, Any]:
    prefix = "" if section is None else f"{section}."
    values: dict[str, Any] = {}
    for key, value in given.items():
        if section is None and key in SCHEMA:
            continue
        if key not in fields:
            raise AutomlError(
                f"{path}: unknown key '{prefix}{key}'; known keys: {_known(fields)}"
            )
        expected = fields[key][0]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise AutomlError(
                f"{path}: '{prefix}{key}' must be {_article(names)}, got {type(value).__name__} {value!r}"
            )
        values[key] = value
    for key, (_, default) in fields.items():
        if key not in values:
            if default is REQUIRED:
                raise AutomlError(f"{path}: missing required key '{prefix}{key}'")
            values[key] = list(default) if isinstance(default, list) else default
    return values


def _article(type_name: str) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string", "list": "a list"}.get(
        type_name, f"a {type_name}"
    )


def _check_values(track: Track) -> None:
    where = str(track.source)

    def one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise AutomlError(f"{where}: '{key}' is {value!r}; use one of: {', '.join(allowed)}")

    one_of("task", track.task, TASKS)
    one_of("family", track.family, FAMILIES)
    one_of("data.kind", track.data["kind"], DATA_KINDS)
    one_of("search.tuner", track.search["tuner"], TUNERS)
    one_of("search.class_weight", track.search["class_weight"], ("none", "balanced"))
    one_of("model.target_transform", track.model["target_transform"], ("standardize", "log"))
    if track.data["kind"] == "csv":
        for key in ("path", "target"):
            if not track.data[key]:
                raise AutomlError(f"{where}: missing required key 'data.{key}' for a csv track")
    if track.data["kind"] == "npz" and not track.data["path"]:
        raise AutomlError(f"{where}: missing required key 'data.path' for an npz track")
    images = track.data["kind"] in IMAGE_KINDS
    if images != (track.family == "cnn"):
        raise AutomlError(
            f"{where}: family '{track.family}' does not go with data.kind '{track.data['kind']}'; "
            "use family = \"cnn\" for images (data.kind cifar10 or npz) and \"mlp\" for csv"
        )
    if images and track.task != "multiclass":
        raise AutomlError(f"{where}: 'task' is {track.task!r}; an image track is \"multiclass\"")
    if track.model["images_per_epoch"] < 0:
        raise AutomlError(f"{where}: 'model.images_per_epoch' is {track.model['images_per_epoch']}; "
                          "use a positive number of images, or 0 for one full pass")
    for key in ("test", "validation"):
        if not 0.0 < track.split[key] < 1.0:
            raise AutomlError(f"{where}: 'split.{key}' is {track.split[key]}; use a fraction between 0 and 1")
    if track.split["test"] + track.split["validation"] >= 0.9:
        raise AutomlError(f"{where}: split.test + split.validation leave under 10 % for training; lower them")
    for key in ("max_epochs", "max_trials", "hyperband_iterations", "patience"):
        if track.search[key] < 1:
            raise AutomlError(f"{where}: 'search.{key}' is {track.search[key]}; use a positive integer")
    if not 0.0 <= track.search["tolerance"] < 1.0:
        raise AutomlError(
            f"{where}: 'search.tolerance' is {track.search['tolerance']}; use a fraction of the best score "
            "from 0 (always the top-scoring trial) to below 1, e.g. 0.02 for 2 %"
        )
    if not 0.0 <= track.search["final_fit"] < 1.0:
        raise AutomlError(
            f"{where}: 'search.final_fit' is {track.search['final_fit']}; use the share of the time limit "
            "kept for the final fit, from 0 (none) to below 1, e.g. 0.5"
        )
    if track.search["final_fit"] and not images:
        raise AutomlError(f"{where}: 'search.final_fit' is for image tracks (family \"cnn\"); remove it")
    if track.search["factor"] < 2:
        raise AutomlError(f"{where}: 'search.factor' is {track.search['factor']}; use an integer of 2 or more")
    one_of("search.distribution", track.search["distribution"], DISTRIBUTIONS)
    direction = track.search["direction"] or infer_direction(track.objective)
    one_of("search.direction", direction, ("min", "max"))
    track.search["direction"] = direction
    if not track.objective.startswith("val_"):
        raise AutomlError(
            f"{where}: 'search.objective' is '{track.objective}'; select on validation data, "
            f"e.g. 'val_{track.objective}'"
        )
    sizes = track.model["batch_sizes"]
    if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise AutomlError(f"{where}: 'model.batch_sizes' must be a list of positive integers, got {sizes!r}")
    parse_duration(track.search["time_limit"], where=f"{track.source}: search.time_limit")  # validates it


# Keys that change which trial is chosen, not how trials are trained: a search may resume across them.
# The distribution only spreads a trial's work over devices: a search may resume across it too.
# The final fit comes after the trials and does not change them: a search may resume across it too.
SELECTION_KEYS = {"search": ("tolerance", "distribution", "final_fit")}


def search_settings(track_dict: dict[str, Any]) -> dict[str, Any]:
    """A track (as `Track.as_dict` gives it) without the keys that only affect the choice."""
    settings = {k: dict(v) if isinstance(v, dict) else v for k, v in track_dict.items()}
    for section, keys in SELECTION_KEYS.items():
        for key in keys:
            settings.get(section, {}).pop(key, None)
    return settings


def infer_direction(objective: str) -> str:
    """'max' for scores (AUC, accuracy, ...), 'min' for losses and errors."""
    return "max" if any(word in objective.lower() for word in MAXIMISED) else "min"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")


def parse_duration(text: str | float, where: str = "time limit") -> float:
    """Seconds in a duration such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"`` or ``"45"`` (seconds).

    Examples
    --------
    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        compact = str(text).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", compact):
            compact += "s"  # a bare number is seconds
        parts = _DURATION.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise AutomlError(
                f"{where}: {str(text)!r} is not a duration; write e.g. 90s, 15m, 2h or 1h30m"
            )
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if not seconds > 0:
        raise AutomlError(f"{where}: {str(text)!r} must be longer than zero; write e.g. 90s, 15m or 2h")
    return seconds


def resolve_data_path(path: str, track_dir: Path, track_name: str) -> Path:
    """A data path as written in a track, looked up beside the track file, then in the bundled datasets."""
    candidate = Path(path).expanduser()
    search = [candidate] if candidate.is_absolute() else [track_dir / candidate, BUNDLED_DATA_DIR / candidate]
    for place in search:
        if place.is_file():
            return place
    tried = ", ".join(str(p) for p in search)
    raise AutomlError(
        f"track '{track_name}': data file '{path}' not found (looked in {tried}); "
        "fix data.path in the track file"
    )
