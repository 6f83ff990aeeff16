"""The benchmark's PNG: throughput, latency and decisions over time per contender."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loadtests.booking.harness import RunResult
from loadtests.booking.metrics import TIMELINE_BUCKET_SECONDS


def write_plot(results: Sequence[RunResult], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [result.name for result in results]
    figure, (throughput, latency, timeline) = plt.subplots(
        1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [1, 1, 1.4]})
    figure.suptitle(title)

    rates = [result.figures.decisions_per_s for result in results]
    bars = throughput.bar(names, rates, color="#4c72b0")
    throughput.bar_label(bars, labels=[f"{rate:,.0f}" for rate in rates])
    throughput.set_title("decisions / s (closed loop)")
    throughput.tick_params(axis="x", rotation=30)

    positions = range(len(results))
    p50 = [result.figures.p50_ms or 0.0 for result in results]
    p99 = [result.figures.p99_ms or 0.0 for result in results]
    latency.bar([p - 0.2 for p in positions], p50, width=0.4, label="p50")
    latency.bar([p + 0.2 for p in positions], p99, width=0.4, label="p99")
    latency.set_xticks(list(positions), names, rotation=30)
    if any(value > 0 for value in p50 + p99):
        latency.set_yscale("log")
    latency.set_title("request -> decision (ms, log scale)")
    latency.legend()

    for result in results:
        series = result.figures.timeline
        seconds = [index * TIMELINE_BUCKET_SECONDS for index in range(len(series))]
        timeline.plot(seconds, series, label=result.name)
    if results:
        warmup = results[0].config.warmup_s
        timeline.axvline(warmup, color="grey", linestyle=":", label="end of warm-up")
    timeline.set_title("decisions / s over the (first) sale")
    timeline.set_xlabel("seconds since start")
    if any(value > 0 for result in results for value in result.figures.timeline):
        timeline.set_yscale("log")
    timeline.legend(fontsize="small")

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
