"""The waiting-list offer round: settle what the partitions decided, then keep offers out.

Run every `OFFER_ROUND_SECONDS` by `run_offer_rounds` (the payments worker process runs it
beside its queue, see `workers.main`). Per event: entries whose offer request was decided
become `offered` (a mail goes to the outbox), `standing` (the partition keeps the offer
until seats come back) or, refused, `waiting` again; standing offers that were served
become `offered`; offers that ended become `taken` or `lapsed`. Then the first
`MAX_OFFERS_OUT` entries still on the list get an `offer` request each (carrying their
place), whether or not seats are free: the partition serves an offer at once if it can,
else keeps it standing and serves it right after the command that frees seats, in list
order (`OfferSeats`, `StandingOfferPlaced`, `SeatsOffered`). Offers of fans who left and
that the partition still keeps are withdrawn again (`withdraw_offer`).

Safe to run twice: the UPDATEs are conditional, each offer request has an idempotency key
(the entry and its last change: two rounds enqueue one request) and the partition decides
an offer id or a withdrawal once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine

from engine.store import waiting_list
from workers.booking_requests import UNLOCKED_TIERS_PARAM, RequestKind

log = logging.getLogger("onsale.waiting_list")

OFFER_ROUND_SECONDS = 1.0
OFFER_TTL_SECONDS = 600.0
"""How long an offered fan has to check out before the seats pass to the next."""


class OfferQueue(Protocol):
    def __call__(self, event_id: int, buyer_id: int, kind: RequestKind,
                 params: dict[str, object], idempotency_key: str) -> str:
        """Enqueue an `offer` or `withdraw_offer` request on the event's partition; return its
        request id (the first one's, for a repeated idempotency key)."""


def offer_round(engine: Engine, enqueue: OfferQueue,
                offer_ttl_seconds: float = OFFER_TTL_SECONDS,
                max_out: int = waiting_list.MAX_OFFERS_OUT, site_url: str = "") -> int:
    """One round over every event with a list; returns the offer requests sent. The offer
    mails link to the fan's waiting-list page under `site_url`."""
    sent = 0
    for event_id in waiting_list.events_with_a_list(engine):
        waiting_list.settle(engine, event_id, site_url)
        for due in waiting_list.withdrawals_due(engine, event_id):
            enqueue(event_id, due.account_id, RequestKind.WITHDRAW_OFFER,
                    {"offer_id": due.offer_id}, f"waitlist-withdraw-{due.offer_id}")
        for offer in waiting_list.next_offers(engine, event_id, max_out):
            params: dict[str, object] = {"quantity": offer.quantity,
                                         "ttl_seconds": offer_ttl_seconds,
                                         "list_order": offer.entry_id}
            if offer.tier is not None:
                params["tier"] = offer.tier
            if offer.unlocked_tiers:
                params[UNLOCKED_TIERS_PARAM] = list(offer.unlocked_tiers)
            key = f"waitlist-offer-{offer.entry_id}-{offer.since.timestamp():.6f}"
            request_id = enqueue(event_id, offer.account_id, RequestKind.OFFER, params, key)
            if waiting_list.mark_offering(engine, offer.entry_id, request_id):
                sent += 1
    return sent


def run_offer_rounds(engine: Engine, enqueue: OfferQueue, stop: threading.Event,
                     interval: Callable[[], float] = lambda: OFFER_ROUND_SECONDS,
                     site_url: str = "") -> None:
    """Offer rounds until `stop` is set; a failed round is logged and retried."""
    while not stop.is_set():
        try:
            offer_round(engine, enqueue, site_url=site_url)
        except Exception:  # the next round retries; nothing here is half-done
            log.exception("waiting-list offer round failed")
        stop.wait(interval())
