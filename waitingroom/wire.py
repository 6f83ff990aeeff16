"""Small conversions at the Redis boundary, shared by the room and the controller.

Replies are bytes or str depending on the client's decode_responses; both work.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def text_map(stored: Mapping[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in stored.items()}


def pairs(flat: Sequence[Any]) -> dict[str, str]:
    """An HGETALL made inside Lua arrives as a flat [field, value, ...] list."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}


def time_text(now: float) -> str:
    """Epoch seconds as the scripts store them (millisecond precision)."""
    return f"{now:.3f}"


def fresh_seed() -> str:
    """A shuffle seed, used only by the call that happens to start the sale."""
    return str(secrets.randbits(63))
