"""The waiting-list offer round: settle what the partitions decided, then offer the next fan.

Run every `OFFER_ROUND_SECONDS` by `run_offer_rounds` (the payments worker process runs it
beside its queue, see `workers.main`). Per event: entries whose offer request was decided
become `offered` (a mail goes to the outbox) or return to the head; offers that ended
(sold, expired, released) become `taken` or `lapsed`; then, if no offer request is out and
enough seats are free, ONE `offer` request for the head of the list goes on the event's
partition queue. One request at a time keeps offers in list order; the partition decides it
in queue order with bookings (`OfferSeats`), so the seats it offers were free and stay the
fan's until the offer expires. Safe to run twice: the UPDATEs are conditional.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine

from engine.store import waiting_list
from workers.booking_requests import UNLOCKED_TIERS_PARAM

log = logging.getLogger("onsale.waiting_list")

OFFER_ROUND_SECONDS = 1.0
OFFER_TTL_SECONDS = 600.0
"""How long an offered fan has to check out before the seats pass to the next."""


class OfferQueue(Protocol):
    def __call__(self, event_id: int, buyer_id: int, params: dict[str, object]) -> str:
        """Enqueue an `offer` request on the event's partition; return its request id."""


def offer_round(engine: Engine, enqueue_offer: OfferQueue,
                offer_ttl_seconds: float = OFFER_TTL_SECONDS, site_url: str = "") -> int:
    """One round over every event with a list; returns the offer requests sent. The offer
    mails link to the fan's waiting-list page under `site_url`."""
    sent = 0
    for event_id in waiting_list.events_with_a_list(engine):
        waiting_list.settle(engine, event_id, site_url)
        due = waiting_list.next_offer(engine, event_id)
        if due is None:
            continue
        params: dict[str, object] = {"quantity": due.quantity, "ttl_seconds": offer_ttl_seconds}
        if due.tier is not None:
            params["tier"] = due.tier
        if due.unlocked_tiers:
            params[UNLOCKED_TIERS_PARAM] = list(due.unlocked_tiers)
        request_id = enqueue_offer(event_id, due.account_id, params)
        if waiting_list.mark_offering(engine, due.entry_id, request_id):
            sent += 1
    return sent


def run_offer_rounds(engine: Engine, enqueue_offer: OfferQueue, stop: threading.Event,
                     interval: Callable[[], float] = lambda: OFFER_ROUND_SECONDS,
                     site_url: str = "") -> None:
    """Offer rounds until `stop` is set; a failed round is logged and retried."""
    while not stop.is_set():
        try:
            offer_round(engine, enqueue_offer, site_url=site_url)
        except Exception:  # the next round retries; nothing here is half-done
            log.exception("waiting-list offer round failed")
        stop.wait(interval())
