"""A CIFAR-10 network's training images/s: bfloat16, batch 256, whitening, one thread → results/cpu_speed.json

Training speed (images/s) of one CIFAR-10 network on this CPU under the settings issue 18 asks about:
float32 against bfloat16 mixed precision, batch 128 against 256, the patch-whitening first layer, and
TensorFlow's intra-op threads. Real CIFAR-10 images through the same tf.data pipeline as a search; the
network is the one the 2026-11-29 reference run chose (trial 0039: 3 blocks of 2 convolutions from 32
filters, flatten, 128 units). Each setting trains `--images` images after a warm-up of 2 steps, with
the loss after them beside the speed, so that a faster setting that does not learn shows.

Writes benchmarks/results/cpu_speed.json. Usage: python -m benchmarks.studies.cpu_speed [--images 12800]
Each setting runs in its own process: the mixed-precision policy and the thread count are global.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import RESULTS
from benchmarks.suite.runs import python_path

CHOSEN = {"rotation": 0.0, "zoom": 0.1, "num_blocks": 3, "filters": 32, "convs_per_block": 2, "downsample": "end",
          "kernel_size": 3, "batch_norm": True, "dropout": 0.1, "l2": 1e-4, "pooling": "flatten", "dense_units": 128,
          "optimizer": "sgd", "sgd_learning_rate": 0.05, "flip_average": False, "label_smoothing": 0.0}
SETTINGS = {
    "float32, batch 128": {"batch_size": 128},
    "float32, batch 256": {"batch_size": 256},
    "bfloat16, batch 128": {"batch_size": 128, "policy": "mixed_bfloat16"},
    "bfloat16, batch 256": {"batch_size": 256, "policy": "mixed_bfloat16"},
    "float32, batch 128, whitening": {"batch_size": 128, "whitening": True},
    "float32, batch 128, 1 intra-op thread": {"batch_size": 128, "threads": 1},
}


class Clock:
    """The time from the end of step `skip` to the end of training."""

    def __new__(cls, skip: int):
        import keras

        class _Clock(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.skip, self.began, self.ended = skip, 0.0, 0.0

            def on_train_batch_end(self, batch, logs=None):
                if batch == self.skip - 1:
                    self.began = time.perf_counter()

            def on_train_end(self, logs=None):
                self.ended = time.perf_counter()

        return _Clock()


def measure(setting: dict, images: int) -> dict:
    import keras
    import keras_tuner as kt
    import tensorflow as tf

    if setting.get("threads"):
        tf.config.threading.set_intra_op_parallelism_threads(setting["threads"])
    keras.mixed_precision.set_global_policy(setting.get("policy", "float32"))
    from automl.data.home import imported_path
    from automl.data.images import CIFAR10_CLASSES, load_images, read_npz
    from automl.hypermodels.cnn import CNNHyperModel
    from automl.hypermodels.image_inputs import image_dataset

    data = load_images(read_npz(imported_path("cifar10")), "multiclass", classes=CIFAR10_CLASSES)
    hp = kt.HyperParameters()
    for name, value in {**CHOSEN, "whitening": bool(setting.get("whitening"))}.items():
        hp.Fixed(name, value)
    model = CNNHyperModel(data.schema, "val_accuracy", "max").build(hp)
    batch = setting["batch_size"]
    train = image_dataset(data.train.x, data.train.y, batch, shuffle_seed=0)
    steps = max(images // batch, 1)
    clock = Clock(skip=5)  # from the 5th step on: not the tracing, nor the filling of the shuffle buffer
    history = model.fit(train, steps_per_epoch=steps + clock.skip, epochs=1, verbose=0, callbacks=[clock])
    seconds = clock.ended - clock.began
    return {"images_per_second": round(steps * batch / seconds, 1), "images": steps * batch,
            "loss_after": round(float(history.history["loss"][-1]), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(SETTINGS[args.one], args.images)))
        return
    results = {}
    for name in SETTINGS:
        command = [sys.executable, "-m", "benchmarks.studies.cpu_speed", "--images", str(args.images), "--one", name]
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=python_path()).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(f"{name:40s} {results[name]['images_per_second']:8.1f} images/s  loss {results[name]['loss_after']}")
    path = RESULTS / "cpu_speed.json"
    path.write_text(json.dumps({"machine": f"{os.cpu_count()} CPU cores", "network": CHOSEN, "settings": results},
                               indent=2) + "\n")


if __name__ == "__main__":
    main()
