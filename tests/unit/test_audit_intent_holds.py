"""The audit's `intent_holds` check: holds made from intents must be decided in line order
(share of pairs >= 0.99), and it reports the time from admission to the held decision."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadtests.audit_checks import FAIL, PASS, intent_holds
from loadtests.audit_redis import RequestRecord
from loadtests.audit_replay import Replay

ADMITTED_MS = 1_800_000_000_000


def intent_request(seq: int) -> str:
    return f"7-t{ADMITTED_MS:012x}q{seq}_9aZ{seq % 10}"  # then the slot-steering suffix


def records(seqs: list[int], delay: float) -> list[RequestRecord]:
    return [RequestRecord(intent_request(s), "hold", "held", 1000 + s, "p0", s,
                          ADMITTED_MS / 1000, ADMITTED_MS / 1000 + delay) for s in seqs]


def replay_of(decided: list[int]) -> Replay:
    replay = Replay()
    for log_seq, place in enumerate(decided, 1):
        replay.hold_decisions.append((log_seq, intent_request(place), 1000 + place))
    replay.hold_decisions.append((999, "7-tplainrequest", 5))  # not from an intent: ignored
    return replay


@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=200, unique=True),
       st.floats(0, 5))
def test_holds_decided_in_line_order_pass_with_their_admission_to_held_time(
    places: list[int], delay: float
) -> None:
    ordered = sorted(places)
    check = intent_holds(replay_of(ordered), records(ordered, delay),
                         {1000 + p: p for p in ordered})
    assert check.status == PASS and check.figures["share"] == 1.0
    assert check.figures["holds"] == len(places)
    assert abs(check.figures["admission_to_held_p50_seconds"] - delay) < 1e-3


@given(st.lists(st.integers(1, 10**6), min_size=3, max_size=200, unique=True))
def test_holds_decided_against_the_line_fail(places: list[int]) -> None:
    backwards = sorted(places, reverse=True)
    check = intent_holds(replay_of(backwards), records(backwards, 0.1),
                         {1000 + p: p for p in backwards})
    assert check.status == FAIL and check.figures["share"] == 0.0
