"""The line summary through a real caching proxy (nginx proxy_cache on loopback): the proxy
answers it from its cache, as a CDN would, and the fan's own status poll is never cached."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from api.http.app import create_app
from api.launcher.settings import Settings
from loadtests.bench_scaling import caching_proxy
from waitingroom.config import RoomConfig
from waitingroom.keys import RoomKeys

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                       reason="nginx is not installed"),
]

EVENT_ID = 424_242


async def test_the_proxy_serves_the_summary_from_its_cache_and_passes_status_polls(
    settings: Settings, redis_client: Any
) -> None:
    now = time.time()
    config = RoomConfig(opens_at=now - 10, sale_starts_at=now - 10)
    redis_client.hset(RoomKeys(settings.redis_prefix, EVENT_ID).config, mapping=config.to_fields())
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        with caching_proxy(server.port or 0) as proxy:
            base = f"http://127.0.0.1:{proxy}"
            async with aiohttp.ClientSession() as session:
                summaries = []
                for _ in range(20):
                    async with session.get(f"{base}/events/{EVENT_ID}/queue") as reply:
                        assert reply.status == 200
                        assert reply.headers["Cache-Control"] == "public, max-age=1"
                        summaries.append((reply.headers["X-Cache-Status"], await reply.json()))
                statuses = []
                for _ in range(3):
                    async with session.get(f"{base}/events/{EVENT_ID}/queue/not-a-ticket") as reply:
                        statuses.append(reply.headers.get("X-Cache-Status"))
    finally:
        await server.close()
    cache = [status for status, _ in summaries]
    assert cache[0] == "MISS"
    assert "HIT" in cache, "twenty reads in a row, and the proxy asked the origin every time"
    assert all(body["event_id"] == EVENT_ID for _, body in summaries)
    assert "HIT" not in statuses, "a fan's own status must reach the origin"
