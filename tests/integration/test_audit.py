"""`onsale audit` passes on a clean on-sale and catches each kind of injected violation.

A tiny event is sold through the real pipeline (requests enqueued as the API
does, a partition consumer deciding them, tickets issued as the payments
worker does); then one invariant at a time is broken behind the engine's back
and the audit must name exactly that check.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine, text

from engine.store.etickets import issue_tickets
from loadtests.audit import AuditResult, main, run_audit
from tests.support.booking import consumers_running, make_event
from waitingroom.config import RoomConfig
from waitingroom.keys import RoomKeys
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys
from workers.partitions import partition_for
from workers.payments import order_id_for

pytestmark = pytest.mark.integration

PARTITIONS = 8
SIGNING_KEY = b"k" * 32


@dataclass
class Sale:
    event_id: int
    engine: Engine
    redis: Redis
    prefix: str
    database_url: str
    redis_url: str
    paid_orders: list[str]
    held_hold: str

    def audit(self, **options: Any) -> AuditResult:
        return run_audit(self.database_url, self.redis_url, self.prefix, self.event_id,
                         **options)

    def sql(self, statement: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(text(statement), {"event_id": self.event_id, **params})


def _decide(redis: Redis, keys: Keys, queue: SyncRequestQueue, partition: str, event_id: int,
            requests: list[tuple[int, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    ids = [queue.enqueue(event_id=event_id, buyer_id=buyer, kind=kind, params=params,
                         partition=partition).request_id
           for buyer, kind, params in requests]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        states = [{k.decode(): v.decode() for k, v in redis.hgetall(keys.request(i)).items()}
                  for i in ids]
        if all(state["status"] != "pending" for state in states):
            return [{**state, **json.loads(state.get("result") or "{}"), "request_id": i}
                    for i, state in zip(ids, states, strict=True)]
        time.sleep(0.05)
    raise AssertionError("the partition did not decide the requests in time")


@pytest.fixture()
def sale(db_engine: Engine, database_url: str, redis_url: str, redis_prefix: str,
         redis_client: Redis) -> Iterator[Sale]:
    """A clean little on-sale: holds, a rejection, a release, GA, two paid orders with tickets."""
    event_id = make_event(db_engine, rows=2, seats_per_row=5, ga_capacity=6, buyer_limit=4)
    keys = Keys(redis_prefix)
    partition = partition_for(event_id, PARTITIONS, {})
    queue = SyncRequestQueue(redis_client, keys, 1000)
    with consumers_running(redis_client, keys, db_engine, [partition], "audit-test"):
        first = _decide(redis_client, keys, queue, partition, event_id, [
            (1, "hold", {"quantity": 2}),
            (2, "hold", {"zone_id": _zone_id(db_engine, event_id), "quantity": 3}),
            (3, "hold", {"quantity": 1}),
            (4, "hold", {"quantity": 2}),
            (5, "hold", {"quantity": 9}),  # over the buyer limit: rejected
        ])
        assert [d["status"] for d in first] == ["held"] * 4 + ["rejected"], first
        paid = [order_id_for(first[0]["hold_id"]), order_id_for(first[1]["hold_id"])]
        _decide(redis_client, keys, queue, partition, event_id, [
            (1, "sell", {"hold_id": first[0]["hold_id"], "order_id": paid[0]}),
            (2, "sell", {"hold_id": first[1]["hold_id"], "order_id": paid[1]}),
            (4, "release", {"hold_id": first[3]["hold_id"]}),
        ])
        for order_id in paid:
            assert issue_tickets(db_engine, order_id, SIGNING_KEY)
            redis_client.hset(keys.order(order_id), mapping={
                "order_id": order_id, "status": "paid", "buyer_id": "1"})
        _room(redis_client, redis_prefix, event_id, {1: 1, 2: 2, 3: 3, 4: 4, 5: 5})
        yield Sale(event_id, db_engine, redis_client, redis_prefix, database_url, redis_url,
                   paid, held_hold=first[2]["hold_id"])


def _zone_id(engine: Engine, event_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT z.id FROM ga_zones z JOIN events e ON e.venue_id = z.venue_id"
            " WHERE e.id = :event_id"), {"event_id": event_id}).scalar_one())


def _room(redis: Redis, prefix: str, event_id: int, seq_by_account: dict[int, int]) -> None:
    keys = RoomKeys(prefix, event_id)
    config = RoomConfig(opens_at=0.0, sale_starts_at=0.0)
    redis.hset(keys.config, mapping=config.to_fields())  # type: ignore[arg-type]
    redis.hset(keys.state, mapping={"joined": str(len(seq_by_account)), "started_at": "1.0",
                                    "prequeue_size": "0"})
    redis.hset(keys.members, mapping={str(a): str(s) for a, s in seq_by_account.items()})


def _failed(result: AuditResult) -> set[str]:
    return {check.name for check in result.checks if not check.ok}


def test_clean_sale_passes_every_check(sale: Sale) -> None:
    result = sale.audit()
    assert result.ok, result.table()
    assert result.check("orders_tickets").figures == {"paid_orders": 2, "tickets": 5}
    fifo = result.check("fifo_share")
    assert fifo.status == "info" and fifo.figures["share"] == 1.0, fifo.figures
    assert result.check("queue_order").figures["decisions_compared"] == 5


def test_a_seat_sold_twice_is_caught(sale: Sale) -> None:
    seat = sale.sql("SELECT seat_id FROM order_lines WHERE order_id = :o AND seat_id IS NOT NULL"
                    " LIMIT 1", o=sale.paid_orders[0]).scalar_one()
    hold = sale.held_hold
    sale.sql("UPDATE holds SET seat_ids = seat_ids || CAST(:seat AS bigint),"
             " prices_cents = prices_cents || 100, quantity = quantity + 1"
             " WHERE hold_id = :hold", seat=seat, hold=hold)
    assert {"seats_once", "holds_returned", "buyer_limits"} <= _failed(sale.audit())


def test_a_double_claim_in_the_log_is_caught(sale: Sale) -> None:
    seat = sale.sql("SELECT seat_id FROM seat_claims WHERE event_id = :event_id"
                    " AND state = 'sold' LIMIT 1").scalar_one()
    sale.sql("INSERT INTO inventory_events (event_id, inventory_version, type, payload)"
             " VALUES (:event_id, 0, 'SeatsHeld', CAST(:payload AS jsonb))",
             payload=json.dumps({"type": "SeatsHeld", "request_id": "x", "hold_id": "x",
                                 "buyer_id": 99, "seat_ids": [seat], "prices_cents": [1],
                                 "total_cents": 1, "expires_at": 0}))
    result = sale.audit()
    assert _failed(result) == {"log_replay"}, result.table()
    assert any(f"seat {seat} held by x while sold" in e
               for e in result.check("log_replay").examples)


def test_a_ticket_without_a_paid_order_is_caught(sale: Sale) -> None:
    sale.sql("UPDATE orders SET status = 'refunded' WHERE order_id = :o", o=sale.paid_orders[1])
    failed = _failed(sale.audit())
    assert "orders_tickets" in failed and "capacity" in failed, failed


def test_a_refunded_order_that_kept_its_seats_is_caught(sale: Sale) -> None:
    order = sale.paid_orders[0]
    sale.sql("UPDATE orders SET status = 'refunded' WHERE order_id = :o", o=order)
    sale.sql("UPDATE tickets SET status = 'void' WHERE order_id = :o", o=order)
    result = sale.audit()
    assert "orders_tickets" in _failed(result), result.table()
    assert any(f"still sold to refunded order {order}" in e
               for e in result.check("orders_tickets").examples), \
        result.check("orders_tickets").examples


def test_a_paid_order_missing_tickets_is_caught(sale: Sale) -> None:
    sale.sql("DELETE FROM tickets WHERE order_id = :o", o=sale.paid_orders[0])
    assert _failed(sale.audit()) == {"orders_tickets"}


def test_a_stuck_pending_request_and_checkout_are_caught(sale: Sale) -> None:
    keys = Keys(sale.prefix)
    sale.redis.hset(keys.request(f"{sale.event_id}-stuck"), mapping={
        "status": "pending", "kind": "hold", "buyer_id": "7", "partition": "p0", "seq": "999"})
    sale.redis.hset(keys.order(f"{sale.event_id}-stuck-o"), mapping={
        "order_id": f"{sale.event_id}-stuck-o", "status": "authorizing", "buyer_id": "7"})
    result = sale.audit(settle_seconds=0.2)
    assert _failed(result) == {"requests_final"}
    assert result.check("requests_final").violations == 2


def test_an_expired_hold_that_kept_its_seats_is_caught(sale: Sale) -> None:
    sale.sql("UPDATE holds SET status = 'expired' WHERE hold_id = :h", h=sale.held_hold)
    assert "holds_returned" in _failed(sale.audit())


def test_an_overdue_hold_is_caught_unless_the_check_is_off(sale: Sale) -> None:
    sale.sql("UPDATE holds SET expires_at = now() - interval '1 minute' WHERE hold_id = :h",
             h=sale.held_hold)
    assert _failed(sale.audit()) == {"holds_returned"}
    assert sale.audit(expiry_grace_seconds=None).ok


def test_a_buyer_over_the_limit_is_caught(sale: Sale) -> None:
    sale.sql("UPDATE events SET buyer_limit = 1 WHERE id = :event_id")
    assert _failed(sale.audit()) == {"buyer_limits"}


def test_fifo_share_is_measured_and_can_be_required(sale: Sale) -> None:
    reversed_places = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}
    result = sale.audit(positions=None, min_fifo_share=0.9)
    assert result.ok
    sale.redis.delete(RoomKeys(sale.prefix, sale.event_id).members)
    backwards = sale.audit(positions=reversed_places, min_fifo_share=0.9)
    assert _failed(backwards) == {"fifo_share"}
    assert backwards.check("fifo_share").figures["share"] == 0.0


def test_cli_prints_a_table_or_json_and_exits_by_the_result(
        sale: Sale, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ONSALE_DATABASE_URL", sale.database_url)
    monkeypatch.setenv("ONSALE_REDIS_URL", sale.redis_url)
    monkeypatch.setenv("ONSALE_REDIS_PREFIX", sale.prefix)
    assert main(["--event", str(sale.event_id), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    sale.sql("UPDATE events SET buyer_limit = 1 WHERE id = :event_id")
    assert main(["--event", str(sale.event_id)]) == 1
    assert re.search(r"^buyer_limits +FAIL", capsys.readouterr().out, re.MULTILINE)
    assert main(["--event", "999999"]) == 2
