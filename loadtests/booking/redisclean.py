"""Delete the Redis keys of one benchmark run, and only those."""

from __future__ import annotations

import re

import redis

RQ_SHARED_SETS = ("rq:queues", "rq:workers")


def run_tag(redis_prefix: str) -> str:
    """The prefix as it appears inside a run's job ids: letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", redis_prefix)


def delete_run_keys(redis_url: str, redis_prefix: str) -> int:
    """Keys under `<prefix>:` plus RQ's keys that carry the prefix (or its `run_tag`, as job
    ids do) in a queue, job or worker name; the prefix is also removed from RQ's shared
    sets. Returns how many keys went."""
    client = redis.Redis.from_url(redis_url)
    deleted = 0
    patterns = [f"{redis_prefix}:*", f"rq:*{redis_prefix}*"]
    if run_tag(redis_prefix) != redis_prefix:
        patterns.append(f"rq:*{run_tag(redis_prefix)}*")
    try:
        for pattern in patterns:
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += client.unlink(*batch)
        for shared in RQ_SHARED_SETS:
            members = [m for m in client.smembers(shared) if redis_prefix.encode() in m]
            if members:
                client.srem(shared, *members)
    finally:
        client.close()
    return deleted
