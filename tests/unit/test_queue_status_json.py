"""The status poll's hand-written JSON body is byte for byte what `json.dumps` would write."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from api.fan.queue_status_json import status_json
from waitingroom.status import FanState, QueueStatus

places = st.none() | st.integers(min_value=0, max_value=10**12)
seconds = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**6)
token = st.none() | st.text(max_size=40) | st.from_regex(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+")

statuses = st.builds(
    QueueStatus,
    event_id=st.integers(min_value=1, max_value=10**18),
    state=st.sampled_from(FanState),
    position=places,
    people_ahead=places,
    serving_position=st.integers(min_value=0, max_value=10**12),
    estimated_wait_seconds=seconds,
    poll_after_seconds=seconds,
    in_prequeue=st.booleans(),
    paused=st.booleans(),
    sale_starts_at=st.floats(allow_nan=False) | st.integers(0, 2 * 10**9),
    position_expiry_seconds=st.floats(min_value=3, max_value=1e9) | st.integers(3, 10**6),
    admission_token=token,
    admission_expires_at=seconds,
)


@given(statuses)
def test_status_body_is_exactly_json_dumps_of_the_status(status: QueueStatus) -> None:
    assert status_json(status) == json.dumps(status.to_json()).encode()
