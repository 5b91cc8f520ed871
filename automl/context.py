"""One run of automl, resolved once: the track, its model family, its store and its clock.

The edges (``cli.py`` and the package's ``__init__.py``) turn what a user gives (a track name, a track file,
a `Track`, a results folder) into a `Run` with `Run.open`; `automl.pipeline.run` starts its clock
(`Run.started`). Every stage after takes the `Run` and reads its attributes: none loads the track again,
looks up the family again or builds another `Store`, and the one `Budget` is the only clock.

::

    cli.py / automl.search(...)   ── Run.open(track, results_dir) ──►  Run(track, family, store)
    pipeline.run                  ── run.started(time_limit)       ──►  Run(track, family, store, budget)
    tuning/ ─► selection/ ─► final fit ─► test ─► reporting/ ─► serving/     each reads the Run
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

from automl.data.schema import Data, Schema
from automl.families import family_of
from automl.families.base import Family
from automl.store import Store
from automl.track.duration import parse_duration
from automl.track.parse import load_track
from automl.track.sections import Track


@dataclass(frozen=True)
class Budget:
    """When a run started and when its stages must end, on `time.monotonic`: the tuner stops starting trials
    at `search_deadline`, and the final fit (or the refit) trains until `final_deadline`."""

    started: float
    search_deadline: float
    final_deadline: float

    @classmethod
    def start(cls, seconds: float, final_share: float = 0.0) -> Budget:
        """A budget of `seconds` from now, the last `final_share` of it kept for the final fit."""
        now = time.monotonic()
        return cls(now, now + seconds * (1.0 - final_share), now + seconds)

    @classmethod
    def unlimited(cls) -> Budget:
        """No clock of its own: a worker of a distributed search stops when its chief says so."""
        return cls(time.monotonic(), math.inf, math.inf)

    @classmethod
    def for_track(cls, track: Track, family: Family, time_limit: str | float | None = None, *,
                  worker: bool = False) -> Budget:
        """The run's clock from now: `time_limit` (``"15m"``, or seconds; else the track's ``search.time_limit``),
        with the track's ``search.final_fit`` share (or its family's refit share, `Family.refit_share`) kept at its
        end. A worker's time limit is the chief's: a worker that left on its own would keep the chief waiting."""
        if worker:
            return cls.unlimited()
        seconds = parse_duration(time_limit, "--time-limit") if time_limit is not None else track.time_limit_seconds
        return cls.start(seconds, track.search.final_fit or family.refit_share(track))

    def final_only(self) -> Budget:
        """This budget's final part alone, from now: a run that finishes a search an earlier run ended (that run
        killed during its final fit or its report) searches nothing, and retrains in the share kept for it."""
        now = time.monotonic()
        return Budget(now, now, now + (self.final_deadline - self.search_deadline))

    @property
    def seconds(self) -> float:
        """The whole run's length: the time limit (infinite on a worker)."""
        return self.final_deadline - self.started

    def seconds_left(self) -> float:
        """Seconds until the final deadline (the end of the whole run)."""
        return self.final_deadline - time.monotonic()


@dataclass(frozen=True)
class Run:
    """One track's run: what it searches (`track`), with which model family (`family`), where its files live
    (`store`), and its clock (`budget`: None for what follows a finished search, `automl report`, `predict`,
    `export`, which train nothing on the clock)."""

    track: Track
    family: Family
    store: Store
    budget: Budget | None = None

    @classmethod
    def open(cls, track: str | os.PathLike | Track, results_dir: str | os.PathLike | None = None) -> Run:
        """The run of `track` (a name, a track file or a `Track`) in `results_dir` (default ``$AUTOML_RESULTS`` or
        ``./search_results``): the track loaded and validated, its family found, its store placed; no clock yet."""
        track = load_track(track)
        return cls(track, family_of(track), Store(track.name, results_dir))

    def started(self, time_limit: str | float | None = None, *, worker: bool = False) -> Run:
        """This run with its clock started now (`Budget.for_track`)."""
        return dataclasses.replace(self, budget=Budget.for_track(self.track, self.family, time_limit, worker=worker))

    @property
    def name(self) -> str:
        return self.track.name

    def data(self) -> Data:
        """The track's data, split three ways (`Family.load`); a folder of images too large for memory is decoded
        into the store's cache."""
        return self.family.load(self.track, scratch=self.store.images_cache)

    def schema(self) -> Schema:
        """What the search's models take (the store's ``schema.json``, written when the search began)."""
        return self.store.schema()

    def searched(self) -> Run:
        """This run, once checked to have a search on disk (`Store.require_search`)."""
        self.store.require_search()
        return self
