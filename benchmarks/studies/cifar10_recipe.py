"""CIFAR-10's fixed network trained by the final fit alone, SGD against Adam → results/cifar10_recipe_{variant}.json

One fixed network trained by the final fit alone (no search) for a given time, to choose the cifar10 track's
recipe: its test accuracy, passes over the data and training speed.

The network is the one `tracks/cifar10.toml` fixes (`model.fixed`: whitening, 3 blocks of two 3x3
convolutions from 64 filters, downsampling early, global average pooling), read from the track; the knobs
the track leaves open are set here (label smoothing 0.2, L2 5e-4, the flip average, batch 256), and the
variants differ in the optimizer. Training is `CNNHyperModel.fit_final`: full passes over the 45,000 training
images on the one-cycle learning rate over the time. Run two variants side by side, one per core:

    taskset -c 0 python -m benchmarks.studies.cifar10_recipe sgd --seconds 720 &
    taskset -c 1 python -m benchmarks.studies.cifar10_recipe adam --seconds 720 &

Each writes benchmarks/results/cifar10_recipe_<variant>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import RESULTS

OPEN_KNOBS = {"zoom": 0.0, "dropout": 0.0, "l2": 5e-4, "flip_average": True, "label_smoothing": 0.2, "batch_size": 256}
VARIANTS = {
    "sgd": {"optimizer": "sgd", "sgd_learning_rate": 0.1},
    "adam": {"optimizer": "adam", "learning_rate": 2e-3, "l2": 0.0},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--seconds", type=float, default=720.0, help="the final fit's time")
    args = parser.parse_args()

    import keras_tuner as kt

    from automl.data.home import imported_path
    from automl.data.images import CIFAR10_CLASSES, load_images, read_npz
    from automl.hypermodels.cnn import CNNHyperModel
    from automl.track import load_track

    values = {**load_track("cifar10").model.fixed, **OPEN_KNOBS, **VARIANTS[args.variant]}
    data = load_images(read_npz(imported_path("cifar10")), "multiclass", classes=CIFAR10_CLASSES)
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    hypermodel = CNNHyperModel(data.schema, "val_accuracy", "max", batch_sizes=[values["batch_size"]])
    model = hypermodel.build(hp)
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, data.train.x, data.train.y,
                                   validation_data=(data.validation.x, data.validation.y), seconds=args.seconds)
    seconds = time.monotonic() - started
    images = int(model.optimizer.iterations.numpy()) * values["batch_size"]
    test = model.evaluate(data.test.x, data.test.y, batch_size=500, verbose=0, return_dict=True)
    result = {"variant": args.variant, "hyperparameters": values, "cpus": len(os.sched_getaffinity(0)),
              "seconds": round(seconds, 1), "images_per_second": round(images / seconds, 1),
              "passes": round(images / len(data.train.y), 2), "params": model.count_params(),
              "val_accuracy_per_pass": [round(v, 4) for v in history.history["val_accuracy"]],
              "test_accuracy": round(test["accuracy"], 4)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"cifar10_recipe_{args.variant}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
