"""Gate scans: the event's organizer or ops admit the holder of an e-ticket, once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web

from api.fan.identity import require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.body_schema import object_schema
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import json_body, ok, operation
from api.http.params import path_id
from api.organizer.events import managed_event
from api.organizer.organizer_fields import EVENT_ID_PARAM, SIGNED_IN_ORGANIZERS
from engine.store import etickets

routes = web.RouteTableDef()

_QR = re.compile(r"(\d{1,18})\.([0-9a-f]{32})")


@dataclass(frozen=True)
class GateScan:
    """The body of a gate scan (unknown properties are ignored)."""

    qr: Annotated[str, {"pattern": r"^\s*\d{1,18}\.[0-9a-f]{32}\s*$"}]
    """The QR payload, `<ticket id>.<secret>`"""

    @property
    def ticket_id(self) -> int:
        return int(self.qr.strip().split(".")[0])

    @property
    def secret(self) -> str:
        return self.qr.strip().split(".")[1]

    @classmethod
    def from_json(cls, body: Any) -> GateScan:
        qr = body.get("qr") if isinstance(body, dict) else None
        if not isinstance(qr, str) or _QR.fullmatch(qr.strip()) is None:
            raise ApiError(ApiErrorCode.INVALID_REQUEST,
                           "qr: the e-ticket's code, `<ticket id>.<secret>`",
                           {"field": "qr"})
        return cls(qr)


@routes.post("/events/{event_id}/scans")
async def scan_ticket(request: web.Request) -> web.Response:
    """The event's organizer (gate staff) and ops: admit the holder of an e-ticket, once.
    200 admitted; 409 `ticket_already_used` or `ticket_void`; 404 `ticket_not_found`."""
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    body = GateScan.from_json(await read_json(request))
    scan = await asyncio.to_thread(etickets.scan_ticket, request.app[DB_ENGINE_KEY], event_id,
                                   body.ticket_id, body.secret)
    used_at = scan.used_at.isoformat() if scan.used_at else None
    if scan.outcome == "admitted":
        return web.json_response({"admitted": True, "ticket": scan.ticket, "used_at": used_at})
    if scan.outcome == "used":
        raise ApiError(ApiErrorCode.TICKET_ALREADY_USED, "This ticket was already scanned in.",
                       {"ticket": scan.ticket, "used_at": used_at})
    if scan.outcome == "void":
        raise ApiError(ApiErrorCode.TICKET_VOID, "This ticket is void: its order was refunded.",
                       {"ticket": scan.ticket})
    raise ApiError(ApiErrorCode.TICKET_NOT_FOUND, "No such ticket for this event.",
                   {"event_id": event_id})


# ---------------------------------------------------------------- OpenAPI

OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/scans": {"post": operation(
        "Scan an e-ticket at the gate", who="the event's organizer and ops",
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.TICKET_NOT_FOUND,
                ApiErrorCode.TICKET_ALREADY_USED,
                ApiErrorCode.TICKET_VOID), **SIGNED_IN_ORGANIZERS, parameters=[EVENT_ID_PARAM],
        description="Admits the holder once: the first scan of a valid ticket marks it used "
                    "(two gates scanning one code admit one fan). 409 `ticket_already_used` "
                    "(with `used_at`) or `ticket_void` (its order was refunded); 404 "
                    "`ticket_not_found` for a code that is not this event's.",
        body=json_body(object_schema(GateScan, closed=False)),
        responses={200: ok({"type": "object"}, "Admitted, with the ticket's place.")})},
}
