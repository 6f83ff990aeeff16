"""Put a booking request on its partition queue: the API's one write per request.

One Lua script does it atomically: answer a repeated Idempotency-Key with the
first request, refuse when the partition is at its maximum depth, else write
the RQ job, push it, and create the request's status record.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from workers.booking_requests import BookingRequest, new_request_id
from workers.keys import RQ_JOB_PREFIX, RQ_QUEUES_SET, Keys
from workers.rqjob import DYNAMIC_JOB_FIELDS, STATIC_JOB_FIELDS, dynamic_job_fields

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
STATUS_TTL_SECONDS = 24 * 3600

def _lua_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# RQ's static job fields are written by the script itself; only per-job values travel.
_STATIC_HSET_ARGS = ", ".join(f"{_lua_quote(k)}, {_lua_quote(v)}" for k, v in STATIC_JOB_FIELDS)
_DYNAMIC_HSET_ARGS = ", ".join(f"{_lua_quote(name)}, ARGV[{6 + i}]"
                               for i, name in enumerate(DYNAMIC_JOB_FIELDS))

_ENQUEUE = f"""
if KEYS[3] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {{'duplicate', existing}} end
end
local depth = redis.call('LLEN', KEYS[1])
if depth >= tonumber(ARGV[1]) then return {{'full', tostring(depth)}} end
redis.call('HSET', KEYS[2], {_DYNAMIC_HSET_ARGS}, {_STATIC_HSET_ARGS})
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[4], 'seq', seq, 'status', 'pending', 'kind', ARGV[11],
           'event_id', ARGV[12], 'buyer_id', ARGV[13], 'partition', ARGV[14],
           'enqueued_at', ARGV[15])
redis.call('EXPIRE', KEYS[4], ARGV[5])
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[5], KEYS[1])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4]) end
return {{'ok', tostring(seq)}}
"""


@dataclass(frozen=True)
class Enqueued:
    request_id: str
    duplicate: bool


class QueueFull(Exception):
    """The partition is at its maximum depth: the caller answers 429 with Retry-After."""

    def __init__(self, depth: int):
        super().__init__(f"partition queue holds {depth} requests")
        self.depth = depth


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request body."""


def fingerprint(kind: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([kind, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _prepare(keys: Keys, max_depth: int, *, event_id: int, buyer_id: int, kind: str,
             params: dict[str, Any], partition: str, idempotency_key: str | None,
             request_id: str | None) -> tuple[str, str, list[str], list[Any]]:
    """(request id, body fingerprint, script keys, script args) for one enqueue."""
    request = BookingRequest(
        request_id=request_id or new_request_id(event_id),
        event_id=event_id,
        buyer_id=buyer_id,
        kind=kind,
        params=params,
        enqueued_at=time.time(),
    )
    body_print = fingerprint(kind, params)
    idem_key = keys.idempotency(event_id, buyer_id, idempotency_key) if idempotency_key else ""
    argv: list[Any] = [
        max_depth, request.request_id, f"{request.request_id}|{body_print}",
        IDEMPOTENCY_TTL_SECONDS, STATUS_TTL_SECONDS,
        *dynamic_job_fields(keys.queue_name(partition), request.to_payload()),
        kind, event_id, buyer_id, partition, repr(request.enqueued_at),
    ]
    script_keys = [keys.queue(partition), RQ_JOB_PREFIX + request.request_id, idem_key,
                   keys.request(request.request_id), RQ_QUEUES_SET,
                   keys.enqueued_count(partition)]
    return request.request_id, body_print, script_keys, argv


def _interpret(reply: list[Any], request_id: str, body_print: str) -> Enqueued:
    outcome, detail = (x.decode() if isinstance(x, bytes) else x for x in reply)
    if outcome == "duplicate":
        first_id, _, first_print = detail.partition("|")
        if first_print != body_print:
            raise IdempotencyConflict(first_id)
        return Enqueued(first_id, duplicate=True)
    if outcome == "full":
        raise QueueFull(int(detail))
    return Enqueued(request_id, duplicate=False)


class RequestQueue:
    """Enqueues booking requests for the API (async) and the benchmark (same code path)."""

    def __init__(self, redis: AsyncRedis, keys: Keys, max_queue_depth: int):
        self._keys = keys
        self._max_depth = max_queue_depth
        self._script = redis.register_script(_ENQUEUE)

    async def enqueue(self, *, event_id: int, buyer_id: int, kind: str, params: dict[str, Any],
                      partition: str, idempotency_key: str | None = None,
                      request_id: str | None = None) -> Enqueued:
        request_id, body_print, keys, argv = _prepare(
            self._keys, self._max_depth, event_id=event_id, buyer_id=buyer_id, kind=kind,
            params=params, partition=partition, idempotency_key=idempotency_key,
            request_id=request_id)
        reply = await self._script(keys=keys, args=argv)
        return _interpret(reply, request_id, body_print)


class SyncRequestQueue:
    """The same enqueue for synchronous callers (payment jobs, tests)."""

    def __init__(self, redis: Redis, keys: Keys, max_queue_depth: int):
        self._keys = keys
        self._max_depth = max_queue_depth
        self._script = redis.register_script(_ENQUEUE)

    def enqueue(self, *, event_id: int, buyer_id: int, kind: str, params: dict[str, Any],
                partition: str, idempotency_key: str | None = None,
                request_id: str | None = None) -> Enqueued:
        request_id, body_print, keys, argv = _prepare(
            self._keys, self._max_depth, event_id=event_id, buyer_id=buyer_id, kind=kind,
            params=params, partition=partition, idempotency_key=idempotency_key,
            request_id=request_id)
        return _interpret(self._script(keys=keys, args=argv), request_id, body_print)
