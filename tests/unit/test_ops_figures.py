"""Dashboard figures from per-second buckets: windows, quantiles, gaps."""

from __future__ import annotations

import pytest

from api.ops.figures import SecondBucket, point, quantile
from workers.ops_counters import LATENCY_BUCKETS_SECONDS, latency_bucket


def test_latency_buckets_bound_their_values() -> None:
    assert latency_bucket(0.0) == 0
    assert latency_bucket(LATENCY_BUCKETS_SECONDS[0]) == 0
    assert latency_bucket(0.004) == LATENCY_BUCKETS_SECONDS.index(0.005)
    assert latency_bucket(1e9) == len(LATENCY_BUCKETS_SECONDS)


def test_quantile_interpolates_inside_the_bucket() -> None:
    index = LATENCY_BUCKETS_SECONDS.index(0.01)
    lower = LATENCY_BUCKETS_SECONDS[index - 1]
    assert quantile({index: 100}, 0.5) == pytest.approx(lower + (0.01 - lower) / 2)
    assert quantile({}, 0.99) is None
    fast, slow = latency_bucket(0.002), latency_bucket(0.4)
    assert quantile({fast: 98, slow: 2}, 0.5) <= 0.002
    assert 0.3 < quantile({fast: 98, slow: 2}, 0.99) <= 0.5
    assert quantile({len(LATENCY_BUCKETS_SECONDS): 5}, 0.99) == LATENCY_BUCKETS_SECONDS[-1]


def test_parse_splits_counters_and_gauges_and_skips_junk() -> None:
    bucket = SecondBucket.parse(7, {b"decisions": b"12", b"g:waiting": b"40.0", b"bad": b"x"})
    assert bucket.counters == {"decisions": 12}
    assert bucket.gauges == {"waiting": 40.0}


def test_point_rates_use_the_complete_seconds_before_it() -> None:
    at = 1000
    by_second = {
        s: SecondBucket(s, {"decisions": 10, "o:held": 10, f"lat:{latency_bucket(0.003)}": 10,
                            "http": 20, "http_5xx": 1},
                        {"joined": 100.0 + 4 * (s - 990), "admitted": 50.0 + 2 * (s - 980)})
        for s in range(980, at)
    }
    by_second[at] = SecondBucket(at, {"decisions": 999}, {
        "waiting": 7.0, "joined": 140.0, "admitted": 90.0, "rate_setting": 120.0})
    figures = point(by_second, at)
    assert figures["decisions_per_second"] == 10, "the current, incomplete second is left out"
    assert figures["outcomes_per_second"] == {"held": 10}
    assert figures["waiting"] == 7.0 and figures["rate_setting"] == 120.0
    assert figures["joins_per_second"] == pytest.approx(4.0)
    assert figures["admitted_per_minute"] == pytest.approx(120.0)
    assert figures["latency_p99_seconds"] <= 0.003
    assert figures["error_ratio"] == pytest.approx(1 / 20)
    assert figures["http_5xx_per_second"] == pytest.approx(1.0)


def test_point_without_data_has_gaps_not_zeros_for_gauges() -> None:
    figures = point({}, 50)
    assert figures["waiting"] is None and figures["joins_per_second"] is None
    assert figures["decisions_per_second"] == 0 and figures["latency_p99_seconds"] is None
