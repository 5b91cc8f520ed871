"""Used cars' test MAE with each table technique taken out in turn → results/ablation_used_cars.json and .md

What each tabular technique is worth, one at a time: the used-cars ablation table (issue 17).

Each variant is the track as automl searches it with one technique taken out: the final fit of the fixed
recipe's choice, the recipe itself (the broad search of the whole space, with its refit and ensemble),
numeric embeddings (numeric columns only standardized), the loss matching the objective (MSLE alone).
Every variant searches the track's own split, with its own time limit, for each seed, and its chosen model
is scored once on the test split. The table says each variant's test MAE and its ratio to
the full search's: above 1, the technique taken out was helping.

Writes benchmarks/results/ablation_<track>.json and .md; the searches go to search_results/benchmarks/work/ablation/.
Usage: python -m benchmarks.studies.ablation [--track used_cars] [--seeds 1] [--only automl,no_final_fit] [--quick]
Two runs pinned to a core each (``taskset -c 0``/``-c 1`` with disjoint ``--only``) share a 2-core machine;
each writes its variants into the same file.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import RESULTS
from benchmarks.suite.runs import QUICK_TIME_LIMIT, ROOT, Context, finite, mean_std, stamp, toml_track

# variant -> (what is taken out, search settings, model settings); model.fixed values join the track's own,
# and None removes them all
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "automl": ("nothing: the default search", {}, {}),
    "no_final_fit": ("the final fit: the recipe's best trial refitted on training + validation, or the best "
                     "trials' ensemble", {"final_fit": 0.0}, {}),
    "no_recipe": ("the fixed recipe and its final fit: the broad search, refit and ensemble", {"final_fit": 0.0},
                  {"fixed": None}),
    "no_numeric_embeddings": ("numeric embeddings: numbers only standardized", {},
                              {"fixed": {"numeric_encoding": "normalize"}}),
    "no_matching_loss": ("the loss matching the objective: MSE (MSLE for a log target)", {},
                         {"fixed": {"loss": "mse"}}),
}


def variant_track(ctx: Context, name: str, variant: str, seed: int) -> Path:
    from automl.track import load_track

    track = load_track(ctx.track_file(name, seed=seed)).as_dict()
    _, search, model = VARIANTS[variant]
    if variant == "no_matching_loss" and track["model"].get("target_transform") == "log":
        model = {"fixed": {"loss": "msle"}}
    track["search"].update(search)
    if "fixed" in model:
        fixed = {} if model["fixed"] is None else {**track["model"].get("fixed", {}), **model["fixed"]}
        track["model"] = {**track["model"], "fixed": fixed}
    path = ctx.work / "ablation" / f"{name}_{variant}_seed{seed}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_track(track), encoding="utf-8")
    return path


def run_variant(ctx: Context, name: str, variant: str, seed: int) -> dict[str, Any]:
    import keras

    from automl import pipeline
    from automl.context import Run

    path = variant_track(ctx, name, variant, seed)
    results = ctx.work / "ablation" / variant / f"seed{seed}"
    run = pipeline.run(Run.open(path, results), restart=True,
                       command=f"automl search --track {path} --restart --results-dir {results}")
    metrics = run.finished.metrics
    keras.backend.clear_session()
    return {"seed": seed, "chosen": metrics["trial_id"], "mae": metrics["mae"], "rmse": metrics["rmse"],
            "trials": run.searched.trials_after, "refit_used": (metrics.get("refit") or {}).get("used"),
            "final_fit_used": (metrics.get("final_fit") or {}).get("used"),
            "command": f"automl search --track {path} --restart --results-dir {results}"}


def table(name: str, variants: dict[str, Any]) -> str:
    full = variants.get("automl", {}).get("mae", {}).get("mean")
    lines = [f"# Ablation on {name} (test MAE, mean over seeds)", "",
             "| variant | taken out | test MAE | × the full search |", "|---|---|---|---|"]
    for variant, result in variants.items():
        mae = result["mae"]
        ratio = f"{mae['mean'] / full:.3f}" if full else "–"
        lines.append(f"| {variant} | {VARIANTS[variant][0]} | {mae['mean']:,.1f} ± {mae['std']:,.1f} "
                     f"(n={mae['n']}) | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="used_cars")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--only", help=f"comma-separated variants: {', '.join(VARIANTS)}")
    parser.add_argument("--quick", action="store_true", help="tiny data and searches of seconds: a smoke run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    variants = args.only.split(",") if args.only else list(VARIANTS)
    if set(variants) - set(VARIANTS):
        parser.error(f"unknown variant(s) {', '.join(sorted(set(variants) - set(VARIANTS)))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The searches go under <ctx.out>/work/ablation/: the benchmarks' git-ignored work directory (a quick run:
    # under --out, which is then a scratch directory).
    work = out if args.quick else ROOT / "search_results" / "benchmarks"
    ctx = Context(quick=args.quick, out=work, results_dir=out, seeds=args.seeds)
    stem = f"ablation_{args.track}{'_quick' if args.quick else ''}"
    for variant in variants:
        runs = [run_variant(ctx, args.track, variant, seed) for seed in ctx.search_seeds(args.track)]
        result = {"mae": mean_std([r["mae"] for r in runs]), "rmse": mean_std([r["rmse"] for r in runs]),
                  "runs": runs, "date": stamp(), "time_limit": f"{QUICK_TIME_LIMIT:g}s" if args.quick else "track's"}
        with open(out / f".{stem}.lock", "w") as lock:  # pinned runs write their variants into one file
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = out / f"{stem}.json"
            document = json.loads(path.read_text()) if path.is_file() else {"track": args.track, "variants": {}}
            document["variants"][variant] = finite(result)
            ordered = {v: document["variants"][v] for v in VARIANTS if v in document["variants"]}
            document["variants"] = ordered
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            (out / f"{stem}.md").write_text(table(args.track, ordered), encoding="utf-8")
        print(f"{variant}: test MAE {result['mae']['mean']:,.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
