"""Presale code attempts, counted per account and per IP in one-minute windows.

Access codes are 60-bit random strings, so guessing one is hopeless anyway;
the limit keeps a bot from even trying at scale, and says when to come back.
One Lua script on one key of the event's hash slot: count, then judge.
"""

from __future__ import annotations

import math

import redis.asyncio as aioredis

from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.keys import JOIN_WINDOW_SECONDS, RoomKeys, check_prefix
from waitingroom.scripts import LuaScript
from waitingroom.wire import text

CODE_ATTEMPTS_PER_ACCOUNT_PER_MINUTE = 10
CODE_ATTEMPTS_PER_IP_PER_MINUTE = 30

# KEYS: code_guesses   ARGV: account, ip or '', account limit, ip limit, ttl seconds
COUNT_CODE_ATTEMPT = """
local from_account = redis.call('HINCRBY', KEYS[1], 'a:' .. ARGV[1], 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
if from_account > tonumber(ARGV[3]) then return 'account' end
if ARGV[2] ~= '' then
  if redis.call('HINCRBY', KEYS[1], 'i:' .. ARGV[2], 1) > tonumber(ARGV[4]) then return 'ip' end
end
return 'ok'
"""


class CodeAttempts:
    def __init__(self, redis: aioredis.Redis, prefix: str):
        self._redis = redis
        self._prefix = check_prefix(prefix)
        self._script = LuaScript(redis, COUNT_CODE_ATTEMPT)

    async def count(self, event_id: int, account_id: int, ip: str | None, now: float) -> None:
        """Count one attempt; raise `rate_limited` (scope, retry_after) past either limit."""
        window_end = (now // JOIN_WINDOW_SECONDS + 1) * JOIN_WINDOW_SECONDS
        verdict = await self._script(
            [RoomKeys(self._prefix, event_id).code_guesses(now)],
            [
                str(account_id),
                ip or "",
                CODE_ATTEMPTS_PER_ACCOUNT_PER_MINUTE,
                CODE_ATTEMPTS_PER_IP_PER_MINUTE,
                int(window_end - now) + 5,
            ],
        )
        scope = text(verdict)
        if scope != "ok":
            raise WaitingRoomError(
                ErrorCode.RATE_LIMITED,
                "too many presale code attempts, try again later",
                {"scope": scope, "retry_after": max(1, math.ceil(window_end - now))},
            )
