"""A store failing in the middle of an event stream ends the stream with an `error` event in
the JSON error shape, instead of an error page spliced into the chunked body (clients saw
"Invalid character in chunk size" when Redis restarted under a surge).

Invariant: every answer, streams included, is well-formed HTTP with errors in the error shape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.exceptions
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient

from api.fan.results_hub import sse_response, sse_send
from api.http.errors import error_middleware

pytestmark = pytest.mark.e2e


async def _stream_then_lose_redis(request: web.Request) -> web.StreamResponse:
    response = await sse_response(request)
    await sse_send(response, "pending", {"status": "pending"})
    raise redis.exceptions.ConnectionError("Connection reset by peer")


async def test_a_failure_mid_stream_ends_it_with_an_error_event(
        aiohttp_client: AiohttpClient) -> None:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/stream", _stream_then_lose_redis)
    client: Any = await aiohttp_client(app)

    response = await client.get("/stream")
    assert response.status == 200
    text = await response.text()  # a broken chunked body would raise here
    events = [block for block in text.split("\n\n") if block.strip()]
    assert events[0].startswith("event: pending")
    last = dict(line.split(": ", 1) for line in events[-1].splitlines())
    assert last["event"] == "error" and last["retry"] == "1000"
    assert json.loads(last["data"])["error"]["code"] == "redis_unavailable"
