"""Turn the per-request records of a run into the benchmark's figures. Pure: no I/O, no clock."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TIMEOUT = "!timeout"
ERROR = "!error"
"""Codes starting with "!" are not decisions: the harness never got an answer."""
TIMELINE_BUCKET_SECONDS = 0.5
SOLD_OUT_SHARE = 0.99
"""The event counts as sold out once buyers hold this share of its seats."""


@dataclass(frozen=True, slots=True)
class Record:
    """One request as the harness saw it. Times are `time.monotonic()` seconds."""

    seq: int
    issued_at: float
    """When the buyer asked (in paced mode: when it was scheduled to ask)."""
    decided_at: float
    """When the contender made the decision durable, or `received_at` if it does not say."""
    received_at: float
    seats: int
    code: str | None
    retries: int

    @property
    def decided(self) -> bool:
        return self.code is None or not self.code.startswith("!")


@dataclass(frozen=True)
class Figures:
    issued: int
    decided: int
    window_s: float
    """Length of the measured window: from the end of warm-up to the end or the sell-out."""
    sold_out_at_s: float | None
    """Seconds from the start of the run to the sell-out, if it sold out."""
    held: int
    seats_held: int
    rejected: dict[str, int]
    failed: dict[str, int]
    decisions_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    retries: int
    fifo_share: float | None
    timeline: list[float]
    """Decisions per second in consecutive buckets from the start of the (first) sale's run,
    warm-up included."""
    sales: int = 1
    """Sales the figures are over: a run that sells out starts a fresh one (harness)."""


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def fifo_flags(records: Iterable[Record]) -> dict[int, bool]:
    """For each decided request (by seq): True when no request that arrived after it was
    decided before it. Ties count as in order."""
    decided = sorted((r for r in records if r.decided), key=lambda r: r.seq)
    flags: dict[int, bool] = {}
    earliest_later = math.inf
    for record in reversed(decided):
        flags[record.seq] = record.decided_at <= earliest_later
        earliest_later = min(earliest_later, record.decided_at)
    return flags


def sold_out_at(records: Iterable[Record], capacity: int) -> float | None:
    """When buyers had been told they hold `SOLD_OUT_SHARE` of the seats, if ever."""
    threshold = math.ceil(SOLD_OUT_SHARE * capacity)
    held = 0
    for record in sorted((r for r in records if r.code is None), key=lambda r: r.received_at):
        held += record.seats
        if held >= threshold:
            return record.received_at
    return None


@dataclass(frozen=True)
class Sale:
    """One sale of a run: its records and its clock marks (`time.monotonic()` seconds)."""

    records: Sequence[Record]
    run_start: float
    window_start: float
    window_end: float
    """Where the window would end; it ends earlier if the event sells out."""


def summarize(records: Sequence[Record], run_start: float, window_start: float,
              window_end: float, capacity: int,
              bucket_s: float = TIMELINE_BUCKET_SECONDS) -> Figures:
    """Figures over the requests issued in [window_start, window_end); warm-up is before it.

    The window ends early when the event sells out: what follows is rejections only.
    decisions/s counts decisions received inside the window (closed loop keeps the
    system saturated, so this is its throughput); latency runs from issue to the
    harness receiving the decision; FIFO order is judged over all requests of the
    run, then shared over those of the window.
    """
    return summarize_sales([Sale(records, run_start, window_start, window_end)], capacity,
                           bucket_s)


def summarize_sales(sales: Sequence[Sale], capacity: int,
                    bucket_s: float = TIMELINE_BUCKET_SECONDS) -> Figures:
    """`summarize` over several sales of the same event, one after the other, as if their
    windows were one: decisions and seconds add up, latencies pool, FIFO order is judged
    within each sale (arrival numbers restart with each)."""
    issued = decided_count = in_window = held = seats_held = retries = in_order = 0
    window_s = 0.0
    latencies: list[float] = []
    rejected: dict[str, int] = {}
    failed: dict[str, int] = {}
    for sale in sales:
        records = sale.records
        sold_out = sold_out_at(records, capacity)
        window_end = sale.window_end
        if sold_out is not None and sold_out < window_end:
            window_end = max(sale.window_start, sold_out)
        measured = [r for r in records if sale.window_start <= r.issued_at < window_end]
        decided = [r for r in measured if r.decided]
        latencies.extend(r.received_at - r.issued_at for r in decided)
        in_window += sum(1 for r in records
                         if r.decided and sale.window_start <= r.received_at < window_end)
        flags = fifo_flags(records)
        in_order += sum(1 for r in decided if flags[r.seq])
        for record in measured:
            if record.code is not None:
                bucket = rejected if record.decided else failed
                bucket[record.code] = bucket.get(record.code, 0) + 1
        held_records = [r for r in decided if r.code is None]
        issued += len(measured)
        decided_count += len(decided)
        held += len(held_records)
        seats_held += sum(r.seats for r in held_records)
        retries += sum(r.retries for r in measured)
        window_s += window_end - sale.window_start
    latencies.sort()
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    first = sales[0]
    first_sold_out = sold_out_at(first.records, capacity)
    return Figures(
        issued=issued,
        decided=decided_count,
        held=held,
        seats_held=seats_held,
        rejected=rejected,
        failed=failed,
        window_s=window_s,
        sold_out_at_s=None if first_sold_out is None else first_sold_out - first.run_start,
        decisions_per_s=in_window / window_s if window_s > 0 else 0.0,
        p50_ms=None if p50 is None else p50 * 1000.0,
        p99_ms=None if p99 is None else p99 * 1000.0,
        retries=retries,
        fifo_share=in_order / decided_count if decided_count else None,
        timeline=_timeline(first.records, first.run_start, bucket_s),
        sales=len(sales),
    )


def _timeline(records: Sequence[Record], run_start: float, bucket_s: float) -> list[float]:
    counts: list[int] = []
    for record in records:
        if not record.decided:
            continue
        index = int((record.received_at - run_start) // bucket_s)
        if index < 0:
            continue
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
    return [count / bucket_s for count in counts]
