"""Organizers' CSV exports: quoting by RFC 4180 and no cell a spreadsheet would run as a
formula (CSV injection)."""

from __future__ import annotations

import csv
import io

from api.organizer.csv_export import csv_cell, csv_lines


def test_cells_a_spreadsheet_would_run_as_formulas_become_text() -> None:
    for text in ("=1+1", "+41 79", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd",
                 "=HYPERLINK(\"http://x\",\"y\")"):
        assert csv_cell(text) == "'" + text, text
    for text in ("Ann O'Neil", "a=b", "fan+tag@example.com", "", "Stalls, row A, seat 1"):
        assert csv_cell(text) == text, text
    assert csv_cell(-5) == "-5", "a number is a number, not a formula"
    assert csv_cell(None) == "" and csv_cell(True) == "true"


def test_lines_quote_commas_quotes_and_line_breaks_and_read_back() -> None:
    rows = [["name", "place"], ['He said "hi"', "Stalls, row A"], ["two\nlines", "=1"]]
    text = csv_lines(rows)
    assert text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["name", "place"], ['He said "hi"', "Stalls, row A"], ["two\nlines", "'=1"]]

