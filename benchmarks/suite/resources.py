"""What a search costs besides its training: time outside `model.fit`, memory over many trials, disk after it.

- Overhead: each trial's ``history.json`` has its ``seconds`` (building, data, fit, saving) and its
  ``fit_seconds`` (inside `model.fit`, Keras Tuner's per-epoch save of the best weights included); a
  search's wall time (``runs.json``) adds what happens between trials (the oracle, pruning, the progress
  line) and reading the data once. The share outside `fit` is 1 - sum(fit) / wall time. Its growth, the
  mean time outside `fit` of the last 10 trials of each search less that of the first 10, shows a leak.
- Memory: a search of used cars run in its own process, stopped after `MEMORY_TRIALS` trials, its
  resident set size sampled every half second (psutil if installed, else /proc/self/status) and
  noted after each trial.
- Disk: bytes under the first used-cars quality search's ``<results>/used_cars/`` after it ended,
  with the checkpoints kept and those pruned (their ``pruned.json`` says how many bytes each freed).

Run by run_all; ``python -m benchmarks.suite.resources memory ...`` is the memory search's own process.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MEMORY_TRIALS = 50
QUICK_MEMORY_TRIALS = 6
MEMORY_TRACK = "used_cars"
SAMPLE_SECONDS = 0.5
GROWTH_TRIALS = 10  # overhead growth: the first and the last trials of each search


def overhead(quality_details: dict[str, Any] | None, recorded: dict[str, Any] | None = None) -> dict[str, Any]:
    """The share of the search's wall time spent outside `model.fit`, pooled over the quality searches.

    A track whose searches are no longer on this machine (a fresh clone keeps results.json, not the searches'
    directories) counts with the totals `recorded` for it when its searches were measured, marked "recorded", as
    long as those were the same searches as the quality part's; its first and last trials do not enter the growth.
    """
    from automl.store import Store

    per_track, pooled = {}, {"fit": 0.0, "trials": 0.0, "wall": 0.0}
    first_last: dict[str, list[float]] = {"first": [], "last": []}  # outside fit, the first/last trials of each search
    for name, detail in (quality_details or {}).items():
        kept = (recorded or {}).get(name)
        gone = not any((Path(run["results_dir"]) / name).is_dir() for run in detail["automl_runs"])
        if gone and kept and _same_searches(kept, detail):
            per_track[name] = {**kept, "searches": _searches(detail), "recorded": True}
            pooled["fit"] += kept["fit_seconds"]
            pooled["trials"] += kept["trial_seconds"]
            pooled["wall"] += kept["wall_seconds"]
            continue
        totals = {"fit": 0.0, "trials": 0.0, "wall": 0.0, "count": 0}
        ends: dict[str, list[float]] = {"first": [], "last": []}
        for run in detail["automl_runs"]:
            store = Store(name, run["results_dir"])
            histories = [h for _, h in sorted(store.histories().items()) if "fit_seconds" in h]
            outside = [h["seconds"] - h["fit_seconds"] for h in histories]
            ends["first"] += outside[:GROWTH_TRIALS]
            ends["last"] += outside[-GROWTH_TRIALS:]
            totals["fit"] += sum(h["fit_seconds"] for h in histories)
            totals["trials"] += sum(h["seconds"] for h in histories)
            totals["count"] += len(histories)
            totals["wall"] += store.read_json("runs.json", default=[{"seconds": 0.0}])[-1]["seconds"]
        if not totals["wall"]:
            continue
        per_track[name] = {
            "share_outside_fit": 1 - totals["fit"] / totals["wall"],
            "share_outside_fit_within_trials": 1 - totals["fit"] / totals["trials"] if totals["trials"] else None,
            "seconds_outside_fit_per_trial": (totals["wall"] - totals["fit"]) / max(totals["count"], 1),
            "fit_seconds": round(totals["fit"], 1), "trial_seconds": round(totals["trials"], 1),
            "wall_seconds": round(totals["wall"], 1), "trials": totals["count"],
            "outside_fit_first_trials_s": _mean(ends["first"]), "outside_fit_last_trials_s": _mean(ends["last"]),
            "searches": _searches(detail),
        }
        for key in pooled:
            pooled[key] += totals[key]
        for key in first_last:
            first_last[key] += ends[key]
    if not pooled["wall"]:
        return {"figures": {}, "details": {"skipped": "needs the quality part's searches"}}
    # a leak between trials shows as trials that take longer outside fit at the end of a search than at its start
    growth = _mean(first_last["last"]) - _mean(first_last["first"])
    return {"figures": {"trial_overhead_share": 1 - pooled["fit"] / pooled["wall"], "trial_overhead_growth_s": growth},
            "details": {"pooled": {k: round(v, 1) for k, v in pooled.items()}, "tracks": per_track,
                        "growth_trials": GROWTH_TRIALS}}


def _searches(detail: dict[str, Any]) -> list[list]:
    """What tells a track's quality searches from another run's: each one's seed, trials and seconds."""
    return [[run["seed"], run["trials"], run["search_seconds"]] for run in detail["automl_runs"]]


def _same_searches(kept: dict[str, Any], detail: dict[str, Any]) -> bool:
    if "searches" in kept:
        return kept["searches"] == _searches(detail)
    return kept.get("trials") == sum(run["trials"] for run in detail["automl_runs"])  # recorded before "searches"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def memory(ctx) -> dict[str, Any]:
    """RSS over a long used-cars search in its own process: growth from the 5th trial to the 50th."""
    from benchmarks.suite.runs import python_path

    trials = QUICK_MEMORY_TRIALS if ctx.quick else MEMORY_TRIALS
    track = broad_track(ctx.track_file(MEMORY_TRACK, time_limit="10m" if ctx.quick else "4h"))
    results = ctx.work / "memory"
    out = results / "memory.json"
    command = [sys.executable, "-m", "benchmarks.suite.resources", "memory", "--track", str(track),
               "--results-dir", str(results), "--trials", str(trials), "--out", str(out)]
    ctx.commands.append(" ".join(["python", *command[1:]]))
    subprocess.run(command, check=True, env=python_path())
    record = json.loads(out.read_text(encoding="utf-8"))
    after = record["after_trial"]
    first = 5 if len(after) >= 50 else min(2, len(after))  # --quick: a short search, from its 2nd trial
    growth = after[-1] - after[first - 1] if after else None
    return {
        "figures": {"rss_growth_mb_trial5_to_50": growth, "search_peak_rss_mb": max(s for _, s in record["samples"])},
        "details": {"trials": len(after), "growth_from_trial": first, "growth_to_trial": len(after),
                    "rss_mb_after_each_trial": after, "sampler": record["sampler"],
                    "samples_every_s": SAMPLE_SECONDS, "samples": record["samples"][::10],
                    "stopped_by": record["stopped_by"]},
    }


def broad_track(path: Path) -> Path:
    """The track file at `path` without its recipe (``model.fixed``): a broad search, which Hyperband gives as many
    trials as the memory measure needs (used cars' recipe leaves the batch size open, and 6 trials)."""
    from automl.track import load_track
    from benchmarks.suite.runs import toml_track

    track = load_track(str(path)).as_dict()
    track["model"].pop("fixed", None)
    broad = path.with_name(f"{path.stem}_broad.toml")
    broad.write_text(toml_track(track), encoding="utf-8")
    return broad


def disk(quality_details: dict[str, Any] | None, track: str = MEMORY_TRACK) -> dict[str, Any]:
    """Bytes under the first quality search of `track` after it ended, against k × the checkpoint size."""
    from automl.store import CHECKPOINT_FILE, PRUNED_FILE

    runs = (quality_details or {}).get(track, {}).get("automl_runs")
    if not runs:
        return {"figures": {}, "details": {"skipped": f"needs the quality part's {track} searches"}}
    root = Path(runs[0]["results_dir"]) / track
    files = [p for p in root.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    kept = [p.stat().st_size for p in files if p.name == CHECKPOINT_FILE]
    freed = [json.loads(p.read_text(encoding="utf-8")).get("bytes", 0) for p in files if p.name == PRUNED_FILE]
    model = max(kept, default=0)
    mb = 2**20
    return {
        "figures": {f"{track}_search_disk_mb": total / mb,
                    f"{track}_search_disk_mb_without_pruning": (total + sum(freed)) / mb,
                    f"{track}_checkpoints_kept": len(kept),
                    f"{track}_k_times_model_mb": len(kept) * model / mb},
        "details": {"directory": str(root), "trials": len(list((root / "tuner").glob("trial_*"))),
                    "checkpoints_kept": len(kept), "checkpoints_pruned": len(freed),
                    "checkpoint_mb_kept": sum(kept) / mb, "largest_checkpoint_mb": model / mb,
                    "freed_mb": sum(freed) / mb, "other_files_mb": (total - sum(kept)) / mb},
    }


def rss_mb() -> tuple[float, str]:
    """This process's resident set size in MB, and how it was read."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20, "psutil"
    except ImportError:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024, "/proc/self/status VmRSS"
    return float("nan"), "unavailable"


def memory_search(track: str, results_dir: str, trials: int, out: str) -> None:
    """The memory search itself (in its own process): sample RSS while the search runs, stop after `trials`."""
    import tensorflow as tf

    from automl.context import Run
    from automl.tuning import loop

    tf.get_logger().setLevel("ERROR")
    started = time.monotonic()
    samples: list[tuple[float, float]] = []
    after_trial: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            samples.append((round(time.monotonic() - started, 1), round(rss_mb()[0], 1)))

    def on_trial_done(trial) -> None:
        after_trial.append(round(rss_mb()[0], 1))
        if len(after_trial) >= trials:
            raise loop.StopSearch(f"{trials} trials")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        outcome = loop.search(Run.open(track, results_dir).started(), restart=True, on_trial_done=on_trial_done)
    finally:
        done.set()
        sampler.join()
    samples.append((round(time.monotonic() - started, 1), round(rss_mb()[0], 1)))
    Path(out).write_text(json.dumps({"after_trial": after_trial, "samples": samples, "sampler": rss_mb()[1],
                                     "stopped_by": outcome.stopped_by}), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the memory benchmark's search, in its own process")
    parser.add_argument("phase", choices=["memory"])
    parser.add_argument("--track", required=True)
    parser.add_argument("--results-dir", required=True)
    parser.add_argument("--trials", type=int, default=MEMORY_TRIALS)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    memory_search(args.track, args.results_dir, args.trials, args.out)
