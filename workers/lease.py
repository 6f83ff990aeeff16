"""One active consumer per partition: a Redis lease carrying a fencing token.

The lease value is `<owner>|<token>`, set with NX and a TTL and renewed by its
holder. The token comes from a counter that only grows, and never from below
`floor` (the newest token Postgres has accepted), so even after Redis loses its
data a new holder gets a token newer than any that ever wrote. Postgres checks
the token in each batch transaction; a paused holder that lost its lease cannot
write even if it wakes up believing it still holds it.
"""

from __future__ import annotations

from redis import Redis

from workers.keys import Keys
from workers.redis_client import LuaScript

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if string.sub(current, 1, sep - 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(current, sep + 1))
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if token <= floor then
  token = floor + 1
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseLost(Exception):
    """Another consumer holds the partition now: stop deciding at once."""


class PartitionLease:
    def __init__(self, redis: Redis, keys: Keys, partition: str, owner: str, ttl_ms: int):
        self.partition = partition
        self.owner = owner
        self.ttl_ms = ttl_ms
        self.token: int | None = None
        self._redis = redis
        self._key = keys.lease(partition)
        self._fence_key = keys.fence(partition)
        self._acquire = LuaScript(redis, _ACQUIRE)
        self._renew = LuaScript(redis, _RENEW)
        self._release = LuaScript(redis, _RELEASE)

    @property
    def value(self) -> str:
        return f"{self.owner}|{self.token}"

    def try_acquire(self, floor: int = 0) -> int | None:
        """The fencing token if we hold the lease now, else None (someone else does)."""
        token = self._acquire(keys=[self._key, self._fence_key],
                              args=[self.owner, self.ttl_ms, floor])
        self.token = int(token) if token is not None else None
        return self.token

    def renew(self) -> None:
        if self.token is None or not self._renew(keys=[self._key], args=[self.value, self.ttl_ms]):
            self.token = None
            raise LeaseLost(self.partition)

    def release(self) -> None:
        """Hand the lease back. We stop counting it as ours even when Redis cannot be told
        (it is down): the key then expires by itself, and a token left set would make
        this process believe it holds its fair share and never take the partition again."""
        token, self.token = self.token, None
        if token is not None:
            self._release(keys=[self._key], args=[f"{self.owner}|{token}"])


def lease_holder(redis: Redis, keys: Keys, partition: str) -> tuple[str, int, int] | None:
    """(owner, token, remaining ms) of a partition's lease, for the ops view."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.lease(partition))
        pipe.pttl(keys.lease(partition))
        value, ttl = pipe.execute()
    if not value:
        return None
    owner, _, token = (value.decode() if isinstance(value, bytes) else value).rpartition("|")
    return owner, int(token), int(ttl)
