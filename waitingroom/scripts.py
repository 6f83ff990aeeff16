"""The waiting room's atomic Redis steps, one named Lua script each.

Times travel as decimal strings of epoch seconds (`now` is always an argument,
never Redis' clock, so tests can simulate time); numbers going back to Python
are strings too, because Redis truncates Lua numbers to integers in replies.
Replies start with a status word: "ok" or the refusal ("rate_limited", ...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from waitingroom.status import LineProgress

_START_IF_DUE = """
local function start_if_due(config_key, state_key, now, now_text, seed)
  if redis.call('HEXISTS', state_key, 'started_at') == 1 then return end
  local starts = redis.call('HGET', config_key, 'sale_starts_at')
  if not starts or now < tonumber(starts) then return end
  local joined = redis.call('HGET', state_key, 'joined') or '0'
  redis.call('HSET', state_key, 'started_at', now_text, 'prequeue_size', joined)
  if redis.call('HGET', config_key, 'mode') == 'shuffle' then
    seed = redis.call('HGET', config_key, 'draw_seed') or seed
    redis.call('HSET', state_key, 'seed', seed)
  end
end
"""

_FAN_STATE = """
local function fan_state(seen_key, sessions_key, seq, now, now_text, expiry)
  local session = redis.call('ZSCORE', sessions_key, seq)
  if session and tonumber(session) > now then return 'admitted', session end
  local seen = redis.call('HGET', seen_key, seq)
  if seen then
    if now - tonumber(seen) <= expiry then
      if now > tonumber(seen) then redis.call('HSET', seen_key, seq, now_text) end
      return 'waiting', ''
    end
    redis.call('HDEL', seen_key, seq)
  end
  return 'expired', ''
end
"""

# KEYS: config state members seen sessions join_attempts joined_at joined_by
# ARGV: account, ip or '', now, seed, proven pow bits (-1 none), join window ttl
JOIN_QUEUE = (
    _START_IF_DUE
    + _FAN_STATE
    + """
local now_text = ARGV[3]
local now = tonumber(now_text)
if redis.call('EXISTS', KEYS[1]) == 0 then return {'room_not_found'} end
local cfg = redis.call('HMGET', KEYS[1], 'opens_at', 'join_limit_per_account_per_minute',
  'join_limit_per_ip_per_minute', 'pow_difficulty_bits', 'position_expiry_seconds')
local attempts = redis.call('HINCRBY', KEYS[6], 'a:' .. ARGV[1], 1)
if redis.call('TTL', KEYS[6]) < 0 then redis.call('EXPIRE', KEYS[6], ARGV[6]) end
if attempts > tonumber(cfg[2]) then return {'rate_limited', 'account'} end
if ARGV[2] ~= '' then
  local from_ip = redis.call('HINCRBY', KEYS[6], 'i:' .. ARGV[2], 1)
  if from_ip > tonumber(cfg[3]) then return {'rate_limited', 'ip'} end
end
if now < tonumber(cfg[1]) then return {'queue_closed', cfg[1]} end
start_if_due(KEYS[1], KEYS[2], now, now_text, ARGV[4])
local seq = redis.call('HGET', KEYS[3], ARGV[1])
if seq then
  local state, session = fan_state(KEYS[4], KEYS[5], seq, now, now_text, tonumber(cfg[5]))
  if state ~= 'expired' then
    return {'ok', state, seq, session, '0',
      redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[1])}
  end
end
local difficulty = tonumber(cfg[4])
if difficulty > 0 and difficulty > tonumber(ARGV[5]) then return {'pow_required', cfg[4]} end
seq = tostring(redis.call('HINCRBY', KEYS[2], 'joined', 1))
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('HSET', KEYS[4], seq, now_text)
redis.call('HSET', KEYS[7], seq, now_text)
redis.call('HSET', KEYS[8], seq, ARGV[1])
return {'ok', 'waiting', seq, '', '1', redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: config state seen sessions intents
# ARGV: seed, then seq and now of each poll (see waitingroom.polls)
# Replies {'ok', {the state hash's LineProgress.STATE_FIELDS}, the config hash (flat),
# {fan state, session expiry or '', intent hold request id or '', ... per poll}}: the
# event-wide part once.
QUEUE_STATUS = (
    _START_IF_DUE
    + _FAN_STATE
    + """
local expiry = redis.call('HGET', KEYS[1], 'position_expiry_seconds')
if not expiry then return {'room_not_found'} end
expiry = tonumber(expiry)
local fans = {}
for i = 2, #ARGV, 2 do
  local now_text = ARGV[i + 1]
  local now = tonumber(now_text)
  start_if_due(KEYS[1], KEYS[2], now, now_text, ARGV[1])
  local state, session = fan_state(KEYS[3], KEYS[4], ARGV[i], now, now_text, expiry)
  fans[#fans + 1] = state
  fans[#fans + 1] = session
  local hold_request = false
  if state == 'admitted' then hold_request = redis.call('HGET', KEYS[5], 'r:' .. ARGV[i]) end
  fans[#fans + 1] = hold_request or ''
end
return {'ok', redis.call('HMGET', KEYS[2], """
    + ", ".join(f"'{name}'" for name in LineProgress.STATE_FIELDS)
    + """), redis.call('HGETALL', KEYS[1]), fans}
"""
)

# KEYS: members seen sessions intents
# ARGV: account, seq
# A fan who leaves takes their intent along: it is never acted on after they left.
LEAVE_QUEUE = """
local waiting = redis.call('HDEL', KEYS[2], ARGV[2])
local admitted = redis.call('ZREM', KEYS[3], ARGV[2])
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HDEL', KEYS[4], ARGV[2], 'r:' .. ARGV[2])
return waiting + admitted
"""

# KEYS: config seen sessions intents
# ARGV: seq, intent JSON ('' reads it), now
# Only a fan still waiting may state or change an intent: at admission it is acted on.
SET_INTENT = (
    _FAN_STATE
    + """
local expiry = redis.call('HGET', KEYS[1], 'position_expiry_seconds')
if not expiry then return {'room_not_found'} end
local state = fan_state(KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[3]), ARGV[3], tonumber(expiry))
if ARGV[2] == '' then
  return {'ok', state, redis.call('HGET', KEYS[4], ARGV[1]) or '',
    redis.call('HGET', KEYS[4], 'r:' .. ARGV[1]) or ''}
end
if state ~= 'waiting' then return {'not_waiting', state} end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return {'ok', state, ARGV[2], ''}
"""
)

# KEYS: members sessions
# ARGV: account
END_SESSION = """
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then return 0 end
local ended = redis.call('ZREM', KEYS[2], seq)
if ended == 1 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return ended
"""

# KEYS: lease config state sessions
# ARGV: owner, lease ms, now, seed
CONTROLLER_PREPARE = (
    _START_IF_DUE
    + """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif holder then
  return {'lease_held', holder}
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'room_not_found'} end
local now_text = ARGV[3]
start_if_due(KEYS[2], KEYS[3], tonumber(now_text), now_text, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now_text)
return {'ok', tostring(redis.call('ZCARD', KEYS[4])), redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[2])}
"""
)

# KEYS: lease state seen sessions intents
# ARGV: owner, expected serving, now, budget, session expiry, position expiry,
#       credit, max carry, rate ('' unknown), rate mark at, rate mark serving,
#       n (places given), then n seqs, then n hold request ids ('' names none)
# Walks the given seqs (the fans at places serving+1, serving+2, ...): a fan who
# polled within the position expiry is admitted while budget lasts, any other
# place is skipped for free. Stops at the first live fan beyond the budget.
CONTROLLER_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lease_lost'} end
local serving = tonumber(redis.call('HGET', KEYS[2], 'serving') or '0')
if serving ~= tonumber(ARGV[2]) then return {'conflict', tostring(serving)} end
local now = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local expiry = tonumber(ARGV[6])
local admitted, skipped = 0, 0
local intents = {}
local places = tonumber(ARGV[12])
for i = 13, 12 + places do
  local seq = ARGV[i]
  local seen = redis.call('HGET', KEYS[3], seq)
  if seen and now - tonumber(seen) <= expiry then
    if admitted >= budget then break end
    redis.call('HDEL', KEYS[3], seq)
    redis.call('ZADD', KEYS[4], ARGV[5], seq)
    admitted = admitted + 1
    local request_id = ARGV[i + places]
    local intent = request_id ~= '' and redis.call('HGET', KEYS[5], seq)
    if intent then
      -- the fan's hold request, named now so the fan's next poll can follow it
      redis.call('HSET', KEYS[5], 'r:' .. seq, request_id)
      intents[#intents + 1] = seq
      intents[#intents + 1] = request_id
      intents[#intents + 1] = intent
    end
  else
    if seen then redis.call('HDEL', KEYS[3], seq) end
    redis.call('HDEL', KEYS[5], seq)  -- a place passed over takes its intent along
    skipped = skipped + 1
  end
  serving = serving + 1
end
-- same rule as waitingroom.rate.carry_after
local carry = math.max(0, math.min(tonumber(ARGV[7]) - admitted, tonumber(ARGV[8])))
redis.call('HSET', KEYS[2], 'serving', serving, 'credit', carry, 'credit_at', ARGV[3],
  'rate_mark_at', ARGV[10], 'rate_mark_serving', ARGV[11])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'rate', ARGV[9]) end
if admitted > 0 then redis.call('HINCRBY', KEYS[2], 'admitted_total', admitted) end
if skipped > 0 then redis.call('HINCRBY', KEYS[2], 'skipped_total', skipped) end
return {'ok', admitted, skipped, serving, intents}
"""

# KEYS: lease   ARGV: owner
CONTROLLER_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LuaScript:
    """One Lua script on one asyncio client: EVALSHA, and EVAL when the node lacks it.

    A node lacks it after a restart or a flush, and after a cluster failover: the promoted
    replica never had it (SCRIPT LOAD is not replicated), and redis-py's own script object
    loads it on the nodes it knew before and fails again. EVAL goes where the keys are and
    leaves the script cached there. Cheaper per call than redis-py's object, which checks
    for pipelines on every call: the status poll runs thousands of times a second."""

    __slots__ = ("_redis", "sha", "source")

    def __init__(self, redis: aioredis.Redis, source: str):
        self._redis = redis
        self.source = source
        # EVALSHA names a script by its SHA-1: an identifier, not a security use
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self._redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._redis.eval(self.source, len(keys), *keys, *args)


@dataclass(frozen=True, slots=True)
class RoomScripts:
    """The scripts of one client."""

    join_queue: LuaScript
    queue_status: LuaScript
    leave_queue: LuaScript
    set_intent: LuaScript
    end_session: LuaScript
    controller_prepare: LuaScript
    controller_advance: LuaScript
    controller_release: LuaScript

    @classmethod
    def register(cls, redis: aioredis.Redis) -> RoomScripts:
        return cls(
            join_queue=LuaScript(redis, JOIN_QUEUE),
            queue_status=LuaScript(redis, QUEUE_STATUS),
            leave_queue=LuaScript(redis, LEAVE_QUEUE),
            set_intent=LuaScript(redis, SET_INTENT),
            end_session=LuaScript(redis, END_SESSION),
            controller_prepare=LuaScript(redis, CONTROLLER_PREPARE),
            controller_advance=LuaScript(redis, CONTROLLER_ADVANCE),
            controller_release=LuaScript(redis, CONTROLLER_RELEASE),
        )
