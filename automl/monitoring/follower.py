"""Following a run from the command line: a line per trial and per stage, and events for the trackers."""
from __future__ import annotations

import math
from collections.abc import Callable

from automl.context import Run
from automl.monitoring.events import best_on_disk
from automl.monitoring.progress import TrialProgress, duration
from automl.monitoring.trackers import Tracking
from automl.pipeline import Finished, Hooks
from automl.tuning.budget import total_units, units_used
from automl.tuning.distributed import Role
from automl.tuning.loop import SearchRun


class SearchFollower(Hooks):
    """The `pipeline.Hooks` of the command line: lines go to `say` (the CLI prints and logs them), events to
    the --notify command, MLflow and W&B. A worker sees only its own trials: it neither tracks nor estimates
    the time left, which are the chief's to do.

    It reads the trials on disk when the run is opened (`run_opened`), before the clock starts, as a search's
    setup should not eat into its time limit; its line's clock is the run's budget, from `run_started`.
    """

    def __init__(self, say: Callable[[str], None], *, role: Role, restart: bool = False, notify: str | None = None,
                 mlflow_uri: str | None = None, wandb: bool = False) -> None:
        self.say, self.role, self.restart = say, role, restart
        self.tracking = {"notify": notify, "mlflow_uri": mlflow_uri, "wandb": wandb}
        self.trackers: Tracking | None = None
        self.progress: TrialProgress | None = None
        self.opened = False

    def run_opened(self, run: Run) -> None:
        track, store, role = run.track, run.store, self.role
        self.opened = True
        self.trackers = None if role.is_worker else Tracking(run, restart=self.restart, **self.tracking)
        self.total, self.unit = total_units(track)
        _, self.best = (None, None) if self.restart else best_on_disk(store, track.direction)
        self.used_before = 0.0 if self.restart else units_used(store, self.unit)

    def run_started(self, run: Run) -> None:
        if not self.opened:  # a caller that did not open the run first (pipeline.run does)
            self.run_opened(run)
        track, role = run.track, self.role
        what = {"chief": f"serving '{track.name}' as the chief on port {role.port}",
                "worker": f"running trials of '{track.name}' for the chief at {role.host}:{role.port} as "
                          f"{role.tuner_id}",
                "local": f"searching '{track.name}'"}[role.kind]
        self.say(f"automl: {what} ({track.task}, {track.search.tuner}, objective {track.objective})"
                 + ("; the chief's time limit applies" if role.is_worker
                    else f" for up to {duration(run.budget.seconds)}"))
        self.progress = TrialProgress(track.objective, track.direction,
                                      math.inf if role.is_worker else run.budget.seconds, self.say,
                                      total=math.nan if role.is_worker else self.total, unit=self.unit,
                                      used_before=self.used_before, best=self.best, started=run.budget.started)

    def trial_done(self, trial) -> None:
        self.progress(trial)
        if self.trackers is not None:
            for event in self.trackers.trial_done(trial):
                if event["event"] == "trial_diverged":
                    self.say(f"automl: trial {event['trial_id']} {event['message']}")

    def search_ended(self, searched: SearchRun) -> None:
        self.say(f"automl: {searched.stopped_by} after {duration(searched.seconds)}; "
                 f"{searched.trials_after} trials ({searched.trials_after - searched.trials_before} this run)")
        self.trackers.search_ended(searched.stopped_by, searched.seconds, searched.trials_after)

    def final_fit_starting(self, run: Run) -> None:
        self.say("automl: final fit of the chosen configuration on the whole training split, until the time limit")

    def finished(self, run: Run, finished: Finished) -> None:
        fit = finished.tested.final_fit
        if fit:
            objective = run.track.objective
            self.say(f"automl: final fit of trial {fit['trial_id']}: {fit['epochs']:g} passes over "
                     f"{fit['train_images']} {fit.get('unit', 'images')} in {duration(fit['seconds'])}, {objective} "
                     f"{fit['validation'].get(objective, math.nan):.4f} against the trial's {fit['trial_score']:.4f}"
                     + ("" if fit["used"] else "; the trial's own weights stay the model"))
        self.trackers.model_chosen(finished.tested)
