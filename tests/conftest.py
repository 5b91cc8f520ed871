"""Shared fixtures: tiny synthetic tables and track files, so unit tests run in seconds."""
from __future__ import annotations

import os
import re
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRACK_TEMPLATE = """\
name = "{name}"
task = "{task}"
family = "mlp"

[data]
kind = "csv"
path = "{path}"
target = "{target}"
{data_extra}

[split]
test = 0.2
validation = 0.2
seed = 7

[search]
tuner = "{tuner}"
objective = "{objective}"
max_epochs = {max_epochs}
factor = 3
time_limit = "5m"
patience = 3
{search_extra}

[model]
batch_sizes = [16]
max_units = 32
max_layers = 2
"""


# the CLI's line for the chosen model: a trial or the best trials' ensemble
CHOSEN_LINE = re.compile(r"^chosen: (trial \S+|the ensemble); test split", re.MULTILINE)


def search_track(track, *, results_dir=None, time_limit=None, **options):
    """The search stage alone (`automl.tuning.loop.search`) of a track, with its run's clock started now: what
    `automl.pipeline.run` does before it chooses."""
    from automl.context import Run
    from automl.tuning.loop import search

    worker = bool(options.get("role") is not None and options["role"].is_worker)
    return search(Run.open(track, results_dir).started(time_limit, worker=worker), **options)


def first_trials(track_file, results, count: int, *, recipe: bool | None = None) -> list[dict]:
    """The values of the first `count` trials the track's Hyperband oracle hands out, without training them
    (`recipe` overrides whether the oracle opens with a recipe's start)."""
    from automl import load_track
    from automl.families import family_of
    from automl.store import Store
    from automl.tuning.tuners import make_tuner

    track = load_track(track_file)
    family = family_of(track)
    tuner = make_tuner(track, family.hypermodel(track, family.load(track).schema), Store(track.name, results))
    if recipe is not None:
        tuner.oracle.recipe = recipe
    return [tuner.oracle.create_trial(f"tuner{i}").hyperparameters.values for i in range(count)]  # none finishes


def trials_only(table: pd.DataFrame) -> pd.DataFrame:
    """A report's rows of trials: without the row of the best trials' ensemble, when it joined the choice."""
    return table[table["trial_id"].astype(str) != "ensemble"]


def make_table(task: str = "regression", rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """A small table with two numeric columns, one categorical column and a learnable target."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.uniform(0, 10, size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    signal = 2.0 * x1 + 0.3 * x2 + np.where(colour == "red", 1.5, 0.0)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour})
    if task == "regression":
        frame["y"] = 100.0 + 10.0 * signal + rng.normal(scale=1.0, size=rows)
    elif task == "binary":
        frame["y"] = np.where(signal > np.median(signal), "yes", "no")
    else:
        frame["y"] = pd.cut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    return frame


def write_track(directory: Path, *, name: str = "tiny", task: str = "regression", frame: pd.DataFrame | None = None,
                objective: str | None = None, max_epochs: int = 3, tuner: str = "hyperband",
                data_extra: str = "", search_extra: str = "") -> Path:
    """A track file and its CSV in `directory`; returns the track file's path."""
    frame = make_table(task) if frame is None else frame
    csv = directory / f"{name}.csv"
    frame.to_csv(csv, index=False)
    objective = objective or ("val_mae" if task == "regression" else "val_accuracy")
    track = directory / f"{name}.toml"
    track.write_text(TRACK_TEMPLATE.format(
        name=name, task=task, path=csv.name, target="y", objective=objective, max_epochs=max_epochs,
        tuner=tuner, data_extra=data_extra, search_extra=search_extra,
    ))
    return track


TINY_CIFAR10 = Path(__file__).parent / "data" / "cifar10_tiny.npz"  # 300 + 100 real images; see data/README.md


def fixed(values: dict) -> kt.HyperParameters:
    """Hyperparameters held at `values` (Keras Tuner's `hp.Fixed`), for building one network of a space."""
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


@pytest.fixture(scope="module")
def tiny_cifar10():
    """The 400 real CIFAR-10 images of tests/data, split 240 / 60 / 100."""
    from automl.data.images import CIFAR10_CLASSES, load_images, read_npz

    return load_images(read_npz(TINY_CIFAR10), "multiclass", classes=CIFAR10_CLASSES, validation=0.2, seed=0)


@pytest.fixture
def tiny_track(tmp_path: Path) -> Path:
    return write_track(tmp_path)


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture(autouse=True)
def no_weights_from_outside(tmp_path_factory, monkeypatch):
    """Tests see no pretrained weights but those they make, and download none: this machine's imported copies
    ($AUTOML_HOME/weights, Keras' cache) must not change what a test searches, and CI has a network."""
    from automl.hypermodels import weights

    home = tmp_path_factory.mktemp("automl_home")
    monkeypatch.setenv("AUTOML_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))

    def offline(entry):
        raise OSError(f"tests do not download {entry.file_name}")

    monkeypatch.setattr(weights, "keras_download", offline)


def pytest_collection_modifyitems(config, items):
    """`ci` keeps a slow test in the default run; on a fast test it would mean nothing, so it is a mistake."""
    stray = [item.nodeid for item in items if item.get_closest_marker("ci") and not item.get_closest_marker("slow")]
    if stray:
        raise pytest.UsageError(f"marked ci but not slow (ci keeps a slow test in the default run): {stray}")
