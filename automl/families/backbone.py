"""The backbone family: transfer learning from an ImageNet network of keras.applications (MobileNet, ...).

It reads images as every image family does (`ImageFamily`); its space is `BackboneHyperModel`, over the
backbones of ``model.backbones`` (default: all known) whose weights are on this machine or can be downloaded.
"""
from __future__ import annotations

from typing import Any

from automl.errors import AutomlError
from automl.families.images import ImageFamily
from automl.hypermodels import weights
from automl.hypermodels.backbone import BackboneHyperModel
from automl.hypermodels.pretrained import PRETRAINED
from automl.track.sections import Track


class BackboneFamily(ImageFamily):
    name = "backbone"
    space = BackboneHyperModel
    trains_on_the_clock = True

    def check(self, track: Track) -> None:
        super().check(track)
        try:
            weights.check_names(track.model.backbones)
        except AutomlError as error:
            raise AutomlError(f"{track.source}: 'model.backbones': {error}") from None

    def space_options(self, track: Track) -> dict[str, Any]:
        """The track's backbones with their weights: those without any are skipped with a note, and none at all
        is an error that names both fixes (`automl.hypermodels.weights.available`)."""
        return {**super().space_options(track), "weights": weights.available(track.model.backbones or PRETRAINED)}


FAMILY = BackboneFamily()
