"""Load an event's inventory from Postgres and persist a decided batch in one transaction.

The partition consumer is the only writer of an event's inventory. It loads
once at lease acquisition, then for each batch calls `persist_batch`, which
checks its fencing token, applies the engine's events to the materialized
tables (where the constraints guard the invariants), appends them to the
inventory log and records the request outcomes, all or nothing.

Every write is one set-based statement fed a JSON array (`jsonb_to_recordset`),
so a batch of a few hundred events costs about a dozen round trips.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from engine.events import Event
from engine.pricing import EventSetup, PriceTier
from engine.state import HoldRecord, InventoryState, PresaleLock, SaleRecord
from engine.store.batch import BatchPlan, Step, plan_batch
from engine.store.errors import NotFoundError, StaleFenceError, StoreError
from engine.store.pipelined import Slot, Writes
from engine.venue import GaZone, Row, Seat, Section, Venue


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease holder's fencing token for a partition; tokens only grow."""

    partition: str
    token: int


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """What became of one booking request, stored with the batch that decided it."""

    request_id: str
    event_id: int
    buyer_id: int
    kind: str
    status: str
    outcome: dict[str, Any]


def _json(rows: Any) -> str:
    return json.dumps(rows, separators=(",", ":"))


def _recordset(columns: str) -> str:
    return f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({columns})"


_ADVANCE_FENCE = text("""
    INSERT INTO partition_fences (partition, fencing_token) VALUES (:partition, :token)
    ON CONFLICT (partition) DO UPDATE
        SET fencing_token = EXCLUDED.fencing_token, updated_at = now()
        WHERE partition_fences.fencing_token <= EXCLUDED.fencing_token
    RETURNING fencing_token""")
_NEWEST_FENCE = text("SELECT fencing_token FROM partition_fences WHERE partition = :partition")
_BUMP_VERSION = text("""
    UPDATE events SET inventory_version = inventory_version + :changes
    WHERE id = :event_id RETURNING inventory_version""")

_RELEASE_CLAIMS = text(f"""
    DELETE FROM seat_claims c USING {_recordset("seat_id bigint, hold_id text")}
    WHERE c.event_id = :event_id AND c.seat_id = r.seat_id AND c.hold_id = r.hold_id
      AND c.state = 'held'""")
_REFUND_CLAIMS = text(f"""
    DELETE FROM seat_claims c USING {_recordset("seat_id bigint, order_id text")}
    WHERE c.event_id = :event_id AND c.seat_id = r.seat_id AND c.order_id = r.order_id
      AND c.state = 'sold'""")
_UNBLOCK_CLAIMS = text("""
    DELETE FROM seat_claims
    WHERE event_id = :event_id AND seat_id = ANY(CAST(:seat_ids AS bigint[]))
      AND state = 'blocked'""")
_INSERT_HOLDS = text(f"""
    INSERT INTO holds (hold_id, event_id, request_id, buyer_id, status, seat_ids, prices_cents,
                       zone_id, quantity, total_cents, expires_at)
    SELECT r.hold_id, :event_id, r.request_id, r.buyer_id, 'active', r.seat_ids,
           r.prices_cents, r.zone_id, r.quantity, r.total_cents, to_timestamp(r.expires_at)
    FROM {_recordset("hold_id text, request_id text, buyer_id bigint, seat_ids bigint[], "
                     "prices_cents integer[], zone_id bigint, quantity integer, "
                     "total_cents bigint, expires_at double precision")}""")
_INSERT_CLAIMS = text(f"""
    INSERT INTO seat_claims (event_id, seat_id, state, hold_id, price_cents)
    SELECT :event_id, r.seat_id, r.state, r.hold_id, r.price_cents
    FROM {_recordset("seat_id bigint, state text, hold_id text, price_cents integer")}""")
_UPSERT_PAID_ORDERS = text(f"""
    INSERT INTO orders (order_id, event_id, buyer_id, hold_id, status, total_cents, zone_id,
                        quantity, paid_at)
    SELECT r.order_id, :event_id, r.buyer_id, r.hold_id, 'paid', r.total_cents, r.zone_id,
           r.quantity, now()
    FROM {_recordset("order_id text, hold_id text, buyer_id bigint, total_cents bigint, "
                     "zone_id bigint, quantity integer")}
    ON CONFLICT (order_id) DO UPDATE
        SET status = 'paid', paid_at = now(), updated_at = now(),
            total_cents = EXCLUDED.total_cents, zone_id = EXCLUDED.zone_id,
            quantity = EXCLUDED.quantity
        WHERE orders.status = 'pending' AND orders.hold_id = EXCLUDED.hold_id
          AND orders.event_id = EXCLUDED.event_id AND orders.buyer_id = EXCLUDED.buyer_id""")
_SELL_CLAIMS = text(f"""
    UPDATE seat_claims c SET state = 'sold', order_id = r.order_id
    FROM {_recordset("seat_id bigint, hold_id text, order_id text")}
    WHERE c.event_id = :event_id AND c.seat_id = r.seat_id AND c.hold_id = r.hold_id
      AND c.state = 'held'""")
_ORDER_LINES = text(f"""
    INSERT INTO order_lines (order_id, line_no, seat_id, zone_id, quantity, price_cents)
    SELECT r.order_id, s.line_no::integer, s.seat_id, NULL, 1, c.price_cents
    FROM {_recordset("order_id text, seat_ids bigint[]")}
    CROSS JOIN LATERAL unnest(r.seat_ids) WITH ORDINALITY AS s(seat_id, line_no)
    JOIN seat_claims c ON c.event_id = :event_id AND c.seat_id = s.seat_id
                      AND c.order_id = r.order_id
    UNION ALL
    SELECT g.order_id, 1, NULL, g.zone_id, g.quantity, g.total_cents
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS g(order_id text, zone_id bigint, quantity integer, total_cents bigint)
    WHERE g.zone_id IS NOT NULL
    ON CONFLICT (order_id, line_no) DO UPDATE
        SET seat_id = EXCLUDED.seat_id, zone_id = EXCLUDED.zone_id,
            quantity = EXCLUDED.quantity, price_cents = EXCLUDED.price_cents""")
_CLOSE_HOLDS = text(f"""
    UPDATE holds h SET status = r.status, updated_at = now()
    FROM {_recordset("hold_id text, status text")}
    WHERE h.hold_id = r.hold_id AND h.event_id = :event_id AND h.status = 'active'""")
_REFUND_ORDERS = text("""
    UPDATE orders SET status = 'refunded', refunded_at = now(), updated_at = now()
    WHERE event_id = :event_id AND order_id = ANY(CAST(:order_ids AS text[]))
      AND status = 'paid'""")
_VOID_TICKETS = text("""
    UPDATE tickets SET status = 'void'
    WHERE order_id = ANY(CAST(:order_ids AS text[])) AND status <> 'void'""")
_ZONE_DELTAS = text(f"""
    UPDATE ga_inventory g SET held = g.held + r.held, sold = g.sold + r.sold
    FROM {_recordset("zone_id bigint, held integer, sold integer")}
    WHERE g.event_id = :event_id AND g.zone_id = r.zone_id""")
_BUYERS_GAIN = text(f"""
    INSERT INTO buyer_tickets (event_id, buyer_id, tickets, ticket_limit)
    SELECT :event_id, r.buyer_id, r.tickets, e.buyer_limit
    FROM {_recordset("buyer_id bigint, tickets integer")}
    JOIN events e ON e.id = :event_id
    ON CONFLICT (event_id, buyer_id) DO UPDATE
        SET tickets = buyer_tickets.tickets + EXCLUDED.tickets""")
_BUYERS_LOSE = text(f"""
    UPDATE buyer_tickets b SET tickets = b.tickets + r.tickets
    FROM {_recordset("buyer_id bigint, tickets integer")}
    WHERE b.event_id = :event_id AND b.buyer_id = r.buyer_id""")
# Joined to its event (not a scalar subquery): for an event that does not exist it writes
# nothing, and the version bump's row count reports the missing event (NotFoundError)
# instead of a NULL version failing the insert.
_APPEND_LOG = text(f"""
    INSERT INTO inventory_events (event_id, inventory_version, type, payload)
    SELECT e.id, e.inventory_version - :changes + r.version_offset, r.type, r.payload
    FROM events e,
         {_recordset("position integer, version_offset bigint, type text, payload jsonb")}
    WHERE e.id = :event_id
    ORDER BY r.position""")
_RECORD_OUTCOMES = text(f"""
    INSERT INTO booking_requests (request_id, event_id, buyer_id, kind, status, outcome,
                                  decided_at)
    SELECT r.request_id, r.event_id, r.buyer_id, r.kind, r.status, r.outcome, now()
    FROM {_recordset("request_id text, event_id bigint, buyer_id bigint, kind text, "
                     "status text, outcome jsonb")}
    ON CONFLICT (request_id) DO UPDATE
        SET status = EXCLUDED.status, outcome = EXCLUDED.outcome,
            decided_at = EXCLUDED.decided_at, updated_at = now()""")
_DECIDED = text("""
    SELECT request_id, event_id, buyer_id, kind, status, outcome FROM booking_requests
    WHERE request_id = ANY(CAST(:request_ids AS text[])) AND outcome IS NOT NULL""")
_LOGGED_REJECTIONS = text("""
    SELECT payload->>'request_id', payload->>'code', payload->>'message',
           extract(epoch FROM created_at)::double precision
    FROM inventory_events
    WHERE event_id = ANY(CAST(:event_ids AS bigint[])) AND type = 'HoldRejected'
      AND payload->>'request_id' = ANY(CAST(:request_ids AS text[]))""")


class InventoryRepository:
    """The partition consumer's window on Postgres for one or more events."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------ reading

    def load(self, event_id: int) -> tuple[EventSetup, InventoryState]:
        """The event's setup (venue, tiers, limits) and its live inventory, from one snapshot."""
        with self._engine.connect().execution_options(
                isolation_level="REPEATABLE READ") as conn, conn.begin():
            event = conn.execute(text(
                "SELECT venue_id, buyer_limit, hold_ttl_seconds, inventory_version"
                " FROM events WHERE id = :event_id"), {"event_id": event_id}).one_or_none()
            if event is None:
                raise NotFoundError(f"event {event_id} does not exist")
            venue_id, buyer_limit, hold_ttl_seconds, version = event
            tiers = tuple(PriceTier(code, name, category, price_cents)
                          for code, name, category, price_cents in conn.execute(text(
                              "SELECT code, name, category, price_cents FROM price_tiers"
                              " WHERE event_id = :event_id ORDER BY code"),
                              {"event_id": event_id}))
            setup = EventSetup(event_id, load_venue(conn, venue_id), tiers,
                               buyer_limit=buyer_limit, hold_ttl_seconds=float(hold_ttl_seconds))
            return setup, _load_state(conn, event_id, version)

    def already_decided(self, request_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Outcomes already stored for these requests, so a re-run batch does not decide twice."""
        return {outcome.request_id: outcome.outcome
                for outcome in self.already_decided_outcomes(request_ids)}

    def already_decided_outcomes(self, request_ids: Iterable[str]) -> list[RequestOutcome]:
        """Like `already_decided`, with the whole stored record of each decided request."""
        ids = list(request_ids)
        if not ids:
            return []
        with self._engine.connect() as conn:
            return [RequestOutcome(*row) for row in conn.execute(_DECIDED, {"request_ids": ids})]

    def logged_rejections(self, event_ids: Iterable[int], request_ids: Iterable[str],
                          ) -> dict[str, tuple[str, str, float]]:
        """Rejections of these requests found in their events' logs: request id -> (code,
        message, logged at). Rejections are logged but not stored as outcomes; a re-run
        batch answers them from here. It reads the events' whole logs (no index on the
        request id, which would cost every batch): only the crash re-run path calls it."""
        ids, events = list(request_ids), sorted(set(event_ids))
        if not ids or not events:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(_LOGGED_REJECTIONS, {"event_ids": events, "request_ids": ids})
            return {request_id: (code, message, float(at))
                    for request_id, code, message, at in rows}

    # ------------------------------------------------------------ writing

    def advance_fence(self, fence: Fence) -> None:
        """Record a new lease holder's token before it loads, so older holders can't commit."""
        with self._engine.begin() as conn:
            _check_fence(conn, fence)

    def persist_batch(
        self,
        event_id: int,
        events: Sequence[Event],
        *,
        fence: Fence | None = None,
        request_outcomes: Sequence[RequestOutcome] = (),
    ) -> None:
        """Write a decided batch, all or nothing.

        Raises StaleFenceError if a newer lease holder exists, InventoryConflictError
        if an event does not match the stored inventory, and sqlalchemy's
        IntegrityError if it would break an invariant (double sale, GA over
        capacity, buyer over limit). Nothing is written in any of those cases.
        """
        self.persist_many({event_id: events}, fence=fence, request_outcomes=request_outcomes)

    def persist_many(
        self,
        events_by_event: Mapping[int, Sequence[Event]],
        *,
        fence: Fence | None = None,
        request_outcomes: Sequence[RequestOutcome] = (),
        connection: Connection | None = None,
    ) -> None:
        """`persist_batch` for a partition serving several events: one transaction for all.

        `connection`: a connection the caller keeps for its writes (no pool checkout, no
        pre-ping round trip per batch); it must not be inside a transaction."""
        prepared = prepare_batch(events_by_event, fence=fence, request_outcomes=request_outcomes)
        if connection is None:
            with self._engine.connect() as conn:
                write_prepared(conn, prepared)
        else:
            write_prepared(connection, prepared)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch's statements and parameters, built without Postgres (`prepare_batch`) so the
    consumer can build one while the previous one is being written; written once."""

    writes: Writes
    fence: Fence | None
    accepted: Slot | None


def prepare_batch(events_by_event: Mapping[int, Sequence[Event]], *, fence: Fence | None = None,
                  request_outcomes: Sequence[RequestOutcome] = ()) -> PreparedBatch:
    """Everything `write_prepared` sends, in order: the fence first, then the events in
    event-id order (one lock order for every writer), then the request outcomes."""
    writes = Writes()
    accepted = writes.returning(_ADVANCE_FENCE, {"partition": fence.partition,
                                                 "token": fence.token}) if fence else None
    for event_id in sorted(events_by_event):
        _write_plan(writes, event_id, plan_batch(list(events_by_event[event_id])))
    _record_outcomes(writes, request_outcomes)
    return PreparedBatch(writes, fence, accepted)


def write_prepared(conn: Connection, prepared: PreparedBatch) -> None:
    """One transaction on `conn`: all of the batch or, on any error, none of it."""
    with conn.begin():
        prepared.writes.flush(conn)
        fence = prepared.fence
        if fence is not None and prepared.accepted is not None and prepared.accepted.value is None:
            newest = conn.execute(_NEWEST_FENCE, {"partition": fence.partition}).scalar()
            raise StaleFenceError(fence.partition, fence.token, newest)


def _write_plan(writes: Writes, event_id: int, plan: BatchPlan) -> None:
    def missing(_touched: int) -> StoreError:
        return NotFoundError(f"event {event_id} does not exist")

    writes.expect(_BUMP_VERSION, {"event_id": event_id, "changes": plan.changes}, 1,
                  "bumping the inventory version", on_mismatch=missing)
    for step in plan.steps:
        _write_step(writes, event_id, step)
    _write_counters(writes, event_id, plan)
    if plan.log:
        writes.execute(_APPEND_LOG, {"event_id": event_id, "rows": _json(plan.log),
                                     "changes": plan.changes})


def _check_fence(conn: Connection, fence: Fence) -> None:
    accepted = conn.execute(_ADVANCE_FENCE, {"partition": fence.partition,
                                             "token": fence.token}).scalar()
    if accepted is None:
        newest = conn.execute(_NEWEST_FENCE, {"partition": fence.partition}).scalar()
        raise StaleFenceError(fence.partition, fence.token, newest)


def _write_step(writes: Writes, event_id: int, step: Step) -> None:
    base = {"event_id": event_id}
    if step.release_claims:
        writes.expect(_RELEASE_CLAIMS, {**base, "rows": _json(step.release_claims)},
                len(step.release_claims), "releasing held seats")
    if step.refund_claims:
        writes.expect(_REFUND_CLAIMS, {**base, "rows": _json(step.refund_claims)},
                len(step.refund_claims), "refunding sold seats")
    if step.unblock_seat_ids:
        writes.expect(_UNBLOCK_CLAIMS, {**base, "seat_ids": step.unblock_seat_ids},
                len(step.unblock_seat_ids), "unblocking seats")
    if step.new_holds:
        writes.execute(_INSERT_HOLDS, {**base, "rows": _json(step.new_holds)})
    if step.new_claims:
        writes.execute(_INSERT_CLAIMS, {**base, "rows": _json(step.new_claims)})
    if step.sales:
        sales = _json(step.sales)
        writes.expect(_UPSERT_PAID_ORDERS, {**base, "rows": sales}, len(step.sales),
                "recording paid orders (an order id or hold already used?)")
        if step.sold_claims:
            writes.expect(_SELL_CLAIMS, {**base, "rows": _json(step.sold_claims)},
                    len(step.sold_claims), "selling held seats")
        writes.expect(_ORDER_LINES, {**base, "rows": sales},
                sum(len(sale["seat_ids"]) or 1 for sale in step.sales), "writing order lines")
    if step.hold_status:
        writes.expect(_CLOSE_HOLDS, {**base, "rows": _json(step.hold_status)},
                len(step.hold_status), "closing active holds")
    if step.refunded_order_ids:
        params = {**base, "order_ids": step.refunded_order_ids}
        writes.expect(_REFUND_ORDERS, params, len(step.refunded_order_ids),
                "refunding paid orders")
        writes.execute(_VOID_TICKETS, params)


def _write_counters(writes: Writes, event_id: int, plan: BatchPlan) -> None:
    base = {"event_id": event_id}
    if plan.zone_deltas:
        writes.expect(_ZONE_DELTAS, {**base, "rows": _json(plan.zone_deltas)},
                len(plan.zone_deltas), "counting general admission")
    gains = [{"buyer_id": b, "tickets": d} for b, d in plan.buyer_deltas.items() if d > 0]
    losses = [{"buyer_id": b, "tickets": d} for b, d in plan.buyer_deltas.items() if d < 0]
    if gains:
        writes.execute(_BUYERS_GAIN, {**base, "rows": _json(gains)})
    if losses:
        writes.expect(_BUYERS_LOSE, {**base, "rows": _json(losses)}, len(losses),
                "counting tickets per buyer")


def _record_outcomes(writes: Writes, outcomes: Sequence[RequestOutcome]) -> None:
    if not outcomes:
        return
    latest = {outcome.request_id: outcome for outcome in outcomes}  # one row per request
    writes.execute(_RECORD_OUTCOMES, {"rows": _json([
        {"request_id": o.request_id, "event_id": o.event_id, "buyer_id": o.buyer_id,
         "kind": o.kind, "status": o.status, "outcome": o.outcome} for o in latest.values()])})


# ---------------------------------------------------------------- loading


def load_venue(conn: Connection, venue_id: int) -> Venue:
    """Build the engine's venue from plain tuples (no ORM objects: 50k seats load fast)."""
    venue = conn.execute(text("SELECT name, city FROM venues WHERE id = :venue_id"),
                         {"venue_id": venue_id}).one_or_none()
    if venue is None:
        raise NotFoundError(f"venue {venue_id} does not exist")
    params = {"venue_id": venue_id}
    section_rows = conn.execute(text(
        "SELECT id, name, rank FROM sections WHERE venue_id = :venue_id ORDER BY id"),
        params).all()
    seats: list[Seat] = []
    rows_by_section: dict[int, dict[str, tuple[int, list[int]]]] = {
        section_id: {} for section_id, _, _ in section_rows}
    for (seat_id, section_id, row_label, row_rank, label, x, y, category,
         accessible) in conn.execute(text(
            "SELECT id, section_id, row_label, row_rank, label, x, y, category, accessible"
            " FROM seats WHERE venue_id = :venue_id"
            " ORDER BY section_id, row_rank, row_label, position"), params):
        seats.append(Seat(seat_id, section_id, row_label, label, x, y, category, accessible))
        rows = rows_by_section[section_id]
        row = rows.get(row_label)
        if row is None:
            row = rows[row_label] = (row_rank, [])
        row[1].append(seat_id)
    sections = [
        Section(section_id, name, rank, tuple(
            Row(label, row_rank, tuple(seat_ids))
            for label, (row_rank, seat_ids) in rows_by_section[section_id].items()))
        for section_id, name, rank in section_rows
    ]
    zones = [GaZone(zone_id, name, capacity, category)
             for zone_id, name, capacity, category in conn.execute(text(
                 "SELECT id, name, capacity, category FROM ga_zones"
                 " WHERE venue_id = :venue_id ORDER BY id"), params)]
    return Venue.build(venue_id, venue.name, sections, seats, zones, city=venue.city)


def _load_state(conn: Connection, event_id: int, version: int) -> InventoryState:
    params = {"event_id": event_id}
    holds = [
        HoldRecord(hold_id, request_id, buyer_id, tuple(seat_ids), tuple(prices_cents),
                   total_cents, float(expires_at), zone_id, quantity)
        for (hold_id, request_id, buyer_id, seat_ids, prices_cents, total_cents, expires_at,
             zone_id, quantity) in conn.execute(text(
                 "SELECT hold_id, request_id, buyer_id, seat_ids, prices_cents, total_cents,"
                 " extract(epoch FROM expires_at), zone_id, quantity"
                 " FROM holds WHERE event_id = :event_id AND status = 'active'"), params)
    ]
    sales = [
        SaleRecord(order_id, hold_id, buyer_id, tuple(seat_ids), total_cents, zone_id, quantity)
        for order_id, hold_id, buyer_id, seat_ids, total_cents, zone_id, quantity
        in conn.execute(text(
            "SELECT o.order_id, o.hold_id, o.buyer_id, h.seat_ids, o.total_cents, o.zone_id,"
            " o.quantity FROM orders o JOIN holds h ON h.hold_id = o.hold_id"
            " WHERE o.event_id = :event_id AND o.status = 'paid'"), params)
    ]
    blocked = conn.execute(text(
        "SELECT seat_id FROM seat_claims WHERE event_id = :event_id AND state = 'blocked'"),
        params).scalars().all()
    # Every presale of the event, created before this snapshot: the tiers they lock. One
    # created later reaches the partition as a `lock_tiers` request, queued after its insert.
    presales = tuple(
        PresaleLock(int(presale_id), tuple(tier_codes), float(starts_at), float(ends_at))
        for presale_id, tier_codes, starts_at, ends_at in conn.execute(text(
            "SELECT id, tier_codes, extract(epoch FROM starts_at), extract(epoch FROM ends_at)"
            " FROM presales WHERE event_id = :event_id ORDER BY id"), params))
    # Sorted here, not in SQL: text ordering depends on the database's collation.
    return InventoryState(
        holds=tuple(sorted(holds, key=lambda hold: hold.hold_id)),
        sales=tuple(sorted(sales, key=lambda sale: sale.order_id)),
        blocked=tuple(sorted(blocked)),
        version=version,
        presales=presales,
    )
