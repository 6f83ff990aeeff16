"""The admission check of booking endpoints.

Until the waiting room is switched on for an event, booking needs only a
signed-in buyer. The waiting room replaces this with admission-token checks.
"""

from __future__ import annotations

from aiohttp import web

from api.identity import Principal


async def require_admission(request: web.Request, event_id: int, principal: Principal) -> None:
    """Raise 403 `not_admitted` unless the caller may book this event now."""
    return None
