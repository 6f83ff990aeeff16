"""The draw's data in Redis: the committed seed, join times, receipts, the public record.

The seed is drawn when the room is first configured and kept in the config
hash (`draw_seed`, never returned to fans), next to its public commitment;
the start script shuffles with it (`waitingroom.scripts`). Join times are
written by the join script, one per sequence number.
"""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from waitingroom.config import RoomConfig
from waitingroom.draw import SEED_BITS, DrawRecord, commitment_of
from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.keys import RoomKeys, check_prefix
from waitingroom.permutation import LineOrder
from waitingroom.queue_tickets import decode_ticket
from waitingroom.receipts import PlaceReceipt, sign_receipt
from waitingroom.status import LineSnapshot
from waitingroom.tokens import AdmissionSigner
from waitingroom.wire import text, text_map, time_text

PUBLISHED_AFTER_PREQUEUE = 1000
"""Join times of this many fans after the pre-queue are published too (to show the cut)."""


def commit_draw_seed(pipe: Pipeline, keys: RoomKeys, now: float) -> None:
    """Queue the writes that fix the room's seed and publish its hash, unless already done."""
    seed = str(secrets.randbits(SEED_BITS))
    pipe.hsetnx(keys.config, "draw_seed", seed)
    pipe.hsetnx(keys.config, "draw_commitment", commitment_of(seed))
    pipe.hsetnx(keys.config, "draw_committed_at", time_text(now))


class DrawStore:
    def __init__(self, redis: aioredis.Redis, prefix: str, signer: AdmissionSigner):
        self._redis = redis
        self._prefix = check_prefix(prefix)
        self._signer = signer

    async def record(self, event_id: int) -> DrawRecord:
        """What the public report is built from; the seed only once the sale has started."""
        keys = RoomKeys(self._prefix, event_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.config)
            pipe.hgetall(keys.state)
            stored_config, stored_state = await pipe.execute()
        if not stored_config:
            raise WaitingRoomError(
                ErrorCode.ROOM_NOT_FOUND,
                "this event has no waiting room",
                {"event_id": event_id},
            )
        config_fields, state = text_map(stored_config), text_map(stored_state)
        line = LineSnapshot.parse(RoomConfig.from_fields(config_fields), state)
        started_at = float(state["started_at"]) if "started_at" in state else None
        size = int(state["prequeue_size"]) if started_at is not None else None
        join_times: dict[int, float] = {}
        if size is not None:
            last = size + PUBLISHED_AFTER_PREQUEUE
            raw = await self._redis.hgetall(keys.joined_at)
            join_times = {
                int(text(seq)): float(text(at)) for seq, at in raw.items() if int(text(seq)) <= last
            }
        committed_at = config_fields.get("draw_committed_at")
        return DrawRecord(
            event_id=event_id,
            mode=line.config.mode.value,
            sale_starts_at=line.config.sale_starts_at,
            commitment=config_fields.get("draw_commitment"),
            committed_at=float(committed_at) if committed_at else None,
            started_at=started_at,
            prequeue_size=size,
            seed=config_fields.get("draw_seed") if started_at is not None else None,
            applied_seed=state.get("seed"),
            join_times=join_times,
        )

    async def places_by_account(self, event_id: int, record: DrawRecord) -> dict[int, int]:
        """account -> place in line of its first join (what the admission order followed)."""
        if record.started_at is None:
            return {}
        raw = await self._redis.hgetall(RoomKeys(self._prefix, event_id).joined_by)
        first_seq: dict[int, int] = {}
        for seq_text, account_text in raw.items():
            seq, account = int(text(seq_text)), int(text(account_text))
            if seq < first_seq.get(account, seq + 1):
                first_seq[account] = seq
        order = LineOrder(
            record.prequeue_size or 0,
            int(record.applied_seed) if record.applied_seed and record.mode == "shuffle" else None,
        )
        return {account: order.place_of(seq) for account, seq in first_seq.items()}

    async def receipt_if_recorded(self, event_id: int, ticket: str) -> str | None:
        """The receipt, or None for a place taken before join times were recorded."""
        try:
            return await self.receipt(event_id, ticket)
        except WaitingRoomError:
            return None

    async def receipt(self, event_id: int, ticket: str) -> str:
        """A signed receipt of the ticket holder's place (position once the order is known)."""
        fan = decode_ticket(self._signer.mac_key, ticket, event_id)
        keys = RoomKeys(self._prefix, event_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.joined_at, str(fan.seq))
            pipe.hgetall(keys.config)
            pipe.hgetall(keys.state)
            joined_at, stored_config, stored_state = await pipe.execute()
        if joined_at is None or not stored_config:
            raise WaitingRoomError(ErrorCode.INVALID_TICKET, "no join is recorded for this ticket")
        config = RoomConfig.from_fields(text_map(stored_config))
        line = LineSnapshot.parse(config, text_map(stored_state))
        return sign_receipt(
            self._signer,
            PlaceReceipt(event_id, fan.seq, float(text(joined_at)), line.place_of(fan.seq)),
        )
