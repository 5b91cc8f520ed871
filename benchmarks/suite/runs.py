"""What the suite's parts share: where their searches live, their tracks and seeds, the machine's description.

The tracks are the real ones, or tiny copies of them for --quick.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from automl.track import load_track
from benchmarks import ROOT

TABULAR_TRACKS = ("boston", "used_cars", "caravan")
SEEDS = 5  # search seeds per tabular track (the split's seed stays the track's)
# --quick: rows kept of each table, and the budget of every search (seconds).
QUICK_ROWS = {"boston": 200, "used_cars": 400, "caravan": 600}
QUICK_SEEDS = 2
QUICK_TIME_LIMIT = 6.0


@dataclass
class Context:
    """One run of the benchmarks: real or quick, where it writes, which tracks and seeds it uses."""

    quick: bool
    out: Path  # results.json and README.md
    results_dir: Path  # where the reference runs live (CIFAR-10's benchmark.json)
    seeds: int
    commands: list[str] = field(default_factory=list)  # every command run, for the README

    @property
    def work(self) -> Path:
        """The benchmark's own searches: never the reference runs under search_results/<track>/."""
        return self.out / "work"

    def track_file(self, name: str, *, seed: int | None = None, **search: Any) -> Path:
        """A copy of track `name` with its search seed (and any other search settings) changed; under --quick,
        on the first rows of its data with a few epochs and a tiny time limit."""
        track = load_track(name).as_dict()
        data, settings = dict(track["data"]), dict(track["search"])
        if seed is not None:
            settings["seed"] = seed
        if self.quick:
            data["path"] = str(self.quick_data(name))
            settings.update(max_epochs=3, patience=2, time_limit=f"{QUICK_TIME_LIMIT:g}s")
        settings.update(search)
        track.update(data=data, search=settings)
        suffix = "" if seed is None else f"_seed{seed}"
        path = self.work / "tracks" / f"{name}{suffix}{'_' + '_'.join(search) if search else ''}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(toml_track(track), encoding="utf-8")
        return path

    def quick_data(self, name: str) -> Path:
        source = load_track(name)
        path = self.work / "data" / f"{name}.csv"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            frame = pd.read_csv(source.data_path())
            frame.sample(n=min(QUICK_ROWS[name], len(frame)), random_state=0).to_csv(path, index=False)
        return path

    def search_seeds(self, name: str) -> list[int]:
        first = load_track(name).search.seed
        return [first + i for i in range(self.seeds)]

    def run_dir(self, name: str, seed: int) -> Path:
        """The results directory of one quality search (its track's files are under ``<run_dir>/<name>/``)."""
        return self.work / "quality" / name / f"seed{seed}"


def _toml_value(value: Any) -> str:
    """A value as TOML writes it: JSON's strings, numbers, booleans and arrays are TOML's; a table is inline."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml_value(v)}" for key, v in value.items()) + " }"
    return json.dumps(value)


def toml_track(track: dict[str, Any]) -> str:
    """A track dictionary (`Track.as_dict`) as a track file."""
    lines = [f"{key} = {json.dumps(track[key])}" for key in ("name", "task", "family")]
    for section in ("data", "split", "search", "model"):
        lines += ["", f"[{section}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in track[section].items()]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    """The machine and the library versions the figures were measured with."""
    from importlib.metadata import version

    import tensorflow as tf

    versions = {name: version(name) for name in ("tensorflow", "keras", "keras-tuner", "scikit-learn", "numpy")}
    return {
        "cores": os.cpu_count(),
        "cores_used": len(os.sched_getaffinity(0)),  # fewer when the run was pinned (taskset) to share the machine
        "processor": platform.processor() or platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        **versions,
        "load_average": round(os.getloadavg()[0], 2),
    }


def python_path() -> dict[str, str]:
    """The environment for a child process, so that it imports the same automl as this one."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def finite(value: Any) -> Any:
    """`value` with NaN and infinities as None, recursively: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M")


def mean_std(values: list[float]) -> dict[str, float]:
    import statistics

    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}
