"""Defense in depth: Postgres itself refuses what would oversell, whatever the engine says.

Each test feeds the store a write a buggy engine could produce and expects an
IntegrityError naming the constraint that protects the invariant.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from engine.events import SeatsHeld, SeatsSold
from engine.state import InventoryState
from engine.store.repository import InventoryRepository
from tests.support.catalogs import grid_doc, make_event

pytestmark = pytest.mark.integration

EXPIRES_AT = 1_900_000_000.0


def _hold(conn: Connection, event_id: int, hold_id: str, seat_ids: list[int],
          zone_id: int | None = None, quantity: int | None = None) -> None:
    conn.execute(text(
        "INSERT INTO holds (hold_id, event_id, request_id, buyer_id, seat_ids, prices_cents,"
        " zone_id, quantity, total_cents, expires_at)"
        " VALUES (:hold_id, :event_id, :hold_id, 1, :seat_ids, :prices, :zone_id, :quantity,"
        " 0, now())"),
        {"hold_id": hold_id, "event_id": event_id, "seat_ids": seat_ids,
         "prices": [0] * len(seat_ids), "zone_id": zone_id,
         "quantity": quantity if quantity is not None else len(seat_ids)})


def _claim(conn: Connection, event_id: int, seat_id: int, hold_id: str) -> None:
    conn.execute(text(
        "INSERT INTO seat_claims (event_id, seat_id, state, hold_id, price_cents)"
        " VALUES (:event_id, :seat_id, 'held', :hold_id, 0)"),
        {"event_id": event_id, "seat_id": seat_id, "hold_id": hold_id})


def _first_seat(conn: Connection, venue_id: int) -> int:
    return int(conn.execute(text("SELECT min(id) FROM seats WHERE venue_id = :v"),
                            {"v": venue_id}).scalar_one())


def test_a_seat_cannot_have_two_live_claims(db_engine: Engine) -> None:
    venue_id, event_id = make_event(db_engine)
    with db_engine.connect() as conn:
        seat = _first_seat(conn, venue_id)
        _hold(conn, event_id, "h1", [seat])
        _hold(conn, event_id, "h2", [seat])
        _claim(conn, event_id, seat, "h1")
        with pytest.raises(IntegrityError, match="pk_seat_claims"):
            _claim(conn, event_id, seat, "h2")  # never held twice


def test_a_claim_state_must_match_its_ids(db_engine: Engine) -> None:
    venue_id, event_id = make_event(db_engine)
    with db_engine.connect() as conn:
        seat = _first_seat(conn, venue_id)
        with pytest.raises(IntegrityError, match="ck_seat_claims_state"):
            conn.execute(text(
                "INSERT INTO seat_claims (event_id, seat_id, state, price_cents)"
                " VALUES (:e, :s, 'sold', 100)"), {"e": event_id, "s": seat})


def test_general_admission_cannot_exceed_capacity(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, grid_doc(ga_capacity=5))
    with db_engine.connect() as conn, pytest.raises(
            IntegrityError, match="ck_ga_inventory_within_capacity"):
        conn.execute(text("UPDATE ga_inventory SET held = 3, sold = 3 WHERE event_id = :e"),
                     {"e": event_id})


def test_the_repository_cannot_oversell_general_admission(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, grid_doc(ga_capacity=5), buyer_limit=10)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    zone = setup.venue.ga_zones[0].zone_id
    with pytest.raises(IntegrityError, match="ck_ga_inventory_within_capacity"):
        repository.persist_batch(event_id, [
            SeatsHeld("r1", "h1", 1, (), (0,) * 3, 0, EXPIRES_AT, zone_id=zone, quantity=3),
            SeatsHeld("r2", "h2", 2, (), (0,) * 3, 0, EXPIRES_AT, zone_id=zone, quantity=3),
        ])
    assert repository.load(event_id)[1] == InventoryState(), "nothing of the batch is kept"


def test_a_buyer_cannot_exceed_the_event_limit(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine, buyer_limit=2)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seats = sorted(setup.venue.seats)
    with pytest.raises(IntegrityError, match="ck_buyer_tickets_within_limit"):
        repository.persist_batch(event_id, [
            SeatsHeld("r1", "h1", 7, (seats[0], seats[1]), (0, 0), 0, EXPIRES_AT, quantity=2),
            SeatsHeld("r2", "h2", 7, (seats[2],), (0,), 0, EXPIRES_AT, quantity=1),
        ])


def test_the_repository_cannot_hold_a_sold_seat(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    setup, _ = repository.load(event_id)
    seat = min(setup.venue.seats)
    repository.persist_batch(event_id, [
        SeatsHeld("r1", "h1", 1, (seat,), (100,), 100, EXPIRES_AT, quantity=1),
        SeatsSold("h1", "o1", 1, (seat,), 100, quantity=1),
    ])
    with pytest.raises(IntegrityError, match="pk_seat_claims"):
        repository.persist_batch(event_id, [
            SeatsHeld("r2", "h2", 2, (seat,), (100,), 100, EXPIRES_AT, quantity=1)])
    _, state = repository.load(event_id)
    assert [sale.order_id for sale in state.sales] == ["o1"] and state.holds == ()


def test_a_seat_gets_one_valid_ticket_per_event(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    seat = min(repository.load(event_id)[0].venue.seats)
    repository.persist_batch(event_id, [
        SeatsHeld("r1", "h1", 1, (seat,), (100,), 100, EXPIRES_AT, quantity=1),
        SeatsSold("h1", "o1", 1, (seat,), 100, quantity=1),
    ])
    insert = text("INSERT INTO tickets (order_id, event_id, seat_id, secret)"
                  " VALUES ('o1', :e, :s, :secret)")
    with db_engine.connect() as conn:
        conn.execute(insert, {"e": event_id, "s": seat, "secret": "a"})
        with pytest.raises(IntegrityError, match="uq_tickets_live_seat"):
            conn.execute(insert, {"e": event_id, "s": seat, "secret": "b"})


def test_an_order_is_paid_for_one_hold_only(db_engine: Engine) -> None:
    _, event_id = make_event(db_engine)
    repository = InventoryRepository(db_engine)
    seats = sorted(repository.load(event_id)[0].venue.seats)
    repository.persist_batch(event_id, [
        SeatsHeld("r1", "h1", 1, (seats[0],), (100,), 100, EXPIRES_AT, quantity=1),
        SeatsSold("h1", "o1", 1, (seats[0],), 100, quantity=1),
    ])
    with db_engine.connect() as conn, pytest.raises(IntegrityError, match="uq_orders_hold_id"):
        conn.execute(text(
            "INSERT INTO orders (order_id, event_id, buyer_id, hold_id, total_cents, quantity)"
            " VALUES ('o2', :e, 1, 'h1', 100, 1)"), {"e": event_id})
