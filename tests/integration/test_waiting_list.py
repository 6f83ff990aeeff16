"""The waiting-list offer round on real Postgres: the first entries of the list get an offer
out each, in list order, whether or not seats are free (the partition keeps an offer it
cannot serve standing); a standing offer the partition served is mailed through the
outbox; a fan who leaves has the offer withdrawn. (The partition's side, standing offers
served in list order by the command that frees seats, is tested in
tests/unit/test_offers.py and tests/e2e/test_standing_offers_http.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from engine.store import waiting_list
from tests.support.booking import make_event
from workers.booking_requests import RequestKind
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


def _partition_stands(engine: Engine, event_id: int, request_id: str, buyer: int,
                      list_order: int) -> None:
    """What the partition writes when an offer finds no seats: the standing offer and the
    request's outcome."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO standing_offers (offer_id, event_id, hold_id, buyer_id, quantity,"
            " ttl_seconds, tier, list_order) VALUES (:r, :e, :r, :b, 1, 600, NULL, :o)"),
            {"r": request_id, "e": event_id, "b": buyer, "o": list_order})
        conn.execute(sa.text(
            "INSERT INTO booking_requests (request_id, event_id, buyer_id, kind, status, outcome)"
            " VALUES (:r, :e, :b, 'offer', 'done',"
            " '{\"status\": \"done\", \"result\": {\"standing\": true}}')"),
            {"r": request_id, "e": event_id, "b": buyer})


def _partition_serves(engine: Engine, event_id: int, request_id: str, buyer: int,
                      seat_id: int) -> str:
    """What the partition writes when seats come back for a standing offer: the hold, its
    claim, the standing offer gone, the outcome `held`."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM seat_claims WHERE event_id = :e AND seat_id = :s"),
                     {"e": event_id, "s": seat_id})  # the seat came back (an unblock)
        conn.execute(sa.text(
            "INSERT INTO holds (hold_id, event_id, request_id, buyer_id, seat_ids, prices_cents,"
            " quantity, total_cents, expires_at) VALUES (:h, :e, :h, :b, ARRAY[:s]::bigint[],"
            " ARRAY[5000], 1, 5000, :x)"),
            {"h": request_id, "e": event_id, "b": buyer, "s": seat_id,
             "x": datetime.now(UTC) + timedelta(minutes=10)})
        conn.execute(sa.text(
            "INSERT INTO seat_claims (event_id, seat_id, state, hold_id, price_cents)"
            " VALUES (:e, :s, 'held', :h, 5000)"), {"e": event_id, "s": seat_id, "h": request_id})
        conn.execute(sa.text("DELETE FROM standing_offers WHERE offer_id = :r"),
                     {"r": request_id})
        conn.execute(sa.text("UPDATE booking_requests SET status = 'held' WHERE request_id = :r"),
                     {"r": request_id})
    return request_id


class FakeOfferQueue:
    """Records what the round enqueues; a repeated idempotency key answers the first id, as
    the real enqueue script does."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int, RequestKind, dict[str, Any]]] = []
        self._ids: dict[str, str] = {}

    def __call__(self, event_id: int, buyer_id: int, kind: RequestKind,
                 params: dict[str, object], idempotency_key: str) -> str:
        if idempotency_key in self._ids:
            return self._ids[idempotency_key]
        self.sent.append((event_id, buyer_id, kind, dict(params)))
        request_id = f"{event_id}-offer{len(self.sent)}-{uuid.uuid4().hex[:6]}"
        self._ids[idempotency_key] = request_id
        return request_id

    def offers(self) -> list[int]:
        return [buyer for _, buyer, kind, _ in self.sent if kind is RequestKind.OFFER]


def _status(engine: Engine, event_id: int, account: int) -> str:
    entry = waiting_list.entry_of(engine, event_id, account)
    assert entry is not None
    return entry.status


def _request_of(engine: Engine, account: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text(
            "SELECT request_id FROM waiting_list_entries WHERE account_id = :a"),
            {"a": account}).scalar_one())


def test_offers_stand_in_list_order_and_pass_on_when_they_lapse(db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=1, seats_per_row=3)
    seats = _seats(db_engine, event_id)
    _sell_out(db_engine, event_id, seats)
    fans = _accounts(db_engine, 7)
    for fan in fans:
        entry, created = waiting_list.join_list(db_engine, event_id, fan, 1, None)
        assert created
    assert waiting_list.entry_of(db_engine, event_id, fans[2]).place == 3  # type: ignore[union-attr]
    assert not waiting_list.join_list(db_engine, event_id, fans[0], 1, None)[1], "one entry each"

    queue = FakeOfferQueue()
    assert offer_round(db_engine, queue, max_out=5) == 5, \
        "offers go out while nothing is free: the partition keeps them standing"
    assert queue.offers() == fans[:5], "the first five of the list, in list order"
    orders = [params["list_order"] for _, _, _, params in queue.sent]
    assert orders == sorted(orders), "each offer carries its place"
    assert offer_round(db_engine, queue, max_out=5) == 0, "at most five out at once"

    first, second = fans[0], fans[1]
    _partition_stands(db_engine, event_id, _request_of(db_engine, first), first,
                      int(queue.sent[0][3]["list_order"]))
    waiting_list.settle(db_engine, event_id)
    assert _status(db_engine, event_id, first) == "standing"
    assert waiting_list.entry_of(db_engine, event_id, first).place == 1  # type: ignore[union-attr]

    hold_id = _partition_serves(db_engine, event_id, _request_of(db_engine, first), first,
                                seats[0])
    assert offer_round(db_engine, queue, max_out=5) == 1, "served: the sixth gets an offer out"
    assert _status(db_engine, event_id, first) == "offered"
    assert queue.offers()[-1] == fans[5]
    with db_engine.connect() as conn:
        mail = conn.execute(sa.text(
            "SELECT user_id, subject FROM notifications WHERE kind = 'waitlist_offer'"
            " AND order_id = :h"), {"h": hold_id}).one()
    assert mail.user_id == first and "held for you" in mail.subject

    with db_engine.begin() as conn:  # the offer expires on the partition
        conn.execute(sa.text("UPDATE holds SET status = 'expired' WHERE hold_id = :h"),
                     {"h": hold_id})
        conn.execute(sa.text("DELETE FROM seat_claims WHERE hold_id = :h"), {"h": hold_id})
    offer_round(db_engine, queue, max_out=5)
    assert _status(db_engine, event_id, first) == "lapsed"
    assert _status(db_engine, event_id, second) == "offering"
    assert _status(db_engine, event_id, fans[6]) == "waiting"


def test_an_offer_the_partition_refused_keeps_the_fan_first(db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    _sell_out(db_engine, event_id, _seats(db_engine, event_id))
    first, second = _accounts(db_engine, 2)
    for fan in (first, second):
        waiting_list.join_list(db_engine, event_id, fan, 1, None)
    offer_round(db_engine, FakeOfferQueue(), max_out=1)
    with db_engine.begin() as conn:  # decided, neither served nor standing
        conn.execute(sa.text(
            "INSERT INTO booking_requests (request_id, event_id, buyer_id, kind, status)"
            " VALUES (:r, :e, :b, 'offer', 'done')"),
            {"r": _request_of(db_engine, first), "e": event_id, "b": first})
    waiting_list.settle(db_engine, event_id)
    assert _status(db_engine, event_id, first) == "waiting"
    assert waiting_list.entry_of(db_engine, event_id, first).place == 1  # type: ignore[union-attr]


def test_a_fan_who_leaves_has_the_standing_offer_withdrawn(db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    _sell_out(db_engine, event_id, _seats(db_engine, event_id))
    [fan] = _accounts(db_engine, 1)
    waiting_list.join_list(db_engine, event_id, fan, 1, None)
    queue = FakeOfferQueue()
    offer_round(db_engine, queue)
    request_id = _request_of(db_engine, fan)
    _partition_stands(db_engine, event_id, request_id, fan, 1)
    waiting_list.settle(db_engine, event_id)

    left = waiting_list.leave_list(db_engine, event_id, fan)
    assert left.left and left.offer_id == request_id, "the caller withdraws it on the partition"
    assert waiting_list.leave_list(db_engine, event_id, fan) == waiting_list.Left(False, None)
    assert waiting_list.withdrawals_due(db_engine, event_id) == [
        waiting_list.WithdrawalDue(request_id, fan)], "until the partition dropped it"
    offer_round(db_engine, queue)
    offer_round(db_engine, queue)
    withdrawals = [(kind, params) for _, _, kind, params in queue.sent
                   if kind is RequestKind.WITHDRAW_OFFER]
    assert withdrawals == [(RequestKind.WITHDRAW_OFFER, {"offer_id": request_id})], \
        "sent again by the round while the partition keeps it, once per key"
    with db_engine.begin() as conn:  # the partition decided the withdrawal
        conn.execute(sa.text("DELETE FROM standing_offers WHERE offer_id = :r"),
                     {"r": request_id})
    assert waiting_list.withdrawals_due(db_engine, event_id) == []
    assert _status(db_engine, event_id, fan) == "left"


def test_the_audit_names_offers_made_against_the_list_order(db_engine: Engine) -> None:
    from loadtests.audit_checks import waiting_list_offers
    from loadtests.audit_replay import replay_log

    event_id = make_event(db_engine, rows=3, seats_per_row=2)  # rows 1-2 front (A), 3 back (B)
    with db_engine.connect() as conn:
        by_category = {str(c): int(s) for s, c in conn.execute(sa.text(
            "SELECT s.id, s.category FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :id ORDER BY s.id"), {"id": event_id})}
    front, back = by_category["A"], by_category["B"]

    def stands(offer: str, place: int, tier: str | None) -> tuple[str, dict[str, object]]:
        return "StandingOfferPlaced", {"request_id": offer, "hold_id": offer, "buyer_id": place,
                                       "quantity": 1, "ttl_seconds": 600, "tier": tier,
                                       "list_order": place}

    def offered(offer: str, place: int, seat: int) -> tuple[str, dict[str, object]]:
        return "SeatsOffered", {"request_id": offer, "hold_id": offer, "buyer_id": place,
                                "seat_ids": [seat], "quantity": 1}

    def audited(*rows: tuple[str, dict[str, object]]) -> int:
        replay = replay_log((seq, kind, payload) for seq, (kind, payload) in enumerate(rows))
        with db_engine.connect() as conn:
            return waiting_list_offers(conn, event_id, replay).violations

    assert audited(stands("o1", 1, None), stands("o2", 2, None),
                   offered("o1", 1, front), offered("o2", 2, back)) == 0
    assert audited(stands("o1", 1, None), stands("o2", 2, None),
                   offered("o2", 2, back)) == 1, "served ahead of an earlier fan who could"
    assert audited(stands("o1", 1, "front"), stands("o2", 2, None),
                   offered("o2", 2, back)) == 0, "a back seat the front fan could not take"
    assert audited(stands("o1", 1, "front"), stands("o2", 2, None),
                   offered("o2", 2, front)) == 1


def test_a_new_lease_holder_serves_the_offers_the_last_one_left_standing(
        db_engine: Engine, redis_client: Any, redis_prefix: str) -> None:
    """Standing offers are inventory state in Postgres: after the consumer that stood them
    stops, the next lease holder loads them and serves them with the seats that come back."""
    import time

    from tests.support.booking import consumers_running
    from workers.enqueue import SyncRequestQueue
    from workers.keys import Keys

    keys = Keys(redis_prefix)
    queue = SyncRequestQueue(redis_client, keys, max_queue_depth=1000)
    event_id = make_event(db_engine, rows=1, seats_per_row=4, buyer_limit=4)
    holder, fan = _accounts(db_engine, 2)

    def decided(request_id: str) -> dict[str, str]:
        for _ in range(300):
            record = {k.decode(): v.decode() for k, v in
                      redis_client.hgetall(keys.request(request_id)).items()}
            if record.get("status") not in (None, "pending"):
                return record
            time.sleep(0.02)
        raise AssertionError(f"{request_id} was never decided")

    with consumers_running(redis_client, keys, db_engine, ["p0"], "first-holder"):
        hold = queue.enqueue(event_id=event_id, buyer_id=holder, kind="hold",
                             params={"quantity": 4}, partition="p0").request_id
        assert decided(hold)["status"] == "held"
        offer = queue.enqueue(event_id=event_id, buyer_id=fan, kind="offer",
                              params={"quantity": 2, "ttl_seconds": 600, "list_order": 1},
                              partition="p0").request_id
        assert '"standing": true' in decided(offer)["result"]
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT offer_id FROM standing_offers")).scalars().all() \
            == [offer]

    with consumers_running(redis_client, keys, db_engine, ["p0"], "next-holder"):
        release = queue.enqueue(event_id=event_id, buyer_id=holder, kind="release",
                                params={"hold_id": hold}, partition="p0").request_id
        assert decided(release)["status"] == "released"
        for _ in range(100):  # the record is written just before the release's own
            if decided(offer)["status"] == "held":
                break
            time.sleep(0.02)
        assert decided(offer)["status"] == "held", "served by the next lease holder"
    with db_engine.connect() as conn:
        held = conn.execute(sa.text(
            "SELECT buyer_id, cardinality(seat_ids) FROM holds WHERE request_id = :r"),
            {"r": offer}).one()
        left = conn.execute(sa.text("SELECT count(*) FROM standing_offers")).scalar_one()
    assert tuple(held) == (fan, 2) and left == 0


def test_an_entry_for_a_tier_a_presale_locked_since_is_passed_over(db_engine: Engine) -> None:
    """A presale locked the tier a fan waits for after they joined: the round sends their
    entry no offer (the partition would refuse it) and takes no offer place for it; the fan
    behind gets one. Once the fan is let into the presale, their offer goes out."""
    from engine.store import presales

    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    _sell_out(db_engine, event_id, _seats(db_engine, event_id))
    with db_engine.connect() as conn:
        tier = str(conn.execute(sa.text("SELECT code FROM price_tiers WHERE event_id = :e"
                                        " ORDER BY code LIMIT 1"), {"e": event_id}).scalar_one())
    first, second = _accounts(db_engine, 2)
    waiting_list.join_list(db_engine, event_id, first, 1, tier)
    waiting_list.join_list(db_engine, event_id, second, 1, None)
    now = datetime.now(UTC)
    presale = presales.create_presale(db_engine, event_id, "Club", now - timedelta(hours=1),
                                      now + timedelta(hours=1), [tier], 10)

    queue = FakeOfferQueue()
    assert offer_round(db_engine, queue, max_out=1) == 1
    assert queue.offers() == [second], "the locked-out fan is passed over, taking no place"
    assert _status(db_engine, event_id, first) == "waiting"

    [code] = presales.issue_codes(db_engine, presale.id, presales.CodeKind.SINGLE_USE, 1)
    assert presales.redeem_code(db_engine, event_id, code, first, now).outcome is \
        presales.RedeemOutcome.GRANTED
    with db_engine.connect() as conn:
        assert presales.tier_access(conn, event_id, first).unlocked == {tier}
    assert offer_round(db_engine, queue, max_out=2) == 1
    assert queue.offers()[-1] == first
    assert queue.sent[-1][3]["unlocked_tiers"] == [tier]


def test_the_audit_checks_each_offer_goes_to_its_entry_and_names_free_seats(
        db_engine: Engine) -> None:
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
    in_order = Replay()
    in_order.offers = [(i, r, fan) for i, (r, fan) in enumerate(requests)]
    with db_engine.connect() as conn:
        clean = waiting_list_offers(conn, event_id, in_order)
        assert clean.violations == 0 and clean.status == "pass"
        assert clean.figures["offers"] == 2 and clean.figures["offers_with_an_entry"] == 2
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
