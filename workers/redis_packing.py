"""Commands packed by hiredis (C) in asyncio Redis clients, as redis-py's blocking client does.

redis-py's blocking client packs commands with hiredis when it is installed; its asyncio
client packs them in Python, growing one buffer argument by argument. For the API's
group enqueue (one script call of ~500 arguments per event-loop turn) that was 18 % of a
benchmark client process's busy CPU (py-spy), the largest single item; hiredis packs the
same call in a small fraction of it (the bench's enqueue step went from 2.0 to 1.6 ms).
Encoding rules are redis-py's: str as UTF-8, int and float as their repr, bytes and
memoryview as they are; what hiredis does not take goes through redis-py's own packing
(a bytearray is packed, None or a bool refused with `DataError`), and so does a client
configured with another text encoding.
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio

_PACKED: dict[type[Any], type[Any]] = {}
_UTF8 = ("utf-8", "utf8")


class _HiredisPacking:
    encoder: Any

    def pack_command(self, *args: Any) -> list[bytes]:
        encoder = self.encoder
        if encoder.encoding.lower() not in _UTF8 or encoder.encoding_errors != "strict":
            return super().pack_command(*args)  # type: ignore[misc,no-any-return]
        # A command name may carry literal arguments ("CONFIG GET"): Redis wants them apart.
        first = args[0]
        if isinstance(first, str):
            split = (*first.encode().split(), *args[1:])
        elif b" " in first:
            split = (*first.split(), *args[1:])
        else:
            split = args
        try:
            return [hiredis.pack_command(split)]
        except TypeError:
            # What hiredis does not take (bytearray, bool, None...): redis-py's own rules,
            # which pack the one and refuse the others with DataError.
            return super().pack_command(*args)  # type: ignore[misc,no-any-return]


def packed_connection_class(connection_class: type[Any]) -> type[Any]:
    """`connection_class` with hiredis packing (one subclass per class, made once)."""
    packed = _PACKED.get(connection_class)
    if packed is None:
        packed = type(f"HiredisPacked{connection_class.__name__}",
                      (_HiredisPacking, connection_class), {})
        _PACKED[connection_class] = packed
    return packed


def with_hiredis_packing(client: redis.asyncio.Redis) -> redis.asyncio.Redis:
    """`client`, its pool now opening connections that pack with hiredis (TCP, TLS or
    Unix socket alike). Call before the client's first command."""
    if not isinstance(client, redis.asyncio.Redis):
        return client  # a cluster client: one pool per node, made as nodes are found
    pool = client.connection_pool
    pool.connection_class = packed_connection_class(pool.connection_class)
    return client
