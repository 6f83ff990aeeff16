"""The sold-out waiting list: fans who join it, watch their entry and take or decline the offer.

Two ways onto the list, as in a real sell-out. A `WaitingLister` comes for a sale that is
sold out, or about to be: while seats are free the API answers 409 `not_sold_out` and the
fan looks again a few seconds later. A `Fan` whose booking is refused `sold_out` joins with
the tickets they wanted, at most two (`WAITLIST_AFTER_SOLD_OUT_SHARE` of them). On the
list the fan polls the entry (`GET /events/{id}/waiting-list`) about once a second, as the
offer round runs; once offered (a hold the partition made for them), most buy it (`POST
/holds/{hold_id}/purchase`, no admission token: the offer stands in for it) and
`OFFER_DECLINE_SHARE` decline it (`DELETE /holds/{hold_id}`), so the offer lapses and
passes to the next fan. Offers last 10 minutes, longer than a surge: a fan who let one run
out would stall the list past the run, so the lapses here are declines. An entry status
this journey does not know is treated as still waiting.

Only with `--waiting-list` (`onsale surge` passes it); counters under `waitlist.*`,
timings `waitlist_join_to_offer_ms` and `offer_to_paid_ms`.
"""

from __future__ import annotations

import time
from typing import Any, assert_never

import gevent
from gevent import GreenletExit
from locust import task

from loadtests.journeys import metrics
from loadtests.journeys.checkout import Checkout
from loadtests.journeys.choices import OFFER_DECLINE_SHARE, ListStep, waiting_list_step
from loadtests.journeys.common import Account, error_code, json_of, record_metric
from loadtests.journeys.defaults import TEST_CARD_OK
from loadtests.journeys.retrying import retrying

WAITLIST_AFTER_SOLD_OUT_SHARE = 0.5
"""Fans refused `sold_out` who join the waiting list (the rest leave)."""
ENTRY_POLL_SECONDS = (1.0, 2.0)
"""Between two looks at the entry: the offer round runs every second."""
NOT_SOLD_OUT_RECHECK_SECONDS = (3.0, 6.0)
WAITING_LIST_GIVE_UP_SECONDS = 600.0
LISTER_QUANTITIES = (1, 1, 2)
MAX_LIST_QUANTITY = 2
"""Fans on the list ask for one or two: the head of the list is offered only when that many
seats are free at once, and seats come back a hold at a time."""


class WaitingListSteps(Checkout):
    abstract = True

    def on_start(self) -> None:
        super().on_start()
        options = self.environment.parsed_options
        self.waiting_list_on = bool(getattr(options, "waiting_list", False))

    def join_waiting_list(self, account: Account, quantity: int, how: str
                          ) -> dict[str, Any] | None:
        """The fan's entry (new or the one they have), or None; `self.sold_out` is False
        when the API said tickets are still on sale."""
        self.sold_out = True
        body = {"quantity": max(1, min(MAX_LIST_QUANTITY, quantity))}
        with retrying(self.client, "POST", f"/events/{self.event_id}/waiting-list",
                      what="waiting list join", json=body, headers=account.auth,
                      name="/events/[id]/waiting-list (join)") as response:
            code = error_code(response)
            if response.status_code in (200, 201):
                metrics.count(f"waitlist.joined.{how}" if response.status_code == 201
                              else "waitlist.already_on")
                return json_of(response)
            if response.status_code == 409 and code == "not_sold_out":
                response.success()
                metrics.count("waitlist.not_sold_out")
                self.sold_out = False
                return None
            response.failure(f"waiting list join: {code}")
            return None

    def waiting_list_entry(self, account: Account) -> dict[str, Any] | None:
        with retrying(self.client, "GET", f"/events/{self.event_id}/waiting-list",
                      what="waiting list entry", headers=account.auth,
                      name="/events/[id]/waiting-list") as response:
            if response.status_code != 200:
                response.failure(f"waiting list entry: {error_code(response)}")
                return None
            return json_of(response)

    def follow_waiting_list(self, account: Account, entry: dict[str, Any]) -> None:
        """Watch the entry until an offer stands (buy or decline it) or the entry ends."""
        joined = time.monotonic()
        try:
            while time.monotonic() - joined < WAITING_LIST_GIVE_UP_SECONDS:
                step = waiting_list_step(entry)
                match step:
                    case ListStep.DONE:
                        metrics.count(f"waitlist.ended.{entry.get('status')}")
                        return
                    case ListStep.OFFER:
                        break
                    case ListStep.WAIT:
                        pass
                    case _:
                        assert_never(step)
                gevent.sleep(self.rng.uniform(*ENTRY_POLL_SECONDS))
                seen = self.waiting_list_entry(account)
                if seen is None:
                    return
                entry = seen
            else:
                self.leave_waiting_list(account)
                return
        except GreenletExit:  # the run ended while the fan waited
            metrics.count("waitlist.still_waiting_at_end")
            raise
        waited_ms = (time.monotonic() - joined) * 1000
        metrics.sample("waitlist_join_to_offer_ms", waited_ms)
        record_metric(self.environment, "waitlist_join_to_offer", waited_ms)
        self.take_offer(account, entry)

    def take_offer(self, account: Account, entry: dict[str, Any]) -> None:
        """Most offered fans buy the offered hold; OFFER_DECLINE_SHARE give it back."""
        metrics.count("waitlist.offered")
        offered_at = time.monotonic()
        hold_id = str(entry["hold_id"])
        held = self.poll_decision(account.auth, f"/requests/{hold_id}")
        if held is None or held.get("status") != "held":
            metrics.count(f"waitlist.offer_gone.{(held or {}).get('status', 'undecided')}")
            return
        if self.rng.random() < OFFER_DECLINE_SHARE:
            self.think(1, 3)
            if self.release(account.auth, hold_id):
                metrics.count("waitlist.offer_declined")
            return
        self.think(1, 4)  # typing the card number
        order = self.pay(account.auth, {**held, "hold_id": hold_id}, TEST_CARD_OK)
        status = (order or {}).get("status", "refused")
        if status == "paid":
            metrics.count("waitlist.offer_bought")
            metrics.sample("offer_to_paid_ms", (time.monotonic() - offered_at) * 1000)
        else:
            metrics.count(f"waitlist.offer_unpaid.{status}")

    def leave_waiting_list(self, account: Account) -> None:
        with retrying(self.client, "DELETE", f"/events/{self.event_id}/waiting-list",
                      what="waiting list leave", headers=account.auth,
                      name="/events/[id]/waiting-list (leave)") as response:
            if response.status_code != 200:
                response.failure(f"waiting list leave: {error_code(response)}")
                return
        metrics.count("waitlist.gave_up")


class WaitingLister(WaitingListSteps):
    """Comes for a sold-out sale: joins the waiting list (watching the page until it is sold
    out), then waits for an offer and buys or declines it."""

    weight = 6

    @task
    def wait_for_returns(self) -> None:
        if self.finished:
            self.idle()
            return
        metrics.count("waitlist.arrived")
        try:
            account = self.sign_in("waitlister")
            if account is None:
                return
            quantity = self.rng.choice(LISTER_QUANTITIES)
            started = time.monotonic()
            while time.monotonic() - started < WAITING_LIST_GIVE_UP_SECONDS:
                entry = self.join_waiting_list(account, quantity, "arrival")
                if entry is not None:
                    self.follow_waiting_list(account, entry)
                    return
                if self.sold_out:  # refused for another reason: counted as a failure
                    return
                self.think(*NOT_SOLD_OUT_RECHECK_SECONDS)
        finally:
            if self.repeat:
                self.think(5, 10)
            else:
                self.finished = True
