"""A worker process: consumers for a fair share of the partitions, standby for the rest.

Every partition has a consumer thread here. A thread only tries to take its
partition's lease while this process holds fewer than its fair share
(partitions / live worker processes, rounded up), so two processes split the
partitions, and when one dies its leases expire and the survivor's standby
threads take over within a lease TTL plus a poll interval.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from workers.consumer import BatchHook, ConsumerConfig, PartitionConsumer
from workers.keys import Keys, text
from workers.partitions import all_partitions, partition_for
from workers.ports import BookingStore

log = logging.getLogger("onsale.supervisor")

HEARTBEAT_SECONDS = 1.0
WORKER_STALE_SECONDS = 5.0
REBALANCE_COOLDOWN_SECONDS = 5.0


class PartitionSupervisor:
    def __init__(self, redis: Redis, keys: Keys, store_factory: Callable[[], BookingStore],
                 owner: str, partitions: int, config: ConsumerConfig,
                 on_batch: BatchHook | None = None):
        self._on_batch = on_batch
        self._redis = redis
        self._keys = keys
        self._store_factory = store_factory
        self.owner = owner
        self._partitions = partitions
        self._config = config
        self._threads: dict[str, threading.Thread] = {}
        self._consumers: dict[str, PartitionConsumer] = {}
        self._live_workers = 1
        self._pins: dict[int, str] = {}

    def pins(self) -> dict[int, str]:
        raw = self._redis.hgetall(self._keys.partition_pins())
        self._pins = {int(k): text(v) for k, v in raw.items()}
        return self._pins

    def _owns(self, event_id: int, partition: str) -> bool:
        return partition_for(event_id, self._partitions, self._pins) == partition

    def held(self) -> list[str]:
        return sorted(p for p, c in self._consumers.items() if c.lease.token is not None)

    def fair_share(self) -> int:
        total = len(self._consumers) or 1
        return max(1, math.ceil(total / max(1, self._live_workers)))

    def may_acquire(self) -> bool:
        return len(self.held()) < self.fair_share()

    def over_share(self, partition: str) -> bool:
        """True for the partitions this process should hand over to a less loaded one."""
        held = self.held()
        extra = len(held) - self.fair_share()
        return extra > 0 and partition in held[-extra:]

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s starting", self.owner)
        try:
            while not stop.is_set():
                try:
                    self._heartbeat()
                    self._ensure_threads(stop)
                except RedisError as error:  # Redis restarting or failing over: consumers wait too
                    log.warning("worker %s: no heartbeat (%s); retrying", self.owner, error)
                stop.wait(HEARTBEAT_SECONDS)
        finally:
            stop.set()
            for thread in self._threads.values():
                thread.join(timeout=5)
            with contextlib.suppress(RedisError):
                self._redis.zrem(self._keys.workers(), self.owner)
            log.info("worker %s stopped", self.owner)

    def _heartbeat(self) -> None:
        now = time.time()
        key = self._keys.workers()
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {self.owner: now})
            pipe.zremrangebyscore(key, 0, now - WORKER_STALE_SECONDS)
            pipe.zcard(key)
            *_, live = pipe.execute()
        self._live_workers = int(live)

    def _ensure_threads(self, stop: threading.Event) -> None:
        for partition in all_partitions(self._partitions, self.pins()):
            if partition in self._threads:
                continue
            consumer = PartitionConsumer(
                self._redis, self._keys, partition, self.owner, self._store_factory(),
                self._config, on_batch=self._on_batch,
                owns_event=functools.partial(self._owns, partition=partition))
            self._consumers[partition] = consumer
            thread = threading.Thread(target=self._serve, args=(consumer, stop),
                                      name=f"partition-{partition}", daemon=True)
            self._threads[partition] = thread
            thread.start()

    def _serve(self, consumer: PartitionConsumer, stop: threading.Event) -> None:
        """Keep one partition served, by us or (standing by) by someone else."""
        while not stop.is_set():
            try:
                consumer.run(stop, may_acquire=self.may_acquire,
                             should_yield=lambda: self.over_share(consumer.partition))
                if consumer.yielded:
                    stop.wait(REBALANCE_COOLDOWN_SECONDS)
            except Exception:  # noqa: BLE001 - a crash of one partition must not end the process
                log.exception("partition %s: consumer crashed; restarting", consumer.partition)
                # A crashed consumer holds nothing: left set, its token would count the
                # partition as ours (`held`, `may_acquire`) while no one serves it.
                with contextlib.suppress(Exception):
                    consumer.lease.release()
                consumer.lease.token = None
                stop.wait(1.0)
