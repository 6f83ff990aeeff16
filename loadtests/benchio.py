"""Shared output for `onsale bench NAME`: a JSON file per benchmark and a text table.

Results go to `bench-results/NAME.json` (relative to the working directory,
the repository root under `make bench`) with enough context about the machine
to compare runs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path("bench-results")


METADATA_KEYS = ("benchmark", "finished_at", "machine", "results")


def write_results(name: str, payload: Mapping[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write the benchmark's payload with when and where it ran; return the path.

    The payload's keys are at the top level of the document, next to the
    metadata, so a reader finds e.g. `joins_per_s` at `document["joins_per_s"]`;
    the same payload is also kept under `"results"` for readers of the first layout.
    """
    clashes = sorted(set(payload) & set(METADATA_KEYS))
    if clashes:
        raise ValueError(f"benchmark payload keys clash with the metadata: {clashes}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    document = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        **payload,
        "results": dict(payload),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def update_results(name: str, payload: Mapping[str, Any],
                   directory: Path = RESULTS_DIR) -> Path:
    """`write_results`, keeping the figures other benchmarks wrote into the same file
    (e.g. several write into scaling.json); this run's keys replace theirs."""
    path = directory / f"{name}.json"
    kept: dict[str, Any] = {}
    if path.exists():
        try:
            kept = dict(json.loads(path.read_text()).get("results") or {})
        except (ValueError, AttributeError):
            kept = {}
    return write_results(name, {**kept, **payload}, directory)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print rows as an aligned text table, numbers right-aligned, floats to 3 digits."""
    rendered = [[_cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [
        max([len(column)] + [len(line[position]) for line in rendered])
        for position, column in enumerate(columns)
    ]
    numeric = [
        all(isinstance(row.get(column), int | float) for row in rows) and bool(rows)
        for column in columns
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    print(line(columns))
    print("  ".join("-" * width for width in widths))
    for cells in rendered:
        print(line(cells))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
