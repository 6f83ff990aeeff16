"""The fairness report page over HTTP: a first-come line says it has no draw, a shuffled one
shows the commitment before the start and the seed after it, an event without a room is a 404
page; and `page_context`, the page's data, reads a published report as the JSON has it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.fan.fairness_page import page_context
from tests.e2e import test_waitingroom_http as room_http
from tests.e2e.test_waitingroom_http import fan, join, open_room

pytestmark = pytest.mark.e2e

api = room_http.api
event_id = room_http.event_id
room_settings = room_http.room_settings
HTML = {"Accept": "text/html"}


async def page(api: TestClient[Any, Any], event_id: int) -> str:
    response = await api.get(f"/events/{event_id}/fairness", headers=HTML)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/html"
    return await response.text()


async def test_first_come_lines_have_no_draw(api: TestClient[Any, Any], event_id: int) -> None:
    await open_room(api, event_id)
    assert "First come, first served" in await page(api, event_id)


async def test_a_shuffled_line_shows_its_commitment_then_its_seed(
    api: TestClient[Any, Any], event_id: int
) -> None:
    await open_room(api, event_id, sale_starts_at=time.time() + 3600, mode="shuffle")
    await join(api, event_id, await fan(api, "fair1"))
    draw = await (await api.get(f"/events/{event_id}/draw")).json()
    before = await page(api, event_id)
    assert draw["commitment"] in before and "not revealed yet" in before

    await asyncio.sleep(1)  # the start moves to a time after the commitment
    await open_room(api, event_id, sale_starts_at=time.time() - 0.5, mode="shuffle")
    await asyncio.sleep(1.1)  # the report is cached for a second
    await join(api, event_id, await fan(api, "fair2"))  # a join after the start draws the order
    await asyncio.sleep(1.1)
    seed = (await (await api.get(f"/events/{event_id}/draw")).json())["seed"]
    after = await page(api, event_id)
    assert seed and seed in after, after[after.find("<main"):]
    assert "None found" in after, after[after.find("<main"):]


async def test_an_event_without_a_room_is_a_404_page(
    api: TestClient[Any, Any], event_id: int
) -> None:
    response = await api.get(f"/events/{event_id}/fairness", headers=HTML)
    assert response.status == 404 and "no waiting room" in (await response.text()).lower()
    assert (await api.get("/events/abc/fairness", headers=HTML)).status == 404
    as_json = await api.get(f"/events/{event_id}/fairness")
    assert as_json.status == 404
    assert (await as_json.json())["error"]["code"] == "room_not_found"


def test_the_page_data_follows_the_report() -> None:
    report = {"mode": "shuffle", "commitment": "ab" * 32, "committed_at": 0.0,
              "sale_starts_at": 60.0, "started_at": 61.0, "prequeue_size": 3, "seed": "42",
              "order": [2, 3, 1], "join_times": [[1, 1.0], [2, 2.0], [3, 3.0]],
              "admitted_vs_booking": {"fans": 3, "pairs": 3, "discordant_pairs": 0, "share": 1.0},
              "anomalies": [{"code": "seed_mismatch", "message": "m"}]}
    context = page_context(7, report)
    assert context["shuffled"] and context["order_published"] and context["joins_listed"] == 3
    assert context["started_at"] == "1970-01-01 00:01:01 UTC"
    assert context["fifo_share"] == "1.0000"
    assert context["anomalies"][0]["help"].startswith("The published seed does not hash")
    assert page_context(7, {"mode": "fifo", "anomalies": []})["shuffled"] is False
    closed = page_context(7, {"mode": "fifo", "sale_starts_at": 1e18, "anomalies": []})
    assert closed["sale_starts_at"] is None, "a sale closed by ops starts at no date"
