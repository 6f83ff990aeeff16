"""The admission check of booking endpoints, and the end of an admitted session.

Ops turn the waiting room on per event (`WaitingRoom.configure`, through the
ops waiting-room endpoints). From then on every reservation and purchase for
that event needs `X-Admission-Token`: a token the waiting room signed for
this event and this account, whose session is still open. Events without a
waiting room stay open to any signed-in buyer.

A session ends when the fan's order is paid (the payments worker runs the
room's end-session script, so a declined card can be retried under the same
admission), when the token expires, or when the fan leaves
(`DELETE /events/{id}/queue/{ticket}`); its token is refused from then on.
"""

from __future__ import annotations

import time

from aiohttp import web

from api.fan.identity import Principal
from api.fan.waitingroom_http import WAITING_ROOM_KEY
from api.http.appkeys import REDIS_KEY
from waitingroom.errors import not_admitted

ADMISSION_HEADER = "X-Admission-Token"


async def require_admission(request: web.Request, event_id: int, principal: Principal) -> None:
    """Raise 403 `not_admitted` (details.reason) unless the caller may book this event now.

    Reasons: missing, invalid, expired, wrong_event, session_ended (the
    session was closed by a purchase or by leaving), wrong_account (a token
    minted for somebody else).
    """
    room = request.app[WAITING_ROOM_KEY]
    if not await request.app[REDIS_KEY].exists(room.keys(event_id).config):
        return
    claims = await room.check_admission(
        event_id, request.headers.get(ADMISSION_HEADER), time.time()
    )
    if claims.user_id != principal.user_id:
        raise not_admitted("wrong_account", "the admission token belongs to another account")


async def end_admission(request: web.Request, event_id: int, principal: Principal) -> bool:
    """Close the buyer's admitted session for the event from an HTTP handler.

    This frees a place under the event's max_active_users for the next fan in
    line; the buyer's admission token stops working. True if a session was open.
    (Purchases end the session in the payments worker once the order is paid.)
    """
    return await request.app[WAITING_ROOM_KEY].end_session(event_id, principal.user_id)
