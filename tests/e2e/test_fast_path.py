"""The fast path (`api.http.fast_path`) answers exactly as the generic middleware chain does.

Each handler below is served twice by the real app: on a plain route (request
context, metrics, CORS, errors, body limit as five middlewares) and on a route
marked `fast_route` (one layer). Clients and ops must not be able to tell them
apart: same status, body, request id, CORS and Retry-After headers, the same
metrics, the same log records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.exceptions
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from api.http.app import create_app
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.fast_path import fast_route
from api.launcher.settings import Settings
from tests.e2e.conftest import AiohttpClient
from tests.support.servers import unreachable_servers
from waitingroom.errors import ErrorCode, WaitingRoomError

pytestmark = pytest.mark.e2e

ORIGIN = "https://fans.example"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def answer(request: web.Request) -> web.Response:
    return web.json_response({"ok": True}, headers={"Cache-Control": "no-store"})


async def api_error(request: web.Request) -> web.Response:
    raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": "x"})


async def rate_limited(request: web.Request) -> web.Response:
    raise WaitingRoomError(ErrorCode.RATE_LIMITED, "slow down", {"retry_after": 7})


async def not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def redis_timeout(request: web.Request) -> web.Response:
    raise redis.exceptions.TimeoutError("Timeout reading from socket")


async def bug(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/healthz")


HANDLERS: dict[str, Handler] = {
    "answer": answer,
    "api-error": api_error,
    "rate-limited": rate_limited,
    "not-found": not_found,
    "redis-timeout": redis_timeout,
    "bug": bug,
    "redirect": redirect,
}
COMPARED_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Retry-After",
    "Location",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Vary",
)


def _routes() -> web.RouteTableDef:
    routes = web.RouteTableDef()
    for name, handler in HANDLERS.items():

        async def generic(request: web.Request, handler: Handler = handler) -> web.StreamResponse:
            return await handler(request)

        async def fast(request: web.Request, handler: Handler = handler) -> web.StreamResponse:
            return await handler(request)

        routes.get(f"/test/generic/{name}")(generic)
        routes.get(f"/test/fast/{name}")(fast_route(fast))
    return routes


@pytest.fixture()
async def client(aiohttp_client: AiohttpClient) -> TestClient[Any, Any]:
    settings = Settings(**unreachable_servers(), max_body_bytes=1024, cors_origins=(ORIGIN,))
    app = create_app(settings)
    app.add_routes(_routes())
    return await aiohttp_client(app)


def _counts(kind: str, name: str, status: int) -> tuple[float, float]:
    route = f"/test/{kind}/{name}"
    responses = REGISTRY.get_sample_value(
        "onsale_http_responses_total", {"method": "GET", "route": route, "status": str(status)}
    )
    timed = REGISTRY.get_sample_value(
        "onsale_http_request_duration_seconds_count", {"method": "GET", "route": route}
    )
    return responses or 0.0, timed or 0.0


async def _served(
    client: TestClient[Any, Any], kind: str, name: str, headers: dict[str, str]
) -> tuple[int, str, dict[str, str | None], str]:
    response = await client.get(f"/test/{kind}/{name}", headers=headers, allow_redirects=False)
    body = (await response.text()).replace(f"/test/{kind}/", "/test/<kind>/")
    compared = {header: response.headers.get(header) for header in COMPARED_HEADERS}
    return response.status, body, compared, response.headers["X-Request-Id"]


@pytest.mark.parametrize("name", list(HANDLERS))
@pytest.mark.parametrize("origin", [None, ORIGIN, "https://elsewhere.example"])
async def test_fast_route_answers_like_the_middleware_chain(
    client: TestClient[Any, Any], name: str, origin: str | None
) -> None:
    headers = {"X-Request-Id": f"req-{name}"}
    if origin is not None:
        headers["Origin"] = origin
    generic = await _served(client, "generic", name, headers)
    status = generic[0]
    before = _counts("fast", name, status)
    fast = await _served(client, "fast", name, headers)
    assert fast == generic
    assert fast[3] == f"req-{name}", "an offered request id is echoed"
    after = _counts("fast", name, status)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1), "counted and timed"
    assert _counts("generic", name, status)[0] >= 1


async def test_generated_request_ids_and_log_records_match(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for kind in ("generic", "fast"):
        caplog.clear()
        response = await client.get(f"/test/{kind}/bug")
        request_id = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
        assert (await response.json())["error"]["details"] == {"request_id": request_id}
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert errors and errors[0].exc_info is not None
        assert getattr(errors[0], "request_id", None) == request_id, kind
        access = [r for r in caplog.records if r.name == "onsale.access"]
        assert [getattr(r, "status", None) for r in access] == [500], kind
    again = await client.get("/test/fast/answer")
    assert again.headers["X-Request-Id"] != request_id, "every request gets its own id"


async def test_a_request_with_a_body_takes_the_chain_and_its_body_limit(
    client: TestClient[Any, Any],
) -> None:
    for kind in ("generic", "fast"):
        response = await client.get(f"/test/{kind}/answer", data=b"x" * 2048)
        assert response.status == 413, kind
        assert (await response.json())["error"]["code"] == "payload_too_large"
        assert "X-Request-Id" in response.headers


async def test_shutdown_with_redis_down_keeps_its_counts_warning_not_failing(
        caplog: pytest.LogCaptureFixture) -> None:
    """The per-event tally is flushed once more at shutdown; with Redis down that flush is
    lost with a warning and the app still shuts down cleanly."""
    from aiohttp.test_utils import TestClient, TestServer

    app = create_app(Settings(**unreachable_servers()))
    client = TestClient(TestServer(app))
    await client.start_server()
    response = await client.get("/events/7/queue/some-ticket")  # tallied for event 7
    assert response.status == 404
    with caplog.at_level("WARNING", logger="onsale.metrics"):
        await client.close()  # runs the cleanup contexts, the final flush among them
    assert "flushing per-event HTTP counts failed" in caplog.text
