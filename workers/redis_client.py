"""Every Redis client of onsale is made here, single server or Redis Cluster by its URL.

    redis://host:port/db, rediss://..., unix://...   one server (redis-py's Redis)
    redis+cluster://host:port[/]                     Redis Cluster, bootstrapped from that
    rediss+cluster://host:port                       node (redis-py's RedisCluster)

Every script and MULTI block of onsale touches one hash slot (workers/keys.py), so the
same code runs on both. A cluster has no databases: a `/db` other than 0 is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from waitingroom.scripts import LuaScript as AsyncLuaScript

__all__ = ["AsyncLuaScript", "LuaScript", "async_client", "is_cluster_client", "sync_client"]

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def _node_url(url: str) -> str:
    """A cluster URL as the plain URL of its bootstrap node."""
    parts = urlsplit(url)
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError(f"a Redis Cluster has no databases: {url!r}")
    return urlunsplit((CLUSTER_SCHEMES[parts.scheme], parts.netloc, "", parts.query, ""))


def _cluster_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options a cluster client takes: the asyncio one has no per-connection health
    check (it refreshes its slot map on MOVED and on connection errors instead)."""
    return {name: value for name, value in options.items()
            if name != "health_check_interval"}


def is_cluster_client(client: object) -> bool:
    return isinstance(client, RedisCluster | AsyncRedisCluster)


def sync_client(url: str, **options: Any) -> redis.Redis:
    """A synchronous client for `url` (workers, payments, CLI, tests)."""
    if is_cluster_url(url):
        # Typed as the single-server client: every command onsale sends works on both.
        return RedisCluster.from_url(  # type: ignore[return-value]
            _node_url(url), **_cluster_options(options))
    return redis.Redis.from_url(url, **options)


def async_client(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client for `url` (API, waiting room, controller)."""
    if is_cluster_url(url):
        return AsyncRedisCluster.from_url(  # type: ignore[return-value]
            _node_url(url), **_cluster_options(options))
    return redis.asyncio.Redis.from_url(url, **options)


class LuaScript:
    """A Lua script on a synchronous client: EVALSHA, and EVAL when the node lacks it (the
    asyncio twin, `AsyncLuaScript`, says why redis-py's own script object is not used)."""

    def __init__(self, client: Any, source: str):
        self._client = client
        self.source = source
        # EVALSHA names a script by its SHA-1: an identifier, not a security use
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return self._client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return self._client.eval(self.source, len(keys), *keys, *args)

