"""The booking pipeline against real Redis and Postgres: queue order, crash recovery,
fencing, expiry, idempotency and backpressure. Each test names the invariant it protects."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine, text

from tests.support.booking import make_event
from tests.support.redis_targets import single_and_cluster_redis_url
from workers.consumer import REFUND_SWEEP_SECONDS, ConsumerConfig, PartitionConsumer
from workers.enqueue import (
    Enqueued,
    IdempotencyConflict,
    QueueFull,
    RequestQueue,
    SyncRequestQueue,
)
from workers.keys import (
    RQ_JOB_PREFIX,
    RQ_QUEUE_PREFIX,
    Keys,
    rq_failed_registry,
    rq_finished_registry,
)
from workers.lease import LeaseLost
from workers.pg_store import PostgresBookingStore
from workers.publish import results_message_lines
from workers.redis_client import async_client

pytestmark = pytest.mark.integration

PARTITION = "p0"

redis_url = single_and_cluster_redis_url()


class Clock:
    def __init__(self, now: float = 1_900_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def keys(redis_prefix: str) -> Keys:
    return Keys(redis_prefix)


@pytest.fixture()
def queue(redis_client: Redis, keys: Keys) -> SyncRequestQueue:
    return SyncRequestQueue(redis_client, keys, max_queue_depth=1000)


def consumer(redis: Redis, keys: Keys, engine: Engine, owner: str = "w1",
             clock: Clock | None = None, lease_ttl_ms: int = 3000,
             batch_max: int = 64) -> PartitionConsumer:
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    return PartitionConsumer(redis, keys, PARTITION, owner, PostgresBookingStore(engine),
                             ConsumerConfig(batch_max=batch_max, lease_ttl_ms=lease_ttl_ms),
                             **kwargs)


def hold_best(queue: SyncRequestQueue, event_id: int, buyer: int, quantity: int = 2,
              key: str | None = None) -> str:
    return queue.enqueue(event_id=event_id, buyer_id=buyer, kind="hold",
                         params={"quantity": quantity}, partition=PARTITION,
                         idempotency_key=key).request_id


def status(redis: Redis, keys: Keys, request_id: str) -> dict[str, Any]:
    raw = {k.decode(): v.decode() for k, v in redis.hgetall(keys.request(request_id)).items()}
    raw["result"] = json.loads(raw.get("result") or "{}")
    return raw


def drain(worker: PartitionConsumer, redis: Redis, keys: Keys) -> None:
    while redis.llen(keys.queue(PARTITION)):
        worker.step()


def live_claims(engine: Engine, event_id: int) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT seat_id, count(*) FROM seat_claims WHERE event_id = :e GROUP BY seat_id"),
            {"e": event_id})]


def test_decisions_follow_queue_order(redis_client: Redis, keys: Keys, queue: SyncRequestQueue,
                                      db_engine: Engine) -> None:
    """FIFO within a partition: with room for 10 pairs, the first 10 in the queue get them."""
    event_id = make_event(db_engine, rows=2, seats_per_row=10)
    ids = [hold_best(queue, event_id, buyer) for buyer in range(1, 16)]
    worker = consumer(redis_client, keys, db_engine)
    assert worker.try_take_over()
    drain(worker, redis_client, keys)
    states = [status(redis_client, keys, r)["status"] for r in ids]
    assert states == ["held"] * 10 + ["rejected"] * 5, "decisions out of queue order"
    assert status(redis_client, keys, ids[-1])["result"]["error"]["code"] == "sold_out"
    rows = [status(redis_client, keys, r)["result"]["seats"][0]["row"] for r in ids[:10]]
    assert rows == sorted(rows), "earlier requests got worse rows than later ones"
    assert all(count == 1 for _, count in live_claims(db_engine, event_id))
    finished = redis_client.zrange(rq_finished_registry(keys.queue_name(PARTITION)), 0, -1)
    assert len(finished) == 15, "RQ's finished registry must list every decided job"
    assert redis_client.hget(RQ_JOB_PREFIX + ids[0], "status") == b"finished"


def test_results_channel_carries_each_decision_in_queue_order(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """One message per batch, one `id TAB json` line per decision (SSE listeners decode only
    their own); a job whose data is gone is published as failed and lands in RQ's failed
    registry, the others in the finished one."""
    event_id = make_event(db_engine, rows=1, seats_per_row=4)
    ids = [hold_best(queue, event_id, buyer) for buyer in range(1, 5)]
    redis_client.hdel(RQ_JOB_PREFIX + ids[3], "data")
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.results_channel(PARTITION))
    worker = consumer(redis_client, keys, db_engine)
    assert worker.try_take_over()
    drain(worker, redis_client, keys)
    message = None
    for _ in range(3):  # the first read may be the subscription's own confirmation
        message = message or pubsub.get_message(timeout=5.0)
    pubsub.close()
    assert message is not None
    lines = results_message_lines(message["data"])
    assert [request_id for request_id, _ in lines] == ids
    items = [json.loads(body) for _, body in lines]
    assert [item["request_id"] for item in items] == ids
    assert [item["status"] for item in items] == ["held", "held", "rejected", "failed"]
    assert items[0]["result"]["seats"][0]["row"] and items[0]["event_id"] == event_id
    queue_name = keys.queue_name(PARTITION)
    assert sorted(redis_client.zrange(rq_finished_registry(queue_name), 0, -1)) == \
        sorted(i.encode() for i in ids[:3])
    assert redis_client.zrange(rq_failed_registry(queue_name), 0, -1) == [ids[3].encode()]


def test_same_idempotency_key_returns_the_same_request(queue: SyncRequestQueue,
                                                       db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    first = hold_best(queue, event_id, 1, key="k-1")
    assert hold_best(queue, event_id, 1, key="k-1") == first, "idempotency key made a 2nd hold"
    with pytest.raises(IdempotencyConflict):
        hold_best(queue, event_id, 1, quantity=3, key="k-1")
    assert hold_best(queue, event_id, 2, key="k-1") != first, "keys are scoped per buyer"


def test_backpressure_refuses_beyond_max_depth(redis_client: Redis, keys: Keys,
                                               db_engine: Engine) -> None:
    small = SyncRequestQueue(redis_client, keys, max_queue_depth=3)
    event_id = make_event(db_engine)
    for buyer in range(3):
        hold_best(small, event_id, buyer)
    with pytest.raises(QueueFull) as full:
        hold_best(small, event_id, 99)
    assert full.value.depth == 3
    assert redis_client.llen(keys.queue(PARTITION)) == 3, "the queue must stay bounded"


async def test_requests_of_one_loop_turn_go_as_one_group_with_answers_of_their_own(
        redis_url: str, redis_client: Redis, keys: Keys, db_engine: Engine) -> None:
    """The async queue groups concurrent callers into one script call; each caller still
    gets its own idempotency and backpressure answer, and the queue keeps call order."""
    event_id = make_event(db_engine)
    client = async_client(redis_url)
    grouped = RequestQueue(client, keys, max_queue_depth=4)

    def hold(buyer: int, key: str | None = None, quantity: int = 2) -> Any:
        return grouped.enqueue(event_id=event_id, buyer_id=buyer, kind="hold",
                               params={"quantity": quantity}, partition=PARTITION,
                               idempotency_key=key)
    try:
        answers = await asyncio.gather(
            hold(1, "k"), hold(1, "k"), hold(1, "k", quantity=3), hold(2), hold(3), hold(4),
            hold(5), return_exceptions=True)
    finally:
        await client.aclose()
    first, again, conflict, *others = answers
    assert not first.duplicate and again.duplicate and again.request_id == first.request_id
    assert isinstance(conflict, IdempotencyConflict)
    assert [type(a) for a in others] == [Enqueued, Enqueued, Enqueued, QueueFull]
    queued = [i.decode() for i in redis_client.lrange(keys.queue(PARTITION), 0, -1)]
    assert queued == [first.request_id, *(a.request_id for a in others[:3])]
    assert redis_client.hget(keys.request(first.request_id), "status") == b"pending"


class CountingQueue(RequestQueue):
    """The async queue, noting the size of every group it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[int] = []

    async def _send(self, group: list[Any]) -> None:
        self.groups.append(len(group))
        await super()._send(group)


async def test_requests_arriving_while_a_call_is_out_wait_and_go_as_one_group(
        redis_url: str, keys: Keys, db_engine: Engine) -> None:
    """Group commit: one request per loop turn, as an API process gets them from separate
    fans; while the first call is out, the next ones are held and go together."""
    event_id = make_event(db_engine)
    client = async_client(redis_url)
    grouped = CountingQueue(client, keys, max_queue_depth=1000)
    unlimited = CountingQueue(client, keys, max_queue_depth=1000, max_in_flight=None)

    async def trickle(queue: CountingQueue) -> list[Enqueued]:
        tasks = []
        for buyer in range(1, 13):
            tasks.append(asyncio.create_task(queue.enqueue(
                event_id=event_id, buyer_id=buyer, kind="hold", params={"quantity": 1},
                partition=PARTITION)))
            await asyncio.sleep(0)  # the next fan's request comes a loop turn later
        return list(await asyncio.gather(*tasks))

    try:
        answers = await trickle(grouped)
        await trickle(unlimited)
    finally:
        await client.aclose()
    assert sum(grouped.groups) == 12 and len(grouped.groups) < 12, grouped.groups
    assert grouped.groups[0] == 1, "alone, a request goes at once"
    assert len(unlimited.groups) > len(grouped.groups), (unlimited.groups, grouped.groups)
    assert len({a.request_id for a in answers}) == 12, "each caller its own answer"


def test_crash_after_taking_a_batch_loses_nothing(redis_client: Redis, keys: Keys,
                                                  queue: SyncRequestQueue,
                                                  db_engine: Engine) -> None:
    """A holder that dies between taking and committing: the next holder decides the batch."""
    event_id = make_event(db_engine)
    ids = [hold_best(queue, event_id, buyer) for buyer in range(1, 6)]
    first = consumer(redis_client, keys, db_engine, owner="dies", lease_ttl_ms=200)
    assert first.try_take_over()
    taken = first._take_batch(wait=False)  # noqa: SLF001 - the crash happens right here
    assert list(taken) == ids and redis_client.llen(keys.inflight(PARTITION)) == 5
    redis_client.delete(keys.lease(PARTITION))  # the lease runs out
    second = consumer(redis_client, keys, db_engine, owner="standby")
    assert second.try_take_over()
    assert [status(redis_client, keys, r)["status"] for r in ids] == ["held"] * 5
    with db_engine.connect() as conn:
        decided = conn.execute(text("SELECT count(*) FROM booking_requests")).scalar()
    assert decided == 5, "every request decided exactly once"


def test_a_wait_for_the_first_request_takes_no_more_than_batch_max(
        redis_client: Redis, keys: Keys, db_engine: Engine, redis_url: str) -> None:
    """An idle consumer blocks for the first id, then takes the rest up to `batch_max`: with a
    batch of one, nothing more (the pop asked for zero more used to mean the whole queue)."""
    event_id = make_event(db_engine)
    worker = consumer(redis_client, keys, db_engine, batch_max=1)
    assert worker.try_take_over()
    taken: list[dict[str, bytes]] = []
    waiting = threading.Thread(target=lambda: taken.append(worker._take_batch(wait=True)))  # noqa: SLF001
    waiting.start()

    async def three_at_once() -> None:  # one script call: all three land together
        client = async_client(redis_url)
        grouped = RequestQueue(client, keys, max_queue_depth=100)
        try:
            await asyncio.gather(*(grouped.enqueue(
                event_id=event_id, buyer_id=buyer, kind="hold", params={"quantity": 1},
                partition=PARTITION) for buyer in (1, 2, 3)))
        finally:
            await client.aclose()

    asyncio.run(three_at_once())
    waiting.join(timeout=5)
    assert [len(batch) for batch in taken] == [1]
    assert redis_client.llen(keys.queue(PARTITION)) == 2
    assert redis_client.llen(keys.inflight(PARTITION)) == 1


def test_crash_after_commit_does_not_decide_twice(redis_client: Redis, keys: Keys,
                                                  queue: SyncRequestQueue,
                                                  db_engine: Engine) -> None:
    """Committed but not published: the re-run publishes the stored outcomes, decides nothing."""
    event_id = make_event(db_engine)
    ids = [hold_best(queue, event_id, buyer) for buyer in range(1, 4)]
    first = consumer(redis_client, keys, db_engine, owner="dies")
    assert first.try_take_over()
    first._publisher.publish_batch = lambda **_: None  # type: ignore[method-assign]  # dies here
    first.step()
    assert status(redis_client, keys, ids[0])["status"] == "pending"
    redis_client.delete(keys.lease(PARTITION))
    second = consumer(redis_client, keys, db_engine, owner="standby")
    assert second.try_take_over()
    results = [status(redis_client, keys, r) for r in ids]
    assert [r["status"] for r in results] == ["held"] * 3
    with db_engine.connect() as conn:
        holds = conn.execute(text("SELECT count(*) FROM holds")).scalar()
    assert holds == 3, "a re-run must not hold seats a second time"
    assert all(count == 1 for _, count in live_claims(db_engine, event_id))


def test_rejections_committed_but_not_published_are_not_decided_again(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Rejections are logged, not stored as outcomes. A re-run after a crash between commit
    and publish answers them from the log: one log row per request, same code, even if the
    seats are free by then (the committed decision stands)."""
    event_id = make_event(db_engine, rows=1, seats_per_row=4)
    ids = [hold_best(queue, event_id, buyer) for buyer in range(1, 5)]  # 2 held, 2 sold out
    first = consumer(redis_client, keys, db_engine, owner="dies")
    assert first.try_take_over()
    first._publisher.publish_batch = lambda **_: None  # type: ignore[method-assign]  # dies here
    first.step()
    with db_engine.begin() as conn:  # the seats come free before the standby takes over
        conn.execute(text("DELETE FROM seat_claims WHERE event_id = :e"), {"e": event_id})
        conn.execute(text("UPDATE holds SET status = 'released' WHERE event_id = :e"),
                     {"e": event_id})
    redis_client.delete(keys.lease(PARTITION))
    second = consumer(redis_client, keys, db_engine, owner="standby")
    assert second.try_take_over()
    results = [status(redis_client, keys, r) for r in ids]
    assert [r["status"] for r in results] == ["held", "held", "rejected", "rejected"]
    assert {r["result"]["error"]["code"] for r in results[2:]} == {"sold_out"}
    with db_engine.connect() as conn:
        logged = conn.execute(text(
            "SELECT payload->>'request_id', count(*) FROM inventory_events"
            " WHERE event_id = :e AND type = 'HoldRejected' GROUP BY 1"), {"e": event_id}).all()
    assert dict(logged) == {ids[2]: 1, ids[3]: 1}, "a rejection was logged twice"


def test_zombie_with_stale_token_cannot_write(redis_client: Redis, keys: Keys,
                                              queue: SyncRequestQueue, db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    zombie = consumer(redis_client, keys, db_engine, owner="zombie")
    assert zombie.try_take_over()
    redis_client.delete(keys.lease(PARTITION))  # zombie paused past its lease
    successor = consumer(redis_client, keys, db_engine, owner="successor")
    assert successor.try_take_over()
    assert successor.lease.token > zombie.lease.token  # type: ignore[operator]
    hold_best(queue, event_id, 1)
    zombie._renew_if_due = lambda: None  # type: ignore[method-assign]  # it does not notice
    with pytest.raises(LeaseLost):
        zombie.step()
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM holds")).scalar() == 0, \
            "a stale fencing token wrote to Postgres"
    drain(successor, redis_client, keys)


def lease_moves_before_publishing(worker: PartitionConsumer, redis: Redis, keys: Keys) -> None:
    """The lease moves on after `worker` took and committed a batch, before it publishes."""
    publish = worker._publisher.publish_batch  # noqa: SLF001

    def moved_then_publish(**kwargs: Any) -> None:
        redis.set(keys.lease(PARTITION), "someone-else|999")
        publish(**kwargs)

    worker._publisher.publish_batch = moved_then_publish  # type: ignore[method-assign]  # noqa: SLF001


def test_a_consumer_that_lost_its_lease_moves_no_id_in_flight(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Every request that got a 202 reaches a final state: a holder that lost its lease takes
    nothing off the queue. An id it moved to the in-flight list after the next holder read
    that list at takeover would be decided by nobody."""
    event_id = make_event(db_engine)
    zombie = consumer(redis_client, keys, db_engine, owner="zombie", lease_ttl_ms=200)
    assert zombie.try_take_over()
    redis_client.delete(keys.lease(PARTITION))  # zombie paused past its lease
    successor = consumer(redis_client, keys, db_engine, owner="successor")
    assert successor.try_take_over()  # reads the (empty) in-flight list
    ids = [hold_best(queue, event_id, buyer) for buyer in (1, 2, 3)]
    for wait in (False, True):
        with pytest.raises(LeaseLost):
            zombie._take_batch(wait=wait)  # noqa: SLF001 - it wakes up and takes a batch
    assert redis_client.llen(keys.inflight(PARTITION)) == 0, "a stale holder moved ids"
    assert redis_client.llen(keys.queue(PARTITION)) == 3
    drain(successor, redis_client, keys)
    assert [status(redis_client, keys, r)["status"] for r in ids] == ["held"] * 3


def test_an_id_in_flight_that_a_batch_did_not_include_survives_its_publish(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Every request that got a 202 reaches a final state: the publish script removes the
    batch's own ids from the in-flight list, not a count of ids off its head, so an id put
    there by someone else (a stale holder, before pops checked the lease) stays until the
    next holder decides it."""
    event_id = make_event(db_engine)
    stray, *ids = [hold_best(queue, event_id, buyer) for buyer in (1, 2, 3, 4)]
    holder = consumer(redis_client, keys, db_engine, owner="holder")
    assert holder.try_take_over()
    redis_client.lmove(keys.queue(PARTITION), keys.inflight(PARTITION), "LEFT", "RIGHT")
    assert holder.step() == 3
    assert [status(redis_client, keys, r)["status"] for r in ids] == ["held"] * 3
    assert status(redis_client, keys, stray)["status"] == "pending"
    assert redis_client.lrange(keys.inflight(PARTITION), 0, -1) == [stray.encode()]
    holder.lease.release()
    successor = consumer(redis_client, keys, db_engine, owner="successor")
    assert successor.try_take_over()  # re-runs the whole in-flight list
    assert status(redis_client, keys, stray)["status"] == "held"
    assert redis_client.llen(keys.inflight(PARTITION)) == 0


def test_consumer_that_lost_its_lease_publishes_nothing(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """The publish script runs only while the lease holds this consumer's value: one that
    lost it raises LeaseLost, tells no fan anything and leaves the ids in flight."""
    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    zombie = consumer(redis_client, keys, db_engine, owner="zombie")
    assert zombie.try_take_over()
    hold_best(queue, event_id, 1)  # takes both seats
    drain(zombie, redis_client, keys)
    late = [hold_best(queue, event_id, buyer) for buyer in (2, 3)]  # sold out: rejections
    lease_moves_before_publishing(zombie, redis_client, keys)
    zombie._renew_if_due = lambda: None  # type: ignore[method-assign]  # it does not notice
    with pytest.raises(LeaseLost):
        zombie.step()
    assert [status(redis_client, keys, r)["status"] for r in late] == ["pending"] * 2
    assert redis_client.llen(keys.inflight(PARTITION)) == 2, "the next holder re-runs them"
    redis_client.delete(keys.lease(PARTITION))
    successor = consumer(redis_client, keys, db_engine, owner="successor")
    assert successor.try_take_over()  # re-runs the in-flight ids
    assert [status(redis_client, keys, r)["status"] for r in late] == ["rejected"] * 2


def test_serving_consumer_that_lost_its_lease_stops_publishing_and_stands_by(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """The same in the threaded loop: the publisher thread's LeaseLost reaches the loop,
    which stands by; nothing after the lost lease is published, and the successor
    re-runs what was left in flight."""
    event_id = make_event(db_engine, rows=1, seats_per_row=2)
    zombie = consumer(redis_client, keys, db_engine, owner="zombie", batch_max=1)
    assert zombie.try_take_over()
    zombie._renew_if_due = lambda: None  # type: ignore[method-assign]  # it does not notice
    zombie.try_take_over = lambda: False  # type: ignore[method-assign]  # nor take it back
    lease_moves_before_publishing(zombie, redis_client, keys)
    late = [hold_best(queue, event_id, buyer) for buyer in (1, 2, 3)]
    stop = threading.Event()
    thread = threading.Thread(target=zombie.run, args=(stop,))
    zombie_serve = zombie._serve
    served = threading.Event()

    def serve_once(*args: Any) -> None:
        try:
            zombie_serve(*args)
        finally:
            served.set()

    zombie._serve = serve_once  # type: ignore[method-assign]
    zombie.try_take_over = lambda: not served.is_set()  # type: ignore[method-assign]
    thread.start()
    assert served.wait(10), "the loop did not notice the lost lease"
    stop.set()
    thread.join(timeout=10)
    assert [status(redis_client, keys, r)["status"] for r in late] == ["pending"] * 3
    redis_client.delete(keys.lease(PARTITION))
    successor = consumer(redis_client, keys, db_engine, owner="successor")
    assert successor.try_take_over()  # re-runs the in-flight ids
    drain(successor, redis_client, keys)
    states = [status(redis_client, keys, r)["status"] for r in late]
    assert states == ["held", "rejected", "rejected"]
    assert redis_client.llen(keys.inflight(PARTITION)) == 0


def test_holds_expire_in_order_with_bookings(redis_client: Redis, keys: Keys,
                                             queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Holds expire at expires_at and their seats return before later requests are decided."""
    event_id = make_event(db_engine, rows=1, seats_per_row=2, hold_ttl_seconds=30)
    clock = Clock()
    worker = consumer(redis_client, keys, db_engine, clock=clock)
    assert worker.try_take_over()
    first = hold_best(queue, event_id, 1)
    drain(worker, redis_client, keys)
    expires_at = status(redis_client, keys, first)["result"]["expires_at"]
    assert expires_at == pytest.approx(clock.now + 30)
    clock.now = expires_at - 0.5
    worker._renew_if_due = lambda: None  # type: ignore[method-assign]
    worker.step()
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM holds")).scalar() == "active"
    clock.now = expires_at + 0.01
    second = hold_best(queue, event_id, 2)
    worker.step()
    assert status(redis_client, keys, second)["status"] == "held", \
        "expired seats must be free for the next request in the queue"
    assert status(redis_client, keys, first)["hold_status"] == "expired"
    with db_engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT status FROM holds")).scalars()) == \
            ["active", "expired"]


def test_idle_consumer_expires_holds_without_requests(redis_client: Redis, keys: Keys,
                                                      queue: SyncRequestQueue,
                                                      db_engine: Engine) -> None:
    event_id = make_event(db_engine, hold_ttl_seconds=30)
    clock = Clock()
    worker = consumer(redis_client, keys, db_engine, clock=clock)
    assert worker.try_take_over()
    request_id = hold_best(queue, event_id, 1)
    drain(worker, redis_client, keys)
    clock.now += 31
    worker._renew_if_due = lambda: None  # type: ignore[method-assign]
    worker.step()
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM holds WHERE hold_id = :h"),
                            {"h": request_id}).scalar() == "expired"
        assert conn.execute(text("SELECT count(*) FROM seat_claims")).scalar() == 0


def test_consumer_thread_serves_until_stopped(redis_client: Redis, keys: Keys,
                                              queue: SyncRequestQueue, db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    worker = consumer(redis_client, keys, db_engine)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        request_id = hold_best(queue, event_id, 1)
        for _ in range(100):
            if status(redis_client, keys, request_id)["status"] != "pending":
                break
            stop.wait(0.05)
        assert status(redis_client, keys, request_id)["status"] == "held"
    finally:
        stop.set()
        thread.join(timeout=5)
    assert redis_client.get(keys.lease(PARTITION)) is None, "a stopped consumer frees its lease"


@pytest.fixture(autouse=True)
def _clean_rq_keys(redis_client: Redis, redis_prefix: str) -> Iterator[None]:
    yield
    for key in redis_client.scan_iter(match="rq:job:*", count=1000):
        job_origin = redis_client.hget(key, "origin")
        if job_origin and redis_prefix.encode() in job_origin:
            redis_client.delete(key)


class FlakyStore:
    """Our BookingStore port around the real one, failing chosen commits like a Postgres outage."""

    def __init__(self, inner: PostgresBookingStore, fail_commits: set[int]):
        self._inner = inner
        self._fail = fail_commits
        self.commits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit_prepared(self, *args: Any, **kwargs: Any) -> None:
        self.commits += 1
        if self.commits in self._fail:
            from workers.ports import StoreUnavailable

            raise StoreUnavailable("injected outage")
        self._inner.commit_prepared(*args, **kwargs)


def run_until_decided(worker: PartitionConsumer, redis: Redis, keys: Keys,
                      ids: list[str]) -> list[dict[str, Any]]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        for _ in range(400):
            states = [status(redis, keys, r) for r in ids]
            if all(s["status"] != "pending" for s in states):
                return states
            stop.wait(0.05)
        raise AssertionError("requests left pending")
    finally:
        stop.set()
        thread.join(timeout=10)


def test_pipelined_serving_keeps_queue_order(redis_client: Redis, keys: Keys,
                                             queue: SyncRequestQueue, db_engine: Engine) -> None:
    """The overlapped commit loop decides in queue order and never sells a seat twice."""
    event_id = make_event(db_engine, rows=3, seats_per_row=10)
    ids = [hold_best(queue, event_id, buyer, quantity=1 + buyer % 3) for buyer in range(1, 41)]
    worker = consumer(redis_client, keys, db_engine, batch_max=4)
    states = run_until_decided(worker, redis_client, keys, ids)
    held = [s["status"] == "held" for s in states]
    assert held == sorted(held, reverse=True), "a later request held seats an earlier one lacked"
    assert sum(len(s["result"]["seat_ids"]) for s in states if s["status"] == "held") <= 30
    assert all(count == 1 for _, count in live_claims(db_engine, event_id))
    assert redis_client.llen(keys.inflight(PARTITION)) == 0


def test_pipelined_serving_publishes_one_delta_per_batch_with_its_own_version(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Live seat maps apply a delta only if its version is newer. While a batch commits the
    next one is already decided, so each batch's delta must carry its own version and
    changes: versions strictly grow, and the deltas together give Postgres' final state."""
    event_id = make_event(db_engine, rows=3, seats_per_row=10)
    ids = [hold_best(queue, event_id, buyer, quantity=1 + buyer % 3) for buyer in range(1, 41)]
    worker = consumer(redis_client, keys, db_engine, batch_max=4)
    run_until_decided(worker, redis_client, keys, ids)
    entries = redis_client.xrange(keys.availability_stream(event_id))
    versions = [int(fields[b"version"]) for _, fields in entries]
    assert versions == sorted(set(versions)), f"delta versions not strictly growing: {versions}"
    seats: dict[str, str] = {}
    for _, fields in entries:
        seats.update(json.loads(fields[b"delta"])["changes"])
    claimed = {str(seat) for seat, _ in live_claims(db_engine, event_id)}
    assert {seat for seat, state in seats.items() if state != "available"} == claimed
    with db_engine.connect() as conn:
        stored = conn.execute(text("SELECT inventory_version FROM events WHERE id = :e"),
                              {"e": event_id}).scalar()
    assert versions[-1] == stored


def test_failed_commit_mid_pipeline_redecides_without_loss(redis_client: Redis, keys: Keys,
                                                           queue: SyncRequestQueue,
                                                           db_engine: Engine) -> None:
    """A commit that fails while the next batch is already decided: both are decided again
    from Postgres' state, every request ends final, none twice."""
    event_id = make_event(db_engine, rows=3, seats_per_row=10)
    ids = [hold_best(queue, event_id, buyer, quantity=2) for buyer in range(1, 21)]
    store = FlakyStore(PostgresBookingStore(db_engine), fail_commits={2, 3})
    worker = PartitionConsumer(redis_client, keys, PARTITION, "flaky", store,  # type: ignore[arg-type]
                               ConsumerConfig(batch_max=3))
    states = run_until_decided(worker, redis_client, keys, ids)
    assert [s["status"] for s in states] == ["held"] * 15 + ["rejected"] * 5
    with db_engine.connect() as conn:
        # rejections are published, not stored: only the 15 holds have request rows
        assert conn.execute(text("SELECT count(*) FROM booking_requests")).scalar() == 15
        assert conn.execute(text("SELECT count(*) FROM holds")).scalar() == 15
    assert all(count == 1 for _, count in live_claims(db_engine, event_id))


def test_enqueued_requests_are_real_rq_jobs(redis_client: Redis, keys: Keys,
                                            queue: SyncRequestQueue, db_engine: Engine) -> None:
    """RQ's own API reads what the enqueue script writes (rq info / rq-dashboard tell the truth)."""
    from rq import Queue
    from rq.job import Job, JobStatus
    from rq.registry import FinishedJobRegistry

    event_id = make_event(db_engine)
    request_id = hold_best(queue, event_id, 7, quantity=3)
    job = Job.fetch(request_id, connection=redis_client)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == keys.queue_name(PARTITION)
    assert job.func_name == "workers.rqjob.partition_only"
    assert job.args[0]["params"] == {"quantity": 3} and job.args[0]["buyer_id"] == 7
    assert job.enqueued_at is not None and job.timeout == 180
    assert job.started_at is None and job.worker_name is None  # not written: read as empty
    assert job.success_callback is None and job.result_ttl == 3600
    rq_queue = Queue(keys.queue_name(PARTITION), connection=redis_client)
    assert rq_queue.job_ids == [request_id]
    worker = consumer(redis_client, keys, db_engine)
    assert worker.try_take_over()
    drain(worker, redis_client, keys)
    assert Job.fetch(request_id, connection=redis_client).get_status() == JobStatus.FINISHED
    assert FinishedJobRegistry(queue=rq_queue).get_job_ids() == [request_id], \
        "rq info counts it among the finished"


def test_general_admission_holds_through_the_pipeline(redis_client: Redis, keys: Keys,
                                                      queue: SyncRequestQueue,
                                                      db_engine: Engine) -> None:
    """GA holds carry a quantity, no seats: decided, stored and published like the others,
    and GA capacity is never exceeded."""
    event_id = make_event(db_engine, rows=1, seats_per_row=4, ga_capacity=5)
    with db_engine.connect() as conn:
        zone_id = conn.execute(text("SELECT zone_id FROM ga_inventory WHERE event_id = :e"),
                               {"e": event_id}).scalar()
    ids = [queue.enqueue(event_id=event_id, buyer_id=buyer, kind="hold",
                         params={"zone_id": zone_id, "quantity": 2},
                         partition=PARTITION).request_id for buyer in (1, 2, 3)]
    worker = consumer(redis_client, keys, db_engine)
    assert worker.try_take_over()
    drain(worker, redis_client, keys)
    states = [status(redis_client, keys, r) for r in ids]
    assert [s["status"] for s in states] == ["held", "held", "rejected"]
    assert states[0]["result"]["quantity"] == 2 and states[0]["result"]["seats"] == []
    assert states[0]["result"]["total_cents"] == 8000
    assert states[2]["result"]["error"]["code"] == "sold_out"
    with db_engine.connect() as conn:
        held, sold, capacity = conn.execute(text(
            "SELECT held, sold, capacity FROM ga_inventory WHERE event_id = :e"),
            {"e": event_id}).one()
    assert (held, sold, capacity) == (4, 0, 5)


def sell(queue: SyncRequestQueue, event_id: int, buyer: int, held: dict[str, Any],
         order_id: str) -> str:
    """What the payments worker enqueues once the card is authorized."""
    result = held["result"]
    return queue.enqueue(event_id=event_id, buyer_id=buyer, kind="sell", partition=PARTITION,
                         params={"hold_id": result["hold_id"], "order_id": order_id,
                                 "seat_ids": result["seat_ids"]}).request_id


def one_hold_decided(redis: Redis, keys: Keys, queue: SyncRequestQueue, engine: Engine,
                     **event: Any) -> tuple[int, Clock, PartitionConsumer, str, dict[str, Any]]:
    """A serial consumer on a clock of ours (no lease renewals) that has decided buyer 1's
    hold: (event id, clock, consumer, request id, its status)."""
    event_id = make_event(engine, **event)
    clock = Clock()
    worker = consumer(redis, keys, engine, clock=clock)
    worker._renew_if_due = lambda: None  # type: ignore[method-assign]
    assert worker.try_take_over()
    first = hold_best(queue, event_id, 1)
    drain(worker, redis, keys)
    return event_id, clock, worker, first, status(redis, keys, first)


def test_paid_after_expiry_reholds_the_same_seats_when_still_free(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    event_id, clock, worker, first, held = one_hold_decided(
        redis_client, keys, queue, db_engine, hold_ttl_seconds=30)
    clock.now = held["result"]["expires_at"] + 5  # payment came back after the hold expired
    sale = sell(queue, event_id, 1, held, f"{first}-o")
    drain(worker, redis_client, keys)
    sold = status(redis_client, keys, sale)
    assert sold["status"] == "sold" and sold["result"]["reheld"] is True
    assert status(redis_client, keys, first)["hold_status"] == "expired"
    assert "hold_status" not in sold, "the re-made hold's id is the sell request's: untouched"
    assert sorted(sold["result"]["seat_ids"]) == sorted(held["result"]["seat_ids"])
    with db_engine.connect() as conn:
        states = conn.execute(text("SELECT state FROM seat_claims WHERE event_id = :e"),
                              {"e": event_id}).scalars().all()
        order = conn.execute(text("SELECT status FROM orders")).scalar()
    assert states == ["sold"] * len(held["result"]["seat_ids"]) and order == "paid"
    assert redis_client.llen(RQ_QUEUE_PREFIX + keys.payments_queue_name()) == 1, \
        "the sale is followed by a capture job"


def test_paid_after_expiry_is_refused_when_the_seats_were_taken(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """The hold expired and another fan took its seats: no sale, and the payment is voided."""
    event_id, clock, worker, first, held = one_hold_decided(
        redis_client, keys, queue, db_engine, rows=1, seats_per_row=2, hold_ttl_seconds=30)
    clock.now = held["result"]["expires_at"] + 5
    other = hold_best(queue, event_id, 2)  # decided before the late payment: takes the seats
    sale = sell(queue, event_id, 1, held, f"{first}-o")
    drain(worker, redis_client, keys)
    assert status(redis_client, keys, other)["status"] == "held"
    refused = status(redis_client, keys, sale)
    assert refused["status"] == "rejected"
    assert refused["result"]["error"]["code"] == "hold_expired"
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 0, "sold twice"
    jobs = redis_client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    assert [j.decode() for j in jobs] == [f"void-{first}-o"], "the authorization is voided"


def test_a_cancelled_event_refuses_queued_requests_and_voids_late_payments(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Cancelling stops the API at once; the consumer, which keeps the event in memory, must
    also stop: requests queued before the cancel, and the sale of a payment authorized
    meanwhile, are refused from the next check on, and that payment is voided."""
    event_id, clock, worker, first, held = one_hold_decided(redis_client, keys, queue,
                                                            db_engine)
    assert held["status"] == "held"
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'cancelled' WHERE id = :e"),
                     {"e": event_id})
    queued = hold_best(queue, event_id, 2)
    sale = sell(queue, event_id, 1, held, f"{first}-o")
    clock.now += 2  # past the next sale check
    drain(worker, redis_client, keys)
    refused = [status(redis_client, keys, r) for r in (queued, sale)]
    assert [r["status"] for r in refused] == ["rejected", "rejected"]
    assert refused[0]["result"]["error"]["code"] == "invalid_request"
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 0
        assert conn.execute(text("SELECT status FROM holds")).scalars().all() == ["released"]
        assert live_claims(db_engine, event_id) == [], "the held seats are released"
    assert status(redis_client, keys, first)["hold_status"] == "cancelled"
    jobs = redis_client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    assert [j.decode() for j in jobs] == [f"void-{first}-o"], "the authorization is voided"


def test_a_hold_request_says_how_its_hold_ended(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """The hold request's status stays `held` (its decision); `hold_status` tells what became
    of the hold since, so a fan polling it is not shown a hold that is gone."""
    event_id, _clock, worker, first, held = one_hold_decided(redis_client, keys, queue,
                                                            db_engine)
    assert "hold_status" not in held, "a live hold has no ending recorded"
    second = hold_best(queue, event_id, 2)
    drain(worker, redis_client, keys)
    release = queue.enqueue(event_id=event_id, buyer_id=1, kind="release", partition=PARTITION,
                            params={"hold_id": first}).request_id
    sale = sell(queue, event_id, 2, status(redis_client, keys, second), f"{second}-o")
    drain(worker, redis_client, keys)
    assert status(redis_client, keys, release)["status"] == "released"
    assert status(redis_client, keys, sale)["status"] == "sold"
    assert status(redis_client, keys, first)["hold_status"] == "released"
    assert status(redis_client, keys, second)["hold_status"] == "sold"
    assert "hold_status" not in status(redis_client, keys, release), "only hold requests"
    assert "hold_status" not in status(redis_client, keys, sale), "only hold requests"


def cancelled_while_away(redis: Redis, keys: Keys, engine: Engine, worker: PartitionConsumer,
                         event_id: int) -> PartitionConsumer:
    """`worker` lets go of the partition, the event is cancelled, a standby takes over and
    serves one round: the standby."""
    worker.lease.release()
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'cancelled' WHERE id = :e"),
                     {"e": event_id})
    standby = consumer(redis, keys, engine, owner="standby")
    assert standby.try_take_over()
    standby.step()
    return standby


def test_a_cancelled_event_has_its_sales_refunded_even_when_not_in_memory(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Cancelled after its sale was over, while no consumer had it in memory (no live hold
    brings it back at a takeover): the sweep finds its paid orders, refunds them in one batch
    (orders refunded, tickets void, seats freed) and queues one refund job per order."""
    event_id, _clock, worker, first, held = one_hold_decided(redis_client, keys, queue,
                                                             db_engine)
    sell(queue, event_id, 1, held, f"{first}-o")
    drain(worker, redis_client, keys)
    assert status(redis_client, keys, first)["hold_status"] == "sold"
    standby = cancelled_while_away(redis_client, keys, db_engine, worker, event_id)
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM orders")).scalars().all() == ["refunded"]
    assert live_claims(db_engine, event_id) == [], "the sold seats are freed"
    assert status(redis_client, keys, first)["hold_status"] == "refunded", \
        "the hold request no longer reads as a sale"
    jobs = redis_client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    assert [j.decode() for j in jobs] == [f"capture-{first}-o", f"refund-{first}-o"]
    standby._last_sale_check = standby._last_refund_sweep = 0.0  # the next sweep is due
    standby.step()
    assert redis_client.llen(RQ_QUEUE_PREFIX + keys.payments_queue_name()) == 2, "refunded once"


def test_an_event_that_stopped_selling_without_a_cancel_keeps_its_sales_until_cancelled(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Only a cancellation refunds: an event no longer published for another reason (back to
    draft, by hand) has its holds released and its requests refused, its sales kept. If it
    is cancelled later, its sales are refunded then."""
    event_id, clock, worker, first, held = one_hold_decided(redis_client, keys, queue,
                                                            db_engine)
    sell(queue, event_id, 1, held, f"{first}-o")
    second = hold_best(queue, event_id, 2)
    drain(worker, redis_client, keys)
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'draft' WHERE id = :e"), {"e": event_id})
    clock.now += 2  # past the next sale check
    worker.step()
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM orders")).scalars().all() == ["paid"]
    assert status(redis_client, keys, second)["hold_status"] == "cancelled"
    jobs = redis_client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    assert [j.decode() for j in jobs] == [f"capture-{first}-o"]

    # Cancelled later, while its consumer still has it closed in memory: the next sweep
    # refunds its sales, once.
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'cancelled' WHERE id = :e"),
                     {"e": event_id})
    for _ in range(2):
        clock.now += REFUND_SWEEP_SECONDS
        worker.step()
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM orders")).scalars().all() == ["refunded"]
    jobs = redis_client.lrange(RQ_QUEUE_PREFIX + keys.payments_queue_name(), 0, -1)
    assert [j.decode() for j in jobs] == [f"capture-{first}-o", f"refund-{first}-o"]


def test_a_new_holder_releases_the_holds_of_an_event_cancelled_meanwhile(
        redis_client: Redis, keys: Keys, queue: SyncRequestQueue, db_engine: Engine) -> None:
    """Cancelled while no consumer had it in memory (or before a failover): the next lease
    holder finds live holds of an event no longer on sale and releases them."""
    event_id, _clock, worker, first, held = one_hold_decided(redis_client, keys, queue,
                                                             db_engine)
    assert held["status"] == "held"
    cancelled_while_away(redis_client, keys, db_engine, worker, event_id)
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM holds")).scalars().all() == ["released"]
    assert live_claims(db_engine, event_id) == []
    assert status(redis_client, keys, first)["hold_status"] == "cancelled"
