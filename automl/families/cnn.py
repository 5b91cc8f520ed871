"""The CNN family: a convolutional network trained from scratch, with rescaling and augmentation inside."""
from __future__ import annotations

from typing import Any

from automl.data.inference import OwnData
from automl.families.images import ImageFamily
from automl.hypermodels.cnn import CNNHyperModel, start_for


class CNNFamily(ImageFamily):
    name = "cnn"
    space = CNNHyperModel
    trains_on_the_clock = True
    summary = "a network trained from scratch on these images"

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """A folder of images, searched from a known-good network sized by the side they are resized to."""
        if super().fits(data) is None:
            return None
        return {"start": start_for(data.image_size)} if data.image_size else {}

    settings_notes = {"start": "The search's first trial: a known-good network trained from scratch, sized by the "
                               "images' side (automl/hypermodels/cnn.py, START). Hyperband then draws from the whole "
                               "space."}


FAMILY = CNNFamily()
