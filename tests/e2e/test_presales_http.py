"""Presales over HTTP: an organizer creates one and downloads its codes as CSV; only code
holders join the line while it is open and see its hidden tier; a code is redeemed once
even when many accounts send it at once; guessing is cut off with 429 + Retry-After."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.store.db import make_engine
from tests.e2e import test_waitingroom_http as room_http
from tests.e2e.test_waitingroom_http import clear_of_a_minute_boundary, join, open_room
from tests.support.catalog_http import quick_account
from waitingroom.code_guesses import CODE_ATTEMPTS_PER_ACCOUNT_PER_MINUTE

pytestmark = pytest.mark.e2e

api = room_http.api
event_id = room_http.event_id
room_settings = room_http.room_settings


@pytest.fixture()
def accounts(database_url: str) -> Any:
    engine = make_engine(database_url)
    yield lambda role="fan": quick_account(engine, role)
    engine.dispose()


async def make_presale(api: TestClient[Any, Any], event_id: int, ops: dict[str, str],
                       quota: int = 10) -> dict[str, Any]:
    now = datetime.now(UTC)
    response = await api.post(
        f"/organizer/events/{event_id}/presales",
        json={"name": "Fan club", "starts_at": (now - timedelta(minutes=5)).isoformat(),
              "ends_at": (now + timedelta(hours=1)).isoformat(), "tier_codes": ["front"],
              "quota": quota},
        headers=ops,
    )
    assert response.status == 201, await response.text()
    presale: dict[str, Any] = await response.json()
    return presale


async def issue(api: TestClient[Any, Any], presale_id: int, ops: dict[str, str],
                **body: Any) -> list[str]:
    response = await api.post(f"/organizer/presales/{presale_id}/codes", json=body, headers=ops)
    assert response.status == 201, await response.text()
    codes: list[str] = (await response.json())["codes"]
    return codes


async def redeem(api: TestClient[Any, Any], event_id: int, headers: dict[str, str],
                 code: str) -> Any:
    return await api.post(f"/events/{event_id}/presale-access", json={"code": code},
                          headers=headers)


async def tier_codes(api: TestClient[Any, Any], event_id: int,
                     headers: dict[str, str] | None) -> set[str]:
    body = await (await api.get(f"/events/{event_id}", headers=headers or {})).json()
    return {tier["code"] for tier in body["price_tiers"]}


async def test_only_code_holders_join_and_see_the_hidden_tier(
    api: TestClient[Any, Any], event_id: int, accounts: Any
) -> None:
    await open_room(api, event_id)
    ops, holder, other = accounts("ops"), accounts(), accounts()
    presale = await make_presale(api, event_id, ops)
    codes = await issue(api, presale["id"], ops, kind="single_use", count=3)
    assert len(set(codes)) == 3

    csv_response = await api.get(f"/organizer/presales/{presale['id']}/codes.csv", headers=ops)
    assert csv_response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await csv_response.text())))
    assert {row["code"] for row in rows} == set(codes)
    refused = await api.get(f"/organizer/presales/{presale['id']}/codes.csv", headers=holder)
    assert refused.status == 403, "fans may not download codes"

    assert "front" not in await tier_codes(api, event_id, None), "hidden from the public"
    assert "front" not in await tier_codes(api, event_id, holder)
    outside = await join(api, event_id, other)
    assert outside.status == 403
    assert (await outside.json())["error"]["code"] == "presale_only"

    granted = await redeem(api, event_id, holder, codes[0].lower())
    assert granted.status == 200, await granted.text()
    assert (await granted.json())["status"] == "granted"
    assert "front" in await tier_codes(api, event_id, holder), "a code holder sees the tier"
    assert (await join(api, event_id, holder)).status == 201

    taken = await redeem(api, event_id, other, codes[0])
    assert taken.status == 409 and (await taken.json())["error"]["code"] == "code_used"
    again = await redeem(api, event_id, holder, codes[0])
    assert (await again.json())["status"] == "already_in"
    listed = await (await api.get(f"/organizer/events/{event_id}/presales", headers=ops)).json()
    assert listed["presales"][0]["redeemed"] == 1


async def test_a_code_sent_by_many_accounts_at_once_lets_in_one(
    api: TestClient[Any, Any], event_id: int, accounts: Any
) -> None:
    ops = accounts("ops")
    presale = await make_presale(api, event_id, ops)
    [code] = await issue(api, presale["id"], ops, kind="single_use", count=1)
    fans = [accounts() for _ in range(8)]
    answers = await asyncio.gather(*(redeem(api, event_id, fan, code) for fan in fans))
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] + [409] * 7, "exactly one account redeems a single-use code"


async def test_guessing_codes_is_cut_off_with_retry_after(
    api: TestClient[Any, Any], event_id: int, accounts: Any
) -> None:
    await clear_of_a_minute_boundary()
    guesser = accounts()
    for attempt in range(CODE_ATTEMPTS_PER_ACCOUNT_PER_MINUTE):
        wrong = await redeem(api, event_id, guesser, f"GUESS{attempt:05d}")
        assert wrong.status == 404 and (await wrong.json())["error"]["code"] == "invalid_code"
    limited = await redeem(api, event_id, guesser, "GUESS99999")
    assert limited.status == 429
    assert (await limited.json())["error"]["details"]["scope"] == "account"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_the_events_organizer_sees_every_tier_and_the_waiting_list_by_status(
    api: TestClient[Any, Any], event_id: int, accounts: Any, database_url: str
) -> None:
    """The organizer who runs the event (not only ops) sees its presale tiers, so their
    dashboard and forms keep them; the waiting-list report counts entries by status and
    names no fan; a fan may not read it."""
    from sqlalchemy import text

    from tests.support.catalog_http import user_id_of

    ops, organizer, fan = accounts("ops"), accounts("organizer"), accounts()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE organizers SET user_id = :user WHERE id ="
                          " (SELECT organizer_id FROM events WHERE id = :event)"),
                     {"user": user_id_of(engine, organizer), "event": event_id})
    engine.dispose()
    await make_presale(api, event_id, ops)
    assert "front" in await tier_codes(api, event_id, organizer)
    assert "front" not in await tier_codes(api, event_id, fan)

    report = await api.get(f"/organizer/events/{event_id}/waiting-list", headers=organizer)
    assert report.status == 200, await report.text()
    body = await report.json()
    assert body["entries"] == {"waiting": 0, "offering": 0, "standing": 0, "offered": 0,
                               "taken": 0, "lapsed": 0, "left": 0}
    refused = await api.get(f"/organizer/events/{event_id}/waiting-list", headers=fan)
    assert refused.status == 403


async def test_the_event_page_says_a_presale_is_on(
    api: TestClient[Any, Any], event_id: int, accounts: Any
) -> None:
    """Before a fan tries to join, the event's page says the line is for code holders until
    the presale ends; without an open presale it invites everyone."""
    await open_room(api, event_id)
    page = await (await api.get(f"/events/{event_id}", headers={"Accept": "text/html"})).text()
    assert "Join the line" in page and "presale" not in page.lower()
    await make_presale(api, event_id, accounts("ops"))
    await asyncio.sleep(1.1)  # the API reads an event's presales at most once a second
    page = await (await api.get(f"/events/{event_id}", headers={"Accept": "text/html"})).text()
    assert "A presale is on until" in page and "I have a code: join the line" in page
