"""CSV lines for organizers' exports, safe to open in a spreadsheet.

A cell a buyer controls (a display name, an e-mail address) that starts with `=`, `+`, `-`,
`@` (or a tab or carriage return, which some spreadsheets skip before reading a formula)
would be run as a formula by Excel, LibreOffice or Google Sheets when the organizer opens
the file. Such a cell gets a leading `'`, which spreadsheets show as text (OWASP's advice
for CSV injection); quoting itself is the csv module's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """The cell's text: None is empty; text that a spreadsheet would read as a formula is
    prefixed with `'`. Numbers are written as they are (a negative number is a number)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    """The rows as CSV text (RFC 4180: CRLF line ends, quotes where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()
