"""What every ops route shares: the route table, the services, the ops-only gate."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.errors import ApiError
from api.identity import Principal, require_principal
from api.ops.sampler import Sampler
from api.params import path_id
from api.settings import Settings
from waitingroom.errors import WaitingRoomError
from waitingroom.room import WaitingRoom
from waitingroom.tokens import AdmissionSigner
from workers.keys import Keys
from workers.ops_counters import OpsKeys

routes = web.RouteTableDef()

OPS_ROLE = "ops"


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


async def require_ops(request: web.Request) -> Principal:
    return await require_principal(request, OPS_ROLE)


def event_id_of(request: web.Request) -> int:
    return path_id(request, "event_id", "event_not_found", "event")


def api_error(error: WaitingRoomError) -> ApiError:
    """The waiting room's refusal in the API's error shape (same code, same status)."""
    return ApiError(error.http_status, error.code.value, error.message, error.details)
