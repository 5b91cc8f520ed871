"""Durations as people write them in a track file or on the command line: 90s, 15m, 2h, 1h30m."""
from __future__ import annotations

import re

from automl.errors import AutomlError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")


def parse_duration(text: str | float, where: str = "time limit") -> float:
    """Seconds in a duration such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"`` or ``"45"`` (seconds).

    Examples
    --------
    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        compact = str(text).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", compact):
            compact += "s"  # a bare number is seconds
        parts = _DURATION.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise AutomlError(
                f"{where}: {str(text)!r} is not a duration; write e.g. 90s, 15m, 2h or 1h30m"
            )
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if not seconds > 0:
        raise AutomlError(f"{where}: {str(text)!r} must be longer than zero; write e.g. 90s, 15m or 2h")
    return seconds
