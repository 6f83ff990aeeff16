"""Liveness and readiness, for process supervisors and load balancers.

`/healthz` answers from memory: the process is up and its event loop turns.
`/readyz` says whether this instance can serve bookings now: Postgres answers,
Redis answers, and the schema is at the newest migration. A load balancer
sends traffic only to ready instances; a supervisor restarts only unhealthy
ones, so a database outage does not turn into a restart storm.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy
from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY, READINESS_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError

CHECK_TIMEOUT_SECONDS = 3.0

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    names_and_checks: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "postgres": lambda: _check_postgres(app),
        "redis": lambda: _check_redis(app),
        "migrations": lambda: _check_migrations(app),
    }
    results = await asyncio.gather(*(_timed(check) for check in names_and_checks.values()))
    checks = dict(zip(names_and_checks, results, strict=True))
    if all(result["ok"] for result in checks.values()):
        return web.json_response({"status": "ready", "checks": checks})
    failing = sorted(name for name, result in checks.items() if not result["ok"])
    raise ApiError(ApiErrorCode.NOT_READY,
                   f"not ready: {', '.join(failing)} failing", {"checks": checks})


async def _timed(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        result = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"}
    except Exception as exc:  # a failing dependency is the answer, not an error
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


async def _check_postgres(app: web.Application) -> dict[str, Any]:
    db_engine = app[DB_ENGINE_KEY]

    def select_one() -> None:
        with db_engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))

    await asyncio.to_thread(select_one)
    return {"ok": True}


async def _check_redis(app: web.Application) -> dict[str, Any]:
    await app[REDIS_KEY].ping()
    return {"ok": True}


async def _check_migrations(app: web.Application) -> dict[str, Any]:
    """Asks the database once it is current, then trusts the answer.

    Migrations only move forward while the process runs; a negative answer
    is asked again, so an instance becomes ready as soon as `onsale migrate` ran.
    """
    readiness = app[READINESS_KEY]
    if readiness.migrations_current:
        return {"ok": True, "cached": True}
    from engine.store.migrate import is_current

    database_url = app[SETTINGS_KEY].database_url or ""
    current = await asyncio.to_thread(is_current, database_url)
    if not current:
        return {"ok": False, "error": "schema is behind the newest migration; run `onsale migrate`"}
    readiness.migrations_current = True
    return {"ok": True}


from api.http.openapi_spec import ok, operation  # noqa: E402  (documentation, kept after the code)

OPENAPI_PATHS: dict[str, Any] = {
    "/healthz": {"get": operation(
        "Liveness", who="anyone (process supervisors)", tags=["Health"],
        responses={200: ok({"type": "object"}, "The process is up.")})},
    "/readyz": {"get": operation(
        "Readiness", who="anyone (load balancers)", tags=["Health"],
        errors=(ApiErrorCode.DATABASE_UNAVAILABLE, ApiErrorCode.NOT_READY),
        description="Ready when Postgres and Redis answer and the schema is current; "
                    "a 503 `not_ready` lists the failing checks in `details.checks`.",
        responses={200: ok({"type": "object"}, "Ready, with each check's latency.")})},
}
