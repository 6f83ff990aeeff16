"""The shuffled pre-queue: a seeded bijection, stable across reads, uniform over seeds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waitingroom.permutation import SMALL_LINE, LineOrder, SeededPermutation

# Chi-square critical values at p = 0.001 (the seed sets are fixed, so these tests
# are deterministic; the threshold only says how lopsided a pass may look).
CHI2_CRITICAL_P001 = {9: 27.877, 15: 37.697}

sizes = st.integers(min_value=1, max_value=1000)
seeds = st.integers(min_value=0, max_value=2**63 - 1)


@settings(max_examples=30, deadline=None)
@given(size=sizes, seed=seeds)
def test_permutation_is_a_bijection_on_its_range(size: int, seed: int) -> None:
    permutation = SeededPermutation(size, seed)
    images = [permutation.forward(i) for i in range(size)]
    assert sorted(images) == list(range(size)), "every place is taken exactly once"
    assert [permutation.inverse(j) for j in images] == list(range(size))


@settings(max_examples=100, deadline=None)
@given(size=st.integers(min_value=1, max_value=10**9), seed=seeds, data=st.data())
def test_inverse_undoes_forward_for_huge_lines(size: int, seed: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    permutation = SeededPermutation(size, seed)
    image = permutation.forward(index)
    assert 0 <= image < size
    assert permutation.inverse(image) == index


@settings(max_examples=50, deadline=None)
@given(size=sizes, seed=seeds, data=st.data())
def test_same_seed_same_order_on_every_read(size: int, seed: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first, second = SeededPermutation(size, seed), SeededPermutation(size, seed)
    assert first.forward(index) == second.forward(index) == first.forward(index)


def test_different_seeds_give_different_orders() -> None:
    orders = {
        tuple(SeededPermutation(50, seed).forward(i) for i in range(50)) for seed in range(20)
    }
    assert len(orders) == 20


def _chi_square(counts: list[int]) -> float:
    expected = sum(counts) / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


def test_a_fans_place_is_uniform_across_seeds_tiny_line() -> None:
    size, trials = 16, 1600
    for fan in (0, 9, 15):
        counts = [0] * size
        for seed in range(trials):
            counts[SeededPermutation(size, seed).inverse(fan)] += 1
        statistic = _chi_square(counts)
        assert statistic < CHI2_CRITICAL_P001[size - 1], (
            f"place of fan {fan} is not uniform over seeds: chi2={statistic:.1f}, {counts}"
        )


def test_a_fans_place_is_uniform_across_seeds_large_line() -> None:
    size, trials, buckets = 100_000, 2000, 10
    counts = [0] * buckets
    for seed in range(trials):
        counts[SeededPermutation(size, seed).inverse(12_345) * buckets // size] += 1
    statistic = _chi_square(counts)
    assert statistic < CHI2_CRITICAL_P001[buckets - 1], f"chi2={statistic:.1f}, {counts}"


def test_a_fans_place_is_uniform_just_above_the_small_line_cutoff() -> None:
    size, trials, buckets = SMALL_LINE + 44, 1600, 10
    counts = [0] * buckets
    for seed in range(trials):
        counts[SeededPermutation(size, seed).inverse(7) * buckets // size] += 1
    statistic = _chi_square(counts)
    assert statistic < CHI2_CRITICAL_P001[buckets - 1], f"chi2={statistic:.1f}, {counts}"


def test_three_neighbours_end_up_in_every_relative_order_evenly() -> None:
    """Joint behaviour of the Feistel path: fans who joined together are not kept together."""
    size, trials = 1000, 1800
    counts: dict[tuple[int, ...], int] = {}
    for seed in range(trials):
        permutation = SeededPermutation(size, seed)
        places = [permutation.inverse(fan) for fan in (500, 501, 502)]
        ranking = tuple(sorted(range(3), key=places.__getitem__))
        counts[ranking] = counts.get(ranking, 0) + 1
    assert len(counts) == 6
    statistic = _chi_square(list(counts.values()))
    assert statistic < 20.515, f"chi2={statistic:.1f} over 5 degrees of freedom"


def test_fifo_line_order_is_arrival_order() -> None:
    order = LineOrder(prequeue_size=10, seed=None)
    assert [order.place_of(s) for s in range(1, 15)] == list(range(1, 15))
    assert [order.seq_at(p) for p in range(1, 15)] == list(range(1, 15))


@settings(max_examples=30, deadline=None)
@given(prequeue=st.integers(min_value=1, max_value=400), seed=seeds, late=st.integers(0, 50))
def test_shuffled_line_permutes_the_prequeue_and_queues_late_arrivals_behind(
    prequeue: int, seed: int, late: int
) -> None:
    order = LineOrder(prequeue_size=prequeue, seed=seed)
    places = [order.place_of(s) for s in range(1, prequeue + late + 1)]
    assert sorted(places[:prequeue]) == list(range(1, prequeue + 1))
    assert places[prequeue:] == list(range(prequeue + 1, prequeue + late + 1))
    assert all(order.seq_at(order.place_of(s)) == s for s in range(1, prequeue + late + 1))


def test_every_order_of_a_tiny_line_is_equally_likely() -> None:
    """The whole permutation (small-line path): all 24 orders of 4 fans appear evenly."""
    trials = 4800
    counts: dict[tuple[int, ...], int] = {}
    for seed in range(trials):
        permutation = SeededPermutation(4, seed)
        order = tuple(permutation.forward(i) for i in range(4))
        counts[order] = counts.get(order, 0) + 1
    assert len(counts) == 24
    statistic = _chi_square(list(counts.values()))
    assert statistic < 49.728, f"chi2={statistic:.1f} over 23 degrees of freedom"
