"""Writes tests/data/cifar10_tiny.npz: 30 training and 10 test images per class of the real CIFAR-10.

Source: ../shared/data/cifar10/cifar10.npz (see ../shared/data/README.md for its provenance), the first
images of each class in the original order. Usage: python tests/data/make_cifar10_tiny.py [SOURCE]
"""
import sys
from pathlib import Path

import numpy as np

source = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/cifar10/cifar10.npz"
with np.load(source) as full:
    arrays = {k: full[k] for k in ("x_train", "y_train", "x_test", "y_test")}
chosen = {}
for part, per_class in (("train", 30), ("test", 10)):
    labels = arrays[f"y_{part}"].reshape(-1)
    index = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)]))
    chosen[f"x_{part}"], chosen[f"y_{part}"] = arrays[f"x_{part}"][index], arrays[f"y_{part}"][index]
np.savez_compressed(Path(__file__).with_name("cifar10_tiny.npz"), **chosen)
