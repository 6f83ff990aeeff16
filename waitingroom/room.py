"""The waiting room as the API uses it: join, poll, leave, check admission.

Every fan-facing call is one Lua script (one round trip, atomic); the rules
about what to tell the fan live in the pure modules. Time comes in as `now`
(epoch seconds) so the whole room can be driven on simulated time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from waitingroom.config import RoomConfig
from waitingroom.draw_store import commit_draw_seed
from waitingroom.errors import ErrorCode, WaitingRoomError, not_admitted
from waitingroom.intents import FanIntent
from waitingroom.keys import JOIN_WINDOW_SECONDS, RoomKeys, check_prefix, events_registry
from waitingroom.polls import StatusPolls
from waitingroom.pow import PowSolution, issue_challenge, verify_solution
from waitingroom.queue_tickets import QueueTicket, decode_ticket, encode_ticket
from waitingroom.scripts import RoomScripts
from waitingroom.status import (
    FanState,
    JoinResult,
    LineProgress,
    LineSnapshot,
    QueueStatus,
    QueueSummary,
    build_status,
)
from waitingroom.tokens import AdmissionClaims, AdmissionSigner, parse_jti, session_jti
from waitingroom.wire import fresh_seed, pairs, text, text_map, time_text

MAX_CACHED_EVENTS = 1024
"""Bounds the per-process parse caches (they are cleared when full)."""
_FAN_STATES: dict[Any, FanState] = {
    **{state.value: state for state in FanState},
    **{state.value.encode(): state for state in FanState},
}
"""A script's fan state word (bytes, or str with decode_responses) to the enum."""


class WaitingRoom:
    def __init__(self, redis: aioredis.Redis, prefix: str, signer: AdmissionSigner):
        self._redis = redis
        self._prefix = check_prefix(prefix)
        self._signer = signer
        self._scripts = RoomScripts.register(redis)
        self._polls = StatusPolls(redis, self._scripts.queue_status)
        self._parsed_configs: dict[tuple[Any, ...], RoomConfig] = {}
        self._parsed_progress: dict[tuple[Any, ...], LineProgress] = {}
        self._status_key_lists: dict[int, list[str]] = {}
        self._issued_tokens: dict[tuple[int, int, str], str] = {}

    @property
    def signer(self) -> AdmissionSigner:
        return self._signer

    @property
    def polls(self) -> StatusPolls:
        return self._polls

    async def close(self) -> None:
        """Stop answering polls (at shutdown); polls still waiting are cancelled."""
        await self._polls.close()

    def keys(self, event_id: int) -> RoomKeys:
        return RoomKeys(self._prefix, event_id)

    # ops

    async def configure(
        self,
        event_id: int,
        config: RoomConfig,
        pipeline: Pipeline | None = None,
        now: float | None = None,
    ) -> None:
        """Create or change the room; live fans and the controller see it on their next call.

        The first configuration also commits the room to its shuffle seed
        (`waitingroom.draw_store.commit_draw_seed`); later ones keep it.

        With `pipeline` the config write is only queued on it (e.g. in one MULTI with
        an audit record) and the caller executes it. The event joins the registry of rooms
        at once, on its own: that set is in no event's hash slot, so it cannot be in the
        caller's MULTI on Redis Cluster (a registered event without a config is skipped).
        """
        keys = self.keys(event_id)
        committed_at = time.time() if now is None else now
        if pipeline is not None:
            await self._redis.sadd(events_registry(self._prefix), str(event_id))
            pipeline.hset(keys.config, mapping=config.to_fields())  # type: ignore[arg-type]
            commit_draw_seed(pipeline, keys, committed_at)
            return
        # Queued inside `async with`: entering a cluster pipeline starts it afresh.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.config, mapping=config.to_fields())  # type: ignore[arg-type]
            commit_draw_seed(pipe, keys, committed_at)
            pipe.sadd(events_registry(self._prefix), str(event_id))
            await pipe.execute()

    async def get_config(self, event_id: int) -> RoomConfig | None:
        stored = text_map(await self._redis.hgetall(self.keys(event_id).config))
        return RoomConfig.from_fields(stored) if stored else None

    async def configured_event_ids(self) -> list[int]:
        """Events with a room: what an admission controller process steps."""
        members = await self._redis.smembers(events_registry(self._prefix))
        return sorted(int(text(m)) for m in members)

    async def delete_room(self, event_id: int, pipeline: Pipeline | None = None) -> None:
        """Drop every key of the event's room (join-attempt windows expire on their own)."""
        keys = self.keys(event_id)
        if pipeline is not None:  # the caller's MULTI holds the event's slot only
            pipeline.delete(*keys.all_fixed())
            await self._redis.srem(events_registry(self._prefix), str(event_id))
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(*keys.all_fixed())
            pipe.srem(events_registry(self._prefix), str(event_id))
            await pipe.execute()

    async def seed_stock(self, event_id: int, tickets_left: int) -> bool:
        """Give the line a first tickets-left figure (counted from the database) until the
        event's partition publishes its own: before the first booking the partition has not
        loaded the event, and the line would show no stock. Written only when the state has
        no figure yet (HSETNX), so it never overwrites the partition's, which is always newer
        (the partition writes its figure when it loads the event and with every batch)."""
        written = await self._redis.hsetnx(
            self.keys(event_id).state, "tickets_left", str(max(0, tickets_left)))
        return bool(written)

    async def summary(self, event_id: int, now: float) -> QueueSummary:
        keys = self.keys(event_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.config)
            pipe.hgetall(keys.state)
            pipe.hlen(keys.seen)
            pipe.zcount(keys.sessions, f"({now!r}", "+inf")
            stored_config, stored_state, waiting, active = await pipe.execute()
        if not stored_config:
            raise _room_not_found(event_id)
        line = LineSnapshot.parse(
            RoomConfig.from_fields(text_map(stored_config)), text_map(stored_state)
        )
        config = line.config
        return QueueSummary(
            event_id=event_id,
            serving_position=line.serving_position,
            joined=line.joined,
            waiting=int(waiting),
            active_sessions=int(active),
            measured_per_second=line.rate.per_second,
            new_users_per_minute=config.new_users_per_minute,
            max_active_users=config.max_active_users,
            paused=config.paused,
            started=line.started,
            opens_at=config.opens_at,
            sale_starts_at=config.sale_starts_at,
            admitted_total=line.admitted_total,
            skipped_total=line.skipped_total,
            stock=line.stock,
        )

    # fans

    def pow_challenge_for(
        self, event_id: int, user_id: int, difficulty_bits: int, now: float
    ) -> dict[str, Any]:
        return issue_challenge(
            self._signer.mac_key, event_id, user_id, difficulty_bits, now
        ).to_json()

    async def join(
        self,
        event_id: int,
        user_id: int,
        now: float,
        ip: str | None = None,
        pow_solution: PowSolution | None = None,
    ) -> JoinResult:
        """A place in line for the account; the same place again while it is still held.

        A place lost (walked away, left, session over) is replaced by a new one
        at the back. Refusals: `rate_limited` (details: scope, retry_after),
        `queue_closed` (before opens_at), `pow_required` (details: the challenge
        to solve), `pow_invalid`, `room_not_found`.
        """
        proven = -1
        if pow_solution is not None:
            proven = verify_solution(self._signer.mac_key, event_id, user_id, pow_solution, now)
        keys = self.keys(event_id)
        window_end = (now // JOIN_WINDOW_SECONDS + 1) * JOIN_WINDOW_SECONDS
        reply = await self._scripts.join_queue(
            keys=[
                keys.config,
                keys.state,
                keys.members,
                keys.seen,
                keys.sessions,
                keys.join_attempts(now),
                keys.joined_at,
                keys.joined_by,
            ],
            args=[
                str(user_id),
                ip or "",
                time_text(now),
                fresh_seed(),
                proven,
                int(window_end - now) + 5,
            ],
        )
        verdict = text(reply[0])
        if verdict == "rate_limited":
            retry_after = max(1, math.ceil(window_end - now))
            raise WaitingRoomError(
                ErrorCode.RATE_LIMITED,
                "too many attempts to join, try again later",
                {"scope": text(reply[1]), "retry_after": retry_after},
            )
        if verdict == "queue_closed":
            opens_at = float(text(reply[1]))
            raise WaitingRoomError(
                ErrorCode.QUEUE_CLOSED, "the queue is not open yet", {"opens_at": opens_at}
            )
        if verdict == "pow_required":
            difficulty = int(text(reply[1]))
            raise WaitingRoomError(
                ErrorCode.POW_REQUIRED,
                "solve the proof-of-work challenge to join",
                self.pow_challenge_for(event_id, user_id, difficulty, now),
            )
        if verdict != "ok":
            raise _room_not_found(event_id)
        seq = int(text(reply[2]))
        ticket = encode_ticket(self._signer.mac_key, QueueTicket(event_id, user_id, seq))
        status = self._status_from_reply(event_id, user_id, reply, now)
        return JoinResult(ticket=ticket, created=text(reply[4]) == "1", status=status)

    async def status(self, event_id: int, ticket: str, now: float) -> QueueStatus:
        """Where the ticket's holder stands; also counts as the poll that keeps the place.

        Polls of the event arriving together share one script call (`waitingroom.polls`).
        """
        fan = decode_ticket(self._signer.mac_key, ticket, event_id)
        polled = await self._polls.poll(
            event_id, self._status_keys(event_id), fan.seq, time_text(now)
        )
        if polled is None:
            raise _room_not_found(event_id)
        state, session_expiry, progress, config, hold_request = polled
        return self._answer(
            event_id,
            fan.user_id,
            fan.seq,
            self._config_from(config),
            self._progress_from(progress),
            _FAN_STATES[state],
            session_expiry,
            now,
            text(hold_request) or None,
        )

    async def leave(self, event_id: int, ticket: str) -> bool:
        """Give the place (or the admitted session) up; True if there was one."""
        fan = decode_ticket(self._signer.mac_key, ticket, event_id)
        keys = self.keys(event_id)
        removed = await self._scripts.leave_queue(
            keys=[keys.members, keys.seen, keys.sessions, keys.intents],
            args=[str(fan.user_id), str(fan.seq)],
        )
        return int(removed) > 0

    async def set_intent(
        self, event_id: int, ticket: str, hold_params: Mapping[str, Any], now: float
    ) -> FanIntent:
        """Record what the ticket's holder wants held at their turn (`hold_params`: the
        booking pipeline's best-available params, validated by the caller). Refused with
        409 `not_waiting` once the fan is admitted or has lost the place."""
        fan = decode_ticket(self._signer.mac_key, ticket, event_id)
        intent = FanIntent(fan.user_id, dict(hold_params), None)
        reply = await self._intent_script(event_id, fan.seq, intent.to_stored(), now)
        return FanIntent.from_stored(reply[2], None) if reply[2] else intent

    async def get_intent(self, event_id: int, ticket: str, now: float) -> FanIntent | None:
        fan = decode_ticket(self._signer.mac_key, ticket, event_id)
        reply = await self._intent_script(event_id, fan.seq, "", now)
        stored, request = text(reply[2]), text(reply[3])
        return FanIntent.from_stored(stored, request or None) if stored else None

    async def _intent_script(self, event_id: int, seq: int, stored: str, now: float) -> Any:
        keys = self.keys(event_id)
        reply = await self._scripts.set_intent(
            keys=[keys.config, keys.seen, keys.sessions, keys.intents],
            args=[str(seq), stored, time_text(now)],
        )
        verdict = text(reply[0])
        if verdict == "not_waiting":
            raise WaitingRoomError(
                ErrorCode.NOT_WAITING,
                "an intent can be stated only while waiting in line",
                {"state": text(reply[1])},
            )
        if verdict != "ok":
            raise _room_not_found(event_id)
        return reply

    async def end_session(self, event_id: int, user_id: int) -> bool:
        """Close the account's admitted session (purchase done): its token stops working."""
        keys = self.keys(event_id)
        ended = await self._scripts.end_session(
            keys=[keys.members, keys.sessions], args=[str(user_id)]
        )
        return int(ended) == 1

    async def is_session_active(self, event_id: int, jti: str, now: float | None = None) -> bool:
        parsed = parse_jti(jti)
        if parsed is None:
            return False
        seq, expires_ms = parsed
        score = await self._redis.zscore(self.keys(event_id).sessions, str(seq))
        if score is None or round(score * 1000) != expires_ms:
            return False
        return now is None or score > now

    async def check_admission(
        self, event_id: int, token: str | None, now: float
    ) -> AdmissionClaims:
        """What booking endpoints call: a genuine token for this event whose session is still open.

        Raises `not_admitted` (details.reason: missing, invalid, expired,
        wrong_event, session_ended). The caller must also check that
        `claims.user_id` is the authenticated account.
        """
        claims = self._signer.verify(token, event_id=event_id, now=now)
        if not await self.is_session_active(event_id, claims.jti, now):
            raise not_admitted("session_ended", "the admitted session is over")
        return claims

    def _status_from_reply(
        self, event_id: int, user_id: int, reply: Sequence[Any], now: float
    ) -> QueueStatus:
        """The status in a join's reply (the join script returns the whole line snapshot)."""
        line = LineSnapshot.parse(self._config_from(reply[6]), pairs(reply[5]))
        return self._answer(
            event_id,
            user_id,
            int(text(reply[2])),
            line.config,
            line.progress,
            _FAN_STATES[reply[1]],
            reply[3],
            now,
        )

    def _answer(
        self,
        event_id: int,
        user_id: int,
        seq: int,
        config: RoomConfig,
        line: LineProgress,
        state: FanState,
        session_expiry: Any,
        now: float,
        hold_request_id: str | None = None,
    ) -> QueueStatus:
        token: str | None = None
        expires_at: float | None = None
        if state is FanState.ADMITTED:
            expires_at = float(text(session_expiry))
            place = line.place_of(seq, config.mode)
            token = self._admission_token(
                event_id, user_id, place if place is not None else seq, seq, expires_at
            )
        return build_status(
            event_id,
            config,
            line,
            seq=seq,
            state=state,
            now=now,
            admission_token=token,
            admission_expires_at=expires_at,
            hold_request_id=hold_request_id,
        )

    def _status_keys(self, event_id: int) -> list[str]:
        keys = self._status_key_lists.get(event_id)
        if keys is None:
            if len(self._status_key_lists) >= MAX_CACHED_EVENTS:
                self._status_key_lists.clear()
            room = self.keys(event_id)
            keys = [room.config, room.state, room.seen, room.sessions, room.intents]
            self._status_key_lists[event_id] = keys
        return keys

    def _progress_from(self, fields: Sequence[Any]) -> LineProgress:
        """Parse the line's progress once per distinct value: it changes a few times a second,
        while every poll of the event carries it."""
        cache_key = tuple(fields)
        line = self._parsed_progress.get(cache_key)
        if line is None:
            if len(self._parsed_progress) >= MAX_CACHED_EVENTS:
                self._parsed_progress.clear()
            line = LineProgress.from_state_fields(
                [None if value is None else text(value) for value in fields]
            )
            self._parsed_progress[cache_key] = line
        return line

    def _admission_token(
        self, event_id: int, user_id: int, position: int, seq: int, expires_at: float
    ) -> str:
        """Sign once per session: a reload after admission gets the same token for free."""
        jti = session_jti(seq, expires_at)
        cache_key = (event_id, user_id, jti)
        token = self._issued_tokens.get(cache_key)
        if token is None:
            if len(self._issued_tokens) >= 4096:
                self._issued_tokens.clear()
            token = self._signer.issue(
                event_id=event_id,
                user_id=user_id,
                position=position,
                jti=jti,
                expires_at=expires_at,
            )
            self._issued_tokens[cache_key] = token
        return token

    def _config_from(self, flat: Sequence[Any]) -> RoomConfig:
        """Parse the config hash once per distinct content: every status poll carries it."""
        cache_key = tuple(flat)
        config = self._parsed_configs.get(cache_key)
        if config is None:
            if len(self._parsed_configs) >= 256:
                self._parsed_configs.clear()
            config = RoomConfig.from_fields(pairs(flat))
            self._parsed_configs[cache_key] = config
        return config


def _room_not_found(event_id: int) -> WaitingRoomError:
    return WaitingRoomError(
        ErrorCode.ROOM_NOT_FOUND, "this event has no waiting room", {"event_id": event_id}
    )
