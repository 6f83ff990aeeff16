"""The account and transport protections docs/security.md lists (OWASP ASVS level 1): security
headers on every answer, sign-in and sign-up limits, one answer for unknown accounts and wrong
passwords, and session tokens stored only as hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import Engine, text

from api.fan import accounts
from api.http.app import create_app
from api.http.security_headers import DATA_POLICY, PAGE_POLICY
from api.launcher.settings import Settings
from tests.e2e.conftest import AiohttpClient, LiveServer
from tests.support.catalog_http import make_listed_event, quick_account, unique_city
from tests.support.raw_http import exchange

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"



async def _limited_client(settings: Settings, aiohttp_client: AiohttpClient,
                          **limits: int) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(dataclasses.replace(settings, **limits)))


async def _register(client: TestClient[Any, Any]) -> tuple[str, dict[str, Any]]:
    email = f"fan-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status == 201, await response.text()
    return email, await response.json()


def _assert_protective_headers(headers: Any, *, page: bool) -> None:
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Server"] == "onsale"  # no aiohttp or Python version
    assert headers["Content-Security-Policy"] == (PAGE_POLICY if page else DATA_POLICY)


async def test_every_kind_of_answer_carries_the_security_headers(
        client: TestClient[Any, Any], engine: Engine) -> None:
    event_id = make_listed_event(engine, city=unique_city())
    for path in ("/healthz", "/events", "/nowhere", f"/events/{event_id}/seats"):
        response = await client.get(path)
        _assert_protective_headers(response.headers, page=False)
    for path in ("/docs", f"/events/{event_id}/waiting-room", f"/events/{event_id}/book"):
        response = await client.get(path)
        assert response.status == 200 and response.content_type == "text/html", path
        _assert_protective_headers(response.headers, page=True)
    dashboard = await client.get("/ops")  # the ops dashboard sets a policy of its own
    assert "frame-ancestors 'none'" in dashboard.headers["Content-Security-Policy"]
    response = await client.get(f"/events/{event_id}/availability/stream")
    assert response.content_type == "text/event-stream"
    _assert_protective_headers(response.headers, page=False)
    response.close()


async def test_signed_in_and_account_answers_are_not_cached(
        client: TestClient[Any, Any], engine: Engine) -> None:
    headers = quick_account(engine, "fan")
    assert (await client.get("/me", headers=headers)).headers["Cache-Control"] == "no-store"
    login = await client.post("/auth/login", json={"email": "nobody@example.com",
                                                   "password": PASSWORD})
    assert login.headers["Cache-Control"] == "no-store"


def test_what_the_parser_refuses_is_not_sniffed(live_server: LiveServer) -> None:
    answer = exchange(live_server.host, live_server.port, b"GARBAGE\r\n\r\n")
    assert answer.status == 400 and answer.headers["x-content-type-options"] == "nosniff"


async def test_unknown_email_and_wrong_password_get_the_same_answer(
        client: TestClient[Any, Any]) -> None:
    email, _ = await _register(client)
    wrong = await client.post("/auth/login", json={"email": email, "password": "not it at all"})
    unknown = await client.post("/auth/login", json={"email": f"x{email}", "password": PASSWORD})

    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    # and it took an argon2 check like a known account's: against the stand-in hash
    assert accounts._stand_in_hash.cache_info().currsize == 1


async def test_failed_sign_ins_lock_the_account_for_its_window_and_success_clears_them(
        settings: Settings, aiohttp_client: AiohttpClient) -> None:
    client = await _limited_client(settings, aiohttp_client, failed_sign_ins_per_account=3)
    email, _ = await _register(client)
    for _ in range(2):
        response = await client.post("/auth/login", json={"email": email, "password": "nope"})
        assert response.status == 401
    assert (await client.post("/auth/login", json={"email": email,
                                                   "password": PASSWORD})).status == 200
    for _ in range(3):  # the success cleared the count: three more failures are allowed
        response = await client.post("/auth/login", json={"email": email, "password": "nope"})
        assert response.status == 401
    locked = await client.post("/auth/login", json={"email": email, "password": PASSWORD})

    assert locked.status == 429
    error = (await locked.json())["error"]
    assert error["code"] == "rate_limited" and error["details"]["scope"] == "account"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60


async def test_sign_ins_and_sign_ups_per_address_are_limited(
        settings: Settings, aiohttp_client: AiohttpClient) -> None:
    client = await _limited_client(settings, aiohttp_client, signups_per_ip_per_minute=2,
                                   sign_ins_per_ip_per_minute=3)
    email, _ = await _register(client)
    await _register(client)
    refused = await client.post("/auth/register", json={"email": f"z{email}",
                                                        "password": PASSWORD})
    assert refused.status == 429 and "Retry-After" in refused.headers
    assert (await refused.json())["error"]["details"]["scope"] == "signup_ip"

    for _ in range(3):
        assert (await client.post("/auth/login", json={"email": email,
                                                       "password": PASSWORD})).status == 200
    refused = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status == 429
    assert (await refused.json())["error"]["details"]["scope"] == "ip"


async def test_session_tokens_are_stored_only_as_their_hash(
        client: TestClient[Any, Any], engine: Engine) -> None:
    _, body = await _register(client)
    token = body["token"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM sessions WHERE user_id = :id"),
                              {"id": body["user"]["id"]}).scalars().all()

    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in stored


async def test_logout_ends_the_session_at_once(client: TestClient[Any, Any]) -> None:
    _, body = await _register(client)
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/me", headers=headers)).status == 200  # now cached in Redis

    assert (await client.post("/auth/logout", headers=headers)).status == 200
    assert (await client.get("/me", headers=headers)).status == 401


async def test_an_account_without_a_usable_hash_refuses_sign_in_without_a_500(
        client: TestClient[Any, Any], engine: Engine) -> None:
    email = f"no-hash-{uuid.uuid4().hex[:8]}@example.com"
    with engine.begin() as conn:  # as some tests and tools make accounts: no password at all
        conn.execute(text("INSERT INTO users (email, password_hash, role, display_name)"
                          " VALUES (:email, 'not-a-hash', 'fan', 'No Hash')"), {"email": email})
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_credentials"
