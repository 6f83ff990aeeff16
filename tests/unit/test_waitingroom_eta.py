"""What a waiting fan is told: people ahead, an honest ETA, a poll interval that keeps the place."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from waitingroom.eta import (
    MAX_POLL_SECONDS,
    estimated_wait_seconds,
    people_ahead,
    poll_interval_seconds,
)


def test_people_ahead_counts_unserved_places_in_front() -> None:
    assert people_ahead(place=10, serving_position=4) == 5
    assert people_ahead(place=5, serving_position=4) == 0
    assert people_ahead(place=3, serving_position=4) == 0


def test_wait_uses_the_measured_rate_once_known() -> None:
    assert (
        estimated_wait_seconds(99, measured_per_second=5, configured_per_second=10, paused=False)
        == 20
    )
    assert (
        estimated_wait_seconds(99, measured_per_second=None, configured_per_second=10, paused=False)
        == 10
    )


def test_wait_adds_the_time_to_sale_start() -> None:
    wait = estimated_wait_seconds(
        9, measured_per_second=None, configured_per_second=1, paused=False, seconds_to_start=50
    )
    assert wait == 60


def test_no_estimate_while_paused_or_without_admissions() -> None:
    assert (
        estimated_wait_seconds(5, measured_per_second=3, configured_per_second=3, paused=True)
        is None
    )
    assert (
        estimated_wait_seconds(5, measured_per_second=None, configured_per_second=0, paused=False)
        is None
    )


@given(ahead=st.integers(0, 10**6), more=st.integers(1, 10**6), rate=st.floats(0.01, 10_000))
def test_wait_grows_with_the_line(ahead: int, more: int, rate: float) -> None:
    near = estimated_wait_seconds(
        ahead, measured_per_second=rate, configured_per_second=1, paused=False
    )
    far = estimated_wait_seconds(
        ahead + more, measured_per_second=rate, configured_per_second=1, paused=False
    )
    assert near is not None and far is not None and near < far


@given(
    wait=st.one_of(st.none(), st.floats(0, 10**7)),
    expiry=st.floats(3, 3600),
    seed=st.integers(0, 2**62),
)
def test_following_the_poll_interval_never_loses_the_place(
    wait: float | None, expiry: float, seed: int
) -> None:
    interval = poll_interval_seconds(wait, position_expiry_seconds=expiry, jitter_seed=seed)
    assert 0 < interval <= min(MAX_POLL_SECONDS, expiry / 3)


def test_front_of_the_line_polls_often_and_the_back_rarely() -> None:
    near = [
        poll_interval_seconds(3, position_expiry_seconds=300, jitter_seed=s) for s in range(200)
    ]
    far = [
        poll_interval_seconds(3600, position_expiry_seconds=300, jitter_seed=s) for s in range(200)
    ]
    assert max(near) <= 1.2
    assert min(far) >= 0.8 * MAX_POLL_SECONDS


def test_jitter_is_seeded_and_spreads_a_crowd() -> None:
    intervals = [
        poll_interval_seconds(100, position_expiry_seconds=300, jitter_seed=s) for s in range(100)
    ]
    again = [
        poll_interval_seconds(100, position_expiry_seconds=300, jitter_seed=s) for s in range(100)
    ]
    assert intervals == again
    assert len(set(intervals)) > 50
    assert all(8 <= i <= 12 for i in intervals)
