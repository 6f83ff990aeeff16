"""The waiting-list offer round on real Postgres: offers go out one at a time in list order,
only when seats are free; an offer made by the partition is mailed through the outbox;
a lapsed offer passes to the next fan. (The partition's side, OfferSeats -> SeatsOffered
on free seats only, is tested in tests/unit/test_offers.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from engine.store import waiting_list
from tests.support.booking import make_event
from workers.waiting_list import offer_round


def _accounts(engine: Engine, count: int) -> list[int]:
    tag = uuid.uuid4().hex[:8]
    with engine.begin() as conn:
        return [int(conn.execute(sa.text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES (:email, 'x', 'fan', 'Fan') RETURNING id"),
            {"email": f"w{i}-{tag}@example.com"}).scalar_one()) for i in range(count)]


def _seats(engine: Engine, event_id: int) -> list[int]:
    with engine.connect() as conn:
        return [int(s) for (s,) in conn.execute(sa.text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :id ORDER BY s.id"), {"id": event_id})]


def _sell_out(engine: Engine, event_id: int, seats: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO seat_claims (event_id, seat_id, state)"
                             " VALUES (:event_id, :seat_id, 'blocked')"),
                     [{"event_id": event_id, "seat_id": s} for s in seats])


def _free(engine: Engine, event_id: int, seat_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM seat_claims WHERE event_id = :e AND seat_id = :s"),
                     {"e": event_id, "s": seat_id})


def _partition_offers(engine: Engine, event_id: int, request_id: str, buyer: int,
                      seat_id: int) -> str:
    """What the partition writes when it decides an offer: the hold, its claim, the outcome."""
    hold_id = f"{request_id}-h"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO holds (hold_id, event_id, request_id, buyer_id, seat_ids, prices_cents,"
            " quantity, total_cents, expires_at) VALUES (:h, :e, :r, :b, ARRAY[:s]::bigint[],"
            " ARRAY[5000], 1, 5000, :x)"),
            {"h": hold_id, "e": event_id, "r": request_id, "b": buyer, "s": seat_id,
             "x": datetime.now(UTC) + timedelta(minutes=10)})
        conn.execute(sa.text(
            "INSERT INTO seat_claims (event_id, seat_id, state, hold_id, price_cents)"
            " VALUES (:e, :s, 'held', :h, 5000)"), {"e": event_id, "s": seat_id, "h": hold_id})
        conn.execute(sa.text(
            "INSERT INTO booking_requests (request_id, event_id, buyer_id, kind, status)"
            " VALUES (:r, :e, :b, 'offer', 'held')"), {"r": request_id, "e": event_id, "b": buyer})
    return hold_id


class FakeOfferQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int, dict[str, Any]]] = []

    def __call__(self, event_id: int, buyer_id: int, params: dict[str, object]) -> str:
        self.sent.append((event_id, buyer_id, dict(params)))
        return f"{event_id}-offer{len(self.sent)}-{uuid.uuid4().hex[:6]}"


def _status(engine: Engine, event_id: int, account: int) -> str:
    entry = waiting_list.entry_of(engine, event_id, account)
    assert entry is not None
    return entry.status


def test_offers_go_out_in_list_order_and_pass_on_when_they_lapse(db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=1, seats_per_row=3)
    seats = _seats(db_engine, event_id)
    _sell_out(db_engine, event_id, seats)
    first, second, third = _accounts(db_engine, 3)
    for fan in (first, second, third):
        entry, created = waiting_list.join_list(db_engine, event_id, fan, 1, None)
        assert created
    assert waiting_list.entry_of(db_engine, event_id, third).place == 3  # type: ignore[union-attr]
    assert not waiting_list.join_list(db_engine, event_id, first, 1, None)[1], "one entry each"

    queue = FakeOfferQueue()
    assert offer_round(db_engine, queue) == 0, "nothing is offered while nothing is free"

    _free(db_engine, event_id, seats[0])
    assert offer_round(db_engine, queue) == 1
    assert offer_round(db_engine, queue) == 0, "one offer request out at a time"
    assert [buyer for _, buyer, _ in queue.sent] == [first], "the head of the list first"
    assert queue.sent[0][2]["quantity"] == 1 and queue.sent[0][2]["ttl_seconds"] > 0

    with db_engine.connect() as conn:
        request_id = conn.execute(sa.text(
            "SELECT request_id FROM waiting_list_entries WHERE account_id = :a"),
            {"a": first}).scalar_one()
    hold_id = _partition_offers(db_engine, event_id, request_id, first, seats[0])
    assert offer_round(db_engine, queue) == 0, "the seat is the offered fan's: nothing free"
    assert _status(db_engine, event_id, first) == "offered"
    with db_engine.connect() as conn:
        mail = conn.execute(sa.text(
            "SELECT user_id, subject FROM notifications WHERE kind = 'waitlist_offer'"
            " AND order_id = :h"), {"h": hold_id}).one()
    assert mail.user_id == first and "held for you" in mail.subject

    with db_engine.begin() as conn:  # the offer expires on the partition
        conn.execute(sa.text("UPDATE holds SET status = 'expired' WHERE hold_id = :h"),
                     {"h": hold_id})
        conn.execute(sa.text("DELETE FROM seat_claims WHERE hold_id = :h"), {"h": hold_id})
    assert offer_round(db_engine, queue) == 1
    assert _status(db_engine, event_id, first) == "lapsed"
    assert [buyer for _, buyer, _ in queue.sent] == [first, second], "then the next in line"
    assert _status(db_engine, event_id, third) == "waiting"


def test_an_offer_the_partition_had_no_seats_for_keeps_the_fan_first(db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    seats = _seats(db_engine, event_id)
    _sell_out(db_engine, event_id, seats)
    first, second = _accounts(db_engine, 2)
    for fan in (first, second):
        waiting_list.join_list(db_engine, event_id, fan, 1, None)
    _free(db_engine, event_id, seats[1])
    queue = FakeOfferQueue()
    offer_round(db_engine, queue)
    with db_engine.begin() as conn:  # decided with nothing offered (a booking came first)
        request_id = conn.execute(sa.text(
            "SELECT request_id FROM waiting_list_entries WHERE account_id = :a"),
            {"a": first}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO booking_requests (request_id, event_id, buyer_id, kind, status)"
            " VALUES (:r, :e, :b, 'offer', 'done')"), {"r": request_id, "e": event_id, "b": first})
    waiting_list.settle(db_engine, event_id)
    assert _status(db_engine, event_id, first) == "waiting"
    assert waiting_list.entry_of(db_engine, event_id, first).place == 1  # type: ignore[union-attr]


def test_the_audit_names_offers_made_against_the_list_order(db_engine: Engine) -> None:
    from loadtests.audit_checks import waiting_list_offers
    from loadtests.audit_replay import Replay

    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    fans = _accounts(db_engine, 2)
    requests = []
    for fan in fans:
        entry, _ = waiting_list.join_list(db_engine, event_id, fan, 1, None)
        request_id = f"{event_id}-audit-{entry.id}"
        waiting_list.mark_offering(db_engine, entry.id, request_id)
        requests.append((request_id, fan))
    in_order, against = Replay(), Replay()
    in_order.offers = [(i, r, fan) for i, (r, fan) in enumerate(requests)]
    against.offers = list(reversed(in_order.offers))
    with db_engine.connect() as conn:
        clean = waiting_list_offers(conn, event_id, in_order)
        assert clean.violations == 0 and clean.status == "pass"
        assert clean.figures["offers"] == 2 and clean.figures["pairs_compared"] == 1
        assert waiting_list_offers(conn, event_id, against).violations == 1
        strangers = Replay()
        strangers.offers = [(i, r, fan + 1000) for i, (r, fan) in enumerate(requests)]
        wrong_fan = waiting_list_offers(conn, event_id, strangers)
        assert wrong_fan.violations == 2, "each offer must go to its entry's account"
        taken = Replay()
        taken.offers = in_order.offers
        taken.offer_anomalies = ["log #3: seat 1 offered by x while held (h1)"]
        assert waiting_list_offers(conn, event_id, taken).violations == 1, \
            "an offer of a seat that was not free fails the check"
        assert waiting_list_offers(conn, make_event(db_engine), Replay()).status == "info"
