"""Payments jobs whose worker died mid-run, retried as soon as a new worker starts.

RQ finds such a job by itself only once its heartbeat expired (the job's
timeout plus 60 s) and its registry maintenance next runs; until then the order
waits, e.g. `authorized` with its capture pending. A payments worker starting
on the same host knows better: a job whose execution names a worker process
that is no longer alive on this host was abandoned. Its entry in the started
registry is marked expired, then RQ's own clean-up retries it (the jobs carry
retries, and their bodies are idempotent).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from redis import Redis
from rq import Queue
from rq.executions import Execution
from rq.registry import StartedJobRegistry
from rq.worker import Worker

log = logging.getLogger("onsale.payments")


def retry_abandoned_jobs(queue: Queue, connection: Redis,
                         process_alive: Callable[[int], bool]) -> list[str]:
    """Retry the queue's started jobs whose worker process on this host is gone; their ids."""
    registry = StartedJobRegistry(queue=queue)
    host = socket.gethostname()
    abandoned: list[str] = []
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        try:
            execution = Execution.fetch(execution_id, job_id, connection)
        except ValueError:  # its execution expired: RQ's clean-up handles the entry
            continue
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + execution.worker_name,
                                    connection=connection)
        dead = worker is None or (worker.hostname == host and worker.pid is not None
                                  and not process_alive(worker.pid))
        if dead:
            connection.zadd(registry.key, {f"{job_id}:{execution_id}": 1}, xx=True)
            abandoned.append(job_id)
    if abandoned:
        log.warning("retrying %d payments jobs abandoned by a dead worker: %s",
                    len(abandoned), ", ".join(abandoned))
        registry.cleanup()
    return abandoned
