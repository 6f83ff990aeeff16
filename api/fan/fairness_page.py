"""The public fairness report of a sale as a page: `/events/{id}/fairness`.

The page shows what `GET /events/{id}/draw` publishes (the same cached JSON, rendered on
the server): the seed commitment and when it was made, the seed once the sale started, the
pre-queue's size, the admitted order against the booking order (the audit's FIFO share) and
every anomaly the server's own checks find. Its script re-checks in the fan's browser what
needs no trust in this server: that the revealed seed hashes to the commitment (SHA-256,
WebCrypto), and that a fan's receipt (pasted, or carried in the link the waiting page gives,
`#receipt=...`, a fragment the browser never sends) is signed by the room's key from
`/.well-known/jwks.json` (Ed25519) and names the place the published order gives its join
number. Recomputing the whole order from the seed is `onsale verify-draw EVENT`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.fan.draw_http import report_json
from api.fan.waitingroom_http import event_id_of
from api.http.error_codes import ApiErrorCode, RoomCode
from api.http.openapi_spec import ID_SCHEMA, ok, operation, param
from api.http.templates import not_found, render
from waitingroom.errors import WaitingRoomError

routes = web.RouteTableDef()

ANOMALY_HELP = {
    "no_commitment": "No seed commitment was published before the draw.",
    "committed_late": "The seed was committed after the sale had started.",
    "seed_not_revealed": "The sale started, but the seed has not been published.",
    "seed_mismatch": "The published seed does not hash to the commitment.",
    "order_mismatch": "The published order is not the order the seed gives.",
    "seed_not_applied": "The line was shuffled with another seed than the committed one.",
    "joined_after_start_in_draw": "A fan who joined after the start was put in the draw.",
    "joined_before_start_not_drawn": "A fan who joined before the start was left out of the draw.",
}


def _when(epoch: float | None) -> str | None:
    """A time for people; None when there is none, or it is no date (a sale closed by ops
    starts at a far-off sentinel)."""
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return None


def page_context(event_id: int, report: dict[str, Any]) -> dict[str, Any]:
    """What the template shows, from the published report (pure: tested without HTTP)."""
    fifo = report.get("admitted_vs_booking") or {}
    share = fifo.get("share")
    anomalies = [
        {**anomaly, "help": ANOMALY_HELP.get(anomaly.get("code", ""), anomaly.get("message", ""))}
        for anomaly in report.get("anomalies", [])
    ]
    return {
        "event_id": event_id,
        "shuffled": report.get("mode") == "shuffle",
        "commitment": report.get("commitment"),
        "committed_at": _when(report.get("committed_at")),
        "sale_starts_at": _when(report.get("sale_starts_at")),
        "started_at": _when(report.get("started_at")),
        "prequeue_size": report.get("prequeue_size"),
        "seed": report.get("seed"),
        "order_published": report.get("order") is not None,
        "joins_listed": len(report.get("join_times", [])),
        "fifo_fans": fifo.get("fans"),
        "fifo_pairs": fifo.get("pairs"),
        "fifo_discordant": fifo.get("discordant_pairs"),
        "fifo_share": None if share is None else f"{share:.4f}",
        "anomalies": anomalies,
    }


@routes.get("/events/{event_id}/fairness")
async def fairness_page(request: web.Request) -> web.Response:
    """Anyone: the sale's fairness report as a page (its data: GET /events/{id}/draw)."""
    event_id = event_id_of(request)
    try:
        report = json.loads(await report_json(request, event_id))
    except WaitingRoomError:
        if "text/html" not in request.headers.get("Accept", ""):
            raise  # API clients get the error shape (`room_not_found`)
        return not_found(request, "No waiting room",
                         "This event has no waiting room, so there is no draw to report.")
    context = {**page_context(event_id, report), "site": str(request.url.origin())}
    response = render(request, "fan/fairness.html", context)
    response.headers["Cache-Control"] = "public, max-age=1"
    return response


OPENAPI_PATHS: dict[str, Any] = {
    "/events/{event_id}/fairness": {"get": operation(
        "The sale's fairness report (HTML): commitment, seed, FIFO share, anomalies, and a"
        " receipt check in the browser", who="anyone", tags=["waiting room"],
        errors=(ApiErrorCode.EVENT_NOT_FOUND, RoomCode.ROOM_NOT_FOUND),
        parameters=[param("event_id", "path", ID_SCHEMA, "The event.")],
        responses={200: ok({"type": "string"}, "The page.", content_type="text/html")})},
}
