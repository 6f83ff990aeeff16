"""Schemathesis over /openapi.json: generated requests for every operation find no 5xx.

The app runs in a thread on a free 127.0.0.1 port (Schemathesis sends plain
blocking requests). Calls carry an ops session so the signed-in paths are
exercised too. Streams (SSE) are left out: a valid request would hold the
connection open for minutes. Bounded: a few examples per operation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import Engine

from api.http.app import create_app
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.support.catalog_http import make_listed_event, quick_account, unique_city

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 12
TIME_BUDGET_SECONDS = 60.0
SKIPPED_OPERATIONS = {("post", "/auth/logout")}  # would revoke the session the run uses


@pytest.fixture()
def live_url(settings: Settings, redis_client: Any) -> Iterator[str]:
    """The app served from a thread with its own event loop."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(create_app(settings), access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(15), "the app did not start"
    yield state["url"]
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    thread.join(timeout=15)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


def test_no_operation_answers_5xx(live_url: str, engine: Engine) -> None:
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    make_listed_event(engine, city=unique_city())  # something to find
    headers = quick_account(engine, "ops")
    document = requests.get(f"{live_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    failures: list[str] = []
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    tried = 0
    without_input = 0  # pages such as /signin: one example is all there is
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.lower(), operation.path
        responses = document["paths"][path][method].get("responses", {})
        streams = any("text/event-stream" in (r.get("content") or {}) for r in responses.values())
        if streams or (method, path) in SKIPPED_OPERATIONS:
            continue
        if time.monotonic() > deadline:
            failures.append(f"time budget spent before {method.upper()} {path}")
            break
        tried += 1
        described = document["paths"][path]
        if not (described[method].get("parameters") or described[method].get("requestBody")
                or described.get("parameters")):
            without_input += 1

        @given(case=st.one_of(operation.as_strategy(),
                              operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def exercise(case: Any) -> None:
            response = case.call(base_url=live_url, session=session, timeout=10,
                                 headers={**headers, **(case.headers or {})})
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> "
                                f"{response.status_code}: {response.text[:300]}")

        exercise()
    assert tried > 20 and len(calls) > 10 * (tried - without_input), \
        "too few operations or examples exercised"
    assert not failures, "\n".join(sorted(set(failures))[:20])
