"""A TCP proxy on loopback that makes a server slow or unreachable on demand.

Put it between onsale and Postgres or Redis (point ONSALE_DATABASE_URL /
ONSALE_REDIS_URL at the proxy's port) to inject network faults during a surge:

    proxy = FaultProxy(listen=("127.0.0.1", 0), target=("127.0.0.1", 6379)).start()
    proxy.port                    # where clients connect
    proxy.set_delay(50, 500)      # each round trip takes 50-500 ms longer
    proxy.set_delay(0)            # no added latency
    proxy.cut()                   # unreachable: open connections are reset, new ones
                                  # are accepted and never answered (a blackhole)
    proxy.cut(mode="refuse")      # ... or new connections are refused at once
    proxy.restore()               # reachable again (connections cut stay cut)
    proxy.stop()

The delay is drawn per chunk the client sends and applied before forwarding
it, so a request-response round trip gets one delay; answers flow back at
once. Chunks of one connection keep their order (a later chunk never
overtakes an earlier, more delayed one).

It runs its own asyncio loop in a daemon thread, so a synchronous caller (the
chaos runner) uses it in-process. As a separate process:

    python -m loadtests.faultproxy --listen 127.0.0.1:7001 --target 127.0.0.1:6379 \
        --control /tmp/redis-proxy.sock

takes the same commands, one line each, on a unix control socket: `delay 50 500`,
`cut`, `cut refuse`, `restore`, `status`; `ProxyControl(path).send("cut")` sends one
and returns the answer line (`ok ...` or `error ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CHUNK_BYTES = 65536
CONNECT_TIMEOUT_SECONDS = 5.0
CutMode = Literal["blackhole", "refuse"]


@dataclass(eq=False)
class _Link:
    """One client connection and, when forwarded, its connection to the target."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        """Close both sides at once with an RST, as a broken network path would end them."""
        for writer in (self.client, self.server):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()

    def close(self) -> None:
        """The connection ended by itself: pass the close on with a FIN."""
        for writer in (self.client, self.server):
            if writer is not None:
                writer.close()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen = listen
        self.target = target
        self.mode: Literal["open", "blackhole", "refuse"] = "open"
        self.delay_ms: tuple[float, float] = (0.0, 0.0)
        self.port = listen[1]
        self._random = random.Random()
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.listen[0], self.port)

    def start(self) -> FaultProxy:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"faultproxy-{self.target}",
                                        daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._close(stop_listening=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5.0)
        self._loop.close()
        self._loop = None

    def set_delay(self, min_ms: float, max_ms: float | None = None) -> None:
        """Add `min_ms`..`max_ms` (uniform; `max_ms` defaults to `min_ms`) per round trip."""
        max_ms = min_ms if max_ms is None else max_ms
        if min_ms < 0 or max_ms < min_ms:
            raise ValueError(f"delay {min_ms}..{max_ms} ms: need 0 <= min <= max")
        self.delay_ms = (float(min_ms), float(max_ms))

    def cut(self, mode: CutMode = "blackhole") -> None:
        """Unreachable: reset open connections; new ones are held unanswered or refused."""
        if mode not in ("blackhole", "refuse"):
            raise ValueError(f"cut mode {mode!r}: blackhole or refuse")
        self.mode = mode
        self._call(self._close(stop_listening=mode == "refuse"))

    def restore(self) -> None:
        """Reachable again: connections held by a blackhole are reset, new ones forwarded."""
        was = self.mode
        self.mode = "open"
        self._call(self._close(stop_listening=False))
        if was == "refuse":
            self._call(self._listen())

    def status(self) -> dict[str, Any]:
        return {"listen": list(self.address), "target": list(self.target), "mode": self.mode,
                "delay_ms": list(self.delay_ms), "connections": len(self._links)}

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None, "start() the proxy first"
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(10.0)

    async def _listen(self) -> None:
        server = await asyncio.start_server(self._accept, self.listen[0], self.port,
                                            reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def _close(self, *, stop_listening: bool) -> None:
        if stop_listening and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for link in list(self._links):
            link.reset()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        try:
            if self.mode != "open":
                while await reader.read(CHUNK_BYTES):  # a blackhole: read and drop until
                    pass  # the client gives up or the proxy is restored
                return
            try:
                server_reader, server_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target), CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError):
                link.reset()
                return
            link.server = server_writer
            if self.mode != "open" or link not in self._links:  # cut while connecting
                link.reset()
                return
            upstream = asyncio.create_task(self._upstream(reader, server_writer))
            downstream = asyncio.create_task(self._pipe(server_reader, writer))
            link.tasks = [upstream, downstream]
            done, _ = await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
            if downstream not in done:  # the client finished sending: let the answer arrive
                await asyncio.wait([downstream], timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if link in self._links:  # not cut meanwhile
                self._links.discard(link)
                link.close()

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client to server: each chunk waits its drawn delay, in order."""
        loop = asyncio.get_running_loop()
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            with contextlib.suppress(OSError):
                await forward()

        async def forward() -> None:
            while True:
                due, chunk = await pending.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(send())
        last_due = 0.0
        try:
            while not sender.done():
                chunk = await reader.read(CHUNK_BYTES)
                low, high = self.delay_ms
                delay_seconds = (low if high == low else self._random.uniform(low, high)) / 1000
                last_due = max(loop.time() + delay_seconds, last_due)
                pending.put_nowait((last_due, chunk))
                if not chunk:
                    await sender
                    return
        except OSError:
            return
        finally:
            sender.cancel()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(CHUNK_BYTES):
                writer.write(chunk)
                await writer.drain()


class ProxyControl:
    """The client side of a proxy process's control socket."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)

    def send(self, command: str, timeout_seconds: float = 10.0) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.settimeout(timeout_seconds)
            control.connect(self.path)
            control.sendall(command.strip().encode() + b"\n")
            answer = control.makefile("rb").readline().decode().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"fault proxy {self.path}: {command!r}: {answer}")
        return answer


def apply_command(proxy: FaultProxy, line: str) -> str:
    """One control line, as `ProxyControl.send` sends it; the answer line."""
    words = line.split()
    try:
        match words:
            case ["delay", low]:
                proxy.set_delay(float(low))
            case ["delay", low, high]:
                proxy.set_delay(float(low), float(high))
            case ["cut"]:
                proxy.cut()
            case ["cut", mode] if mode in ("blackhole", "refuse"):
                proxy.cut("refuse" if mode == "refuse" else "blackhole")
            case ["restore"]:
                proxy.restore()
            case ["status"]:
                pass
            case _:
                return f"error unknown command {line.strip()!r}"
    except ValueError as exc:
        return f"error {exc}"
    status = proxy.status()
    return f"ok mode={status['mode']} delay_ms={status['delay_ms'][0]:g}-" \
           f"{status['delay_ms'][1]:g} connections={status['connections']}"


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.faultproxy",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, type=_address, help="HOST:PORT (loopback)")
    parser.add_argument("--target", required=True, type=_address, help="HOST:PORT")
    parser.add_argument("--control", required=True, type=Path, help="unix socket for commands")
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.listen, args.target).start()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    args.control.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
        control.bind(str(args.control))
        control.listen()
        control.settimeout(0.2)
        print(f"fault proxy {proxy.address[0]}:{proxy.port} -> {args.target[0]}:{args.target[1]}",
              flush=True)
        while not stopping.is_set():
            try:
                connection, _ = control.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5.0)
                with contextlib.suppress(OSError):
                    line = connection.makefile("rb").readline().decode()
                    connection.sendall(apply_command(proxy, line).encode() + b"\n")
    proxy.stop()
    args.control.unlink(missing_ok=True)
    return 0


def wait_listening(address: tuple[str, int], timeout_seconds: float = 10.0) -> None:
    """Until something accepts connections on `address` (a proxy process just started)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with socket.create_connection(address, timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
