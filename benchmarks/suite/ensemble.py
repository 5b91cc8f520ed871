"""What would close the gap to the GBM: the mean prediction of each quality search's top-k trials.

Not what automl exports (it exports one network, the chosen one); a measure of how much an ensemble of
the checkpoints a search already keeps (pruning keeps the top 5) would gain on the same test split. For
every search of the quality part: the k best completed trials by validation score, each loaded from its
checkpoint, their test predictions averaged (values, or the positive class's probability), scored as
the baselines are.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from automl.track import load_track
from benchmarks.suite.baselines import scores
from benchmarks.suite.runs import Context, mean_std

TOP_K = 5


def ensemble(ctx: Context, quality_details: dict[str, Any] | None, k: int = TOP_K) -> dict[str, Any]:
    """Figures (the ensemble against the GBM, as the quality part's headline figures) and details per track."""
    if not quality_details:
        return {"figures": {}, "details": {"skipped": "needs the quality part's searches"}}
    import keras

    from automl.families import family_of

    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for name, detail in quality_details.items():
        runs = []
        first = load_track(ctx.track_file(name, seed=detail["seeds"][0]))
        data = family_of(first).load(first)  # every seed shares the split
        for run in detail["automl_runs"]:
            runs.append(top_k_run(load_track(ctx.track_file(name, seed=run["seed"])), run["results_dir"], data, k))
            keras.backend.clear_session()
        metrics = list(runs[0]["test"])
        summary = {f"top{k}_mean": {m: mean_std([r["test"][m] for r in runs]) for m in metrics},
                   "automl_chosen": detail["summary"]["automl"], "gbm": detail["summary"]["gbm"]}
        details[name] = {"k": k, "summary": summary, "runs": runs}
        ours, gbm = summary[f"top{k}_mean"], detail["summary"]["gbm"]
        if detail["task"] == "regression":
            figures[f"{name}_top{k}_rmse_ratio_vs_gbm"] = ours["rmse"]["mean"] / gbm["rmse"]["mean"]
            figures[f"{name}_top{k}_mae_ratio_vs_gbm"] = ours["mae"]["mean"] / gbm["mae"]["mean"]
        else:
            figures[f"{name}_top{k}_auc_minus_gbm"] = ours["roc_auc"]["mean"] - gbm["roc_auc"]["mean"]
    return {"figures": figures, "details": details}


def top_k_run(track, results_dir: str, data, k: int) -> dict[str, Any]:
    """One search's k best trials (with a checkpoint), their mean test prediction and its scores."""
    from automl.context import Run
    from automl.selection.trials import trials_table
    from automl.serving.models import load_trial_model
    from automl.serving.predict import predict_with

    run = Run.open(track, results_dir)
    schema, family = run.schema(), run.family
    table = trials_table(run)
    table = table[(table["status"] == "completed") & ~table["pruned"]]
    table = table.sort_values("score", ascending=track.direction == "min").head(k)
    predictions = []
    for trial_id in table["trial_id"]:
        model = load_trial_model(run, trial_id)
        predicted = predict_with(model, family, schema, family.model_inputs(data.test.x, schema),
                                 proba=track.task != "regression")
        predictions.append(predicted if track.task == "regression" else predicted.to_numpy()[:, 1])
    return {"trials": list(table["trial_id"]), "validation_scores": [float(s) for s in table["score"]],
            "test": scores(track.task, data.test.y, np.mean(predictions, axis=0))}
