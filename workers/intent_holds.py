"""Holds for fans admitted with an intent: the admission controller's hook.

At each admitting step the controller hands over, in line order, the fans it just admitted
who had stated an intent, each with the hold request id the admitting script named. This
enqueues one best-available hold request per fan on the event's partition, as one group
call (one script, so the partition queue gets them in line order, and the partition decides
them in that order with everyone else's bookings). The request id and an idempotency key
per place make a repeated call harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from redis.asyncio import Redis as AsyncRedis

from waitingroom.intents import AdmittedIntent
from workers.booking_requests import RequestKind
from workers.enqueue import IdempotencyConflict, QueueFull, RequestQueue
from workers.keys import Keys, job_id_for_partition
from workers.partitions import partition_for

log = logging.getLogger(__name__)

PINS_CACHE_SECONDS = 1.0


class IntentHolds:
    def __init__(self, redis: AsyncRedis, keys: Keys, partitions: int, max_queue_depth: int):
        self._redis = redis
        self._keys = keys
        self._partitions = partitions
        # Never held back behind a call in flight: a step's fans go as one group.
        self._queue = RequestQueue(redis, keys, max_queue_depth, max_in_flight=None)
        self._pins: dict[int, str] = {}
        self._pins_read_at = -PINS_CACHE_SECONDS

    async def hold_request_ids(self, event_id: int, bases: Sequence[str]) -> list[str]:
        partition = await self._partition_of(event_id)
        return [job_id_for_partition(base, partition) for base in bases]

    async def enqueue(self, event_id: int, admitted: list[AdmittedIntent]) -> None:
        partition = await self._partition_of(event_id)
        results = await asyncio.gather(
            *(
                self._queue.enqueue(
                    event_id=event_id,
                    buyer_id=fan.intent.buyer_id,
                    kind=RequestKind.HOLD.value,
                    params=fan.intent.hold_params,
                    partition=partition,
                    idempotency_key=f"intent-{fan.seq}",
                    request_id=fan.hold_request_id,
                )
                for fan in admitted
            ),
            return_exceptions=True,
        )
        for fan, result in zip(admitted, results, strict=True):
            if isinstance(result, QueueFull | IdempotencyConflict):
                log.warning("event %s: no hold for place %s (%r); the fan picks seats",
                            event_id, fan.seq, result)
            elif isinstance(result, BaseException):
                raise result

    async def _partition_of(self, event_id: int) -> str:
        if time.monotonic() - self._pins_read_at > PINS_CACHE_SECONDS:
            raw = await self._redis.hgetall(self._keys.partition_pins())
            self._pins = {int(k): v.decode() if isinstance(v, bytes) else v
                          for k, v in raw.items()}
            self._pins_read_at = time.monotonic()
        return partition_for(event_id, self._partitions, self._pins)
