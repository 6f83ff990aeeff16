"""Per-event waiting-room configuration: what ops set, validated in one place.

Stored as a Redis hash of strings (`to_fields` / `from_fields`) so the Lua
scripts read the fields they need directly, and ops can change it live: every
join, status and controller step reads the stored copy, so a change takes
effect within one controller interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Annotated, Any

from waitingroom.errors import ErrorCode, WaitingRoomError

MAX_POW_DIFFICULTY_BITS = 32


class QueueMode(str, Enum):
    FIFO = "fifo"
    """The pre-queue keeps arrival order."""
    SHUFFLE = "shuffle"
    """The pre-queue gets a random (seeded) order at sale start; later arrivals queue behind."""


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """What ops set for one event's room. Field bounds ride on the types as JSON Schema
    keywords (the ops API documents the fields from here); `__post_init__` enforces them."""

    opens_at: float
    """Joining earlier is refused (`queue_closed`); until sale start fans join the pre-queue."""
    sale_starts_at: float
    """Admissions begin; in shuffle mode the pre-queue order is drawn at this moment."""
    mode: QueueMode = QueueMode.FIFO
    new_users_per_minute: Annotated[float, {"minimum": 0}] = 600.0
    max_active_users: Annotated[int, {"minimum": 0}] = 1000
    """Admitted sessions alive at once (token not expired, no purchase, not left)."""
    admission_token_ttl_seconds: Annotated[float, {"minimum": 1}] = 900.0
    position_expiry_seconds: Annotated[float, {"minimum": 3}] = 180.0
    """A waiting fan who does not poll for this long loses the place.

    Three minutes: fans far back poll their own place every half of it
    (waitingroom.shared_line), under once a minute; walked-away places are
    skipped for free when the serving position reaches them."""
    paused: bool = False
    pow_difficulty_bits: Annotated[
        int, {"minimum": 0, "maximum": MAX_POW_DIFFICULTY_BITS}] = 0
    """Leading zero bits the join proof-of-work needs; 0 turns it off."""
    join_limit_per_ip_per_minute: Annotated[int, {"minimum": 1}] = 120
    join_limit_per_account_per_minute: Annotated[int, {"minimum": 1}] = 10

    def __post_init__(self) -> None:
        _check(math.isfinite(self.opens_at), "opens_at", "must be a finite epoch time")
        _check(math.isfinite(self.sale_starts_at), "sale_starts_at", "must be a finite epoch time")
        _check(self.opens_at <= self.sale_starts_at, "opens_at", "must not be after sale_starts_at")
        _check(
            math.isfinite(self.new_users_per_minute) and self.new_users_per_minute >= 0,
            "new_users_per_minute",
            "must be zero or more",
        )
        _check(self.max_active_users >= 0, "max_active_users", "must be zero or more")
        _check(
            math.isfinite(self.admission_token_ttl_seconds)
            and self.admission_token_ttl_seconds >= 1,
            "admission_token_ttl_seconds",
            "must be at least 1",
        )
        _check(
            math.isfinite(self.position_expiry_seconds) and self.position_expiry_seconds >= 3,
            "position_expiry_seconds",
            "must be at least 3",
        )
        _check(
            0 <= self.pow_difficulty_bits <= MAX_POW_DIFFICULTY_BITS,
            "pow_difficulty_bits",
            f"must be between 0 and {MAX_POW_DIFFICULTY_BITS}",
        )
        _check(
            self.join_limit_per_ip_per_minute >= 1,
            "join_limit_per_ip_per_minute",
            "must be at least 1",
        )
        _check(
            self.join_limit_per_account_per_minute >= 1,
            "join_limit_per_account_per_minute",
            "must be at least 1",
        )

    @property
    def admissions_per_second(self) -> float:
        return self.new_users_per_minute / 60.0

    def to_fields(self) -> dict[str, str]:
        """The Redis hash form; floats keep full precision, booleans are "1"/"0"."""
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif isinstance(value, Enum):
                out[name] = str(value.value)
            else:
                out[name] = repr(value)
        return out

    @classmethod
    def from_fields(cls, stored: Mapping[str, str]) -> RoomConfig:
        """Read the Redis hash form back; unknown fields are ignored (newer writers)."""
        names = {f.name for f in fields(cls)}
        return cls.from_mapping({k: v for k, v in stored.items() if k in names})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = self.mode.value
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: RoomConfig | None = None) -> RoomConfig:
        """Build from JSON-ish values (numbers or strings), overlaying `base` when given.

        This is what an ops PATCH uses: unknown or malformed fields raise
        `invalid_config` with `details["field"]`.
        """
        names = {f.name for f in fields(cls)}
        for name in data:
            if name not in names:
                raise WaitingRoomError(
                    ErrorCode.INVALID_CONFIG, f"unknown field {name}", {"field": name}
                )
        values = {name: _coerce(name, raw) for name, raw in data.items()}
        if base is not None:
            return replace(base, **values)
        for required in ("opens_at", "sale_starts_at"):
            if required not in values:
                raise WaitingRoomError(
                    ErrorCode.INVALID_CONFIG, f"{required} is required", {"field": required}
                )
        return cls(**values)


_FLOAT_FIELDS = {
    "opens_at",
    "sale_starts_at",
    "new_users_per_minute",
    "admission_token_ttl_seconds",
    "position_expiry_seconds",
}
_INT_FIELDS = {
    "max_active_users",
    "pow_difficulty_bits",
    "join_limit_per_ip_per_minute",
    "join_limit_per_account_per_minute",
}


def _coerce(name: str, raw: Any) -> Any:
    try:
        if name in _FLOAT_FIELDS:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if name in _INT_FIELDS:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if name == "paused":
            if isinstance(raw, bool):
                return raw
            if raw in ("1", "true", 1):
                return True
            if raw in ("0", "false", 0):
                return False
            raise ValueError
        if name == "mode":
            return QueueMode(raw)
    except (TypeError, ValueError):
        raise WaitingRoomError(
            ErrorCode.INVALID_CONFIG, f"{name} has an invalid value", {"field": name}
        ) from None
    raise AssertionError(f"unhandled config field {name}")


def _check(ok: bool, field: str, reason: str) -> None:
    if not ok:
        raise WaitingRoomError(ErrorCode.INVALID_CONFIG, f"{field} {reason}", {"field": field})
