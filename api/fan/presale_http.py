"""Presales for fans: redeem an access code, join the presale's line, see its hidden tiers.

While a presale of an event is open, only accounts let into one of its open presales
may join the event's line (`presale_gate`, called by the join handler): others get 403
`presale_only`. A code is redeemed once, atomically, in Postgres
(`engine.store.presales.redeem_code`); attempts are limited per account and per IP
(`waitingroom.code_guesses`, 429 + Retry-After). Tiers a presale unlocks are left out of
the event's details for everyone who is not in that presale (`visible_tiers`), and the
event's partition refuses their seats to everyone else: each hold request carries the
tiers its buyer was let into (`unlocked_tier_params`), which the partition checks.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.fan.identity import Principal, optional_principal, require_principal
from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.client_address import client_address
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import ID_SCHEMA, json_body, ok, operation, param
from api.http.params import invalid, path_id
from engine.store import presales as store
from waitingroom.code_guesses import CodeAttempts
from workers.booking_requests import UNLOCKED_TIERS_PARAM

routes = web.RouteTableDef()

MAX_CODE_CHARS = 64
PRESALE_CACHE_SECONDS = 1.0
MAX_CACHED_EVENTS = 4096
_REFUSALS = {
    store.RedeemOutcome.UNKNOWN_CODE: ApiErrorCode.INVALID_CODE,
    store.RedeemOutcome.CODE_TAKEN: ApiErrorCode.CODE_USED,
    store.RedeemOutcome.PRESALE_FULL: ApiErrorCode.PRESALE_FULL,
}


@routes.post("/events/{event_id}/presale-access")
async def redeem(request: web.Request) -> web.Response:
    """Signed-in fan: `{"code"}` lets the account into the presale it opens (200)."""
    principal = await require_principal(request)
    event_id = path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")
    body = await read_json(request)
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not 0 < len(code.strip()) <= MAX_CODE_CHARS:
        invalid("code", f"must be a code of at most {MAX_CODE_CHARS} characters")
    attempts = CodeAttempts(request.app[REDIS_KEY], request.app[SETTINGS_KEY].redis_prefix)
    await attempts.count(event_id, principal.user_id, client_address(request), time.time())
    outcome = await asyncio.to_thread(
        store.redeem_code,
        request.app[DB_ENGINE_KEY],
        event_id,
        code.strip().upper(),
        principal.user_id,
        datetime.now(UTC),
    )
    refusal = _REFUSALS.get(outcome.outcome)
    if refusal is not None:
        raise ApiError(refusal, details={"event_id": event_id})
    return web.json_response(
        {
            "event_id": event_id,
            "presale_id": outcome.presale_id,
            "status": outcome.outcome.value,
            "queue_url": f"/events/{event_id}/queue",
        },
        headers={"Cache-Control": "no-store"},
    )


async def presale_gate(request: web.Request, event_id: int, account_id: int) -> None:
    """Refuse a join while a presale is open unless the account is in one of the open ones."""
    engine = request.app[DB_ENGINE_KEY]
    now = datetime.now(UTC)
    open_now = [p for p in await _presales_cached(engine, event_id) if p.is_open(now)]
    if not open_now:
        return
    accessible = await asyncio.to_thread(store.accessible_presales, engine, event_id, account_id)
    if accessible & {p.id for p in open_now}:
        return
    raise ApiError(
        ApiErrorCode.PRESALE_ONLY,
        "Only presale code holders may join the line now; redeem a code first.",
        {
            "presale_ids": [p.id for p in open_now],
            "ends_at": min(p.ends_at for p in open_now).isoformat(),
            "redeem_url": f"/events/{event_id}/presale-access",
        },
    )


async def presale_open_until(request: web.Request, event_id: int) -> datetime | None:
    """When the event's open presales end (the line is for code holders until then), or None
    when none is open now: for pages that say so before a fan tries to join."""
    now = datetime.now(UTC)
    open_now = [p for p in await _presales_cached(request.app[DB_ENGINE_KEY], event_id)
                if p.is_open(now)]
    return min(p.ends_at for p in open_now) if open_now else None


_presale_cache: dict[int, tuple[float, list[store.Presale]]] = {}


async def _presales_cached(engine: Any, event_id: int) -> list[store.Presale]:
    """The event's presales, read at most once a second per process: every join asks."""
    cached = _presale_cache.get(event_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    found = await asyncio.to_thread(store.presales_of, engine, event_id)
    if len(_presale_cache) >= MAX_CACHED_EVENTS:
        _presale_cache.clear()
    _presale_cache[event_id] = (time.monotonic() + PRESALE_CACHE_SECONDS, found)
    return found


async def unlocked_tiers(engine: Any, event_id: int, account_id: int,
                         is_ops: bool = False) -> list[str]:
    """The tiers presales of the event unlock for this account (every presale tier for
    ops, who see them all): what its hold requests may take of the locked tiers. No query
    beyond the cached presales for an event without any."""
    presales = await _presales_cached(engine, event_id)
    if not presales:
        return []
    if is_ops:
        return sorted({code for p in presales for code in p.tier_codes})
    accessible = await asyncio.to_thread(store.accessible_presales, engine, event_id, account_id)
    return sorted({code for p in presales if p.id in accessible for code in p.tier_codes})


async def unlocked_tier_params(request: web.Request, event_id: int, account_id: int,
                               is_ops: bool = False) -> dict[str, Any]:
    """`{"unlocked_tiers": [...]}` for a hold request's params, or nothing when the account
    unlocks no tier. Added by the server after the body is parsed, so a fan cannot set it."""
    tiers = await unlocked_tiers(request.app[DB_ENGINE_KEY], event_id, account_id, is_ops)
    return {UNLOCKED_TIERS_PARAM: tiers} if tiers else {}


async def visible_tiers(
    request: web.Request, event_id: int, tiers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The event's price tiers minus those unlocked by presales the caller is not in."""
    engine = request.app[DB_ENGINE_KEY]
    presales = await asyncio.to_thread(store.presales_of, engine, event_id)
    if not presales:
        return tiers
    principal: Principal | None = await optional_principal(request)
    accessible: set[int] = set()
    if principal is not None and principal.role == "ops":
        return tiers
    if principal is not None:
        accessible = await asyncio.to_thread(
            store.accessible_presales, engine, event_id, principal.user_id
        )
    hidden = store.hidden_tier_codes(presales, accessible)
    return [tier for tier in tiers if tier["code"] not in hidden]


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/presale-access": {
        "post": operation(
            "Redeem a presale access code (binds a single-use code to this account)",
            who="signed-in fan",
            errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN,
                    ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.INVALID_CODE, ApiErrorCode.CODE_USED,
                    ApiErrorCode.PRESALE_FULL),
            tags=["presales"],
            parameters=[param("event_id", "path", ID_SCHEMA, "event id")],
            body=json_body(
                {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
            ),
            responses={200: ok({"type": "object"}, "let in (granted or already_in)")},
            signed_in=True,
        ),
    },
}
