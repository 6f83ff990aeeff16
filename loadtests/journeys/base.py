"""The steps several journeys share: sign in, join the line, wait to be admitted, leave.

Every HTTP call is named by its route template (`/events/[id]/queue/[ticket]`)
so Locust's tables group them, and uses `catch_response` so that a refusal
the journey expects (429 with Retry-After, a sold-out rejection) is not
counted as a failure while anything unexpected is.
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant

from loadtests.journeys import metrics
from loadtests.journeys.common import (
    ACCOUNTS,
    Account,
    error_code,
    json_of,
    new_email,
    record_metric,
)
from loadtests.journeys.defaults import DEFAULT_PASSWORD
from loadtests.journeys.retrying import retry_delay_seconds, retrying
from waitingroom.shared_line import own_poll_due, shared_poll_seconds

MAX_QUEUE_POLL_SECONDS = 10.0
"""Never sleep longer than this between polls, whatever the server suggests."""
QUEUE_GIVE_UP_SECONDS = 600.0


class SurgeUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)  # journeys sleep where a person would; see `think`
    network_timeout = 60.0
    connection_timeout = 10.0
    counter_prefix = ""
    """Put before the journey counters of this user's sale (`presale.` for the presale
    event), so each sale's headline counts only its own fans."""
    line_state = ""
    """How the last wait in line ended (`admitted`, `sold_out`, `expired`)."""
    line_rate: float | None = None
    """Admissions per second from the last read of the line summary (waitingroom.shared_line)."""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.event_id = int(getattr(options, "event_id", 0) or 0)
        self.think_scale = float(getattr(options, "think_scale", 1.0) or 1.0)
        self.repeat = getattr(options, "load_shape", "spike") == "steady"
        self.rng = random.Random()
        self.finished = False
        metrics.count(f"users.{type(self).__name__}")
        path = getattr(options, "accounts_file", "")
        if path:
            slices = max(1, int(getattr(options, "account_slices", 1) or 1))
            index = int(getattr(self.environment.runner, "worker_index", 0) or 0)
            ACCOUNTS.load(path, index % slices, slices)

    # ------------------------------------------------------------ pacing

    def think(self, low: float, high: float) -> None:
        gevent.sleep(self.rng.uniform(low, high) * self.think_scale)

    def idle(self) -> None:
        """A fan who is done stays on the page until the run ends (one arrival, one journey)."""
        gevent.sleep(1.0)

    # ------------------------------------------------------------ accounts

    def sign_in(self, kind: str = "fan") -> Account | None:
        account = ACCOUNTS.take()
        if account is not None:
            metrics.count("account.from_pool")
            return account
        email = new_email(kind)
        with self.client.post("/auth/register", json={"email": email,
                                                      "password": DEFAULT_PASSWORD},
                              name="/auth/register", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"register: {error_code(response)}")
                return None
            body = json_of(response)
        metrics.count("account.registered")
        return Account(int(body["user"]["id"]), email, str(body["token"]))

    # ------------------------------------------------------------ waiting room

    def join_queue(self, account: Account) -> dict[str, Any] | None:
        """A place in line (the join answer), {} when the event has no room, None on refusal."""
        for attempt in range(3):
            with retrying(self.client, "POST", f"/events/{self.event_id}/queue", what="join",
                          headers=account.auth, name="/events/[id]/queue") as response:
                code = error_code(response)
                if response.status_code in (200, 201):
                    return json_of(response)
                if response.status_code == 404 and code == "room_not_found":
                    response.success()
                    metrics.count(f"{self.counter_prefix}queue.no_room")
                    return {}
                if response.status_code in (409, 429):
                    response.success()
                    metrics.count(f"{self.counter_prefix}queue.join_refused.{code}")
                    gevent.sleep(retry_delay_seconds(response, attempt, self.rng))
                    continue
                response.failure(f"join: {code}")
                return None
        return None

    def wait_for_admission(self, joined: dict[str, Any]) -> dict[str, Any] | None:
        """Wait as the waiting page does until admitted; the final status, or None
        (`line_state` says why: `sold_out`, `expired`).

        Far back the fan reads the shared summary and asks about their own place
        only near the front or to keep it (waitingroom.shared_line); near the
        front they poll the ticket as the server suggests.
        """
        started = time.monotonic()
        status = joined
        ticket = joined["ticket"]
        self.line_state = ""
        while status.get("state") == "waiting":
            if time.monotonic() - started > QUEUE_GIVE_UP_SECONDS:
                return None
            if not self.follow_summary(status):
                gevent.sleep(min(MAX_QUEUE_POLL_SECONDS,
                                 float(status.get("poll_after_seconds") or 1)))
            # Through an outage the fan keeps polling the same ticket: the place is theirs.
            with retrying(self.client, "GET", f"/events/{self.event_id}/queue/{ticket}",
                          what="poll", name="/events/[id]/queue/[ticket]") as response:
                if response.status_code != 200:
                    response.failure(f"poll: {error_code(response)}")
                    return None
                status = json_of(response)
        waited_ms = (time.monotonic() - started) * 1000
        self.line_state = str(status.get("state"))
        if status.get("state") == "sold_out":
            metrics.count(f"{self.counter_prefix}queue.sold_out")
            return None
        if status.get("state") != "admitted":
            metrics.count(f"{self.counter_prefix}queue.lost_place")
            return None
        metrics.count(f"{self.counter_prefix}queue.admitted")
        metrics.sample(f"{self.counter_prefix}time_in_queue_ms", waited_ms)
        record_metric(self.environment, "time_in_queue", waited_ms)
        return status

    def follow_summary(self, status: dict[str, Any]) -> bool:
        """Far back: read the shared summary until an own poll is due; False when near the front."""
        position = status.get("position")
        if position is None or status.get("in_prequeue"):
            return False
        expiry = float(status.get("position_expiry_seconds") or 60)
        serving, rate = int(status.get("serving_position") or 0), self.line_rate
        last_own = time.monotonic()
        followed = False
        while not own_poll_due(position, serving, rate,
                               seconds_since_own_poll=time.monotonic() - last_own,
                               position_expiry_seconds=expiry):
            followed = True
            gevent.sleep(shared_poll_seconds(rate))
            with self.client.get(f"/events/{self.event_id}/queue", name="/events/[id]/queue",
                                 catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"summary: {error_code(response)}")
                    return followed
                summary = json_of(response)
            serving = int(summary.get("serving_position") or 0)
            rate = summary.get("admission_rate_per_second") or (
                float(summary.get("new_users_per_minute") or 0) / 60)
            self.line_rate = rate
        return followed

    def leave_queue(self, ticket: str) -> None:
        with retrying(self.client, "DELETE", f"/events/{self.event_id}/queue/{ticket}",
                      what="leave", name="/events/[id]/queue/[ticket] (leave)") as response:
            if response.status_code != 200:
                response.failure(f"leave: {error_code(response)}")

