"""A track as typed values: one frozen dataclass per section of the TOML file, with every default in one place.

The parser (`automl.track.parse`) validates a file once into these; everything after reads attributes
(``track.search.max_epochs``), never re-checks or re-coerces them. A section also reads like the TOML
table it comes from (``track.search["max_epochs"]``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.data.home import IMPORTABLE, imported_dir
from automl.errors import AutomlError
from automl.track.duration import parse_duration

TUNERS = ("hyperband", "random", "bayesian")
DISTRIBUTIONS = ("auto", "mirrored", "none")
DECISION_METRICS = ("balanced_accuracy", "f1")  # what a binary model's decision threshold maximises on validation
MAXIMISED = ("auc", "accuracy", "precision", "recall", "f1", "r2")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "data" / "datasets"


class Section:
    """A section of a track file: typed attributes, readable by key as in the file."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, list) else value
                for key, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class DataSection(Section):
    kind: str = "csv"
    path: str = ""
    target: str = ""
    categorical: list[str] = field(default_factory=list)
    # Columns of free text: their words enter the model (automl/hypermodels/text_inputs.py).
    text: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    positive: str | int = ""
    # A table's own validation and test rows (CSVs with its columns, beside the track file like `path`): those
    # splits are these rows instead of `split.validation` and `split.test` of `path`'s.
    validation_path: str = ""
    test_path: str = ""
    # Columns of image file paths (relative to the CSV, or absolute): their images enter the model
    # (family "combined", automl/families/combined.py).
    images: list[str] = field(default_factory=list)
    # A row whose image file is missing or cannot be decoded: "error" names it and stops; "drop" leaves the row out.
    bad_images: str = "error"


@dataclass(frozen=True)
class SplitSection(Section):
    test: float = 0.2
    validation: float = 0.2
    seed: int = 42
    # A table's rows split by this column's values (a customer, a sender: each on one side only) ...
    group: str = ""
    # ... or in this column's time order (the latest rows are the test split); otherwise at random, by class
    time: str = ""


@dataclass(frozen=True)
class SearchSection(Section):
    tuner: str = "hyperband"
    objective: str = ""  # required: the parser refuses a track without one
    direction: str = ""  # "min" or "max"; inferred from the objective when not given
    max_epochs: int = 30
    factor: int = 3
    hyperband_iterations: int = 1
    max_trials: int = 50
    time_limit: str = "15m"
    patience: int = 8
    class_weight: str = "none"
    seed: int = 42
    # The choice rule: trials within this relative distance of the best validation score are
    # equally good, and the fastest, then smallest, of them is chosen. 2 % is about the spread of
    # retraining one network with other seeds on caravan (benchmarks/studies/rerun_spread.py; README).
    tolerance: float = 0.02
    # Data parallelism within a trial (tf.distribute): auto | mirrored | none. "auto" mirrors the
    # model over the GPUs when this machine has several, and trains as usual otherwise.
    distribution: str = "auto"
    # The share of the time limit kept for the final fit, which retrains the chosen configuration on the
    # whole training split with the time left (automl/tuning/final_fit.py); 0: none, the chosen trial's
    # own weights are the model. Only families that can train on the clock take it (CNN, backbone, MLP, text).
    final_fit: float = 0.0
    # The final fit trains this many networks of the chosen configuration from their own seeds, each on an equal
    # share of its time (at least 2 minutes each, else fewer), and their mean is the model.
    final_fit_members: int = 1
    # Binary tracks: the decision threshold (the probability from which the model says yes) is the one that
    # maximises this on the validation split (automl/selection/threshold.py); stored in the chosen model.
    decision_metric: str = "balanced_accuracy"
    # Families that refit (tables): the share of the time limit kept for retraining the chosen configuration on
    # training + validation (automl/tuning/refit.py); 0: none. Tracks with a final fit have none.
    refit: float = 0.1
    # The ensemble of the best trials offered to the choice (automl/selection/ensemble.py): at most this many
    # members; 0 or 1: none. Tracks with a final fit have none: their chosen model is not a trial's.
    ensemble: int = 5

    @property
    def builds_ensemble(self) -> bool:
        """Whether the best trials' ensemble joins the choice: `ensemble` over 1 and no final fit."""
        return self.ensemble > 1 and not self.final_fit


@dataclass(frozen=True)
class ModelSection(Section):
    batch_sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    max_layers: int = 4
    max_units: int = 512
    target_transform: str = "standardize"
    # Image tracks: training images per Hyperband epoch, drawn from a shuffled stream (0: one full pass).
    images_per_epoch: int = 0
    # Family "cnn": airbench's levers to pull, by name (automl/hypermodels/cnn.py, LEVERS): levers = ["dirac", ...].
    # None by default; the CIFAR-10 track pulls them all.
    levers: list[str] = field(default_factory=list)
    # A folder of images (data.kind = "image_dir"): the side, in pixels, they are resized to for training;
    # 0 chooses it from the images and the time limit (automl/data/image_folder.py, default_image_size).
    image_size: int = 0
    # Family "backbone": the pretrained networks to search (automl/hypermodels/pretrained.py); empty: all of them
    # whose weights are found.
    backbones: list[str] = field(default_factory=list)
    # Family "combined": how its image columns are read, "cnn" (trained from scratch) or "backbone" (a pretrained
    # network of `backbones`, trained in two phases).
    image_encoder: str = "cnn"
    # Hyperparameters held at one value instead of searched (Keras Tuner's `hp.Fixed`), by name as the report's
    # columns show them: fixed = { numeric_encoding = "standardize", optimizer = "adam" }. The others are searched.
    fixed: dict[str, Any] = field(default_factory=dict)
    # The search's first trial, by hyperparameter name: start = { num_layers = 3, units_0 = 256, ... }. A fresh
    # search opens with these values (each other hyperparameter at its default), then draws from the whole space.
    # A value outside its hyperparameter's range is an error when the search starts.
    start: dict[str, Any] = field(default_factory=dict)


SECTIONS: dict[str, type[Section]] = {
    "data": DataSection, "split": SplitSection, "search": SearchSection, "model": ModelSection,
}
# Keys of the top level, with their defaults; None: required.
TOP_LEVEL: dict[str, Any] = {"name": None, "description": "", "task": None, "family": "mlp"}
# Keys that must be given although their section has a default for them.
REQUIRED_KEYS = {"search": ("objective",)}
# Keys that change which trial is chosen, not how trials are trained: a search may resume across them.
# The distribution only spreads a trial's work over devices: a search may resume across it too.
# The final fit comes after the trials and does not change them: a search may resume across it too, and
# so may the decision metric, which only sets the chosen model's decision threshold, and the ensemble.
SELECTION_KEYS = {"search": ("tolerance", "distribution", "final_fit", "final_fit_members", "decision_metric",
                            "ensemble", "refit")}


@dataclass(frozen=True)
class Track:
    """A validated track: what to solve, on which data, with which model families and search budget.

    `families` holds the model families the search spans (``family = "mlp"`` in the file gives
    ``("mlp",)``); `family` is the first of them.
    """

    name: str
    task: str
    families: tuple[str, ...]
    source: Path
    description: str = ""
    data: DataSection = field(default_factory=DataSection)
    split: SplitSection = field(default_factory=SplitSection)
    search: SearchSection = field(default_factory=SearchSection)
    model: ModelSection = field(default_factory=ModelSection)

    @property
    def family(self) -> str:
        return self.families[0]

    @property
    def objective(self) -> str:
        return self.search.objective

    @property
    def direction(self) -> str:
        return self.search.direction

    @property
    def examples(self) -> str:
        """What one example of the track's data is, in the plural: "rows" of a CSV, else "images"."""
        return "rows" if self.data.kind == "csv" else "images"

    @property
    def time_limit_seconds(self) -> float:
        return parse_duration(self.search.time_limit, where=f"{self.source}: search.time_limit")

    def data_path(self) -> Path:
        """The data file, looked up beside the track file, then in automl's bundled datasets."""
        return resolve_data_path(self.data.path, self.source.parent, self.name)

    def own_rows(self, part: str) -> Path | None:
        """The file of the user's own `part` rows ("validation" or "test", ``data.<part>_path``), found as the data
        file is; None where that split is carved off the data."""
        path = self.data[f"{part}_path"]
        return resolve_data_path(path, self.source.parent, self.name) if path else None

    def record(self) -> dict[str, Any]:
        """What ``track.json`` holds: the track (`as_dict`) and the file it was read from, so that the search's
        folder alone rebuilds it (`automl.track.parse.track_from_record`), its relative data paths with it."""
        return {**self.as_dict(), "source": str(self.source)}

    def as_dict(self) -> dict[str, Any]:
        """The track's keys, as a track file holds them: what a resumed search compares (``track.json`` holds them
        with the track file's place, `record`)."""
        family: str | list[str] = self.family if len(self.families) == 1 else list(self.families)
        return {"name": self.name, "task": self.task, "family": family,
                **{name: getattr(self, name).as_dict() for name in SECTIONS}}


def search_settings(track_dict: dict[str, Any]) -> dict[str, Any]:
    """A track (as `Track.as_dict` or `Track.record` gives it) without the keys that only affect the choice, nor the
    place of its file. A key the track does not have takes its default, so a search recorded before a key existed
    (``model.backbones``) compares as it was."""
    settings = {k: dict(v) if isinstance(v, dict) else v for k, v in track_dict.items() if k != "source"}
    for name, section in SECTIONS.items():
        if isinstance(settings.get(name), dict):
            settings[name] = {**json.loads(json.dumps(section().as_dict())), **settings[name]}
    for section, keys in SELECTION_KEYS.items():
        for key in keys:
            settings.get(section, {}).pop(key, None)
    return settings


def same_search(track: Track, record: dict[str, Any] | None) -> bool:
    """Whether `track` searches as the track recorded in a search's ``track.json`` did (`search_settings`)."""
    return record is not None and search_settings(record) == search_settings(json.loads(json.dumps(track.as_dict())))


def infer_direction(objective: str) -> str:
    """'max' for scores (AUC, accuracy, ...), 'min' for losses and errors."""
    return "max" if any(word in objective.lower() for word in MAXIMISED) else "min"


def resolve_data_path(path: str, track_dir: Path, track_name: str) -> Path:
    """A data path as written in a track, looked up beside the track file, in the bundled datasets, then in
    the imported ones (``$AUTOML_HOME/datasets``, `automl data import`)."""
    candidate = Path(path).expanduser()
    search = [candidate] if candidate.is_absolute() else [
        track_dir / candidate, BUNDLED_DATA_DIR / candidate, imported_dir() / candidate]
    for place in search:
        if place.is_file():
            return place
    tried = ", ".join(str(p) for p in search)
    name = candidate.name.removesuffix(candidate.suffix)
    fix = (f"import a local copy once with `automl data import {name} PATH`, or set data.path in the track file "
           "to a local copy" if name in IMPORTABLE else "fix data.path in the track file")
    raise AutomlError(f"track '{track_name}': data file '{path}' not found (looked in {tried}); {fix}")
