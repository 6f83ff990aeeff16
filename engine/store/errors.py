"""Errors of the durable store. Each one means the whole transaction was rolled back."""

from __future__ import annotations


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
