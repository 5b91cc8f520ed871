"""Where a track's search lives on disk: the one module that knows the files of ``search_results/<track>/``.

::

    search_results/<track>/
      track.json  schema.json  runs.json      the track searched, what the model takes, each run of the search
      tuner/                                  Keras Tuner's project: oracle.json, tuner0.json, trial_<id>/
        trial_<id>/trial.json                 Keras Tuner's record of a trial
                   checkpoint.weights.h5      its best weights (deleted by pruning: then pruned.json says why)
                   history.json               automl: the learning curves, seconds, parameters
                   measures.json              automl: size and latency, cached
      best_model.keras  top_model.keras       the chosen model and the top-scoring one
      final_model.keras  final_fit.json       the final fit (tracks with search.final_fit)
      test_metrics.json                       the test figures, used once
      report.csv  report.html  summary.md  plots/
      importance.csv                          what the chosen model relies on (tables)
      search.log  search.lock  logs/          the run's lines, the lock, TensorBoard
      unfinished.json                         a search ended, its final fit, test or report not yet done

Reading is tolerant of Keras Tuner's damaged files (`automl.tuning.restore` repairs them), strict of automl's own.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.data.schema import Schema
from automl.errors import AutomlError, disk_failure, on_disk, resource_error

TUNER_PROJECT = "tuner"  # Keras Tuner's project directory inside search_results/<track>/
ORACLE_FILE = "oracle.json"
TRIAL_FILE = "trial.json"
CHECKPOINT_FILE = "checkpoint.weights.h5"  # Keras Tuner's name for a trial's best weights
HISTORY_FILE = "history.json"
MEASURES_FILE = "measures.json"
PRUNED_FILE = "pruned.json"
TRACK_JSON = "track.json"
SCHEMA_JSON = "schema.json"
RUNS_JSON = "runs.json"
BEST_MODEL_FILE = "best_model.keras"  # the chosen model (the choice rule), what goes to production
TOP_MODEL_FILE = "top_model.keras"  # the top-scoring model, kept for comparison
MODEL_FILES = {"choice": BEST_MODEL_FILE, "score": TOP_MODEL_FILE}
FINAL_MODEL_FILE = "final_model.keras"
FINAL_FIT_JSON = "final_fit.json"
# The chosen table configuration retrained on training + validation (automl/tuning/refit.py).
REFIT_JSON = "refit.json"
REFIT_MODEL_FILE = "refit_model.keras"
# The ensemble of the best trials (automl/selection/ensemble.py): its record, its model, its row's trial_id.
ENSEMBLE_JSON = "ensemble.json"
ENSEMBLE_MODEL_FILE = "ensemble_model.keras"
ENSEMBLE_ID = "ensemble"
TEST_METRICS = "test_metrics.json"
# Written when a search stage ends, removed once the report is written: a run killed in between (during its final
# fit or its report) is finished by the next one, which does not search again.
UNFINISHED_JSON = "unfinished.json"
REPORT_CSV = "report.csv"
IMPORTANCE_CSV = "importance.csv"  # permutation importance of the chosen model's raw columns (tables)
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
PLOTS_DIR = "plots"
SEARCH_LOG = "search.log"
LOCK_FILE = "search.lock"
# Decoded images of a folder too large to hold in memory (automl/data/image_folder.py), memory-mapped.
IMAGES_CACHE = "images_cache"
WANDB_DIR = "wandb"
TENSORBOARD_DIR = "logs"  # per trial: logs/<trial id>/execution0/, with HParams
FINISHED = ("COMPLETED", "FAILED", "INVALID")


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """`results_dir`, else $AUTOML_RESULTS, else ./search_results."""
    return Path(results_dir or os.environ.get("AUTOML_RESULTS") or "search_results")


@dataclass(frozen=True)
class TrialFile:
    """One trial directory: its id, where it is, and Keras Tuner's ``trial.json`` (None while unreadable)."""

    trial_id: str
    directory: Path
    record: dict[str, Any] | None

    @property
    def status(self) -> str:
        return str((self.record or {}).get("status", ""))

    @property
    def score(self) -> float | None:
        return (self.record or {}).get("score")

    @property
    def values(self) -> dict[str, Any]:
        """The trial's hyperparameter values, Keras Tuner's reserved ``tuner/...`` ones included."""
        return (self.record or {}).get("hyperparameters", {}).get("values", {})

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def checkpoint(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    @property
    def pruned(self) -> bool:
        return (self.directory / PRUNED_FILE).is_file()

    def history(self) -> dict[str, Any]:
        """The trial's ``history.json`` record (curves, epochs, seconds, params); empty if it has none."""
        return read_json_file(self.directory / HISTORY_FILE, {})


class Store:
    """The files of one track's search under ``<results_dir>/<track>/``."""

    def __init__(self, track_name: str, results_dir: str | os.PathLike | None = None) -> None:
        self.track_name = track_name
        self._schema, self._schema_key = None, None  # schema.json as last read, and its (mtime, size)
        self.root = results_root(results_dir) / track_name

    @property
    def tuner_dir(self) -> Path:
        return self.root / TUNER_PROJECT

    # The files of the search, by what they hold: the only place their names are joined to the folder.
    @property
    def track_record(self) -> Path:
        return self.root / TRACK_JSON

    @property
    def schema_record(self) -> Path:
        return self.root / SCHEMA_JSON

    @property
    def runs_record(self) -> Path:
        return self.root / RUNS_JSON

    @property
    def best_model(self) -> Path:
        """The chosen model: what goes to production."""
        return self.root / BEST_MODEL_FILE

    @property
    def top_model(self) -> Path:
        """The top-scoring model, kept for comparison."""
        return self.root / TOP_MODEL_FILE

    def model_file(self, by: str) -> Path:
        """The chosen model (``by="choice"``) or the top-scoring one (``by="score"``)."""
        return self.root / MODEL_FILES[by]

    @property
    def final_model(self) -> Path:
        return self.root / FINAL_MODEL_FILE

    @property
    def final_fit_record(self) -> Path:
        return self.root / FINAL_FIT_JSON

    @property
    def refit_model(self) -> Path:
        return self.root / REFIT_MODEL_FILE

    @property
    def refit_record(self) -> Path:
        return self.root / REFIT_JSON

    @property
    def ensemble_model(self) -> Path:
        return self.root / ENSEMBLE_MODEL_FILE

    @property
    def ensemble_record(self) -> Path:
        return self.root / ENSEMBLE_JSON

    @property
    def test_metrics(self) -> Path:
        return self.root / TEST_METRICS

    @property
    def unfinished_record(self) -> Path:
        """The mark of a search whose stage ended and whose report is not written yet (`UNFINISHED_JSON`)."""
        return self.root / UNFINISHED_JSON

    @property
    def report_csv(self) -> Path:
        return self.root / REPORT_CSV

    @property
    def report_html(self) -> Path:
        return self.root / REPORT_HTML

    @property
    def summary_md(self) -> Path:
        return self.root / SUMMARY_MD

    @property
    def importance_csv(self) -> Path:
        return self.root / IMPORTANCE_CSV

    @property
    def plots_dir(self) -> Path:
        return self.root / PLOTS_DIR

    def plot(self, name: str) -> Path:
        """A figure of the report, ``plots/<name>``."""
        return self.plots_dir / name

    @staticmethod
    def plot_link(name: str) -> str:
        """A figure as the report's pages link to it, relative to the search folder."""
        return f"{PLOTS_DIR}/{name}"

    def search_log(self, tuner_id: str | None = None) -> Path:
        """The run's lines: ``search.log``, or a worker's own ``search-<tuner id>.log``."""
        return self.root / (f"search-{tuner_id}.log" if tuner_id else SEARCH_LOG)

    @property
    def lock_file(self) -> Path:
        """The lock of the search running here (`automl.tuning.lock`)."""
        return self.root / LOCK_FILE

    @property
    def wandb_dir(self) -> Path:
        """W&B's offline runs (``WANDB_MODE=offline``), for `wandb sync`."""
        return self.root / WANDB_DIR

    @property
    def images_cache(self) -> Path:
        return self.root / IMAGES_CACHE

    @property
    def tensorboard_dir(self) -> Path:
        return self.root / TENSORBOARD_DIR

    def trial_file(self, trial_id: str) -> Path:
        """Keras Tuner's ``trial.json`` of a trial."""
        return self.trial_dir(trial_id) / TRIAL_FILE

    def checkpoint(self, trial_id: str) -> Path:
        """A trial's best weights (deleted by pruning, which then leaves `pruned_record`)."""
        return self.trial_dir(trial_id) / CHECKPOINT_FILE

    def pruned_record(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / PRUNED_FILE

    def measures_record(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / MEASURES_FILE

    def history_record(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / HISTORY_FILE

    def tuner_file(self, tuner_id: str) -> Path:
        """Keras Tuner's state of one tuner process (``tuner0.json``, ``chief.json``, a worker's)."""
        return self.tuner_dir / f"{tuner_id}.json"

    def trial_dir(self, trial_id: str) -> Path:
        return self.tuner_dir / f"trial_{trial_id}"

    def trial_dirs(self) -> list[Path]:
        return sorted(self.tuner_dir.glob("trial_*"))

    def trials(self, finished: dict[str, TrialFile] | None = None) -> list[TrialFile]:
        """Every trial with a ``trial.json``, in id order; one being written has ``record`` None.

        `finished`, kept by a caller that reads the trials again and again (pruning, after every trial), holds
        the finished trials already read, by directory name: their records no longer change, so they are not
        read again, and those found finished now are added.
        """
        found = []
        for directory in self.trial_dirs():
            known = finished.get(directory.name) if finished is not None else None
            if known is not None:
                found.append(known)
                continue
            path = directory / TRIAL_FILE
            if path.is_file():
                record = read_json_file(path)
                trial_id = str(record["trial_id"]) if record else directory.name.removeprefix("trial_")
                found.append(TrialFile(trial_id, directory, record))
                if finished is not None and found[-1].finished:
                    finished[directory.name] = found[-1]
        return found

    def histories(self) -> dict[str, dict[str, Any]]:
        """Trial id -> its ``history.json`` record; empty for trials without one."""
        return {path.name.removeprefix("trial_"): read_json_file(path / HISTORY_FILE, {}) for path in self.trial_dirs()}

    @property
    def oracle_file(self) -> Path:
        return self.tuner_dir / ORACLE_FILE

    def oracle_state(self) -> dict[str, Any] | None:
        """Keras Tuner's ``oracle.json``, or None when there is none or it cannot be read."""
        return read_json_file(self.oracle_file)

    def has_search(self) -> bool:
        return self.oracle_file.is_file()

    def require_search(self) -> None:
        if not self.has_search():
            raise AutomlError(
                f"no search found for track '{self.track_name}' in {self.root}; "
                f"run `automl search --track {self.track_name}` first"
            )

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Within it, a failure of the machine under this search's folder (a full disk, a read-only or vanished
        folder) while `doing` a stage ends in one `ResourceError` line that names the folder, the stage and the fix;
        every other error passes through (`automl.errors.on_disk`). A search that vanished during the stage, its
        folders made again by the stage's own writes, is the same failure."""
        searched = self.has_search()
        with on_disk(self.root, doing):
            yield
        if searched and not self.has_search():
            raise resource_error(errno.ENOENT, self.root, doing)

    def read_json(self, path: Path | str, default: Any = None) -> Any:
        """One of automl's JSON files (`track_record`, `ensemble_record`, ..., or a file name in the search's folder);
        a broken one is an error that names the fix."""
        path = self._in_root(path)
        if not path.is_file():
            return default
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # ValueError: cut short (JSON) or garbage bytes (UTF-8)
            raise AutomlError(f"{path} is unreadable ({error}); rerun the search with --restart") from None

    def write_json(self, path: Path | str, value: Any) -> Path:
        """Write one of automl's JSON files (`track_record`, ..., or a file name in the search's folder) atomically."""
        return write_json(self._in_root(path), value)

    def _in_root(self, path: Path | str) -> Path:
        return self.root / path if isinstance(path, str) else path

    def schema(self) -> Schema:
        """What the search's models take (``schema.json``): every stage asks, so the file is read again only when it
        changed (a --restart writes it anew)."""
        stat = self.schema_record.stat() if self.schema_record.is_file() else None
        key = (stat.st_mtime_ns, stat.st_size) if stat else None
        if key is None or key != self._schema_key:
            values = self.read_json(self.schema_record)
            if values is None:
                raise AutomlError(f"{self.root} has no {SCHEMA_JSON}; rerun `automl search --track {self.track_name}`")
            self._schema, self._schema_key = Schema.from_dict(values), key
        return self._schema

    def clear(self) -> None:
        """--restart: everything of the previous search goes, except the lock this search holds."""
        for path in self.root.iterdir():
            if path.name == LOCK_FILE:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def read_json_file(path: Path, default: Any = None) -> Any:
    """A JSON file, or `default` when it is missing or unreadable (being written by another process, or
    cut short by a kill): callers that can do without it go on."""
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default
    except (OSError, ValueError):  # cut short (JSONDecodeError) or garbage bytes (UnicodeDecodeError)
        return default


def write_json(path: Path, value: Any) -> Path:
    """Write JSON atomically, so a kill never leaves half a file."""
    text = json.dumps(value, indent=2, default=_plain)
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_atomic(path: Path, write: Callable[[Path], Any], elsewhere: str = "use --results-dir") -> Path:
    """Let `write` fill a temporary file beside `path`, then rename it into place: readers see the old file
    or the new one, never half of one. A full disk, or a read-only or vanished folder, is a `ResourceError`
    whose fix is `elsewhere` (or freeing space); another failure an `AutomlError`."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)  # no half file left behind to fill the disk
        code = disk_failure(error, path.parent)
        if code is not None:
            raise resource_error(code, path.parent, f"writing {path.name}", elsewhere) from None
        raise AutomlError(f"cannot write {path} ({error.strerror}); free disk space or fix permissions") from None
    return path


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value.tolist() if hasattr(value, "tolist") else str(value)
