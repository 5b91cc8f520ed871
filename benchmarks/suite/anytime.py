"""Anytime quality: automl's test figure after a 60-second search, against the GBM of the quality part.

GBMs are good in seconds; a network search must be good early too. For each tabular track and search seed, the
track is searched again with ``--time-limit 60s`` (on the same split), and its chosen model's test figure set
beside the GBM the quality part fitted on that split: ``<track>_60s_mae_ratio_vs_gbm`` (regression) or
``<track>_60s_auc_minus_gbm`` (classification), means over the seeds. ``--quick``: the first seed only, with the
quick time limit. ``--tracks`` limits it to some tracks; two runs pinned to one core each merge track by track.
"""
from __future__ import annotations

from typing import Any

from benchmarks.suite.quality import automl_run
from benchmarks.suite.runs import QUICK_TIME_LIMIT, Context, mean_std

ANYTIME = "60s"


def anytime(ctx: Context, quality_details: dict[str, Any] | None, tracks: tuple[str, ...]) -> dict[str, Any]:
    """Figures and details per track of `tracks`; needs the quality part's GBM figures for them."""
    if not quality_details:
        return {"figures": {}, "details": {"skipped": "needs the quality part's GBM figures"}}
    time_limit = f"{QUICK_TIME_LIMIT:g}s" if ctx.quick else ANYTIME
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for name, detail in quality_details.items():
        if name not in tracks:
            continue
        commands_before = len(ctx.commands)
        seeds = detail["seeds"][:1] if ctx.quick else detail["seeds"]
        runs = [automl_run(ctx, name, seed, time_limit=time_limit) for seed in seeds]
        gbm = detail["summary"]["gbm"]
        automl = {m: mean_std([r["test"][m] for r in runs]) for m in runs[0]["test"]}
        if detail["task"] == "regression":
            figures[f"{name}_60s_mae_ratio_vs_gbm"] = automl["mae"]["mean"] / gbm["mae"]["mean"]
        else:
            figures[f"{name}_60s_auc_minus_gbm"] = automl["roc_auc"]["mean"] - gbm["roc_auc"]["mean"]
        details[name] = {"time_limit": time_limit, "seeds": seeds, "automl": automl, "gbm": gbm, "runs": runs,
                         "commands": ctx.commands[commands_before:]}
    return {"figures": figures, "details": details}
