"""Where a track's search lives on disk, and the small JSON files automl keeps beside Keras Tuner's."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from automl.errors import AutomlError

TUNER_PROJECT = "tuner"  # Keras Tuner's project directory inside search_results/<track>/
CHECKPOINT_FILE = "checkpoint.weights.h5"  # Keras Tuner's name for a trial's best weights
PRUNED_FILE = "pruned.json"  # beside a trial whose checkpoint automl.pruning deleted: when, why, bytes freed


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """`results_dir`, else $AUTOML_RESULTS, else ./search_results."""
    return Path(results_dir or os.environ.get("AUTOML_RESULTS") or "search_results")


class Store:
    """The files of one track's search under ``<results_dir>/<track>/``."""

    def __init__(self, track_name: str, results_dir: str | os.PathLike | None = None) -> None:
        self.track_name = track_name
        self.root = results_root(results_dir) / track_name

    @property
    def tuner_dir(self) -> Path:
        return self.root / TUNER_PROJECT

    def trial_dirs(self) -> list[Path]:
        return sorted(self.tuner_dir.glob("trial_*"))

    def path(self, name: str) -> Path:
        return self.root / name

    def has_search(self) -> bool:
        return (self.tuner_dir / "oracle.json").is_file()

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self.path(name)
        if not path.is_file():
            return default
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise AutomlError(f"{path} is unreadable ({error}); rerun the search with --restart") from None

    def write_json(self, name: str, value: Any) -> Path:
        return write_json(self.path(name), value)

    def require_search(self) -> None:
        if not self.has_search():
            raise AutomlError(
                f"no search found for track '{self.track_name}' in {self.root}; "
                f"run `automl search --track {self.track_name}` first"
            )


def write_json(path: Path, value: Any) -> Path:
    """Write JSON atomically (write a temporary file, then rename), so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(value, indent=2, default=_plain), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise AutomlError(f"cannot write {path} ({error.strerror}); free disk space or fix permissions") from None
    return path


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
