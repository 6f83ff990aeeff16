"""How long until the stack is back: p99 and throughput against the pre-fault baseline.

Input: the journeys' per-second timeline (every HTTP answer, by the second it
was sent). The baseline is the `baseline_seconds` before the fault: mean
requests per second and the p99 response time over all its answers. After
the fault ends, the stack has recovered at the start of the first window of
`WINDOW_SECONDS` consecutive seconds with no failed request, throughput at
least `THROUGHPUT_SHARE` of the baseline and p99 no higher than
`P99_FACTOR` times the baseline's (or the baseline plus `P99_SLACK_MS`,
whichever is larger: a p99 of 20 ms doubling to 40 ms is noise). Recovery is
counted from the end of the fault (the kill itself, the SIGCONT, the proxy
restored), so an outage's own length is not in it.

Throughput is what the simulated fans send, and a fan whose call failed may
start over at the back of the line, where the server asks for slower polls:
the offered load can stay lower after a fault although the stack is fine. So
`served_again_seconds` is reported beside it: the same windows judged on
failures and p99 alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_SECONDS = 3
THROUGHPUT_SHARE = 0.8
P99_FACTOR = 2.0
P99_SLACK_MS = 100.0


@dataclass(frozen=True)
class SecondStats:
    t: int
    """Whole seconds since the run started."""
    requests: int
    failures: int
    response_ms: tuple[float, ...] = ()


@dataclass(frozen=True)
class Baseline:
    requests_per_second: float
    p99_ms: float

    def met_by(self, window: Sequence[SecondStats], judge_throughput: bool = True) -> bool:
        if any(second.failures for second in window):
            return False
        throughput = sum(second.requests for second in window) / len(window)
        if judge_throughput and throughput < THROUGHPUT_SHARE * self.requests_per_second:
            return False
        answers = [ms for second in window for ms in second.response_ms]
        if not answers:
            return self.requests_per_second == 0
        limit = max(P99_FACTOR * self.p99_ms, self.p99_ms + P99_SLACK_MS)
        return percentile(answers, 0.99) <= limit


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def dense(seconds: Sequence[SecondStats], start: int, end: int) -> list[SecondStats]:
    """Seconds `start` to `end - 1`, with an empty second where nothing was sent."""
    by_t = {second.t: second for second in seconds}
    return [by_t.get(t, SecondStats(t, 0, 0)) for t in range(start, end)]


def baseline(seconds: Sequence[SecondStats], fault_at: float,
             baseline_seconds: float) -> Baseline | None:
    """The pre-fault level, or None when the run has no traffic before the fault."""
    first = math.floor(fault_at - baseline_seconds)
    window = dense(seconds, max(0, first), math.floor(fault_at))
    if not window or not any(second.requests for second in window):
        return None
    answers = [ms for second in window for ms in second.response_ms]
    return Baseline(sum(second.requests for second in window) / len(window),
                    percentile(answers, 0.99) if answers else 0.0)


def recovery_seconds(seconds: Sequence[SecondStats], fault_at: float, fault_end: float,
                     baseline_seconds: float, until: int | None = None,
                     judge_throughput: bool = True) -> float | None:
    """Seconds from the fault's end until the stack is back to its baseline; None when it is
    not back before `until` (the end of the run; seconds after it are the users stopping) or
    there was no baseline to compare with."""
    level = baseline(seconds, fault_at, baseline_seconds)
    if level is None or not seconds:
        return None
    last = max(second.t for second in seconds)
    if until is not None:
        last = min(last, until)
    timeline = dense(seconds, 0, last + 1)
    # The last second is cut short by the end of the run: never judged.
    for start in range(math.floor(fault_end), last - WINDOW_SECONDS + 1):
        if level.met_by(timeline[start:start + WINDOW_SECONDS], judge_throughput):
            return max(0.0, round(start - fault_end, 1))
    return None
