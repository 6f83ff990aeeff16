"""What every journey shares: run options, the account pool, JSON calls, refusal codes.

Journeys speak only the public HTTP API. The one thing they take from the
harness is a pool of pre-made fan accounts (`--accounts-file`, written by
`onsale surge`): in a real on-sale, fans signed up days before, and a
registration costs ~0.4 s of argon2 CPU on the server, which would turn a
booking surge into a password-hashing benchmark. When the pool runs dry, a
journey registers its own account over HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from locust import events
from locust.event import EventHook

METRIC = "METRIC"
"""Request type of the custom metrics, so they sit apart from HTTP rows in Locust's tables."""

Listener = TypeVar("Listener", bound=Callable[..., None])


def listener(hook: EventHook) -> Callable[[Listener], Listener]:
    """`@listener(events.quitting)`: `hook.add_listener` as a decorator that keeps types."""

    def register(handler: Listener) -> Listener:
        hook.add_listener(handler)  # type: ignore[no-untyped-call]  # locust leaves it unannotated
        return handler

    return register


@listener(events.init_command_line_parser)
def _add_options(parser: Any) -> None:
    parser.add_argument("--event-id", type=int, default=0, env_var="LOCUST_EVENT_ID",
                        help="the on-sale event the journeys book")
    parser.add_argument("--accounts-file", default="", env_var="LOCUST_ACCOUNTS_FILE",
                        help="JSON lines {user_id, email, token} of pre-made fan accounts")
    parser.add_argument("--metrics-file", default="", env_var="LOCUST_METRICS_FILE",
                        help="where the journey metrics JSON is written at the end")
    parser.add_argument("--load-shape", default="spike", choices=("spike", "steady"),
                        env_var="LOCUST_LOAD_SHAPE", help="on-sale spike or steady load")
    parser.add_argument("--account-slices", type=int, default=1, env_var="LOCUST_ACCOUNT_SLICES",
                        help="distributed runs: the number of workers, so each takes its own "
                        "slice of --accounts-file (by worker index)")
    parser.add_argument("--think-scale", type=float, default=1.0, env_var="LOCUST_THINK_SCALE",
                        help="multiply every think time by this (0.2: impatient fans)")
    parser.add_argument("--waiting-list", action="store_true", env_var="LOCUST_WAITING_LIST",
                        help="run WaitingLister fans; fans refused sold_out join the list and "
                        "some holders walk away (their seats come back for the list)")
    parser.add_argument("--presale-file", default="", env_var="LOCUST_PRESALE_FILE",
                        help="JSON {event_id, tier, codes} of a presale (onsale surge writes "
                        "it): runs PresaleFan code holders")


@dataclass(frozen=True)
class Account:
    user_id: int
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class AccountPool:
    """Hands each journey a distinct pre-made account; in distributed runs, each worker a slice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: list[Account] = []
        self._next = 0
        self.loaded_from: str | None = None

    def load(self, path: str, worker_index: int = 0, worker_count: int = 1) -> None:
        with self._lock:
            if self.loaded_from == path:
                return
            accounts = []
            with open(path) as handle:
                for index, line in enumerate(handle):
                    if line.strip() and index % worker_count == worker_index:
                        row = json.loads(line)
                        accounts.append(Account(int(row["user_id"]), row["email"], row["token"]))
            self._accounts, self._next, self.loaded_from = accounts, 0, path

    def take(self) -> Account | None:
        with self._lock:
            if self._next >= len(self._accounts):
                return None
            account = self._accounts[self._next]
            self._next += 1
            return account


ACCOUNTS = AccountPool()
_serial = itertools.count(1)


def new_email(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}-{next(_serial)}@surge.example"


def error_code(response: Any) -> str:
    """The stable error code of an API error body, or the HTTP status when there is none."""
    try:
        return str(response.json()["error"]["code"])
    except Exception:
        return f"http_{response.status_code}"


def json_of(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


def record_metric(environment: Any, name: str, milliseconds: float,
                  failure: str | None = None) -> None:
    """A custom metric as a Locust request row: it lands in the CSV, the HTML and the charts."""
    environment.events.request.fire(
        request_type=METRIC, name=name, response_time=milliseconds, response_length=0,
        exception=None if failure is None else RuntimeError(failure), context={})
