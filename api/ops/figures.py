"""Dashboard figures from per-second buckets: rates, quantiles, the chart series. No I/O.

A point for second `t` combines the gauges sampled at `t` with rates over the
complete seconds before it (`RATE_WINDOW_SECONDS`), so a live point and the
same point rebuilt later from Redis agree, and one late batch does not make
the decisions/s line jump.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from workers.ops_counters import LATENCY_BUCKETS_SECONDS

_Json = TypeVar("_Json")

RATE_WINDOW_SECONDS = 5
SLOW_WINDOW_SECONDS = 60
"""Rare things (expiries, declines) are counted per minute."""

GAUGES = (
    "waiting",
    "active",
    "joined",
    "admitted",
    "rate_setting",
    "max_active",
    "queue_depth",
    "holds_open",
    "sold",
    "capacity",
    "paused",
    "autopilot",
)


@dataclass(frozen=True, slots=True)
class SecondBucket:
    second: int
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, second: int, raw: Mapping[Any, Any]) -> SecondBucket:
        counters: dict[str, int] = {}
        gauges: dict[str, float] = {}
        for key, value in raw.items():
            name = key.decode() if isinstance(key, bytes) else str(key)
            text = value.decode() if isinstance(value, bytes) else str(value)
            try:
                if name.startswith("g:"):
                    gauges[name[2:]] = float(text)
                else:
                    counters[name] = int(text)
            except ValueError:
                continue
        return cls(second, counters, gauges)


def quantile(bucket_counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile of a latency histogram, interpolated linearly inside its bucket."""
    total = sum(bucket_counts.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    bounds = LATENCY_BUCKETS_SECONDS
    for index in range(len(bounds) + 1):
        count = bucket_counts.get(index, 0)
        if count and seen + count >= rank:
            lower = bounds[index - 1] if index > 0 else 0.0
            if index >= len(bounds):
                return bounds[-1]
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen += count
    return bounds[-1]


def _sum(buckets: Iterable[SecondBucket], name: str) -> int:
    return sum(b.counters.get(name, 0) for b in buckets)


def _window(by_second: Mapping[int, SecondBucket], end: int, seconds: int) -> list[SecondBucket]:
    """The buckets of the `seconds` complete seconds before `end` (missing ones are empty)."""
    return [by_second.get(s) or SecondBucket(s) for s in range(end - seconds, end)]


def _gauge_delta_rate(
    by_second: Mapping[int, SecondBucket], name: str, at: int, seconds: int
) -> float | None:
    """Growth per second of a sampled running total between `at - seconds` and `at`."""
    now_bucket = by_second.get(at)
    if now_bucket is None or name not in now_bucket.gauges:
        return None
    for back in range(seconds, 2 * seconds + 1):
        earlier = by_second.get(at - back)
        if earlier is not None and name in earlier.gauges:
            return max(0.0, now_bucket.gauges[name] - earlier.gauges[name]) / back
    return None


def point(by_second: Mapping[int, SecondBucket], at: int) -> dict[str, Any]:
    """Everything the dashboard plots for second `at`."""
    fast = _window(by_second, at, RATE_WINDOW_SECONDS)
    slow = _window(by_second, at, SLOW_WINDOW_SECONDS)
    latency: dict[int, int] = {}
    outcomes: dict[str, float] = {}
    for bucket in fast:
        for name, count in bucket.counters.items():
            if name.startswith("lat:"):
                index = int(name[4:])
                latency[index] = latency.get(index, 0) + count
            elif name.startswith("o:"):
                outcomes[name[2:]] = outcomes.get(name[2:], 0) + count / RATE_WINDOW_SECONDS
    http = _sum(fast, "http")
    http_errors = _sum(fast, "http_5xx")
    gauges = by_second.get(at, SecondBucket(at)).gauges
    admitted_per_second = _gauge_delta_rate(by_second, "admitted", at, RATE_WINDOW_SECONDS * 2)
    return {
        "t": at,
        **{name: gauges.get(name) for name in GAUGES},
        "joins_per_second": _gauge_delta_rate(by_second, "joined", at, RATE_WINDOW_SECONDS),
        "admitted_per_minute": None if admitted_per_second is None else admitted_per_second * 60,
        "decisions_per_second": _sum(fast, "decisions") / RATE_WINDOW_SECONDS,
        "outcomes_per_second": {k: round(v, 3) for k, v in sorted(outcomes.items())},
        "latency_p50_seconds": quantile(latency, 0.50),
        "latency_p99_seconds": quantile(latency, 0.99),
        "expiries_per_minute": _sum(slow, "expiries") * 60 / SLOW_WINDOW_SECONDS,
        "declines_per_minute": _sum(slow, "declines") * 60 / SLOW_WINDOW_SECONDS,
        "http_per_second": http / RATE_WINDOW_SECONDS,
        "http_5xx_per_second": http_errors / RATE_WINDOW_SECONDS,
        "http_429_per_second": _sum(fast, "http_429") / RATE_WINDOW_SECONDS,
        "http_4xx_per_second": _sum(fast, "http_4xx") / RATE_WINDOW_SECONDS,
        "error_ratio": (http_errors / http) if http else 0.0,
    }


def series(by_second: Mapping[int, SecondBucket], start: int, end: int) -> list[dict[str, Any]]:
    """Points for every second in [start, end)."""
    return [point(by_second, t) for t in range(start, end)]


def round_floats(data: _Json, digits: int = 4) -> _Json:
    """Keep JSON small: 4 significant decimals are plenty for a chart."""
    return cast(_Json, _rounded(data, digits))


def _rounded(data: object, digits: int) -> object:
    if isinstance(data, float):
        return round(data, digits) if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _rounded(v, digits) for k, v in data.items()}
    if isinstance(data, list):
        return [_rounded(v, digits) for v in data]
    return data
