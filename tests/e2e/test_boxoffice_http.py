"""The box office's back end over HTTP, with a real partition consumer and payments worker:
holdbacks decided in queue order with bookings, an organizer's sales, attendees (CSV safe
to open in a spreadsheet) and refunds, and a fan's QR images of their own tickets only."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from sqlalchemy import text

from api.launcher.settings import Settings
from engine.store.notifications import dispatch_due
from tests.e2e import test_booking_http as booking_http
from tests.e2e.test_booking_http import pay, signed_in, wait_for
from tests.support.booking import make_event
from tests.support.catalog_http import account
from workers.mailers import make_mailer

pytestmark = pytest.mark.e2e

# The booking journey's fixtures: its database engine, event, gateway, and the partition
# consumer and payments context behind the app.
engine = booking_http.engine
event_id = booking_http.event_id
gateway = booking_http.gateway
backend = booking_http.backend

FINAL = {"done", "rejected", "held"}


def fresh(name: str) -> str:
    """An e-mail address no other test of this session's database used."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def organizer_of(client: TestClient[Any, Any], engine: Any, event_id: int) -> dict[str, str]:
    """Headers of an organizer account acting for the event's organizer."""
    headers = await account(client, engine, "organizer")
    me = await (await client.get("/me", headers=headers)).json()
    with engine.begin() as conn:
        conn.execute(text("UPDATE organizers SET user_id = :u WHERE id ="
                          " (SELECT organizer_id FROM events WHERE id = :e)"),
                     {"u": me["id"], "e": event_id})
    return headers


def seat_ids(engine: Any, event_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :e ORDER BY s.id"), {"e": event_id}).scalars())


async def decided(client: TestClient[Any, Any], response: Any,
                  headers: dict[str, str]) -> dict[str, Any]:
    assert response.status == 202, await response.text()
    return await wait_for(client, (await response.json())["status_url"], headers, FINAL)


async def test_holdbacks_block_seats_no_fan_can_hold_and_unblocking_returns_them(
        client: TestClient[Any, Any], backend: Redis, event_id: int, engine: Any) -> None:
    organizer = await organizer_of(client, engine, event_id)
    url = f"/organizer/events/{event_id}/holdbacks"
    first, second, third, fourth = seat_ids(engine, event_id)[:4]

    blocked = await decided(client, await client.post(
        url, json={"seat_ids": [first, second]}, headers=organizer), organizer)
    assert blocked["status"] == "done" and blocked["seat_ids"] == [first, second]
    listed = await (await client.get(url, headers=organizer)).json()
    assert [s["seat_id"] for s in listed["seats"]] == [first, second]
    assert listed["seats"][0]["section"] == "Stalls" and listed["seats"][0]["row"] == "A"

    fan = await signed_in(client, fresh("holdback-fan"))
    refused = await decided(client, await client.post(
        f"/events/{event_id}/reservations", json={"seats": [first]}, headers=fan), fan)
    assert refused["status"] == "rejected" and refused["error"]["code"] == "seats_taken", \
        "a held-back seat is not for sale"
    held = await decided(client, await client.post(
        f"/events/{event_id}/reservations", json={"seats": [third]}, headers=fan), fan)
    assert held["status"] == "held"
    taken = await decided(client, await client.post(
        url, json={"seat_ids": [third]}, headers=organizer), organizer)
    assert taken["status"] == "rejected" and taken["error"]["code"] == "seats_taken"
    assert taken["error"]["details"]["seat_ids"] == [third]

    sales = await (await client.get(f"/organizer/events/{event_id}/sales",
                                    headers=organizer)).json()
    front = next(t for t in sales["tiers"] if t["code"] == "front")
    assert (front["blocked"], front["held"], front["sold"]) == (2, 1, 0)
    assert front["available"] == front["capacity"] - 3

    released = await decided(client, await client.post(
        f"{url}/release", json={"seat_ids": [first]}, headers=organizer), organizer)
    assert released["status"] == "done"
    again = await decided(client, await client.post(
        f"/events/{event_id}/reservations", json={"seats": [first]}, headers=fan), fan)
    assert again["status"] == "held", "an unblocked seat is on sale again"
    not_blocked = await decided(client, await client.post(
        f"{url}/release", json={"seat_ids": [fourth]}, headers=organizer), organizer)
    assert not_blocked["status"] == "rejected"
    assert not_blocked["error"]["code"] == "invalid_request"
    assert [s["seat_id"] for s in (await (await client.get(url, headers=organizer)).json())[
        "seats"]] == [second]


async def test_holdback_refusals_have_stable_codes(
        client: TestClient[Any, Any], event_id: int, engine: Any) -> None:
    url = f"/organizer/events/{event_id}/holdbacks"
    organizer = await organizer_of(client, engine, event_id)
    for body, field in (({"seat_ids": []}, "seat_ids"), ({"seat_ids": [1, 1]}, "seat_ids"),
                        ({"seat_ids": ["a"]}, "seat_ids"), ({"seats": [1]}, "seat_ids"),
                        ({"seat_ids": [1], "x": 1}, "x")):
        response = await client.post(url, json=body, headers=organizer)
        assert response.status == 400, body
        assert (await response.json())["error"]["details"]["field"] == field
    fan = await signed_in(client, fresh("not-an-organizer"))
    assert (await client.post(url, json={"seat_ids": [1]}, headers=fan)).status == 403
    stranger = await account(client, engine, "organizer")
    response = await client.post(url, json={"seat_ids": [1]}, headers=stranger)
    assert response.status == 403 and (await response.json())["error"]["code"] == "forbidden"
    assert (await client.get(url, headers=stranger)).status == 403
    missing = await client.post("/organizer/events/999999999/holdbacks", json={"seat_ids": [1]},
                                headers=organizer)
    assert missing.status == 404
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'draft' WHERE id = :e"), {"e": event_id})
    draft = await client.post(url, json={"seat_ids": [1]}, headers=organizer)
    assert draft.status == 409 and (await draft.json())["error"]["code"] == "event_not_published"
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'cancelled' WHERE id = :e"), {"e": event_id})
    cancelled = await client.post(url, json={"seat_ids": [1]}, headers=organizer)
    assert cancelled.status == 409
    assert (await cancelled.json())["error"]["code"] == "event_cancelled"


async def test_sales_attendees_csv_refunds_and_my_ticket_qr_images(
        client: TestClient[Any, Any], backend: Redis, settings: Settings, event_id: int,
        engine: Any, tmp_path: Any) -> None:
    organizer = await organizer_of(client, engine, event_id)
    email = fresh("formula")
    response = await client.post("/auth/register", json={
        "email": email, "password": "correct horse",
        "display_name": "=HYPERLINK(\"http://evil.invalid\",\"x\")"})
    fan = {"Authorization": f"Bearer {(await response.json())['token']}"}
    held = await decided(client, await client.post(
        f"/events/{event_id}/reservations", json={"best_available": {"quantity": 2}},
        headers=fan), fan)
    order = await pay(client, backend, settings, fan, held["hold_id"])

    sales = await (await client.get(f"/organizer/events/{event_id}/sales",
                                    headers=organizer)).json()
    front = next(t for t in sales["tiers"] if t["code"] == "front")
    assert (front["sold"], front["revenue_cents"]) == (2, order["amount_cents"])
    assert sales["totals"]["paid_orders"] == 1 and sales["totals"]["revenue_cents"] == 18000

    page = await (await client.get(f"/organizer/events/{event_id}/attendees?limit=1",
                                   headers=organizer)).json()
    assert len(page["attendees"]) == 1 and page["next_cursor"]
    rest = await (await client.get(f"/organizer/events/{event_id}/attendees"
                                   f"?cursor={page['next_cursor']}", headers=organizer)).json()
    attendees = page["attendees"] + rest["attendees"]
    assert {a["email"] for a in attendees} == {email}
    assert all(a["place"].startswith("Stalls, row A") for a in attendees)

    exported = await client.get(f"/organizer/events/{event_id}/attendees.csv", headers=organizer)
    assert exported.status == 200 and exported.content_type == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [int(r["ticket_id"]) for r in rows] == [a["ticket_id"] for a in attendees]
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil.invalid\",\"x\")", \
        "a buyer's text a spreadsheet would run as a formula is written as text"
    assert rows[0]["place"] == attendees[0]["place"], "commas survive quoting"
    fan_csv = await client.get(f"/organizer/events/{event_id}/attendees.csv", headers=fan)
    assert fan_csv.status == 403

    tickets = (await (await client.get("/me/tickets", headers=fan)).json())["tickets"]
    ticket_id = tickets[0]["ticket_id"]
    svg = await client.get(f"/me/tickets/{ticket_id}/qr.svg", headers=fan)
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert "<svg" in await svg.text() and svg.headers["Cache-Control"].startswith("private")
    png = await client.get(f"/me/tickets/{ticket_id}/qr.png", headers=fan)
    assert png.status == 200 and (await png.read()).startswith(b"\x89PNG")
    other = await signed_in(client, fresh("someone-else"))
    stolen = await client.get(f"/me/tickets/{ticket_id}/qr.svg", headers=other)
    assert stolen.status == 404 and (await stolen.json())["error"]["code"] == "ticket_not_found"
    assert (await client.get(f"/me/tickets/{ticket_id}/qr.svg")).status == 401

    mailbox = tmp_path / "mailbox.jsonl"
    mailer = make_mailer(f"file:{mailbox}", "onsale <tickets@onsale.invalid>")
    while dispatch_due(engine, mailer.send)[0]:
        pass
    [sent] = [m for m in map(json.loads, mailbox.read_text().splitlines())
              if m["order_id"] == order["order_id"]]
    assert len(sent["attachments"]) == 2, "one inline QR image per ticket"
    assert all(a["content_type"] == "image/png" and a["size"] > 100
               for a in sent["attachments"])

    url = f"/organizer/events/{event_id}/refunds"
    assert (await client.post(url, json={"order_id": 5}, headers=organizer)).status == 400
    elsewhere = make_event(engine, rows=1, seats_per_row=2)
    stranger = await client.post(f"/organizer/events/{elsewhere}/refunds",
                                 json={"order_id": order["order_id"]}, headers=await account(
                                     client, engine, "ops"))
    assert stranger.status == 404, "an order is refunded through its own event only"
    assert (await client.post(url, json={"order_id": order["order_id"]},
                              headers=fan)).status == 403
    refund = await client.post(url, json={"order_id": order["order_id"]}, headers=organizer)
    assert refund.status == 202, await refund.text()
    assert (await wait_for(client, (await refund.json())["status_url"], organizer,
                           {"refunded", "rejected"}))["status"] == "refunded"
    again = await client.post(url, json={"order_id": order["order_id"]}, headers=organizer)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "order_not_refundable"
    refunds = (await (await client.get(f"/organizer/events/{event_id}/refunds",
                                       headers=organizer)).json())["refunds"]
    assert [r["order_id"] for r in refunds] == [order["order_id"]]
    assert refunds[0]["total_cents"] == 18000
    after = await (await client.get(f"/organizer/events/{event_id}/sales",
                                    headers=organizer)).json()
    assert after["totals"]["revenue_cents"] == 0 and after["totals"]["refunded_cents"] == 18000


async def test_reports_of_an_event_with_no_sales(
        client: TestClient[Any, Any], engine: Any) -> None:
    event_id = make_event(engine, rows=1, seats_per_row=3, ga_capacity=5)
    ops = await account(client, engine, "ops")
    sales = await (await client.get(f"/organizer/events/{event_id}/sales", headers=ops)).json()
    floor = next(t for t in sales["tiers"] if t["code"] == "floor")
    assert (floor["capacity"], floor["available"], floor["revenue_cents"]) == (5, 5, 0)
    exported = await client.get(f"/organizer/events/{event_id}/attendees.csv", headers=ops)
    assert (await exported.text()).splitlines() == [
        "ticket_id,order_id,order_status,ticket_status,email,name,place,paid_at,used_at"]
    assert (await (await client.get(f"/organizer/events/{event_id}/refunds",
                                    headers=ops)).json()) == {"refunds": []}
