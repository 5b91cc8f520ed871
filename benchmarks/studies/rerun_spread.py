"""How far one configuration's validation score moves over training seeds → results/rerun_spread_{track}.json

How much a track's validation objective moves when one fixed configuration is retrained with other seeds.

Differences between trials smaller than this spread are noise, so it is the floor for the choice
rule's tolerance (`search.tolerance`). Run: ``python -m benchmarks.studies.rerun_spread boston 5``; writes
``benchmarks/results/rerun_spread_<track>.json``.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

import keras
import keras_tuner as kt

from automl.data.tabular import model_inputs
from automl.families import family_of
from automl.track import load_track
from benchmarks import RESULTS

# One ordinary configuration from the space; the question is the seed's effect, not the best model.
CONFIGURATION = {"num_layers": 2, "units_0": 64, "units_1": 64, "activation": "relu", "dropout": 0.0,
                 "l1": 0.0, "l2": 0.0, "batch_norm": False, "optimizer": "adam", "learning_rate": 1e-3,
                 "batch_size": 32, "reduce_lr_on_plateau": False}


def main(track_name: str = "boston", seeds: int = 5) -> dict:
    track = load_track(track_name)
    data = family_of(track).load(track)
    x, x_val = model_inputs(data.train.x, data.schema), model_inputs(data.validation.x, data.schema)
    scores = []
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        hypermodel = family_of(track).hypermodel(track, data.schema)
        hypermodel.seed = seed
        hp = kt.HyperParameters()
        hypermodel.build(hp)  # declares the space, then fix the values
        hp.values.update({k: v for k, v in CONFIGURATION.items() if k in hp.values})
        model = hypermodel.build(hp)
        history = hypermodel.fit(hp, model, x, data.train.y, validation_data=(x_val, data.validation.y),
                                 epochs=track.search.max_epochs, verbose=0)
        values = history.history[track.objective]
        scores.append(min(values) if track.direction == "min" else max(values))
        keras.backend.clear_session()
    mean = statistics.fmean(scores)
    result = {
        "track": track.name, "objective": track.objective, "seeds": seeds, "configuration": CONFIGURATION,
        "scores": scores, "mean": mean, "stdev": statistics.stdev(scores),
        "relative_stdev": statistics.stdev(scores) / abs(mean),
        "relative_range": (max(scores) - min(scores)) / abs(mean),
        "measured": time.strftime("%Y-%m-%d"),
    }
    out = RESULTS / f"rerun_spread_{track.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "boston",
                          int(sys.argv[2]) if len(sys.argv) > 2 else 5), indent=2))
