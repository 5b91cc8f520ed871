"""A CSV's bytes, encoding, separator and decimal mark, found by trying, so a spreadsheet's own CSV reads as saved.

A spreadsheet in a Spanish or Portuguese locale saves `Sales;Price` with `12,5` for twelve and a half, often in
Windows-1252 rather than UTF-8; many of automl's first users have exactly that file. Plain UTF-8 comma CSVs
(the built-in tracks, pandas' own output) are read exactly as pandas reads them.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from automl.errors import AutomlError

SAMPLE_CHARS = 64_000  # the first rows decide the separator: enough for a few hundred rows of a wide table
SAMPLE_ROWS = 200
SEPARATORS = (",", ";", "\t")  # in this order: a file every one of them could split is a comma CSV, as before
SAME_WIDTH_SHARE = 0.9  # a separator is right when this share of rows have as many fields as the header
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}  # pandas' compressions by file name
_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+")
_DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+")
_NAMES = {",": "','", ";": "';'", "\t": "tabs"}
UNREADABLE = (OSError, EOFError, zlib.error, zipfile.BadZipFile, lzma.LZMAError)  # a broken or mislabelled archive


@dataclass(frozen=True)
class Dialect:
    """How to split a CSV's text: pandas' `sep` and `decimal`."""

    sep: str = ","
    decimal: str = "."

    def note(self, where: str) -> str | None:
        """What to tell the user, or None for a plain comma CSV."""
        if self == Dialect():
            return None
        decimal = " and ',' as the decimal mark" if self.decimal == "," else ""
        return f"{where}: read with {_NAMES[self.sep]} between columns{decimal} (a spreadsheet's CSV)"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, uncompressed when its name ends in .gz, .bz2, .xz or .zip (as pandas infers)."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise AutomlError(f"{path} holds {len(names)} files; a zipped CSV must hold exactly one")
            return archive.read(names[0])
    with _COMPRESSED.get(suffix, open)(path, "rb") as file:
        return file.read()  # the whole file: pandas holds it all as a frame anyway


def decode(raw: bytes, where: str) -> tuple[str, str | None]:
    """The text, and the encoding's name when it is not UTF-8 (for a note).

    UTF-8 first (a byte-order mark is dropped), then UTF-16 when the file starts with its byte-order mark
    (Excel's "Unicode text"), then Windows-1252: a superset of Latin-1 for printable text, and what
    Windows spreadsheets write. A file that is none of them is an error naming the byte and the line.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _text(raw.decode("utf-16"), where), "UTF-16"
    try:
        return _text(raw.decode("utf-8-sig"), where), None
    except UnicodeDecodeError as not_utf8:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as neither:
            raise AutomlError(
                f"cannot read {where}: it is neither UTF-8 ({_at(raw, not_utf8)}) nor Windows-1252 "
                f"({_at(raw, neither)}); save it as UTF-8 (in a spreadsheet: \"CSV UTF-8\")"
            ) from None
        return _text(text, where), f"Windows-1252 (it is not UTF-8: {_at(raw, not_utf8)})"


def _at(raw: bytes, error: UnicodeDecodeError) -> str:
    line = raw.count(b"\n", 0, error.start) + 1
    return f"byte 0x{raw[error.start]:02x} on line {line}"


def _text(text: str, where: str) -> str:
    if "\x00" in text:  # an Excel workbook or another binary file, not text
        raise AutomlError(f"cannot read {where} as CSV (it holds binary data); save it from the spreadsheet as CSV")
    return text


def detect(text: str) -> Dialect:
    """The separator (`,`, `;` or tab) and the decimal mark, from the first rows.

    The separator is the first of `,` `;` tab that splits the header into two or more fields and nearly
    every row into as many (so a comma file stays a comma file). Where it is not the comma, the decimal
    mark is `,` when some fields are numbers like `12,5` and none like `12.5`.
    """
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS:
        sample = sample[: sample.rfind("\n") + 1]  # whole rows only
    for sep in SEPARATORS:
        rows = _rows(sample, sep)
        if rows and len(rows[0]) > 1 and _same_width(rows):
            if sep != "," and _decimal_comma(rows[1:]):
                return Dialect(sep, ",")
            return Dialect(sep)
    return Dialect()  # one column, or ragged whatever the separator: pandas reads it and says what is wrong


def _rows(sample: str, sep: str) -> list[list[str]]:
    try:
        rows = [row for row in itertools.islice(csv.reader(io.StringIO(sample), delimiter=sep), SAMPLE_ROWS) if row]
    except csv.Error:  # a quoted field cut by the sample, or a stray quote: not this separator's fault alone
        return []
    return rows


def _same_width(rows: list[list[str]]) -> bool:
    if len(rows) == 1:
        return True
    width = len(rows[0])
    return sum(len(row) == width for row in rows[1:]) >= SAME_WIDTH_SHARE * (len(rows) - 1)


def _decimal_comma(rows: list[list[str]]) -> bool:
    cells = [cell.strip() for row in rows for cell in row]
    return any(_DECIMAL_COMMA.fullmatch(c) for c in cells) and not any(_DECIMAL_POINT.fullmatch(c) for c in cells)
