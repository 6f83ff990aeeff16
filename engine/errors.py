"""One error type for the booking domain, with codes that never change.

The code is the contract with clients (the API maps it to HTTP and to
`{"error": {"code", "message", "details"}}`); the message is for people.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    SEATS_TAKEN = "seats_taken"
    SOLD_OUT = "sold_out"
    LIMIT_EXCEEDED = "limit_exceeded"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_EXPIRED = "hold_expired"
    ORDER_NOT_FOUND = "order_not_found"
    INVALID_REQUEST = "invalid_request"
    TIER_LOCKED = "tier_locked"
    """Seats of a price tier that a presale unlocks, asked for by a buyer not let into it."""


class BookingError(Exception):
    """A command the inventory refuses. Nothing has changed when it is raised."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
