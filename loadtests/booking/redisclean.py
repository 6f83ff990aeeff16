"""Delete the Redis keys of one benchmark run, and only those."""

from __future__ import annotations

import redis

RQ_SHARED_SETS = ("rq:queues", "rq:workers")


def delete_run_keys(redis_url: str, redis_prefix: str) -> int:
    """Keys under `<prefix>:` plus RQ's keys that carry the prefix in a queue, job or worker
    name; the prefix is also removed from RQ's shared sets. Returns how many keys went."""
    client = redis.Redis.from_url(redis_url)
    deleted = 0
    try:
        for pattern in (f"{redis_prefix}:*", f"rq:*{redis_prefix}*"):
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
