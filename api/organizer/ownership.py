"""Who a signed-in user acts as in the backoffice: an `Actor` of the organizing use cases.

An organizer account manages only its own organizer's venues and events; ops may
manage all of them. Fans manage none. The rules themselves live in
`engine.store.organizing`; this module reads the caller's organizer for them.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.fan.identity import Principal
from api.http.appkeys import DB_ENGINE_KEY
from engine.store import organizing
from engine.store.organizing import Actor


async def organizer_of(request: web.Request, principal: Principal) -> int | None:
    """The organizer the caller acts for (None for fans, ops and organizers with no venue yet)."""
    if principal.role != "organizer":
        return None
    return await asyncio.to_thread(organizing.organizer_of, request.app[DB_ENGINE_KEY],
                                   principal.user_id)


async def acting_organizer(request: web.Request, principal: Principal) -> int:
    """The caller's organizer id, created with their first venue or event."""
    return await asyncio.to_thread(organizing.ensure_organizer, request.app[DB_ENGINE_KEY],
                                   principal.user_id)


async def actor_of(request: web.Request, principal: Principal) -> Actor:
    """The caller as the use cases see them (an organizer with no venue yet acts for none)."""
    return Actor(is_ops=principal.role == "ops",
                 organizer_id=await organizer_of(request, principal))


async def may_see_drafts(request: web.Request, principal: Principal | None,
                         organizer_id: int) -> bool:
    if principal is None:
        return False
    return (await actor_of(request, principal)).manages(organizer_id)
