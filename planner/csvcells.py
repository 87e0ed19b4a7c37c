"""CSV cells that a spreadsheet will not run (OWASP "CSV injection").

A cell that starts with ``= + - @``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets; exported text from outside (post text, handles, channel labels,
contact names) must not become one. Such a cell gets a leading apostrophe, which spreadsheets
show as text and our own import takes off again, so export -> import round-trips.
Numbers and number series (``-3``, ``-0.25``, ``- 0 20 20``) stay as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Numbers and our own series ("- 0 20 20"): nothing a spreadsheet could call or link.
_INERT = re.compile(r"^[-\d. ]+$")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _INERT.match(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo ``neutralise`` on import."""
    if value.startswith("'") and value[1:2] and value[1] in "=+-@\t\r":
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` whose every cell is neutralised."""

    def __init__(self, stream: Any) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])
