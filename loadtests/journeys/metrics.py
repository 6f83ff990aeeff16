"""Journey counters and timings, summed over workers and written as one JSON at the end.

Locust's own stats hold the timings (custom METRIC rows); this adds what a
stats row cannot say: how many fans were admitted, held, paid, declined; how
many bot calls were refused and with which code, and whether any got through.
Workers ship their counters to the master with every stats report, so a
distributed run ends with the same single file as a local one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from locust import events

from loadtests.journeys.common import listener

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_samples: dict[str, list[float]] = {}
MAX_SAMPLES = 200_000


def count(name: str, amount: int = 1) -> None:
    with _lock:
        _counts[name] += amount


def sample(name: str, value: float) -> None:
    with _lock:
        values = _samples.setdefault(name, [])
        if len(values) < MAX_SAMPLES:
            values.append(value)


def snapshot() -> tuple[dict[str, int], dict[str, list[float]]]:
    with _lock:
        return dict(_counts), {name: list(values) for name, values in _samples.items()}


def reset() -> None:
    with _lock:
        _counts.clear()
        _samples.clear()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary() -> dict[str, Any]:
    counts, samples = snapshot()
    timings = {name: {"count": len(values), "p50": percentile(values, 0.5),
                      "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
                      "max": max(values) if values else None}
               for name, values in sorted(samples.items())}
    good_card = counts.get("purchase.attempt.good_card", 0)
    paid = counts.get("purchase.paid.good_card", 0)
    return {
        "counts": dict(sorted(counts.items())),
        "timings_ms": timings,
        "purchase_success_rate": (paid / good_card) if good_card else None,
        "bots_got_through": counts.get("bot.got_through", 0),
    }


@listener(events.report_to_master)
def _ship(client_id: str, data: dict[str, Any]) -> None:
    with _lock:
        data["journeys"] = {"counts": dict(_counts), "samples": _samples.copy()}
        _counts.clear()
        _samples.clear()


@listener(events.worker_report)
def _merge(client_id: str, data: dict[str, Any]) -> None:
    shipped = data.get("journeys")
    if not shipped:
        return
    with _lock:
        _counts.update(shipped["counts"])
        for name, values in shipped["samples"].items():
            mine = _samples.setdefault(name, [])
            mine.extend(values[:max(0, MAX_SAMPLES - len(mine))])


@listener(events.quitting)
def _write(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    path = getattr(options, "metrics_file", "") if options is not None else ""
    if not path or getattr(options, "worker", False):
        return
    with open(path, "w") as handle:
        json.dump(summary(), handle, indent=2)
