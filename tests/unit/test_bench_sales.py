"""A run of several sales is measured as one window: the booking bench's repeated sales.

Invariant: decisions and seconds add up across sales, latencies pool, and arrival order
is judged within each sale (arrival numbers restart), so a fresh sale never counts as
overtaking the one before.
"""

from __future__ import annotations

import pytest

from loadtests.booking.cpu import CpuFigures, combine_cpu
from loadtests.booking.metrics import Record, Sale, summarize, summarize_sales

CAPACITY = 10


def _held(seq: int, issued: float, received: float, seats: int = 1) -> Record:
    return Record(seq, issued, received, received, seats, None, 0)


def _rejected(seq: int, issued: float, received: float) -> Record:
    return Record(seq, issued, received, received, 0, "sold_out", 0)


def test_two_sales_add_their_windows_and_decisions() -> None:
    # Sale 1 sells out (10 seats held) at t=3.5 of a window [1, 11); sale 2 does not.
    first = [_held(1, 1.0, 1.5, 5), _held(2, 2.0, 2.5, 4), _held(3, 3.0, 3.5, 1),
             _rejected(4, 4.0, 4.1)]
    second = [_held(1, 101.0, 101.2), _rejected(2, 102.0, 102.4)]
    one = summarize(first, 0.0, 1.0, 11.0, CAPACITY)
    assert one.window_s == pytest.approx(2.5) and one.sold_out_at_s == pytest.approx(3.5)

    both = summarize_sales([Sale(first, 0.0, 1.0, 11.0), Sale(second, 100.0, 101.0, 103.0)],
                           CAPACITY)
    assert both.sales == 2
    assert both.window_s == pytest.approx(2.5 + 2.0)
    assert both.decided == 3 + 2 and both.held == 4 and both.seats_held == 11
    # Received inside the windows: the sell-out decision itself closes the first one.
    assert both.decisions_per_s == pytest.approx(4 / 4.5)
    assert both.rejected == {"sold_out": 1}
    assert both.fifo_share == 1.0, "seq 1 of sale 2 is not a late arrival of sale 1"
    assert both.sold_out_at_s == pytest.approx(3.5), "the first sale's sell-out"
    assert both.p99_ms == pytest.approx(500.0)


def test_cpu_of_several_windows_is_weighted_by_their_length_and_decisions() -> None:
    def cpu(seconds: float, clients_cores: float, rate: float) -> tuple[CpuFigures, float]:
        cores = {"clients": clients_cores, "server": 0.0, "postgres": 0.0, "redis": 0.0}
        return CpuFigures(seconds, cores, {g: c / rate * 1e6 for g, c in cores.items()}), rate

    combined = combine_cpu([cpu(1.0, 1.0, 1000.0), cpu(3.0, 0.5, 500.0)])
    assert combined is not None
    assert combined.seconds == 4.0
    assert combined.cores["clients"] == pytest.approx((1.0 + 1.5) / 4.0)
    assert combined.us_per_decision["clients"] == pytest.approx(2.5 / 2500 * 1e6)
    assert combine_cpu([]) is None
