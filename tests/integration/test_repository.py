"""The store keeps what the engine decided: batches persist atomically, load gives it back.

Invariants protected: Postgres is the source of truth (load == what was
persisted), a stale lease holder writes nothing, a batch is all or nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from engine import layouts
from engine.commands import HoldSeats
from engine.events import (
    HoldExpired,
    HoldRejected,
    SeatsBlocked,
    SeatsHeld,
    SeatsSold,
    SeatsUnblocked,
    TiersLocked,
)
from engine.inventory import EventInventory
from engine.state import HoldRecord, InventoryState, PresaleLock, SaleRecord
from engine.store.errors import InventoryConflictError, NotFoundError, StaleFenceError
from engine.store.presales import create_presale
from engine.store.repository import Fence, InventoryRepository, RequestOutcome
from tests.support.catalogs import grid_doc, make_event

pytestmark = pytest.mark.integration

EXPIRES_AT = 1_900_000_000.25


def _seat_ids(setup_venue: object) -> list[int]:
    return sorted(setup_venue.seats)  # type: ignore[attr-defined]


def _scenario(engine: Engine) -> tuple[InventoryRepository, int, list[int], int, list[object]]:
    _, event_id = make_event(engine, grid_doc(ga_capacity=10))
    repository = InventoryRepository(engine)
    setup, state = repository.load(event_id)
    assert state == InventoryState()
    seats = _seat_ids(setup.venue)
    zone = setup.venue.ga_zones[0].zone_id
    first = [
        SeatsHeld("r1", "h1", 1, (seats[0], seats[1]), (9000, 9000), 18000, EXPIRES_AT,
                  quantity=2),
        SeatsHeld("r2", "h2", 2, (seats[5],), (9000,), 9000, EXPIRES_AT, quantity=1),
        SeatsHeld("r3", "h3", 3, (), (3000,) * 4, 12000, EXPIRES_AT, zone_id=zone, quantity=4),
        HoldRejected("r4", "h4x", 4, "seats_taken", "Seats are taken."),
        SeatsBlocked((seats[10], seats[11])),
    ]
    second = [
        SeatsSold("h1", "o1", 1, (seats[0], seats[1]), 18000, quantity=2),
        HoldExpired("h2", 2, (seats[5],), quantity=1),
        SeatsHeld("r5", "h5", 4, (seats[5],), (9000,), 9000, EXPIRES_AT + 60, quantity=1),
        SeatsSold("h3", "o3", 3, (), 12000, zone_id=zone, quantity=4),
        SeatsUnblocked((seats[11],)),
    ]
    repository.persist_batch(event_id, first, request_outcomes=[
        RequestOutcome("r1", event_id, 1, "hold_seats", "held", {"hold_id": "h1"}),
        RequestOutcome("r4", event_id, 4, "hold_seats", "rejected", {"code": "seats_taken"}),
    ])
    repository.persist_batch(event_id, second)
    return repository, event_id, seats, zone, [*first, *second]


def test_persisted_batches_load_back_as_the_same_inventory(db_engine: Engine) -> None:
    repository, event_id, seats, zone, _ = _scenario(db_engine)
    _, state = repository.load(event_id)
    assert state == InventoryState(
        holds=(HoldRecord("h5", "r5", 4, (seats[5],), (9000,), 9000, EXPIRES_AT + 60,
                          None, 1),),
        sales=(SaleRecord("o1", "h1", 1, (seats[0], seats[1]), 18000, None, 2),
               SaleRecord("o3", "h3", 3, (), 12000, zone, 4)),
        blocked=(seats[10],),
        version=9,
    ), "Postgres is the source of truth: load must give back exactly what was persisted"

    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT held, sold FROM ga_inventory")).one() == (0, 4)
        assert dict(conn.execute(text("SELECT buyer_id, tickets FROM buyer_tickets")).all()) \
            == {1: 2, 2: 0, 3: 4, 4: 1}
        claims = dict(conn.execute(text(
            "SELECT seat_id, state FROM seat_claims ORDER BY seat_id")).all())
        assert claims == {seats[0]: "sold", seats[1]: "sold", seats[5]: "held",
                          seats[10]: "blocked"}
        lines = conn.execute(text(
            "SELECT order_id, line_no, seat_id, zone_id, quantity, price_cents"
            " FROM order_lines ORDER BY order_id, line_no")).all()
        assert [tuple(line) for line in lines] == [
            ("o1", 1, seats[0], None, 1, 9000), ("o1", 2, seats[1], None, 1, 9000),
            ("o3", 1, None, zone, 4, 12000)]
        log = conn.execute(text(
            "SELECT inventory_version, type FROM inventory_events ORDER BY seq")).all()
        assert [tuple(entry) for entry in log] == [
            (1, "SeatsHeld"), (2, "SeatsHeld"), (3, "SeatsHeld"), (3, "HoldRejected"),
            (4, "SeatsBlocked"), (5, "SeatsSold"), (6, "HoldExpired"), (7, "SeatsHeld"),
            (8, "SeatsSold"), (9, "SeatsUnblocked")]
        assert conn.execute(text(
            "SELECT hold_id, status FROM holds ORDER BY hold_id")).all() == [
            ("h1", "sold"), ("h2", "expired"), ("h3", "sold"), ("h5", "active")]

    assert repository.already_decided(["r1", "r4", "r9"]) == {
        "r1": {"hold_id": "h1"}, "r4": {"code": "seats_taken"}}


def test_replaying_the_log_rebuilds_the_loaded_state(db_engine: Engine) -> None:
    inventory_module = pytest.importorskip("engine.inventory")
    repository, event_id, _, _, events = _scenario(db_engine)
    setup, state = repository.load(event_id)
    replay = inventory_module.EventInventory(setup)
    for event in events:
        replay.apply(event)
    assert replay.state() == state, "the store and the engine must agree on the same events"
    restored = inventory_module.EventInventory.restore(setup, state)
    assert restored.state() == state


def test_a_stale_fence_writes_nothing(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seat = _seat_ids(setup.venue)[0]
    repository.advance_fence(Fence("ev:1", 5))
    held = SeatsHeld("r1", "h1", 1, (seat,), (9000,), 9000, EXPIRES_AT, quantity=1)
    with pytest.raises(StaleFenceError) as stale:
        repository.persist_batch(event_id, [held], fence=Fence("ev:1", 4), request_outcomes=[
            RequestOutcome("r1", event_id, 1, "hold_seats", "held", {"hold_id": "h1"})])
    assert stale.value.newest_token == 5
    _, state = repository.load(event_id)
    assert state == InventoryState(), "a zombie worker must not write"
    assert repository.already_decided(["r1"]) == {}
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inventory_events")).scalar() == 0

    repository.persist_batch(event_id, [held], fence=Fence("ev:1", 5))
    assert repository.load(event_id)[1].version == 1, "the current holder may write"


def test_a_batch_that_disagrees_with_the_store_is_refused_whole(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seat = _seat_ids(setup.venue)[0]
    with pytest.raises(InventoryConflictError, match="expected 1 rows, touched 0"):
        repository.persist_batch(event_id, [
            SeatsHeld("r1", "h1", 1, (seat,), (9000,), 9000, EXPIRES_AT, quantity=1),
            HoldExpired("h-unknown", 2, (seat + 1,), quantity=1),
        ])
    assert repository.load(event_id)[1] == InventoryState()


def test_a_kept_connection_writes_again_after_a_refused_batch(db_engine: Engine) -> None:
    """The consumer keeps one connection for its commits: a refused batch (a row count that
    disagrees with memory, an event that does not exist) must leave it clean for the next."""
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seat = _seat_ids(setup.venue)[0]
    held = SeatsHeld("r1", "h1", 1, (seat,), (9000,), 9000, EXPIRES_AT, quantity=1)
    with db_engine.connect() as kept:
        with pytest.raises(InventoryConflictError):
            repository.persist_many({event_id: [held, HoldExpired("h-unknown", 2, (seat + 1,),
                                                                  quantity=1)]},
                                    fence=Fence("p", 1), connection=kept)
        with pytest.raises(NotFoundError):
            repository.persist_many({event_id + 999: [HoldRejected("r9", "h9", 7, "sold_out",
                                                                   "none")]}, connection=kept)
        repository.persist_many({event_id: [held]}, fence=Fence("p", 1), connection=kept)
    _, state = repository.load(event_id)
    assert state.version == 1 and len(state.holds) == 1


def test_a_rerun_batch_can_skip_decided_requests(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    outcome = RequestOutcome("r1", event_id, 7, "hold_best", "rejected", {"code": "sold_out"})
    repository.persist_batch(event_id, [HoldRejected("r1", "h1", 7, "sold_out", "none")],
                             request_outcomes=[outcome])
    assert repository.already_decided(["r1", "r2"]) == {"r1": {"code": "sold_out"}}
    assert repository.already_decided([]) == {}


def test_a_50k_seat_venue_loads_quickly(db_engine: Engine) -> None:
    doc = layouts.arena("Big Bowl", "Leeds", target_seats=50_000)
    started = time.perf_counter()
    _, event_id = make_event(db_engine, doc)
    created = time.perf_counter()
    setup, _ = InventoryRepository(db_engine).load(event_id)
    loaded = time.perf_counter()
    print(f"\n50k venue: create {created - started:.3f}s, load {loaded - created:.3f}s")
    assert len(setup.venue.seats) >= 50_000
    assert {tier.category for tier in setup.price_tiers} == {"A", "B", "C", "D"}


def test_a_batch_of_200_holds_persists_in_one_transaction(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, grid_doc(sections=4, rows=10, seats_per_row=10),
                             buyer_limit=8)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seats = _seat_ids(setup.venue)
    holds = [SeatsHeld(f"r{i}", f"h{i}", 1000 + i, (seat,), (5000,), 5000, EXPIRES_AT,
                       quantity=1) for i, seat in enumerate(seats[:200])]
    outcomes = [RequestOutcome(f"r{i}", event_id, 1000 + i, "hold_seats", "held", {})
                for i in range(200)]
    started = time.perf_counter()
    repository.persist_batch(event_id, holds, fence=Fence("p1", 1), request_outcomes=outcomes)
    print(f"\n200-event batch: {1000 * (time.perf_counter() - started):.1f} ms")
    assert len(repository.load(event_id)[1].holds) == 200


def test_a_partition_persists_several_events_in_one_transaction(db_engine: Engine) -> None:
    _, first = make_event(db_engine)
    _, second = make_event(db_engine, grid_doc(name="Other Hall"))
    repository = InventoryRepository(db_engine)
    seat_a = min(repository.load(first)[0].venue.seats)
    seat_b = min(repository.load(second)[0].venue.seats)
    batch = {
        first: [SeatsHeld("r1", "h1", 1, (seat_a,), (100,), 100, EXPIRES_AT, quantity=1)],
        second: [SeatsHeld("r2", "h2", 1, (seat_b,), (100,), 100, EXPIRES_AT, quantity=1)],
    }
    outcomes = [RequestOutcome("r1", first, 1, "hold_seats", "held", {"hold_id": "h1"}),
                RequestOutcome("r2", second, 1, "hold_seats", "held", {"hold_id": "h2"})]
    repository.persist_many(batch, fence=Fence("p", 3), request_outcomes=outcomes)
    assert [len(repository.load(e)[1].holds) for e in (first, second)] == [1, 1]
    assert sorted(repository.already_decided_outcomes(["r1", "r2"]),
                  key=lambda o: o.request_id) == outcomes

    with pytest.raises(StaleFenceError):
        repository.persist_many({first: [HoldExpired("h1", 1, (seat_a,), quantity=1)]},
                                fence=Fence("p", 2))
    assert len(repository.load(first)[1].holds) == 1


def test_a_sale_completes_the_pending_order_of_its_hold(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    seat = min(repository.load(event_id)[0].venue.seats)
    repository.persist_batch(event_id, [
        SeatsHeld("r1", "h1", 1, (seat,), (9000,), 9000, EXPIRES_AT, quantity=1)])
    with db_engine.begin() as conn:  # the payments worker records the authorization first
        conn.execute(text(
            "INSERT INTO orders (order_id, event_id, buyer_id, hold_id, total_cents, quantity,"
            " payment_ref) VALUES ('o1', :e, 1, 'h1', 9000, 1, 'pay_123')"), {"e": event_id})
    repository.persist_batch(event_id, [SeatsSold("h1", "o1", 1, (seat,), 9000, quantity=1)])
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status, payment_ref, paid_at IS NOT NULL FROM orders"
                                 )).one() == ("paid", "pay_123", True)
    with pytest.raises(InventoryConflictError):  # an order is paid once
        repository.persist_batch(event_id, [
            SeatsHeld("r2", "h2", 1, (seat + 1,), (9000,), 9000, EXPIRES_AT, quantity=1),
            SeatsSold("h2", "o1", 1, (seat + 1,), 9000, quantity=1)])


def test_presales_load_with_the_event_and_a_logged_lock_keeps_the_version(
        db_engine: Engine) -> None:
    """A partition taking over (failover) knows every presale's locked tiers: the load reads
    them from their table; a `TiersLocked` the previous holder logged counts in the version."""
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    tier = setup.price_tiers[0]
    starts = datetime(2030, 1, 1, tzinfo=UTC)
    presale = create_presale(db_engine, event_id, "Club", starts, starts + timedelta(hours=2),
                             [tier.code], 10)
    repository.persist_batch(event_id, [TiersLocked(presale.id, (tier.code,),
                                                    starts.timestamp(),
                                                    starts.timestamp() + 7200)])
    setup, state = repository.load(event_id)
    assert state.presales == (PresaleLock(presale.id, (tier.code,), starts.timestamp(),
                                          starts.timestamp() + 7200),)
    assert state.version == 1
    inventory = EventInventory.restore(setup, state)
    assert inventory.locked_tiers() == {tier.code}
    seat = next(s for s in setup.venue.seats.values() if s.category == tier.category)
    [refused] = inventory.decide(HoldSeats("r1", "h1", 1, (seat.seat_id,)), 1.0)
    assert isinstance(refused, HoldRejected) and refused.code == "tier_locked"
