"""The text family: a CSV whose signal is in one or more columns of free text, read by a searched encoder."""
from __future__ import annotations

from typing import Any

from automl.data.inference import OwnData
from automl.errors import AutomlError
from automl.families.mlp import MLPFamily
from automl.hypermodels.text import TextHyperModel
from automl.track.sections import Track


class TextFamily(MLPFamily):
    """Reads data as the MLP family does (``data.kind = "csv"``, raw rows in, raw strings for text); its space
    searches how the text is read (`TextHyperModel`)."""

    name = "text"
    summary = "only text to learn from"
    space = TextHyperModel

    def fits(self, data: OwnData) -> dict[str, Any] | None:
        """A CSV whose only columns to learn from are free text (text beside other columns goes inside the MLP)."""
        if data.kind not in self.data_kinds or data.task not in self.tasks:
            return None
        return {} if data.text and not (data.numeric or data.categorical or data.images) else None

    def check(self, track: Track) -> None:
        super().check(track)
        if not track.data.text:
            raise AutomlError(f"{track.source}: family \"text\" reads text columns; list them in 'data.text' "
                              "(e.g. text = [\"review\"]), or use family = \"mlp\" for a table")


FAMILY = TextFamily()
