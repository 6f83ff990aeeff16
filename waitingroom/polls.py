"""Status polls of one event answered together: one script call for every poll that arrives
while the event's previous call is in flight.

During a rush each API process gets thousands of polls a second, and most of
the cost of a poll is the round trip itself (the client's work per command,
the script call in Redis), not the fan's O(1) part of it. So polls queue per
event: the first one starts a call at once (no waiting for a batch to fill),
those that arrive meanwhile go out together in the next call, up to
`MAX_POLLS_PER_SCRIPT`. The status script still does each fan's own work
(admitted? still in line? renew the place, with the fan's own `now`) in one
atomic step, and reads the line's progress and the room's config once for all
of them: every answer of a call shows the line as that call left it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from waitingroom.scripts import LuaScript
from waitingroom.wire import fresh_seed, text

MAX_POLLS_PER_SCRIPT = 128
"""Bounds one call's time in Redis (a few microseconds per poll)."""

FanPoll = tuple[Any, Any, Sequence[Any], Sequence[Any]]
"""One poll's answer as the script gives it: fan state word, session expiry (or ''), the
line's progress (`LineProgress.STATE_FIELDS` values) and the room's config hash (flat); the
last two are the same objects for every poll of a call."""

_Queued = tuple[int, str, "asyncio.Future[FanPoll | None]"]


class StatusPolls:
    def __init__(self, redis: aioredis.Redis, script: LuaScript):
        self._redis = redis
        self._script = script
        self._queued: dict[int, list[_Queued]] = {}
        """Per event with a call in flight: the polls for the next call."""
        self._calls: set[asyncio.Task[None]] = set()
        self.script_calls = 0
        self.polls_answered = 0
        """Running totals: their ratio is the number of polls a call answers on average."""

    async def poll(
        self, event_id: int, keys: Sequence[str], seq: int, now_text: str
    ) -> FanPoll | None:
        """Run the fan's part of the status script; None when the event has no room."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[FanPoll | None] = loop.create_future()
        queued = self._queued.get(event_id)
        if queued is not None:
            queued.append((seq, now_text, answer))
        else:
            self._queued[event_id] = [(seq, now_text, answer)]
            calls = loop.create_task(self._serve(event_id, keys))
            self._calls.add(calls)
            calls.add_done_callback(self._calls.discard)
        return await answer

    async def close(self) -> None:
        """Stop serving (at shutdown): polls still waiting are cancelled."""
        for calls in list(self._calls):
            calls.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)

    async def _serve(self, event_id: int, keys: Sequence[str]) -> None:
        """Calls for the event until no poll is left; polls arriving meanwhile join the next."""
        batch: list[_Queued] = []
        try:
            while True:
                queued = self._queued[event_id]
                if not queued:
                    del self._queued[event_id]
                    return
                batch = queued[:MAX_POLLS_PER_SCRIPT]
                self._queued[event_id] = queued[MAX_POLLS_PER_SCRIPT:]
                await self._call(keys, batch)
                batch = []
        except BaseException:
            for *_, answer in batch + self._queued.pop(event_id, []):
                answer.cancel()
            raise

    async def _call(self, keys: Sequence[str], batch: list[_Queued]) -> None:
        args: list[Any] = [fresh_seed()]
        for seq, now_text, _ in batch:
            args.append(seq)
            args.append(now_text)
        self.script_calls += 1
        try:
            reply = await self._script(keys, args)
        except Exception as exc:  # each waiting poll raises it (Redis down: 503 and retry)
            for *_, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        if text(reply[0]) != "ok":
            for *_, answer in batch:
                if not answer.done():
                    answer.set_result(None)
            return
        progress, config, fans = reply[1], reply[2], reply[3]
        self.polls_answered += len(batch)
        for index, (*_, answer) in enumerate(batch):
            if not answer.done():  # a poll whose client went away is just not answered
                answer.set_result((fans[2 * index], fans[2 * index + 1], progress, config))
