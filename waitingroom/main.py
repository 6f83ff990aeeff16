"""The admission controller process: `run(redis_url, prefix)` steps every event that has a
waiting room (the launcher's composition root reads the settings and calls it).

Each round it reads the set of configured events, so a room ops switch on is
served within one step, and each step re-reads the room's config, so a rate,
cap or pause change takes effect within a step (0.2 s). Several processes may
run for availability: per event only the holder of the lease acts, and a
stopping process hands its leases back so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis
import redis.exceptions

from waitingroom.controller import STEP_INTERVAL_SECONDS, AdmissionController, new_owner_id
from waitingroom.keys import events_registry
from waitingroom.wire import text

Connect = Callable[..., aioredis.Redis]
"""Makes the async Redis client from a URL and options."""

log = logging.getLogger("onsale.admission")

REDIS_TIMEOUT_SECONDS = 5.0


class ConfiguredEvents:
    """The events with a waiting room, remembered across a Redis outage so one failed read
    does not stop the controller (each step then fails and is retried on its own)."""

    def __init__(self, redis: aioredis.Redis, prefix: str):
        self._redis = redis
        self._key = events_registry(prefix)
        self._known: list[int] = []
        self._failing = False

    async def __call__(self) -> Iterable[int]:
        try:
            members = await self._redis.smembers(self._key)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if not self._failing:
                log.warning("cannot read the configured events (%s); retrying", exc)
            self._failing = True
            await asyncio.sleep(STEP_INTERVAL_SECONDS)
            return self._known
        if self._failing:
            log.info("configured events readable again")
            self._failing = False
        self._known = sorted(int(text(member)) for member in members)
        return self._known


async def serve(
    redis_url: str, prefix: str, stop: asyncio.Event, interval: float = STEP_INTERVAL_SECONDS,
    connect: Connect = aioredis.Redis.from_url,
) -> None:
    """Run one controller until `stop` is set (tests drive this directly). `connect` makes
    the Redis client from the URL: the launcher passes onsale's factory, which also speaks
    Redis Cluster (workers/redis_client.py; this package may not import it)."""
    client = connect(
        redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    controller = AdmissionController(client, prefix, new_owner_id())
    log.info("admission controller %s starting", controller.owner_id)
    try:
        await controller.run(ConfiguredEvents(client, prefix), stop, interval=interval)
    finally:
        await client.aclose()
        log.info("admission controller %s stopped", controller.owner_id)


async def _main(redis_url: str, prefix: str, connect: Connect) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(redis_url, prefix, stop, connect=connect)


def run(redis_url: str, prefix: str, connect: Connect = aioredis.Redis.from_url) -> int:
    """`onsale admission-controller`: runs until SIGTERM or SIGINT, then releases its leases.
    `connect` makes the Redis client from the URL (the launcher passes onsale's factory,
    which also speaks Redis Cluster; this package may not import it)."""
    asyncio.run(_main(redis_url, prefix, connect))
    return 0
