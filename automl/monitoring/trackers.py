"""Where a search's trials and events go besides the results directory: a notify command, MLflow, W&B.

Nothing here may stop a search: a tracker that fails becomes an `AutomlWarning` (printed by the CLI
as a note) and the search goes on. Each finished trial is tracked once, by the process that sees
every trial: a local search, or the chief of a distributed one.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from automl.context import Run
from automl.errors import AutomlError, AutomlWarning, first_line, last_line
from automl.monitoring.events import SearchEvents, best_on_disk, trial_record
from automl.selection.choice import candidate_name
from automl.selection.scoring import HeldOutFigures
from automl.serving.models import load_best_model
from automl.serving.predict import predict_with
from automl.store import ENSEMBLE_ID, Store, read_json_file

NOTIFY_TIMEOUT = 30  # seconds a notify command may take before it is abandoned
SIGNATURE_ROWS = 5  # validation rows used to infer the chosen model's MLflow signature


class Tracking:
    """Sends each finished trial to the trackers and its events (new best, diverged) to the notify command."""

    def __init__(self, run: Run, *, notify: str | None = None, mlflow_uri: str | None = None,
                 wandb: bool = False, restart: bool = False) -> None:
        track, store = run.track, run.store
        self.track, self.store, self.notify_command = track, store, notify
        best = (None, None) if restart else best_on_disk(store, track.direction)  # --restart clears the store
        self.events = SearchEvents(track.name, track.objective, track.direction, *best)
        self.trackers: list[Any] = []
        if mlflow_uri:
            self.trackers.append(MlflowTracker(mlflow_uri, run))
        if wandb:
            self.trackers.append(WandbTracker(run))

    def trial_done(self, trial) -> list[dict[str, Any]]:
        """Track one finished Keras Tuner trial; returns the events it caused."""
        record = trial_record(trial)
        history = read_json_file(self.store.history_record(record["trial_id"]), {})
        for tracker in self.trackers:
            _guarded(f"{tracker.name}: trial {record['trial_id']}", tracker.trial_done, record, history)
        events = self.events.after_trial(record)
        for event in events:
            self.notify(event)
        return events

    def search_ended(self, stopped_by: str, seconds: float, trials: int) -> dict[str, Any]:
        event = self.events.search_ended(stopped_by, seconds, trials)
        self.notify(event)
        return event

    def model_chosen(self, tested: HeldOutFigures) -> None:
        """Log the chosen model (and its test figures) with the trackers, after the report is written."""
        for tracker in self.trackers:
            _guarded(f"{tracker.name}: the chosen model", tracker.model_chosen, tested)
        for tracker in self.trackers:
            _guarded(f"{tracker.name}: closing", tracker.close)

    def notify(self, event: dict[str, Any]) -> None:
        if self.notify_command:
            notify(self.notify_command, event)


def notify(command: str, event: dict[str, Any], timeout: float = NOTIFY_TIMEOUT) -> None:
    """Run `command` in the shell with the event as one JSON document on its standard input."""
    try:
        done = subprocess.run(command, shell=True, input=json.dumps(event), text=True, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        warnings.warn(f"--notify command took over {timeout:g}s on event {event['event']}; "
                      "it was stopped and the search goes on", AutomlWarning, stacklevel=2)
        return
    except OSError as error:
        warnings.warn(f"--notify command could not run ({error}); the search goes on", AutomlWarning, stacklevel=2)
        return
    if done.returncode != 0:
        said = last_line(done.stderr or done.stdout)
        warnings.warn(f"--notify command failed on event {event['event']} (exit status {done.returncode}"
                      f"{': ' + said if said else ''}); the search goes on", AutomlWarning, stacklevel=2)


def _guarded(what: str, function, *args) -> None:
    try:
        function(*args)
    except Exception as error:  # noqa: BLE001 -- tracking is a side channel: it never stops the search
        warnings.warn(f"{what} was not logged ({type(error).__name__}: {last_line(str(error))})",
                      AutomlWarning, stacklevel=3)


def _epoch_rows(history: dict[str, Any]) -> list[tuple[int, str, float]]:
    """(epoch, metric, value) for every epoch of a trial, epochs counted from 1 across Hyperband rounds."""
    first = int(history.get("initial_epoch", 0))
    return [(first + step + 1, name, float(value))
            for name, values in history.get("history", {}).items() for step, value in enumerate(values)]


def _chosen_example(run: Run):
    """A few raw validation rows and the chosen model's predictions for them: the model's signature."""
    family, schema = run.family, run.schema()
    rows = run.data().validation.x[:SIGNATURE_ROWS]
    model = load_best_model(run)
    return rows, predict_with(model, family, schema, family.model_inputs(rows, schema))


def _import(name: str, extra: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise AutomlError(f"--{extra} needs the {name} package; "
                          f"install it with: pip install 'automl-hyperband[{extra}]'") from None


class MlflowTracker:
    """One MLflow run per trial (hyperparameters, per-epoch metrics, status); the chosen model as an artefact."""

    name = "MLflow"

    def __init__(self, uri: str, run: Run) -> None:
        track = run.track
        mlflow = _import("mlflow", "mlflow")
        if "://" not in uri or uri.startswith("file:"):
            # MLflow 3 refuses its file store unless asked: --mlflow file:... is that request. The store
            # is "in maintenance mode" upstream; a server (http://...) or sqlite:/// needs no opt-in.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.mlflow = mlflow
        try:
            self.client = mlflow.MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(f"automl-{track.name}")
            self.experiment_id = (experiment.experiment_id if experiment is not None
                                  else self.client.create_experiment(f"automl-{track.name}"))
        except mlflow.exceptions.MlflowException as error:
            raise AutomlError(f"--mlflow {uri}: {first_line(error, 300)}; "
                              "give a tracking URI such as file:./mlruns, sqlite:///mlflow.db "
                              "or http://host:5000") from None
        self.searched = run  # the automl run whose trials these are (MLflow's runs are the trials)
        self.track = track
        self.run_ids: dict[str, str] = {}

    def trial_done(self, record: dict[str, Any], history: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run = self.client.create_run(self.experiment_id, run_name=f"trial {record['trial_id']}",
                                     tags={"automl.track": self.track.name, "automl.trial_id": record["trial_id"]})
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(name, value, now, epoch) for epoch, name, value in _epoch_rows(history)]
        if record["score"] is not None:
            metrics.append(Metric("score", record["score"], now, 0))
        tags = [RunTag("automl.status", record["status"])]
        if record["message"]:
            tags.append(RunTag("automl.message", record["message"][:4000]))
        params = [Param(k, str(v)) for k, v in record["hyperparameters"].items()]
        for start in range(0, max(len(metrics), 1), 1000):  # MLflow takes at most 1000 metrics per batch
            self.client.log_batch(run_id, metrics=metrics[start:start + 1000],
                                  params=params if start == 0 else [], tags=tags if start == 0 else [])
        self.client.set_terminated(run_id, "FINISHED" if record["status"] == "completed" else "FAILED")
        self.run_ids[record["trial_id"]] = run_id

    def model_chosen(self, tested: HeldOutFigures) -> None:
        """The chosen model's .keras file with an MLmodel file holding its signature, in the chosen trial's run."""
        from mlflow.models import Model, infer_signature

        store = self.searched.store
        trial_id = tested.trial_id
        run_id = (self._ensemble_run(store) if trial_id == ENSEMBLE_ID
                  else self.run_ids.get(trial_id) or self._run_of(trial_id))
        rows, predicted = _chosen_example(self.searched)
        signature = infer_signature(rows, predicted)
        with tempfile.TemporaryDirectory() as folder:
            Model(artifact_path="model", run_id=run_id, signature=signature).save(str(Path(folder) / "MLmodel"))
            (Path(folder) / store.best_model.name).write_bytes(store.best_model.read_bytes())
            self.client.log_artifacts(run_id, folder, artifact_path="model")
        self.client.set_tag(run_id, "automl.chosen", "true")
        for name, value in tested.figures.items():
            if isinstance(value, (int, float)) and name != "rows":
                self.client.log_metric(run_id, f"test_{name}", float(value))

    def _ensemble_run(self, store: Store) -> str:
        """A run of its own for the chosen ensemble, which is no trial: its members and weights as parameters."""
        from mlflow.entities import Param

        ensemble = store.read_json(store.ensemble_record) or {}
        run = self.client.create_run(self.experiment_id, run_name=candidate_name(ENSEMBLE_ID),
                                     tags={"automl.track": self.track.name, "automl.trial_id": ENSEMBLE_ID,
                                           "automl.status": "completed"})
        members = ensemble.get("members", [])
        self.client.log_batch(run.info.run_id, params=[
            Param("members", ", ".join(members)),
            Param("weights", ", ".join(f"{w:.4g}" for w in ensemble.get("weights", [])))])
        if ensemble.get("score") is not None:
            self.client.log_metric(run.info.run_id, "score", float(ensemble["score"]))
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id

    def _run_of(self, trial_id: str) -> str:
        runs = self.client.search_runs([self.experiment_id], f"tags.`automl.trial_id` = '{trial_id}'",
                                       max_results=1, order_by=["attributes.start_time DESC"])
        if not runs:
            raise AutomlError(f"no MLflow run for trial {trial_id}")
        return runs[0].info.run_id

    def close(self) -> None:
        pass


class WandbTracker:
    """One Weights & Biases run per trial (config, per-epoch metrics, status); the chosen model as an artefact.

    `WANDB_MODE=offline` keeps the runs on disk (under the track's ``wandb/``) for `wandb sync`.
    """

    name = "W&B"

    def __init__(self, run: Run) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")  # W&B's banner lines would interleave with automl's
        self.wandb = _import("wandb", "wandb")
        self.track, self.store = run.track, run.store
        self.directory = run.store.wandb_dir
        self.directory.mkdir(parents=True, exist_ok=True)

    def _run(self, name: str, **settings: Any):
        return self.wandb.init(project=f"automl-{self.track.name}", name=name, dir=str(self.store.root),
                               reinit="create_new", **settings)

    def trial_done(self, record: dict[str, Any], history: dict[str, Any]) -> None:
        run = self._run(f"trial {record['trial_id']}", config=record["hyperparameters"],
                        tags=[self.track.name, record["status"]])
        try:
            by_epoch: dict[int, dict[str, float]] = {}
            for epoch, name, value in _epoch_rows(history):
                by_epoch.setdefault(epoch, {})[name] = value
            for epoch in sorted(by_epoch):
                run.log({**by_epoch[epoch], "epoch": epoch}, step=epoch)
            run.summary["status"] = record["status"]
            run.summary["trial_id"] = record["trial_id"]
            if record["score"] is not None:
                run.summary["score"] = record["score"]
        finally:
            run.finish(exit_code=0 if record["status"] == "completed" else 1)

    def model_chosen(self, tested: HeldOutFigures) -> None:
        run = self._run(f"chosen: {candidate_name(tested.trial_id)}", job_type="choice")
        try:
            run.summary.update({f"test_{k}": v for k, v in tested.figures.items() if isinstance(v, (int, float))})
            artifact = self.wandb.Artifact(f"{self.track.name}-model", type="model",
                                           metadata={"trial_id": tested.trial_id})
            artifact.add_file(str(self.store.best_model))
            run.log_artifact(artifact)
        finally:
            run.finish()

    def close(self) -> None:
        pass
