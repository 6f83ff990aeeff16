"""The order of the line: a seeded bijection on [0, n), computed on read.

Shuffling a pre-queue of n fans must not rewrite n records at sale start.
Instead the start stores (n, seed) and every read maps a fan's join sequence
number to a place through a keyed Feistel network over the smallest even
number of bits that covers n, cycle-walking values that fall outside [0, n).
Both directions are O(rounds x walk), the walk averaging under 4 steps (the
domain is at most four times n). Lines of at most `SMALL_LINE` fans, where
a Feistel network over so few bits draws from too few permutations to look
uniform, are shuffled with Fisher-Yates from the same seed instead (a table of
at most 256 entries, built once per (n, seed) and cached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
FEISTEL_ROUNDS = 6
SMALL_LINE = 256


def mix64(value: int) -> int:
    """SplitMix64's finalizer: a fast, well-distributed 64-bit hash (not for secrets)."""
    z = (value + _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _mix(value: int) -> int:
    """The Feistel round function: mix64 without the additive constant (keys are already mixed)."""
    z = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@dataclass(frozen=True, slots=True)
class SeededPermutation:
    """A bijection on [0, size) drawn by `seed`; the same (size, seed) always gives the same one."""

    size: int
    seed: int
    _half_bits: int = field(init=False, repr=False)
    _round_keys: tuple[int, ...] = field(init=False, repr=False)
    _table: tuple[int, ...] = field(init=False, repr=False)
    _inverse_table: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("a permutation needs size >= 1")
        keys: list[int] = []
        state = self.seed & _MASK64
        for _ in range(FEISTEL_ROUNDS):
            state = mix64(state)
            keys.append(state)
        table: list[int] = []
        inverse_table: list[int] = []
        if self.size <= SMALL_LINE:
            table = list(range(self.size))
            for i in range(self.size - 1, 0, -1):
                state = mix64(state)
                j = state % (i + 1)
                table[i], table[j] = table[j], table[i]
            inverse_table = [0] * self.size
            for index, image in enumerate(table):
                inverse_table[image] = index
        object.__setattr__(self, "_half_bits", ((self.size - 1).bit_length() + 1) // 2)
        object.__setattr__(self, "_round_keys", tuple(keys))
        object.__setattr__(self, "_table", tuple(table))
        object.__setattr__(self, "_inverse_table", tuple(inverse_table))

    def forward(self, index: int) -> int:
        self._check(index)
        if self._table:
            return self._table[index]
        value = self._encrypt(index)
        while value >= self.size:
            value = self._encrypt(value)
        return value

    def inverse(self, image: int) -> int:
        self._check(image)
        if self._inverse_table:
            return self._inverse_table[image]
        value = self._decrypt(image)
        while value >= self.size:
            value = self._decrypt(value)
        return value

    def _check(self, value: int) -> None:
        if not 0 <= value < self.size:
            raise ValueError(f"{value} is outside [0, {self.size})")

    def _encrypt(self, value: int) -> int:
        bits = self._half_bits
        mask = (1 << bits) - 1
        shift = 64 - bits
        left, right = value >> bits, value & mask
        for key in self._round_keys:
            left, right = right, left ^ (_mix(right ^ key) >> shift)
        return (left << bits) | right

    def _decrypt(self, value: int) -> int:
        bits = self._half_bits
        mask = (1 << bits) - 1
        shift = 64 - bits
        left, right = value >> bits, value & mask
        for key in reversed(self._round_keys):
            left, right = right ^ (_mix(left ^ key) >> shift), left
        return (left << bits) | right


@lru_cache(maxsize=256)
def seeded_permutation(size: int, seed: int) -> SeededPermutation:
    """A cached instance: a started event's (size, seed) never changes, so reads share one."""
    return SeededPermutation(size, seed)


@dataclass(frozen=True, slots=True)
class LineOrder:
    """Maps join sequence numbers (1-based, from the join counter) to places in line (1-based).

    Before the start nobody has a place in shuffle mode; `prequeue_size` is the
    number of fans who joined before the sale started, `seed` is None in FIFO mode.
    Fans who joined after the start keep their sequence number as their place.
    """

    prequeue_size: int
    seed: int | None

    def place_of(self, seq: int) -> int:
        if self.seed is None or seq > self.prequeue_size:
            return seq
        return 1 + seeded_permutation(self.prequeue_size, self.seed).inverse(seq - 1)

    def seq_at(self, place: int) -> int:
        if self.seed is None or place > self.prequeue_size:
            return place
        return 1 + seeded_permutation(self.prequeue_size, self.seed).forward(place - 1)
