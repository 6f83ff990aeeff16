"""Following a request to its decision and paying for a hold: the steps every buyer shares.

A fan who booked, a fan offered seats from the waiting list and a presale fan all end the
same way: poll (or stream) the request until it is decided, pay for the hold, poll the
order until it is paid, declined or voided. Counters go under the journey's
`counter_prefix` (`purchase.*` for the on-sale event, `presale.purchase.*` for the presale
event), so the headline of each sale counts only its own orders.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import gevent

from loadtests.journeys import metrics
from loadtests.journeys.base import SurgeUser
from loadtests.journeys.choices import card_for
from loadtests.journeys.common import Account, error_code, json_of, record_metric
from loadtests.journeys.defaults import TEST_CARD_OK
from loadtests.journeys.retrying import retrying

FINAL_REQUEST_STATES = frozenset({"held", "rejected", "failed", "released", "sold", "done"})
FINAL_ORDER_STATES = frozenset({"paid", "declined", "voided", "lost"})
"""`lost`: not an order status; the journey's mark for an order Redis lost (404)."""
DECISION_POLL_SECONDS = (0.05, 0.1, 0.2, 0.25)
"""Delays between status polls: quick at first (most decisions take milliseconds), then steady."""
ORDER_POLL_SECONDS = (0.1, 0.2, 0.3, 0.5)
DECISION_GIVE_UP_SECONDS = 60.0
RETRY_AFTER_DECLINE_SHARE = 0.6
RELEASE_AFTER_DECLINE_SHARE = 0.2
"""Of declined fans, these give the seats back; the rest walk away and the hold expires."""


class Checkout(SurgeUser):
    abstract = True

    # ------------------------------------------------------------ decisions

    def poll_decision(self, headers: dict[str, str], url: str) -> dict[str, Any] | None:
        return self._poll_until_final(headers, url, "/requests/[id]", "request status",
                                      DECISION_POLL_SECONDS, FINAL_REQUEST_STATES)

    def _poll_until_final(self, headers: dict[str, str], url: str, name: str, what: str,
                          schedule: Sequence[float], final: Collection[str]
                          ) -> dict[str, Any] | None:
        """Poll `url` on the back-off `schedule` until its status is final, or give up."""
        deadline = time.monotonic() + DECISION_GIVE_UP_SECONDS
        polls = 0
        while time.monotonic() < deadline:
            gevent.sleep(schedule[min(polls, len(schedule) - 1)])
            polls += 1
            with retrying(self.client, "GET", url, what=what, headers=headers,
                          name=name) as response:
                if response.status_code == 404 and error_code(response) == "order_not_found":
                    response.success()  # its record was lost in a restart: buy again
                    return {"status": "lost"}
                if response.status_code != 200:
                    response.failure(f"{what}: {error_code(response)}")
                    return None
                state = json_of(response)
            if state.get("status") in final:
                return state
        return None

    def stream_decision(self, headers: dict[str, str], url: str) -> dict[str, Any] | None:
        """Read the SSE stream to its end: the server closes it after the final state."""
        with retrying(self.client, "GET", url, what="request stream",
                      headers={**headers, "Accept": "text/event-stream"},
                      name="/requests/[id]/events") as response:
            if response.status_code != 200:
                response.failure(f"request stream: {error_code(response)}")
                return None
            states = [json.loads(line[5:]) for line in (response.text or "").splitlines()
                      if line.startswith("data:")]
        final = [s for s in states if s.get("status") in FINAL_REQUEST_STATES]
        return final[-1] if final else None

    # ------------------------------------------------------------ checkout

    def checkout(self, account: Account, headers: dict[str, str], held: dict[str, Any]
                 ) -> dict[str, Any] | None:
        """Pay with a card of the usual mix; after a decline retry, release or walk away.
        The last order seen, or None."""
        order = self.pay(headers, held, card_for(self.rng))
        if order is not None and order.get("status") == "declined":
            if self.rng.random() < RETRY_AFTER_DECLINE_SHARE:
                metrics.count(f"{self.counter_prefix}purchase.retry_after_decline")
                self.think(1, 3)
                order = self.pay(headers, held, TEST_CARD_OK)
            elif self.rng.random() < RELEASE_AFTER_DECLINE_SHARE / (1 - RETRY_AFTER_DECLINE_SHARE):
                self.release(headers, held["hold_id"])
            else:
                metrics.count("fan.walked_away_from_hold")
        return order

    def pay(self, headers: dict[str, str], held: dict[str, Any], card: str,
            lost_before: bool = False) -> dict[str, Any] | None:
        kind = "good_card" if card == TEST_CARD_OK else "test_decline"
        counter = f"{self.counter_prefix}purchase"
        metrics.count(f"{counter}.attempt.{kind}")
        started = time.monotonic()
        with retrying(self.client, "POST", f"/holds/{held['hold_id']}/purchase",
                      what="purchase", headers=headers,
                      json={"payment_method": {"card_number": card}},
                      name="/holds/[id]/purchase") as response:
            code = error_code(response)
            if response.status_code != 202:
                expected = code in ("not_admitted", "hold_expired")
                if expected:
                    response.success()
                else:
                    response.failure(f"purchase: {code}")
                metrics.count(f"{counter}.refused.{code}")
                return None
            accepted = json_of(response)
        order = self.follow_order(headers, accepted["status_url"])
        if order is not None and order.get("status") == "lost" and not lost_before:
            metrics.count(f"{counter}.order_lost")
            return self.pay(headers, held, card, lost_before=True)  # one order per hold
        elapsed_ms = (time.monotonic() - started) * 1000
        status = (order or {}).get("status", "undecided")
        metrics.count(f"{counter}.{status}.{kind}")
        if status == "paid":
            wanted = len(held.get("seats") or []) or int(held.get("quantity") or 1)
            tickets = len(order.get("tickets") or [])  # type: ignore[union-attr]
            metrics.count(f"{counter}.tickets", tickets)
            if tickets != wanted:
                metrics.count(f"{counter}.paid_without_all_tickets")
            record_metric(self.environment, "purchase_to_paid", elapsed_ms)
            metrics.sample("purchase_to_paid_ms", elapsed_ms)
        elif kind == "good_card":
            record_metric(self.environment, "purchase_to_paid", elapsed_ms,
                          failure=f"order {status}")
        return order

    def follow_order(self, headers: dict[str, str], url: str) -> dict[str, Any] | None:
        return self._poll_until_final(headers, url, "/orders/[id]", "order",
                                      ORDER_POLL_SECONDS, FINAL_ORDER_STATES)

    def release(self, headers: dict[str, str], hold_id: str) -> bool:
        """Give the seats back now (DELETE /holds/{id}); True when the release was accepted."""
        with retrying(self.client, "DELETE", f"/holds/{hold_id}", what="release",
                      headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                      name="/holds/[id]") as response:
            if response.status_code != 202:
                response.failure(f"release: {error_code(response)}")
                return False
        metrics.count("fan.released_hold")
        return True
