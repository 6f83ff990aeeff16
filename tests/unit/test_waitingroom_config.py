"""Room configuration: validated with stable codes, stored as strings without loss."""

from __future__ import annotations

import pytest

from waitingroom.config import QueueMode, RoomConfig
from waitingroom.errors import ErrorCode, WaitingRoomError


def make(**changes: object) -> RoomConfig:
    return RoomConfig.from_mapping({"opens_at": 100.0, "sale_starts_at": 200.5, **changes})


def test_redis_fields_round_trip() -> None:
    room = make(
        mode="shuffle",
        new_users_per_minute=123.456,
        max_active_users=77,
        paused=True,
        pow_difficulty_bits=12,
        position_expiry_seconds=45,
    )
    fields = room.to_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert fields["paused"] == "1" and fields["mode"] == "shuffle"
    assert RoomConfig.from_fields(fields) == room


def test_stored_fields_from_a_newer_writer_are_ignored() -> None:
    fields = make().to_fields() | {"some_future_knob": "7"}
    assert RoomConfig.from_fields(fields) == make()


def test_an_ops_change_overlays_the_current_config() -> None:
    current = make(new_users_per_minute=600)
    changed = RoomConfig.from_mapping(
        {"paused": True, "new_users_per_minute": "1200"}, base=current
    )
    assert changed.paused and changed.new_users_per_minute == 1200
    assert changed.sale_starts_at == current.sale_starts_at
    assert changed.mode is QueueMode.FIFO


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opens_at": 300.0}, "opens_at"),
        ({"new_users_per_minute": -1}, "new_users_per_minute"),
        ({"new_users_per_minute": "nan"}, "new_users_per_minute"),
        ({"max_active_users": 2.5}, "max_active_users"),
        ({"max_active_users": -1}, "max_active_users"),
        ({"admission_token_ttl_seconds": 0}, "admission_token_ttl_seconds"),
        ({"position_expiry_seconds": 1}, "position_expiry_seconds"),
        ({"pow_difficulty_bits": 40}, "pow_difficulty_bits"),
        ({"mode": "random"}, "mode"),
        ({"paused": "maybe"}, "paused"),
        ({"join_limit_per_ip_per_minute": 0}, "join_limit_per_ip_per_minute"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_values_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(WaitingRoomError) as caught:
        make(**changes)
    assert caught.value.code is ErrorCode.INVALID_CONFIG
    assert caught.value.details == {"field": field}


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(WaitingRoomError) as caught:
        RoomConfig(opens_at=10, sale_starts_at=5)
    assert caught.value.code is ErrorCode.INVALID_CONFIG


def test_start_times_are_required() -> None:
    with pytest.raises(WaitingRoomError) as caught:
        RoomConfig.from_mapping({"opens_at": 1})
    assert caught.value.details == {"field": "sale_starts_at"}
