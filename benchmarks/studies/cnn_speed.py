"""Training and inference images/s of the lightest, a middle and the heaviest CNN candidates → results/cnn_speed.json

The speed of the CNN space's candidates on this CPU, which sets the image budget (`data/image_folder.py`).

Random uint8 images (speed does not depend on the pixels), batch 128, the augmentation layers on.
Writes benchmarks/results/cnn_speed.json. Usage: python -m benchmarks.studies.cnn_speed [--steps 6]
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import keras_tuner as kt
import numpy as np

from automl.data.images import CIFAR10_CLASSES
from automl.data.schema import Schema
from automl.hypermodels.cnn import CNNHyperModel
from automl.hypermodels.image_inputs import image_dataset
from benchmarks import RESULTS

CANDIDATES = {
    "lightest": {"num_blocks": 2, "filters": 16, "convs_per_block": 1, "kernel_size": 3, "pooling": "global_average",
                 "dense_units": 0},
    "middle": {"num_blocks": 3, "filters": 32, "convs_per_block": 2, "kernel_size": 3, "pooling": "global_average",
               "dense_units": 0},
    "heaviest": {"num_blocks": 4, "filters": 64, "convs_per_block": 2, "kernel_size": 5, "pooling": "flatten",
                 "dense_units": 256, "rotation": 0.05, "zoom": 0.1},
}


def measure(values: dict, steps: int, batch: int = 128) -> dict:
    schema = Schema(task="multiclass", target="label", classes=CIFAR10_CLASSES, kind="images", image_shape=[32, 32, 3])
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    model = CNNHyperModel(schema, "val_accuracy", "max").build(hp)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch * (steps + 2), 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=len(x))
    train = image_dataset(x, y, batch, shuffle_seed=0)
    model.fit(train, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up: tracing, first allocations
    started = time.perf_counter()
    model.fit(train, steps_per_epoch=steps, epochs=1, verbose=0)
    train_rate = steps * batch / (time.perf_counter() - started)
    data = image_dataset(x, None, 256)
    model.predict(data.take(1), verbose=0)
    started = time.perf_counter()
    model.predict(data, verbose=0)
    predict_rate = len(x) / (time.perf_counter() - started)
    keras.backend.clear_session()
    return {"params": int(model.count_params()), "train_images_per_second": round(train_rate, 1),
            "predict_images_per_second": round(predict_rate, 1), **values}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    figures = {"load_average_before": os.getloadavg()[0], "cores": os.cpu_count()}
    for name, values in CANDIDATES.items():
        figures[name] = measure(values, args.steps)
        print(name, figures[name], flush=True)
    figures["load_average_after"] = os.getloadavg()[0]
    out = RESULTS / "cnn_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out}")
