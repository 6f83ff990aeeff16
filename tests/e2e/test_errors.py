"""The error middleware: every failure becomes `{"error": {code, message, details}}`
with the status and stable code clients rely on, and a 500 names its request id.

The app here is the real one (real middleware stack) pointed at closed ports,
with a few routes added that fail in each way a handler can.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.exceptions
import sqlalchemy
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.http.app import create_app
from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY
from api.http.error_codes import RoomCode
from api.http.errors import ApiError, read_json
from api.launcher.settings import Settings
from engine.errors import BookingError, ErrorCode
from tests.e2e.conftest import AiohttpClient
from tests.support.servers import unreachable_servers

pytestmark = pytest.mark.e2e


def _failing_routes() -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/test/booking/{code}")
    async def booking(request: web.Request) -> web.Response:
        code = ErrorCode(request.match_info["code"])
        raise BookingError(code, f"refused: {code.value}", {"event_id": 7})

    @routes.get("/test/api-error")
    async def api_error(request: web.Request) -> web.Response:
        raise ApiError(RoomCode.NOT_ADMITTED, "no admission token", {"event_id": 7})

    @routes.post("/test/json")
    async def json_body(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request))

    @routes.get("/test/redis")
    async def redis_down(request: web.Request) -> web.Response:
        await request.app[REDIS_KEY].get("anything")
        return web.json_response({})

    @routes.get("/test/database")
    async def database_down(request: web.Request) -> web.Response:
        def query() -> None:
            with request.app[DB_ENGINE_KEY].connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))

        await asyncio.to_thread(query)
        return web.json_response({})

    @routes.get("/test/redis-timeout")
    async def redis_timeout(request: web.Request) -> web.Response:
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    @routes.get("/test/bug")
    async def bug(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    @routes.get("/test/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/healthz")

    return routes


@pytest.fixture()
async def client(aiohttp_client: AiohttpClient) -> TestClient[Any, Any]:
    settings = Settings(**unreachable_servers(), max_body_bytes=1024)
    app = create_app(settings)
    app.add_routes(_failing_routes())
    return await aiohttp_client(app)


async def _error(response: Any) -> dict[str, Any]:
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("seats_taken", 409),
        ("sold_out", 409),
        ("limit_exceeded", 409),
        ("hold_not_found", 404),
        ("order_not_found", 404),
        ("hold_expired", 410),
        ("invalid_request", 400),
    ],
)
async def test_booking_errors_map_to_status_by_code(
    client: TestClient[Any, Any], code: str, status: int
) -> None:
    response = await client.get(f"/test/booking/{code}")

    assert response.status == status
    error = await _error(response)
    assert error["code"] == code
    assert error["details"] == {"event_id": 7}


async def test_every_booking_error_code_has_a_status() -> None:
    from api.http.error_codes import BOOKING_STATUS

    assert set(BOOKING_STATUS) == set(ErrorCode)


async def test_api_error_keeps_its_status_and_code(client: TestClient[Any, Any]) -> None:
    response = await client.get("/test/api-error")

    assert response.status == 403
    assert (await _error(response))["code"] == "not_admitted"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
async def test_bad_json_body_is_400_invalid_request(
    client: TestClient[Any, Any], body: bytes
) -> None:
    response = await client.post(
        "/test/json", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status == 400
    assert (await _error(response))["code"] == "invalid_request"


async def test_redis_connection_error_is_503_redis_unavailable(
    client: TestClient[Any, Any],
) -> None:
    for path in ("/test/redis", "/test/redis-timeout"):
        response = await client.get(path)

        assert response.status == 503, path
        assert (await _error(response))["code"] == "redis_unavailable"
        assert response.headers["Retry-After"] == "1"


async def test_database_operational_error_is_503_database_unavailable(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/test/database")

    assert response.status == 503
    assert (await _error(response))["code"] == "database_unavailable"


async def test_unexpected_exception_is_500_with_request_id(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/test/bug", headers={"X-Request-Id": "req-500"})

    assert response.status == 500
    error = await _error(response)
    assert error["code"] == "internal_error"
    assert error["details"] == {"request_id": "req-500"}
    assert "a bug" not in error["message"]  # internals stay in the log
    logged = [record for record in caplog.records if record.levelname == "ERROR"]
    assert logged and logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None) == "req-500"


async def test_redirects_pass_through_untouched(client: TestClient[Any, Any]) -> None:
    response = await client.get("/test/redirect", allow_redirects=False)

    assert response.status == 302
    assert response.headers["Location"] == "/healthz"
    assert "X-Request-Id" in response.headers
