"""The 2026-11-25 reference runs' test figures beside standard baselines → results/tabular_baselines.json

The chosen models of the reference runs beside standard baselines, on the same train/test splits.

Baselines are fitted on the training split (the Keras MLP also early-stops on the validation split,
as automl's trials do) and scored once on the test split. automl's figures are read from
``search_results/<track>/test_metrics.json`` (the committed reference runs), not retrained.
Run: ``python -m benchmarks.studies.tabular_baselines``; writes ``benchmarks/results/tabular_baselines.json``.
"""
from __future__ import annotations

import json
import sys
import time

import pandas as pd

from automl.families import family_of
from automl.track import load_track
from benchmarks import RESULTS, ROOT
from benchmarks.suite.baselines import default_mlp, scores, sklearn_models


def benchmark(track_name: str) -> dict:
    track = load_track(track_name)
    data = family_of(track).load(track)
    categorical, numeric = list(data.schema.categorical), list(data.schema.numeric)

    def typed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: "category" for c in categorical}) if categorical else frame

    train_x, test_x = typed(data.train.x), typed(data.test.x)
    results: dict[str, dict] = {}
    for name, model in sklearn_models(track.task, categorical, numeric).items():
        started = time.perf_counter()
        model.fit(train_x, data.train.y)
        predicted = model.predict(test_x) if track.task == "regression" else model.predict_proba(test_x)[:, 1]
        results[name] = {**scores(track.task, data.test.y, predicted),
                         "seconds": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    results["keras_mlp_2x64"] = {**scores(track.task, data.test.y, default_mlp(track, data)),
                                 "seconds": round(time.perf_counter() - started, 1)}
    reference = ROOT / "search_results" / track.name / "test_metrics.json"
    if reference.is_file():
        chosen = json.loads(reference.read_text())
        results["automl_chosen"] = {k: v for k, v in chosen.items() if isinstance(v, float)}
    return {"track": track.name, "test_rows": len(data.test), "results": results}


def main(tracks: list[str]) -> dict:
    report = {"measured": time.strftime("%Y-%m-%d"), "machine": "2 CPU cores, no GPU",
              "tracks": [benchmark(name) for name in tracks]}
    out = RESULTS / "tabular_baselines.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:] or ["boston", "caravan", "used_cars"]), indent=2))
