"""The waiting room over HTTP: one place per account, polling, the shared summary, bots held
back (429 + Retry-After, proof of work), and the admission token that booking requires:
missing, forged, expired, other-event, other-account and ended-session tokens all get 403
`not_admitted`; events without a room stay open."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, make_mocked_request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.fan.admission import ADMISSION_HEADER, end_admission
from api.fan.identity import Principal
from api.fan.waitingroom_http import ADMISSION_KEY_FILE, WAITING_ROOM_KEY
from api.http.app import create_app
from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.e2e.conftest import AiohttpClient
from tests.support.booking import make_event
from waitingroom import main as controller_main
from waitingroom.config import RoomConfig
from waitingroom.controller import AdmissionController
from waitingroom.keyfile import load_or_create_signer
from waitingroom.keys import RoomKeys
from waitingroom.pow import solve
from waitingroom.room import WaitingRoom
from waitingroom.tokens import AdmissionSigner, session_jti
from workers.redis_client import async_client

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse"


@pytest.fixture()
def room_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The admission key lives in the test's own data directory."""
    return settings.replace(data_dir=tmp_path)


@pytest.fixture()
async def api(
    room_settings: Settings, aiohttp_client: AiohttpClient, redis_client: object
) -> TestClient[Any, Any]:
    """`redis_client` is requested for its teardown: it deletes the test prefix's keys."""
    return await aiohttp_client(create_app(room_settings))


@pytest.fixture()
def event_id(database_url: str) -> Iterator[int]:
    engine = make_engine(database_url)
    yield make_event(engine, rows=2, seats_per_row=6, buyer_limit=4)
    engine.dispose()


def room_of(api: TestClient[Any, Any]) -> WaitingRoom:
    return api.app[WAITING_ROOM_KEY]  # type: ignore[index,no-any-return]


async def open_room(api: TestClient[Any, Any], event_id: int, **changes: Any) -> RoomConfig:
    """A room whose sale started a second ago, generous unless `changes` say otherwise."""
    now = time.time()
    values: dict[str, Any] = {
        "opens_at": now - 60,
        "sale_starts_at": now - 1,
        "new_users_per_minute": 6000,
        "max_active_users": 1000,
        "join_limit_per_account_per_minute": 100,
        "join_limit_per_ip_per_minute": 1000,
    }
    config = RoomConfig.from_mapping(values | changes)
    await room_of(api).configure(event_id, config)
    return config


async def fan(api: TestClient[Any, Any], name: str) -> dict[str, str]:
    response = await api.post(
        "/auth/register",
        json={"email": f"{name}-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
    )
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def user_id(api: TestClient[Any, Any], headers: dict[str, str]) -> int:
    return int((await (await api.get("/me", headers=headers)).json())["id"])


async def join(api: TestClient[Any, Any], event_id: int, headers: dict[str, str]) -> Any:
    return await api.post(f"/events/{event_id}/queue", headers=headers)


async def admit_everyone(api: TestClient[Any, Any], event_id: int) -> None:
    """One controller step on the wall clock (the sale started a second ago)."""
    prefix = api.app[SETTINGS_KEY].redis_prefix
    controller = AdmissionController(api.app[REDIS_KEY], prefix, "test-controller")
    await controller.step(event_id, time.time())
    await controller.release(event_id)


async def admitted_token(api: TestClient[Any, Any], event_id: int, ticket: str) -> str:
    body = await (await api.get(f"/events/{event_id}/queue/{ticket}")).json()
    assert body["state"] == "admitted", body
    return str(body["admission_token"])


async def reserve(
    api: TestClient[Any, Any], event_id: int, headers: dict[str, str], token: str | None
) -> Any:
    extra = {ADMISSION_HEADER: token} if token is not None else {}
    return await api.post(
        f"/events/{event_id}/reservations",
        json={"best_available": {"quantity": 1}},
        headers={**headers, **extra},
    )


async def clear_of_a_minute_boundary() -> None:
    """Join attempts are counted per wall-clock minute: start a counting test well inside one."""
    left = 60 - time.time() % 60
    if left < 5:
        await asyncio.sleep(left + 0.1)


async def refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    return error


async def test_one_place_per_account_and_a_shared_summary(
    api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(api, event_id, new_users_per_minute=60)
    alice, bob = await fan(api, "alice"), await fan(api, "bob")

    first = await join(api, event_id, alice)
    assert first.status == 201
    placed = await first.json()
    assert placed["position"] == 1 and placed["state"] == "waiting" and placed["created"]
    assert first.headers["Location"] == placed["status_url"]
    again = await join(api, event_id, alice)
    assert again.status == 200, "joining again is not a new place"
    assert (await again.json())["ticket"] == placed["ticket"]
    second = await (await join(api, event_id, bob)).json()
    assert second["position"] == 2 and second["people_ahead"] == 1

    status = await api.get(second["status_url"])
    assert status.headers["Cache-Control"] == "no-store"
    polled = await status.json()
    assert polled["state"] == "waiting" and polled["people_ahead"] == 1
    assert polled["estimated_wait_seconds"] > 0 and polled["poll_after_seconds"] >= 0.8
    assert polled["admission_token"] is None
    assert polled["position_expiry_seconds"] == 180.0

    summaries = [await api.get(f"/events/{event_id}/queue") for _ in range(2)]
    bodies = [await s.read() for s in summaries]
    assert bodies[0] == bodies[1], "the summary is the same for everyone"
    assert summaries[0].headers["Cache-Control"] == "public, max-age=1"
    summary = await summaries[0].json()
    assert summary["queue_length"] == 2 and summary["serving_position"] == 0
    assert {"admission_rate_per_second", "paused", "started"} <= summary.keys()


async def test_prequeue_positions_follow_the_mode(
    api: TestClient[Any, Any], event_id: int, database_url: str
) -> None:
    now = time.time()
    await open_room(api, event_id, sale_starts_at=now + 3600, mode="shuffle")
    shuffled = await (await join(api, event_id, await fan(api, "early"))).json()
    assert shuffled["in_prequeue"] and shuffled["position"] is None, "drawn at the start"
    assert shuffled["estimated_wait_seconds"] is None

    engine = make_engine(database_url)
    fifo_event = make_event(engine)
    engine.dispose()
    await open_room(api, fifo_event, sale_starts_at=now + 3600, mode="fifo")
    kept = await (await join(api, fifo_event, await fan(api, "early2"))).json()
    assert kept["in_prequeue"] and kept["position"] == 1


async def test_admitted_fan_books_with_the_token_and_only_with_it(
    api: TestClient[Any, Any], event_id: int, room_settings: Settings
) -> None:
    await open_room(api, event_id)
    alice, mallory = await fan(api, "alice"), await fan(api, "mallory")
    ticket = (await (await join(api, event_id, alice)).json())["ticket"]
    await (await join(api, event_id, mallory)).json()

    missing = await refusal(await reserve(api, event_id, alice, None), 403)
    assert (missing["code"], missing["details"]["reason"]) == ("not_admitted", "missing")
    waiting = await (await api.get(f"/events/{event_id}/queue/{ticket}")).json()
    assert waiting["admission_token"] is None, "no token before admission"

    await admit_everyone(api, event_id)
    token = await admitted_token(api, event_id, ticket)
    accepted = await reserve(api, event_id, alice, token)
    assert accepted.status == 202, await accepted.text()

    jwks = await (await api.get("/.well-known/jwks.json")).json()
    public_key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, public_key, algorithms=["EdDSA"], options={"verify_iss": False})
    assert claims["event"] == event_id and claims["sub"] == str(await user_id(api, alice))

    stolen = await refusal(await reserve(api, event_id, mallory, token), 403)
    assert stolen["details"]["reason"] == "wrong_account"
    forger = AdmissionSigner(Ed25519PrivateKey.generate())
    forged_token = forger.issue(
        event_id=event_id, user_id=int(claims["sub"]), position=1, jti=claims["jti"],
        expires_at=claims["exp"],
    )
    forged = await refusal(await reserve(api, event_id, alice, forged_token), 403)
    assert forged["details"]["reason"] == "invalid"
    garbage = await refusal(await reserve(api, event_id, alice, "not.a.jwt"), 403)
    assert garbage["details"]["reason"] == "invalid"

    signer = load_or_create_signer(room_settings.data_dir / ADMISSION_KEY_FILE)
    expired_token = signer.issue(
        event_id=event_id, user_id=int(claims["sub"]), position=1,
        jti=session_jti(1, time.time() - 5), expires_at=time.time() - 5,
    )
    expired = await refusal(await reserve(api, event_id, alice, expired_token), 403)
    assert expired["details"]["reason"] == "expired"

    engine = make_engine(str(room_settings.database_url))
    other_event = make_event(engine, rows=1, seats_per_row=4)
    engine.dispose()
    await open_room(api, other_event)
    wrong = await refusal(await reserve(api, other_event, alice, token), 403)
    assert wrong["details"]["reason"] == "wrong_event"


async def test_a_token_is_refused_once_its_session_ended(
    api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(api, event_id)
    alice, bob = await fan(api, "alice"), await fan(api, "bob")
    alice_ticket = (await (await join(api, event_id, alice)).json())["ticket"]
    bob_ticket = (await (await join(api, event_id, bob)).json())["ticket"]
    await admit_everyone(api, event_id)
    alice_token = await admitted_token(api, event_id, alice_ticket)
    bob_token = await admitted_token(api, event_id, bob_ticket)
    assert (await reserve(api, event_id, alice, alice_token)).status == 202

    left = await api.delete(f"/events/{event_id}/queue/{alice_ticket}")
    assert (await left.json())["left"] is True
    replay = await refusal(await reserve(api, event_id, alice, alice_token), 403)
    assert replay["details"]["reason"] == "session_ended", "leaving ends the session"
    gone = await (await api.get(f"/events/{event_id}/queue/{alice_ticket}")).json()
    assert gone["state"] == "expired"
    assert (await (await api.delete(f"/events/{event_id}/queue/{alice_ticket}")).json())[
        "left"
    ] is False

    principal = Principal(await user_id(api, bob), "fan", "bob@example.com")
    request = make_mocked_request("POST", "/", app=api.app)
    assert await end_admission(request, event_id, principal), "a paid order ends it likewise"
    bought = await refusal(await reserve(api, event_id, bob, bob_token), 403)
    assert bought["details"]["reason"] == "session_ended"
    summary = await room_of(api).summary(event_id, time.time())
    assert summary.active_sessions == 0, "both places under max_active_users are free again"


async def test_events_without_a_room_stay_open(
    api: TestClient[Any, Any], event_id: int
) -> None:
    alice = await fan(api, "alice")
    assert (await reserve(api, event_id, alice, None)).status == 202
    no_room = await refusal(await join(api, event_id, alice), 404)
    assert no_room["code"] == "room_not_found"
    assert (await refusal(await api.get(f"/events/{event_id}/queue"), 404))[
        "code"
    ] == "room_not_found"


async def test_join_rate_limits_answer_429_with_retry_after(
    api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(
        api, event_id, join_limit_per_account_per_minute=2, join_limit_per_ip_per_minute=3
    )
    await clear_of_a_minute_boundary()
    alice = await fan(api, "alice")
    assert [(await join(api, event_id, alice)).status for _ in range(2)] == [201, 200]
    limited = await join(api, event_id, alice)
    error = await refusal(limited, 429)
    assert error["code"] == "rate_limited" and error["details"]["scope"] == "account"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60

    others = [await fan(api, f"bot{i}") for i in range(2)]
    assert (await join(api, event_id, others[0])).status == 201
    from_ip = await join(api, event_id, others[1])
    error = await refusal(from_ip, 429)
    assert error["details"]["scope"] == "ip", "a fourth counted join from one address"
    assert int(from_ip.headers["Retry-After"]) >= 1


async def test_behind_a_trusted_proxy_the_ip_limit_counts_forwarded_clients(
    room_settings: Settings, aiohttp_client: AiohttpClient, redis_client: object, event_id: int
) -> None:
    """Behind a load balancer every peer is the balancer: the per-IP limit must count the
    client it names in X-Forwarded-For, and only when the peer is a proxy we trust."""
    api = await aiohttp_client(create_app(room_settings.replace(trusted_proxies=("127.0.0.1",))))
    await open_room(
        api, event_id, join_limit_per_account_per_minute=100, join_limit_per_ip_per_minute=2
    )
    await clear_of_a_minute_boundary()
    fans = [await fan(api, f"crowd{i}") for i in range(4)]

    async def join_from(headers: dict[str, str], address: str) -> int:
        response = await join(api, event_id, {**headers, "X-Forwarded-For": address})
        return response.status

    assert [await join_from(fans[i], f"198.51.100.{i + 1}") for i in range(3)] == [201] * 3
    assert await join_from(fans[3], "198.51.100.1") == 201, "a second join from that client"
    third = await fan(api, "third-from-one-client")
    error = await refusal(await join(api, event_id, {**third, "X-Forwarded-For":
                                                    "198.51.100.1"}), 429)
    assert error["details"]["scope"] == "ip", "a third counted join from one client"


async def test_proof_of_work_challenge_on_join(api: TestClient[Any, Any], event_id: int) -> None:
    await open_room(api, event_id, pow_difficulty_bits=8)
    alice = await fan(api, "alice")
    challenge = await refusal(await join(api, event_id, alice), 403)
    assert challenge["code"] == "pow_required"
    details = challenge["details"]
    wrong = await api.post(
        f"/events/{event_id}/queue",
        json={"pow": {"challenge": details["challenge"], "nonce": "no-such-luck"}},
        headers=alice,
    )
    if wrong.status != 201:  # one nonce in 256 happens to be a solution
        assert (await refusal(wrong, 400))["code"] == "pow_invalid"
    solution = solve(details["challenge"], details["difficulty_bits"])
    solved = await api.post(
        f"/events/{event_id}/queue",
        json={"pow": {"challenge": solution.challenge, "nonce": solution.nonce}},
        headers=alice,
    )
    assert solved.status in (200, 201), await solved.text()
    malformed = await api.post(f"/events/{event_id}/queue", json={"pow": "x"}, headers=alice)
    assert (await refusal(malformed, 400))["details"]["field"] == "pow"


async def test_tickets_are_checked(api: TestClient[Any, Any], event_id: int) -> None:
    await open_room(api, event_id)
    alice = await fan(api, "alice")
    ticket = (await (await join(api, event_id, alice)).json())["ticket"]
    other_event = event_id + 100_000
    await open_room(api, other_event)
    for url in (
        f"/events/{event_id}/queue/{ticket[:-2]}xx",
        f"/events/{other_event}/queue/{ticket}",
        f"/events/{event_id}/queue/nonsense",
    ):
        assert (await refusal(await api.get(url), 404))["code"] == "invalid_ticket"
    assert (await refusal(await api.post("/events/x/queue", headers=alice), 404))[
        "code"
    ] == "event_not_found"
    assert (await refusal(await api.post(f"/events/{event_id}/queue"), 401))[
        "code"
    ] == "unauthorized"


async def test_waiting_page_and_its_assets(api: TestClient[Any, Any], event_id: int) -> None:
    page = await api.get(f"/events/{event_id}/waiting-room")
    assert page.status == 200 and page.content_type == "text/html"
    text = await page.text()
    assert f'data-event-id="{event_id}"' in text and 'lang="en"' in text
    assert f"/events/{event_id}/book" in text
    missing = await api.get("/events/999999999/waiting-room", headers={"Accept": "text/html"})
    assert missing.status == 404 and missing.content_type == "text/html"
    missing = await api.get("/events/999999999/waiting-room")  # not a browser: the error shape
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "event_not_found"
    script = await api.get("/static/waitingroom/waiting.js")
    assert script.status == 200 and "javascript" in script.content_type
    assert (await api.get("/static/waitingroom/../app.py")).status == 404
    assert (await api.get("/static/waitingroom/secret.txt")).status == 404


async def test_controller_process_admits_then_stops_on_sigterm(
    room_settings: Settings, api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(api, event_id)
    alice = await fan(api, "alice")
    ticket = (await (await join(api, event_id, alice)).json())["ticket"]
    env = {**os.environ, **room_settings.to_env()}
    child = subprocess.Popen(
        [sys.executable, "-c", "from api.launcher.settings import Settings; "
         "from api.launcher.roots import run_admission_controller; "
         "raise SystemExit(run_admission_controller(Settings.from_env()))"],
        env=env,
    )
    try:
        state = "waiting"
        for _ in range(100):
            state = (await (await api.get(f"/events/{event_id}/queue/{ticket}")).json())["state"]
            if state == "admitted":
                break
            await asyncio.sleep(0.1)
        assert state == "admitted"
        child.send_signal(signal.SIGTERM)
        # Waited for off the event loop: the app under test (its Redis connections) keeps
        # running meanwhile, as it would in production.
        assert await asyncio.to_thread(child.wait, 10) == 0, "a clean stop"
    finally:
        if child.poll() is None:
            child.kill()
    lease = RoomKeys(room_settings.redis_prefix, event_id).controller_lease
    assert await api.app[REDIS_KEY].get(lease) is None, "the lease is handed back"


async def test_controller_follows_rooms_switched_on_later(
    room_settings: Settings, api: TestClient[Any, Any], event_id: int
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        controller_main.serve(room_settings.redis_url or "", room_settings.redis_prefix, stop, 0.05,
                              connect=async_client)
    )
    try:
        await asyncio.sleep(0.1)
        await open_room(api, event_id)  # ops switch the room on while the controller runs
        ticket = (await (await join(api, event_id, await fan(api, "alice"))).json())["ticket"]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            polled = await (await api.get(f"/events/{event_id}/queue/{ticket}")).json()
            if polled["state"] == "admitted":
                break
            await asyncio.sleep(0.05)
        assert polled["state"] == "admitted"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
