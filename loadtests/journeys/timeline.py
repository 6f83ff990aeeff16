"""Every HTTP answer the journeys get, bucketed per wall-clock second (`--timeline-file`).

Locust's own history keeps rolling percentiles over ten seconds, too blurred to
say when a fault ended. `onsale chaos` needs, per second: requests, their
response times (for p99), failures with their HTTP status (0 when the
connection was refused or cut), every 5xx, 429 and 503 seen, even one a
journey retried and counted as fine, and apart the 5xx that are not a
retryable 503 with Retry-After (a 500, a bare 503, ...): those are bugs.
Written as JSON when Locust quits (local runs: one process).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from typing import Any

from locust import events

from loadtests.journeys.common import METRIC, listener

RETRYABLE_STATUSES = frozenset({429, 503})


class Timeline:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.failures: dict[int, Counter[str]] = defaultdict(Counter)
        self.statuses: dict[int, Counter[str]] = defaultdict(Counter)
        """Per second, every 5xx and retryable 429/503 answer (failed or not)."""
        self.response_ms: dict[int, list[float]] = defaultdict(list)
        self.unretryable_5xx: Counter[int] = Counter()

    def record(self, second: int, status: int, response_ms: float, failed: bool,
               expected_refusal: bool = False, retry_after: bool = False) -> None:
        """`expected_refusal`: a bot's call, whose 429 is the point (counted apart);
        `retry_after`: the answer carried a Retry-After header."""
        with self._lock:
            self.requests[second] += 1
            if status >= 500 and not (status == 503 and retry_after):
                self.unretryable_5xx[second] += 1
            self.response_ms[second].append(round(response_ms, 1))
            if failed:
                self.failures[second][str(status)] += 1
            if status >= 500 or (status in RETRYABLE_STATUSES and not expected_refusal):
                self.statuses[second][str(status)] += 1

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            seconds = sorted(self.requests)
            return {"seconds": [
                {"t": second, "requests": self.requests[second],
                 "failures": dict(self.failures.get(second, {})),
                 "statuses": dict(self.statuses.get(second, {})),
                 "unretryable_5xx": self.unretryable_5xx.get(second, 0),
                 "response_ms": self.response_ms[second]}
                for second in seconds]}


TIMELINE = Timeline()


@listener(events.init_command_line_parser)
def _add_option(parser: Any) -> None:
    parser.add_argument("--timeline-file", default="", env_var="LOCUST_TIMELINE_FILE",
                        help="where the per-second request timeline JSON is written at the end")


@listener(events.request)
def _on_request(request_type: str, name: str, response_time: float, response: Any = None,
                exception: Any = None, start_time: float | None = None, **_: Any) -> None:
    if request_type == METRIC or start_time is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    TIMELINE.record(int(start_time), status, float(response_time or 0), exception is not None,
                    expected_refusal=name.startswith("bot"),
                    retry_after=bool(status and headers.get("Retry-After")))


@listener(events.quitting)
def _write(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    path = getattr(options, "timeline_file", "") if options is not None else ""
    if path:
        with open(path, "w") as handle:
            json.dump(TIMELINE.to_json(), handle)
