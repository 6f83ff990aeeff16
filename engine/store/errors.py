"""Errors of the durable store. Each one means the whole transaction was rolled back."""

from __future__ import annotations

from enum import Enum
from typing import Any


class StoreError(Exception):
    """Base of the store's own errors (constraint hits surface as sqlalchemy IntegrityError)."""


class StaleFenceError(StoreError):
    """A newer lease holder has written for this partition: this worker must stop writing."""

    def __init__(self, partition: str, token: int, newest_token: int | None = None) -> None:
        super().__init__(f"partition {partition!r}: fencing token {token} is stale"
                         + (f" (newest is {newest_token})" if newest_token is not None else ""))
        self.partition = partition
        self.token = token
        self.newest_token = newest_token


class InventoryConflictError(StoreError):
    """A batch does not fit the stored inventory (e.g. releasing a hold that is not active).

    The engine and Postgres disagree; the worker should reload from the store.
    """


class NotFoundError(StoreError):
    """The event (or venue) asked for does not exist."""


class OrganizingCode(str, Enum):
    """Why the organizer backoffice refused a change (the code clients see)."""

    INVALID_REQUEST = "invalid_request"
    FORBIDDEN = "forbidden"
    EVENT_NOT_FOUND = "event_not_found"
    VENUE_NOT_FOUND = "venue_not_found"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_LOCKED = "event_locked"
    EVENT_IN_PAST = "event_in_past"
    EVENT_NOT_PUBLISHED = "event_not_published"


class OrganizingError(Exception):
    """A venue or event change refused by its rules; nothing was written."""

    def __init__(self, code: OrganizingCode, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
