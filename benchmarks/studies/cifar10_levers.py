"""airbench's levers on CIFAR-10, one at a time → results/cifar10_levers_{variant}.json

The network airbench trains (`model.levers`, automl/hypermodels/cnn.py) trained by the final fit alone (no search)
for a given time on real CIFAR-10: its test accuracy, passes over the 45,000 training images and images per
second. "all" pulls every lever; "no_<lever>" all but that one; "plain" none, with the knobs of the CIFAR-10 track
before the levers (benchmarks/studies/cifar10_recipe.py, variant sgd). Each variant gets the same wall time, so a
lever that slows training pays for it in passes. The test-time average is measured on the "all" network itself,
scored three ways: mirror images and 1-pixel shifts, mirror images alone, and neither.

Run two variants side by side, one per core:

    taskset -c 0 python -m benchmarks.studies.cifar10_levers all --seconds 480 &
    taskset -c 1 python -m benchmarks.studies.cifar10_levers plain --seconds 480 &
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import RESULTS

# airbench's network and training (its hyperparameters as the track fixes them): batch 512 at airbench's learning
# rate 11.5 per 1,024 images over its kilostep scale, for a mean loss: 1.5 x 512 / 1,024.
AIRBENCH = {"whitening": True, "num_blocks": 3, "filters": 64, "convs_per_block": 2, "downsample": "early",
            "kernel_size": 3, "batch_norm": True, "pooling": "global_max", "dense_units": 0, "dropout": 0.0,
            "l2": 0.0, "rotation": 0.0, "zoom": 0.0, "label_smoothing": 0.2, "flip_average": True,
            "optimizer": "sgd", "sgd_learning_rate": 0.75, "batch_size": 512}
PLAIN = {"rotation": 0.0, "num_blocks": 3, "filters": 64, "convs_per_block": 2, "downsample": "early",
         "kernel_size": 3, "batch_norm": True, "whitening": True, "pooling": "global_average", "dense_units": 0,
         "zoom": 0.0, "dropout": 0.0, "l2": 5e-4, "flip_average": True, "label_smoothing": 0.2, "batch_size": 256,
         "optimizer": "sgd", "sgd_learning_rate": 0.1}


def variants() -> dict[str, tuple[dict, list[str]]]:
    from automl.hypermodels.cnn import LEVERS

    every = sorted(LEVERS)
    found = {"all": (AIRBENCH, every), "plain": (PLAIN, [])}
    for lever in every:
        if lever != "tta_shifts":  # scored on the "all" network
            found[f"no_{lever}"] = (AIRBENCH, [other for other in every if other != lever])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", help="all, plain or no_<lever>")
    parser.add_argument("--seconds", type=float, default=480.0, help="the final fit's time")
    args = parser.parse_args()

    import keras_tuner as kt

    from automl.data.home import imported_path
    from automl.data.images import CIFAR10_CLASSES, load_images, read_npz
    from automl.hypermodels.cnn import CNNHyperModel

    values, levers = variants()[args.variant]
    data = load_images(read_npz(imported_path("cifar10")), "multiclass", classes=CIFAR10_CLASSES)
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    hypermodel = CNNHyperModel(data.schema, "val_accuracy", "max", batch_sizes=[values["batch_size"]], levers=levers)
    model = hypermodel.build(hp)
    started = time.monotonic()
    history = hypermodel.fit_final(hp, model, data.train.x, data.train.y,
                                   validation_data=(data.validation.x, data.validation.y), seconds=args.seconds)
    seconds = time.monotonic() - started
    images = int(model.optimizer.iterations.numpy()) * values["batch_size"]
    began = time.monotonic()
    test = model.evaluate(data.test.x, data.test.y, batch_size=500, verbose=0, return_dict=True)
    result = {"variant": args.variant, "levers": levers, "hyperparameters": values,
              "cpus": len(os.sched_getaffinity(0)), "seconds": round(seconds, 1),
              "images_per_second": round(images / seconds, 1), "passes": round(images / len(data.train.y), 2),
              "params": model.count_params(),
              "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
              "test_accuracy": round(test["accuracy"], 4),
              "test_seconds": round(time.monotonic() - began, 1)}
    if args.variant == "all":  # the same weights, scored without the shifts, and without any average
        network = model.get_layer("flip_average").layer  # takes the images scaled to 0-1 (no augmentation outside
        scaled = (data.test.x / 255.0).astype("float32")  # training)
        plain = network.predict(scaled, batch_size=500, verbose=0)
        mirrored = (plain + network.predict(scaled[:, :, ::-1], batch_size=500, verbose=0)) / 2
        result["test_accuracy_mirror_only"] = round(float((mirrored.argmax(axis=1) == data.test.y).mean()), 4)
        result["test_accuracy_no_average"] = round(float((plain.argmax(axis=1) == data.test.y).mean()), 4)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"cifar10_levers_{args.variant}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
