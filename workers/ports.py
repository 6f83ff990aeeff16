"""What the partition consumer needs from the outside world, as small interfaces.

The real implementations are Postgres (engine/store) and Redis (workers/);
unit tests use fakes of these ports, never mocks of Redis or SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine.events import Event
from engine.pricing import EventSetup
from engine.state import InventoryState, PresaleLock
from workers.booking_requests import BookingRequest
from workers.decider import Outcome


class StaleFence(Exception):
    """Postgres has seen a newer fencing token for this partition: the writer is a zombie."""


class StoreUnavailable(Exception):
    """Postgres did not answer; the batch is intact and will be retried."""


class StoreConflict(Exception):
    """Postgres refused the batch (a constraint or a stale row): memory and store disagree."""


class BookingStore(Protocol):
    def load_event(self, event_id: int) -> tuple[EventSetup, InventoryState] | None:
        """The event's setup and current inventory, or None if it is not on sale."""

    def load_ended_event(self, event_id: int) -> tuple[EventSetup, InventoryState] | None:
        """The same for an event whose sale ended (to release its holds); None if it does
        not exist."""

    def fence_floor(self, partition: str) -> int:
        """The newest fencing token Postgres has accepted for the partition (0 if none)."""

    def claim_fence(self, partition: str, token: int) -> None:
        """Record a new holder's token before it loads, so older holders can no longer commit.

        Raises StaleFence if Postgres already accepted a newer token."""

    def prepare_batch(self, partition: str, token: int,
                      events_by_event: dict[int, list[Event]],
                      outcomes: Sequence[Outcome]) -> object:
        """The writes of a decided batch, built without touching the store, so the consumer
        builds a batch's writes while the batch before it commits. None (or any value
        `commit_prepared` accepts) for a batch with nothing to write (no event, no outcome):
        it may skip the transaction, the publish step's lease check fences it."""

    def commit_prepared(self, prepared: Any) -> None:
        """Persist a prepared batch in ONE transaction, after checking the fencing token.

        Raises StaleFence (nothing written) or StoreUnavailable (nothing written)."""

    def decided(self, requests: Sequence[BookingRequest]) -> dict[str, Outcome]:
        """Outcomes already persisted for any of these requests (re-run after a crash): stored
        outcomes, and rejections found in the inventory log (logged, not stored)."""

    def events_with_live_holds(self) -> list[int]:
        """Events that have holds which may need expiring."""

    def ended_sales(self, event_ids: Sequence[int]) -> dict[int, str]:
        """Of these events, those no longer on sale, with their status (`cancelled`,
        `draft`, or `gone` when the event no longer exists)."""

    def cancelled_with_sales(self) -> list[int]:
        """Cancelled events that still have paid orders: sales to refund."""

    def settled_presales(self, event_ids: Sequence[int]) -> dict[int, list[PresaleLock]]:
        """Presales of these events that lock tiers and were created long enough ago that
        their `lock_tiers` request should have been decided (a lost one is made up for)."""
