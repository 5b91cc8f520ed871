"""Compare the trials of two searches of one track, trial id by trial id: are they the same search?

    python benchmarks/compare_trials.py RUN_A/boston/report.csv RUN_B/boston/report.csv [--out FILE.json]

Hyperband's new trials (round 0) are drawn by Keras Tuner's seeded oracle, so two searches of the same
track give them the same hyperparameters whatever else differs. The trials of later rounds continue the
best of the round before, ranked by validation score; training is not bit-for-bit repeatable here
(weights are initialised from an unseeded generator), so two runs may rank near-tied trials in another
order and continue them under other ids. This prints and writes, for both kinds of trial, how many ids
carry the same hyperparameters, and the spread of the scores.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

RESERVED = ["budget_epochs", "initial_epoch", "bracket", "round", "continues_trial"]
NOT_HYPERPARAMETERS = {
    "trial_id", "status", "score", "chosen", "top_score", "within_tolerance", "diagnosis", "latency_p50_ms",
    "latency_p95_ms", "rows_per_second", "model_bytes", "params", "seconds", "best_epoch", "epochs_run",
    "diagnosis_detail", "message", "pruned",
}


def compare(first: pd.DataFrame, second: pd.DataFrame) -> dict:
    hyperparameters = [c for c in first.columns if c in second.columns and c not in NOT_HYPERPARAMETERS
                       and not c.startswith(("val_", "train_", "overfit", "loss_", "val_loss", "epochs_since",
                                             "diverged", "loss_growth", "train_loss"))]
    both = first.merge(second, on="trial_id", suffixes=("_a", "_b"))
    both = both[(both["status_a"] == "completed") & (both["status_b"] == "completed")]

    def same(row) -> bool:
        return all(row[f"{c}_a"] == row[f"{c}_b"] or (pd.isna(row[f"{c}_a"]) and pd.isna(row[f"{c}_b"]))
                   for c in hyperparameters)

    both = both.assign(same=both.apply(same, axis=1), new=both["round_a"].eq(0) & both["round_b"].eq(0))
    relative = (both["score_a"] - both["score_b"]).abs() / both["score_a"].abs()
    return {
        "hyperparameters_compared": hyperparameters,
        "trials_completed_in_both": len(both),
        "new_trials": int(both["new"].sum()),
        "new_trials_with_the_same_hyperparameters": int((both["new"] & both["same"]).sum()),
        "continued_trials": int((~both["new"]).sum()),
        "continued_trials_with_the_same_hyperparameters": int((~both["new"] & both["same"]).sum()),
        "first_differing_trial": str(both.loc[~both["same"], "trial_id"].min()) if (~both["same"]).any() else None,
        "same_trial_same_hyperparameters_median_relative_score_difference": float(relative[both["same"]].median()),
        "best_score": [float(first["score"].iloc[0]), float(second["score"].iloc[0])],  # report.csv: best first
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    read = lambda path: pd.read_csv(path, dtype={"trial_id": str, "continues_trial": str})
    figures = {"first": str(args.first), "second": str(args.second), **compare(read(args.first), read(args.second))}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
