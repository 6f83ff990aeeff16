"""The per-fault table of a chaos report, as Markdown and as fixed-width text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "fault"),
    ("injected_at_s", "at s"),
    ("failed_requests", "failed"),
    ("codes", "codes"),
    ("recovery_s", "recovery s"),
    ("lost_sales", "lost sales"),
    ("double_sales", "double sales"),
    ("stuck_requests", "stuck"),
    ("money_without_tickets", "money w/o tickets"),
    ("http_5xx", "5xx"),
    ("places_lost", "places lost"),
    ("verdict", "verdict"),
)
MUST_BE_ZERO = ("lost_sales", "double_sales", "stuck_requests", "money_without_tickets",
                "http_5xx")


def verdict(entry: Mapping[str, Any]) -> str:
    """PASS when every must-be-zero figure is 0 and the audit held; SKIP; else FAIL."""
    if entry.get("skipped"):
        return "SKIP"
    broken = [name for name in MUST_BE_ZERO if entry.get(name)]
    if broken or entry.get("audit_ok") is False or entry.get("admissions_ok") is False:
        return "FAIL"
    return "PASS"


def cell(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name == "codes":
        return ", ".join(f"{code}x{count}" for code, count in sorted(value.items())) or "none"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def rows(entries: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [[cell(name, verdict(entry) if name == "verdict" else entry.get(name))
             for name, _ in COLUMNS] for entry in entries]


def markdown(entries: Sequence[Mapping[str, Any]]) -> str:
    header = [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(entries)]
    return "\n".join(lines)


def plain(entries: Sequence[Mapping[str, Any]]) -> str:
    header = [title for _, title in COLUMNS]
    body = rows(entries)
    widths = [max(len(column), *(len(row[i]) for row in body)) if body else len(column)
              for i, column in enumerate(header)]
    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True))
    return "\n".join([line(header), line(["-" * width for width in widths]),
                      *(line(row) for row in body)])
