"""TOML text for the track files automl writes: values, and lines whose comments are safe.

A small writer of our own rather than a TOML library: the written tracks carry comments that say what was
inferred and why, which a writer of dictionaries cannot place, and the values are a small subset (strings,
numbers, booleans, lists, inline tables). Strings escape what TOML requires (quote, backslash, the control
characters) and write every other character as itself in UTF-8, so ``prix_😀`` stays ``prix_😀``.
"""
from __future__ import annotations

import math
import re

from automl.errors import AutomlError

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# What a TOML basic string cannot hold as itself: the quote, the backslash, U+0000-U+001F and U+007F.
_MUST_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
# What a comment cannot hold: the control characters other than tab.
_NOT_IN_COMMENT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_value(value) -> str:
    """`value` as a TOML literal: a string, an integer, a float, a boolean, a list or an inline table."""
    if type(value).__module__ == "numpy":  # a NumPy scalar read from a table: its Python value
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML literal for {type(value).__name__} {value!r}")


def toml_string(text: str) -> str:
    """A TOML basic string ("..."): escapes where TOML requires them, every other character as itself."""
    if _SURROGATE.search(text):
        raise AutomlError(f"{text!r} is not valid Unicode (a name in another encoding?), so no UTF-8 TOML file "
                          "can hold it; rename it")
    return '"' + _MUST_ESCAPE.sub(lambda m: _SHORT_ESCAPES.get(m[0], f"\\u{ord(m[0]):04X}"), text) + '"'


def toml_key(key: str) -> str:
    """A key as written: bare where TOML allows it, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_lines(lines: list[str]) -> str:
    """Lines joined into a TOML file's text. The values in them are already literals; the comments may quote
    names from the data (a column, a class), whose line breaks and control characters are shown escaped, and
    whose invalid Unicode becomes U+FFFD, so that no comment breaks the file."""
    safe = (_NOT_IN_COMMENT.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), line) for line in lines)
    return "".join(_SURROGATE.sub("\ufffd", line) + "\n" for line in safe)
