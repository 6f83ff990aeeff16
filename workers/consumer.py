"""The partition consumer: the only writer of its events' seat state.

Loop while holding the partition lease:
  1. take a batch of job ids off the RQ queue in one round trip, only while the lease is
     ours (they move to an in-flight list, so a crash leaves them for the next holder),
  2. read their payloads in one more script call (their keys named),
  3. decide them in queue order (expiry first) in memory,
  4. persist the batch in one Postgres transaction that checks the fencing token,
  5. publish outcomes and RQ job states in one Redis script (the partition's slot), after
     the batch's event-keyed writes (availability deltas, counters, payment jobs).

`run` runs steps 1-3, 4 and 5 in three threads, like an assembly line: batch
N+2 is decided while N+1 commits and N is published, each stage in queue order,
and a batch is handed to the publisher as soon as it is committed. If a commit
fails, nothing of that batch or of the one decided after it has been published:
memory is rebuilt from Postgres and every in-flight id is decided again. Request
ids make re-runs idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from redis import Redis

from engine.commands import LockTiers
from engine.events import places_of
from engine.inventory import EventInventory
from waitingroom.keys import RoomKeys
from workers.booking_requests import BookingRequest
from workers.decider import BatchDecider, BatchDecision, Outcome, expand_held
from workers.enqueue import register_queues
from workers.keys import RQ_JOB_PREFIX, Keys, text
from workers.lease import LeaseLost, PartitionLease
from workers.ports import BookingStore, StaleFence, StoreConflict, StoreUnavailable
from workers.publish import Commands, Publisher
from workers.redis_client import LuaScript
from workers.rqjob import payload_from_job_data
from workers.stock_figures import stock_writes

log = logging.getLogger("onsale.consumer")

T = TypeVar("T")

BatchHook = Callable[[str, BatchDecision, float, Commands], None]
"""Called with (partition, decision, decided at, writes) before each batch is published;
Redis writes it records on `writes` go in the publish step's pipeline."""

IDLE_WAIT_SECONDS = 0.2
SALE_CHECK_SECONDS = 1.0
"""How often the events in memory are checked for a sale that ended (a cancellation)."""
PRESALE_SWEEP_SECONDS = 5.0
"""How often the events in memory are checked for a presale whose `lock_tiers` request was
lost (`BookingStore.settled_presales`)."""
REFUND_SWEEP_SECONDS = 10.0
"""How often Postgres is asked for cancelled events of ours that still have paid orders (one
cancelled when its sale was over is not in memory); also right after taking the lease."""
STOCK_REFRESH_SECONDS = 1.0
"""How often the line's stock figure of events with presales is written without a batch."""
STANDBY_POLL_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 5.0

_POP_BATCH = """
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return -1 end
local ids = {}
-- ARGV[1] ids at most (LRANGE 0 -1 would be the whole queue).
if tonumber(ARGV[1]) > 0 then ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1) end
if #ids > 0 then
  redis.call('LTRIM', KEYS[1], #ids, -1)
  redis.call('RPUSH', KEYS[2], unpack(ids))
end
redis.call('INCRBY', KEYS[3], #ids)
return ids
"""
"""Moves up to ARGV[1] ids to the in-flight list, only while the lease (KEYS[4]) holds the
caller's value ARGV[2]; -1, moving nothing, once it does not. A holder that lost its lease
must not add to the list after the next holder read it at takeover: nobody would ever
decide those ids. The jobs' payloads are read after it by _READ_PAYLOADS: a script must
name every key it touches (Redis Cluster), and the ids are not known before it runs."""

_READ_PAYLOADS = """
local blobs = {}
for i, key in ipairs(KEYS) do blobs[i] = redis.call('HGET', key, 'data') or '' end
return blobs
"""
"""Each job's `data` ('' if the job is gone). One script call, not a pipeline of HGETs:
packing and parsing 256 commands in redis-py cost ~6 ms a batch, the script ~0.5 ms. The
job keys are all in the partition's slot (workers/keys.py)."""


@dataclass(frozen=True)
class ConsumerConfig:
    batch_max: int = 256
    lease_ttl_ms: int = 3000


@dataclass
class Batch:
    """Job ids taken together, what they asked for, and what was decided."""

    ids: list[str]
    requests: list[BookingRequest] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    already: dict[str, Outcome] = field(default_factory=dict)
    decision: BatchDecision = field(default_factory=BatchDecision)
    deltas: dict[int, tuple[int, dict[str, str]]] = field(default_factory=dict)
    """Per event: the inventory version and the new state of each seat this batch changed,
    taken right after deciding it: the next batch may be decided before this one is
    published, and its changes (and version) must not leak into this one's delta."""
    tickets_left: dict[int, int] = field(default_factory=dict)
    """Per event the batch touched: tickets free right after deciding it (for the room)."""
    now: float = 0.0
    writes: object = None
    """The store's writes for `decision`, built by the deciding thread (`prepare_batch`) while
    the batch before commits, so the commit stage only sends them."""


class PartitionConsumer:
    def __init__(self, redis: Redis, keys: Keys, partition: str, owner: str,
                 store: BookingStore, config: ConsumerConfig,
                 clock: Callable[[], float] = time.time,
                 on_batch: BatchHook | None = None,
                 owns_event: Callable[[int], bool] = lambda event_id: True):
        self.partition = partition
        self._redis = redis
        self._keys = keys
        self._store = store
        self._config = config
        self._clock = clock
        self._on_batch = on_batch
        self._owns_event = owns_event
        self.lease = PartitionLease(redis, keys, partition, owner, config.lease_ttl_ms)
        register_queues(redis, keys, [partition])
        self._pop = LuaScript(redis, _POP_BATCH)
        self._read_payloads = LuaScript(redis, _READ_PAYLOADS)
        self._publisher = Publisher(redis, keys)
        self._decider = BatchDecider(self._load_inventory)
        self._last_renewal = 0.0
        self._last_sale_check = 0.0
        self._last_refund_sweep = 0.0
        self._last_stock_refresh = 0.0
        self._last_presale_sweep = 0.0
        self._publish_error: BaseException | None = None
        self.yielded = False

    # ------------------------------------------------------------------ lifecycle

    def run(self, stop: threading.Event, may_acquire: Callable[[], bool] = lambda: True,
            should_yield: Callable[[], bool] = lambda: False) -> None:
        """Stand by until the lease is ours, serve until it is lost, yielded or `stop` is set."""
        self.yielded = False
        while not stop.is_set():
            if not may_acquire():
                stop.wait(STANDBY_POLL_SECONDS)
                continue
            # Taking over re-runs the interrupted batch, which can outlast the lease (a
            # Postgres outage): its LeaseLost, like any error, must let go of the lease here.
            # A token left set made this process count the partition as held, so neither
            # it nor the other worker (at its fair share) took it again: the partition
            # stalled after a long Postgres cut.
            try:
                if not self.try_take_over():
                    stop.wait(STANDBY_POLL_SECONDS)
                    continue
                self._serve(stop, should_yield)
            except LeaseLost:
                log.warning("partition %s: lease lost, standing by", self.partition)
            finally:
                self._decider.forget()
                self.lease.release()
            if self.yielded:
                return

    def try_take_over(self) -> bool:
        """Acquire the lease and rebuild memory from Postgres; False if someone else holds it."""
        try:
            floor = self._store.fence_floor(self.partition)
        except StoreUnavailable:
            return False
        token = self.lease.try_acquire(floor)
        if token is None:
            return False
        try:
            self._store.claim_fence(self.partition, token)
        except (StaleFence, StoreUnavailable):
            self.lease.release()
            return False
        self._last_renewal = self._clock()
        self._rebuild_memory()
        log.info("partition %s: lease acquired, token %s", self.partition, self.lease.token)
        try:
            self._rerun_inflight()
        except LeaseLost:
            # Lost again before the interrupted batch was handed over: stand by and let
            # the next holder (perhaps this one) re-run it. Holding on to the token here
            # would count the partition as ours (`PartitionSupervisor.held`) with no one
            # serving it.
            log.warning("partition %s: lease lost while re-running; standing by",
                        self.partition)
            self._decider.forget()
            self.lease.release()
            return False
        return True

    def step(self) -> int:
        """One round, all stages in sequence: renew, take a batch (or wait briefly), decide,
        persist, publish. Returns how many requests it decided."""
        self._renew_if_due()
        self._close_ended_sales_if_due()
        self._lock_lost_presales_if_due()
        self._refresh_line_stock_if_due()
        taken = self._take_batch(wait=not self._decider.closing)
        if not taken and not self._work_due():
            return 0
        self._process(list(taken), blobs=list(taken.values()))
        return len(taken)

    def _serve(self, stop: threading.Event, should_yield: Callable[[], bool]) -> None:
        """Three stages, each in its own thread and each in queue order: this thread takes
        and decides batch N+2 while the committer commits N+1 and the publisher publishes N.
        A batch is handed to the publisher as soon as it is committed."""
        self._publish_error = None
        with ThreadPoolExecutor(1, thread_name_prefix=f"commit-{self.partition}") as committer, \
                ThreadPoolExecutor(1, thread_name_prefix=f"publish-{self.partition}") \
                as publisher:
            # The batch committing; its result is the publication it was handed to.
            pending: Future[Future[None]] | None = None
            # The last publication handed over (they run in order; a failed one fails all
            # later ones, see `_publish_in_order`).
            published: Future[None] | None = None
            while True:
                self._renew_if_due()
                self._close_ended_sales_if_due()
                self._lock_lost_presales_if_due()
                self._refresh_line_stock_if_due()
                if published is not None and published.done():
                    published.result()  # a lost lease or a Redis error surfaces here
                    published = None
                batch: Batch | None = None
                if not stop.is_set():
                    taken = self._take_batch(wait=pending is None and not self._decider.closing)
                    if taken or self._work_due():
                        batch = self._prepare(list(taken), blobs=list(taken.values()))
                        self._decide(batch)
                if pending is not None:
                    commit, pending = pending, None
                    if not self._commit_succeeded(commit):
                        # Nothing of that batch or of `batch` was handed over: once the
                        # publications before them are out, redo them all in order.
                        if published is not None:
                            published.result()
                            published = None
                        self._rebuild_memory()
                        self._rerun_inflight()
                        continue
                    published = commit.result()
                if batch is not None:
                    # Commits stay strictly in order: this one starts after the previous
                    # one succeeded.
                    pending = committer.submit(self._commit_and_hand_over, batch, publisher)
                if batch is None and (stop.is_set() or should_yield()):
                    if published is not None:
                        published.result()
                    self.yielded = not stop.is_set()
                    return

    def _commit_and_hand_over(self, batch: Batch, publisher: ThreadPoolExecutor) -> Future[None]:
        self._commit(batch)
        return publisher.submit(self._publish_in_order, batch)

    def _publish_in_order(self, batch: Batch) -> None:
        """Publish unless an earlier publication failed: decisions reach listeners in queue
        order, so a batch is never published after one before it was not. The next lease
        holder re-runs them all (they are still in the in-flight list)."""
        if self._publish_error is not None:
            raise self._publish_error
        try:
            self._publish(batch)
        except BaseException as error:
            self._publish_error = error
            raise

    def _commit_succeeded(self, commit: Future[Future[None]]) -> bool:
        try:
            commit.result()
        except StaleFence as error:
            self._decider.forget()
            raise LeaseLost(self.partition) from error
        except (StoreUnavailable, StoreConflict):
            log.warning("partition %s: batch commit failed; re-running in-flight requests",
                        self.partition, exc_info=True)
            time.sleep(0.05)
            return False
        return True

    # ------------------------------------------------------------------ stages

    def _process(self, ids: list[str], rerun: bool = False,
                 blobs: list[bytes] | None = None) -> None:
        """Every stage of one batch in sequence, retrying the commit until it lands."""
        batch = self._prepare(ids, rerun, blobs)
        delay = 0.05
        conflicts = 0
        while True:
            self._decide(batch)
            # Reading and deciding a re-run can take a while (loads, a slow Postgres): keep
            # the lease meanwhile rather than find it gone at the publish.
            self._renew_if_due()
            try:
                self._commit(batch)
                break
            except StaleFence as error:
                self._decider.forget()
                raise LeaseLost(self.partition) from error
            except StoreConflict:
                # Memory disagreed with Postgres: rebuild from the truth and decide again once.
                conflicts += 1
                log.error("partition %s: store refused a batch (%d)", self.partition, conflicts,
                          exc_info=True)
                self._rebuild_memory()
                if conflicts >= 2:
                    for request in batch.requests:
                        if request.request_id not in batch.already:
                            batch.broken[request.request_id] = "store refused the decision"
                    batch.requests = []
            except StoreUnavailable:
                log.warning("partition %s: Postgres unavailable, retrying in %.2fs",
                            self.partition, delay)
                time.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
                self._renew_if_due()
                self._rebuild_memory()
        self._publish(batch)

    def _prepare(self, ids: list[str], rerun: bool = False,
                 blobs: list[bytes] | None = None) -> Batch:
        batch = Batch(ids)
        batch.requests, batch.broken = self._read_requests(ids, blobs)
        if rerun and ids:
            batch.already = self._store_call(lambda: self._store.decided(batch.requests))
        return batch

    def _decide(self, batch: Batch) -> None:
        batch.now = self._clock()
        fresh = [r for r in batch.requests if r.request_id not in batch.already]
        batch.decision = self._decider.decide(fresh, batch.now)
        batch.deltas = self._deltas(batch.decision)
        batch.tickets_left = self._tickets_left(batch.decision, batch.now)
        batch.writes = self._store.prepare_batch(self.partition, self._token(),
                                                 batch.decision.events_by_event,
                                                 batch.decision.outcomes)

    def _commit(self, batch: Batch) -> None:
        self._store.commit_prepared(batch.writes)

    def _publish(self, batch: Batch) -> None:
        outcomes = [self._for_fan(o) for o in [*batch.already.values(),
                                               *batch.decision.outcomes]]
        extra = stock_writes(self._keys.prefix, batch.decision, batch.tickets_left)
        if self._on_batch is not None:
            # Inline and cheap (in-process metrics; its Redis counters ride on the publish
            # script): a thread of its own cost more in GIL hand-offs than it saved.
            try:
                self._on_batch(self.partition, batch.decision, batch.now, extra)
            except Exception:  # noqa: BLE001 - metrics must never stop a partition
                log.warning("partition %s: on_batch hook failed", self.partition, exc_info=True)
        self._publisher.publish_batch(
            partition=self.partition,
            queue_name=self._keys.queue_name(self.partition),
            job_ids=batch.ids,
            outcomes=outcomes,
            broken=batch.broken,
            deltas=batch.deltas,
            now=batch.now,
            committed_at=self._clock(),
            lease_value=self.lease.value,
            hold_endings=batch.decision.hold_endings,
            refunded_orders=batch.decision.refunded_orders,
            extra=extra,
        )

    def _for_fan(self, outcome: Outcome) -> Outcome:
        """Held outcomes are stored compactly; the fan sees each seat's section, row and label."""
        if outcome.status != "held" or "seat_ids" not in outcome.result:
            return outcome
        venue = self._decider.venue(outcome.event_id)
        if venue is None:  # a re-run answered from Postgres: the event may not be loaded yet
            inventory = self._decider.inventory(outcome.event_id)
            venue = inventory.setup.venue if inventory is not None else None
        if venue is None:
            return outcome
        return Outcome(outcome.request_id, outcome.event_id, outcome.buyer_id, outcome.kind,
                       outcome.status, expand_held(outcome.result, venue), outcome.decided_at)

    def _read_requests(self, ids: list[str], blobs: list[bytes] | None = None,
                       ) -> tuple[list[BookingRequest], dict[str, str]]:
        """Payloads in queue order (read now unless given); ids whose job is missing or
        unreadable are `broken`."""
        if not ids:
            return [], {}
        if blobs is None:
            blobs = list(self._payloads(ids).values())
        requests: list[BookingRequest] = []
        broken: dict[str, str] = {}
        for job_id, blob in zip(ids, blobs, strict=True):
            if not blob:
                broken[job_id] = "job data missing"
                continue
            try:
                requests.append(BookingRequest.from_payload(payload_from_job_data(blob)))
            except Exception as error:  # noqa: BLE001 - a bad payload must not stop the partition
                broken[job_id] = f"unreadable job payload: {error!r}"
        return requests, broken

    def _deltas(self, decision: BatchDecision) -> dict[int, tuple[int, dict[str, str]]]:
        """Per event: (inventory version, seat id -> new state) for live seat maps."""
        deltas: dict[int, tuple[int, dict[str, str]]] = {}
        for event_id, events in decision.events_by_event.items():
            inventory = self._decider.known(event_id)
            if inventory is None:
                continue
            changes: dict[str, str] = {}
            for event in events:
                seat_ids, zone_id = places_of(event)
                for seat_id in seat_ids:
                    changes[str(seat_id)] = inventory.seat_status(seat_id).value
                if zone_id is not None:
                    changes[f"zone:{zone_id}"] = str(inventory.ga_available(zone_id))
            if changes:
                deltas[event_id] = (inventory.version, changes)
        return deltas

    def _tickets_left(self, decision: BatchDecision, now: float) -> dict[int, int]:
        """Per event the batch touched: what a fan in its line can still get (without the
        tiers presales lock, unless their window is open)."""
        left: dict[int, int] = {}
        for event_id in decision.events_by_event:
            inventory = self._decider.known(event_id)
            if inventory is not None:
                left[event_id] = inventory.tickets_for_line(now)
        return left

    def _refresh_line_stock_if_due(self) -> None:
        """Once a second, write the line's figure of every event in memory with presales: a
        presale window opening or closing changes what the line can get with no batch to
        publish it."""
        now = self._clock()
        if now - self._last_stock_refresh < STOCK_REFRESH_SECONDS:
            return
        self._last_stock_refresh = now
        figures = {event_id: inventory.tickets_for_line(now)
                   for event_id, inventory in self._decider.inventories.items()
                   if inventory.locked_tiers()}
        for event_id, left in figures.items():  # few events have presales: one write each
            self._redis.hset(RoomKeys(self._keys.prefix, event_id).state, "tickets_left", left)

    # ------------------------------------------------------------------ queue and lease

    def _take_batch(self, wait: bool) -> dict[str, bytes]:
        """Up to `batch_max` queued ids, moved to the in-flight list, each with its job data
        (queue order); with `wait`, blocks briefly for the first one when the queue is empty.
        LeaseLost if the lease is no longer ours (nothing is moved then)."""
        keys, partition = self._keys, self.partition
        taken = self._pop_batch()
        if taken or not wait:
            return self._payloads(taken)
        timeout = IDLE_WAIT_SECONDS
        expiry = self._decider.next_expiry()
        if expiry is not None:
            timeout = max(0.01, min(timeout, expiry - self._clock()))
        # BLMOVE from the queue to itself, head to head, waits for an id and leaves it
        # queued: only the pop script, which checks the lease, moves ids to the in-flight list.
        first = self._redis.blmove(keys.queue(partition), keys.queue(partition),
                                   timeout, "LEFT", "LEFT")  # type: ignore[arg-type]  # seconds, float
        if first is None:
            return {}
        return self._payloads(self._pop_batch())

    def _pop_batch(self) -> list[str]:
        keys, partition = self._keys, self.partition
        taken = self._pop(keys=[keys.queue(partition), keys.inflight(partition),
                                keys.dequeued_count(partition), keys.lease(partition)],
                          args=[self._config.batch_max, self.lease.value])
        if taken == -1:
            raise LeaseLost(self.partition)
        return [text(job_id) for job_id in taken]

    def _payloads(self, ids: list[str]) -> dict[str, bytes]:
        """Each id with its RQ job's payload ('' if the job is gone), in queue order."""
        if not ids:
            return {}
        blobs = self._read_payloads(keys=[RQ_JOB_PREFIX + job_id for job_id in ids])
        return {job_id: blob or b"" for job_id, blob in zip(ids, blobs, strict=True)}

    def _work_due(self) -> bool:
        """Something to decide without a request: a hold's expiry, an ended sale's holds
        to release, or a lost presale lock to make up for."""
        if self._decider.closing or self._decider.locks_due:
            return True
        expiry = self._decider.next_expiry()
        return expiry is not None and expiry <= self._clock()

    def _rerun_inflight(self) -> None:
        """Decide again whatever was taken but not published (by us or a previous holder)."""
        ids = [text(i) for i in self._redis.lrange(self._keys.inflight(self.partition), 0, -1)]
        if ids:
            log.warning("partition %s: re-running %d interrupted requests",
                        self.partition, len(ids))
            self._process(ids, rerun=True)

    def _rebuild_memory(self) -> None:
        """Forget every inventory and reload those with holds that may need expiring; an
        event with live holds whose sale ended is loaded to release them (and, if it was
        cancelled, to refund its sales). Cancelled events without live holds are swept at
        the next sale check."""
        self._decider.forget()
        ended = [event_id for event_id in self._store_call(self._store.events_with_live_holds)
                 if self._owns_event(event_id) and self._decider.inventory(event_id) is None]
        statuses = self._store_call(lambda: self._store.ended_sales(ended))
        for event_id in ended:
            self._close_ended_sale(event_id, self._load_inventory(event_id, ended=True),
                                   cancelled=statuses.get(event_id) == "cancelled")
        self._last_refund_sweep = 0.0

    def _close_ended_sales_if_due(self) -> None:
        """Release the holds of events cancelled since they were loaded and refuse their
        requests, from the next batch on (the API refuses new ones at once; this covers those
        already queued and the sales of payments authorized meanwhile, which are voided)."""
        now = self._clock()
        if now - self._last_sale_check < SALE_CHECK_SECONDS:
            return
        self._last_sale_check = now
        sweep = now - self._last_refund_sweep >= REFUND_SWEEP_SECONDS
        try:
            ended = self._store.ended_sales(sorted(self._decider.inventories))
            to_refund = self._store.cancelled_with_sales() if sweep else []
        except StoreUnavailable:
            return  # asked again at the next check; commits have their own retries
        if sweep:
            self._last_refund_sweep = now
        for event_id, status in ended.items():
            self._close_ended_sale(event_id, cancelled=status == "cancelled")
        decider = self._decider
        for event_id in to_refund:
            # Closing already (just above) or its refunds decided and maybe not yet committed:
            # skip. One closed without its refunds (it stopped selling before it was
            # cancelled) is closed again, to refund them.
            if (not self._owns_event(event_id) or event_id in decider.closing
                    or event_id in decider.refunded):
                continue
            self._close_ended_sale(event_id, self._load_inventory(event_id, ended=True),
                                   cancelled=True)

    def _lock_lost_presales_if_due(self) -> None:
        """Every few seconds: a presale of an event in memory that the inventory does not
        know although it was stored a while ago lost its `lock_tiers` request (Redis, or a
        full queue); its tiers are locked in the next batch."""
        now = self._clock()
        if now - self._last_presale_sweep < PRESALE_SWEEP_SECONDS:
            return
        self._last_presale_sweep = now
        inventories = self._decider.inventories
        try:
            presales = self._store.settled_presales(sorted(inventories))
        except StoreUnavailable:
            return  # asked again at the next sweep
        for event_id, found in presales.items():
            inventory = inventories.get(event_id)
            if inventory is None:
                continue
            for presale in (p for p in found if not inventory.knows_presale(p.presale_id)):
                log.warning("partition %s: presale %s of event %s was never locked here (its "
                            "request was lost); locking its tiers now", self.partition,
                            presale.presale_id, event_id)
                self._decider.lock_later(event_id, LockTiers(
                    presale.presale_id, presale.tier_codes, presale.starts_at,
                    presale.ends_at))

    def _close_ended_sale(self, event_id: int, inventory: EventInventory | None = None,
                          cancelled: bool = False) -> None:
        log.warning("partition %s: event %s is no longer on sale; releasing its holds%s and "
                    "refusing its requests", self.partition, event_id,
                    ", refunding its sales" if cancelled else "")
        self._decider.close(event_id, inventory, refund=cancelled)

    def _renew_if_due(self) -> None:
        now = self._clock()
        if now - self._last_renewal >= self._config.lease_ttl_ms / 3000.0:
            self.lease.renew()
            self._last_renewal = now

    def _token(self) -> int:
        if self.lease.token is None:
            raise LeaseLost(self.partition)
        return self.lease.token

    def _load_inventory(self, event_id: int, ended: bool = False) -> EventInventory | None:
        # A batch (or its re-run after a takeover) may load many events' seats before it
        # reaches the next step: renew between loads, or the lease lapses mid-batch and
        # every re-run of the batch lapses the same way.
        self._renew_if_due()
        load = self._store.load_ended_event if ended else self._store.load_event
        loaded = self._store_call(lambda: load(event_id))
        if loaded is None:
            return None
        setup, state = loaded
        inventory = EventInventory.restore(setup, state)
        if not ended:
            # The room learns the stock as soon as the partition knows it, before any batch.
            self._redis.hset(RoomKeys(self._keys.prefix, event_id).state, "tickets_left",
                             inventory.tickets_for_line(self._clock()))
        return inventory

    def _store_call(self, call: Callable[[], T]) -> T:
        delay = 0.05
        while True:
            try:
                return call()
            except StoreUnavailable:
                log.warning("partition %s: Postgres unavailable, retrying in %.2fs",
                            self.partition, delay)
                time.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
                self._renew_if_due()
