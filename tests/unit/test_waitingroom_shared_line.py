"""The near-front rule: who asks the origin about their own place, and when."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from waitingroom.config import RoomConfig
from waitingroom.eta import estimated_wait_seconds, people_ahead
from waitingroom.shared_line import (
    is_near_front,
    keepalive_seconds,
    near_front_margin,
    own_poll_due,
    shared_poll_seconds,
    wait_from_summary,
)

rates = st.one_of(st.none(), st.floats(min_value=0.0, max_value=100_000.0))
positions = st.integers(min_value=1, max_value=10_000_000)
expiries = st.floats(min_value=3.0, max_value=86_400.0)


@given(positions, st.integers(min_value=0, max_value=10_000_000), rates,
       st.integers(min_value=0, max_value=1_000_000))
def test_once_near_the_front_a_fan_stays_near_it(position: int, serving: int,
                                                 rate: float | None, advance: int) -> None:
    if is_near_front(position, serving, rate):
        assert is_near_front(position, serving + advance, rate), "serving only moves forward"


@given(positions, rates)
def test_a_fan_whose_turn_has_come_is_near_the_front(position: int, rate: float | None) -> None:
    assert is_near_front(position, position - 1, rate)
    assert is_near_front(position, position, rate)


@given(rates)
def test_the_margin_cannot_be_crossed_between_two_reads_of_the_summary(rate: float | None) -> None:
    interval = shared_poll_seconds(rate)
    assert 1.0 <= interval <= 5.0
    if rate:
        assert rate * interval <= near_front_margin(rate), "admitted unseen between two reads"


@given(positions, st.integers(min_value=0, max_value=10_000_000), rates, expiries)
def test_a_fan_far_back_keeps_the_place_with_polls_well_inside_the_expiry(
    position: int, serving: int, rate: float | None, expiry: float
) -> None:
    keepalive = keepalive_seconds(expiry)
    assert keepalive < expiry
    assert own_poll_due(position, serving, rate, seconds_since_own_poll=keepalive,
                        position_expiry_seconds=expiry)
    if not is_near_front(position, serving, rate):
        assert not own_poll_due(position, serving, rate, seconds_since_own_poll=keepalive / 2,
                                position_expiry_seconds=expiry)


def test_with_the_default_expiry_a_fan_far_back_asks_at_most_once_a_minute() -> None:
    expiry = RoomConfig(opens_at=0, sale_starts_at=0).position_expiry_seconds
    assert keepalive_seconds(expiry) >= 60


@given(positions, st.integers(min_value=0, max_value=10_000_000),
       st.one_of(st.none(), st.floats(min_value=0.001, max_value=10_000.0)),
       st.floats(min_value=0.0, max_value=10_000.0), st.booleans())
def test_the_eta_from_the_summary_is_the_status_polls_eta(
    position: int, serving: int, measured: float | None, configured: float, paused: bool
) -> None:
    assert wait_from_summary(position, serving, measured_per_second=measured,
                             configured_per_second=configured, paused=paused) == (
        estimated_wait_seconds(people_ahead(position, serving), measured_per_second=measured,
                               configured_per_second=configured, paused=paused)
    )
