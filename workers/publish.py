"""After a batch is committed: tell everyone, in two Redis round trips.

First the batch's writes to keys outside the partition's hash slot, in one pipeline:
availability deltas per event (live seat maps), how holds ended, payment follow-ups and the
dashboard's counters. Then one Lua script on the partition's slot: request statuses (poll),
one message per batch on the partition's results channel (SSE; one line per decision,
`request id TAB json`, so a listener decodes only the decisions it waits for), RQ job
states in RQ's own registries (`rq info` tells the truth), and the batch's ids removed from
the in-flight list one by one (never a count off its head: an id the batch did not include
stays there to be decided). The script runs only while the lease in Redis is still ours: a
consumer that lost its lease cannot publish a decision taken on state it no longer owns.
The writes before it are facts Postgres already holds (the batch committed under the
fence), safe to repeat. If either step is lost to a crash, the next lease holder re-runs
the in-flight ids, finds their outcomes in Postgres, and publishes again (a payment
follow-up may then be queued twice; its jobs are idempotent).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from workers import payments
from workers.decider import Outcome
from workers.keys import (
    RQ_JOB_PREFIX,
    Keys,
    rq_failed_registry,
    rq_finished_registry,
)
from workers.lease import LeaseLost
from workers.redis_client import LuaScript
from workers.rqjob import FAILURE_TTL_SECONDS, RESULT_TTL_SECONDS, rq_timestamp

AVAILABILITY_STREAM_MAX = 5000

_FIXED_KEYS = 5
_FIXED_ARGS = 8
_ARGS_PER_JOB = 5

# KEYS: in-flight list, finished and failed registries, stats, lease, then per job its
# status record and RQ job hash; all in the partition's slot.
_FINISH_BATCH = f"""
if ARGV[8] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[8] then return -1 end
local jobs = tonumber(ARGV[1])
-- RQ's registries get one ZADD each per batch (score = when the entry expires).
local finished_at = tostring(tonumber(ARGV[5]) + tonumber(ARGV[3]))
local failed_at = tostring(tonumber(ARGV[5]) + tonumber(ARGV[4]))
local finished, failed = {{}}, {{}}
for i = 1, jobs do
  local request_key = KEYS[{_FIXED_KEYS - 1} + 2 * i]
  local job_key = KEYS[{_FIXED_KEYS} + 2 * i]
  local a = {_FIXED_ARGS} + (i - 1) * {_ARGS_PER_JOB}
  redis.call('HSET', request_key, 'status', ARGV[a + 1], 'result', ARGV[a + 2],
             'decided_at', ARGV[a + 3])
  local job_id = string.sub(job_key, 8)
  -- This id only: one the batch did not include stays for a holder to decide. The
  -- batch's ids are at the head of the list, so each LREM stops at once.
  redis.call('LREM', KEYS[1], 1, job_id)
  if ARGV[a + 4] == 'finished' then
    redis.call('HSET', job_key, 'status', 'finished', 'ended_at', ARGV[2])
    redis.call('EXPIRE', job_key, ARGV[3])
    finished[#finished + 1] = finished_at
    finished[#finished + 1] = job_id
  else
    redis.call('HSET', job_key, 'status', 'failed', 'ended_at', ARGV[2], 'exc_info', ARGV[a + 5])
    redis.call('EXPIRE', job_key, ARGV[4])
    failed[#failed + 1] = failed_at
    failed[#failed + 1] = job_id
  end
end
if #finished > 0 then redis.call('ZADD', KEYS[2], unpack(finished)) end
if #failed > 0 then redis.call('ZADD', KEYS[3], unpack(failed)) end
if ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
redis.call('HINCRBY', KEYS[4], 'decisions', jobs)
redis.call('HINCRBY', KEYS[4], 'batches', 1)
redis.call('HSET', KEYS[4], 'last_batch_at', ARGV[5])
return jobs
"""

_HOLD_ENDED = """
local kind = redis.call('HGET', KEYS[1], 'kind')
if kind == 'hold' or kind == 'offer' then
  redis.call('HSET', KEYS[1], 'hold_status', ARGV[1])
end
"""
"""A hold (or waiting-list offer) request's record says how its hold ended, if the record
is still there (a hold re-made by a paid-after-expiry sale has a sell request's id: left
alone)."""
_OFFER_SERVED = """
if redis.call('HGET', KEYS[1], 'kind') == 'offer' then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'result', ARGV[2], 'decided_at', ARGV[3])
end
"""
"""A standing offer served in a later batch than its request: the request's record says
`held` (the fan checks the offer out by that id), if the record is still there."""


@dataclass
class Commands:
    """Redis writes recorded to run before the publish script, in order, each on one key.

    It offers the few pipeline methods a follow-up needs, so `Followup.push` records
    its job here exactly as it would queue it on a pipeline."""

    keys: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    count: int = 0

    def _add(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> None:
        self.keys.extend(keys)
        self.args.extend((name, len(keys), len(args), *args))
        self.count += 1

    def hset(self, key: str, mapping: dict[str, Any]) -> None:
        self._add("HSET", [key], [x for pair in mapping.items() for x in pair])

    def rpush(self, key: str, *values: Any) -> None:
        self._add("RPUSH", [key], values)

    def sadd(self, key: str, *members: Any) -> None:
        self._add("SADD", [key], members)

    def xadd(self, key: str, fields: dict[str, Any], maxlen: int) -> None:
        self._add("XADD", [key], ["MAXLEN", "~", maxlen, "*",
                                  *(x for pair in fields.items() for x in pair)])

    def publish(self, channel: str, message: str) -> None:
        # A channel is not a key; it travels as an argument.
        self._add("PUBLISH", [], [channel, message])

    def hincrby(self, key: str, name: str, amount: int) -> None:
        self._add("HINCRBY", [key], [name, amount])

    def expire(self, key: str, seconds: int) -> None:
        self._add("EXPIRE", [key], [seconds])

    def hold_ended(self, request_key: str, how: str) -> None:
        """Record `hold_status` on a hold request's status record, only if it exists and
        is a hold's (a small script checks)."""
        self._add("HOLDENDED", [request_key], [how])

    def offer_served(self, request_key: str, outcome: Outcome) -> None:
        """Record a served standing offer on its request's status record (a small script
        checks it is an offer's)."""
        self._add("OFFERSERVED", [request_key],
                  [outcome.status, json.dumps(outcome.result), repr(outcome.decided_at)])

    def then(self, other: Commands) -> None:
        """Append `other`'s writes after these."""
        self.keys.extend(other.keys)
        self.args.extend(other.args)
        self.count += other.count

    def send(self, redis: Redis) -> None:
        """Run the writes in one pipeline (no MULTI: their keys lie in many slots)."""
        if not self.count:
            return
        with redis.pipeline(transaction=False) as pipe:
            k = a = 0
            for _ in range(self.count):
                name, nkeys, nargs = self.args[a], self.args[a + 1], self.args[a + 2]
                keys = self.keys[k:k + nkeys]
                args = self.args[a + 3:a + 3 + nargs]
                if name in _SCRIPTS:  # EVAL as a command: a cluster pipeline has no eval()
                    pipe.execute_command("EVAL", _SCRIPTS[name], 1,  # type: ignore[no-untyped-call]
                                         *keys, *args)
                else:
                    pipe.execute_command(name, *keys, *args)  # type: ignore[no-untyped-call]
                k += nkeys
                a += 3 + nargs
            pipe.execute()


_SCRIPTS = {"HOLDENDED": _HOLD_ENDED, "OFFERSERVED": _OFFER_SERVED}


def results_message_lines(data: bytes | str) -> list[tuple[str, bytes | str]]:
    """A results-channel message as (request id, the decision's JSON, still encoded), in
    queue order: a listener decodes only the decisions it waits for."""
    if isinstance(data, bytes):
        return [(rid.decode(), body) for rid, _, body in
                (line.partition(b"\t") for line in data.split(b"\n")) if body]
    return [(rid, body) for rid, _, body in
            (line.partition("\t") for line in data.split("\n")) if body]


def _quoted(text: str) -> str:
    """`json.dumps(text)` for our own ids and names; the general case for anything else."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


FAILED_RESULT = json.dumps({"error": {
    "code": "request_failed",
    "message": "This request could not be processed; please try again.",
    "details": {},
}})


class Publisher:
    def __init__(self, redis: Redis, keys: Keys):
        self._redis = redis
        self._keys = keys
        self._finish = LuaScript(redis, _FINISH_BATCH)

    def publish_batch(self, *, partition: str, queue_name: str, job_ids: Sequence[str],
                      outcomes: Sequence[Outcome], broken: dict[str, str],
                      deltas: dict[int, tuple[int, dict[str, str]]], now: float,
                      committed_at: float | None = None, lease_value: str = "",
                      hold_endings: Mapping[str, str] | None = None,
                      refunded_orders: Sequence[str] = (),
                      served_offers: Sequence[Outcome] = (),
                      extra: Commands | None = None) -> None:
        """Publish the decisions of `job_ids` (queue order); remove them from the in-flight list.

        `committed_at` is when the batch became durable; the channel message carries it so a
        listener can tell when (and, from the message order, in which order) it was decided.
        With `lease_value`, nothing is published unless the partition's lease still holds
        it; LeaseLost is raised instead. `hold_endings`: hold id -> how the hold ended
        (released, expired, sold, cancelled, refunded), recorded on the hold request's status
        record.
        `refunded_orders`: orders refunded in the batch, each followed by a refund job.
        `served_offers`: outcomes of standing offers served in the batch whose requests
        were decided before (`BatchDecision.served_offers`), written on their records.
        `extra`: the caller's own writes (the dashboard's counters), sent with the batch's
        writes outside the partition's slot, before the script."""
        committed = repr(now if committed_at is None else committed_at)
        keys = self._keys
        by_id = {outcome.request_id: outcome for outcome in outcomes}
        script_keys: list[str] = [keys.inflight(partition), rq_finished_registry(queue_name),
                                  rq_failed_registry(queue_name), keys.partition_stats(partition),
                                  keys.lease(partition)]
        job_args: list[Any] = []
        lines: list[str] = []
        for job_id in job_ids:
            script_keys.append(keys.request(job_id))
            script_keys.append(RQ_JOB_PREFIX + job_id)
            outcome = by_id.get(job_id)
            if outcome is None:
                reason = broken.get(job_id, "no decision was made for this request")
                job_args.extend(("failed", FAILED_RESULT, repr(now), "failed",
                                 zlib.compress(reason.encode())))
                lines.append(f"{job_id}\t" + json.dumps(
                    {"request_id": job_id, "status": "failed", "decided_at": now}))
                continue
            result = json.dumps(outcome.result)
            job_args.extend((outcome.status, result, repr(outcome.decided_at), "finished", ""))
            lines.append(
                f'{job_id}\t{{"request_id": {_quoted(job_id)}, "event_id": '
                f'{outcome.event_id}, "kind": {_quoted(outcome.kind)}, "status": '
                f'{_quoted(outcome.status)}, "decided_at": {outcome.decided_at!r}, '
                f'"committed_at": {committed}, '
                f'"result": {result}}}')
        ended = rq_timestamp(datetime.fromtimestamp(now, UTC))
        writes = Commands()
        for event_id, (version, changes) in deltas.items():
            body = json.dumps({"version": version, "changes": changes})
            writes.xadd(keys.availability_stream(event_id), {"version": version, "delta": body},
                        maxlen=AVAILABILITY_STREAM_MAX)
            writes.publish(keys.availability_channel(event_id), body)
        for served in served_offers:
            writes.offer_served(keys.request(served.request_id), served)
        for hold_id, how in (hold_endings or {}).items():
            writes.hold_ended(keys.request(hold_id), how)
        for followup in payments.followups(outcomes, keys, refunded_orders):
            followup.push(writes)
        if extra is not None:
            writes.then(extra)
        argv: list[Any] = [len(job_ids), ended, RESULT_TTL_SECONDS, FAILURE_TTL_SECONDS,
                           repr(now), keys.results_channel(partition),
                           "\n".join(lines), lease_value, *job_args]
        writes.send(self._redis)
        if self._finish(keys=script_keys, args=argv) == -1:
            raise LeaseLost(partition)
