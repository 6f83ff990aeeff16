"""`onsale bench waitingroom`: 100,000 fans in one event's line, measured over real HTTP.

What it measures, on 127.0.0.1 with wrk as the load tool (see docs/benchmarks.md):

- `joins_per_s`: `POST /events/{id}/queue` through the real app (session check, rate
  limits, the join script), one distinct account per request, until `queued` fans are in line;
- `redis_bytes`: what the room's keys take in Redis with that line (MEMORY USAGE);
- `status_per_s`, `status_p99_ms`: `GET /events/{id}/queue/{ticket}` polled across 10,000
  distinct fans; `bare_per_s`: an aiohttp handler doing one Redis read (HGET) and nothing else,
  served by as many processes in the same run, as the ceiling to compare with;
- `rate_error`: the admission controller over 5 simulated minutes, |admitted - configured| /
  configured.

The API runs as `SERVER_PROCESSES` processes sharing the port (SO_REUSEPORT), as a
deployment would run one per core. Every Redis key it writes carries its own prefix and is
deleted at the end; the admission key is the deployment's (`data_dir/admission-key.pem`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aioredis

from waitingroom.config import QueueMode, RoomConfig
from waitingroom.controller import AdmissionController
from waitingroom.keys import RoomKeys
from waitingroom.queue_tickets import QueueTicket, encode_ticket

if TYPE_CHECKING:
    from api.launcher.settings import Settings

EVENT_ID = 1
SERVER_PROCESSES = max(2, os.cpu_count() or 2)
WRK_CONNECTIONS = 32
STATUS_TICKETS = 10_000
SIMULATED_SECONDS = 300.0
SIMULATED_STEP_SECONDS = 0.2
SIMULATED_RATE_PER_MINUTE = 6000.0
"""100 admissions a second: 30,000 of the 100,000 fans in five minutes (the line never runs dry)."""
RESULT_KEYS = (
    "queued",
    "redis_bytes",
    "joins_per_s",
    "status_per_s",
    "status_p99_ms",
    "bare_per_s",
    "rate_error",
)
TARGETS = {
    "joins_per_s": ">= 2,000/s",
    "status_per_s": ">= 8,000/s",
    "status_p99_ms": "< 50 ms",
    "status / bare": ">= 0.70",
    "rate_error": "<= 0.02",
}


@dataclass(frozen=True)
class Plan:
    fans: int
    status_seconds: int
    rounds: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        return cls(fans=10_000, status_seconds=3, rounds=1) if quick else cls(100_000, 10, 2)

    @property
    def admissions_per_minute(self) -> float:
        """Never more than the line can feed for the whole simulated five minutes."""
        return min(SIMULATED_RATE_PER_MINUTE, self.fans * 60 / SIMULATED_SECONDS / 2)


@dataclass(frozen=True)
class WrkRun:
    per_second: float
    p99_ms: float
    errors: int


def main(quick: bool, settings: Settings) -> int:
    wrk = ensure_wrk()
    if wrk is None:
        print("bench waitingroom: wrk is missing (apt-get install -y wrk)", file=sys.stderr)
        return 2
    from api.fan.waitingroom_http import ADMISSION_KEY_FILE
    from waitingroom.keyfile import load_or_create_signer

    plan = Plan.of(quick)
    bench_settings = settings.replace(
        redis_prefix=f"{settings.redis_prefix}-benchwr-{os.getpid()}", log_level="WARNING"
    )
    signer = load_or_create_signer(bench_settings.data_dir / ADMISSION_KEY_FILE)
    client = redis.Redis.from_url(bench_settings.redis_url or "")
    workdir = Path(tempfile.mkdtemp(prefix="onsale-bench-wr-"))
    try:
        with servers(bench_settings, "app") as app_port, servers(bench_settings, "bare") as bare:
            figures = run_plan(plan, wrk, bench_settings, client, signer.mac_key, workdir,
                               app_port, bare)
    finally:
        delete_prefix(client, bench_settings.redis_prefix)
        client.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures)
    from loadtests.benchio import write_results

    path = write_results("waitingroom", figures)
    print(f"results: {path}")
    return 0


def run_plan(plan: Plan, wrk: str, settings: Settings, client: redis.Redis, mac_key: bytes,
             workdir: Path, app_port: int, bare_port: int) -> dict[str, Any]:
    keys = RoomKeys(settings.redis_prefix, EVENT_ID)
    now = time.time()
    prequeue = RoomConfig(
        opens_at=now - 1,
        sale_starts_at=now + 3600,
        mode=QueueMode.SHUFFLE,
        new_users_per_minute=plan.admissions_per_minute,
        max_active_users=plan.fans,
        admission_token_ttl_seconds=3600,
        position_expiry_seconds=3600,
        join_limit_per_ip_per_minute=10 * plan.fans,  # every fan comes from 127.0.0.1 here
    )
    configure(client, settings.redis_prefix, prequeue)
    prime_sessions(client, settings.redis_prefix, plan.fans)

    print(f"joining {plan.fans:,} fans over HTTP ...", flush=True)
    joins_per_s = run_joins(wrk, workdir, app_port, client, keys, plan.fans)
    queued = int(client.hlen(keys.members))
    redis_bytes = room_bytes(client, keys)

    started = RoomConfig.from_mapping({"sale_starts_at": time.time()}, base=prequeue)
    configure(client, settings.redis_prefix, started)
    tickets = ticket_file(client, keys, mac_key, workdir, STATUS_TICKETS)
    status_runs: list[WrkRun] = []
    bare_runs: list[WrkRun] = []
    for round_number in range(plan.rounds):
        print(f"status and bare handler, round {round_number + 1}/{plan.rounds} ...", flush=True)
        status_runs.append(run_wrk(wrk, app_port, workdir, "status", tickets, plan))
        bare_runs.append(run_wrk(wrk, bare_port, workdir, "bare", tickets, plan))
    status = max(status_runs, key=lambda run: run.per_second)
    bare = max(bare_runs, key=lambda run: run.per_second)
    if status.errors or bare.errors:
        raise RuntimeError(f"non-2xx answers: status {status.errors}, bare {bare.errors}")

    print("admission controller, 5 simulated minutes ...", flush=True)
    rate_error = asyncio.run(simulate_admissions(settings, started))
    return {
        "queued": queued,
        "redis_bytes": redis_bytes,
        "joins_per_s": round(joins_per_s),
        "status_per_s": round(status.per_second),
        "status_p99_ms": round(status.p99_ms, 2),
        "bare_per_s": round(bare.per_second),
        "rate_error": round(rate_error, 5),
    }


# ---- set-up -------------------------------------------------------------------------------


def ensure_wrk() -> str | None:
    """wrk from PATH; installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install -y wrk) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, check=False)
        found = shutil.which("wrk")
    return found


def configure(client: redis.Redis, prefix: str, config: RoomConfig) -> None:
    keys = RoomKeys(prefix, EVENT_ID)
    client.hset(keys.config, mapping=config.to_fields())  # type: ignore[arg-type]


def bench_token(account: int) -> str:
    return f"benchfan-{account}"


def prime_sessions(client: redis.Redis, prefix: str, fans: int, first: int = 1) -> None:
    """Signed-in fans without 100,000 argon2 hashes: the API's session cache, filled directly
    for accounts first..first+fans-1.

    Each join still resolves its bearer token through the cache as any request does.
    """
    pipe = client.pipeline(transaction=False)
    for account in range(first, first + fans):
        digest = hashlib.sha256(bench_token(account).encode()).hexdigest()
        pipe.set(f"{prefix}:session:{digest}", f"{account}|fan|fan{account}@bench.invalid",
                 ex=3600)
        if account % 5000 == 0:
            pipe.execute()
    pipe.execute()


def room_bytes(client: redis.Redis, keys: RoomKeys) -> int:
    total = 0
    for key in (keys.config, keys.state, keys.members, keys.seen, keys.sessions):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


def ticket_file(client: redis.Redis, keys: RoomKeys, mac_key: bytes, workdir: Path,
                count: int) -> Path:
    """Status tickets of `count` fans spread over the whole line, one per line of the file."""
    members = client.hgetall(keys.members)
    accounts = sorted(members.items(), key=lambda item: int(item[1]))
    stride = max(1, len(accounts) // count)
    path = workdir / "tickets.txt"
    with path.open("w") as handle:
        for account, seq in accounts[::stride][:count]:
            ticket = QueueTicket(EVENT_ID, int(account), int(seq))
            handle.write(encode_ticket(mac_key, ticket) + "\n")
    return path


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


# ---- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def servers(settings: Settings, kind: str) -> Iterator[int]:
    """`SERVER_PROCESSES` processes serving `kind` ("app": the real API; "bare") on one port."""
    port = free_port()
    env = {**os.environ, **settings.to_env()}
    code = f"from loadtests.bench_waitingroom import serve; serve({kind!r}, {port})"
    children = [
        subprocess.Popen([sys.executable, "-c", code], env=env)
        for _ in range(SERVER_PROCESSES)
    ]
    try:
        wait_listening(port, children)
        yield port
    finally:
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def wait_listening(port: int, children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a benchmark server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)  # the other processes bind within the same moment
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"benchmark servers did not listen on {port}")


def serve(kind: str, port: int) -> None:
    """Child process entry: the real app, or the bare one-Redis-read handler."""
    from api.http.log_format import configure_logging
    from api.launcher.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings, component=f"bench-{kind}")
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(kind, port, settings))


async def _serve(kind: str, port: int, settings: Settings) -> None:
    from aiohttp import web

    if kind == "app":
        from api.http.app import create_app

        app = create_app(settings)
    else:
        app = bare_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def bare_app(settings: Settings) -> Any:
    """The ceiling: aiohttp with no middleware, one Redis read (HGET), a small JSON answer."""
    from aiohttp import web

    client = aioredis.Redis.from_url(settings.redis_url or "")
    key = RoomKeys(settings.redis_prefix, EVENT_ID).state

    async def one_read(request: web.Request) -> web.Response:
        value = await client.hget(key, "serving")
        return web.json_response({"serving_position": int(value or 0)})

    app = web.Application()
    app.router.add_get("/bare/{ticket}", one_read)
    return app


# ---- load ------------------------------------------------------------------------------------

JOIN_SCRIPT = """
local fans = %(fans)d
local n = 0
request = function()
  n = n %% fans + 1
  return wrk.format("POST", "/events/%(event)d/queue",
                    {["Authorization"] = "Bearer benchfan-" .. n})
end
"""

POLL_SCRIPT = """
local tickets = {}
for line in io.lines("%(tickets)s") do tickets[#tickets + 1] = line end
local n = 0
request = function()
  n = n %% #tickets + 1
  return wrk.format("GET", "%(path)s" .. tickets[n])
end
"""


def run_joins(wrk: str, workdir: Path, port: int, client: redis.Redis, keys: RoomKeys,
              fans: int) -> float:
    """Join every fan once; the rate is timed on the room's own join counter."""
    script = workdir / "join.lua"
    script.write_text(JOIN_SCRIPT % {"fans": fans, "event": EVENT_ID})
    process = subprocess.Popen(
        [wrk, "-t1", f"-c{WRK_CONNECTIONS}", "-d600s", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    first: tuple[float, int] | None = None
    last: tuple[float, int] = (time.monotonic(), 0)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            joined = int(client.hget(keys.state, "joined") or 0)
            last = (time.monotonic(), joined)
            if first is None and joined > 0:
                first = last
            if joined >= fans or process.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    if first is None or last[1] < fans:
        raise RuntimeError(f"joins stalled at {last[1]:,} of {fans:,}:\n{output}")
    errors = _non_2xx(output)
    if errors:
        raise RuntimeError(f"{errors} joins were refused:\n{output}")
    return (last[1] - first[1]) / max(last[0] - first[0], 1e-9)


def run_wrk(wrk: str, port: int, workdir: Path, kind: str, tickets: Path, plan: Plan) -> WrkRun:
    path = f"/events/{EVENT_ID}/queue/" if kind == "status" else "/bare/"
    script = workdir / f"{kind}.lua"
    script.write_text(POLL_SCRIPT % {"tickets": tickets, "path": path})
    output = subprocess.run(
        [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{plan.status_seconds}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return WrkRun(per_second, _p99_ms(output), _non_2xx(output))


def _p99_ms(output: str) -> float:
    match = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if match is None:
        raise RuntimeError(f"no latency distribution in wrk output:\n{output}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _non_2xx(output: str) -> int:
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return int(match.group(1)) if match else 0


# ---- admission rate ---------------------------------------------------------------------------


async def simulate_admissions(settings: Settings, config: RoomConfig) -> float:
    """Step the controller on simulated time from the sale start; compare with the set rate."""
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        controller = AdmissionController(client, settings.redis_prefix, "bench-controller")
        start = config.sale_starts_at
        steps = round(SIMULATED_SECONDS / SIMULATED_STEP_SECONDS)
        admitted = 0
        for step in range(1, steps + 1):
            result = await controller.step(EVENT_ID, start + step * SIMULATED_STEP_SECONDS)
            admitted += result.admitted
        await controller.release(EVENT_ID)
    finally:
        await client.aclose()
    expected = config.admissions_per_second * SIMULATED_SECONDS
    return abs(admitted - expected) / expected


def report(figures: dict[str, Any]) -> None:
    from loadtests.benchio import print_table

    ratio = figures["status_per_s"] / figures["bare_per_s"] if figures["bare_per_s"] else 0.0
    rows = [{"figure": key, "value": figures[key], "target": TARGETS.get(key, "")}
            for key in RESULT_KEYS]
    rows.append({"figure": "status / bare", "value": round(ratio, 3),
                 "target": TARGETS["status / bare"]})
    print_table(rows, ["figure", "value", "target"])
