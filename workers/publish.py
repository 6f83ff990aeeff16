"""After a batch is committed: tell everyone, in one Redis transaction.

Request statuses (poll), one message per batch on the partition's results
channel (SSE), availability deltas per event (live seat maps), RQ job states
in RQ's own registries (`rq info` tells the truth), payment follow-ups, and the
in-flight list cleared. If this step is lost to a crash, the next lease holder
re-runs the in-flight batch, finds the outcomes in Postgres, and publishes again.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

from redis import Redis

from workers import payments
from workers.decider import Outcome
from workers.keys import (
    RQ_JOB_PREFIX,
    RQ_QUEUE_PREFIX,
    RQ_QUEUES_SET,
    Keys,
    rq_failed_registry,
    rq_finished_registry,
)
from workers.rqjob import FAILURE_TTL_SECONDS, RESULT_TTL_SECONDS, rq_timestamp

AVAILABILITY_STREAM_MAX = 5000


def outcome_message(outcome: Outcome) -> dict[str, object]:
    return {"request_id": outcome.request_id, "event_id": outcome.event_id,
            "kind": outcome.kind, "status": outcome.status, "result": outcome.result,
            "decided_at": outcome.decided_at}


class Publisher:
    def __init__(self, redis: Redis, keys: Keys):
        self._redis = redis
        self._keys = keys

    def publish_batch(self, *, partition: str, queue_name: str, job_ids: Sequence[str],
                      outcomes: Sequence[Outcome], broken: dict[str, str],
                      deltas: dict[int, tuple[int, dict[str, str]]], now: float) -> None:
        keys = self._keys
        ended = rq_timestamp(datetime.fromtimestamp(now, UTC))
        messages = [outcome_message(o) for o in outcomes]
        with self._redis.pipeline(transaction=True) as pipe:
            for outcome in outcomes:
                pipe.hset(keys.request(outcome.request_id), mapping={
                    "status": outcome.status,
                    "result": json.dumps(outcome.result),
                    "decided_at": repr(outcome.decided_at),
                })
            for job_id in broken:
                pipe.hset(keys.request(job_id), mapping={
                    "status": "failed",
                    "result": json.dumps({"error": {"code": "request_failed", "message":
                                                    "This request could not be processed; "
                                                    "please try again.", "details": {}}}),
                    "decided_at": repr(now),
                })
                messages.append({"request_id": job_id, "status": "failed", "decided_at": now})
            if messages:
                pipe.publish(keys.results_channel(partition), json.dumps(messages))
            for event_id, (version, changes) in deltas.items():
                body = json.dumps({"version": version, "changes": changes})
                pipe.xadd(keys.availability_stream(event_id), {"version": version, "delta": body},
                          maxlen=AVAILABILITY_STREAM_MAX, approximate=True)
                pipe.publish(keys.availability_channel(event_id), body)
            finished = [j for j in job_ids if j not in broken]
            for job_id in finished:
                pipe.hset(RQ_JOB_PREFIX + job_id, mapping={"status": "finished", "ended_at": ended})
                pipe.expire(RQ_JOB_PREFIX + job_id, RESULT_TTL_SECONDS)
            if finished:
                pipe.zadd(rq_finished_registry(queue_name),
                          dict.fromkeys(finished, now + RESULT_TTL_SECONDS))
            for job_id, reason in broken.items():
                pipe.hset(RQ_JOB_PREFIX + job_id, mapping={
                    "status": "failed", "ended_at": ended,
                    "exc_info": zlib.compress(reason.encode())})
                pipe.expire(RQ_JOB_PREFIX + job_id, FAILURE_TTL_SECONDS)
                pipe.zadd(rq_failed_registry(queue_name), {job_id: now + FAILURE_TTL_SECONDS})
            for followup in payments.followups(outcomes, keys):
                pipe.hset(RQ_JOB_PREFIX + followup.job_id, mapping=followup.mapping)
                pipe.rpush(RQ_QUEUE_PREFIX + followup.queue_name, followup.job_id)
                pipe.sadd(RQ_QUEUES_SET, RQ_QUEUE_PREFIX + followup.queue_name)
            pipe.delete(keys.inflight(partition))
            stats = keys.partition_stats(partition)
            pipe.hincrby(stats, "decisions", len(outcomes))
            pipe.hincrby(stats, "batches", 1)
            pipe.hset(stats, "last_batch_at", repr(now))
            pipe.execute()
