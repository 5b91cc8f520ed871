"""A table's MLP: one fixed configuration trained by the final fit alone (no search) for a given time, to
choose a table track's recipe (its ``model.fixed``): validation and test figures, passes over the data, speed.

Training is `MLPHyperModel.fit_final`, what a track with ``search.final_fit`` runs on its chosen
configuration: full passes over the training split on a one-cycle learning rate over the time. The
variants below start from the best configurations of the used_cars searches (piecewise-linear numeric
encoding, the absolute-error loss, ReLU, AdamW) and differ in one or two knobs. Run two side by side,
one per core:

    taskset -c 0 python benchmarks/table_recipe.py used_cars plain --seconds 300 &
    taskset -c 1 python benchmarks/table_recipe.py used_cars wide --seconds 300 &

Each writes benchmarks/results/table_recipe_<track>_<variant>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = Path(__file__).resolve().parent / "results"
BASE = {"num_layers": 3, "units_0": 256, "units_1": 256, "units_2": 256, "numeric_encoding": "piecewise_linear",
        "categorical_encoding": "one_hot", "loss": "mae", "activation": "relu", "batch_norm": False,
        "dropout": 0.0, "l1": 0.0, "l2": 1e-5, "optimizer": "adamw", "learning_rate": 2e-3, "batch_size": 256,
        "reduce_lr_on_plateau": False}
VARIANTS = {
    "plain": {},
    "wide": {"units_0": 512, "units_1": 512, "units_2": 512},
    "batch_norm": {"batch_norm": True, "l2": 1e-4, "learning_rate": 3e-3},
    "periodic": {"numeric_encoding": "periodic", "periodic_sigma": 0.1, "categorical_encoding": "embedding"},
    "dropout": {"units_0": 512, "units_1": 512, "units_2": 512, "dropout": 0.1},
    "small_batch": {"batch_size": 128, "learning_rate": 1e-3},
    "wide_batch_norm": {"units_0": 512, "units_1": 512, "units_2": 512, "batch_norm": True, "l2": 1e-4,
                        "learning_rate": 3e-3},
    # the used_cars track's recipe (its final fit trains it at batch 128), with a tenth of its L2
    "recipe_l2_1e-5": {"units_0": 512, "units_1": 512, "units_2": 512, "batch_norm": True, "l2": 1e-5,
                       "learning_rate": 3e-3, "batch_size": 128},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("track")
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--seconds", type=float, default=300.0, help="the final fit's time")
    args = parser.parse_args()

    import keras_tuner as kt
    import numpy as np

    from automl.families import family_of
    from automl.track import load_track
    from automl.tuning.loop import fit_arguments

    track = load_track(args.track)
    family = family_of(track)
    data = family.load(track)
    values = {**BASE, **VARIANTS[args.variant]}
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    hypermodel = family.hypermodel(track, data.schema)
    model = hypermodel.build(hp)
    (x, y), kwargs = fit_arguments(track, data)
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, x, y, validation_data=kwargs["validation_data"], seconds=args.seconds)
    seconds = time.monotonic() - started
    rows = int(model.optimizer.iterations.numpy()) * values["batch_size"]
    predicted = model.predict(family.dataset(family.model_inputs(data.test.x, data.schema)), verbose=0).reshape(-1)
    result = {"track": track.name, "variant": args.variant, "hyperparameters": values,
              "cpus": len(os.sched_getaffinity(0)), "seconds": round(seconds, 1),
              "rows_per_second": round(rows / seconds, 1), "passes": round(rows / len(y), 2),
              "params": model.count_params(),
              "val_mae_per_pass": [round(v, 2) for v in history.history["val_mae"]],
              "test_mae": round(float(np.mean(np.abs(predicted - data.test.y))), 2),
              "test_rmse": round(float(np.sqrt(np.mean((predicted - data.test.y) ** 2))), 2)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"table_recipe_{track.name}_{args.variant}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "val_mae_per_pass"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
