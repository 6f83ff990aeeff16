"""Presales for an event's organizer (and ops): create one, issue codes, download them as CSV.

A presale is a window open only to holders of its access codes, capped by a quota of
accounts, unlocking price tiers that nobody else sees or may book: once stored, a
`lock_tiers` request on the event's partition queue locks them there, in queue order with
bookings (a partition that loads the event later reads them from the table). Codes are
`single_use` (bound to the first account that redeems one) or one shared `per_account`
code (each account may redeem it once). The rules and the atomic redemption are in
`engine.store.presales`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from api.fan.booking import BOOKING_KEY
from api.fan.identity import Principal, require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import body_int, body_text, invalid, parse_datetime, path_id
from api.organizer.csv_export import csv_lines
from api.organizer.events import managed_event
from engine.store import presales as store
from workers.booking_requests import RequestKind
from workers.enqueue import IdempotencyConflict, QueueFull

log = logging.getLogger("onsale.presales")

routes = web.RouteTableDef()

MAX_QUOTA = 10_000_000
MAX_CODES_PER_REQUEST = store.MAX_CODES_PER_BATCH


async def _managed_event_id(request: web.Request) -> int:
    return (await _manager_and_event(request))[1]


async def _manager_and_event(request: web.Request) -> tuple[Principal, int]:
    principal = await require_principal(request, "organizer", "ops")
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    await managed_event(request, principal, event_id)
    return principal, event_id


async def _lock_tiers(request: web.Request, principal: Principal,
                      presale: store.Presale) -> str | None:
    """Queue the `lock_tiers` request of a new presale on its event's partition; its id, or
    None if it could not be queued (logged: the partition then locks the tiers when it next
    loads the event, as every load reads the presales)."""
    booking = request.app[BOOKING_KEY]
    try:
        enqueued = await booking.queue.enqueue(
            event_id=presale.event_id,
            buyer_id=principal.user_id,
            kind=RequestKind.LOCK_TIERS.value,
            params={"presale_id": presale.id, "tier_codes": list(presale.tier_codes),
                    "starts_at": presale.starts_at.timestamp(),
                    "ends_at": presale.ends_at.timestamp()},
            partition=await booking.partition_of(presale.event_id),
            idempotency_key=f"presale-{presale.id}",
        )
    except (QueueFull, IdempotencyConflict, RedisError):
        log.warning("presale %s: lock_tiers not queued; the partition locks its tiers at its "
                    "next load of event %s", presale.id, presale.event_id, exc_info=True)
        return None
    return enqueued.request_id


async def _managed_presale(request: web.Request) -> store.Presale:
    principal = await require_principal(request, "organizer", "ops")
    presale_id = path_id(request, "presale_id", ApiErrorCode.PRESALE_NOT_FOUND, "presale")
    found = await asyncio.to_thread(store.presale, request.app[DB_ENGINE_KEY], presale_id)
    if found is None:
        raise ApiError(ApiErrorCode.PRESALE_NOT_FOUND, "No such presale.",
                       {"presale_id": presale_id})
    await managed_event(request, principal, found.event_id)
    return found


def _code_request(body: dict[str, Any]) -> tuple[store.CodeKind, int]:
    raw_kind = body.get("kind", store.CodeKind.SINGLE_USE.value)
    try:
        kind = store.CodeKind(raw_kind)
    except ValueError:
        invalid("kind", "must be single_use or per_account")
    count = body_int(body, "count", low=1, high=MAX_CODES_PER_REQUEST, required=False)
    if kind is store.CodeKind.PER_ACCOUNT:
        return kind, 1
    if count is None:
        invalid("count", "is required for single_use codes")
    return kind, count


@routes.post("/organizer/events/{event_id}/presales")
async def create_presale(request: web.Request) -> web.Response:
    """Create a presale: `{name, starts_at, ends_at, tier_codes, quota}` -> 201."""
    principal, event_id = await _manager_and_event(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        invalid("body", "must be a JSON object")
    name = body_text(body, "name", max_chars=200)
    starts_at = parse_datetime(body.get("starts_at"), "starts_at")
    ends_at = parse_datetime(body.get("ends_at"), "ends_at")
    if ends_at <= starts_at:
        invalid("ends_at", "must be after starts_at")
    quota = body_int(body, "quota", low=0, high=MAX_QUOTA)
    tier_codes = body.get("tier_codes", [])
    if not isinstance(tier_codes, list) or not all(
        isinstance(code, str) and 0 < len(code) <= 64 for code in tier_codes
    ):
        invalid("tier_codes", "must be a list of price tier codes")
    if len(set(tier_codes)) > 100:
        invalid("tier_codes", "at most 100 tiers")
    engine = request.app[DB_ENGINE_KEY]
    unknown = set(tier_codes) - await asyncio.to_thread(store.event_tier_codes, engine, event_id)
    if unknown:
        invalid("tier_codes", f"no such price tier: {sorted(unknown)[0]}")
    assert name is not None and quota is not None
    created = await asyncio.to_thread(
        store.create_presale, engine, event_id, name, starts_at, ends_at, tier_codes, quota
    )
    lock_request_id = await _lock_tiers(request, principal, created) if tier_codes else None
    return web.json_response({**created.to_json(), "lock_request_id": lock_request_id},
                             status=201)


@routes.get("/organizer/events/{event_id}/presales")
async def list_presales(request: web.Request) -> web.Response:
    """The event's presales with their quotas and how many accounts got in."""
    event_id = await _managed_event_id(request)
    found = await asyncio.to_thread(store.presales_of, request.app[DB_ENGINE_KEY], event_id)
    return web.json_response(
        {"presales": [p.to_json() for p in found]}, headers={"Cache-Control": "no-store"}
    )


@routes.post("/organizer/presales/{presale_id}/codes")
async def issue_codes(request: web.Request) -> web.Response:
    """Issue codes: `{"kind": "single_use", "count": N}` or `{"kind": "per_account"}` -> 201."""
    presale = await _managed_presale(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        invalid("body", "must be a JSON object")
    kind, count = _code_request(body)
    codes = await asyncio.to_thread(
        store.issue_codes, request.app[DB_ENGINE_KEY], presale.id, kind, count
    )
    return web.json_response(
        {
            "presale_id": presale.id,
            "kind": kind.value,
            "codes": codes,
            "csv_url": f"/organizer/presales/{presale.id}/codes.csv",
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/organizer/presales/{presale_id}/codes.csv")
async def codes_csv(request: web.Request) -> web.Response:
    """Every code of the presale as CSV (code, kind, redeemed by account)."""
    presale = await _managed_presale(request)
    rows = await asyncio.to_thread(
        lambda: list(store.code_rows(request.app[DB_ENGINE_KEY], presale.id))
    )
    body = csv_lines([("code", "kind", "account_id"), *rows])
    return web.Response(
        text=body,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="presale-{presale.id}-codes.csv"',
            "Cache-Control": "no-store",
        },
    )


_EVENT = param("event_id", "path", ID_SCHEMA, "event id")
_PRESALE = param("presale_id", "path", ID_SCHEMA, "presale id")
_PRESALE_SCHEMA: dict[str, Any] = {"type": "object"}
_WHO = "the event's organizer, ops"

OPENAPI_PATHS: dict[str, Any] = {
    "/organizer/events/{event_id}/presales": {
        "post": operation(
            "Create a presale (window, unlocked tiers, quota)",
            who=_WHO,
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND),
            tags=["organizer"],
            parameters=[_EVENT],
            body=json_body(
                {
                    "type": "object",
                    "required": ["name", "starts_at", "ends_at", "quota"],
                    "properties": {
                        "name": {"type": "string"},
                        "starts_at": {"type": "string", "format": "date-time"},
                        "ends_at": {"type": "string", "format": "date-time"},
                        "tier_codes": {"type": "array", "items": {"type": "string"}},
                        "quota": {"type": "integer", "minimum": 0},
                    },
                }
            ),
            responses={201: ok(_PRESALE_SCHEMA, "the presale")},
            signed_in=True,
        ),
        "get": operation(
            "The event's presales",
            who=_WHO,
            errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND),
            tags=["organizer"],
            parameters=[_EVENT],
            responses={200: ok(_PRESALE_SCHEMA)},
            signed_in=True,
        ),
    },
    "/organizer/presales/{presale_id}/codes": {
        "post": operation(
            "Issue access codes (single-use in bulk, or one shared per-account code)",
            who=_WHO,
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.PRESALE_NOT_FOUND),
            tags=["organizer"],
            parameters=[_PRESALE],
            body=json_body(
                {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["single_use", "per_account"]},
                        "count": {"type": "integer", "minimum": 1},
                    },
                }
            ),
            responses={201: ok(_PRESALE_SCHEMA, "the new codes")},
            signed_in=True,
        ),
    },
    "/organizer/presales/{presale_id}/codes.csv": {
        "get": operation(
            "Every code of the presale as CSV",
            who=_WHO,
            errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN, ApiErrorCode.EVENT_NOT_FOUND,
                    ApiErrorCode.PRESALE_NOT_FOUND),
            tags=["organizer"],
            parameters=[_PRESALE],
            responses={200: ok({"type": "string"}, "CSV", content_type="text/csv")},
            signed_in=True,
        ),
    },
}
