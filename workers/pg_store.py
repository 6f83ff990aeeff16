"""The partition consumer's BookingStore, backed by engine/store (Postgres)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy.exc
from sqlalchemy import Connection, Engine, text

from engine.events import Event
from engine.pricing import EventSetup
from engine.state import InventoryState, PresaleLock
from engine.store.errors import InventoryConflictError, NotFoundError, StaleFenceError
from engine.store.repository import (
    Fence,
    InventoryRepository,
    PreparedBatch,
    RequestOutcome,
    prepare_batch,
    write_prepared,
)
from workers.booking_requests import BookingRequest
from workers.decider import Outcome, rejected
from workers.ports import StaleFence, StoreConflict, StoreUnavailable

_UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                sqlalchemy.exc.TimeoutError)
PRESALE_SETTLE_SECONDS = 30.0
"""A presale this old has had its `lock_tiers` request decided unless the request was lost
(Redis, or a full queue when it was created): the consumer's sweep then locks its tiers."""


class PostgresBookingStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._repository = InventoryRepository(engine)
        self._writer: Connection | None = None
        """Kept for batch commits (one consumer, one commit at a time): no pool checkout
        and no pre-ping round trip per batch. Dropped when Postgres fails under it."""

    def load_event(self, event_id: int) -> tuple[EventSetup, InventoryState] | None:
        return self._load(event_id, on_sale=True)

    def load_ended_event(self, event_id: int) -> tuple[EventSetup, InventoryState] | None:
        return self._load(event_id, on_sale=False)

    def _load(self, event_id: int, on_sale: bool) -> tuple[EventSetup, InventoryState] | None:
        try:
            with self._engine.connect() as conn:
                status = conn.execute(text("SELECT status FROM events WHERE id = :id"),
                                      {"id": event_id}).scalar()
            if status is None or (on_sale and status != "published"):
                return None
            return self._repository.load(event_id)
        except NotFoundError:
            return None
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error

    def fence_floor(self, partition: str) -> int:
        try:
            with self._engine.connect() as conn:
                token = conn.execute(text("SELECT fencing_token FROM partition_fences"
                                          " WHERE partition = :p"), {"p": partition}).scalar()
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error
        return int(token or 0)

    def claim_fence(self, partition: str, token: int) -> None:
        try:
            self._repository.advance_fence(Fence(partition, token))
        except StaleFenceError as error:
            raise StaleFence(str(error)) from error
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error

    def prepare_batch(self, partition: str, token: int, events_by_event: dict[int, list[Event]],
                      outcomes: Sequence[Outcome]) -> PreparedBatch | None:
        # Rejections are not stored as outcomes (they change nothing); their record is the
        # inventory log row and the status published in Redis. A crash before that
        # publication re-runs them, and `decided` answers them from the log.
        records = [RequestOutcome(o.request_id, o.event_id, o.buyer_id, o.kind, o.status,
                                  {"status": o.status, "result": o.result,
                                   "decided_at": o.decided_at})
                   for o in outcomes if o.status != "rejected"]
        if not records and not any(events_by_event.values()):
            # Nothing to write (no engine event, not even a logged rejection; no outcome):
            # no transaction. The publish that follows runs only while our lease holds.
            return None
        return prepare_batch(events_by_event, fence=Fence(partition, token),
                             request_outcomes=records)

    def commit_prepared(self, prepared: PreparedBatch | None) -> None:
        if prepared is None:
            return
        try:
            if self._writer is None:
                self._writer = self._engine.connect()
            write_prepared(self._writer, prepared)
        except StaleFenceError as error:
            raise StaleFence(str(error)) from error
        except (InventoryConflictError, sqlalchemy.exc.IntegrityError) as error:
            raise StoreConflict(str(error)) from error
        except _UNAVAILABLE as error:
            self._drop_writer()
            raise StoreUnavailable(str(error)) from error

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.invalidate()
                writer.close()
            except sqlalchemy.exc.SQLAlchemyError:
                pass

    def decided(self, requests: Sequence[BookingRequest]) -> dict[str, Outcome]:
        by_id = {request.request_id: request for request in requests}
        try:
            stored = self._repository.already_decided_outcomes(by_id)
            found = {
                row.request_id: Outcome(row.request_id, row.event_id, row.buyer_id, row.kind,
                                        row.status, dict(row.outcome.get("result") or {}),
                                        float(row.outcome.get("decided_at") or 0.0))
                for row in stored
            }
            rest = [request for request in requests if request.request_id not in found]
            logged = self._repository.logged_rejections(
                (request.event_id for request in rest), (request.request_id for request in rest))
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error
        for request_id, (code, message, logged_at) in logged.items():
            try:
                found[request_id] = rejected(by_id[request_id], code, message, logged_at)
            except ValueError:  # a code this version does not know: decide it again
                continue
        return found

    def events_with_live_holds(self) -> list[int]:
        try:
            with self._engine.connect() as conn:
                return [int(e) for e in conn.execute(text(
                    "SELECT DISTINCT event_id FROM holds WHERE status = 'active'")).scalars()]
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error

    def ended_sales(self, event_ids: Sequence[int]) -> dict[int, str]:
        if not event_ids:
            return {}
        try:
            with self._engine.connect() as conn:
                statuses: dict[int, str] = {int(e): s for e, s in conn.execute(text(
                    "SELECT id, status FROM events WHERE id = ANY(CAST(:ids AS bigint[]))"),
                    {"ids": list(event_ids)}).all()}
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error
        return {event_id: statuses.get(event_id, "gone") for event_id in event_ids
                if statuses.get(event_id) != "published"}

    def settled_presales(self, event_ids: Sequence[int]) -> dict[int, list[PresaleLock]]:
        if not event_ids:
            return {}
        found: dict[int, list[PresaleLock]] = {}
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT event_id, id, tier_codes, extract(epoch FROM starts_at),"
                    " extract(epoch FROM ends_at) FROM presales"
                    " WHERE event_id = ANY(CAST(:ids AS bigint[]))"
                    " AND cardinality(tier_codes) > 0"
                    " AND created_at < now() - make_interval(secs => :settle)"
                    " ORDER BY id"),
                    {"ids": list(event_ids), "settle": PRESALE_SETTLE_SECONDS}).all()
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error
        for event_id, presale_id, tier_codes, starts_at, ends_at in rows:
            found.setdefault(int(event_id), []).append(PresaleLock(
                int(presale_id), tuple(tier_codes), float(starts_at), float(ends_at)))
        return found

    def cancelled_with_sales(self) -> list[int]:
        try:
            with self._engine.connect() as conn:
                return [int(e) for e in conn.execute(text(
                    "SELECT e.id FROM events e WHERE e.status = 'cancelled' AND EXISTS"
                    " (SELECT 1 FROM orders o WHERE o.event_id = e.id AND o.status = 'paid')"
                    " ORDER BY e.id")).scalars()]
        except _UNAVAILABLE as error:
            raise StoreUnavailable(str(error)) from error
