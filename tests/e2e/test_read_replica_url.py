"""`database_read_url`: browse and search read from it; nothing else does (holds and sales
never see a replica's lag)."""

from __future__ import annotations

import ast
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from api.http.app import create_app
from api.http.appkeys import READ_ENGINE_KEY
from api.launcher.settings import Settings
from engine.store.db import make_engine
from tests.e2e.conftest import AiohttpClient
from tests.support.catalog_http import make_listed_event, unique_city
from tests.support.databases import TEST_DATABASE_PREFIX, create_database, drop_database

pytestmark = pytest.mark.e2e

API = Path(__file__).resolve().parents[2] / "api"
READERS = {"browse_document", "search_document"}


@pytest.fixture()
def replica_url(pg_admin_url: str) -> Iterator[str]:
    """A second migrated database standing in for a replica that has not caught up."""
    from engine.store.migrate import upgrade_to_head

    name = f"{TEST_DATABASE_PREFIX}replica_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(pg_admin_url, name)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


async def test_browse_and_search_read_the_replica_and_event_pages_the_primary(
    settings: Settings, replica_url: str, aiohttp_client: AiohttpClient
) -> None:
    primary = make_engine(settings.database_url or "")
    city = unique_city()
    event_id = make_listed_event(primary, city=city, name="Zephyr Replica Night")
    primary.dispose()
    client = await aiohttp_client(create_app(settings.replace(database_read_url=replica_url)))
    checkouts: list[Any] = []
    event.listen(client.app[READ_ENGINE_KEY], "checkout", lambda *args: checkouts.append(args))

    browse = await (await client.get(f"/events?city={city}")).json()
    search = await (await client.get(f"/search?q=zephyr&city={city}")).json()
    assert browse["events"] == [] and search["results"] == []
    assert len(checkouts) >= 2, "browse and search read the replica"

    seen = len(checkouts)
    details = await client.get(f"/events/{event_id}", headers={"Accept": "application/json"})
    assert details.status == 200, "the event itself comes from the primary"
    assert len(checkouts) == seen


def test_only_browse_and_search_use_the_read_engine() -> None:
    users: set[str] = set()
    for path in API.rglob("*.py"):
        if "READ_ENGINE_KEY" not in path.read_text():
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if any(isinstance(node, ast.Name) and node.id == "READ_ENGINE_KEY"
                   for node in ast.walk(function)):
                users.add(f"{path.relative_to(API)}:{function.name}")
    assert users == {"fan/catalog.py:browse_document", "fan/catalog.py:search_document",
                     "http/app.py:_database"}
