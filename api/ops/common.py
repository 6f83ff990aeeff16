"""What every ops route shares: the route table, the services, the ops guard.

The ops routes live in a sub-app mounted at `/ops` (`api.ops.create_ops_app`): route
paths here are relative to it, and its one middleware, `ops_guard`, lets only the ops
role through, except to what is marked public (the dashboard page, its static files).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.fan.identity import Principal, require_principal
from api.http.appkeys import Settings
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.params import path_id
from api.ops.sampler import Sampler
from waitingroom.errors import WaitingRoomError
from waitingroom.room import WaitingRoom
from waitingroom.tokens import AdmissionSigner
from workers.keys import Keys
from workers.ops_counters import OpsKeys

routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPS_ROLE = "ops"
GUARD_CODES = (ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN)
"""What the ops guard answers before any ops handler runs."""


@dataclass
class OpsServices:
    settings: Settings
    redis: aioredis.Redis
    db: sa.Engine
    room: WaitingRoom
    sampler: Sampler
    keys: Keys
    ops_keys: OpsKeys


def make_services(settings: Settings, redis: aioredis.Redis, db: sa.Engine) -> OpsServices:
    """Ops read and configure rooms but never admit anyone: the room's signer is a throwaway."""
    room = WaitingRoom(redis, settings.redis_prefix, AdmissionSigner(Ed25519PrivateKey.generate()))
    sampler = Sampler(redis, db, room, settings.redis_prefix, settings.partitions)
    return OpsServices(
        settings, redis, db, room, sampler, Keys(settings.redis_prefix),
        OpsKeys(settings.redis_prefix),
    )  # fmt: skip


OPS_KEY = web.AppKey("ops", OpsServices)


OPS_PRINCIPAL_KEY = web.RequestKey("ops_principal", Principal)


def public(handler: Handler) -> Handler:
    """Mark an ops handler that anyone may call (the guard lets its requests through)."""
    handler.ops_public = True  # type: ignore[attr-defined]
    return handler


@web.middleware
async def ops_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one ops-only check: every request to the sub-app needs the ops role, except
    public handlers and static files; unknown paths and methods answer 404/405 as before."""
    match_info = request.match_info
    if match_info.http_exception is None and not _is_public(match_info):
        request[OPS_PRINCIPAL_KEY] = await require_principal(request, OPS_ROLE)
    return await handler(request)


def _is_public(match_info: web.UrlMappingMatchInfo) -> bool:
    if isinstance(match_info.route.resource, web.StaticResource):
        return True
    return bool(getattr(match_info.handler, "ops_public", False))


def ops_principal(request: web.Request) -> Principal:
    """The ops account the guard let in."""
    return request[OPS_PRINCIPAL_KEY]


def event_id_of(request: web.Request) -> int:
    return path_id(request, "event_id", ApiErrorCode.EVENT_NOT_FOUND, "event")


def api_error(error: WaitingRoomError) -> ApiError:
    """The waiting room's refusal in the API's error shape (same code, same status)."""
    return ApiError(error.code, error.message, error.details)
