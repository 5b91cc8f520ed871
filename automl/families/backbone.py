"""The backbone family: transfer learning from an ImageNet network of keras.applications (MobileNet, ...).

It reads images as every image family does (`ImageFamily`); its space is `BackboneHyperModel`, over the
backbones of ``model.backbones`` (default: all known) whose weights are on this machine or can be downloaded.
"""
from __future__ import annotations

import warnings
from typing import Any

from automl.data.inference import OwnData
from automl.errors import AutomlError, AutomlWarning
from automl.families.images import ImageFamily
from automl.hypermodels import weights
from automl.hypermodels.backbone import BackboneHyperModel
from automl.hypermodels.pretrained import PRETRAINED
from automl.track.sections import Track


class BackboneFamily(ImageFamily):
    name = "backbone"
    space = BackboneHyperModel
    trains_on_the_clock = True
    summary = "an ImageNet network fine-tuned on them"
    settings_notes = {"backbones": "pretrained networks whose ImageNet weights were found (docs/backbones.md)"}

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """Images, when some backbone's ImageNet weights are found (imported, in Keras' cache, or downloaded by
        Keras): then the track names those backbones (``model.backbones``). Without any, a note says how to add
        them and the search goes without this family."""
        if super().fits(data) is None:
            return None
        try:
            found = weights.available(PRETRAINED)
        except AutomlError:
            warnings.warn("no pretrained backbone: none of " + ", ".join(PRETRAINED) + " has ImageNet weights here, "
                          "so the CNN alone is searched; import weights once with `automl weights import NAME FILE` "
                          "(or connect to the network), then rerun with --restart", AutomlWarning, stacklevel=2)
            return None
        return {"backbones": list(found)}

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
