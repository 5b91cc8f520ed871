"""Tabular quality and latency: automl's chosen model against what a user would pick instead, same splits.

For each tabular track and each search seed (the split's seed stays the track's, so every model sees
the same train/validation/test rows): automl's search with the track's own time limit, then its
chosen model scored once on the test split; beside it, on the same split, scikit-learn's
HistGradientBoosting (defaults, and a small grid; the better on validation is "gbm"), RidgeCV or
LogisticRegression (with class weights), and the course's default Keras MLP (2x64 ReLU, Adam).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from threadpoolctl import threadpool_limits

from automl.context import Run
from automl.track import load_track
from benchmarks.suite.baselines import default_mlp, scores, sklearn_models
from benchmarks.suite.runs import TABULAR_TRACKS, Context, finite, mean_std

GBM_GRID = {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31, 63], "min_samples_leaf": [10, 40]}
QUICK_GBM_GRID = {"learning_rate": [0.1], "max_leaf_nodes": [15], "min_samples_leaf": [10]}
LATENCY_CALLS, LATENCY_WARMUP, BATCH = 30, 5, 256


def quality(ctx: Context, resume: bool = False, tracks: tuple[str, ...] = TABULAR_TRACKS) -> dict[str, Any]:
    """Figures (ratios to the GBM) and details (every model's test figures, mean ± std over the seeds).

    Each track's details are kept in ``<work>/quality/<track>.json`` as soon as they are done; with
    `resume`, a track already done with the same seeds is read back instead of searched again (the
    commands that made it come back with it).
    """
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    finished = done_tracks(ctx) if resume else {}
    for name in tracks:
        if name in finished and finished[name]["seeds"] == ctx.search_seeds(name):
            details[name] = finished[name]
            ctx.commands.extend(details[name].get("commands", []))
        else:
            commands_before = len(ctx.commands)
            details[name] = track_quality(ctx, name)
            details[name]["commands"] = ctx.commands[commands_before:]
            done = ctx.work / "quality" / f"{name}.json"
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(finite(details[name]), indent=2), encoding="utf-8")
        details[name]["summary"] = with_top_trial(details[name])
        figures.update(headline(name, details[name]))
    return {"figures": figures, "details": details}


def with_top_trial(detail: dict[str, Any]) -> dict[str, Any]:
    """The summary with the top-scoring trial's test figures beside the chosen model's (the choice may
    trade a little validation score, within the track's tolerance, for a faster or smaller network)."""
    runs = detail["automl_runs"]
    top = {m: mean_std([r["top_test"][m] for r in runs]) for m in runs[0]["top_test"]}
    summary = {k: v for k, v in detail["summary"].items() if k != "automl_top"}
    return {"automl": summary.pop("automl"), "automl_top": top, **summary}


def done_tracks(ctx: Context) -> dict[str, dict[str, Any]]:
    """The quality details of every tabular track whose searches have finished, from ``<work>/quality/``."""
    paths = {name: ctx.work / "quality" / f"{name}.json" for name in TABULAR_TRACKS}
    return {name: json.loads(path.read_text(encoding="utf-8")) for name, path in paths.items() if path.is_file()}


def track_quality(ctx: Context, name: str) -> dict[str, Any]:
    from automl.families import family_of

    base = load_track(ctx.track_file(name))
    data = family_of(base).load(base)  # the split every model of this track uses
    runs, baselines = [], []
    for seed in ctx.search_seeds(name):
        runs.append(automl_run(ctx, name, seed))
        # --quick runs beside other work (the test suite): one thread spares scikit-learn's OpenMP threads
        # from waiting on each other for seconds; a real run uses every core, as a user's would.
        with threadpool_limits(1) if ctx.quick else contextlib.nullcontext():
            baselines.append(baseline_run(base, data, seed, ctx.quick))
    metrics = list(runs[0]["test"])
    models = {"automl": [r["test"] for r in runs]}
    for model in sorted(baselines[0]["test"], key=lambda m: (m != "gbm", not m.startswith("gbm"))):
        models[model] = [b["test"][model] for b in baselines]
    return {
        "task": base.task,
        "objective": base.objective,
        "test_rows": len(data.test),
        "time_limit": base.search.time_limit,
        "cores_used": len(os.sched_getaffinity(0)),
        "seeds": ctx.search_seeds(name),
        "summary": {model: {m: mean_std([s[m] for s in seeds]) for m in metrics} for model, seeds in models.items()},
        "automl_runs": runs,
        "baselines": baselines,
    }


def automl_run(ctx: Context, name: str, seed: int, time_limit: str | None = None) -> dict[str, Any]:
    """automl's search and report, as `automl search --track <copy> --restart` would run them; with `time_limit`,
    a copy of the track with that time limit, searched into its own directory."""
    import keras

    from automl import pipeline

    path = ctx.track_file(name, seed=seed) if time_limit is None else ctx.track_file(name, seed=seed,
                                                                                    time_limit=time_limit)
    track = load_track(path)
    results = ctx.run_dir(name, seed) if time_limit is None else ctx.run_dir(name, seed) / f"time_limit_{time_limit}"
    command = f"automl search --track {path} --restart --results-dir {results}"
    ctx.commands.append(command)
    run = pipeline.run(Run.open(track, results), restart=True, command=command)
    outcome, finalized = run.searched, run.finished
    table = finalized.table
    chosen = table.loc[table["chosen"]].iloc[0]
    keras.backend.clear_session()
    figures = _metric_names(track.task)
    return {
        "seed": seed,
        "test": {k: float(finalized.metrics[k]) for k in figures},
        "top_test": {k: float(finalized.metrics["top"][k]) for k in figures},
        "chosen_trial": str(chosen["trial_id"]),
        "best_validation": float(table["score"].dropna().iloc[0]),  # sorted best first
        "trials": int(outcome.trials_after),
        "trials_pruned": int(table["pruned"].sum()) if "pruned" in table else 0,
        "search_seconds": round(outcome.seconds, 1),
        "stopped_by": outcome.stopped_by,
        "latency_p50_ms": float(chosen["latency_p50_ms"]),
        "rows_per_second": float(chosen["rows_per_second"]),
        "results_dir": str(results),
    }


def _metric_names(task: str) -> list[str]:
    return ["rmse", "mae", "r2"] if task == "regression" else ["roc_auc", "balanced_accuracy"]


@dataclass
class Split:
    """The track's split as scikit-learn takes it: categorical columns as pandas categories."""

    train_x: pd.DataFrame
    train_y: np.ndarray
    validation_x: pd.DataFrame
    validation_y: np.ndarray
    test_x: pd.DataFrame
    test_y: np.ndarray


def baseline_run(track, data, seed: int, quick: bool) -> dict[str, Any]:
    """The baselines on the track's split, with `seed` wherever they draw random numbers."""
    import keras

    categorical, numeric = list(data.schema.categorical), list(data.schema.numeric)
    split = Split(_typed(data.train.x, categorical), data.train.y, _typed(data.validation.x, categorical),
                  data.validation.y, _typed(data.test.x, categorical), data.test.y)
    gbm = best_gbm(track.task, split, seed, quick)
    test, seconds = dict(gbm["test"]), dict(gbm["seconds"])
    test["gbm"] = test[gbm["is"]]
    test["gbm_grid_best_on_test"] = gbm["best_on_test"]
    for model_name, model in sklearn_models(track.task, categorical, numeric).items():
        if model_name in ("hist_gradient_boosting", "random_forest"):
            continue
        started = time.perf_counter()
        model.fit(split.train_x, split.train_y)
        test[model_name] = scores(track.task, split.test_y, _predict(model, split.test_x, track.task))
        seconds[model_name] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    predicted = default_mlp(track, data, seed=seed, epochs=20 if quick else 200)
    test["keras_mlp_2x64"] = scores(track.task, split.test_y, predicted)
    seconds["keras_mlp_2x64"] = round(time.perf_counter() - started, 2)
    keras.backend.clear_session()
    return {"seed": seed, "test": test, "seconds": seconds, "gbm_is": gbm["is"], "gbm_tuned_params": gbm["params"],
            "gbm_latency": gbm_latency(gbm["model"], split.test_x, track.task)}


def best_gbm(task: str, split: Split, seed: int, quick: bool) -> dict[str, Any]:
    """HistGradientBoosting with its defaults and the best of a small grid, both scored on the test split;
    the better of the two on the validation split is the GBM automl is compared with."""
    grid = QUICK_GBM_GRID if quick else GBM_GRID
    candidates: list[dict[str, Any]] = [{}] + [
        {**dict(zip(grid, values, strict=True)), "max_iter": 300, "early_stopping": True}
        for values in itertools.product(*grid.values())
    ]
    fitted, validation, seconds = [], [], {}
    for index, params in enumerate(candidates):
        started = time.perf_counter()
        fitted.append(_gbm(task, seed, **params).fit(split.train_x, split.train_y))
        seconds["gbm_default" if index == 0 else f"gbm_grid_{index}"] = round(time.perf_counter() - started, 2)
        validation.append(_validation_score(task, split.validation_y, _predict(fitted[-1], split.validation_x, task)))
    tuned = 1 + int(np.argmin(validation[1:]))
    better = 0 if validation[0] <= validation[tuned] else tuned
    # The optimistic GBM no user could pick: the candidate (defaults or grid) that scores best on the test split.
    on_test = [scores(task, split.test_y, _predict(model, split.test_x, task)) for model in fitted]
    best_on_test = on_test[int(np.argmin([_validation_score(task, split.test_y, _predict(model, split.test_x, task))
                                          for model in fitted]))]
    return {
        "model": fitted[better],
        "is": "gbm_default" if better == 0 else "gbm_tuned",
        "params": candidates[tuned],
        "seconds": seconds,
        "best_on_test": best_on_test,
        "test": {label: scores(task, split.test_y, _predict(fitted[i], split.test_x, task))
                 for label, i in (("gbm_default", 0), ("gbm_tuned", tuned))},
    }


def _gbm(task: str, seed: int, **params):
    if task == "regression":
        return HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed, **params)
    return HistGradientBoostingClassifier(categorical_features="from_dtype", class_weight="balanced",
                                          random_state=seed, **params)


def _validation_score(task: str, y: np.ndarray, predicted: np.ndarray) -> float:
    """Lower is better: MAE for regression, 1 - ROC AUC for classification."""
    figures = scores(task, y, predicted)
    return figures["mae"] if task == "regression" else 1.0 - figures["roc_auc"]


def _predict(model, x: pd.DataFrame, task: str) -> np.ndarray:
    return model.predict(x) if task == "regression" else model.predict_proba(x)[:, 1]


def _typed(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    return frame.astype({c: "category" for c in categorical}) if categorical else frame


def gbm_latency(model, x: pd.DataFrame, task: str) -> dict[str, float]:
    """The GBM as a server would call it: one raw row (p50 over calls), and rows per second at batch 256."""
    rows = [x.iloc[[i % len(x)]] for i in range(LATENCY_CALLS)]
    batch = pd.concat([x] * int(np.ceil(BATCH / len(x))), ignore_index=True).iloc[:BATCH]
    for row in rows[:LATENCY_WARMUP]:
        _predict(model, row, task)
    single = [_timed(model, row, task) for row in rows]
    batched = [_timed(model, batch, task) for _ in range(5)]
    return {"latency_p50_ms": float(np.percentile(single, 50) * 1000),
            "rows_per_second": float(BATCH / np.median(batched))}


def _timed(model, x, task) -> float:
    started = time.perf_counter()
    _predict(model, x, task)
    return time.perf_counter() - started


def headline(name: str, detail: dict[str, Any]) -> dict[str, float]:
    """automl against the GBM: ratios of errors (below 1: automl better), differences of scores (above 0)."""
    summary = detail["summary"]
    automl, gbm = summary["automl"], summary["gbm"]
    best = summary.get("gbm_grid_best_on_test")
    if detail["task"] == "regression":
        figures = {f"{name}_rmse_ratio_vs_gbm": automl["rmse"]["mean"] / gbm["rmse"]["mean"],
                   f"{name}_mae_ratio_vs_gbm": automl["mae"]["mean"] / gbm["mae"]["mean"],
                   f"{name}_r2_minus_gbm": automl["r2"]["mean"] - gbm["r2"]["mean"]}
        if best:
            figures[f"{name}_mae_ratio_vs_gbm_grid_best"] = automl["mae"]["mean"] / best["mae"]["mean"]
        return figures
    figures = {f"{name}_auc_minus_gbm": automl["roc_auc"]["mean"] - gbm["roc_auc"]["mean"],
               f"{name}_balanced_accuracy_minus_gbm": (automl["balanced_accuracy"]["mean"]
                                                       - gbm["balanced_accuracy"]["mean"])}
    if best:
        figures[f"{name}_auc_minus_gbm_grid_best"] = automl["roc_auc"]["mean"] - best["roc_auc"]["mean"]
    return figures


def latency(quality_details: dict[str, Any]) -> dict[str, Any]:
    """The chosen models at batch 1 (p50 ms) and 256 (rows/s) on this CPU, mean over the seeds; the GBM's beside."""
    figures, details = {}, {}
    for name, detail in quality_details.items():
        runs, gbms = detail["automl_runs"], [b["gbm_latency"] for b in detail["baselines"]]
        figures[f"{name}_latency_p50_ms"] = mean_std([r["latency_p50_ms"] for r in runs])["mean"]
        figures[f"{name}_rows_per_s"] = mean_std([r["rows_per_second"] for r in runs])["mean"]
        details[name] = {
            "automl": {"latency_p50_ms": mean_std([r["latency_p50_ms"] for r in runs]),
                       "rows_per_second": mean_std([r["rows_per_second"] for r in runs])},
            "gbm": {"latency_p50_ms": mean_std([g["latency_p50_ms"] for g in gbms]),
                    "rows_per_second": mean_std([g["rows_per_second"] for g in gbms])},
        }
        figures[f"{name}_gbm_latency_p50_ms"] = details[name]["gbm"]["latency_p50_ms"]["mean"]
        figures[f"{name}_gbm_rows_per_s"] = details[name]["gbm"]["rows_per_second"]["mean"]
    return {"figures": figures, "details": details}
