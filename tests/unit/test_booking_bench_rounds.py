"""The booking benchmark's rounds: ABBA running order, and how runs combine into one row."""

from __future__ import annotations

from loadtests.bench_booking import Rounds, abba, ratio_lines
from loadtests.booking.contender import Audit
from loadtests.booking.harness import RunConfig, RunResult
from loadtests.booking.metrics import Figures


def run(name: str, rate: float, p99: float, oversold: int = 0) -> RunResult:
    figures = Figures(issued=100, decided=100, window_s=1.0, sold_out_at_s=None, held=10,
                      seats_held=30, rejected={}, failed={}, decisions_per_s=rate,
                      p50_ms=p99 / 2, p99_ms=p99, retries=3, fifo_share=0.5, timeline=[])
    return RunResult(name, RunConfig(), figures, Audit(sold=30, oversold=oversold), 0, [])


def test_odd_rounds_run_the_contenders_in_reverse() -> None:
    assert abba(["a", "b", "c"], 2) == [(0, "a"), (0, "b"), (0, "c"),
                                        (1, "c"), (1, "b"), (1, "a")]
    assert abba(["a", "b"], 1) == [(0, "a"), (0, "b")]


def test_a_contenders_figures_are_the_means_of_its_runs_and_the_worst_oversold() -> None:
    rounds = Rounds("onsale", [run("onsale", 1000.0, 40.0), run("onsale", 3000.0, 20.0, 2)])
    entry = rounds.entry()
    assert entry["decisions_per_s"] == 2000.0 and entry["p99_ms"] == 30.0
    assert entry["oversold"] == 2 and entry["retries"] == 3
    assert rounds.table_row()["decisions/s"] == "1,000 / 3,000"


def test_ratios_use_the_means() -> None:
    onsale = Rounds("onsale", [run("onsale", 1000.0, 1.0), run("onsale", 3000.0, 1.0)])
    locks = Rounds("pg-pessimistic", [run("pg-pessimistic", 1000.0, 1.0)])
    assert ratio_lines([onsale, locks]) == [
        "onsale / best lock-based (pg-pessimistic): 2.0x (target >= 2x)"]
