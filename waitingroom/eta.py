"""What a waiting fan is told: people ahead, estimated wait, when to poll next.

The poll interval is the main lever on status load: fans far back poll
rarely, fans near the front often, and jitter (seeded, so reproducible)
spreads a crowd that joined in the same second. It never exceeds a third of
the position expiry, so a fan who follows it never loses the place.
"""

from __future__ import annotations

import math

from waitingroom.permutation import mix64

MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 30.0
POLL_FRACTION_OF_WAIT = 0.1
"""Poll about ten times over the expected wait."""
POLL_JITTER_FRACTION = 0.2
"""Each interval is stretched or shrunk by up to this share."""


def people_ahead(place: int, serving_position: int) -> int:
    """Places not yet served in front of `place`, walked-away fans included (skipped fast)."""
    return max(place - serving_position - 1, 0)


def estimated_wait_seconds(
    ahead: int,
    *,
    measured_per_second: float | None,
    configured_per_second: float,
    paused: bool,
    seconds_to_start: float = 0.0,
) -> float | None:
    """Wait until admission at the measured serving rate (the configured one until measured).

    The fan is admitted when `ahead + 1` places have been served. None when no
    honest estimate exists: paused, or no admissions configured. A measured
    rate of zero (stalled at max_active_users) falls back to the configured
    rate: optimistic, but it keeps the front of the line polling briskly.
    """
    if paused:
        return None
    rate = measured_per_second if measured_per_second else configured_per_second
    if rate <= 0:
        return None
    return max(seconds_to_start, 0.0) + (ahead + 1) / rate


def poll_interval_seconds(
    wait_seconds: float | None,
    *,
    position_expiry_seconds: float,
    jitter_seed: int,
) -> float:
    """Suggested delay before the next status poll."""
    ceiling = min(MAX_POLL_SECONDS, position_expiry_seconds / 3.0)
    base = MAX_POLL_SECONDS if wait_seconds is None else wait_seconds * POLL_FRACTION_OF_WAIT
    base = min(max(base, MIN_POLL_SECONDS), ceiling)
    unit = mix64(jitter_seed) / float(1 << 64)
    jittered = base * (1.0 + POLL_JITTER_FRACTION * (2.0 * unit - 1.0))
    interval = min(max(jittered, MIN_POLL_SECONDS * (1 - POLL_JITTER_FRACTION)), ceiling)
    return math.floor(interval * 100) / 100  # hundredths, never rounded up past the ceiling
