"""The ops API: only ops get in; every change is audited (who, old -> new) and live at once;
figures come from the live pipeline (a partition consumer with the metrics hook runs behind
the app); /metrics exposes the pipeline and the waiting room in Prometheus' format."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from redis import Redis

from api.fan.identity import open_session
from api.http.app import create_app
from api.http.metrics import http_metrics_middleware
from api.launcher.settings import Settings
from api.ops.autopilot_runner import AutopilotRunner
from api.ops.common import OPS_KEY
from engine.store import presales
from engine.store.db import make_engine
from tests.e2e.conftest import AiohttpClient
from tests.support.booking import consumers_running, make_event
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys
from workers.metrics import BatchMetrics
from workers.partitions import partition_for

pytestmark = pytest.mark.e2e

OPS_ENDPOINTS = (
    ("GET", "/ops/events"),
    ("GET", "/ops/events/{event}/stats"),
    ("GET", "/ops/events/{event}/stream"),
    ("GET", "/ops/events/{event}/waiting-room"),
    ("PATCH", "/ops/events/{event}/waiting-room"),
    ("POST", "/ops/events/{event}/autopilot"),
    ("GET", "/ops/audit"),
    ("GET", "/ops/partitions"),
)


@pytest.fixture()
def ops_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.replace(data_dir=tmp_path, partitions=2)


@pytest.fixture()
def engine(database_url: str) -> Iterator[sa.Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


@pytest.fixture()
async def api(
    ops_settings: Settings, aiohttp_client: AiohttpClient, redis_client: Redis
) -> TestClient[Any, Any]:
    """`redis_client` is requested for its teardown: it deletes the test prefix's keys."""
    return await aiohttp_client(create_app(ops_settings))


@pytest.fixture()
def event_id(engine: sa.Engine) -> int:
    return make_event(engine, rows=4, seats_per_row=10, buyer_limit=8)


@pytest.fixture()
def consumer(
    ops_settings: Settings, engine: sa.Engine, event_id: int, redis_client: Redis
) -> Iterator[str]:
    """The event's partition consumer, in a thread, reporting through the metrics hook."""
    keys = Keys(ops_settings.redis_prefix)
    partition = partition_for(event_id, ops_settings.partitions, {})
    with consumers_running(redis_client, keys, engine, [partition], "ops-e2e-worker",
                           on_batch=BatchMetrics(redis_client, keys).on_batch):
        yield partition


class Headers(dict[str, str]):
    email: str


async def account(api: TestClient[Any, Any], engine: sa.Engine, name: str,
                  role: str = "fan") -> Headers:
    """A signed-in account with a unique email (the e2e database lives for the session).

    Made in the database directly: sign-in itself is tested elsewhere, and two argon2
    hashes per account would cost seconds here."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    with engine.begin() as conn:
        user_id = conn.execute(sa.text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES (:email, 'not-a-hash', :role, :name) RETURNING id"),
            {"email": email, "role": role, "name": name}).scalar_one()
    token, _ = open_session(engine, user_id)
    headers = Headers(Authorization=f"Bearer {token}")
    headers.email = email
    return headers


async def open_room(api: TestClient[Any, Any], ops: dict[str, str], event_id: int,
                    **changes: Any) -> dict[str, Any]:
    response = await api.patch(f"/ops/events/{event_id}/waiting-room", headers=ops,
                               json={"sale": "open", **changes})
    assert response.status == 200, await response.text()
    return await response.json()


def enqueue_holds(settings: Settings, redis: Redis, event_id: int, count: int) -> None:
    """Booking requests through the pipeline's own enqueue (what the API does after admission)."""
    queue = SyncRequestQueue(redis, Keys(settings.redis_prefix), settings.max_queue_depth)
    partition = partition_for(event_id, settings.partitions, {})
    for buyer in range(count):
        queue.enqueue(event_id=event_id, buyer_id=10_000 + buyer, kind="hold",
                      params={"quantity": 1}, partition=partition)


async def test_only_ops_get_in(api: TestClient[Any, Any], engine: sa.Engine,
                               event_id: int) -> None:
    fan = await account(api, engine, "fan")
    organizer = await account(api, engine, "org", role="organizer")
    for method, template in OPS_ENDPOINTS:
        path = template.format(event=event_id)
        body = {"paused": True} if method != "GET" else None
        anonymous = await api.request(method, path, json=body)
        assert anonymous.status == 401, (method, path)
        assert (await anonymous.json())["error"]["code"] == "unauthorized"
        for headers in (fan, organizer):
            refused = await api.request(method, path, json=body, headers=headers)
            assert refused.status == 403, (method, path)
            assert (await refused.json())["error"]["code"] == "forbidden"
    page = await api.get("/ops")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert "onsale" in await page.text()
    asset = await api.get("/ops/static/vendor/uplot/uPlot.iife.min.js")
    assert asset.status == 200
    assert (await api.get("/ops/static/../ops/index.html")).status == 404


async def test_changes_are_audited_with_who_old_and_new(
        api: TestClient[Any, Any], engine: sa.Engine, event_id: int) -> None:
    ops = await account(api, engine, "ops", role="ops")
    created = await open_room(api, ops, event_id, new_users_per_minute=120)
    assert created["sale_state"] == "on_sale"
    assert created["config"]["new_users_per_minute"] == 120
    assert {c["field"] for c in created["changes"]} >= {"new_users_per_minute", "opens_at"}

    changed = await api.patch(f"/ops/events/{event_id}/waiting-room", headers=ops,
                              json={"new_users_per_minute": 300, "max_active_users": 50})
    assert changed.status == 200
    changes = {c["field"]: c for c in (await changed.json())["changes"]}
    assert set(changes) == {"new_users_per_minute", "max_active_users"}
    assert changes["new_users_per_minute"]["old"] == 120
    assert changes["new_users_per_minute"]["new"] == 300
    assert changes["max_active_users"]["actor"] == ops.email

    live = await api.get(f"/ops/events/{event_id}/waiting-room", headers=ops)
    assert (await live.json())["config"]["new_users_per_minute"] == 300, "in force at once"
    log = await (await api.get(f"/ops/audit?event_id={event_id}", headers=ops)).json()
    newest = log["entries"][0]
    assert newest["actor"] == ops.email and newest["event_id"] == event_id
    assert {(e["field"], e["old"], e["new"]) for e in log["entries"][:2]} == {
        ("new_users_per_minute", 120, 300), ("max_active_users", 1000, 50)}
    assert all(e["action"] == "waiting_room.update" for e in log["entries"][:2])
    assert log["entries"][-1]["action"] == "waiting_room.create"

    bad = await api.patch(f"/ops/events/{event_id}/waiting-room", headers=ops,
                          json={"pow_difficulty_bits": 99})
    assert bad.status == 400
    assert (await bad.json())["error"]["details"]["field"] == "pow_difficulty_bits"
    unknown = await api.patch("/ops/events/999999/waiting-room", headers=ops,
                              json={"sale": "open"})
    assert unknown.status == 404


async def test_close_and_reopen_the_sale(api: TestClient[Any, Any], engine: sa.Engine,
                                         event_id: int) -> None:
    ops = await account(api, engine, "ops", role="ops")
    fan = await account(api, engine, "fan")
    await open_room(api, ops, event_id)
    closed = await api.patch(f"/ops/events/{event_id}/waiting-room", headers=ops,
                             json={"sale": "closed"})
    body = await closed.json()
    assert body["sale_state"] == "closed" and body["config"]["paused"] is True
    join = await api.post(f"/events/{event_id}/queue", headers=fan)
    assert join.status == 409 and (await join.json())["error"]["code"] == "queue_closed"
    reopened = await open_room(api, ops, event_id)
    assert reopened["sale_state"] == "on_sale" and reopened["config"]["paused"] is False
    assert (await api.post(f"/events/{event_id}/queue", headers=fan)).status == 201


async def test_figures_follow_the_pipeline(
        api: TestClient[Any, Any], engine: sa.Engine, event_id: int, consumer: str,
        ops_settings: Settings, redis_client: Redis) -> None:
    ops = await account(api, engine, "ops", role="ops")
    fan = await account(api, engine, "fan")
    await open_room(api, ops, event_id, new_users_per_minute=600)
    assert (await api.post(f"/events/{event_id}/queue", headers=fan)).status == 201
    enqueue_holds(ops_settings, redis_client, event_id, 12)
    for _ in range(100):
        await asyncio.sleep(0.1)
        stats = await (await api.get(f"/ops/events/{event_id}/stats", headers=ops)).json()
        if stats["inventory"]["holds_open"] == 12 and stats["point"]["decisions_per_second"]:
            break
    point = stats["point"]
    assert stats["partition"]["name"] == consumer
    assert stats["inventory"]["holds_open"] == 12 and stats["inventory"]["capacity"] == 40
    assert point["decisions_per_second"] > 0
    assert point["outcomes_per_second"]["held"] > 0
    assert 0 < point["latency_p50_seconds"] <= point["latency_p99_seconds"] < 30
    assert stats["room"]["joined"] == 1 and point["rate_setting"] == 600
    assert stats["history"], "the sampled seconds come back as history"

    stream = await api.get(f"/ops/events/{event_id}/stream", headers=ops)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    first = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
    event, data = first.decode().strip().split("\n", 1)
    assert event == "event: stats"
    assert json.loads(data.removeprefix("data: "))["event_id"] == event_id
    stream.close()

    partitions = await (await api.get("/ops/partitions", headers=ops)).json()
    mine = next(p for p in partitions["partitions"] if p["partition"] == consumer)
    assert mine["holder"] == "ops-e2e-worker" and mine["fencing_token"] >= 1
    assert mine["decisions_total"] >= 12


async def test_autopilot_switch_is_audited_and_steers(
        api: TestClient[Any, Any], engine: sa.Engine, event_id: int) -> None:
    ops = await account(api, engine, "ops", role="ops")
    await open_room(api, ops, event_id, new_users_per_minute=100)
    for n in range(3):  # fans waiting, nobody admitting them: the rate is what binds
        fan = await account(api, engine, f"fan{n}")
        assert (await api.post(f"/events/{event_id}/queue", headers=fan)).status == 201
    switched = await api.post(f"/ops/events/{event_id}/autopilot", headers=ops,
                              json={"enabled": True, "target_p99_seconds": 0.25})
    assert switched.status == 200, await switched.text()
    changes = {c["field"]: c for c in (await switched.json())["changes"]}
    assert changes["enabled"]["old"] is False and changes["enabled"]["new"] is True
    assert changes["target_p99_seconds"]["new"] == 0.25
    bad = await api.post(f"/ops/events/{event_id}/autopilot", headers=ops,
                         json={"target_queue_depth": 0})
    assert bad.status == 400

    runner = AutopilotRunner(api.app[OPS_KEY], "test-runner")
    now = time.time()
    rates = [await runner.step_event(event_id, now + step) for step in range(4)]
    assert rates[0] is not None and rates[-1] is not None
    assert 100 < rates[0] < rates[-1], "no load, fans waiting: the autopilot opens up"
    room = await (await api.get(f"/ops/events/{event_id}/waiting-room", headers=ops)).json()
    assert room["config"]["new_users_per_minute"] == rates[-1]
    assert room["autopilot"]["last_step"]["driver"] == "queue"
    await runner.step_event(event_id, now + 15)
    log = await (await api.get(f"/ops/audit?event_id={event_id}", headers=ops)).json()
    adjusted = [e for e in log["entries"] if e["action"] == "autopilot.adjust"]
    assert adjusted and adjusted[0]["actor"] == "autopilot"
    assert adjusted[0]["old"] == 100 and adjusted[0]["new"] > 100


async def test_metrics_exposes_pipeline_and_room(
        api: TestClient[Any, Any], engine: sa.Engine, event_id: int, consumer: str,
        ops_settings: Settings, redis_client: Redis) -> None:
    ops = await account(api, engine, "ops", role="ops")
    await open_room(api, ops, event_id)
    enqueue_holds(ops_settings, redis_client, event_id, 3)
    for _ in range(50):
        await asyncio.sleep(0.1)
        text = await (await api.get("/metrics")).text()
        if f'onsale_event_holds_open{{event_id="{event_id}"}} 3.0' in text:
            break
    assert f'onsale_booking_decisions_total{{event_id="{event_id}",outcome="held"}}' in text
    assert f'onsale_booking_decision_latency_seconds_bucket{{event_id="{event_id}"' in text
    assert f'onsale_waitingroom_waiting_fans{{event_id="{event_id}"}}' in text
    assert f'onsale_booking_queue_depth{{partition="{consumer}"}}' in text
    assert f'onsale_event_holds_open{{event_id="{event_id}"}} 3.0' in text
    assert "onsale_booking_batch_requests_bucket" in text
    for line in text.splitlines():
        if line.startswith("onsale_"):
            assert "user" not in line.split("{")[0] + line.partition("{")[2].split("}")[0], line


async def test_api_requests_are_timed_by_route_and_counted_per_event(
        api: TestClient[Any, Any], engine: sa.Engine, event_id: int) -> None:
    assert http_metrics_middleware in api.app.middlewares, (
        "api.http.app.create_app must include api.http.metrics.http_metrics_middleware")
    ops = await account(api, engine, "ops", role="ops")
    await open_room(api, ops, event_id)
    await api.get("/healthz")
    for _ in range(3):
        assert (await api.get(f"/events/{event_id}/queue")).status == 200
    assert (await api.post(f"/events/{event_id}/queue")).status == 401
    text = await (await api.get("/metrics")).text()
    assert 'onsale_http_request_duration_seconds_count{method="GET",route="/healthz"}' in text
    assert 'onsale_http_responses_total{method="GET",route="/healthz",status="200"}' in text
    route = "/events/{event_id}/queue"
    assert f'onsale_http_responses_total{{method="POST",route="{route}",status="401"}}' in text
    for _ in range(40):  # flushed to the dashboard's counters once a second
        await asyncio.sleep(0.25)
        point = (await (await api.get(f"/ops/events/{event_id}/stats",
                                      headers=ops)).json())["point"]
        if point["http_per_second"] and point["http_4xx_per_second"]:
            break
    assert point["http_per_second"] * 5 >= 4 and point["http_4xx_per_second"] * 5 >= 1
    assert point["error_ratio"] == 0.0, "4xx are the clients' errors; the ratio counts 5xx"


async def test_a_new_room_shows_the_stock_before_the_partition_has_it(
    api: TestClient[Any, Any], engine: sa.Engine, event_id: int
) -> None:
    """No partition has loaded the event (no consumer runs here), yet the line shows the
    40 seats left from the moment the room opens, counted from the catalog's read model;
    the partition's own figure, once published, is never overwritten by the seed."""
    ops = await account(api, engine, "ops-seed", role="ops")
    view = await open_room(api, ops, event_id)
    assert view["summary"]["tickets_left"] == 40
    fan = await account(api, engine, "fan-seed")
    joined = await api.post(f"/events/{event_id}/queue", headers=fan)
    assert joined.status == 201, await joined.text()
    ticket = (await joined.json())["ticket"]
    body = await (await api.get(f"/events/{event_id}/queue/{ticket}")).json()
    assert (body["tickets_left"], body["stock"]) == (40, "available"), body

    room = api.app[OPS_KEY].room
    await api.app[OPS_KEY].redis.hset(room.keys(event_id).state, "tickets_left", 7)
    changed = await api.patch(f"/ops/events/{event_id}/waiting-room", headers=ops,
                              json={"paused": False})
    assert changed.status == 200
    assert (await changed.json())["summary"]["tickets_left"] == 7


async def test_the_seeded_stock_leaves_out_tiers_a_presale_keeps_from_the_line(
    api: TestClient[Any, Any], engine: sa.Engine, event_id: int
) -> None:
    """A presale that ended keeps its tier (the front rows, 20 of the 40 seats) locked: the
    line's first figure counts only the other 20, as the partition will."""
    now = datetime.now(UTC)
    presales.create_presale(engine, event_id, "Club", now - timedelta(hours=2),
                            now - timedelta(hours=1), ["front"], 10)
    ops = await account(api, engine, "ops-presale-seed", role="ops")
    view = await open_room(api, ops, event_id)
    assert view["summary"]["tickets_left"] == 20
