"""What a fan is told about a request whose Redis record is gone.

A request's record lives in Redis; a Redis restart (AOF everysec) or loss can
drop it. Postgres is the truth, so the answer comes from there when it can:

1. The partition decided it and stored the outcome (`booking_requests`): that
   outcome, as if the record were there (`"recovered": true`; a hold lists its
   seat ids, without the seats' labels).
2. The job is still in its partition queue (`rq:job:<id>` exists): `pending`.
3. The id carries its enqueue time (`workers.booking_requests.enqueued_at_of`).
   Younger than `LOST_AFTER_SECONDS`: `pending` (a consumer that took it before
   the loss may still commit and publish it). Older: the partition logged a
   rejection -> `rejected` with its code; otherwise `failed` with code
   `request_lost`, retryable: it was never decided and never will be, so the fan
   may send it again.
4. An id without a time (made before ids carried one) or not of our making: None,
   and the caller answers 404 as before.

So a status poll for a request that got a 202 always ends in a final state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from engine.store.repository import InventoryRepository
from workers.booking_requests import enqueued_at_of, event_of
from workers.keys import RQ_JOB_PREFIX

LOST_AFTER_SECONDS = 15.0
"""Longer than a consumer takes to commit and publish a batch it took before Redis went away."""

LOST_RESULT: dict[str, Any] = {"error": {
    "code": ApiErrorCode.REQUEST_LOST.value,
    "message": ApiErrorCode.REQUEST_LOST.default_message,
    "details": {"retryable": True},
}}


async def recovered_state(
    request: web.Request, redis: Any, request_id: str, buyer_id: int, is_ops: bool,
    now: float | None = None,
) -> dict[str, Any] | None:
    """The request's state without its Redis record, or None if nothing says it existed."""
    repository = InventoryRepository(request.app[DB_ENGINE_KEY])
    stored = await asyncio.to_thread(repository.already_decided_outcomes, [request_id])
    if stored:
        outcome = stored[0]
        if outcome.buyer_id != buyer_id and not is_ops:
            return None
        stored_record = outcome.outcome or {}
        return {"request_id": request_id, "kind": outcome.kind, "event_id": outcome.event_id,
                "status": outcome.status, **(stored_record.get("result") or {}),
                "decided_at": stored_record.get("decided_at"), "recovered": True}
    enqueued_at = enqueued_at_of(request_id)
    if enqueued_at is None:
        return None
    event_id = event_of(request_id)
    base = {"request_id": request_id, "event_id": event_id, "recovered": True}
    now = time.time() if now is None else now
    if await redis.exists(RQ_JOB_PREFIX + request_id) or now - enqueued_at < LOST_AFTER_SECONDS:
        return {**base, "status": "pending"}
    rejections = await asyncio.to_thread(repository.logged_rejections, [event_id], [request_id])
    if request_id in rejections:
        code, message, logged_at = rejections[request_id]
        return {**base, "status": "rejected", "decided_at": logged_at,
                "error": {"code": code, "message": message, "details": {}}}
    return {**base, "status": "failed", "decided_at": now, **LOST_RESULT}
