"""Which organizer a signed-in user acts for, and whether they may manage a venue or event.

An organizer account manages only its own organizer's venues and events; ops
may manage all of them. Fans manage none.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from aiohttp import web

from api.fan.identity import Principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from engine.store.catalog import create_organizer


def _organizer_of(engine: sa.Engine, user_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM organizers WHERE user_id = :user_id"),
                            {"user_id": user_id}).scalar()


def _ensure_organizer(engine: sa.Engine, user_id: int) -> int:
    with engine.begin() as conn:
        existing = conn.execute(sa.text(
            "SELECT id FROM organizers WHERE user_id = :user_id FOR UPDATE"),
            {"user_id": user_id}).scalar()
        if existing is not None:
            return int(existing)
        name = conn.execute(sa.text("SELECT display_name FROM users WHERE id = :id"),
                            {"id": user_id}).scalar_one()
        return create_organizer(conn, name, user_id)


async def organizer_of(request: web.Request, principal: Principal) -> int | None:
    """The organizer the caller acts for (None for fans, ops and organizers with no venue yet)."""
    if principal.role != "organizer":
        return None
    return await asyncio.to_thread(_organizer_of, request.app[DB_ENGINE_KEY], principal.user_id)


async def acting_organizer(request: web.Request, principal: Principal) -> int:
    """The caller's organizer id, created with their first venue or event."""
    return await asyncio.to_thread(_ensure_organizer, request.app[DB_ENGINE_KEY],
                                   principal.user_id)


async def ensure_manages(request: web.Request, principal: Principal, organizer_id: int,
                         what: str) -> None:
    """Raise 403 unless the caller is ops or the organizer owning the thing."""
    if principal.role == "ops":
        return
    if principal.role == "organizer" and await organizer_of(request, principal) == organizer_id:
        return
    raise ApiError(ApiErrorCode.FORBIDDEN,
                   f"Only the organizer of this {what} (or ops) may do this.",
                   {"reason": "not_owner"})


async def may_see_drafts(request: web.Request, principal: Principal | None,
                         organizer_id: int) -> bool:
    if principal is None:
        return False
    if principal.role == "ops":
        return True
    return principal.role == "organizer" and await organizer_of(request, principal) == organizer_id
