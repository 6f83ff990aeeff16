"""A fan's booking journey over HTTP, with a real partition consumer and a real RQ
payments worker behind the API: reserve, follow by SSE, pay (declined, then paid),
get e-tickets; and the refusals a fan can meet on the way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from rq import Queue
from sqlalchemy import text

from api.launcher.settings import Settings
from engine.store.db import make_engine
from engine.store.notifications import dispatch_due
from tests.e2e.conftest import migrated_database
from tests.support.booking import consumers_running, make_event
from tests.support.catalog_http import account
from tests.support.redis_targets import single_and_cluster_redis_url
from workers import payments
from workers.enqueue import SyncRequestQueue
from workers.gateway import PaymentResult
from workers.gateways.sandbox import TestGateway
from workers.keys import Keys
from workers.mailers import make_mailer
from workers.partitions import partition_for
from workers.payments_runner import PaymentJobRunner
from workers.redis_client import is_cluster_client
from workers.rqworker import SimpleWorkerWithoutCommands

pytestmark = pytest.mark.e2e

DECLINED_CARD = "4000 0000 0000 0002"
GOOD_CARD = "4242 4242 4242 4242"

redis_url = single_and_cluster_redis_url()


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str, redis_url: str) -> Iterator[str]:
    """A database per Redis target: the [single] and [cluster] runs register the same fans."""
    yield from migrated_database(pg_admin_url)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Any]:
    db = make_engine(database_url)
    yield db
    db.dispose()


@pytest.fixture()
def event_id(engine: Any) -> int:
    return make_event(engine, rows=2, seats_per_row=6, buyer_limit=4)


class RecordingGateway(TestGateway):
    """The test gateway, noting every capture and void."""

    def __init__(self) -> None:
        super().__init__()
        self.captures: list[str] = []
        self.voids: list[str] = []

    def capture(self, reference: str, idempotency_key: str) -> PaymentResult:
        self.captures.append(reference)
        return super().capture(reference, idempotency_key)

    def void(self, reference: str, idempotency_key: str) -> PaymentResult:
        self.voids.append(reference)
        return super().void(reference, idempotency_key)


@pytest.fixture()
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture()
def backend(settings: Settings, engine: Any, event_id: int, redis_client: Redis,
            gateway: TestGateway) -> Iterator[Redis]:
    """The partition consumer for the event, in a thread, and the payments context."""
    keys = Keys(settings.redis_prefix)
    payments.configure(payments.PaymentsContext(
        redis=redis_client, keys=keys, gateway=gateway,
        requests=SyncRequestQueue(redis_client, keys, settings.max_queue_depth),
        partition_of=lambda e: partition_for(e, settings.partitions, {}),
        **payments.postgres_parts(engine, b"k" * 32)))
    with consumers_running(redis_client, keys, engine,
                           [partition_for(event_id, settings.partitions, {})], "e2e-worker"):
        yield redis_client


async def run_payment_jobs(redis: Redis, settings: Settings) -> None:
    if is_cluster_client(redis):
        PaymentJobRunner(redis, Keys(settings.redis_prefix).payments_queue_name()).drain()
        return
    queue = Queue(Keys(settings.redis_prefix).payments_queue_name(), connection=redis)
    worker = SimpleWorkerWithoutCommands([queue], connection=redis)
    worker.work(burst=True, with_scheduler=False)  # installs signal handlers: main thread only


async def signed_in(client: TestClient[Any, Any], email: str) -> dict[str, str]:
    response = await client.post("/auth/register", json={"email": email,
                                                          "password": "correct horse"})
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def wait_for(client: TestClient[Any, Any], url: str, headers: dict[str, str],
                   done: set[str]) -> dict[str, Any]:
    for _ in range(200):
        body = await (await client.get(url, headers=headers)).json()
        if body["status"] in done:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never reached {done}: {body}")


def outbox(engine: Any, order_id: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT kind, recipient, subject, body FROM notifications WHERE order_id = :o"
            " ORDER BY id"), {"o": order_id}).all())


async def test_reserve_follow_by_sse_pay_and_get_tickets(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any, tmp_path: Any) -> None:
    fan = await signed_in(client, "fan1@example.com")
    response = await client.post(f"/events/{event_id}/reservations",
                                 json={"best_available": {"quantity": 2}},
                                 headers={**fan, "Idempotency-Key": "try-1"})
    assert response.status == 202
    accepted = await response.json()
    again = await client.post(f"/events/{event_id}/reservations",
                              json={"best_available": {"quantity": 2}},
                              headers={**fan, "Idempotency-Key": "try-1"})
    assert (await again.json())["request_id"] == accepted["request_id"], "idempotency"

    stream = await client.get(accepted["events_url"], headers=fan)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in (await stream.text()).splitlines()
              if line.startswith("data:")]
    held = events[-1]
    assert held["status"] == "held", events
    assert len(held["seats"]) == 2 and held["total_cents"] == 18000

    declined = await client.post(f"/holds/{held['hold_id']}/purchase", headers=fan,
                                 json={"payment_method": {"card_number": DECLINED_CARD}})
    assert declined.status == 202
    order_url = (await declined.json())["status_url"]
    assert (await declined.json())["card_last4"] == "0002"
    record = backend.hgetall(Keys(settings.redis_prefix).order((await declined.json())["order_id"]))
    assert not any(DECLINED_CARD.replace(" ", "") in v.decode() for v in record.values()), \
        "the card number is tokenized at the API, never stored or queued"
    await run_payment_jobs(backend, settings)
    order = await wait_for(client, order_url, fan, {"declined"})
    assert order["error"]["code"] == "card_declined"

    retry = await client.post(f"/holds/{held['hold_id']}/purchase", headers=fan,
                              json={"payment_method": {"card_number": GOOD_CARD}})
    assert retry.status == 202, "a declined payment leaves the hold so the fan can retry"
    await run_payment_jobs(backend, settings)  # authorize -> sell request on the partition
    await wait_for(client, order_url, fan, {"authorized", "paid"})  # capture may be quick
    for _ in range(100):  # the partition decides the sale, then capture runs
        await run_payment_jobs(backend, settings)
        order = await (await client.get(order_url, headers=fan)).json()
        if order["status"] == "paid":
            break
        await asyncio.sleep(0.05)
    assert order["status"] == "paid", order
    assert len(order["tickets"]) == 2
    assert all(t["qr_payload"] for t in order["tickets"])

    [mail] = outbox(engine, order["order_id"])  # written with the tickets (outbox)
    assert (mail.kind, mail.recipient) == ("order_paid", "fan1@example.com")
    assert all(t["qr_payload"] in mail.body for t in order["tickets"])
    mailbox = tmp_path / "mailbox.jsonl"
    mailer = make_mailer(f"file:{mailbox}", "onsale <tickets@onsale.invalid>")
    while dispatch_due(engine, mailer.send)[0]:  # this database's other tests' mail too
        pass
    assert dispatch_due(engine, mailer.send) == (0, 0), "each sent once"
    [sent] = [m for m in map(json.loads, mailbox.read_text().splitlines())
              if m["order_id"] == order["order_id"]]
    assert sent["to"] == "fan1@example.com" and sent["subject"].startswith("Your tickets")


async def fan_holding(client: TestClient[Any, Any], event_id: int, email: str,
                      quantity: int) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """A new fan's headers, the 202 of their best-available reservation, and its decision."""
    fan = await signed_in(client, email)
    accepted = await (await client.post(f"/events/{event_id}/reservations",
                                        json={"best_available": {"quantity": quantity}},
                                        headers=fan)).json()
    return fan, accepted, await wait_for(client, accepted["status_url"], fan,
                                         {"held", "rejected"})


async def pay(client: TestClient[Any, Any], backend: Redis, settings: Settings,
              fan: dict[str, str], hold_id: str) -> dict[str, Any]:
    """Buy a hold with the good test card; the paid order."""
    response = await client.post(f"/holds/{hold_id}/purchase", headers=fan,
                                 json={"payment_method": {"card_number": GOOD_CARD}})
    assert response.status == 202
    order_url = (await response.json())["status_url"]
    for _ in range(200):  # authorize -> sell on the partition -> capture
        await run_payment_jobs(backend, settings)
        order = await (await client.get(order_url, headers=fan)).json()
        if order["status"] == "paid":
            return dict(order)
        await asyncio.sleep(0.05)
    raise AssertionError(f"never paid: {order}")


async def test_cancelling_an_event_refunds_its_paid_orders(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any, gateway: TestGateway) -> None:
    fan, _accepted, held = await fan_holding(client, event_id, "refunded@example.com", 2)
    order = await pay(client, backend, settings, fan, held["hold_id"])
    assert len(order["tickets"]) == 2

    ops = await account(client, engine, "ops")
    cancelled = await client.post(f"/events/{event_id}/cancel", headers=ops)
    assert cancelled.status == 200, await cancelled.text()
    for _ in range(200):  # the partition notices within a second, then the refund job runs
        await run_payment_jobs(backend, settings)
        order = await (await client.get(f"/orders/{order['order_id']}", headers=fan)).json()
        if order["status"] == "refunded":
            break
        await asyncio.sleep(0.05)
    assert order["status"] == "refunded", order
    assert order["tickets"] == [] and order["error"]["code"] == "event_cancelled"
    assert [amount for _, amount in gateway.refunds] == [order["amount_cents"]]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT status, refunded_at, payment_ref FROM orders"
                                   " WHERE order_id = :o"), {"o": order["order_id"]}).one()
        tickets = conn.execute(text("SELECT status FROM tickets WHERE order_id = :o"),
                               {"o": order["order_id"]}).scalars().all()
        claims = conn.execute(text("SELECT count(*) FROM seat_claims WHERE event_id = :e"),
                              {"e": event_id}).scalar()
    assert stored.status == "refunded" and stored.refunded_at is not None
    assert (stored.payment_ref, order["amount_cents"]) == gateway.refunds[0], \
        "refunded at the gateway under the captured payment's reference"
    assert tickets == ["void", "void"] and claims == 0
    await run_payment_jobs(backend, settings)
    assert len(gateway.refunds) == 1, "refunded once"
    assert [(m.kind, m.recipient) for m in outbox(engine, order["order_id"])] == [
        ("order_paid", "refunded@example.com"), ("order_refunded", "refunded@example.com")]


async def test_a_refund_that_overtakes_its_capture_takes_no_money(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any, gateway: RecordingGateway) -> None:
    """The event is cancelled between the sale and its capture, and the refund job runs
    first (another payments worker): it voids the authorization, and the capture that
    comes after takes nothing. Capture and refund of one order hold one lock."""
    fan, _accepted, held = await fan_holding(client, event_id, "overtaken@example.com", 1)
    buy = await client.post(f"/holds/{held['hold_id']}/purchase", headers=fan,
                            json={"payment_method": {"card_number": GOOD_CARD}})
    order_id = (await buy.json())["order_id"]

    async def order_in_postgres(status: str) -> None:
        for _ in range(200):
            with engine.connect() as conn:
                if conn.execute(text("SELECT status FROM orders WHERE order_id = :o"),
                                {"o": order_id}).scalar() == status:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"order {order_id} never {status}")

    queue = Queue(Keys(settings.redis_prefix).payments_queue_name(), connection=backend)
    authorize = queue.jobs[0]
    authorize.perform()  # authorized: the sale goes to the partition
    await order_in_postgres("paid")  # sold; its capture job waits on the payments queue
    ops = await account(client, engine, "ops")
    assert (await client.post(f"/events/{event_id}/cancel", headers=ops)).status == 200
    await order_in_postgres("refunded")  # the partition refunded it; a refund job waits too
    assert payments.refund_order(order_id) == "authorization voided"  # overtakes the capture
    await run_payment_jobs(backend, settings)  # the capture, then the refund (already done)
    assert gateway.captures == [] and gateway.refunds == [] and len(gateway.voids) == 1
    order = await (await client.get(f"/orders/{order_id}", headers=fan)).json()
    assert order["status"] == "refunded" and order["tickets"] == []
    [mail] = outbox(engine, order_id)
    assert mail.kind == "order_refunded" and "nothing was charged" in mail.body


async def test_ops_refund_a_paid_order_and_its_seats_go_back_on_sale(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any, gateway: TestGateway) -> None:
    fan, _accepted, held = await fan_holding(client, event_id, "customer-service@example.com", 2)
    order = await pay(client, backend, settings, fan, held["hold_id"])
    url = f"/orders/{order['order_id']}/refund"

    assert (await client.post(url, headers=fan)).status == 403, "ops only"
    ops = await account(client, engine, "ops")
    gate = f"/events/{event_id}/scans"
    first, second = (t["qr_payload"] for t in order["tickets"])
    assert (await client.post(gate, json={"qr": first}, headers=fan)).status == 403
    # Two gates scan the same code at once: one fan gets in.
    admitted, twice = sorted(await asyncio.gather(
        *(client.post(gate, json={"qr": first}, headers=ops) for _ in range(2))),
        key=lambda response: response.status)
    assert admitted.status == 200, await admitted.text()
    assert (await admitted.json())["ticket"]["seat"], "the gate is told the seat"
    assert twice.status == 409
    assert (await twice.json())["error"]["code"] == "ticket_already_used"
    forged = await client.post(gate, json={"qr": first.split(".")[0] + "." + "0" * 32},
                               headers=ops)
    assert forged.status == 404 and (await forged.json())["error"]["code"] == "ticket_not_found"
    garbled = await client.post(gate, json={"qr": "not a ticket"}, headers=ops)
    assert garbled.status == 400 and (await garbled.json())["error"]["details"]["field"] == "qr"
    missing = await client.post("/orders/no-such-order/refund", headers=ops)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "order_not_found"
    response = await client.post(url, headers=ops)
    assert response.status == 202, await response.text()
    decided = await wait_for(client, (await response.json())["status_url"], ops,
                             {"refunded", "rejected"})
    assert decided["status"] == "refunded" and decided["order_id"] == order["order_id"]
    for _ in range(100):
        await run_payment_jobs(backend, settings)
        order = await (await client.get(f"/orders/{order['order_id']}", headers=fan)).json()
        if order["status"] == "refunded":
            break
        await asyncio.sleep(0.05)
    assert order["status"] == "refunded" and order["error"]["code"] == "order_refunded"
    assert [amount for _, amount in gateway.refunds] == [order["amount_cents"]]
    [_, refund_mail] = outbox(engine, order["order_id"])
    assert refund_mail.kind == "order_refunded" and refund_mail.subject.startswith("Refund")
    with engine.connect() as conn:
        claims = conn.execute(text("SELECT count(*) FROM seat_claims WHERE event_id = :e"),
                              {"e": event_id}).scalar()
    assert claims == 0, "the refunded seats are back on sale"
    again = await client.post(url, headers=ops)
    assert again.status == 409
    assert (await again.json())["error"]["details"]["status"] == "refunded"
    void = await client.post(gate, json={"qr": second}, headers=ops)
    assert void.status == 409 and (await void.json())["error"]["code"] == "ticket_void", \
        "a refunded order's tickets no longer let anyone in"


async def test_refusals_have_stable_codes(client: TestClient[Any, Any], backend: Redis,
                                          event_id: int) -> None:
    url = f"/events/{event_id}/reservations"
    anonymous = await client.post(url, json={"best_available": {"quantity": 1}})
    assert anonymous.status == 401
    assert (await anonymous.json())["error"]["code"] == "unauthorized"
    fan = await signed_in(client, "fan2@example.com")
    bad = await client.post(url, json={"best_available": {"quantity": 0}}, headers=fan)
    assert bad.status == 400
    assert (await bad.json())["error"]["details"]["field"] == "best_available.quantity"
    both = await client.post(url, json={"seats": [1], "best_available": {"quantity": 1}},
                             headers=fan)
    assert both.status == 400
    accepted = await (await client.post(url, json={"best_available": {"quantity": 1}},
                                        headers=fan)).json()
    other = await signed_in(client, "other@example.com")
    peek = await client.get(accepted["status_url"], headers=other)
    assert peek.status == 404, "a fan can never read another fan's request"
    held = await wait_for(client, accepted["status_url"], fan, {"held", "rejected"})
    steal = await client.delete(f"/holds/{held['hold_id']}", headers=other)
    assert steal.status == 404 and (await steal.json())["error"]["code"] == "hold_not_found"
    too_many = await client.post(url, json={"best_available": {"quantity": 5}}, headers=fan)
    decided = await wait_for(client, (await too_many.json())["status_url"], fan,
                             {"held", "rejected"})
    assert decided["error"]["code"] == "limit_exceeded"


async def test_a_released_hold_says_so_and_cannot_be_bought(
        client: TestClient[Any, Any], backend: Redis, event_id: int) -> None:
    fan, accepted, held = await fan_holding(client, event_id, "released@example.com", 1)
    assert held["status"] == "held" and held["hold_status"] == "active"
    release = await client.delete(f"/holds/{held['hold_id']}", headers=fan)
    assert release.status == 202
    await wait_for(client, (await release.json())["status_url"], fan, {"released"})
    after = await (await client.get(accepted["status_url"], headers=fan)).json()
    assert after["status"] == "held", "the request's decision stays what it was"
    assert after["hold_status"] == "released"
    twice = await client.delete(f"/holds/{held['hold_id']}", headers=fan)
    assert twice.status == 404
    assert (await twice.json())["error"]["details"]["hold_status"] == "released"
    buy = await client.post(f"/holds/{held['hold_id']}/purchase", headers=fan,
                            json={"payment_method": {"card_number": GOOD_CARD}})
    assert buy.status == 404
    error = (await buy.json())["error"]
    assert error["code"] == "hold_not_found" and error["details"]["hold_status"] == "released"


@pytest.fixture()
async def tiny_queue_client(settings: Settings, aiohttp_client: Any) -> AsyncIterator[Any]:
    from api.http.app import create_app

    yield await aiohttp_client(create_app(settings.replace(max_queue_depth=1)))


async def test_full_partition_answers_429_with_retry_after(tiny_queue_client: Any,
                                                           event_id: int) -> None:
    fan = await signed_in(tiny_queue_client, "fan3@example.com")
    url = f"/events/{event_id}/reservations"
    first = await tiny_queue_client.post(url, json={"best_available": {"quantity": 1}},
                                         headers=fan)
    assert first.status == 202
    second = await tiny_queue_client.post(url, json={"best_available": {"quantity": 1}},
                                          headers=fan)
    assert second.status == 429
    assert (await second.json())["error"]["code"] == "queue_full"
    assert second.headers.get("Retry-After")


async def test_a_paid_order_whose_record_redis_lost_is_read_from_postgres(
        client: TestClient[Any, Any], backend: Redis, settings: Settings,
        event_id: int) -> None:
    """The checkout record lives in Redis; once the partition sold the hold, Postgres has the
    order and its tickets. With the record gone (Redis lost it), the owner still gets the
    paid order and the same tickets, marked as read from the database; nobody else does."""
    fan, _, held = await fan_holding(client, event_id, "lost-record@example.com", 2)
    paid = await pay(client, backend, settings, fan, held["hold_id"])
    backend.delete(Keys(settings.redis_prefix).order(paid["order_id"]))

    response = await client.get(f"/orders/{paid['order_id']}", headers=fan)
    assert response.status == 200, await response.text()
    order = await response.json()
    assert (order["status"], order["from"], order["hold_id"]) == (
        "paid", "database", paid["hold_id"])
    assert [t["ticket_id"] for t in order["tickets"]] == \
        [t["ticket_id"] for t in paid["tickets"]]
    assert order["amount_cents"] == paid["amount_cents"] and "buyer_id" not in order
    stream = await client.get(f"/orders/{paid['order_id']}/events", headers=fan)
    assert '"status": "paid"' in await stream.text(), "the stream ends on the stored state"

    other = await signed_in(client, "not-the-buyer@example.com")
    refused = await client.get(f"/orders/{paid['order_id']}", headers=other)
    assert refused.status == 404
    assert (await client.get("/orders/no-such-order", headers=fan)).status == 404
