"""The fan: join the line, get admitted, pick seats, reserve, pay, see the paid order.

One arrival makes one journey (in the steady shape, the user then comes back
as a new fan). Some fans (INTENT_SHARE) state an intent while waiting and, once
admitted, follow the hold the line made for them instead of picking seats.
Timings go to Locust as METRIC rows: `time_in_queue`, `admission_to_held`
(intents: admitted poll -> held seen), `request_to_decision` (POST reservation
-> final state seen, by polling or by the SSE stream) and `purchase_to_paid`;
outcomes to the journey counters.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import gevent
from locust import task

from loadtests.journeys import metrics
from loadtests.journeys.choices import read_seat_map, reservation_body, tickets_wanted
from loadtests.journeys.common import Account, error_code, json_of, record_metric
from loadtests.journeys.retrying import retry_delay_seconds, retrying
from loadtests.journeys.waitlist import (
    LISTER_QUANTITIES,
    WAITLIST_AFTER_SOLD_OUT_SHARE,
    WaitingListSteps,
)

STREAM_SHARE = 0.4
"""Fans who follow their request by SSE instead of polling."""
INTENT_SHARE = 0.3
"""Fans who state an intent while waiting and land on checkout with seats already held."""
ABANDON_HOLD_SHARE = 0.15
"""With the waiting list on: fans who get seats and leave the booking page without paying
(the hold runs out), so seats come back after the sell-out and the list has offers."""


class Fan(WaitingListSteps):
    weight = 70
    journey_name = "fan"

    @task
    def on_sale(self) -> None:
        if self.finished:
            self.idle()
            return
        metrics.count(f"{self.journey_name}.arrived")
        try:
            self.journey()
        finally:
            if self.repeat:
                self.think(3, 8)
            else:
                self.finished = True

    def journey(self) -> None:
        account = self.sign_in()
        if account is None:
            return
        joined = self.join_queue(account)
        if joined is None:
            return
        token: str | None = None
        intent_hold: str | None = None
        if joined:
            if self.rng.random() < INTENT_SHARE:
                self.state_intent(joined["ticket"])
            admitted = self.wait_for_admission(joined)
            if admitted is None:
                if self.line_state == "sold_out":
                    self.after_sold_out(account, self.rng.choice(LISTER_QUANTITIES),
                                        joined["ticket"])
                return
            token = admitted.get("admission_token")
            intent_hold = admitted.get("hold_request_id")
        headers = {**account.auth, **({"X-Admission-Token": token} if token else {})}
        if intent_hold:
            held = self.follow_intent_hold(headers, intent_hold)
            if held is not None:
                self.pay_or_abandon(account, headers, held, joined["ticket"])
                return
        self.think(0.5, 2)
        seat_map = self.seat_map()
        body = reservation_body(read_seat_map(seat_map), self.rng)
        held = self.reserve(headers, body)
        if held is None and self.last_rejection == "request_lost":
            metrics.count("fan.retry_lost_request")  # lost in a Redis restart: send it again
            held = self.reserve(headers, body)
        if held is None and self.last_rejection == "seats_taken":
            metrics.count("fan.retry_best_available")
            held = self.reserve(headers, {"best_available": {"quantity": tickets_wanted(body)}})
        if held is None:
            if joined:
                self.leave_queue(joined["ticket"])
            if self.last_rejection == "sold_out":
                self.after_sold_out(account, tickets_wanted(body))
            return
        self.pay_or_abandon(account, headers, held, joined["ticket"] if joined else None)

    def after_sold_out(self, account: Account, quantity: int, ticket: str | None = None) -> None:
        """Refused `sold_out` (by the partition, or by the line while waiting): with the
        waiting list on, WAITLIST_AFTER_SOLD_OUT_SHARE of fans join it (leaving the line)
        and wait for an offer; the others go."""
        if not self.waiting_list_on or self.rng.random() >= WAITLIST_AFTER_SOLD_OUT_SHARE:
            return
        entry = self.join_waiting_list(account, quantity, "after_sold_out")
        if entry is None:
            return
        if ticket is not None:
            self.leave_queue(ticket)
        self.follow_waiting_list(account, entry)

    def pay_or_abandon(self, account: Account, headers: dict[str, str],
                       held: dict[str, Any], ticket: str | None) -> None:
        """Check out; with the waiting list on, ABANDON_HOLD_SHARE leave the booking page
        instead (the session ends, so the line moves on; the hold runs out)."""
        if self.waiting_list_on and self.rng.random() < ABANDON_HOLD_SHARE:
            metrics.count("fan.abandoned_hold")
            if ticket is not None:
                self.leave_queue(ticket)
            return
        self.think(1, 4)  # typing the card number
        self.checkout(account, headers, held)

    # ------------------------------------------------------------ intents

    def state_intent(self, ticket: str) -> None:
        """Say while waiting what to hold at the turn: the line holds it in line order."""
        body = {"quantity": self.rng.randint(1, 4), "split_ok": self.rng.random() < 0.7}
        with retrying(self.client, "PUT", f"/events/{self.event_id}/queue/{ticket}/intent",
                      what="intent", json=body,
                      name="/events/[id]/queue/[ticket]/intent") as response:
            if response.status_code == 200:
                metrics.count("intent.stated")
            elif response.status_code == 409:
                response.success()  # admitted meanwhile: picks seats as anyone else
                metrics.count("intent.too_late")
            else:
                response.failure(f"intent: {error_code(response)}")

    def follow_intent_hold(self, headers: dict[str, str],
                           request_id: str) -> dict[str, Any] | None:
        """The hold made at admission from the intent: held (to checkout) or None (the fan
        picks seats instead). Times admission (the admitted poll) to the decision seen."""
        admitted_seen = time.monotonic()
        decision = self.poll_decision(headers, f"/requests/{request_id}")
        status = None if decision is None else decision.get("status")
        metrics.count(f"intent.{status or 'undecided'}")
        if status != "held":
            return None
        elapsed_ms = (time.monotonic() - admitted_seen) * 1000
        metrics.sample("admission_to_held_ms", elapsed_ms)
        record_metric(self.environment, "admission_to_held", elapsed_ms)
        return decision

    # ------------------------------------------------------------ seats

    def seat_map(self) -> Any:
        with retrying(self.client, "GET", f"/events/{self.event_id}/seats", what="seat map",
                      name="/events/[id]/seats") as response:
            if response.status_code != 200:
                response.failure(f"seat map: {error_code(response)}")
                return None
            return json_of(response)

    def reserve(self, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any] | None:
        """The held decision, or None (refused or rejected; `last_rejection` says why)."""
        self.last_rejection = ""
        key = uuid.uuid4().hex
        sent = time.monotonic()
        accepted: dict[str, Any] = {}
        for attempt in range(3):
            with retrying(self.client, "POST", f"/events/{self.event_id}/reservations",
                          what="reserve", json=body, headers={**headers, "Idempotency-Key": key},
                          name="/events/[id]/reservations") as response:
                code = error_code(response)
                if response.status_code == 202:
                    accepted = json_of(response)
                    break
                if response.status_code == 429:
                    response.success()
                    metrics.count(f"{self.counter_prefix}reserve.refused.{code}")
                    gevent.sleep(retry_delay_seconds(response, attempt, self.rng))
                    continue
                response.failure(f"reserve: {code}")
                metrics.count(f"{self.counter_prefix}reserve.refused.{code}")
                self.last_rejection = code
                return None
        if not accepted:
            return None
        metrics.count(f"{self.counter_prefix}reserve.accepted")
        streamed = self.rng.random() < STREAM_SHARE
        if streamed:
            decision = self.stream_decision(headers, accepted["events_url"])
            if decision is None:  # the stream ended early (a server restarting): poll
                metrics.count(f"{self.counter_prefix}reserve.stream_fell_back_to_polling")
                decision = self.poll_decision(headers, accepted["status_url"])
        else:
            decision = self.poll_decision(headers, accepted["status_url"])
        if decision is None:
            metrics.count(f"{self.counter_prefix}reserve.undecided")
            record_metric(self.environment, "request_to_decision",
                          (time.monotonic() - sent) * 1000, failure="no decision")
            return None
        elapsed_ms = (time.monotonic() - sent) * 1000
        metrics.sample(f"{self.counter_prefix}request_to_decision_ms", elapsed_ms)
        metrics.sample(f"request_to_decision_{'sse' if streamed else 'poll'}_ms", elapsed_ms)
        record_metric(self.environment, "request_to_decision", elapsed_ms)
        status = decision.get("status")
        metrics.count(f"{self.counter_prefix}reserve.{status}")
        if status == "held":
            return decision
        self.last_rejection = str((decision.get("error") or {}).get("code") or status)
        metrics.count(f"{self.counter_prefix}reserve.rejected.{self.last_rejection}")
        return None
