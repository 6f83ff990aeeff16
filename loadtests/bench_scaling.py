"""`onsale bench scaling [--quick]`: the figures of docs/scaling.md, measured on this machine.

1. A line whose origin load does not grow with its length. 100,000 fans are put in
   one event's line (the join script's writes, done directly), the real API
   serves as the origin (one process) behind nginx with `proxy_cache` on loopback
   (started from a config in a temporary directory), and the fans' polling
   schedules over one virtual minute come from `loadtests.line_schedule` (the rule
   of `waitingroom.shared_line`). For the first `window` seconds, each real second
   replays that virtual second: a sample of its summary reads and of its own-place
   polls go through the proxy, and the origin's own counters
   (`onsale_http_responses_total` by route) say what reached it. Extrapolated to
   the whole minute and the whole schedule:
   `origin_polls_per_fan_per_min` = (summary reads the origin served per second
   x 60 + own-place polls of the schedule x the share of sampled own polls that
   reached the origin) / fans in line.
2. Many events at once (`loadtests.bench_events`): 200 events with one and two
   worker processes, against one hot event's drain in the same run.
3. Per-core costs: status polls and joins per API core-second (bursts straight at
   the origin, its process CPU), decisions per worker core-second, Redis commands
   per Redis core-second and Postgres transactions per backend core-second (from
   part 2, on a private redis-server and the bench database's backends).

4. The Redis Cluster failover pause (`loadtests.bench_cluster_failover`, run last).

Writes bench-results/scaling.json, keeping the keys other benchmarks wrote there;
`python -m loadtests.capacity` reads it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import redis

from loadtests import bench_events
from loadtests.bench_waitingroom import (
    bench_token,
    configure,
    free_port,
    prime_sessions,
    wait_listening,
)
from loadtests.booking.cpu import process_cpu
from loadtests.line_schedule import LineSchedule, schedule
from waitingroom.config import QueueMode, RoomConfig
from waitingroom.keys import RoomKeys
from waitingroom.queue_tickets import QueueTicket, encode_ticket

if TYPE_CHECKING:
    from api.launcher.settings import Settings

EVENT_ID = 1
FANS_IN_LINE = 100_000
ADMISSIONS_PER_MINUTE = 600.0
"""10 a second: the line moves, and the front of it polls as it does in a real on-sale."""
SHARED_SAMPLE_PER_S = 200
OWN_SAMPLE_PER_S = 60
CLIENT_CONNECTIONS = 32
QUICK_WINDOW_SECONDS = 10
FULL_WINDOW_SECONDS = 30
COST_REQUESTS = 3_000
SUMMARY_ROUTE = "/events/{event_id}/queue"
STATUS_ROUTE = "/events/{event_id}/queue/{ticket}"
JOIN_ACCOUNTS_FROM = 10_000_000


@dataclass(frozen=True)
class LineFigures:
    fans: int
    window_s: int
    shared_sent: int
    shared_at_origin: int
    own_sent: int
    own_at_origin: int
    schedule: LineSchedule

    def entry(self) -> dict[str, Any]:
        shared_origin_per_min = self.shared_at_origin / self.window_s * 60
        own_share = self.own_at_origin / self.own_sent if self.own_sent else 1.0
        own_origin_per_min = self.schedule.own_total * own_share
        return {
            "origin_polls_per_fan_per_min": round(
                (shared_origin_per_min + own_origin_per_min) / self.fans, 4),
            "fans_in_line": self.fans,
            "line": {
                "window_s": self.window_s,
                "admissions_per_minute": ADMISSIONS_PER_MINUTE,
                "summary_reads_per_min": self.schedule.shared_total,
                "summary_reads_sent_through_proxy": self.shared_sent,
                "summary_reads_at_origin": self.shared_at_origin,
                "summary_reads_at_origin_per_s": round(self.shared_at_origin / self.window_s, 2),
                "own_polls_per_min": self.schedule.own_total,
                "own_polls_near_front_per_min": self.schedule.own_polls_near_front,
                "own_polls_keepalive_per_min": self.schedule.own_polls_keepalive,
                "own_polls_sent_through_proxy": self.own_sent,
                "own_polls_at_origin": self.own_at_origin,
            },
        }


def main(quick: bool, settings: Settings) -> int:
    window = QUICK_WINDOW_SECONDS if quick else FULL_WINDOW_SECONDS
    figures: dict[str, Any] = {}
    with bench_events.private_redis() as (redis_url, redis_pid):
        line_settings = settings.replace(redis_url=redis_url, redis_prefix="benchline",
                                         log_level="WARNING")
        line, costs = run_line(line_settings, window, redis_pid)
    figures.update(line.entry())
    events = bench_events.run(settings.database_url or bench_events.LOCAL_POSTGRES_URL, quick)
    figures.update({key: events[key] for key in (
        "events_on_sale", "events_aggregate_decisions_per_s",
        "single_event_drain_decisions_per_s", "events_vs_single_event",
        "events_decisions_per_worker_core_s")})
    figures["events_phases"] = events["phases"]
    costs.update(event_costs(events["phases"]))
    figures["per_core"] = costs
    figures["cpu_count"] = os.cpu_count()
    report(figures)
    from loadtests.benchio import update_results

    path = update_results("scaling", figures)
    print(f"results: {path}")
    # 4. The Redis Cluster failover pause, into the same file (its own bench, on a real
    #    cluster of redis-server processes it starts on loopback).
    from loadtests import bench_cluster_failover

    return bench_cluster_failover.main(quick, settings)


# ---- the line ------------------------------------------------------------------------------


def run_line(settings: Settings, window: int,
             redis_pid: int) -> tuple[LineFigures, dict[str, float]]:
    from api.fan.waitingroom_http import ADMISSION_KEY_FILE
    from waitingroom.keyfile import load_or_create_signer

    mac_key = load_or_create_signer(settings.data_dir / ADMISSION_KEY_FILE).mac_key
    client = redis.Redis.from_url(settings.redis_url or "")
    now = time.time()
    config = RoomConfig(opens_at=now - 60, sale_starts_at=now - 60, mode=QueueMode.FIFO,
                        new_users_per_minute=ADMISSIONS_PER_MINUTE,
                        max_active_users=10 * FANS_IN_LINE,
                        join_limit_per_ip_per_minute=100 * COST_REQUESTS)
    configure(client, settings.redis_prefix, config)
    print(f"putting {FANS_IN_LINE:,} fans in line ...", flush=True)
    fill_line(client, RoomKeys(settings.redis_prefix, EVENT_ID), FANS_IN_LINE, now)
    plan = schedule(FANS_IN_LINE, rate=ADMISSIONS_PER_MINUTE / 60,
                    position_expiry_seconds=config.position_expiry_seconds)
    print(f"schedule of one minute: {plan.shared_total:,} summary reads, "
          f"{plan.own_total:,} own-place polls", flush=True)
    tickets = [encode_ticket(mac_key, QueueTicket(EVENT_ID, account, account))
               for account in range(1, FANS_IN_LINE + 1, max(1, FANS_IN_LINE // 5_000))]
    with origin(settings) as (origin_port, origin_pid), caching_proxy(origin_port) as proxy:
        before = route_counts(origin_port)
        shared_sent, own_sent = asyncio.run(replay(proxy, plan, tickets, window))
        after = route_counts(origin_port)
        costs = asyncio.run(api_costs(client, settings, origin_port, (origin_pid, redis_pid),
                                      tickets))
    client.close()
    figures = LineFigures(
        FANS_IN_LINE, window, shared_sent,
        shared_at_origin=after.get(SUMMARY_ROUTE, 0) - before.get(SUMMARY_ROUTE, 0),
        own_sent=own_sent,
        own_at_origin=after.get(STATUS_ROUTE, 0) - before.get(STATUS_ROUTE, 0),
        schedule=plan)
    return figures, costs


def fill_line(client: redis.Redis, keys: RoomKeys, fans: int, now: float) -> None:
    """What `fans` joins leave behind (account n at place n, seen now), written in bulk."""
    pipe = client.pipeline(transaction=False)
    for account in range(1, fans + 1):
        pipe.hset(keys.members, str(account), str(account))
        pipe.hset(keys.seen, str(account), repr(now))
        if account % 5_000 == 0:
            pipe.execute()
    pipe.hset(keys.state, mapping={"joined": fans, "started_at": repr(now), "serving": 0})
    pipe.execute()


async def replay(proxy: int, plan: LineSchedule, tickets: list[str],
                 window: int) -> tuple[int, int]:
    """Virtual second k of the schedule in real second k: a sample of its summary reads and
    own-place polls through the proxy, spread over the second."""
    base = f"http://127.0.0.1:{proxy}"
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    shared_sent = own_sent = 0
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(path: str) -> None:
            async with session.get(base + path) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status}")

        started = time.monotonic()
        for second in range(min(window, plan.seconds)):
            shared = min(plan.shared_reads[second], SHARED_SAMPLE_PER_S)
            own = min(plan.own_polls[second], OWN_SAMPLE_PER_S)
            paths = [f"/events/{EVENT_ID}/queue"] * shared + [
                f"/events/{EVENT_ID}/queue/{tickets[(second * own + n) % len(tickets)]}"
                for n in range(own)]
            slot = 1.0 / max(1, len(paths))
            tasks = []
            for index, path in enumerate(sorted(paths, key=lambda p: hash(p) ^ second)):
                due = started + second + index * slot
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(get(path)))
            await asyncio.gather(*tasks)
            shared_sent += shared
            own_sent += own
    return shared_sent, own_sent


async def api_costs(client: redis.Redis, settings: Settings, port: int, pids: tuple[int, int],
                    tickets: list[str]) -> dict[str, float]:
    """Status polls and joins per core-second of the API process (straight at the origin), and
    the Redis commands each costs (the private server counts only ours)."""
    api_pid, redis_pid = pids
    base = f"http://127.0.0.1:{port}"
    prime_sessions(client, settings.redis_prefix, COST_REQUESTS, first=JOIN_ACCOUNTS_FROM)
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def burst(requests: list[tuple[str, str, dict[str, str]]]) -> tuple[float, float]:
            queue = iter(requests)
            cpu = process_cpu(api_pid).cpu_seconds
            commands = int(client.info("stats")["total_commands_processed"])

            async def worker() -> None:
                for method, path, headers in queue:
                    async with session.request(method, base + path, headers=headers) as reply:
                        await reply.read()
                        if reply.status not in (200, 201):
                            raise RuntimeError(f"{method} {path}: HTTP {reply.status}")

            await asyncio.gather(*(worker() for _ in range(CLIENT_CONNECTIONS)))
            used = int(client.info("stats")["total_commands_processed"]) - commands - 2
            per_core = len(requests) / max(1e-6, process_cpu(api_pid).cpu_seconds - cpu)
            return per_core, used / len(requests)

        redis_cpu = process_cpu(redis_pid).cpu_seconds
        polls, poll_commands = await burst([
            ("GET", f"/events/{EVENT_ID}/queue/{tickets[n % len(tickets)]}", {})
            for n in range(COST_REQUESTS)])
        joins, join_commands = await burst([
            ("POST", f"/events/{EVENT_ID}/queue",
             {"Authorization": f"Bearer {bench_token(JOIN_ACCOUNTS_FROM + n)}"})
            for n in range(COST_REQUESTS)])
        redis_cpu = process_cpu(redis_pid).cpu_seconds - redis_cpu
    return {"status_polls_per_api_core_s": round(polls), "joins_per_api_core_s": round(joins),
            "redis_commands_per_status_poll": round(poll_commands, 3),
            "redis_commands_per_join": round(join_commands, 3),
            "redis_cpu_us_per_poll_or_join": round(redis_cpu / (2 * COST_REQUESTS) * 1e6, 1)}


def route_counts(port: int) -> dict[str, int]:
    """GET answers by route template, from the origin's own /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        body = reply.read().decode()
    counts: dict[str, int] = {}
    for line in body.splitlines():
        if not line.startswith("onsale_http_responses_total{") or 'method="GET"' not in line:
            continue
        labels, value = line.rsplit(" ", 1)
        route = labels.split('route="', 1)[1].split('"', 1)[0]
        counts[route] = counts.get(route, 0) + int(float(value))
    return counts


# ---- servers ------------------------------------------------------------------------------


@contextmanager
def origin(settings: Settings) -> Iterator[tuple[int, int]]:
    """The real API, one process, on a free loopback port: (port, pid)."""
    port = free_port()
    env = {**os.environ, **settings.to_env()}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # its own counters, read from its /metrics
    code = f"from loadtests.bench_waitingroom import serve; serve('app', {port})"
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        wait_listening(port, [child])
        yield port, child.pid
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


NGINX_CONFIG = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  proxy_cache_path {dir}/cache levels=1 keys_zone=line:10m max_size=64m inactive=1m
                   use_temp_path=off;
  upstream origin {{ server 127.0.0.1:{origin}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_cache line;
      proxy_cache_lock on;
      proxy_cache_use_stale updating;
      add_header X-Cache-Status $upstream_cache_status always;
    }}
  }}
}}
"""
"""A CDN edge in miniature: caches what the origin marks public (Cache-Control decides how
long), one request per key to the origin at a time (`proxy_cache_lock`), and the stale copy
while one request refreshes it (`proxy_cache_use_stale updating`)."""


@contextmanager
def caching_proxy(origin_port: int, nginx: str = "/usr/sbin/nginx") -> Iterator[int]:
    """nginx with proxy_cache in front of `origin_port`, from a config in a temporary
    directory, on a free loopback port (never the system service): its port."""
    executable = shutil.which("nginx") or nginx
    directory = Path(tempfile.mkdtemp(prefix="onsale-nginx-"))
    directory.chmod(0o755)
    port = free_port()
    config = directory / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    config.write_text(user + NGINX_CONFIG.format(dir=directory, origin=origin_port, port=port))
    child = subprocess.Popen([executable, "-p", str(directory), "-e", str(directory / "error.log"),
                              "-c", str(config), "-g", "daemon off;"])
    try:
        wait_listening(port, [child])
        yield port
    finally:
        child.send_signal(signal.SIGQUIT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        shutil.rmtree(directory, ignore_errors=True)


# ---- costs and the report -----------------------------------------------------------------


def event_costs(phases: list[dict[str, Any]]) -> dict[str, float]:
    """Decisions per worker core-second, Redis commands per Redis core-second and Postgres
    transactions per backend core-second, over every phase of the events bench."""
    decisions = sum(p["requests"] for p in phases)
    worker_cpu = sum(p["worker_cpu_s"] for p in phases)
    redis_cpu = sum(p["redis_cpu_s"] for p in phases)
    commands = sum(p["redis_commands"] for p in phases)
    pg_cpu = sum(p["postgres_cpu_s"] for p in phases)
    transactions = sum(p["postgres_transactions"] for p in phases)
    return {
        "decisions_per_worker_core_s": round(decisions / max(worker_cpu, 1e-6)),
        "redis_commands_per_redis_core_s": round(commands / max(redis_cpu, 1e-6)),
        "redis_commands_per_decision": round(commands / max(decisions, 1), 2),
        "postgres_transactions_per_backend_core_s": round(transactions / max(pg_cpu, 1e-6)),
        "postgres_transactions_per_decision": round(transactions / max(decisions, 1), 3),
    }


def report(figures: dict[str, Any]) -> None:
    line = figures["line"]
    print(f"line of {figures['fans_in_line']:,} fans: "
          f"{figures['origin_polls_per_fan_per_min']} origin requests per fan per minute "
          f"(target <= 1); summary at the origin {line['summary_reads_at_origin_per_s']}/s "
          f"for {line['summary_reads_per_min']:,} reads a minute; "
          f"{line['own_polls_per_min']:,} own-place polls a minute "
          f"({line['own_polls_near_front_per_min']:,} near the front)")
    aggregate = figures["events_aggregate_decisions_per_s"]
    print(f"{figures['events_on_sale']} events: {aggregate} decisions/s; one hot event "
          f"{figures['single_event_drain_decisions_per_s']}/s")
    for name, value in figures["per_core"].items():
        print(f"  {name}: {value}")
