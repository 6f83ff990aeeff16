"""Fans far back follow the shared line document; only fans near the front ask about their place.

The line summary (`GET /events/{id}/queue`: serving position, admission rate,
paused) is the same for every fan and cacheable for a second, so a CDN or a
caching proxy answers it and the origin sees about one request per second per
cache, however long the line. A fan knows their own position from joining, so
they compute people ahead and the wait from the summary themselves and ask the
origin about their own place (the status poll, which also keeps the place) only

- when near the front: the serving position plus a margin of `NEAR_FRONT_SECONDS`
  of admissions (at least `NEAR_FRONT_MIN_PLACES` places) has reached them, from
  then on at the interval the status poll suggests; or
- to stay in line: once every `keepalive_seconds(position_expiry)`, half the
  position expiry, so one late poll never costs the place.

The shared document is read often enough that the serving position cannot pass
the margin between two reads (`shared_poll_seconds` is at most a quarter of the
margin's time), so nobody is admitted unseen; a fan who closes the page stops
both polls and is skipped once the position expiry has passed, as before.

This is the rule the waiting page (api/fan/static/waitingroom/waiting.js) and the
Locust waiting fan follow; `loadtests/bench_scaling.py` drives it for 100,000 fans.
"""

from __future__ import annotations

import math

from waitingroom.eta import estimated_wait_seconds, people_ahead

NEAR_FRONT_SECONDS = 30.0
"""Own-place polls start this many seconds of admissions before the fan's turn."""
NEAR_FRONT_MIN_PLACES = 50
"""...and never later than this many places before it (slow or unmeasured rates)."""
MIN_SHARED_POLL_SECONDS = 1.0
"""The summary is cached for a second: reading it faster shows nothing new."""
MAX_SHARED_POLL_SECONDS = 5.0
"""Far back, the figures on the page still move every few seconds."""
KEEPALIVE_FRACTION_OF_EXPIRY = 0.5


def near_front_margin(rate_per_second: float | None) -> int:
    """Places before their turn at which a fan starts asking the origin about their own place."""
    rate = rate_per_second if rate_per_second and rate_per_second > 0 else 0.0
    return max(NEAR_FRONT_MIN_PLACES, math.ceil(rate * NEAR_FRONT_SECONDS))


def is_near_front(position: int, serving_position: int, rate_per_second: float | None) -> bool:
    """Whether the serving position plus the margin has reached the fan's position."""
    return serving_position + near_front_margin(rate_per_second) >= position


def keepalive_seconds(position_expiry_seconds: float) -> float:
    """Longest gap between own-place polls of a fan far back: half the position expiry."""
    return position_expiry_seconds * KEEPALIVE_FRACTION_OF_EXPIRY


def shared_poll_seconds(rate_per_second: float | None) -> float:
    """Delay before the next read of the shared document.

    At most a quarter of the time the serving position needs to cross the
    near-front margin, so a fan always notices the margin reaching them.
    """
    rate = rate_per_second if rate_per_second and rate_per_second > 0 else 0.0
    if rate == 0.0:
        return MAX_SHARED_POLL_SECONDS
    crossing = near_front_margin(rate) / rate
    return max(MIN_SHARED_POLL_SECONDS, min(MAX_SHARED_POLL_SECONDS, crossing / 4.0))


def own_poll_due(
    position: int,
    serving_position: int,
    rate_per_second: float | None,
    *,
    seconds_since_own_poll: float,
    position_expiry_seconds: float,
) -> bool:
    """Whether the fan should ask the origin about their own place now."""
    return is_near_front(position, serving_position, rate_per_second) or (
        seconds_since_own_poll >= keepalive_seconds(position_expiry_seconds)
    )


def wait_from_summary(
    position: int,
    serving_position: int,
    *,
    measured_per_second: float | None,
    configured_per_second: float,
    paused: bool,
) -> float | None:
    """The ETA a fan far back computes from the shared document, as the status poll would."""
    return estimated_wait_seconds(
        people_ahead(position, serving_position),
        measured_per_second=measured_per_second,
        configured_per_second=configured_per_second,
        paused=paused,
    )
