"""The rest of the crowd: browsers, fans who give up, and bots.

Bots book without admission and join again and again. Every refusal they
meet (401 unauthorized, 403 not_admitted, 429 rate_limited) is the system
working, so it is counted under `bot.refused.<code>` and shown as a success
in its own `bot:` rows; a bot that gets a 202 is a failure and is counted
as `bot.got_through`, which `onsale surge` treats as a violated invariant.
"""

from __future__ import annotations

from locust import task

from loadtests.journeys import metrics
from loadtests.journeys.base import SurgeUser
from loadtests.journeys.common import Account, error_code

SEARCH_TERMS = ("aurora", "live", "manchester", "theatre", "tour", "comets", "jazz", "berlin")
BOT_REFUSALS = frozenset({401, 403, 429})


class Browser(SurgeUser):
    """Looks around: the event list, search, one event's page and the line's summary."""

    weight = 15

    @task(3)
    def browse(self) -> None:
        self.client.get("/events", name="/events")
        self.think(1, 3)

    @task(2)
    def search(self) -> None:
        self.client.get(f"/search?q={self.rng.choice(SEARCH_TERMS)}", name="/search?q=[term]")
        self.think(1, 3)

    @task(2)
    def event_page(self) -> None:
        self.client.get(f"/events/{self.event_id}", headers={"Accept": "application/json"},
                        name="/events/[id]")
        self.think(1, 3)

    @task(1)
    def line_summary(self) -> None:
        self.client.get(f"/events/{self.event_id}/queue", name="/events/[id]/queue (summary)")
        self.think(1, 3)


class Abandoner(SurgeUser):
    """Joins, polls a little, then leaves: half say so (DELETE), half just stop polling."""

    weight = 10

    @task
    def give_up(self) -> None:
        if self.finished:
            self.idle()
            return
        try:
            account = self.sign_in("abandoner")
            joined = self.join_queue(account) if account else None
            if not joined:
                return
            status = joined
            for _ in range(self.rng.randint(1, 3)):
                if status.get("state") != "waiting":
                    break
                self.think(1, 2)
                with self.client.get(f"/events/{self.event_id}/queue/{joined['ticket']}",
                                     name="/events/[id]/queue/[ticket]") as response:
                    status = response.json() if response.status_code == 200 else {}
            if self.rng.random() < 0.5:
                self.leave_queue(joined["ticket"])
                metrics.count("abandoner.left")
            else:
                metrics.count("abandoner.walked_away")
        finally:
            if self.repeat:
                self.think(5, 10)
            else:
                self.finished = True


class Bot(SurgeUser):
    """Hammers booking without admission and joins over and over; must always be refused."""

    weight = 5

    def on_start(self) -> None:
        super().on_start()
        self.account: Account | None = self.sign_in("bot")

    @task(3)
    def reserve_without_admission(self) -> None:
        headers = dict(self.account.auth) if self.account else {}
        if self.rng.random() < 0.3:
            headers["X-Admission-Token"] = "forged.admission.token"
        self._refused("post", f"/events/{self.event_id}/reservations", "bot: reserve",
                      headers, {"best_available": {"quantity": 4}})
        self.think(0.2, 0.5)

    @task(1)
    def reserve_anonymously(self) -> None:
        self._refused("post", f"/events/{self.event_id}/reservations", "bot: reserve anonymous",
                      {}, {"best_available": {"quantity": 4}})
        self.think(0.2, 0.5)

    @task(2)
    def join_again(self) -> None:
        if self.account is None:
            return
        with self.client.post(f"/events/{self.event_id}/queue", headers=self.account.auth,
                              name="bot: join again", catch_response=True) as response:
            if response.status_code in (200, 201):
                metrics.count("bot.join.same_place" if response.status_code == 200
                              else "bot.join.new_place")
                response.success()
            elif response.status_code in BOT_REFUSALS:
                metrics.count(f"bot.refused.{error_code(response)}")
                response.success()
            else:
                response.failure(f"bot join: {error_code(response)}")
        self.think(0.2, 0.5)

    def _refused(self, method: str, path: str, name: str, headers: dict[str, str],
                 body: dict[str, object]) -> None:
        with self.client.request(method.upper(), path, headers=headers, json=body, name=name,
                                 catch_response=True) as response:
            if response.status_code in BOT_REFUSALS:
                metrics.count(f"bot.refused.{error_code(response)}")
                response.success()
            elif response.status_code == 202:
                metrics.count("bot.got_through")
                response.failure("a bot's booking was accepted without admission")
            else:
                response.failure(f"bot: unexpected {error_code(response)}")
