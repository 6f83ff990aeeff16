"""Is this event selling right now? A cached check for the booking endpoints.

A cancelled (or draft) event must stop selling at once, and an event sells
only from its on-sale time until it starts. Booking calls come by the
thousand per second in a rush, so the answer is cached per process for a
second; cancelling through this process forgets it immediately.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError

SALE_STATUS_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class SaleWindow:
    status: str
    onsale_at: datetime
    starts_at: datetime

    def refusal(self, now: datetime) -> tuple[str, str] | None:
        """Why the event is not on sale at `now` (code detail, message), or None if it is."""
        if self.status == "cancelled":
            return "cancelled", "This event was cancelled; it no longer sells tickets."
        if self.status != "published":
            return "not_published", "This event is not published yet."
        if now < self.onsale_at:
            return "not_started", f"Tickets go on sale at {self.onsale_at.isoformat()}."
        if now >= self.starts_at:
            return "started", "This event has started; sales are closed."
        return None


class SaleStatusCache:
    def __init__(self) -> None:
        self._windows: dict[int, tuple[float, SaleWindow | None]] = {}

    def forget(self, event_id: int) -> None:
        self._windows.pop(event_id, None)

    async def window(self, engine: sa.Engine, event_id: int) -> SaleWindow | None:
        cached = self._windows.get(event_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        window = await asyncio.to_thread(_load_window, engine, event_id)
        if len(self._windows) > 10_000:
            self._windows.clear()
        self._windows[event_id] = (time.monotonic() + SALE_STATUS_CACHE_SECONDS, window)
        return window


def _load_window(engine: sa.Engine, event_id: int) -> SaleWindow | None:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT status, onsale_at, starts_at FROM events WHERE id = :id"),
            {"id": event_id}).first()
    return SaleWindow(row.status, row.onsale_at, row.starts_at) if row else None


SALE_STATUS_KEY = web.AppKey("sale_status", SaleStatusCache)


async def ensure_on_sale(request: web.Request, event_id: int) -> None:
    """Raise 404 `event_not_found`, or 409 `event_not_on_sale` unless the event sells now."""
    window = await request.app[SALE_STATUS_KEY].window(request.app[DB_ENGINE_KEY], event_id)
    if window is None:
        raise ApiError(ApiErrorCode.EVENT_NOT_FOUND, "No such event.", {"event_id": event_id})
    refusal = window.refusal(datetime.now(UTC))
    if refusal is not None:
        reason, message = refusal
        raise ApiError(ApiErrorCode.EVENT_NOT_ON_SALE, message,
                       {"event_id": event_id, "reason": reason, "status": window.status,
                        "onsale_at": window.onsale_at.isoformat()})
