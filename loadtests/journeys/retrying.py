"""Calls that ride out an outage as a patient fan's browser does.

A 503 (a server restarting: `redis_unavailable`, `database_unavailable`) or a
lost connection is tried again after the server's Retry-After, else a doubling
backoff, plus up to half again at random so fans turned away together do not
return together, for up to `OUTAGE_GIVE_UP_SECONDS`. Each retried answer stays
visible: it is a Locust failure named `<what>: <code> (retried)` (so a fault
run's table shows which codes fans saw) and a `retry.<what>.<code>` counter.
The fan's place in line and their hold are kept meanwhile: the journey keeps
its ticket and hold id and carries on with them.

    with retrying(self.client, "GET", url, what="poll", name="/events/[id]/queue/[ticket]",
                  headers=headers) as response:
        ...   # the first answer that is not a 503 (or the last one, when giving up)
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from typing import Any

import gevent

OUTAGE_GIVE_UP_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
RETRIED_STATUSES = frozenset({0, 502, 503, 504})
"""0: FastHttpUser's status for a connection refused, reset or timed out."""


def retry_delay_seconds(response: Any, attempt: int, rng: random.Random | None = None) -> float:
    """Retry-After (capped) or the doubling backoff, plus up to half again at random."""
    header = None
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        header = float(response.headers.get("Retry-After"))
    if header is not None and header > 0:
        base = min(MAX_RETRY_AFTER_SECONDS, header)
    else:
        base = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** attempt)
    return base * (1 + (rng or random).random() / 2)


@contextlib.contextmanager
def retrying(client: Any, method: str, url: str, *, what: str, **options: Any) -> Iterator[Any]:
    """`client.request(..., catch_response=True)`, again while the answer is a 503 or no
    answer at all; yields the answer the caller judges."""
    from loadtests.journeys import metrics  # with Locust (importing it patches the stdlib)
    from loadtests.journeys.common import error_code

    started = time.monotonic()
    attempt = 0
    while True:
        with client.request(method, url, catch_response=True, **options) as response:
            outage = response.status_code in RETRIED_STATUSES
            if not outage or time.monotonic() - started > OUTAGE_GIVE_UP_SECONDS:
                yield response
                return
            code = error_code(response)
            response.failure(f"{what}: {code} (retried)")
            metrics.count(f"retry.{what}.{code}")
            delay = retry_delay_seconds(response, attempt)
        gevent.sleep(delay)
        attempt += 1
