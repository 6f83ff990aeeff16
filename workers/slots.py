"""Redis Cluster hash slots, and RQ job ids that land in a chosen one.

RQ names a job's hash `rq:job:<id>` and allows only letters, digits, `_` and `-` in an id
(`rq.job.validate_job_id`), so a job key cannot carry a `{hash tag}`: its slot is the CRC16
of the whole key. A partition's scripts must touch one slot, so a booking job's id ends
with four characters chosen to put `rq:job:<id>` in the partition's slot. CRC16 (XMODEM,
Redis's) is linear over GF(2), so the suffix is found with two small tables instead of a
search: crc(head + s1 s2 s3 s4) = crc(head + 0000) ^ crc(s1 s2 00) ^ crc(s3 s4).
"""

from __future__ import annotations

from binascii import crc_hqx
from functools import cache

SLOTS = 16384
_SLOT_MASK = SLOTS - 1
SUFFIX_LENGTH = 4
_ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ZEROS = bytes(SUFFIX_LENGTH)


def key_slot(key: str | bytes) -> int:
    """The slot Redis Cluster gives `key` (its hash tag's, when it has a non-empty one)."""
    raw = key.encode() if isinstance(key, str) else key
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1:end]
    return crc_hqx(raw, 0) & _SLOT_MASK


def tag_slot(tag: str) -> int:
    """The slot of every key whose hash tag is `{tag}`."""
    return crc_hqx(tag.encode(), 0) & _SLOT_MASK


@cache
def _tail_table() -> dict[int, bytes]:
    """Low 14 bits of crc(s3 s4) -> s3 s4, for every pair of the alphabet (3,844 pairs)."""
    table: dict[int, bytes] = {}
    for first in _ALPHABET:
        for second in _ALPHABET:
            pair = bytes((first, second))
            table.setdefault(crc_hqx(pair, 0) & _SLOT_MASK, pair)
    return table


@cache
def _head_pairs() -> tuple[tuple[bytes, int], ...]:
    """(s1 s2, low 14 bits of crc(s1 s2 0 0)) for every pair of the alphabet."""
    return tuple((bytes((a, b)), crc_hqx(bytes((a, b, 0, 0)), 0) & _SLOT_MASK)
                 for a in _ALPHABET for b in _ALPHABET)


def steered_suffix(head: bytes, slot: int) -> str:
    """Four characters that, appended to `head`, give a string whose CRC16 slot is `slot`."""
    wanted = (slot ^ crc_hqx(_ZEROS, crc_hqx(head, 0))) & _SLOT_MASK
    tails = _tail_table()
    for pair, crc in _head_pairs():
        tail = tails.get(wanted ^ crc)
        if tail is not None:
            return (pair + tail).decode()
    raise AssertionError(f"no suffix reaches slot {slot}")  # the alphabet covers every slot


def job_id_in_slot(base: str, slot: int, job_key_prefix: str) -> str:
    """`base` plus a suffix such that `job_key_prefix + id` (RQ's job key) is in `slot`."""
    return base + steered_suffix((job_key_prefix + base).encode(), slot)
