"""A table MLP trained by the final fit alone, variant by variant → results/table_recipe_{track}_{variant}.json

One fixed configuration trained by the final fit alone (no search) for a given time, to choose a table track's
recipe (its ``model.fixed``): validation and test figures, passes over the data, speed.

Training is `MLPHyperModel.fit_final`, what a track with ``search.final_fit`` runs on its chosen
configuration: full passes over the training split on a one-cycle learning rate over the time. The
variants below start from the best configurations of the used_cars searches (piecewise-linear numeric
encoding, the absolute-error loss, ReLU, AdamW) and differ in one or two knobs. Run two side by side,
one per core:

    taskset -c 0 python -m benchmarks.studies.table_recipe used_cars plain --seconds 300 &
    taskset -c 1 python -m benchmarks.studies.table_recipe used_cars wide --seconds 300 &

Each writes benchmarks/results/table_recipe_<track>_<variant>.json. Several runs of a variant from their own
seeds, averaged (what ``search.final_fit_members`` does):

    taskset -c 0 python -m benchmarks.studies.table_recipe used_cars recipe --seconds 400 --seed 100 \
        --predictions a.npz &
    taskset -c 1 python -m benchmarks.studies.table_recipe used_cars recipe --seconds 400 --seed 101 \
        --predictions b.npz &
    python -m benchmarks.studies.table_recipe used_cars recipe --average a.npz b.npz
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import RESULTS

BASE = {"num_layers": 3, "units_0": 256, "units_1": 256, "units_2": 256, "numeric_encoding": "piecewise_linear",
        "categorical_encoding": "one_hot", "loss": "mae", "activation": "relu", "batch_norm": False,
        "dropout": 0.0, "l1": 0.0, "l2": 1e-5, "optimizer": "adamw", "learning_rate": 2e-3, "batch_size": 256,
        "reduce_lr_on_plateau": False}
# tracks/used_cars.toml's model.fixed, against BASE, at the batch size of its first trial
RECIPE = {"units_0": 512, "units_1": 512, "units_2": 512, "batch_norm": True, "l2": 1e-4, "learning_rate": 3e-3,
          "batch_size": 128}
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
    "recipe_l2_1e-5": {**RECIPE, "l2": 1e-5},
    # the used_cars track's recipe as it is (batch 128, its first trial)
    "recipe": RECIPE,
    # the recipe with more capacity: a fourth layer of 512, or 3 layers of 768
    "recipe_deep": {**RECIPE, "num_layers": 4, "units_3": 512},
    "recipe_768": {**RECIPE, "units_0": 768, "units_1": 768, "units_2": 768},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("track")
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--seconds", type=float, default=300.0, help="the final fit's time")
    parser.add_argument("--validation-half", action="store_true",
                        help="train on the training split and a random half of validation; score the other half")
    parser.add_argument("--seed", type=int, default=None, help="the network's seed (initial weights, shuffling)")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="write the validation and test predictions here (.npz), to average several runs")
    parser.add_argument("--average", type=Path, nargs="+", default=None,
                        help="train nothing: average the predictions of earlier runs (their .npz files) and score them")
    args = parser.parse_args()
    if args.average:
        return average(args.track, args.variant, args.average)

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
    if args.seed is not None:
        import keras

        keras.utils.set_random_seed(args.seed)
        hypermodel.seed = args.seed
    model = hypermodel.build(hp)
    (x, y), kwargs = fit_arguments(track, family, data)
    if args.validation_half:  # does the final fit gain from more rows? score on validation rows it did not see
        vx, vy = kwargs["validation_data"]
        order = np.random.default_rng(0).permutation(len(vy))
        learn, scored = order[: len(vy) // 2], order[len(vy) // 2:]
        x = {k: np.concatenate([v, vx[k][learn]]) for k, v in x.items()}
        y = np.concatenate([y, vy[learn]])
        kwargs["validation_data"] = ({k: v[scored] for k, v in vx.items()}, vy[scored])
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, x, y, validation_data=kwargs["validation_data"], seconds=args.seconds)
    seconds = time.monotonic() - started
    rows = int(model.optimizer.iterations.numpy()) * values["batch_size"]
    predicted = model.predict(family.dataset(family.model_inputs(data.test.x, data.schema)), verbose=0).reshape(-1)
    if args.predictions is not None:
        validation = model.predict(family.dataset(kwargs["validation_data"][0]), verbose=0).reshape(-1)
        np.savez(args.predictions, validation=validation, validation_y=kwargs["validation_data"][1],
                 test=predicted, test_y=data.test.y)
    result = {"track": track.name, "variant": args.variant, "seed": args.seed, "hyperparameters": values,
              "cpus": len(os.sched_getaffinity(0)), "seconds": round(seconds, 1),
              "rows_per_second": round(rows / seconds, 1), "passes": round(rows / len(y), 2),
              "params": model.count_params(),
              "val_mae_per_pass": [round(v, 2) for v in history.history["val_mae"]],
              "test_mae": round(float(np.mean(np.abs(predicted - data.test.y))), 2),
              "test_rmse": round(float(np.sqrt(np.mean((predicted - data.test.y) ** 2))), 2)}
    name = args.variant + ("_validation_half" if args.validation_half else "") + (
        f"_seed{args.seed}" if args.seed is not None else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"table_recipe_{track.name}_{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "val_mae_per_pass"}))
    return 0


def average(track: str, variant: str, files: list[Path]) -> int:
    """The mean of several runs' predictions (``--predictions``), scored as one model: validation and test MAE."""
    import numpy as np

    runs = [np.load(f) for f in files]
    figures = {}
    for split in ("validation", "test"):
        y = runs[0][f"{split}_y"]
        alone = [float(np.mean(np.abs(r[split] - y))) for r in runs]
        mean = np.mean([r[split] for r in runs], axis=0)
        figures[split] = {"mae_alone": [round(v, 2) for v in alone],
                          "mae_averaged": round(float(np.mean(np.abs(mean - y))), 2),
                          "rmse_averaged": round(float(np.sqrt(np.mean((mean - y) ** 2))), 2)}
    result = {"track": track, "variant": variant, "runs": [str(f.name) for f in files], **figures}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"table_recipe_{track}_{variant}_average.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
