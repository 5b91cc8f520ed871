"""The text family: a CSV whose signal is in one or more columns of free text, read by a searched encoder."""
from __future__ import annotations

from automl.errors import AutomlError
from automl.families.mlp import MLPFamily
from automl.hypermodels.text import TextHyperModel
from automl.track.sections import Track


class TextFamily(MLPFamily):
    """Reads data as the MLP family does (``data.kind = "csv"``, raw rows in, raw strings for text); its space
    searches how the text is read (`TextHyperModel`)."""

    name = "text"
    space = TextHyperModel

    def check(self, track: Track) -> None:
        super().check(track)
        if not track.data.text:
            raise AutomlError(f"{track.source}: family \"text\" reads text columns; list them in 'data.text' "
                              "(e.g. text = [\"review\"]), or use family = \"mlp\" for a table")


FAMILY = TextFamily()
