"""Presale rules without a database: who sees which tiers, when a window is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from engine.store.presales import Presale, hidden_tier_codes

START = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
tiers = st.sets(st.sampled_from(["front", "back", "vip", "floor", "box"]), max_size=4)


def presale(presale_id: int, codes: set[str]) -> Presale:
    return Presale(presale_id, 1, "p", START, START + timedelta(hours=1), tuple(sorted(codes)),
                   10, 0)


@given(st.lists(tiers, max_size=4), st.data())
def test_a_tier_is_hidden_exactly_when_no_presale_of_the_account_unlocks_it(
    unlocked: list[set[str]], data: st.DataObject
) -> None:
    presales = [presale(i, codes) for i, codes in enumerate(unlocked)]
    accessible = data.draw(st.sets(st.sampled_from(range(len(presales))))) if presales else set()
    hidden = hidden_tier_codes(presales, accessible)
    for p in presales:
        for code in p.tier_codes:
            mine = any(code in q.tier_codes for q in presales if q.id in accessible)
            assert (code in hidden) is not mine, "a code holder sees the tier, nobody else"


def test_the_window_is_half_open() -> None:
    p = presale(1, {"vip"})
    assert not p.is_open(START - timedelta(seconds=1))
    assert p.is_open(START) and not p.is_open(START + timedelta(hours=1))

