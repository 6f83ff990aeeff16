"""Presale code holders: redeem a code, join the presale's line, buy the tier it unlocks.

`onsale surge` makes a second, small event whose presale is open for the whole run and
hands its single-use codes to the journeys (`--presale-file`: the event, the presale's
tier and the codes). A second event, because while a presale is open only code holders
may join its event's line: a presale on the on-sale event would shut the general fans out
(or, as a phase before the sale, reshape their rush). A `PresaleFan` takes the next code
(each code goes to one fan); `REUSE_SHARE` of them first try a code another fan already
redeemed (409 `code_used`: single-use codes let in one account) and `MISTYPE_SHARE`
mistype theirs once (404 `invalid_code`); then they redeem (`POST
/events/{id}/presale-access`), see the hidden tier on the event's page, join the line,
are admitted, reserve best available in the presale tier and pay.

The first PresaleFan of each Locust process has no code and guesses instead, until the
guessing limit refuses it (429 `rate_limited` after 10 attempts from one account in a
minute). Every attempt counts against those limits (10 per account and 30 per IP a
minute, and every simulated fan comes from 127.0.0.1): a code holder's 429 is waited out
as its Retry-After says, and the presale fans of a run are kept few (weight 4).
Counters under `presale.*` (queue, reserve and purchase included); only with
`--presale-file`.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import gevent

from loadtests.journeys import metrics
from loadtests.journeys.choices import CODE_ALPHABET, mistyped_code
from loadtests.journeys.common import Account, error_code, json_of
from loadtests.journeys.fan import Fan

GUESSES = 12
"""A guesser's attempts: past the limit of 10 a minute per account."""
CODE_LENGTH = 12
REUSE_SHARE = 0.2
MISTYPE_SHARE = 0.25
REDEEM_TRIES = 4
MAX_RATE_LIMIT_WAIT_SECONDS = 65.0
"""The guessing limits count per minute: a wait never needs to be longer."""
LET_IN = ("granted", "already_in")


class PresaleCodes:
    """The presale's codes from `--presale-file`, each handed to one fan; in distributed
    runs each worker takes its own slice (by worker index)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: list[str] = []
        self._next = 0
        self.redeemed: list[str] = []
        self._guesser_taken = False
        self.event_id = 0
        self.tier = ""
        self.loaded_from: str | None = None

    def load(self, path: str, worker_index: int = 0, worker_count: int = 1) -> None:
        with self._lock:
            if self.loaded_from == path:
                return
            with open(path) as handle:
                doc = json.load(handle)
            self.event_id, self.tier = int(doc["event_id"]), str(doc["tier"])
            self._codes = [code for index, code in enumerate(doc["codes"])
                           if index % worker_count == worker_index]
            self._next, self.loaded_from = 0, path

    def become_guesser(self) -> bool:
        """True for the first fan to ask (one guesser per Locust process)."""
        with self._lock:
            first, self._guesser_taken = not self._guesser_taken, True
            return first

    def take(self) -> str | None:
        with self._lock:
            if self._next >= len(self._codes):
                return None
            self._next += 1
            return self._codes[self._next - 1]

    def note_redeemed(self, code: str) -> None:
        with self._lock:
            self.redeemed.append(code)

    def someone_elses(self, rng: Any) -> str | None:
        with self._lock:
            return rng.choice(self.redeemed) if self.redeemed else None


PRESALE = PresaleCodes()


class PresaleFan(Fan):
    """Has a presale code: redeems it, queues for the presale event, buys its tier."""

    weight = 4
    journey_name = "presale"
    counter_prefix = "presale."

    def on_start(self) -> None:
        super().on_start()
        options = self.environment.parsed_options
        slices = max(1, int(getattr(options, "account_slices", 1) or 1))
        index = int(getattr(self.environment.runner, "worker_index", 0) or 0)
        PRESALE.load(str(getattr(options, "presale_file", "")), index % slices, slices)
        self.event_id = PRESALE.event_id
        self.waiting_list_on = False  # the presale event is not meant to sell out

    def journey(self) -> None:
        if PRESALE.become_guesser():
            self.guess_codes()
            return
        code = PRESALE.take()
        if code is None:
            metrics.count("presale.no_code")
            return
        account = self.sign_in("presale")
        if account is None:
            return
        taken = PRESALE.someone_elses(self.rng) if self.rng.random() < REUSE_SHARE else None
        if taken is not None:
            self.redeem(account, taken, expected="code_used")
        if self.rng.random() < MISTYPE_SHARE:
            self.redeem(account, mistyped_code(code, self.rng), expected="invalid_code")
        if self.redeem(account, code) not in LET_IN:
            return
        PRESALE.note_redeemed(code)
        self.see_presale_tier(account)
        joined = self.join_queue(account)
        if not joined:
            return
        admitted = self.wait_for_admission(joined)
        if admitted is None:
            return
        token = admitted.get("admission_token")
        headers = {**account.auth, **({"X-Admission-Token": token} if token else {})}
        self.think(0.5, 2)
        body = {"best_available": {"quantity": self.rng.randint(1, 4), "tier": PRESALE.tier}}
        held = self.reserve(headers, body)
        if held is None:
            self.leave_queue(joined["ticket"])
            return
        self.think(1, 4)  # typing the card number
        self.checkout(account, headers, held)

    def redeem(self, account: Account, code: str, expected: str | None = None) -> str:
        """Redeem `code`: the status (`granted`, `already_in`) or the refusal's code.
        `expected`: the refusal this attempt is meant to meet (a mistype, a used code)."""
        for _ in range(REDEEM_TRIES):
            with self.client.post(f"/events/{self.event_id}/presale-access",
                                  json={"code": code}, headers=account.auth,
                                  name="/events/[id]/presale-access",
                                  catch_response=True) as response:
                outcome = error_code(response)
                if response.status_code == 200:
                    outcome = str(json_of(response).get("status"))
                    if expected is not None:
                        response.failure(f"presale: a {expected} attempt let the fan in")
                        metrics.count(f"presale.{expected}_let_in")
                    else:
                        metrics.count(f"presale.code.{outcome}")
                    return outcome
                if response.status_code == 429:
                    response.success()
                    metrics.count("presale.rate_limited")
                    wait = min(MAX_RATE_LIMIT_WAIT_SECONDS,
                               float(response.headers.get("Retry-After") or 5))
                    gevent.sleep(wait * (1 + self.rng.random() / 4))
                    continue
                if outcome == expected:
                    response.success()
                    metrics.count(f"presale.refused_as_expected.{outcome}")
                else:
                    response.failure(f"presale access: {outcome}")
                    metrics.count(f"presale.refused.{outcome}")
                return outcome
        return "rate_limited"

    def guess_codes(self) -> None:
        """Without a code: guess until the limit refuses (429 `rate_limited` after 10 a
        minute from one account). Every guess must be refused."""
        account = self.sign_in("guesser")
        if account is None:
            return
        for _ in range(GUESSES):
            guess = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            with self.client.post(f"/events/{self.event_id}/presale-access",
                                  json={"code": guess}, headers=account.auth,
                                  name="/events/[id]/presale-access (guess)",
                                  catch_response=True) as response:
                outcome = error_code(response)
                if response.status_code == 200:
                    response.failure("presale: a guessed code let the fan in")
                    metrics.count("presale.guess.let_in")
                    return
                if response.status_code in (404, 429):
                    response.success()
                    metrics.count(f"presale.guess.{outcome}")
                else:
                    response.failure(f"presale guess: {outcome}")
                if response.status_code == 429:
                    return
            self.think(0.2, 0.5)

    def see_presale_tier(self, account: Account) -> None:
        """The event's page shows the tier the presale unlocks once the fan is let in."""
        with self.client.get(f"/events/{self.event_id}",
                             headers={**account.auth, "Accept": "application/json"},
                             name="/events/[id] (presale)", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"presale event page: {error_code(response)}")
                return
            tiers = {tier.get("code") for tier in json_of(response).get("price_tiers") or ()}
            if PRESALE.tier in tiers:
                metrics.count("presale.tier_visible")
            else:
                response.failure("presale tier not shown to a fan let into the presale")
                metrics.count("presale.tier_hidden")
