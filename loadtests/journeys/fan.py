"""The fan: join the line, get admitted, pick seats, reserve, pay, see the paid order.

One arrival makes one journey (in the steady shape, the user then comes back
as a new fan). Timings go to Locust as METRIC rows: `time_in_queue`,
`request_to_decision` (POST reservation -> final state seen, by polling or by
the SSE stream) and `purchase_to_paid`; outcomes to the journey counters.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Sequence
from typing import Any

import gevent
from locust import task

from loadtests.journeys import metrics
from loadtests.journeys.base import SurgeUser
from loadtests.journeys.choices import card_for, read_seat_map, reservation_body, tickets_wanted
from loadtests.journeys.common import Account, error_code, json_of, record_metric
from loadtests.journeys.defaults import TEST_CARD_OK
from loadtests.journeys.retrying import retry_delay_seconds, retrying

FINAL_REQUEST_STATES = frozenset({"held", "rejected", "failed", "released", "sold", "done"})
FINAL_ORDER_STATES = frozenset({"paid", "declined", "voided", "lost"})
"""`lost`: not an order status; the journey's mark for an order Redis lost (404)."""
DECISION_POLL_SECONDS = (0.05, 0.1, 0.2, 0.25)
"""Delays between status polls: quick at first (most decisions take milliseconds), then steady."""
ORDER_POLL_SECONDS = (0.1, 0.2, 0.3, 0.5)
DECISION_GIVE_UP_SECONDS = 60.0
STREAM_SHARE = 0.4
"""Fans who follow their request by SSE instead of polling."""
RETRY_AFTER_DECLINE_SHARE = 0.6
RELEASE_AFTER_DECLINE_SHARE = 0.2
"""Of declined fans, these give the seats back; the rest walk away and the hold expires."""


class Fan(SurgeUser):
    weight = 70

    @task
    def on_sale(self) -> None:
        if self.finished:
            self.idle()
            return
        metrics.count("fan.arrived")
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
        if joined:
            admitted = self.wait_for_admission(joined)
            if admitted is None:
                return
            token = admitted.get("admission_token")
        headers = {**account.auth, **({"X-Admission-Token": token} if token else {})}
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
            return
        self.think(1, 4)  # typing the card number
        self.checkout(account, headers, held)

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
                    metrics.count(f"reserve.refused.{code}")
                    gevent.sleep(retry_delay_seconds(response, attempt, self.rng))
                    continue
                response.failure(f"reserve: {code}")
                metrics.count(f"reserve.refused.{code}")
                self.last_rejection = code
                return None
        if not accepted:
            return None
        metrics.count("reserve.accepted")
        streamed = self.rng.random() < STREAM_SHARE
        if streamed:
            decision = self.stream_decision(headers, accepted["events_url"])
            if decision is None:  # the stream ended early (a server restarting): poll
                metrics.count("reserve.stream_fell_back_to_polling")
                decision = self.poll_decision(headers, accepted["status_url"])
        else:
            decision = self.poll_decision(headers, accepted["status_url"])
        if decision is None:
            metrics.count("reserve.undecided")
            record_metric(self.environment, "request_to_decision",
                          (time.monotonic() - sent) * 1000, failure="no decision")
            return None
        elapsed_ms = (time.monotonic() - sent) * 1000
        metrics.sample("request_to_decision_ms", elapsed_ms)
        metrics.sample(f"request_to_decision_{'sse' if streamed else 'poll'}_ms", elapsed_ms)
        record_metric(self.environment, "request_to_decision", elapsed_ms)
        status = decision.get("status")
        metrics.count(f"reserve.{status}")
        if status == "held":
            return decision
        self.last_rejection = str((decision.get("error") or {}).get("code") or status)
        metrics.count(f"reserve.rejected.{self.last_rejection}")
        return None

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

    def checkout(self, account: Account, headers: dict[str, str], held: dict[str, Any]) -> None:
        card = card_for(self.rng)
        order = self.pay(headers, held, card)
        if order is not None and order.get("status") == "declined":
            if self.rng.random() < RETRY_AFTER_DECLINE_SHARE:
                metrics.count("purchase.retry_after_decline")
                self.think(1, 3)
                order = self.pay(headers, held, TEST_CARD_OK)
            elif self.rng.random() < RELEASE_AFTER_DECLINE_SHARE / (1 - RETRY_AFTER_DECLINE_SHARE):
                self.release(headers, held["hold_id"])
            else:
                metrics.count("fan.walked_away_from_hold")

    def pay(self, headers: dict[str, str], held: dict[str, Any], card: str,
            lost_before: bool = False) -> dict[str, Any] | None:
        kind = "good_card" if card == TEST_CARD_OK else "test_decline"
        metrics.count(f"purchase.attempt.{kind}")
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
                metrics.count(f"purchase.refused.{code}")
                return None
            accepted = json_of(response)
        order = self.follow_order(headers, accepted["status_url"])
        if order is not None and order.get("status") == "lost" and not lost_before:
            metrics.count("purchase.order_lost")
            return self.pay(headers, held, card, lost_before=True)  # one order per hold
        elapsed_ms = (time.monotonic() - started) * 1000
        status = (order or {}).get("status", "undecided")
        metrics.count(f"purchase.{status}.{kind}")
        if status == "paid":
            wanted = len(held.get("seats") or []) or int(held.get("quantity") or 1)
            if len(order.get("tickets") or []) != wanted:  # type: ignore[union-attr]
                metrics.count("purchase.paid_without_all_tickets")
            record_metric(self.environment, "purchase_to_paid", elapsed_ms)
            metrics.sample("purchase_to_paid_ms", elapsed_ms)
        elif kind == "good_card":
            record_metric(self.environment, "purchase_to_paid", elapsed_ms,
                          failure=f"order {status}")
        return order

    def follow_order(self, headers: dict[str, str], url: str) -> dict[str, Any] | None:
        return self._poll_until_final(headers, url, "/orders/[id]", "order",
                                      ORDER_POLL_SECONDS, FINAL_ORDER_STATES)

    def release(self, headers: dict[str, str], hold_id: str) -> None:
        with retrying(self.client, "DELETE", f"/holds/{hold_id}", what="release",
                      headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                      name="/holds/[id]") as response:
            if response.status_code != 202:
                response.failure(f"release: {error_code(response)}")
                return
        metrics.count("fan.released_hold")
