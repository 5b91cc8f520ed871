"""Following a run started from Python: a progress bar (a widget in Jupyter, a line in a terminal), or a line per
trial, as Keras' ``verbose=`` has it; the per-trial lines go to ``search.log`` either way.

The bar is `tqdm.auto`'s: it picks the notebook widget when it runs in Jupyter and a text bar elsewhere, which a
hand-made bar would have to find out for itself. Its length is the run's time limit; it moves when a trial ends and
says how many trials ran, the best score so far and the time left (`TrialProgress`, the command line's estimate).
"""
from __future__ import annotations

import math
import time

from tqdm.auto import tqdm

from automl.context import Run
from automl.monitoring.follower import SearchFollower
from automl.monitoring.log import SearchLog
from automl.pipeline import Finished
from automl.selection.choice import candidate_name
from automl.tuning.distributed import LOCAL
from automl.tuning.loop import SearchRun

SILENT, BAR, LINES = 0, 1, 2
VERBOSE = (SILENT, BAR, LINES)


class ProgressBar(SearchFollower):
    """The `pipeline.Hooks` of `automl.search`: the command line's follower (its lines, its events), whose lines
    go to ``search.log`` and, with ``verbose=2``, under the notebook cell; ``verbose=1`` shows a bar instead."""

    def __init__(self, run: Run, verbose: int = BAR, *, restart: bool = False) -> None:
        self.verbose = verbose
        self.log = SearchLog(run.store.search_log(), show=tqdm.write if verbose == LINES else None)
        self.bar: tqdm | None = None
        super().__init__(self.log.say, role=LOCAL, restart=restart)

    def run_started(self, run: Run) -> None:
        super().run_started(run)
        if self.verbose == BAR:
            self.budget = run.budget
            self.bar = tqdm(total=max(1, round(run.budget.seconds)), desc=f"automl: {run.name}", unit="s",
                            bar_format="{desc} {percentage:3.0f}%|{bar}|{postfix}", leave=True)
            self.bar.set_postfix_str(f"0 trials, {run.budget.seconds:.0f}s left", refresh=True)

    def trial_done(self, trial) -> None:
        super().trial_done(trial)
        if self.bar is not None:
            self._move(self.status())

    def status(self) -> str:
        """Trials done, the best score so far and the time left, as the bar's text."""
        progress = self.progress
        best = "" if math.isnan(progress.best) else f", best {progress.objective} {progress.best:.4g}"
        elapsed = time.monotonic() - progress.started
        return f"{progress.count} trials{best}, {progress.time_left(elapsed)}"

    def search_ended(self, searched: SearchRun) -> None:
        super().search_ended(searched)
        if self.bar is not None:
            self._move(f"{self.progress.count} trials, {searched.stopped_by}; choosing, testing, reporting")

    def finished(self, run: Run, finished: Finished) -> None:
        super().finished(run, finished)
        self.close(f"{self.progress.count} trials; chosen: {candidate_name(finished.choice.trial_id)}")

    def close(self, text: str | None = None) -> None:
        """The bar full, with `text`, and closed (also when the run stopped with an error)."""
        if self.bar is not None:
            if text:
                self.bar.set_postfix_str(text, refresh=False)
            self.bar.n = self.bar.total
            self.bar.close()
            self.bar = None

    def _move(self, text: str) -> None:
        self.bar.n = min(self.bar.total, round(time.monotonic() - self.budget.started))
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.refresh()
