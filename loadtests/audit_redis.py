"""What the audit reads from Redis: request and order records, places in the waiting room.

Reads only (SCAN + pipelined HGETALL), scoped to one event's hash tag, so an
audit never changes what it looks at and never touches another event's keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from redis import Redis

from waitingroom.config import RoomConfig
from waitingroom.keys import RoomKeys
from waitingroom.status import LineSnapshot
from waitingroom.wire import text_map
from workers.keys import Keys

SCAN_COUNT = 1000
PIPELINE_CHUNK = 500
FINAL_ORDER_STATES = frozenset({"paid", "declined", "voided", "refunded"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    kind: str
    status: str
    buyer_id: int
    partition: str
    seq: int
    """Place on the partition queue (the enqueue counter)."""
    enqueued_at: float
    decided_at: float | None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    status: str
    buyer_id: int


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """The event's waiting room as Redis holds it now."""

    line: LineSnapshot
    seq_by_account: dict[int, int]

    def place_of(self, seq: int) -> int | None:
        return self.line.place_of(seq)


def _hashes(redis: Redis, pattern: str, skip_suffix: str | None = None
            ) -> Iterator[tuple[str, dict[str, str]]]:
    batch: list[str] = []
    for raw in redis.scan_iter(match=pattern, count=SCAN_COUNT):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        if skip_suffix and key.endswith(skip_suffix):
            continue
        batch.append(key)
        if len(batch) >= PIPELINE_CHUNK:
            yield from _read(redis, batch)
            batch = []
    if batch:
        yield from _read(redis, batch)


def _read(redis: Redis, keys: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        for key, raw in zip(keys, pipe.execute(), strict=True):
            if raw:
                yield key, text_map(raw)


def request_records(redis: Redis, keys: Keys, event_id: int) -> list[RequestRecord]:
    """Every request of the event whose status record still exists (they live a day)."""
    records = []
    for key, fields in _hashes(redis, keys.request_pattern(event_id)):
        request_id = keys.request_id_of(key)
        decided = fields.get("decided_at")
        records.append(RequestRecord(
            request_id=request_id,
            kind=fields.get("kind", ""),
            status=fields.get("status", ""),
            buyer_id=int(fields.get("buyer_id") or 0),
            partition=fields.get("partition", ""),
            seq=int(fields.get("seq") or 0),
            enqueued_at=float(fields.get("enqueued_at") or 0.0),
            decided_at=float(decided) if decided else None,
        ))
    return records


def order_records(redis: Redis, keys: Keys, event_id: int) -> list[OrderRecord]:
    """Every checkout of the event as the fan sees it (statuses set by the payments worker)."""
    pattern = keys.order(f"{event_id}-*")
    return [OrderRecord(order_id=fields.get("order_id") or key.rsplit(":order:", 1)[1],
                        status=fields.get("status", ""),
                        buyer_id=int(fields.get("buyer_id") or 0))
            for key, fields in _hashes(redis, pattern, skip_suffix=":live")]


def room_record(redis: Redis, prefix: str, event_id: int) -> RoomRecord | None:
    """The room's config, line state and places (account -> join number), or None if no room."""
    keys = RoomKeys(prefix, event_id)
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.config)
        pipe.hgetall(keys.state)
        pipe.hgetall(keys.members)
        config, state, members = pipe.execute()
    if not config:
        return None
    line = LineSnapshot.parse(RoomConfig.from_fields(text_map(config)), text_map(state))
    return RoomRecord(line, {int(k): int(v) for k, v in text_map(members).items()})


def merge_places(room: RoomRecord | None, extra: Mapping[int, int] | None) -> dict[int, int]:
    """account -> place in line, from the live members hash and earlier snapshots of it.

    A place leaves the members hash when its session ends (purchase, leave), so
    `onsale surge` snapshots it while the surge runs and passes the union here.
    The first join number seen for an account wins: that is the place it was served from.
    """
    if room is None:
        return {}
    seqs = dict(extra or {})
    for account, seq in room.seq_by_account.items():
        seqs.setdefault(account, seq)
    places = {}
    for account, seq in seqs.items():
        place = room.place_of(seq)
        if place is not None:
            places[account] = place
    return places
