"""Commands packed by hiredis must be byte for byte what redis-py's own asyncio packing sends.

Invariant: switching the packer changes the CPU a command costs, never what Redis receives
or which arguments are refused.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from workers.redis_packing import packed_connection_class

PACKED = packed_connection_class(Connection)

arguments = st.one_of(
    st.text(),
    st.binary(),
    st.integers(min_value=-(2**70), max_value=2**70).filter(lambda n: not isinstance(n, bool)),
    st.floats(allow_nan=False),
)


def _sent(connection: Connection, *args: object) -> bytes:
    return b"".join(bytes(chunk) for chunk in connection.pack_command(*args))


@given(st.sampled_from(["SET", "EVALSHA", b"HSET", "CONFIG GET", b"CLIENT SETNAME"]),
       st.lists(arguments, max_size=40))
def test_hiredis_packing_sends_what_redis_py_sends(command: str | bytes,
                                                   args: list[object]) -> None:
    assert _sent(PACKED(), command, *args) == _sent(Connection(), command, *args)


def test_memoryview_and_bytearray_are_packed_like_redis_py() -> None:
    for value in (memoryview(b"seat"), bytearray(b"seat")):
        assert _sent(PACKED(), "SET", "k", value) == _sent(Connection(), "SET", "k", value)


@pytest.mark.parametrize("value", [None, True, False, object()])
def test_values_redis_py_refuses_are_refused(value: object) -> None:
    with pytest.raises(DataError):
        PACKED().pack_command("SET", "k", value)


def test_another_text_encoding_is_packed_by_redis_py() -> None:
    args = ("SET", "k", "caf\u00e9")
    latin = PACKED(encoding="latin-1")
    assert _sent(latin, *args) == _sent(Connection(encoding="latin-1"), *args)
    assert _sent(latin, *args) != _sent(PACKED(), *args)


def test_one_packed_class_per_connection_class() -> None:
    assert packed_connection_class(Connection) is PACKED
    unix = packed_connection_class(UnixDomainSocketConnection)
    assert issubclass(unix, UnixDomainSocketConnection) and unix is not PACKED
