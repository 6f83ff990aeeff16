"""The demo's waiting room: `onsale up` opens one for the demo surge event, so the fan
page, the admission controller and the ops dashboard have something to show at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio

from waitingroom.config import RoomConfig
from waitingroom.room import WaitingRoom
from waitingroom.tokens import AdmissionSigner

DEMO_NEW_USERS_PER_MINUTE = 600
DEMO_MAX_ACTIVE_USERS = 500


async def _open(redis_url: str, prefix: str, event_id: int, signer: AdmissionSigner,
                connect: Callable[[str], redis.asyncio.Redis]) -> bool:
    client = connect(redis_url)
    try:
        room = WaitingRoom(client, prefix, signer)
        if await room.get_config(event_id) is not None:
            return False  # ops' settings from an earlier run stay as they are
        now = time.time()
        await room.configure(event_id, RoomConfig(
            opens_at=now, sale_starts_at=now,
            new_users_per_minute=DEMO_NEW_USERS_PER_MINUTE,
            max_active_users=DEMO_MAX_ACTIVE_USERS))
        return True
    finally:
        await client.aclose()


def open_demo_room(redis_url: str, prefix: str, event_id: int, signer: AdmissionSigner,
                   connect: Callable[[str], redis.asyncio.Redis] = redis.asyncio.Redis.from_url,
                   ) -> bool:
    """Open the surge event's room unless it has one; True if it was created now. `connect`
    makes the client from the URL (the launcher passes onsale's single-or-cluster factory)."""
    return asyncio.run(_open(redis_url, prefix, event_id, signer, connect))
