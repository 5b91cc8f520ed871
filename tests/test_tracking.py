"""Tracking and alerts: --notify gets JSON events, --tensorboard writes HParams per trial, --mlflow logs a run
per trial and the chosen model with its signature. All offline, with local stores."""
from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import pytest

from automl.cli import main
from automl.errors import AutomlWarning
from automl.monitoring.events import (
    NEW_BEST,
    SEARCH_ENDED,
    TRIAL_DIVERGED,
    SearchEvents,
    trial_record,
)
from automl.monitoring.trackers import notify
from automl.selection.choice import candidate_name


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def _recorder(path: Path) -> str:
    """A notify command that appends each event (its standard input) as one line to `path`."""
    script = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read().strip() + '\\n')"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(script)} {shlex.quote(str(path))}"


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def tracked_search(tmp_path_factory):
    """One search with --notify, --tensorboard and --mlflow (file store), shared by the tests that read it."""
    pytest.importorskip("mlflow")  # CI installs the mlflow extra (.ci/run), so this runs there
    from conftest import write_track

    directory = tmp_path_factory.mktemp("tracking")
    track, results, events = write_track(directory), directory / "results", directory / "events.jsonl"
    uri = (directory / "mlruns").as_uri()
    status, _, err = _cli("search", "--track", str(track), "--results-dir", str(results), "--tensorboard",
                            "--notify", _recorder(events), "--mlflow", uri)
    assert status == 0, err
    trials = sorted(p.parent.name.removeprefix("trial_") for p in (results / "tiny" / "tuner").glob("trial_*/trial.json"))
    chosen = json.loads((results / "tiny" / "test_metrics.json").read_text())["trial_id"]
    return {"results": results, "events": _events(events), "uri": uri, "trials": trials, "chosen": chosen,
            "track": track}


def test_notify_gets_each_new_best_and_the_end_of_the_search(tracked_search):
    events = tracked_search["events"]
    bests = [e for e in events if e["event"] == NEW_BEST]
    assert bests and all(e["track"] == "tiny" and e["objective"] == "val_mae" for e in bests)
    scores = [e["score"] for e in bests]
    assert scores == sorted(scores, reverse=True)  # val_mae: each new best is lower
    assert [e["previous_best"] for e in bests[1:]] == scores[:-1]
    assert events[-1]["event"] == SEARCH_ENDED and events[-1]["stopped_by"] == "search complete"
    assert events[-1]["best_score"] == scores[-1] and events[-1]["trials"] == len(tracked_search["trials"])


def test_tensorboard_logs_each_trial_with_its_hyperparameters(tracked_search):
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    logs = tracked_search["results"] / "tiny" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == tracked_search["trials"]
    hparams, scalars = {}, set()
    for trial in tracked_search["trials"]:
        for events in (logs / trial).rglob("events.out.tfevents.*"):
            for record in tf.data.TFRecordDataset(str(events)):
                for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value:
                    if value.tag == "_hparams_/session_start_info":
                        data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                        hparams[trial] = set(data.session_start_info.hparams)
                    scalars.add(value.tag)
    assert set(hparams) == set(tracked_search["trials"])
    assert all({"learning_rate", "optimizer", "num_layers"} <= names for names in hparams.values())
    assert {"epoch_loss", "epoch_mae"} <= scalars


def test_mlflow_has_one_run_per_trial_with_hyperparameters_epoch_metrics_and_status(tracked_search):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracked_search["uri"])
    experiment = client.get_experiment_by_name("automl-tiny")
    runs = {r.data.tags["automl.trial_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == tracked_search["trials"]
    for trial_id, run in runs.items():
        assert run.data.tags["automl.status"] == "completed" and run.info.status == "FINISHED"
        assert {"learning_rate", "optimizer", "num_layers"} <= set(run.data.params)
        history = json.loads((tracked_search["results"] / "tiny" / "tuner" / f"trial_{trial_id}" / "history.json")
                             .read_text())
        logged = client.get_metric_history(run.info.run_id, "val_mae")
        first = history["initial_epoch"] + 1
        assert [m.step for m in logged] == list(range(first, first + len(history["history"]["val_mae"])))
        assert [m.value for m in logged] == pytest.approx(history["history"]["val_mae"])


def test_mlflow_keeps_the_chosen_model_with_its_signature(tracked_search):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracked_search["uri"])
    experiment = client.get_experiment_by_name("automl-tiny")
    chosen = client.search_runs([experiment.experiment_id], "tags.`automl.chosen` = 'true'")
    assert [r.data.tags["automl.trial_id"] for r in chosen] == [tracked_search["chosen"]]
    run_id = chosen[0].info.run_id
    assert {Path(a.path).name for a in client.list_artifacts(run_id, "model")} == {"MLmodel", "best_model.keras"}
    mlflow.set_tracking_uri(tracked_search["uri"])
    signature = mlflow.models.get_model_info(f"runs:/{run_id}/model").signature
    assert signature.inputs.input_names() == ["x1", "x2", "colour"]  # the raw columns `automl predict` takes
    assert "test_rmse" in chosen[0].data.metrics


def test_mlflow_gives_a_chosen_ensemble_a_run_of_its_own(tracked_search, tmp_path):
    """The ensemble is no trial and has no trial's run; when it is chosen, it gets a run with its members."""
    import mlflow

    from automl.context import Run
    from automl.monitoring.trackers import MlflowTracker
    from automl.selection.scoring import HeldOutFigures
    from automl.store import ENSEMBLE_JSON

    results = tmp_path / "results"
    shutil.copytree(tracked_search["results"], results)
    searched = Run.open(tracked_search["track"], results)
    searched.store.write_json(ENSEMBLE_JSON, {"members": ["0003", "0001"], "weights": [0.75, 0.25], "score": 1.5})
    uri = (tmp_path / "mlruns").as_uri()
    MlflowTracker(uri, searched).model_chosen(HeldOutFigures.from_dict({"trial_id": "ensemble", "mae": 1.25,
                                                                        "rows": 10}))
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("automl-tiny")
    (run,) = client.search_runs([experiment.experiment_id], "tags.`automl.chosen` = 'true'")
    assert run.data.tags["automl.trial_id"] == "ensemble" and run.info.run_name == candidate_name("ensemble")
    assert run.data.params == {"members": "0003, 0001", "weights": "0.75, 0.25"}
    assert run.data.metrics == {"score": 1.5, "test_mae": 1.25}
    assert {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "model")} == \
        {"MLmodel", "best_model.keras"}


def test_mlflow_without_the_package_names_the_extra(tiny_track, results_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    status, _, err = _cli("search", "--track", str(tiny_track), "--results-dir", str(results_dir),
                          "--mlflow", "file:./mlruns")
    assert status == 2
    assert err.strip() == ("automl: error: --mlflow needs the mlflow package; "
                           "install it with: pip install 'automl-hyperband[mlflow]'")


def test_notify_is_told_when_a_trial_diverges_and_when_the_failed_search_ends(tiny_track, results_dir, tmp_path,
                                                                              monkeypatch):
    from automl.hypermodels import mlp
    from automl.tuning import loop

    monkeypatch.setattr(mlp, "make_optimizer", lambda name, learning_rate: keras.optimizers.SGD(1e12))
    # Whole trials: the 1 s limit ends the search between trials, not inside one (StopAtDeadline would end
    # the trial after one batch, whose loss is still finite, and the trial would complete). A diverging trial
    # takes well under a second, so one or a few run before the limit; every one of them diverges.
    monkeypatch.setattr(loop, "StopAtDeadline", lambda deadline: keras.callbacks.Callback())
    # The squared error: the absolute error's and Huber's gradients are bounded, so a trial that draws them
    # survives the huge rate with a finite loss, and completes when the machine is fast enough to reach it.
    tiny_track.write_text(tiny_track.read_text() + '\n[model.fixed]\nloss = "mse"\n')
    events = tmp_path / "events.jsonl"
    status, out, err = _cli("search", "--track", str(tiny_track), "--results-dir", str(results_dir),
                            "--notify", _recorder(events), "--time-limit", "1s")
    assert status == 1, err  # no trial completed: a failed search, notified all the same
    *diverged, ended = _events(events)
    assert diverged and [d["event"] for d in diverged] == [TRIAL_DIVERGED] * len(diverged)
    assert [d["trial_id"] for d in diverged] == [f"{i:04d}" for i in range(len(diverged))]
    assert all(d["message"].startswith("diverged: the training loss became NaN or infinite at epoch 1")
               for d in diverged)
    assert ended["event"] == SEARCH_ENDED and ended["best_score"] is None
    assert "automl: trial 0000 diverged: the training loss became NaN" in out


def test_a_diverged_trial_is_an_event_and_a_failed_one_for_another_reason_is_not():
    hp = kt.HyperParameters()
    hp.values = {"learning_rate": 0.1, "tuner/epochs": 3}
    diverged = kt.engine.trial.Trial(hp, trial_id="7", status="FAILED")
    diverged.message = ("Traceback (most recent call last):\n  ...\nkeras_tuner.src.errors.FailedTrialError: "
                        "diverged: the training loss became NaN or infinite at epoch 2")
    other = kt.engine.trial.Trial(hp, trial_id="8", status="FAILED")
    other.message = "Traceback ...\nValueError: out of memory"
    events = SearchEvents("tiny", "val_mae", "min")
    (event,) = events.after_trial(trial_record(diverged))
    assert event["event"] == TRIAL_DIVERGED and event["trial_id"] == "7"
    assert event["message"] == "diverged: the training loss became NaN or infinite at epoch 2"
    assert event["hyperparameters"] == {"learning_rate": 0.1}
    assert events.after_trial(trial_record(other)) == []


def test_a_failing_notify_command_is_a_note_not_a_stop():
    with pytest.warns(AutomlWarning, match=r"--notify command failed on event search_ended \(exit status 3: oops\)"):
        notify("echo oops >&2; exit 3", {"event": "search_ended"})


def test_a_notify_command_that_hangs_is_stopped():
    with pytest.warns(AutomlWarning, match=r"took over 0.5s on event new_best; it was stopped"):
        notify("sleep 10", {"event": "new_best"}, timeout=0.5)


def test_wandb_offline_has_a_run_per_trial_and_the_chosen_model(tiny_track, results_dir, monkeypatch):
    pytest.importorskip("wandb")  # CI installs the wandb extra (.ci/run), so this runs there
    monkeypatch.setenv("WANDB_MODE", "offline")
    status, _, err = _cli("search", "--track", str(tiny_track), "--results-dir", str(results_dir), "--wandb",
                          "--time-limit", "2s")
    assert status == 0, err
    trials = sorted(p.parent.name.removeprefix("trial_") for p in (results_dir / "tiny" / "tuner").glob("trial_*/trial.json"))
    # W&B's offline run files are its own binary records; the names and keys logged are readable in them.
    runs = [p.read_bytes() for p in sorted((results_dir / "tiny" / "wandb").glob("offline-run-*/run-*.wandb"))]
    assert len(runs) == len(trials) + 1  # one run per trial, one for the chosen model
    (chosen_run,) = [run for run in runs if b"tiny-model" in run]
    trial_runs = [run for run in runs if run is not chosen_run]
    assert sorted(t for t in trials for run in trial_runs if f"trial {t}".encode() in run) == trials
    assert all(key in run for run in trial_runs for key in (b"learning_rate", b"val_mae", b"epoch", b"completed"))
    chosen = json.loads((results_dir / "tiny" / "test_metrics.json").read_text())["trial_id"]
    assert f"chosen: {candidate_name(chosen)}".encode() in chosen_run and b"best_model.keras" in chosen_run
