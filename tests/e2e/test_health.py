"""Liveness, readiness and the error shape of the routing layer, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.http.app import create_app
from api.launcher.settings import Settings
from tests.e2e.conftest import AiohttpClient
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e


def _assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_healthz_answers_without_io(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_with_every_check_passing(client: TestClient[Any, Any]) -> None:
    response = await client.get("/readyz")

    body = await response.json()
    assert response.status == 200, body
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "postgres": True,
        "redis": True,
        "migrations": True,
    }


async def test_readyz_remembers_current_migrations(client: TestClient[Any, Any]) -> None:
    await client.get("/readyz")

    body = await (await client.get("/readyz")).json()

    assert body["checks"]["migrations"].get("cached") is True


async def test_readyz_is_503_not_ready_when_redis_is_down(
    settings: Settings, aiohttp_client: AiohttpClient
) -> None:
    broken = settings.replace(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = await aiohttp_client(create_app(broken))

    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    _assert_error_shape(body, "not_ready")
    checks = body["error"]["details"]["checks"]
    assert checks["redis"]["ok"] is False
    assert checks["postgres"]["ok"] is True
    assert "redis" in body["error"]["message"]


async def test_unknown_route_is_404_not_found(client: TestClient[Any, Any]) -> None:
    response = await client.get("/no/such/route")

    assert response.status == 404
    _assert_error_shape(await response.json(), "not_found")


async def test_wrong_method_is_405_with_allow_header(client: TestClient[Any, Any]) -> None:
    response = await client.delete("/healthz")

    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    body = await response.json()
    _assert_error_shape(body, "method_not_allowed")
    assert "GET" in body["error"]["details"]["allowed_methods"]


async def test_oversize_body_is_413_payload_too_large(client: TestClient[Any, Any]) -> None:
    response = await client.post("/healthz", data=b"x" * 4096)

    assert response.status == 413
    _assert_error_shape(await response.json(), "payload_too_large")


async def test_request_id_is_echoed_or_generated(client: TestClient[Any, Any]) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-Id": "lb-42.a"})
    generated = await client.get("/no/such/route")
    refused = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})

    assert echoed.headers["X-Request-Id"] == "lb-42.a"
    assert len(generated.headers["X-Request-Id"]) == 32
    assert refused.headers["X-Request-Id"] != "bad id\twith spaces"
