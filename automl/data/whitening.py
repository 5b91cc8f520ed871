"""The statistics of an image model's first layer, learned on the training split: 2x2 patch whitening.

The fast CIFAR-10 recipes (airbench; Page's ResNet-9 before it) start from a convolution that is not
learned but computed from the data: the eigenvectors of the covariance of the images' 2x2 patches, each
scaled by one over the square root of its eigenvalue, so that the first features are decorrelated and of
unit variance. The network then starts from edges and colour contrasts instead of raw pixels, and trains
in fewer passes. `automl.hypermodels.image_layers.PatchWhitening` is the layer.
"""
from __future__ import annotations

from typing import Any

import numpy as np

PATCH = 2  # patch height and width
SAMPLE = 5_000  # images the statistics are computed on: a 12x12 covariance is settled long before
CHUNK = 64  # images whose patches are held at once
RELATIVE_EPS = 5e-4  # added to the eigenvalues, in units of their mean: airbench's 5e-4 on standardized pixels


def patch_whitening(images: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The whitening of `images`' (N, height, width, channels, uint8) 2x2 patches, scaled to 0-1.

    Returns ``{"mean": [...], "kernel": [[...], ...]}``: the mean patch (patch * channels values, in
    (row, column, channel) order, as a Keras convolution kernel flattens them) and the matrix whose
    columns are the whitening directions, largest eigenvalue first. Plain lists, for ``schema.json``.
    An empty dict when there are no images.
    """
    if len(images) == 0:
        return {}
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(images), size=min(SAMPLE, len(images)), replace=False))
    height, width, channels = images.shape[1:]
    size = PATCH * PATCH * channels
    # The sums of the patches and of their outer products, a chunk of images at a time: the patches of 5,000
    # photos at 96x96 would take 4 GB at once (float64), a chunk's take 50 MB.
    count, total, outer = 0, np.zeros(size), np.zeros((size, size))
    for start in range(0, len(chosen), CHUNK):
        x = np.asarray(images[chosen[start:start + CHUNK]], dtype="float64") / 255.0
        patches = np.concatenate([x[:, i:height - PATCH + 1 + i, j:width - PATCH + 1 + j, :]
                                  for i in range(PATCH) for j in range(PATCH)], axis=-1)
        # concatenated (row, column) offsets with the channels innermost: the order of a (2, 2, c, k) kernel
        patches = patches.reshape(-1, size)
        count, total, outer = count + len(patches), total + patches.sum(axis=0), outer + patches.T @ patches
    mean = total / count
    covariance = (outer - count * np.outer(mean, mean)) / (count - 1)  # as np.cov computes it, unbiased
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    eps = RELATIVE_EPS * max(float(eigenvalues.mean()), 1e-12)
    kernel = eigenvectors / np.sqrt(np.maximum(eigenvalues, 0.0) + eps)
    return {"mean": mean.round(8).tolist(), "kernel": kernel.round(8).tolist()}
