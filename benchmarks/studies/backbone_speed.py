"""MobileNet v1 0.25's training and inference images/s on this CPU, size by size → results/backbone_speed.json

Training and inference speed (images/s) of MobileNet v1 0.25 with the ImageNet weights on this CPU: the head on
the frozen backbone, and fine-tuning its last layers, at each input size its weights suit.

Random uint8 images already at the input size (no Resizing; speed does not depend on the pixels), batch 64,
flip and translation on. The weights are those `automl weights import mobilenet_v1_0.25 FILE` stored (or Keras'
cache). Writes benchmarks/results/backbone_speed.json (the median of --repeats runs, and each run).
Usage: python -m benchmarks.studies.backbone_speed [--steps 8] [--repeats 3] [--sizes 128 160 ...]
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
from automl.hypermodels.backbone import BackboneHyperModel, unfreeze
from automl.hypermodels.image_inputs import image_dataset
from automl.hypermodels.weights import weights_path
from benchmarks import RESULTS

BACKBONE = "mobilenet_v1_0.25"
SIZES = (128, 160, 192, 224)


def measure(size: int, trainable_layers: int, steps: int, repeats: int, batch: int = 64) -> dict:
    schema = Schema(task="multiclass", target="label", classes=CIFAR10_CLASSES, kind="images",
                    image_shape=[size, size, 3])
    space = BackboneHyperModel(schema, "val_accuracy", "max", weights={BACKBONE: weights_path(BACKBONE)})
    hp = kt.HyperParameters()
    for name, value in {"image_size": size, "translation": 0.1, "trainable_layers": trainable_layers}.items():
        hp.Fixed(name, value)
    model = space.build(hp)
    if trainable_layers:
        unfreeze(model, trainable_layers, 1e-4)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch * (steps + 2), size, size, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=len(x))
    train = image_dataset(x, y, batch, shuffle_seed=0)
    model.fit(train, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # warm-up: tracing, first allocations
    data = image_dataset(x, None, 256)
    model.predict(data.take(1), verbose=0)
    train_rates, predict_rates = [], []
    for _ in range(repeats):  # the machine is shared: each figure is measured `repeats` times
        started = time.perf_counter()
        model.fit(train, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        train_rates.append(round(steps * batch / (time.perf_counter() - started), 1))
        started = time.perf_counter()
        model.predict(data, verbose=0)
        predict_rates.append(round(len(x) / (time.perf_counter() - started), 1))
    keras.backend.clear_session()
    return {"image_size": size, "trainable_layers": trainable_layers, "batch": batch,
            "train_images_per_second": float(np.median(train_rates)), "train_runs": train_rates,
            "predict_images_per_second": float(np.median(predict_rates)), "predict_runs": predict_rates}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each figure; the median is kept")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, choices=SIZES)
    args = parser.parse_args()
    figures = {"load_average_before": os.getloadavg()[0], "cores": os.cpu_count(), "backbone": BACKBONE, "runs": []}
    for size, layers in [(size, layers) for size in args.sizes for layers in (0, 36)]:
        figures["runs"].append(measure(size, layers, args.steps, args.repeats))
        print(figures["runs"][-1], flush=True)
    figures["load_average_after"] = os.getloadavg()[0]
    out = RESULTS / "backbone_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out}")
