"""The fault proxy the chaos runs put in front of Redis and Postgres: it forwards, adds the
latency it is told to (at least the minimum, per round trip), makes the server unreachable
on `cut` and reachable again on `restore`, in-process and as a process with a control socket.

No upper bound on timing is asserted: the machine is shared.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url

from loadtests.faultproxy import FaultProxy, ProxyControl, wait_listening
from tests.support.servers import free_port, postgres_admin_url, redis_url

pytestmark = pytest.mark.integration


def _redis_target() -> tuple[str, int]:
    url = redis_url()
    if not url.startswith("redis://"):
        pytest.skip("the fault proxy forwards TCP; this Redis is on a unix socket")
    client = redis.Redis.from_url(url)
    options = client.connection_pool.connection_kwargs
    client.close()
    return str(options["host"]), int(options["port"])


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5,
                       socket_timeout=0.5, retry=Retry(NoBackoff(), 0))


def _ping(port: int) -> bool:
    client = _client(port)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    started = FaultProxy(listen=("127.0.0.1", 0), target=_redis_target()).start()
    try:
        yield started
    finally:
        started.stop()


def test_forwards_and_adds_at_least_the_minimum_delay_per_round_trip(proxy: FaultProxy) -> None:
    client = _client(proxy.port)
    try:
        assert client.ping()
        proxy.set_delay(120, 150)
        client.connection_pool.connection_kwargs["socket_timeout"] = 5.0
        client.connection_pool.disconnect()
        client.ping()  # connect outside the measurement
        started = time.perf_counter()
        for _ in range(3):
            assert client.ping()
        assert time.perf_counter() - started >= 3 * 0.120
        proxy.set_delay(0)
        assert client.ping()
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["blackhole", "refuse"])
def test_cut_makes_redis_unreachable_and_restore_brings_it_back(
    proxy: FaultProxy, mode: str
) -> None:
    kept = _client(proxy.port)
    try:
        assert kept.ping()
        proxy.cut("refuse" if mode == "refuse" else "blackhole")
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            kept.ping()  # the open connection was reset
        assert not _ping(proxy.port)  # and a new one gets nowhere
        proxy.restore()
        assert _ping(proxy.port)
        assert kept.ping()  # redis-py reconnects on its next command
    finally:
        kept.close()


def test_a_postgres_session_through_the_proxy() -> None:
    import sqlalchemy

    url = make_url(postgres_admin_url())
    if not url.host or url.host.startswith("/"):
        pytest.skip("the fault proxy forwards TCP; this Postgres is on a unix socket")
    proxy = FaultProxy(("127.0.0.1", 0), (url.host, url.port or 5432)).start()
    engine = sqlalchemy.create_engine(url.set(host="127.0.0.1", port=proxy.port),
                                      pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
        proxy.cut()
        proxy.restore()
        with engine.connect() as connection:  # pre-ping replaces the reset connection
            assert connection.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
    finally:
        engine.dispose()
        proxy.stop()


def test_a_proxy_process_obeys_its_control_socket(tmp_path: Path) -> None:
    host, port = _redis_target()
    listen = free_port()
    control_path = tmp_path / "proxy.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtests.faultproxy", "--listen", f"127.0.0.1:{listen}",
         "--target", f"{host}:{port}", "--control", str(control_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_listening(("127.0.0.1", listen))
        for _ in range(100):
            if control_path.exists():
                break
            time.sleep(0.05)
        control = ProxyControl(control_path)
        assert _ping(listen)
        assert control.send("cut refuse").startswith("ok mode=refuse")
        assert not _ping(listen)
        assert control.send("restore").startswith("ok mode=open")
        assert _ping(listen)
        assert "delay_ms=5-10" in control.send("delay 5 10")
        with pytest.raises(RuntimeError, match="unknown command"):
            control.send("explode")
    finally:
        process.terminate()
        process.wait(10)
