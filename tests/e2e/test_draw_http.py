"""The public draw over HTTP: commitment before the start, seed after it, receipts that check,
and `onsale verify-draw` recomputing it all from the public report and the JWKS alone."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.launcher import verify_draw
from tests.e2e import test_waitingroom_http as room_http
from tests.e2e.test_waitingroom_http import fan, join, open_room
from waitingroom.permutation import LineOrder
from waitingroom.receipts import verify_receipt

pytestmark = pytest.mark.e2e

FANS = 6
api = room_http.api
event_id = room_http.event_id
room_settings = room_http.room_settings


async def test_a_shuffled_sale_publishes_a_draw_anyone_can_recompute(
    api: TestClient[Any, Any], event_id: int, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    config = await open_room(api, event_id, sale_starts_at=now + 3600, mode="shuffle")
    fans = [await fan(api, f"f{i}") for i in range(FANS)]
    joined = [await (await join(api, event_id, headers)).json() for headers in fans]
    jwks = await (await api.get("/.well-known/jwks.json")).json()

    before = await (await api.get(f"/events/{event_id}/draw")).json()
    assert before["seed"] is None and before["order"] is None, "the seed is secret until the start"
    commitment = before["commitment"]
    assert isinstance(commitment, str) and len(commitment) == 64
    assert before["committed_at"] <= config.sale_starts_at

    receipts = [body["receipt"] for body in joined]
    claims = [verify_receipt(token, jwks, event_id) for token in receipts]
    assert [c["seq"] for c in claims] == list(range(1, FANS + 1))
    assert all(c["position"] is None for c in claims), "no place before the draw"

    # Ops move the start to now: reconfiguring keeps the committed seed.
    await open_room(api, event_id, sale_starts_at=time.time() - 0.5, mode="shuffle")
    await asyncio.sleep(1.1)  # the report is cached for a second
    polled = await (await api.get(joined[0]["status_url"])).json()
    assert polled["position"] is not None, "the first poll after the start draws the order"

    report = await (await api.get(f"/events/{event_id}/draw")).json()
    assert report["commitment"] == commitment, "the commitment never changes"
    assert hashlib.sha256(report["seed"].encode()).hexdigest() == commitment
    assert report["prequeue_size"] == FANS and report["anomalies"] == []
    line = LineOrder(FANS, int(report["seed"]))
    assert report["order"] == [line.seq_at(place) for place in range(1, FANS + 1)]
    assert report["admitted_vs_booking"]["fans"] == 0

    after = await (await api.get(joined[2]["receipt_url"])).json()
    placed = verify_receipt(after["receipt"], jwks, event_id)
    assert placed["seq"] == 3 and placed["position"] == line.place_of(3)
    assert placed["joined_at"] == claims[2]["joined_at"], "the join time is kept"

    host = str(api.make_url("")).rstrip("/")
    argv = [str(event_id), "--host", host, "--receipt", after["receipt"]]
    assert await asyncio.to_thread(verify_draw.main, argv) == 0
    assert capsys.readouterr().out.strip().endswith("OK")

    forged = receipts[0][:-4] + ("AAAA" if not receipts[0].endswith("AAAA") else "BBBB")
    argv = [str(event_id), "--host", host, "--receipt", forged]
    assert await asyncio.to_thread(verify_draw.main, argv) == 1
    assert "DISCREPANCY receipt_invalid" in capsys.readouterr().out


async def test_the_draw_of_an_unknown_room_is_a_404(api: TestClient[Any, Any]) -> None:
    response = await api.get("/events/987654321/draw")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "room_not_found"
    response = await api.get("/events/987654321/queue/nonsense/receipt")
    assert response.status == 404
