"""Ops controls: an event's waiting-room settings and its autopilot, every change audited.

A change is read-modify-written under WATCH on the room's config hash, so two
ops (or an op and the autopilot) changing different fields at once both land,
and the admission controller and every fan poll read the new config on their
next step (within 0.2 s). Then the audit rows are written; if Postgres refuses
them, the old config is put back and the caller gets 503: no unaudited change
stays in force.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import sqlalchemy as sa
import sqlalchemy.exc
from aiohttp import web
from redis.exceptions import WatchError

from api.http.body_schema import object_schema
from api.http.error_codes import ApiErrorCode, RoomCode
from api.http.errors import ApiError, read_json
from api.http.openapi_spec import error_codes
from api.ops import change_log
from api.ops.common import (
    GUARD_CODES,
    OPS_KEY,
    OpsServices,
    api_error,
    event_id_of,
    ops_principal,
    routes,
)
from api.ops.sampler import SALE_CLOSED_AT, autopilot_view, sale_state
from engine.store import listings, presales
from waitingroom.autopilot import AutopilotTargets
from waitingroom.config import RoomConfig
from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.room import WaitingRoom
from waitingroom.wire import text_map
from workers.ops_counters import OpsKeys

MAX_CAS_ATTEMPTS = 10
SALE_ACTIONS = ("open", "closed")


def sale_changes(action: str, current: RoomConfig | None, now: float) -> dict[str, Any]:
    """The config fields that open the sale now, or close it (no joins, no admissions)."""
    if action == "closed":
        return {"opens_at": SALE_CLOSED_AT, "sale_starts_at": SALE_CLOSED_AT, "paused": True}
    if action != "open":
        raise ApiError(RoomCode.INVALID_CONFIG, "sale must be open or closed", {"field": "sale"})
    now = float(int(now))  # a whole second: the room's scripts compare at millisecond precision
    opens_at = now if current is None else min(current.opens_at, now)
    starts_at = now if current is None else min(current.sale_starts_at, now)
    return {"opens_at": opens_at, "sale_starts_at": starts_at, "paused": False}


async def change_room(
    redis: aioredis.Redis,
    room: WaitingRoom,
    event_id: int,
    changes: Mapping[str, Any],
    *,
    sale: str | None = None,
    now: float | None = None,
) -> tuple[RoomConfig | None, RoomConfig]:
    """Apply `changes` (RoomConfig fields, JSON values) atomically; (old, new) config."""
    key = room.keys(event_id).config
    async with redis.pipeline(transaction=True) as pipe:
        for _ in range(MAX_CAS_ATTEMPTS):
            try:
                await pipe.watch(key)
                stored = text_map(await pipe.hgetall(key))
                old = RoomConfig.from_fields(stored) if stored else None
                wanted = dict(changes)
                if sale is not None:
                    wanted.update(sale_changes(sale, old, time.time() if now is None else now))
                new = RoomConfig.from_mapping(wanted, base=old)
                pipe.multi()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                await room.configure(event_id, new, pipeline=pipe)
                await pipe.execute()
                return old, new
            except WatchError:
                continue
    raise ApiError(ApiErrorCode.CONFLICT,
                   "The room changed too often meanwhile; try again.", {"retry_after": 1}
    )


async def restore_room(
    redis: aioredis.Redis, room: WaitingRoom, event_id: int, old: RoomConfig | None
) -> None:
    if old is None:
        await redis.delete(room.keys(event_id).config)
    else:
        await room.configure(event_id, old)


async def audited_room_change(
    services: OpsServices,
    event_id: int,
    changes: Mapping[str, Any],
    actor: change_log.Actor,
    *,
    sale: str | None = None,
    action: str = "waiting_room.update",
    details: dict[str, Any] | None = None,
) -> tuple[RoomConfig | None, RoomConfig, list[dict[str, Any]]]:
    """Change the room and record who changed what; undone if the audit cannot be written."""
    try:
        old, new = await change_room(services.redis, services.room, event_id, changes, sale=sale)
    except WaitingRoomError as error:
        raise api_error(error) from None
    record = change_log.AuditRecord(
        actor,
        event_id,
        "waiting_room.create" if old is None else action,
        change_log.diff(None if old is None else old.to_json(), new.to_json()),
        details or {},
    )
    try:
        entries = await change_log.record_async(services.db, [record])
    except sqlalchemy.exc.SQLAlchemyError:
        await restore_room(services.redis, services.room, event_id, old)
        raise
    await seed_stock(services, event_id)
    return old, new, entries


async def seed_stock(services: OpsServices, event_id: int) -> None:
    """The line's first tickets-left figure, from the catalog's read model (capacity less
    claimed seats and taken GA places; for an event with presales, without the tiers closed
    to the line), so fans in a pre-queue see the stock before the event's partition has
    decided anything; the partition's own figure replaces it."""

    def tickets_left() -> int | None:
        with services.db.connect() as conn:
            row = listings.listing(conn, event_id)
            if row is None:
                return None
            for_line = presales.line_tickets_left(conn, event_id, datetime.now(UTC))
        return int(row["tickets_left"]) if for_line is None else for_line

    left = await asyncio.to_thread(tickets_left)
    if left is not None:
        await services.room.seed_stock(event_id, left)


async def event_exists(db: sa.Engine, event_id: int) -> bool:
    def query() -> bool:
        with db.connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM events WHERE id = :id"), {"id": event_id})
            return found.first() is not None

    return await asyncio.to_thread(query)


async def room_view(services: OpsServices, event_id: int) -> dict[str, Any]:
    now = time.time()
    config = await services.room.get_config(event_id)
    autopilot = text_map(await services.redis.hgetall(services.ops_keys.autopilot(event_id)))
    body: dict[str, Any] = {
        "event_id": event_id,
        "exists": config is not None,
        "config": None,
        "sale_state": None,
        "summary": None,
        "autopilot": autopilot_view(autopilot),
    }
    if config is not None:
        body["config"] = config.to_json()
        body["sale_state"] = sale_state(config, now)
        body["summary"] = (await services.room.summary(event_id, now)).to_json()
    return body


@routes.get("/events/{event_id}/waiting-room")
async def get_waiting_room(request: web.Request) -> web.Response:
    """Ops only. The event's room settings, its line right now, and the autopilot."""
    event_id = event_id_of(request)
    return web.json_response(await room_view(request.config_dict[OPS_KEY], event_id))


@routes.patch("/events/{event_id}/waiting-room")
async def patch_waiting_room(request: web.Request) -> web.Response:
    """Ops only. Change room settings (or create the room); takes effect within a second.

    Body: any RoomConfig fields (`new_users_per_minute`, `max_active_users`,
    `paused`, `pow_difficulty_bits`, `opens_at`, ...) and/or `"sale": "open" |
    "closed"`. Creating a room needs `opens_at` and `sale_starts_at`, or `sale`.
    """
    principal = ops_principal(request)
    event_id = event_id_of(request)
    services = request.config_dict[OPS_KEY]
    body = await read_json(request)
    sale = body.pop("sale", None)
    if sale is not None and sale not in SALE_ACTIONS:
        raise ApiError(RoomCode.INVALID_CONFIG, "sale must be open or closed", {"field": "sale"})
    if not body and sale is None:
        raise ApiError(ApiErrorCode.INVALID_REQUEST, "Nothing to change.")
    if not await event_exists(services.db, event_id):
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    _, _, entries = await audited_room_change(
        services, event_id, body, change_log.Actor(principal.email, principal.user_id), sale=sale
    )
    view = await room_view(services, event_id)
    return web.json_response({**view, "changes": entries})


async def set_autopilot(
    redis: aioredis.Redis,
    keys: OpsKeys,
    event_id: int,
    enabled: bool | None,
    targets: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Store the autopilot switch and targets atomically; (old, new) as settings JSON."""
    key = keys.autopilot(event_id)
    async with redis.pipeline(transaction=True) as pipe:
        for _ in range(MAX_CAS_ATTEMPTS):
            try:
                await pipe.watch(key)
                stored = text_map(await pipe.hgetall(key))
                before = autopilot_view(stored)
                old = {"enabled": before["enabled"], **_targets_json(before)}
                current = AutopilotTargets.from_mapping(_targets_json(before))
                new_targets = AutopilotTargets.from_mapping(targets, base=current)
                now_enabled = old["enabled"] if enabled is None else enabled
                fields = {k: repr(v) for k, v in new_targets.to_json().items()}
                fields["enabled"] = "1" if now_enabled else "0"
                pipe.multi()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                if now_enabled and not old["enabled"]:
                    # engage from the rate in force, with a fresh audit baseline
                    pipe.hdel(key, "integral", "at", "audited_rate", "audited_at")
                await pipe.execute()
                return old, {"enabled": now_enabled, **new_targets.to_json()}
            except WatchError:
                continue
    raise ApiError(ApiErrorCode.CONFLICT, "The autopilot changed meanwhile; try again.")


def _targets_json(view: Mapping[str, Any]) -> dict[str, Any]:
    names = AutopilotTargets.__dataclass_fields__
    return {k: v for k, v in view.items() if k in names}


@routes.post("/events/{event_id}/autopilot")
async def post_autopilot(request: web.Request) -> web.Response:
    """Ops only. Switch the admission autopilot on or off and set its targets and bounds.

    Body: `enabled` (bool) and any of `target_p99_seconds`, `target_queue_depth`,
    `min_new_users_per_minute`, `max_new_users_per_minute`. While on, the
    autopilot runner sets `new_users_per_minute` once a second.
    """
    principal = ops_principal(request)
    event_id = event_id_of(request)
    services = request.config_dict[OPS_KEY]
    body = await read_json(request)
    enabled = body.pop("enabled", None)
    if enabled is not None and not isinstance(enabled, bool):
        raise ApiError(ApiErrorCode.INVALID_REQUEST,
                       "enabled must be true or false", {"field": "enabled"}
        )
    if await services.room.get_config(event_id) is None:
        error = WaitingRoomError(
            ErrorCode.ROOM_NOT_FOUND, "this event has no waiting room", {"event_id": event_id}
        )
        raise api_error(error)
    try:
        old, new = await set_autopilot(services.redis, services.ops_keys, event_id, enabled, body)
    except WaitingRoomError as error:
        raise api_error(error) from None
    record = change_log.AuditRecord(
        change_log.Actor(principal.email, principal.user_id),
        event_id,
        "autopilot.update",
        change_log.diff(old, new),
    )
    try:
        entries = await change_log.record_async(services.db, [record])
    except sqlalchemy.exc.SQLAlchemyError:
        await services.redis.hset(
            services.ops_keys.autopilot(event_id),
            mapping={k: ("1" if v else "0") if k == "enabled" else repr(v) for k, v in old.items()},
        )
        raise
    view = await room_view(services, event_id)
    return web.json_response({**view, "changes": entries})


_EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_OPS_REFUSALS = {
    "401": {"description": "Not signed in (`unauthorized`)."},
    "403": {"description": "Signed in without the ops role (`forbidden`)."},
}
_ROOM_VIEW = (
    "`{event_id, exists, config (RoomConfig), sale_state (closed|scheduled|prequeue|on_sale), "
    "summary (the line now), autopilot}`"
)

OPENAPI_PATHS: dict[str, Any] = {
    "/ops/events/{event_id}/waiting-room": {
        "parameters": [_EVENT_ID],
        "get": {
            "summary": "An event's waiting-room settings, line and autopilot (ops only)",
            "x-error-codes": error_codes((*GUARD_CODES, ApiErrorCode.EVENT_NOT_FOUND)),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "responses": {"200": {"description": _ROOM_VIEW}, **_OPS_REFUSALS},
        },
        "patch": {
            "summary": "Change (or create) an event's waiting room (ops only, audited)",
            "x-error-codes": error_codes((
                *GUARD_CODES, ApiErrorCode.INVALID_REQUEST, RoomCode.INVALID_CONFIG,
                ApiErrorCode.EVENT_NOT_FOUND, ApiErrorCode.CONFLICT)),
            "description": "Any RoomConfig field, and `sale: open|closed`. Takes effect "
            "within a second; one audit entry per changed field.",
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": object_schema(RoomConfig, all_optional=True, extra={
                            "sale": {"type": "string", "enum": list(SALE_ACTIONS),
                                     "description": "Open the sale now, or close it."}}),
                    }
                },
            },
            "responses": {
                "200": {"description": _ROOM_VIEW + " plus `changes` (the audit entries)"},
                "400": {"description": "`invalid_config` (details.field) or `invalid_request`."},
                "404": {"description": "`event_not_found`."},
                "503": {"description": "Redis or Postgres unavailable; nothing changed."},
                **_OPS_REFUSALS,
            },
        },
    },
    "/ops/events/{event_id}/autopilot": {
        "parameters": [_EVENT_ID],
        "post": {
            "summary": "Switch the admission autopilot on/off, set targets (ops only, audited)",
            "x-error-codes": error_codes((
                *GUARD_CODES, ApiErrorCode.INVALID_REQUEST, RoomCode.INVALID_CONFIG,
                ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND, ApiErrorCode.CONFLICT)),
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": object_schema(AutopilotTargets, all_optional=True, extra={
                            "enabled": {"type": "boolean"}}),
                    }
                },
            },
            "responses": {
                "200": {"description": _ROOM_VIEW + " plus `changes`"},
                "400": {"description": "`invalid_config` (details.field) or `invalid_request`."},
                "404": {"description": "`room_not_found`: create the room first."},
                **_OPS_REFUSALS,
            },
        },
    },
}
