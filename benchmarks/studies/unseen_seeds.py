"""The quality part on search seeds no rule was designed on → results/quality_{track}_seeds_{first}_{last}.json

The check that a rule chosen while looking at the benchmark's own seeds (42-46) holds elsewhere.

The choice's non-inferiority test and the refit's cross-fit (2026-11-30) were motivated by Boston's test figures
on seeds 42-46. This runs the quality part's searches and baselines (`benchmarks/suite/quality.py`) on other seeds,
default 47-51, and writes benchmarks/results/quality_<track>_seeds_<first>_<last>.json; the searches go to
search_results/benchmarks/work/unseen/ (git-ignored). Not merged into results.json: its seeds are not the bar's.
Usage: taskset -c 0 python -m benchmarks.studies.unseen_seeds [--track boston] [--first-seed 47] [--seeds 5]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from benchmarks import RESULTS
from benchmarks.suite.quality import track_quality
from benchmarks.suite.runs import ROOT, Context, finite


@dataclass
class UnseenSeeds(Context):
    first_seed: int = 47

    def search_seeds(self, name: str) -> list[int]:
        return [self.first_seed + i for i in range(self.seeds)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="boston")
    parser.add_argument("--first-seed", type=int, default=47)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    out = ROOT / "search_results" / "benchmarks" / "work" / "unseen"
    ctx = UnseenSeeds(quick=False, out=out, results_dir=out, seeds=args.seeds, first_seed=args.first_seed)
    result = track_quality(ctx, args.track)
    seeds = ctx.search_seeds(args.track)
    path = RESULTS / f"quality_{args.track}_seeds_{seeds[0]}_{seeds[-1]}.json"
    path.write_text(json.dumps(finite(result), indent=1) + "\n", encoding="utf-8")
    summary = result["summary"]
    for metric in summary["automl"]:
        ratio = summary["automl"][metric]["mean"] / summary["gbm"][metric]["mean"]
        print(f"{args.track} seeds {seeds[0]}-{seeds[-1]}: {metric} automl / GBM {ratio:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
