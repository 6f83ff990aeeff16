"""The report's plots: queue length, admission rate, decisions/s and latency over time.

Queue and admissions come from the sampler (once a second); decisions and
their latency from every request's own record (enqueued_at, decided_at), so
they are exact per second rather than sampled. The time axis is seconds since
the surge started. Client-side latency (Locust's `request_to_decision`) is
drawn next to the server-side one when Locust's history has it.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from loadtests.audit_redis import RequestRecord  # noqa: E402
from loadtests.surge_sampler import Sample  # noqa: E402

PLOTS = ("queue.png", "admission_rate.png", "decisions.png", "latency.png")


@dataclass(frozen=True)
class Mark:
    """A moment (or span) to mark on every plot, e.g. a fault `onsale chaos` injected."""

    label: str
    start: float
    """Epoch seconds."""
    end: float | None = None


def draw_marks(ax: Axes, marks: Sequence[Mark], start: float) -> None:
    """Each mark as a red line (a span when it lasted) labelled at the top of the axes."""
    for mark in marks:
        at = mark.start - start
        if mark.end is not None and mark.end - mark.start >= 0.5:
            ax.axvspan(at, mark.end - start, color="tab:red", alpha=0.12)
        ax.axvline(at, color="tab:red", linestyle="--", linewidth=1)
        ax.annotate(mark.label, xy=(at, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -4), textcoords="offset points", color="tab:red",
                    fontsize="x-small", rotation=90, va="top", ha="left")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _queue(ax: Axes, samples: Sequence[Sample]) -> None:
    t = [s.t for s in samples]
    ax.plot(t, [s.queue_length for s in samples], label="waiting in line")
    ax.plot(t, [s.active_sessions for s in samples], label="admitted sessions")
    ax.set_title("Queue length")
    ax.set_ylabel("fans")


def _admissions(ax: Axes, samples: Sequence[Sample], configured_per_second: float | None) -> None:
    t, rate = [], []
    for before, after in zip(samples, samples[1:], strict=False):
        if after.t > before.t:
            t.append(after.t)
            rate.append((after.admitted_total - before.admitted_total) / (after.t - before.t))
    ax.plot(t, rate, label="admitted / s")
    if configured_per_second:
        ax.axhline(configured_per_second, linestyle="--", color="grey", label="configured rate")
    ax.set_title("Admission rate")
    ax.set_ylabel("fans / s")


def _decisions(ax: Axes, requests: Sequence[RequestRecord], start: float) -> None:
    per_second: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for record in requests:
        if record.decided_at is not None and record.kind in ("hold", "sell", "release"):
            label = "held" if record.status == "held" else (
                "rejected" if record.status == "rejected" else record.kind)
            per_second[label][int(record.decided_at - start)] += 1
    last = max((second for series in per_second.values() for second in series), default=0)
    seconds = list(range(0, last + 1))
    for label in ("held", "rejected", "sell", "release"):
        if label in per_second:
            ax.plot(seconds, [per_second[label].get(s, 0) for s in seconds], label=label)
    ax.set_title("Booking decisions per second")
    ax.set_ylabel("decisions / s")


def _latency(ax: Axes, requests: Sequence[RequestRecord], start: float,
             client_p95: list[tuple[float, float]]) -> None:
    buckets: dict[int, list[float]] = defaultdict(list)
    for record in requests:
        if record.decided_at is not None and record.enqueued_at:
            latency_ms = max(0.0, (record.decided_at - record.enqueued_at) * 1000)
            buckets[int(record.decided_at - start)].append(latency_ms)
    seconds = sorted(buckets)
    for share, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        ax.plot(seconds, [_percentile(buckets[s], share) for s in seconds],
                label=f"server {label}")
    if client_p95:
        ax.plot([t for t, _ in client_p95], [v for _, v in client_p95], linestyle=":",
                label="client p95 (poll/SSE)")
    ax.set_title("Request-to-decision latency")
    ax.set_ylabel("ms")


def client_latency_p95(history_csv: Path, start: float) -> list[tuple[float, float]]:
    """Locust's rolling p95 of the `request_to_decision` metric, from its stats history."""
    if not history_csv.exists():
        return []
    points = []
    with history_csv.open() as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") != "request_to_decision":
                continue
            value = row.get("95%", "N/A")
            if value in ("N/A", "", "0"):
                continue
            points.append((float(row["Timestamp"]) - start, float(value)))
    return points


def write_plots(directory: Path, samples: Sequence[Sample], requests: Sequence[RequestRecord],
                start: float, configured_per_second: float | None,
                history_csv: Path | None = None, marks: Sequence[Mark] = ()) -> list[Path]:
    """Each plot as its own PNG, plus overview.png with all four; returns the paths.
    `marks` (faults, for `onsale chaos`) are drawn on each."""
    client = client_latency_p95(history_csv, start) if history_csv else []
    drawers: tuple[Callable[[Axes], None], ...] = (
        lambda ax: _queue(ax, samples),
        lambda ax: _admissions(ax, samples, configured_per_second),
        lambda ax: _decisions(ax, requests, start),
        lambda ax: _latency(ax, requests, start, client),
    )
    written = []
    for name, draw in zip(PLOTS, drawers, strict=True):
        figure, ax = plt.subplots(figsize=(8, 4), dpi=100)
        draw(ax)
        _finish(ax)
        draw_marks(ax, marks, start)
        figure.tight_layout()
        figure.savefig(directory / name)
        plt.close(figure)
        written.append(directory / name)
    figure, axes = plt.subplots(2, 2, figsize=(14, 8), dpi=100)
    for ax, draw in zip(axes.flat, drawers, strict=True):
        draw(ax)
        _finish(ax)
        draw_marks(ax, marks, start)
    figure.tight_layout()
    figure.savefig(directory / "overview.png")
    plt.close(figure)
    written.append(directory / "overview.png")
    return written


def _finish(ax: Axes) -> None:
    ax.set_xlabel("seconds since the surge started")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    low, high = ax.get_ylim()
    if not math.isfinite(high) or high <= 0:
        ax.set_ylim(0, 1)
    else:
        ax.set_ylim(0, high)
