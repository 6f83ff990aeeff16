"""The pure parts of `onsale chaos`: the fault plan, recovery from per-second series, the
admission window and the report's table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.chaos import catalog, table
from loadtests.chaos.admissions import AdmissionReading, window
from loadtests.chaos.plan import plan_runs, total_seconds
from loadtests.chaos.recovery import SecondStats, baseline, recovery_seconds

# ------------------------------------------------------------------ plan


@given(st.lists(st.sampled_from([f.name for f in catalog.CATALOG]), unique=True, min_size=1),
       st.booleans())
def test_every_fault_strikes_once_after_its_baseline_and_before_its_surge_ends(
        names: list[str], quick: bool) -> None:
    surges = plan_runs(catalog.select(names), quick)
    strikes = [strike for surge in surges for strike in surge.strikes]
    assert [s.fault.name for s in strikes] == [f.name for f in catalog.CATALOG if f.name in names]
    assert len(surges) == (1 if quick else len(names))
    for surge in surges:
        previous_end = 0.0
        for strike in surge.strikes:
            # its baseline is clear of the fault before it, its end inside the surge
            assert strike.inject_at_seconds - strike.baseline_seconds >= previous_end
            assert strike.fault_ends_at_seconds < surge.run_seconds
            previous_end = strike.fault_ends_at_seconds
            if strike.admission_window is not None:
                opens, closes = strike.admission_window
                assert opens < strike.inject_at_seconds < closes <= surge.run_seconds
                others = [s.inject_at_seconds for s in surge.strikes if s is not strike]
                assert not any(opens <= at <= closes for at in others)


def test_the_quick_catalog_fits_in_a_few_minutes_and_the_full_one_is_longer() -> None:
    quick = total_seconds(plan_runs(catalog.select(None), quick=True))
    full = total_seconds(plan_runs(catalog.select(None), quick=False))
    assert quick < 8 * 60
    assert full > quick


def test_an_unknown_fault_is_named_with_the_known_ones() -> None:
    with pytest.raises(catalog.UnknownFault, match="no-such.*api-kill"):
        catalog.select(["api-kill", "no-such"])


# ------------------------------------------------------------------ recovery

def _steady(seconds: int, requests: int = 50, ms: float = 20.0) -> list[SecondStats]:
    return [SecondStats(t, requests, 0, (ms,) * requests) for t in range(seconds)]


def _broken(series: list[SecondStats], first: int, count: int) -> list[SecondStats]:
    return [SecondStats(s.t, s.requests, s.requests, s.response_ms)
            if first <= s.t < first + count else s for s in series]


@given(st.integers(1, 40), st.integers(10, 200), st.floats(1.0, 500.0))
def test_a_fault_nobody_noticed_recovers_at_once(at: int, requests: int, ms: float) -> None:
    series = _steady(at + 20, requests, ms)
    assert recovery_seconds(series, at + 0.4, at + 0.4, baseline_seconds=10) == 0.0


@given(st.integers(5, 30), st.integers(1, 15))
def test_recovery_is_the_failing_seconds_after_the_fault(at: int, failing: int) -> None:
    series = _broken(_steady(at + failing + 10), at, failing)
    assert recovery_seconds(series, float(at), float(at), baseline_seconds=5) == failing


def test_recovery_counts_from_the_end_of_an_outage() -> None:
    series = _broken(_steady(60), 20, 12)  # unreachable for 10 s, 2 s to come back
    assert recovery_seconds(series, 20.0, 30.0, baseline_seconds=10) == 2.0


def test_a_stack_that_stays_slow_or_quiet_has_not_recovered() -> None:
    slow = _steady(20) + [SecondStats(t, 50, 0, (900.0,) * 50) for t in range(20, 40)]
    assert recovery_seconds(slow, 20.0, 20.0, baseline_seconds=10) is None
    quiet = _steady(20) + [SecondStats(t, 10, 0, (20.0,) * 10) for t in range(20, 40)]
    assert recovery_seconds(quiet, 20.0, 20.0, baseline_seconds=10) is None
    assert recovery_seconds(quiet, 20.0, 20.0, baseline_seconds=10,
                            judge_throughput=False) == 0.0


def test_seconds_after_the_run_are_not_judged() -> None:
    series = _broken(_steady(40), 20, 8)  # failing up to 28; the run ended at 25
    assert recovery_seconds(series, 20.0, 20.0, baseline_seconds=10, until=25) is None


def test_no_traffic_before_the_fault_means_no_baseline() -> None:
    series = [SecondStats(t, 0, 0) for t in range(10)] + _steady(20)[10:]
    assert baseline(series, 8.0, 5) is None
    assert recovery_seconds(series, 8.0, 8.0, baseline_seconds=5) is None


# ------------------------------------------------------------------ admissions

@given(st.floats(30.0, 600.0), st.integers(-3, 3))
def test_admissions_at_the_setting_are_within_two_percent(per_minute: float,
                                                          off: int) -> None:
    per_second = per_minute / 60
    readings = [AdmissionReading(1000.0 + i, round(per_second * i) + (off if i == 60 else 0),
                                 per_minute, 10) for i in range(61)]
    judged = window(readings, 1000.0, 1060.0)
    assert judged is not None
    assert judged.expected == pytest.approx(per_minute)
    assert judged.within_tolerance == (abs(judged.deviation) <= 0.02)
    assert judged.line_empty_seconds == 0 and judged.judged


def test_a_gap_in_admissions_breaks_the_tolerance_and_an_empty_line_is_reported() -> None:
    readings = [AdmissionReading(float(i), min(i, 30) * 2 + max(0, i - 35) * 2, 120.0,
                                 0 if i >= 55 else 5) for i in range(61)]
    judged = window(readings, 0.0, 60.0)
    assert judged is not None and not judged.within_tolerance
    assert judged.line_empty_seconds == 5
    assert not judged.judged and judged.to_json()["within_2_percent"] is None
    assert window(readings[:1], 0.0, 60.0) is None


# ------------------------------------------------------------------ table

def _entry(**figures: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "api-kill", "injected_at_s": 18.1, "failed_requests": 3, "codes": {"0": 3},
        "recovery_s": 1.0, "lost_sales": 0, "double_sales": 0, "stuck_requests": 0,
        "money_without_tickets": 0, "http_5xx": 0, "places_lost": None, "audit_ok": True}
    return {**base, **figures}


@given(st.sampled_from(table.MUST_BE_ZERO), st.integers(1, 10))
def test_any_must_be_zero_figure_fails_the_fault(name: str, value: int) -> None:
    assert table.verdict(_entry()) == "PASS"
    assert table.verdict(_entry(**{name: value})) == "FAIL"


def test_the_audit_and_the_admission_rate_fail_a_fault_and_a_skip_is_a_skip() -> None:
    assert table.verdict(_entry(audit_ok=False)) == "FAIL"
    assert table.verdict(_entry(admissions_ok=False)) == "FAIL"
    assert table.verdict(_entry(skipped=True)) == "SKIP"


def test_the_table_has_a_row_per_fault_with_codes_and_blanks() -> None:
    entries = [_entry(), _entry(name="redis-restart", codes={"503": 4, "0": 1},
                                places_lost=2, recovery_s=None)]
    markdown = table.markdown(entries)
    lines = markdown.splitlines()
    assert len(lines) == 4
    assert "| api-kill | 18.1 | 3 | 0x3 | 1.0 |" in lines[2]
    assert "0x1, 503x4" in lines[3] and "| - |" in lines[3] and "| 2 |" in lines[3]
    assert len(table.plain(entries).splitlines()) == 4


# ------------------------------------------------------------------ the timeline's HTTP figures

def test_http_figures_count_failures_by_status_and_only_bug_5xx() -> None:
    from loadtests.chaos.measure import http_figures

    seconds = [
        {"t": 0, "requests": 10, "failures": {}, "statuses": {"429": 1}, "unretryable_5xx": 0},
        {"t": 1, "requests": 8, "failures": {"0": 2, "503": 3},
         "statuses": {"503": 5}, "unretryable_5xx": 0},
        {"t": 2, "requests": 9, "failures": {"500": 1}, "statuses": {"500": 1},
         "unretryable_5xx": 1},
    ]
    everything = http_figures(seconds)
    assert everything == {"requests": 27, "failed_requests": 6,
                          "codes": {"0": 2, "429": 1, "500": 1, "503": 5},
                          "http_5xx": 1, "retryable_503": 5}
    first_two = http_figures(seconds, 0, 2)
    assert first_two["http_5xx"] == 0 and first_two["failed_requests"] == 5
