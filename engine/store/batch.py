"""Turn a batch of engine events into set-based writes, keeping their order where it matters.

A batch is written in a handful of statements, not one per event. Events are
cut into *steps*: consecutive events that touch no common seat, hold or order.
Inside a step the writes commute, so they can be grouped by kind (all claim
deletes, all hold inserts, ...) and each kind sent as one statement. A seat
released and re-held in the same batch lands in two steps, so the delete runs
before the insert. Counters (GA held/sold, tickets per buyer) commute with
everything and are summed over the whole batch.

Pure: no I/O, so the planning is tested without Postgres.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Any, assert_never

from engine.events import (
    Event,
    HoldExpired,
    HoldRejected,
    HoldReleased,
    OrderRefunded,
    SeatsBlocked,
    SeatsHeld,
    SeatsOffered,
    SeatsSold,
    SeatsUnblocked,
    TiersLocked,
)

Row = dict[str, Any]


@dataclass
class Step:
    """Writes that commute with each other; run in the order of `repository._write_step`."""

    release_claims: list[Row] = field(default_factory=list)
    refund_claims: list[Row] = field(default_factory=list)
    unblock_seat_ids: list[int] = field(default_factory=list)
    new_holds: list[Row] = field(default_factory=list)
    new_claims: list[Row] = field(default_factory=list)
    sales: list[Row] = field(default_factory=list)
    sold_claims: list[Row] = field(default_factory=list)
    hold_status: list[Row] = field(default_factory=list)
    refunded_order_ids: list[str] = field(default_factory=list)


@dataclass
class BatchPlan:
    steps: list[Step]
    zone_deltas: list[Row]
    """{"zone_id", "held", "sold"} net change per GA zone."""
    buyer_deltas: dict[int, int]
    """Net change of tickets held or owned, per buyer (zero changes left out)."""
    log: list[Row]
    """{"position", "version_offset", "type", "payload"} per event, in batch order."""
    changes: int
    """How many events changed the inventory: the version grows by this much."""


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def record_of(event: Event) -> Row:
    """The same dict as `engine.events.to_record`, built without `asdict`'s deep copies.

    Logging is on the hot path of every batch; asdict costs ~10 us per event.
    """
    cls = type(event)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    record: Row = {"type": cls.__name__}
    for name in names:
        value = getattr(event, name)
        record[name] = list(value) if isinstance(value, tuple) else value
    return record


def tickets_of(
    event: SeatsHeld | SeatsOffered | HoldReleased | HoldExpired | SeatsSold | OrderRefunded,
) -> int:
    """Tickets an event is about: the GA quantity, or one per seat."""
    if event.zone_id is not None:
        return event.quantity
    return event.quantity or len(event.seat_ids)


def _keys(event: Event) -> set[tuple[str, object]]:
    """The seats, hold and order an event touches: events sharing one cannot share a step."""
    keys: set[tuple[str, object]] = set()
    match event:
        case SeatsHeld() | SeatsOffered() | HoldReleased() | HoldExpired():
            keys.add(("hold", event.hold_id))
        case SeatsSold():
            keys.add(("hold", event.hold_id))
            keys.add(("order", event.order_id))
        case OrderRefunded():
            keys.add(("order", event.order_id))
        case SeatsBlocked() | SeatsUnblocked():
            pass
        case HoldRejected() | TiersLocked():
            return keys
        case _:
            assert_never(event)
    keys.update(("seat", seat_id) for seat_id in event.seat_ids)
    return keys


def plan_batch(events: list[Event]) -> BatchPlan:
    steps: list[Step] = []
    step = Step()
    step_keys: set[tuple[str, object]] = set()
    zone_deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    buyer_deltas: dict[int, int] = defaultdict(int)
    log: list[Row] = []
    changes = 0

    for position, event in enumerate(events):
        if not isinstance(event, HoldRejected):
            changes += 1
        log.append({"position": position, "version_offset": changes,
                    "type": type(event).__name__, "payload": record_of(event)})
        if isinstance(event, HoldRejected):
            continue
        keys = _keys(event)
        if not keys.isdisjoint(step_keys):
            steps.append(step)
            step, step_keys = Step(), set()
        step_keys |= keys
        _plan_event(event, step, zone_deltas, buyer_deltas)
    if step_keys:
        steps.append(step)

    return BatchPlan(
        steps=steps,
        zone_deltas=[{"zone_id": zone_id, "held": held, "sold": sold}
                     for zone_id, (held, sold) in sorted(zone_deltas.items())
                     if held or sold],
        buyer_deltas={buyer: delta for buyer, delta in sorted(buyer_deltas.items()) if delta},
        log=log,
        changes=changes,
    )


def _plan_event(event: Event, step: Step, zone_deltas: dict[int, list[int]],
                buyer_deltas: dict[int, int]) -> None:
    match event:
        case SeatsHeld() | SeatsOffered():
            step.new_holds.append({
                "hold_id": event.hold_id, "request_id": event.request_id,
                "buyer_id": event.buyer_id, "seat_ids": list(event.seat_ids),
                "prices_cents": list(event.prices_cents), "zone_id": event.zone_id,
                "quantity": tickets_of(event), "total_cents": event.total_cents,
                "expires_at": event.expires_at,
            })
            if event.zone_id is None:
                step.new_claims.extend(
                    {"seat_id": seat_id, "state": "held", "hold_id": event.hold_id,
                     "price_cents": price}
                    for seat_id, price in zip(event.seat_ids, event.prices_cents, strict=True))
            else:
                zone_deltas[event.zone_id][0] += event.quantity
            buyer_deltas[event.buyer_id] += tickets_of(event)
        case HoldReleased() | HoldExpired():
            step.release_claims.extend({"seat_id": seat_id, "hold_id": event.hold_id}
                                       for seat_id in event.seat_ids)
            status = "released" if isinstance(event, HoldReleased) else "expired"
            step.hold_status.append({"hold_id": event.hold_id, "status": status})
            if event.zone_id is not None:
                zone_deltas[event.zone_id][0] -= event.quantity
            buyer_deltas[event.buyer_id] -= tickets_of(event)
        case SeatsSold():
            step.sales.append({
                "order_id": event.order_id, "hold_id": event.hold_id, "buyer_id": event.buyer_id,
                "seat_ids": list(event.seat_ids), "total_cents": event.total_cents,
                "zone_id": event.zone_id, "quantity": tickets_of(event),
            })
            step.sold_claims.extend(
                {"seat_id": seat_id, "hold_id": event.hold_id, "order_id": event.order_id}
                for seat_id in event.seat_ids)
            step.hold_status.append({"hold_id": event.hold_id, "status": "sold"})
            if event.zone_id is not None:
                zone_deltas[event.zone_id][0] -= event.quantity
                zone_deltas[event.zone_id][1] += event.quantity
        case OrderRefunded():
            step.refund_claims.extend({"seat_id": seat_id, "order_id": event.order_id}
                                      for seat_id in event.seat_ids)
            step.refunded_order_ids.append(event.order_id)
            if event.zone_id is not None:
                zone_deltas[event.zone_id][1] -= event.quantity
            buyer_deltas[event.buyer_id] -= tickets_of(event)
        case SeatsBlocked():
            step.new_claims.extend({"seat_id": seat_id, "state": "blocked", "hold_id": None,
                                    "price_cents": None} for seat_id in event.seat_ids)
        case SeatsUnblocked():
            step.unblock_seat_ids.extend(event.seat_ids)
        case HoldRejected():  # a refusal writes nothing but its log record
            pass
        case TiersLocked():  # the presale is in its own table already; the log records when
            pass
        case _:
            assert_never(event)
