"""What the surge's waiting-list and presale fans decide (pure, no Locust).

Invariants: a fan on the waiting list acts on an offer only when one stands (an `offered`
entry with its hold), stops when the entry has ended, and keeps waiting on any other status,
including ones this journey does not know yet; a mistyped code differs from the real one in
exactly one character of the printed alphabet.
"""

from __future__ import annotations

import random

from loadtests.journeys.choices import CODE_ALPHABET, ListStep, mistyped_code, waiting_list_step


def test_a_fan_on_the_list_buys_only_a_standing_offer_and_waits_on_unknown_statuses() -> None:
    assert waiting_list_step({"status": "offered", "hold_id": "h1"}) is ListStep.OFFER
    assert waiting_list_step({"status": "offered", "hold_id": None}) is ListStep.WAIT
    for ended in ("taken", "lapsed", "left"):
        assert waiting_list_step({"status": ended, "hold_id": "h1"}) is ListStep.DONE
    for waiting in ("waiting", "offering", "standing", "some_future_status", None):
        assert waiting_list_step({"status": waiting}) is ListStep.WAIT, waiting


def test_a_mistyped_code_differs_in_one_character_of_the_alphabet() -> None:
    rng = random.Random(3)
    code = "ABCDEFGHJKLM"
    for _ in range(200):
        typo = mistyped_code(code, rng)
        assert len(typo) == len(code) and typo != code
        assert sum(a != b for a, b in zip(typo, code, strict=True)) == 1
        assert set(typo) <= set(CODE_ALPHABET)
