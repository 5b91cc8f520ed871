"""A text track's test ROC AUC against the baseline a user would reach for: TF-IDF + logistic regression.

The data is loaded through the track's family, so the train/test rows are automl's own (same seed, same
stratification). The baseline is fitted on the training split and scored once on the test split; automl's
test ROC AUC is read from ``<results-dir>/<track>/test_metrics.json`` where a search has written it, and the
difference is ``told_br_auc_minus_tfidf`` in the results (the goal: >= 0).
Run: ``python -m benchmarks.suite.text_baseline [--track told_br] [--results-dir search_results] [--out FILE]``;
writes ``benchmarks/results/text_baseline.json`` by default.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from automl.families import family_of
from automl.track import load_track
from benchmarks import RESULTS, ROOT
from benchmarks.suite.baselines import scores


def joined(x: pd.DataFrame, columns: list[str]) -> list[str]:
    """The track's text columns as one document per row (a blank as nothing)."""
    return x[columns].fillna("").astype(str).agg(" ".join, axis=1).tolist()


def baseline(track_name: str, results_dir: Path) -> dict:
    track = load_track(track_name)
    data = family_of(track).load(track)
    columns = list(track.data.text)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                          LogisticRegression(max_iter=2000))
    start = time.perf_counter()
    model.fit(joined(data.train.x, columns), data.train.y)
    seconds = time.perf_counter() - start
    auc = scores(track.task, data.test.y, model.predict_proba(joined(data.test.x, columns))[:, 1])["roc_auc"]
    result = {"track": track.name, "split": track.split.as_dict(), "train_rows": len(data.train),
              "test_rows": len(data.test),
              "baseline": "TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) + LogisticRegression",
              "fit_seconds": round(seconds, 2), "tfidf_test_roc_auc": auc}
    metrics = results_dir / track.name / "test_metrics.json"
    if metrics.is_file():
        automl_auc = json.loads(metrics.read_text())["roc_auc"]
        result.update(automl_test_roc_auc=automl_auc, **{f"{track.name}_auc_minus_tfidf": automl_auc - auc})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="told_br")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "search_results")
    parser.add_argument("--out", type=Path, default=RESULTS / "text_baseline.json")
    args = parser.parse_args()
    result = baseline(args.track, args.results_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
