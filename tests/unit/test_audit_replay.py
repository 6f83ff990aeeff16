"""The audit's replay of the inventory log and its order statistics (no I/O)."""

from __future__ import annotations

import itertools
import random

from loadtests.audit_replay import count_inversions, fifo_agreement, replay_log


def _held(seq: int, hold: str, seats: list[int], buyer: int = 1) -> tuple[int, str, dict]:
    return seq, "SeatsHeld", {"request_id": hold, "hold_id": hold, "buyer_id": buyer,
                              "seat_ids": seats}


def test_a_clean_history_replays_to_its_final_state() -> None:
    replay = replay_log([
        _held(1, "h1", [1, 2]),
        (2, "HoldRejected", {"request_id": "h2", "hold_id": "h2", "buyer_id": 2}),
        (3, "SeatsSold", {"hold_id": "h1", "order_id": "o1", "seat_ids": [1, 2]}),
        _held(4, "h3", [3], buyer=3),
        (5, "HoldExpired", {"hold_id": "h3", "seat_ids": [3]}),
        (6, "OrderRefunded", {"order_id": "o1", "seat_ids": [2]}),
        (7, "SeatsBlocked", {"seat_ids": [4]}),
    ])
    assert replay.anomalies == []
    assert replay.seat_state == {1: ("sold", "o1"), 4: ("blocked", None)}
    assert [buyer for _, _, buyer in replay.hold_decisions] == [1, 2, 3]


def test_impossible_steps_are_named() -> None:
    replay = replay_log([
        _held(1, "h1", [1]),
        _held(2, "h2", [1]),  # double hold
        (3, "SeatsSold", {"hold_id": "h9", "order_id": "o9", "seat_ids": [5]}),  # not held
        (4, "HoldReleased", {"hold_id": "h1", "seat_ids": [7]}),  # never had it
    ])
    assert len(replay.anomalies) == 3
    assert "seat 1 held by h2 while held (h1)" in replay.anomalies[0]


def test_inversions_match_a_brute_force_count() -> None:
    rng = random.Random(5)
    for size in (0, 1, 2, 7, 40):
        values = [rng.randrange(20) for _ in range(size)]
        brute = sum(1 for i, j in itertools.combinations(range(size), 2) if values[i] > values[j])
        assert count_inversions(values) == brute


def test_fifo_share_is_one_for_strict_order_and_zero_reversed() -> None:
    places = {10: 1, 11: 2, 12: 3, 13: 4}
    assert fifo_agreement(places, {10: 5, 11: 6, 12: 7, 13: 8}).share == 1.0
    assert fifo_agreement(places, {10: 8, 11: 7, 12: 6, 13: 5}).share == 0.0
    partial = fifo_agreement(places, {10: 5, 11: 7, 12: 6, 99: 1})
    assert (partial.fans, partial.pairs, partial.discordant_pairs) == (3, 3, 1)


def test_an_offer_of_a_seat_that_was_not_free_is_named_apart_and_counted() -> None:
    offered = {"request_id": "o1", "hold_id": "o1", "buyer_id": 5, "seat_ids": [1, 2]}
    replay = replay_log([
        _held(1, "h1", [1]),
        (2, "SeatsOffered", offered),  # seat 1 is held: not free
        (3, "SeatsOffered", {**offered, "request_id": "o2", "hold_id": "o2", "seat_ids": [3]}),
    ])
    assert replay.seats_offered == 3
    assert [request for _, request, _ in replay.offers] == ["o1", "o2"]
    assert len(replay.offer_anomalies) == 1 and "seat 1 offered by o1 while held (h1)" in (
        replay.offer_anomalies[0]), "an offer may name only free seats"
    assert replay.offer_anomalies[0] in replay.anomalies, "log_replay still flags it"
