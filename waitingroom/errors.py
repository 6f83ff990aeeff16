"""One error type for the waiting room, with codes that never change.

The code is the contract with clients; the message is for people. The HTTP
layer maps codes to statuses (`HTTP_STATUS`) and renders
`{"error": {"code", "message", "details"}}`; `rate_limited` carries
`details["retry_after"]` (whole seconds) for the Retry-After header.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    NOT_ADMITTED = "not_admitted"
    QUEUE_CLOSED = "queue_closed"
    RATE_LIMITED = "rate_limited"
    INVALID_TICKET = "invalid_ticket"
    POW_REQUIRED = "pow_required"
    POW_INVALID = "pow_invalid"
    INVALID_CONFIG = "invalid_config"
    ROOM_NOT_FOUND = "room_not_found"
    NOT_WAITING = "not_waiting"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_ADMITTED: 403,
    ErrorCode.QUEUE_CLOSED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INVALID_TICKET: 404,
    ErrorCode.POW_REQUIRED: 403,
    ErrorCode.POW_INVALID: 400,
    ErrorCode.INVALID_CONFIG: 400,
    ErrorCode.ROOM_NOT_FOUND: 404,
    ErrorCode.NOT_WAITING: 409,
}


class WaitingRoomError(Exception):
    """A waiting-room request refused. Nothing has changed when it is raised."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


def not_admitted(
    reason: str, message: str = "an admission token for this event is required"
) -> WaitingRoomError:
    """`reason` tells support why (missing, invalid, expired, wrong_event, session_ended)."""
    return WaitingRoomError(ErrorCode.NOT_ADMITTED, message, {"reason": reason})
