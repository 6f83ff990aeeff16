"""The public draw of a sale over HTTP: the fairness report and fans' receipts.

`GET /events/{id}/draw` is public and the same for everyone (cached for a
second): commitment, seed once revealed, the order recomputed from it, the
join times receipts can be checked against, the admitted order against the
booking order (the audit's FIFO share, `loadtests.audit_replay`), and the
anomalies the server itself finds. A ticket holder gets a signed receipt of
their place at `GET /events/{id}/queue/{ticket}/receipt` (the join answer
carries one too).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from api.fan.waitingroom_http import SHARED_CACHE_KEY, WAITING_ROOM_KEY, event_id_of
from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode, RoomCode
from api.http.openapi_spec import error_codes
from engine.store.booking_order import first_hold_decisions
from loadtests.audit_replay import fifo_agreement
from waitingroom.draw import build_report
from waitingroom.draw_store import DrawStore

routes = web.RouteTableDef()


def draw_store(request: web.Request) -> DrawStore:
    app = request.config_dict
    return DrawStore(app[REDIS_KEY], app[SETTINGS_KEY].redis_prefix, app[WAITING_ROOM_KEY].signer)


async def report_json(request: web.Request, event_id: int) -> bytes:
    """The report's JSON, built at most once a second per process (shared by every caller);
    raises the room's `room_not_found` for an event without a room."""
    store = draw_store(request)

    async def load() -> bytes:
        record = await store.record(event_id)
        places = await store.places_by_account(event_id, record)
        decisions = await asyncio.to_thread(
            first_hold_decisions, request.app[DB_ENGINE_KEY], event_id
        )
        agreement = fifo_agreement(places, decisions)
        fifo = {
            "fans": agreement.fans,
            "pairs": agreement.pairs,
            "discordant_pairs": agreement.discordant_pairs,
            "share": agreement.share,
        }
        report = build_report(record, fifo)
        report["generated_at"] = time.time()
        return json.dumps(report).encode()

    body: bytes = await request.app[SHARED_CACHE_KEY].get("draw", event_id, load)
    return body


@routes.get("/events/{event_id}/draw")
async def draw_report(request: web.Request) -> web.Response:
    """Anyone: the sale's fairness report (see `waitingroom.draw`)."""
    body = await report_json(request, event_id_of(request))
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Cache-Control": "public, max-age=1"},
    )


@routes.get("/events/{event_id}/queue/{ticket}/receipt")
async def place_receipt(request: web.Request) -> web.Response:
    """Ticket holder: a receipt of the place signed with the room's key (check it with the JWKS)."""
    event_id = event_id_of(request)
    receipt = await draw_store(request).receipt(event_id, request.match_info["ticket"])
    return web.json_response(
        {"event_id": event_id, "receipt": receipt}, headers={"Cache-Control": "no-store"}
    )


_EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TICKET = {"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/draw": {
        "parameters": [_EVENT_ID],
        "get": {
            "tags": ["waiting room"],
            "summary": "The sale's public draw: seed commitment, revealed seed, order, anomalies",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND)),
            "responses": {
                "200": _json(
                    "the fairness report",
                    {
                        "commitment": {"type": ["string", "null"]},
                        "seed": {"type": ["string", "null"]},
                        "prequeue_size": {"type": ["integer", "null"]},
                        "order": {"type": ["array", "null"], "items": {"type": "integer"}},
                        "join_times": {"type": "array"},
                        "admitted_vs_booking": {"type": ["object", "null"]},
                        "anomalies": {"type": "array"},
                    },
                ),
                "404": {"description": "room_not_found"},
            },
        },
    },
    "/events/{event_id}/queue/{ticket}/receipt": {
        "parameters": [_EVENT_ID, _TICKET],
        "get": {
            "tags": ["waiting room"],
            "summary": "A signed receipt of the ticket holder's place (Ed25519 JWT)",
            "x-error-codes": error_codes((ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND,
                                          RoomCode.INVALID_TICKET)),
            "responses": {
                "200": _json("the receipt", {"receipt": {"type": "string"}}),
                "404": {"description": "invalid_ticket or room_not_found"},
            },
        },
    },
}
