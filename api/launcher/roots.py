"""One composition root per process: read `Settings`, build what the process needs, run it.

Each `onsale` subcommand that is a long-running process (`api`, `worker`,
`payments-worker`, `notifier`, `admission-controller`, `autopilot`) is one function
here. It is the only code that turns settings into clients (Redis, Postgres) and
adapters (the payment gateway, the mailer, the signing key); the packages below
(`workers/`, `waitingroom/`, the API's rooms) take them built, or as plain values,
and never read settings of their own. Each root closes what it opened.
"""

from __future__ import annotations

import asyncio
import logging

from api.launcher.settings import Settings

log = logging.getLogger("onsale")

REDIS_HEALTH_CHECK_SECONDS = 30
AUTOPILOT_REDIS_CONNECT_TIMEOUT_SECONDS = 2.0
AUTOPILOT_REDIS_SOCKET_TIMEOUT_SECONDS = 5.0
WORKER_REDIS_CONNECT_TIMEOUT_SECONDS = 2.0
WORKER_REDIS_SOCKET_TIMEOUT_SECONDS = 5.0


def serve_api(settings: Settings) -> int:
    """`onsale api`: the HTTP API until SIGTERM or SIGINT."""
    from api.http.app import MissingServerError, create_app, run_api
    from workers.gateways import make_gateway

    try:
        app = create_app(settings, gateway=make_gateway(settings.payment_gateway))
    except MissingServerError as exc:
        log.error("%s", exc)
        return 2
    log.info("API listening on http://%s:%d", settings.host, settings.port)
    # no aiohttp access log: one line per request comes from the request-context middleware;
    # ApiRunner answers what aiohttp's parser refuses in the error shape
    run_api(app, host=settings.host, port=settings.port, shutdown_timeout=5.0,
            reuse_port=True)  # `onsale up --api-processes N` runs N of these on one port
    return 0


def run_worker(settings: Settings) -> int:
    """`onsale worker`: one partition consumer process."""
    from engine.store.db import make_engine
    from workers.consumer import ConsumerConfig
    from workers.main import run
    from workers.redis_client import sync_client

    # Timeouts: an unreachable Redis (no reset ever comes) fails a call instead of hanging
    # the consumer; its longest blocking command waits well under a second.
    redis = sync_client(settings.redis_url or "",
                        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
                        socket_connect_timeout=WORKER_REDIS_CONNECT_TIMEOUT_SECONDS,
                        socket_timeout=WORKER_REDIS_SOCKET_TIMEOUT_SECONDS)
    # Each partition consumer keeps one connection for its commits; loads use the rest.
    engine = make_engine(settings.database_url or "", pool_size=settings.partitions + 2,
                         transaction_pooling=settings.database_transaction_pooling)
    try:
        run(redis, engine, redis_prefix=settings.redis_prefix, partitions=settings.partitions,
            config=ConsumerConfig(batch_max=settings.batch_max,
                                  lease_ttl_ms=settings.lease_ttl_ms))
    finally:
        engine.dispose()
        redis.close()
    return 0


def run_payments_worker(settings: Settings) -> int:
    """`onsale payments-worker`: the payments queue, on the gateway the settings name."""
    from engine.store.db import make_engine
    from workers.gateways import make_gateway
    from workers.main import run_payments
    from workers.redis_client import sync_client

    # RQ sets the socket timeout itself, above its blocking dequeue's wait.
    redis = sync_client(settings.redis_url or "",
                        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
                        socket_connect_timeout=WORKER_REDIS_CONNECT_TIMEOUT_SECONDS)
    engine = make_engine(settings.database_url or "",
                         transaction_pooling=settings.database_transaction_pooling)
    try:
        run_payments(redis, engine, make_gateway(settings.payment_gateway),
                     redis_prefix=settings.redis_prefix, partitions=settings.partitions,
                     max_queue_depth=settings.max_queue_depth,
                     signing_key=settings.signing_key(), site_url=settings.site_url())
    finally:
        engine.dispose()
        redis.close()
    return 0


def run_notifier(settings: Settings) -> int:
    """`onsale notifier`: the notifications outbox, to the mailer `ONSALE_MAIL_URL` names."""
    from engine.store.db import make_engine
    from workers.mailers import make_mailer
    from workers.main import run_notifier as run

    mailer = make_mailer(settings.mail_url, settings.mail_from)
    engine = make_engine(settings.database_url or "",
                         transaction_pooling=settings.database_transaction_pooling)
    logging.getLogger("onsale.mail").info("notifier: sending to %s", settings.mail_url)
    try:
        run(engine, mailer)
    finally:
        engine.dispose()
    return 0


def run_admission_controller(settings: Settings) -> int:
    """`onsale admission-controller`: advances every waiting room at its ops-set rate."""
    from waitingroom.main import run
    from workers.intent_holds import IntentHolds
    from workers.keys import Keys
    from workers.redis_client import async_client

    keys = Keys(settings.redis_prefix)
    return run(
        settings.redis_url or "",
        settings.redis_prefix,
        connect=async_client,
        admission_hook=lambda client: IntentHolds(
            client, keys, settings.partitions, settings.max_queue_depth),
    )


def run_autopilot(settings: Settings) -> int:
    """`onsale autopilot`: steers the admission rate where ops turned the autopilot on."""
    asyncio.run(_autopilot(settings))
    return 0


async def _autopilot(settings: Settings) -> None:
    from api.ops.autopilot_runner import serve
    from api.ops.common import make_services
    from engine.store.db import make_engine
    from workers.redis_client import async_client

    redis = async_client(
        settings.redis_url or "",
        socket_connect_timeout=AUTOPILOT_REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=AUTOPILOT_REDIS_SOCKET_TIMEOUT_SECONDS,
        health_check_interval=REDIS_HEALTH_CHECK_SECONDS,
    )
    db = make_engine(settings.database_url or "",
                     transaction_pooling=settings.database_transaction_pooling)
    try:
        await serve(make_services(settings, redis, db))
    finally:
        await redis.aclose()
        db.dispose()
