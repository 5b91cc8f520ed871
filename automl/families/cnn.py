"""The CNN family: a convolutional network trained from scratch, with rescaling and augmentation inside."""
from __future__ import annotations

from typing import Any

from automl.data.inference import OwnData
from automl.errors import AutomlError
from automl.families.images import ImageFamily
from automl.hypermodels.cnn import LEVERS, CNNHyperModel, start_for
from automl.track.sections import Track


class CNNFamily(ImageFamily):
    name = "cnn"
    space = CNNHyperModel
    trains_on_the_clock = True
    summary = "a network trained from scratch on these images"

    def check(self, track: Track) -> None:
        super().check(track)
        unknown = [lever for lever in track.model.levers if lever not in LEVERS]
        if unknown:
            raise AutomlError(f"{track.source}: 'model.levers' has {', '.join(map(repr, unknown))}, which the cnn "
                              f"family does not know; use some of {', '.join(LEVERS)}")

    def space_options(self, track: Track) -> dict[str, Any]:
        return {**super().space_options(track), "levers": list(track.model.levers)}

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """A folder of images, searched from a known-good network sized by the side they are resized to."""
        if super().fits(data) is None:
            return None
        return {"start": start_for(data.image_size)} if data.image_size else {}

    settings_notes = {"start": "The search's first trial: a known-good network trained from scratch, sized by the "
                               "images' side (automl/hypermodels/cnn.py, START). Hyperband then draws from the whole "
                               "space."}


FAMILY = CNNFamily()
