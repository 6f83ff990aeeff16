"""Which partition queue serves an event.

Events hash onto a fixed number of partitions (`p0`..`pN-1`); ops may pin a hot
event to a partition of its own (`ev<id>`), which then has its own consumer.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping


def hashed_partition(event_id: int, partitions: int) -> str:
    return f"p{zlib.crc32(str(event_id).encode()) % partitions}"


def pinned_partition(event_id: int) -> str:
    return f"ev{event_id}"


def partition_for(event_id: int, partitions: int, pins: Mapping[int, str]) -> str:
    return pins.get(event_id) or hashed_partition(event_id, partitions)


def all_partitions(partitions: int, pins: Mapping[int, str]) -> list[str]:
    names = [f"p{index}" for index in range(partitions)]
    names.extend(sorted(set(pins.values()) - set(names)))
    return names
