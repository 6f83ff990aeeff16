"""Booking requests as real RQ jobs, without RQ's per-job round trips.

The API builds the job hash with RQ's own `Job.to_dict()` (so `rq info`,
rq-dashboard and `Job.fetch` all understand it) and writes it in the same Lua
script that checks idempotency and backpressure. The partition consumer reads
job payloads in one pipeline and marks whole batches finished in one pipeline.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

import redis
from rq.job import Job, JobStatus, Retry
from rq.serializers import DefaultSerializer

RESULT_TTL_SECONDS = 3600
FAILURE_TTL_SECONDS = 86400

# Job objects need a connection object even when nothing is sent through it.
_OFFLINE = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.01)


def partition_only(payload: dict[str, Any]) -> None:
    """The job function RQ records. Booking jobs are decided in batches by the
    partition consumer (`onsale worker`), never by a plain `rq worker`."""
    raise RuntimeError(
        "booking jobs are consumed by `onsale worker` (one consumer per partition); "
        "do not point a plain rq worker at partition queues"
    )


def rq_job_hash(job_id: str, queue_name: str, func: str, args: tuple[Any, ...],
                timeout_seconds: int, description: str | None = None,
                retries: int = 0) -> dict[str, Any]:
    """The hash RQ itself writes for a freshly enqueued job (built by RQ's own `Job`);
    `retries`: RQ re-enqueues it at once that many times if it fails or is abandoned."""
    job = Job.create(
        func,
        args=args,
        connection=_OFFLINE,
        id=job_id,
        origin=queue_name,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
        status=JobStatus.QUEUED,
        description=description,
        timeout=timeout_seconds,
        retry=Retry(max=retries) if retries else None,
    )
    job.enqueued_at = datetime.now(UTC).replace(tzinfo=None)
    return job.to_dict()


JOB_FUNCTION = "workers.rqjob.partition_only"
BOOKING_JOB_TIMEOUT_SECONDS = 180
DYNAMIC_JOB_FIELDS = ("data", "created_at", "enqueued_at", "origin", "description")


def _static_job_fields() -> list[tuple[str, str]]:
    """The fields every booking job shares, as RQ writes them for a fresh job, less the
    empty ones (callbacks, worker, heartbeat...): RQ reads a missing field as empty, and
    each field is Redis work on every enqueue."""
    sample = rq_job_hash("sample", "sample", JOB_FUNCTION, ({},), BOOKING_JOB_TIMEOUT_SECONDS,
                         description="sample")
    fields = [(name, str(value.value if hasattr(value, "value") else value))
              for name, value in sample.items() if name not in DYNAMIC_JOB_FIELDS]
    return [(name, value) for name, value in fields if value != ""]


STATIC_JOB_FIELDS = _static_job_fields()


def dynamic_job_fields(queue_name: str, payload: dict[str, Any]) -> list[Any]:
    """Values of DYNAMIC_JOB_FIELDS for one booking job, as RQ would compute them, except
    that `data` is not zlib-compressed: a payload is ~200 bytes, compressing it saves ~30
    and costs ~10 us per request; RQ reads uncompressed data as it is (`Job.restore`)."""
    stamp = rq_timestamp(datetime.now(UTC))
    data = DefaultSerializer.dumps((JOB_FUNCTION, None, (payload,), {}))
    return [data, stamp, stamp, queue_name,
            f"booking {payload.get('kind')} for event {payload.get('event_id')}"]


def payload_from_job_data(data: bytes) -> dict[str, Any]:
    """The payload argument inside a stored job's `data` field (compressed or not)."""
    if not data.startswith(_PICKLE_START):
        data = zlib.decompress(data)
    _func, _instance, args, _kwargs = DefaultSerializer.loads(data)
    payload: dict[str, Any] = args[0]
    return payload


_PICKLE_START = b"\x80"
"""Pickle protocol 2 and later start with PROTO; a zlib stream starts with 0x78."""
_SECONDS_STAMP: tuple[int, str] = (-1, "")


def rq_timestamp(moment: datetime) -> str:
    """RQ's own UTC timestamp format (`%Y-%m-%dT%H:%M:%S.%fZ`), the formatted second cached."""
    global _SECONDS_STAMP
    second = int(moment.timestamp())
    cached_second, prefix = _SECONDS_STAMP
    if second != cached_second:
        prefix = moment.strftime("%Y-%m-%dT%H:%M:%S")
        _SECONDS_STAMP = (second, prefix)
    return f"{prefix}.{moment.microsecond:06d}Z"
