"""Put booking requests on their partition queues: the API's one write per request.

One Lua script does it atomically for a whole group of requests: per request,
answer a repeated Idempotency-Key with the first request, refuse when the
partition is at its maximum depth, else write the RQ job, push it, and create
the request's status record. The async `RequestQueue` sends the requests that
arrive in the same event-loop turn as one group (one round trip, one script
call), and while a call is out it holds new requests back and sends them as one
group when it answers, the way a database groups commits; alone, a request is a
group of one and goes at once.

Every key the script touches is in the partition's hash slot (workers/keys.py), so it runs
on Redis Cluster; a group holds requests of one partition only. RQ's global set of queues
is not one of them: `register_queues` adds the partition queues to it once, when a
consumer starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from workers.booking_requests import BookingRequest, new_request_id
from workers.keys import RQ_JOB_PREFIX, RQ_QUEUES_SET, Keys, job_id_for_partition
from workers.redis_client import AsyncLuaScript, LuaScript
from workers.rqjob import DYNAMIC_JOB_FIELDS, STATIC_JOB_FIELDS, dynamic_job_fields

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
STATUS_TTL_SECONDS = 24 * 3600
MAX_GROUP = 128
"""Requests per script call at most: bounds how long one call keeps Redis busy."""
CALLS_IN_FLIGHT = 1
"""Script calls one queue keeps in flight before it holds requests back: what arrives while
a call is out goes as one group when it answers (group commit). A group that reaches
MAX_GROUP is sent at once."""

_KEYS_PER_REQUEST = 5
_ARGS_PER_REQUEST = 12


def _lua_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# RQ's static job fields are written by the script itself; only per-job values travel.
_STATIC_HSET_ARGS = ", ".join(f"{_lua_quote(k)}, {_lua_quote(v)}" for k, v in STATIC_JOB_FIELDS)
_DYNAMIC_HSET_ARGS = ", ".join(f"{_lua_quote(name)}, ARGV[a + {3 + i}]"
                               for i, name in enumerate(DYNAMIC_JOB_FIELDS))

# KEYS per request: queue, job, idempotency (the queue's key again if none), status, counter.
# ARGV: count, max depth, idempotency TTL, status TTL, then per request: id, idempotency
# value ('' if none), the dynamic job fields, kind, event, buyer, partition, enqueued_at.
_ENQUEUE = f"""
local replies = {{}}
for i = 0, tonumber(ARGV[1]) - 1 do
  local k = i * {_KEYS_PER_REQUEST}
  local a = 4 + i * {_ARGS_PER_REQUEST}
  local outcome, detail = nil, nil
  local idempotent = ARGV[a + 2] ~= ''
  if idempotent then
    local existing = redis.call('GET', KEYS[k + 3])
    if existing then outcome, detail = 'duplicate', existing end
  end
  if not outcome then
    local depth = redis.call('LLEN', KEYS[k + 1])
    if depth >= tonumber(ARGV[2]) then outcome, detail = 'full', tostring(depth) end
  end
  if not outcome then
    redis.call('HSET', KEYS[k + 2], {_DYNAMIC_HSET_ARGS}, {_STATIC_HSET_ARGS})
    local seq = redis.call('INCR', KEYS[k + 5])
    redis.call('HSET', KEYS[k + 4], 'seq', seq, 'status', 'pending', 'kind', ARGV[a + 8],
               'event_id', ARGV[a + 9], 'buyer_id', ARGV[a + 10], 'partition', ARGV[a + 11],
               'enqueued_at', ARGV[a + 12])
    redis.call('EXPIRE', KEYS[k + 4], ARGV[4])
    redis.call('RPUSH', KEYS[k + 1], ARGV[a + 1])
    if idempotent then redis.call('SET', KEYS[k + 3], ARGV[a + 2], 'EX', ARGV[3]) end
    outcome, detail = 'ok', tostring(seq)
  end
  replies[#replies + 1] = outcome
  replies[#replies + 1] = detail
end
return replies
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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One request's part of a group call."""

    request_id: str
    body_print: str
    keys: tuple[str, ...]
    args: tuple[Any, ...]


def _prepare(keys: Keys, *, event_id: int, buyer_id: int, kind: str, params: dict[str, Any],
             partition: str, idempotency_key: str | None, request_id: str | None) -> _Prepared:
    request = BookingRequest(
        # The id puts the RQ job key in the partition's slot (given ids are extended too).
        request_id=job_id_for_partition(request_id or new_request_id(event_id), partition),
        event_id=event_id,
        buyer_id=buyer_id,
        kind=kind,
        params=params,
        enqueued_at=time.time(),
    )
    if idempotency_key:
        # What a repeated key is compared with; without a key there is nothing to compare.
        body_print = fingerprint(kind, params)
        idem_key = keys.idempotency(partition, event_id, buyer_id, idempotency_key)
        idem_value = f"{request.request_id}|{body_print}"
    else:
        body_print = idem_value = ""
        idem_key = keys.queue(partition)  # a placeholder in the slot; the script skips it
    args = (request.request_id, idem_value,
            *dynamic_job_fields(keys.queue_name(partition), request.to_payload()),
            kind, event_id, buyer_id, partition, repr(request.enqueued_at))
    script_keys = (keys.queue(partition), RQ_JOB_PREFIX + request.request_id, idem_key,
                   keys.request(request.request_id), keys.enqueued_count(partition))
    return _Prepared(request.request_id, body_print, script_keys, args)


def _group_call(group: list[_Prepared], max_depth: int) -> tuple[list[Any], list[Any]]:
    """(keys, args) of one script call for `group`, in order."""
    script_keys: list[Any] = []
    argv: list[Any] = [len(group), max_depth, IDEMPOTENCY_TTL_SECONDS, STATUS_TTL_SECONDS]
    for prepared in group:
        script_keys.extend(prepared.keys)
        argv.extend(prepared.args)
    return script_keys, argv


def _interpret(outcome: Any, detail: Any, prepared: _Prepared) -> Enqueued:
    outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
    detail = detail.decode() if isinstance(detail, bytes) else detail
    if outcome == "duplicate":
        first_id, _, first_print = detail.partition("|")
        if first_print != prepared.body_print:
            raise IdempotencyConflict(first_id)
        return Enqueued(first_id, duplicate=True)
    if outcome == "full":
        raise QueueFull(int(detail))
    return Enqueued(prepared.request_id, duplicate=False)


def register_queues(redis: Redis, keys: Keys, partitions: list[str]) -> None:
    """Add the partition queues to RQ's global set of queues (what `rq info` lists). Not
    in the enqueue script: that set is in no partition's slot."""
    if partitions:
        redis.sadd(RQ_QUEUES_SET, *(keys.queue(partition) for partition in partitions))


_Group = list[tuple[_Prepared, asyncio.Future[Enqueued]]]


class RequestQueue:
    """Enqueues booking requests for the API (async) and the benchmark (same code path).

    Requests for one partition enqueued in the same event-loop turn, or while
    `max_in_flight` calls for it are out, go to Redis as one group (one partition: one hash
    slot); each caller still gets its own answer (or error) and the group keeps their
    order. `max_in_flight=None`: every turn's group goes at once."""

    def __init__(self, redis: AsyncRedis, keys: Keys, max_queue_depth: int,
                 max_in_flight: int | None = CALLS_IN_FLIGHT):
        self._keys = keys
        self._max_depth = max_queue_depth
        self._script = AsyncLuaScript(redis, _ENQUEUE)
        self._max_in_flight = max_in_flight
        self._lanes: dict[str, _Lane] = {}

    async def enqueue(self, *, event_id: int, buyer_id: int, kind: str, params: dict[str, Any],
                      partition: str, idempotency_key: str | None = None,
                      request_id: str | None = None) -> Enqueued:
        prepared = _prepare(self._keys, event_id=event_id, buyer_id=buyer_id, kind=kind,
                            params=params, partition=partition,
                            idempotency_key=idempotency_key, request_id=request_id)
        lane = self._lanes.get(partition)
        if lane is None:
            lane = self._lanes[partition] = _Lane(self._send, self._max_in_flight)
        return await lane.enqueue(prepared)

    async def _send(self, group: _Group) -> None:
        script_keys, argv = _group_call([prepared for prepared, _ in group], self._max_depth)
        try:
            replies = await self._script(keys=script_keys, args=argv)
        except BaseException as error:
            for _, answer in group:
                if not answer.done():
                    answer.set_exception(error)
            raise
        for index, (prepared, answer) in enumerate(group):
            if answer.done():  # the caller gave up (cancelled); the request stays queued
                continue
            try:
                answer.set_result(_interpret(replies[2 * index], replies[2 * index + 1],
                                             prepared))
            except (QueueFull, IdempotencyConflict) as refused:
                answer.set_exception(refused)


class _Lane:
    """One partition's requests waiting to go, and its calls in flight."""

    def __init__(self, send: Callable[[_Group], Coroutine[Any, Any, None]],
                 max_in_flight: int | None):
        self._send = send
        self._max_in_flight = max_in_flight
        self._waiting: _Group = []
        self._in_flight = 0

    async def enqueue(self, prepared: _Prepared) -> Enqueued:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Enqueued] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)  # after the other callers of this turn
        self._waiting.append((prepared, answer))
        if len(self._waiting) >= MAX_GROUP:
            self._send_waiting()
        return await answer

    def _send_waiting(self) -> None:
        if (self._max_in_flight is not None and self._in_flight >= self._max_in_flight
                and len(self._waiting) < MAX_GROUP):
            return  # sent when a call in flight answers
        group, self._waiting = self._waiting, []
        if group:
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._send(group))
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight -= 1
        _retrieve(task)
        if self._waiting:
            self._send_waiting()


def _retrieve(task: asyncio.Task[None]) -> None:
    """Errors of a group call reach each caller; do not also report them as unretrieved."""
    if not task.cancelled():
        task.exception()


class SyncRequestQueue:
    """The same enqueue for synchronous callers (payment jobs, tests): a group of one."""

    def __init__(self, redis: Redis, keys: Keys, max_queue_depth: int):
        self._keys = keys
        self._max_depth = max_queue_depth
        self._script = LuaScript(redis, _ENQUEUE)

    def enqueue(self, *, event_id: int, buyer_id: int, kind: str, params: dict[str, Any],
                partition: str, idempotency_key: str | None = None,
                request_id: str | None = None) -> Enqueued:
        prepared = _prepare(self._keys, event_id=event_id, buyer_id=buyer_id, kind=kind,
                            params=params, partition=partition,
                            idempotency_key=idempotency_key, request_id=request_id)
        script_keys, argv = _group_call([prepared], self._max_depth)
        outcome, detail = self._script(keys=script_keys, args=argv)
        return _interpret(outcome, detail, prepared)
