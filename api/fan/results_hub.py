"""One pub/sub connection per API process, fanned out to the SSE streams waiting on it.

Partition consumers publish one message per batch on their results channel;
the hub reads them all (pattern subscription) and wakes the streams waiting
for those request ids, decoding only their decisions. Thousands of open
streams cost one Redis connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio
from aiohttp import web

from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.http.errors import SSE_STREAM
from workers.keys import Keys
from workers.publish import results_message_lines

log = logging.getLogger("onsale.live")

LISTEN_POLL_SECONDS = 1.0


class ResultsHub:
    def __init__(self, client: redis.asyncio.Redis, keys: Keys):
        self._client = client
        self._keys = keys
        self._waiters: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.stopping = False

    def watch(self, request_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiters[request_id].add(queue)
        return queue

    def unwatch(self, request_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        waiters = self._waiters.get(request_id)
        if waiters is not None:
            waiters.discard(queue)
            if not waiters:
                del self._waiters[request_id]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """End the listener and every waiting stream. A flag as well as a cancel: redis-py can
        swallow a cancellation that races its read timeout."""
        self.stopping = True
        for waiters in list(self._waiters.values()):
            for queue in waiters:
                queue.put_nowait({"shutdown": True})
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=LISTEN_POLL_SECONDS * 3)

    async def _listen(self) -> None:
        while not self.stopping:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._keys.results_pattern())
                while not self.stopping:
                    message = await pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
                    if message is not None and message.get("type") == "pmessage":
                        self._dispatch(message["data"])
            except Exception:  # noqa: BLE001 - Redis hiccups must not end live updates
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # redis-py wrapped our cancel
                log.warning("results hub lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    def _dispatch(self, data: bytes | str) -> None:
        if not self._waiters:
            return
        for request_id, body in results_message_lines(data):
            waiters = self._waiters.get(request_id)
            if waiters:
                item = json.loads(body)
                for queue in tuple(waiters):
                    queue.put_nowait(item)


HUB_KEY = web.AppKey("results_hub", ResultsHub)


async def results_hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = ResultsHub(app[REDIS_KEY], Keys(app[SETTINGS_KEY].redis_prefix))
    app[HUB_KEY] = hub
    await hub.start()
    yield
    await hub.stop()


async def sse_response(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    request[SSE_STREAM] = response  # a later error ends the stream cleanly (api/http/errors.py)
    return response


async def sse_send(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
