"""The methods the table suite measures on each split: automl as a user runs it, tuned GBMs, AutoGluon, AutoKeras.

Each method gets a table's training rows (the outer split's) and `seconds` of wall-clock time on the cores the
process is pinned to, and returns its predictions for the held-out rows: values, or a probability per class (the
classes in sorted order). How each one uses its time:

- ``automl``: ``python -m automl search --csv <table>.csv --target <col> --task <task> --time-limit <s>s`` on a CSV
  of the training rows, in the cell's folder, then ``automl.predict(..., proba=True)`` on the held-out rows. A CSV
  track splits its rows itself (60/20/20): the 20 % it tests on are rows automl never trains on.
- ``lightgbm``, ``catboost``: random search, the library's defaults first, each fit early-stopped (50 rounds) on a
  fifth of the training rows held out for validation and stopped at the deadline; the candidate with the best
  validation figure (MAE, 1 - AUC, 1 - accuracy) is the model, as it was fitted.
- ``hist_gradient_boosting``: benchmarks/suite/baselines.py's, its defaults (it takes seconds, not its budget).
- ``autogluon``: ``TabularPredictor(eval_metric=...).fit(time_limit=seconds)``, its default preset, CPU only.
- ``autokeras``: AutoKeras 3's StructuredDataClassifier/Regressor: in 3.0 it takes a float array only (no
  categories, no missing values, no text), so it gets `numeric_matrix`; stopped at the deadline, then its own final
  fit of the best model.
The GBMs and AutoKeras take no free-text column; automl and AutoGluon take every column.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.suite.baselines import scores, sklearn_models
from benchmarks.suite.tables import Table

EARLY_STOPPING_ROUNDS = 50
MAX_ROUNDS = 10_000
VALIDATION_SHARE = 0.2
HGB_MAX_CATEGORIES = 255  # HistGradientBoosting's bins: a categorical column with more levels enters as its codes


def cores() -> int:
    return len(os.sched_getaffinity(0))


# ---------------------------------------------------------------------------------------------------- measures

def classes_of(train: pd.DataFrame, test: pd.DataFrame, table: Table) -> list[str]:
    return sorted(set(train[table.target]) | set(test[table.target]))


def figures(task: str, truth: pd.Series, predicted: np.ndarray, classes: list[str]) -> dict[str, float]:
    """The held-out figures of one method: MAE, RMSE, R² (regression); ROC AUC and balanced accuracy (binary, the
    second class positive); accuracy and balanced accuracy (multiclass), as automl measures its own."""
    if task == "regression":
        return scores(task, truth.to_numpy(dtype=float), np.asarray(predicted, dtype=float).reshape(-1))
    y = np.searchsorted(classes, truth.to_numpy(dtype=str))
    if task == "binary":
        return scores(task, y, np.asarray(predicted)[:, 1])
    from automl.selection.scoring import CLASSIFICATION_MEASURES

    return {name: float(CLASSIFICATION_MEASURES[name].score(y, np.asarray(predicted)))
            for name in ("accuracy", "balanced_accuracy")}


def error(task: str, figures_: dict[str, float]) -> float:
    """The suite's error, lower is better: MAE (regression), 1 - ROC AUC (binary), 1 - accuracy (multiclass)."""
    if task == "regression":
        return figures_["mae"]
    return 1.0 - figures_["roc_auc" if task == "binary" else "accuracy"]


def _probabilities(frame: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """A method's probability columns (named by class, in any order or type) in the order of `classes`."""
    named = {str(c): frame[c].to_numpy(dtype=float) for c in frame.columns}
    return np.column_stack([named.get(c, np.zeros(len(frame))) for c in classes])


# ---------------------------------------------------------------------------------------------------- automl

def automl(train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float, work: Path) -> dict[str, Any]:
    """automl as a user runs it on a CSV of the training rows; its chosen model's predictions for the held-out rows."""
    import automl as api

    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"{table.name}.csv"
    train.to_csv(csv, index=False)
    command = [sys.executable, "-m", "automl", "search", "--csv", csv.name, "--target", table.target,
               "--task", table.task, "--time-limit", f"{seconds:g}s"]
    with open(work / "automl.log", "w", encoding="utf-8") as log:
        subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT, check=True)
    rows = test.drop(columns=[table.target])
    previous = Path.cwd()
    os.chdir(work)  # the track file is tracks/<table>.toml beside the search, as the user's was
    try:
        if table.task == "regression":
            predicted = np.asarray(api.predict(table.name, rows, results_dir="search_results"), dtype=float)
        else:
            predicted = _probabilities(api.predict(table.name, rows, proba=True, results_dir="search_results"),
                                       classes_of(train, test, table))
    finally:
        os.chdir(previous)
    return {"predicted": predicted, "command": " ".join(["python", *command[1:]])}


# ---------------------------------------------------------------------------------------------------- GBMs

def _features(frame: pd.DataFrame, table: Table, categories: dict[str, list] | None = None
              ) -> tuple[pd.DataFrame, dict[str, list]]:
    """Features as the GBMs take them: text columns left out, other non-numeric columns as pandas categories (the
    levels of the training rows; a level seen only in held-out rows is missing)."""
    x = frame.drop(columns=[table.target, *table.text])
    if categories is None:
        categories = {c: sorted(x[c].dropna().astype(str).unique()) for c in x.columns
                      if not pd.api.types.is_numeric_dtype(x[c]) or pd.api.types.is_bool_dtype(x[c])}
    for column, levels in categories.items():
        x[column] = pd.Categorical(x[column].astype("string").astype(object).where(x[column].notna()),
                                   categories=levels)
    return x, categories


def _target(frame: pd.DataFrame, table: Table, classes: list[str]) -> np.ndarray:
    values = frame[table.target]
    if table.task == "regression":
        return values.to_numpy(dtype=float)
    return np.searchsorted(classes, values.to_numpy(dtype=str))


def _inner_split(x: pd.DataFrame, y: np.ndarray, task: str, seed: int):
    from sklearn.model_selection import train_test_split

    stratify = y if task != "regression" and np.bincount(y).min() >= 2 else None
    return train_test_split(x, y, test_size=VALIDATION_SHARE, random_state=seed, stratify=stratify)


def _predict(model, x: pd.DataFrame, task: str, classes: list[str]) -> np.ndarray:
    if task == "regression":
        return model.predict(x)
    probabilities = model.predict_proba(x)
    out = np.zeros((len(x), len(classes)))
    out[:, np.asarray(model.classes_, dtype=int)] = probabilities
    return out


def _validation_error(task: str, y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> float:
    return error(task, figures(task, pd.Series(np.asarray(classes)[y] if task != "regression" else y),
                               predicted, classes))


def lightgbm_params(rng: np.random.Generator, first: bool) -> dict[str, Any]:
    """LightGBM's defaults first, then draws from a usual search space."""
    if first:
        return {}
    return {"num_leaves": int(np.exp(rng.uniform(np.log(7), np.log(255)))),
            "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.3)))),
            "min_child_samples": int(np.exp(rng.uniform(np.log(5), np.log(100)))),
            "colsample_bytree": float(rng.uniform(0.5, 1.0)),
            "subsample": float(rng.uniform(0.5, 1.0)), "subsample_freq": 1,
            "reg_lambda": float(np.exp(rng.uniform(np.log(1e-3), np.log(10))))}


def catboost_params(rng: np.random.Generator, first: bool) -> dict[str, Any]:
    """CatBoost's defaults first, then draws from a usual search space."""
    if first:
        return {}
    return {"depth": int(rng.integers(4, 11)),
            "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.3)))),
            "l2_leaf_reg": float(np.exp(rng.uniform(np.log(1), np.log(10)))),
            "random_strength": float(rng.uniform(0.0, 2.0)),
            "bagging_temperature": float(rng.uniform(0.0, 1.0))}


def tuned_gbm(library: str, train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float, work: Path,
              seed: int = 0) -> dict[str, Any]:
    """Random search of `library` (lightgbm or catboost) until the deadline; the best on validation predicts."""
    deadline = time.monotonic() + seconds
    classes = classes_of(train, test, table) if table.task != "regression" else []
    x, categories = _features(train, table)
    y = _target(train, table, classes)
    fit_x, val_x, fit_y, val_y = _inner_split(x, y, table.task, seed)
    rng = np.random.default_rng(seed)
    best: tuple[float, Any, dict] | None = None
    tried = []
    while time.monotonic() < deadline:
        params = (lightgbm_params if library == "lightgbm" else catboost_params)(rng, first=not tried)
        fit = _lightgbm_fit if library == "lightgbm" else _catboost_fit
        model = fit(params, fit_x, fit_y, val_x, val_y, table.task, list(categories), deadline, seed)
        score = _validation_error(table.task, val_y, _predict(model, val_x, table.task, classes), classes)
        tried.append({"params": params, "validation_error": score})
        if best is None or score < best[0]:
            best = (score, model, params)
    test_x, _ = _features(test, table, categories)
    return {"predicted": _predict(best[1], test_x, table.task, classes), "candidates": len(tried),
            "chosen": best[2], "validation_error": best[0]}


def _lightgbm_fit(params, fit_x, fit_y, val_x, val_y, task, categorical, deadline, seed):
    import lightgbm as lgb

    def stop_at_deadline(env) -> None:
        if time.monotonic() > deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    kind = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    metric = {"regression": "l1", "binary": "auc", "multiclass": "multi_logloss"}[task]
    model = kind(n_estimators=MAX_ROUNDS, random_state=seed, n_jobs=cores(), verbose=-1, **params)
    model.fit(fit_x, fit_y, eval_set=[(val_x, val_y)], eval_metric=metric,
              callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False),
                         stop_at_deadline])
    return model


class _Deadline:
    """CatBoost's callback: go on while the deadline has not passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def after_iteration(self, info) -> bool:
        return time.monotonic() < self.deadline


def _catboost_fit(params, fit_x, fit_y, val_x, val_y, task, categorical, deadline, seed):
    import catboost as cb

    # CatBoost takes categories as strings, a missing one as a level of its own
    fit_x, val_x = (frame.astype({c: str for c in categorical}) for frame in (fit_x, val_x))
    kind = cb.CatBoostRegressor if task == "regression" else cb.CatBoostClassifier
    metric = {"regression": "MAE", "binary": "AUC", "multiclass": "MultiClass"}[task]
    model = kind(iterations=MAX_ROUNDS, random_seed=seed, thread_count=cores(), verbose=False, eval_metric=metric,
                 cat_features=categorical, od_type="Iter", od_wait=EARLY_STOPPING_ROUNDS, use_best_model=True,
                 allow_writing_files=False, **params)
    model.fit(fit_x, fit_y, eval_set=(val_x, val_y), callbacks=[_Deadline(deadline)])
    return _StringCategories(model, categorical)


class _StringCategories:
    """A fitted CatBoost model that takes the frames the other GBMs take (categories as pandas categories)."""

    def __init__(self, model, categorical: list[str]) -> None:
        self.model, self.categorical = model, categorical
        self.classes_ = getattr(model, "classes_", None)

    def _x(self, x: pd.DataFrame) -> pd.DataFrame:
        return x.astype({c: str for c in self.categorical})

    def predict(self, x):
        return self.model.predict(self._x(x))

    def predict_proba(self, x):
        return self.model.predict_proba(self._x(x))


def hist_gradient_boosting(train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float,
                           work: Path) -> dict[str, Any]:
    """benchmarks/suite/baselines.py's HistGradientBoosting, its defaults, on every training row."""
    from threadpoolctl import threadpool_limits

    classes = classes_of(train, test, table) if table.task != "regression" else []
    x, categories = _features(train, table)
    test_x, _ = _features(test, table, categories)
    for column in [c for c, levels in categories.items() if len(levels) > HGB_MAX_CATEGORIES]:
        for frame in (x, test_x):
            frame[column] = frame[column].cat.codes.replace(-1, np.nan)
    categorical = [c for c in categories if isinstance(x[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in x.columns if c not in categorical]
    model = sklearn_models(table.task, categorical, numeric)["hist_gradient_boosting"]
    with threadpool_limits(cores()):
        model.fit(x, _target(train, table, classes))
        return {"predicted": _predict(model, test_x, table.task, classes)}


def lightgbm(train, test, table, seconds, work):
    return tuned_gbm("lightgbm", train, test, table, seconds, work)


def catboost(train, test, table, seconds, work):
    return tuned_gbm("catboost", train, test, table, seconds, work)


# ---------------------------------------------------------------------------------------------------- AutoML peers

AUTOGLUON_METRIC = {"regression": "mean_absolute_error", "binary": "roc_auc", "multiclass": "accuracy"}


def autogluon(train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float, work: Path) -> dict[str, Any]:
    """AutoGluon Tabular, its default preset, on the CPU cores of this process, for `seconds`."""
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(label=table.target, problem_type=table.task, eval_metric=AUTOGLUON_METRIC[table.task],
                                 path=str(work / "autogluon"), verbosity=0)
    predictor.fit(train, time_limit=seconds, num_cpus=cores(), num_gpus=0)
    rows = test.drop(columns=[table.target])
    if table.task == "regression":
        return {"predicted": predictor.predict(rows).to_numpy(dtype=float), "model": predictor.model_best}
    return {"predicted": _probabilities(predictor.predict_proba(rows), classes_of(train, test, table)),
            "model": predictor.model_best}


def numeric_matrix(train: pd.DataFrame, test: pd.DataFrame, table: Table) -> tuple[np.ndarray, np.ndarray]:
    """The least a user must do to give AutoKeras 3 a table (it takes a float array, nothing else): categories
    one-hot (a missing one a level of its own), a missing number the training rows' median, text left out."""
    x, categories = _features(train, table)
    test_x, _ = _features(test, table, categories)
    medians = x.drop(columns=list(categories)).median()
    encode = lambda frame: pd.get_dummies(frame.fillna(medians), columns=list(categories), dummy_na=True)  # noqa: E731
    fit = encode(x)
    return fit.to_numpy(dtype="float32"), encode(test_x).reindex(columns=fit.columns, fill_value=0).to_numpy(
        dtype="float32")


def autokeras_deadline(oracle_of, deadline: float):
    """A Keras callback that stops AutoKeras's search at the deadline: the running trial ends at its next epoch and
    no other starts. The final fit of the best model (after the search: no trial running) runs as AutoKeras has it."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None) -> None:
            oracle = oracle_of()
            if oracle.ongoing_trials and time.monotonic() > deadline:
                self.model.stop_training = True
                oracle.max_trials = len(oracle.trials)

    return Deadline()


def _heads_with_int_units() -> None:
    """AutoKeras 3.0.0 sizes its output layer with a numpy integer, which Keras 3.15's Dense refuses ("expected a
    positive integer. Received: units=1"): its heads get their shape as Python integers before they build."""
    from autokeras.blocks import heads

    for head in (heads.ClassificationHead, heads.RegressionHead):
        if getattr(head.build, "int_units", False):
            continue
        original = head.build

        def build(self, hp, inputs=None, _original=original):
            self.shape = tuple(int(d) for d in self.shape)
            return _original(self, hp, inputs)

        build.int_units = True
        head.build = build


def autokeras(train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float, work: Path) -> dict[str, Any]:
    """AutoKeras 3's StructuredDataClassifier/Regressor (a dense network on a float array: `numeric_matrix`), its
    default tuner, stopped at the deadline; its exported best model's outputs for the held-out rows."""
    import autokeras as ak

    _heads_with_int_units()
    deadline = time.monotonic() + seconds
    x, test_x = numeric_matrix(train, test, table)
    classes = classes_of(train, test, table) if table.task != "regression" else []
    y = _target(train, table, classes)
    # several classes one-hot, two as 0/1 (the second class's probability comes out), values: a column each, so
    # that the outputs come back in the suite's order of classes
    y = np.eye(len(classes), dtype="float32")[y] if len(classes) > 2 else y.astype("float32").reshape(-1, 1)
    kind = ak.StructuredDataRegressor if table.task == "regression" else ak.StructuredDataClassifier
    search = kind(max_trials=1000, directory=str(work / "autokeras"), overwrite=True, seed=0,
                  **({"objective": "val_loss"} if table.task != "regression" else {}))
    search.fit(x, y, callbacks=[autokeras_deadline(lambda: search.tuner.oracle, deadline)], verbose=0)
    outputs = search.export_model().predict(test_x, verbose=0)
    if table.task == "binary":
        outputs = np.column_stack([1.0 - outputs.reshape(-1), outputs.reshape(-1)])
    elif table.task == "regression":
        outputs = outputs.reshape(-1)
    return {"predicted": outputs, "trials": len(search.tuner.oracle.trials)}


METHODS = {"automl": automl, "lightgbm": lightgbm, "catboost": catboost,
           "hist_gradient_boosting": hist_gradient_boosting, "autogluon": autogluon, "autokeras": autokeras}


def run(method: str, train: pd.DataFrame, test: pd.DataFrame, table: Table, seconds: float,
        work: Path) -> dict[str, Any]:
    """One method on one split: its held-out figures and error, its wall-clock seconds, and what it reports."""
    started = time.monotonic()
    outcome = METHODS[method](train, test, table, seconds, work)
    wall = time.monotonic() - started
    classes = classes_of(train, test, table) if table.task != "regression" else []
    measured = figures(table.task, test[table.target], outcome.pop("predicted"), classes)
    value = error(table.task, measured)
    return {"test": measured, "error": value if math.isfinite(value) else None, "wall_seconds": round(wall, 1),
            "cores": cores(), "detail": outcome}
