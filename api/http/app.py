"""The aiohttp application factory: `create_app(settings)`.

Clients (SQLAlchemy engine, async Redis) are opened and closed in
`cleanup_ctx`, so a test client and `onsale api` get the same lifecycle and
nothing is created at import time. Neither client connects here: the app
starts while Postgres or Redis are down, and /readyz reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio
import sqlalchemy
from aiohttp import web
from aiohttp.web_runner import GracefulExit
from aiohttp.web_server import Server

from api.http.appkeys import (
    DB_ENGINE_KEY,
    GATEWAY_KEY,
    READ_ENGINE_KEY,
    READINESS_KEY,
    REDIS_KEY,
    SETTINGS_KEY,
    Readiness,
)
from api.http.client_address import TRUSTED_PROXIES_KEY, TrustedProxies
from api.http.cors import cors_middleware
from api.http.errors import (
    MAX_HEADER_FIELD_BYTES,
    MAX_HEADERS,
    MAX_REQUEST_LINE_BYTES,
    JsonErrorRequestHandler,
    error_middleware,
)
from api.http.fast_path import fast_path_middleware
from api.http.metrics import http_metrics_middleware
from api.http.request_context import body_limit_middleware, request_context_middleware
from api.http.routes import add_feature_contexts, add_routes
from api.http.security_headers import add_security_headers
from api.http.static_files import static_files_middleware
from api.http.templates import setup_templates
from api.launcher.settings import Settings
from workers.gateway import PaymentGateway
from workers.gateways import make_gateway
from workers.redis_client import async_client
from workers.redis_packing import with_hiredis_packing

log = logging.getLogger(__name__)

REDIS_CONNECT_TIMEOUT_SECONDS = 2.0
REDIS_SOCKET_TIMEOUT_SECONDS = 5.0


class MissingServerError(RuntimeError):
    """The API was started without a Postgres or Redis URL to talk to."""


def create_app(settings: Settings, gateway: PaymentGateway | None = None) -> web.Application:
    """The API for `settings`. The launcher's root passes the payment gateway it built;
    without one, the one `ONSALE_PAYMENT_GATEWAY` names is made here (tests, benchmarks)."""
    if not settings.database_url or not settings.redis_url:
        raise MissingServerError(
            "ONSALE_DATABASE_URL and ONSALE_REDIS_URL must be set to run the API on its own; "
            "`onsale up` sets them (starting embedded servers if needed)"
        )
    app = web.Application(
        middlewares=[
            fast_path_middleware(settings.cors_origins),
            request_context_middleware,
            http_metrics_middleware,
            cors_middleware(settings.cors_origins),
            error_middleware,
            body_limit_middleware(settings.max_body_bytes),
            static_files_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app.on_response_prepare.append(add_security_headers)
    app[SETTINGS_KEY] = settings
    app[GATEWAY_KEY] = gateway if gateway is not None else make_gateway(settings.payment_gateway)
    app[TRUSTED_PROXIES_KEY] = TrustedProxies(settings.trusted_proxies)
    app[READINESS_KEY] = Readiness()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    add_feature_contexts(app)
    setup_templates(app)
    add_routes(app)
    return app


def make_db_engine(database_url: str, settings: Settings | None = None) -> sqlalchemy.Engine:
    """The store's engine factory when it exists, else a plain engine that checks connections.

    With `settings.database_max_connections` set, the pool is this process's share of
    the connection budget (engine/store/pool_budget.py)."""
    try:
        from engine.store.db import make_engine
        from engine.store.pool_budget import api_pool
    except ModuleNotFoundError as exc:
        if exc.name not in ("engine.store.db", "engine.store.pool_budget"):
            raise
        return sqlalchemy.create_engine(database_url, pool_pre_ping=True)
    if settings is None:
        return make_engine(database_url)
    if not settings.database_max_connections:
        return make_engine(database_url,
                           transaction_pooling=settings.database_transaction_pooling)
    pool = api_pool(max_connections=settings.database_max_connections,
                    reserved=settings.database_reserved_connections,
                    api_processes=settings.api_processes,
                    worker_processes=settings.workers, partitions=settings.partitions)
    return make_engine(database_url, pool_size=pool.pool_size, max_overflow=pool.max_overflow,
                       transaction_pooling=settings.database_transaction_pooling)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    db_engine = make_db_engine(settings.database_url or "", settings)
    app[DB_ENGINE_KEY] = db_engine
    read_engine = db_engine
    if settings.database_read_url:
        read_engine = make_db_engine(settings.database_read_url, settings)
    app[READ_ENGINE_KEY] = read_engine
    yield
    if read_engine is not db_engine:
        read_engine.dispose()
    db_engine.dispose()


def make_redis(settings: Settings) -> redis.asyncio.Redis:
    """The API process's Redis client. Its pool opens up to `ONSALE_REDIS_MAX_CONNECTIONS`
    connections: redis-py's default of 100 refuses the 101st concurrent command ("Too many
    connections") instead of waiting, which a surge reaches."""
    return with_hiredis_packing(async_client(
        settings.redis_url or "",
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
        max_connections=settings.redis_max_connections,
    ))


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = make_redis(app[SETTINGS_KEY])
    app[REDIS_KEY] = client
    yield
    await client.aclose()


class _JsonErrorServer(Server):
    def __call__(self) -> JsonErrorRequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer in the error shape even when a request never
    reaches the app (`JsonErrorRequestHandler`), with the parser limits that shape relies on.
    Every server of the API runs through it: `onsale api` (`run_api`) and the tests."""

    def __init__(self, app: web.Application, **kwargs: object) -> None:
        super().__init__(app, max_line_size=MAX_REQUEST_LINE_BYTES,
                         max_field_size=MAX_HEADER_FIELD_BYTES, max_headers=MAX_HEADERS,
                         **kwargs)  # type: ignore[arg-type]

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # one method differs; aiohttp builds the rest
        return server


def run_api(app: web.Application, *, host: str, port: int, shutdown_timeout: float,
            reuse_port: bool = False) -> None:
    """Serve `app` until SIGINT or SIGTERM, then shut it down gracefully (like `web.run_app`,
    through `ApiRunner`)."""

    async def serve() -> None:
        runner = ApiRunner(app, handle_signals=True, access_log=None,
                           shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(GracefulExit, KeyboardInterrupt):
        asyncio.run(serve())
