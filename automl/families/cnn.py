"""The CNN family: a convolutional network trained from scratch, with rescaling and augmentation inside."""
from __future__ import annotations

from automl.families.images import ImageFamily
from automl.hypermodels.cnn import CNNHyperModel


class CNNFamily(ImageFamily):
    name = "cnn"
    space = CNNHyperModel
    trains_on_the_clock = True
    summary = "a network trained from scratch on these images"


FAMILY = CNNFamily()
