"""Who is calling: bearer session tokens, resolved through a short Redis cache.

Only the SHA-256 of a token is stored (Postgres `sessions`); the cache entry
lives a minute, and logout deletes it, so a revoked token stops working at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiohttp import web

from api.http.appkeys import DB_ENGINE_KEY, REDIS_KEY, SETTINGS_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from engine.store.models import User, UserSession
from waitingroom.wire import text

SESSION_TTL = timedelta(days=7)
SESSION_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    role: str
    email: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cache_key(request: web.Request, digest: str) -> str:
    return f"{request.config_dict[SETTINGS_KEY].redis_prefix}:session:{digest}"


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def optional_principal(request: web.Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    if not (token.isascii() and token.isprintable()):  # no session token looks otherwise
        raise ApiError(ApiErrorCode.UNAUTHORIZED,
                       "The session token is unknown, expired or revoked.")
    digest = token_hash(token)
    redis = request.config_dict[REDIS_KEY]
    cached = await redis.get(_cache_key(request, digest))
    if cached:
        user_id, role, email = text(cached).split("|", 2)
        return Principal(int(user_id), role, email)
    principal = await asyncio.to_thread(_lookup, request.config_dict[DB_ENGINE_KEY], digest)
    if principal is None:
        raise ApiError(ApiErrorCode.UNAUTHORIZED,
                       "The session token is unknown, expired or revoked.")
    await redis.set(
        _cache_key(request, digest),
        f"{principal.user_id}|{principal.role}|{principal.email}",
        ex=SESSION_CACHE_SECONDS,
    )
    return principal


async def require_principal(request: web.Request, *roles: str) -> Principal:
    """The caller, who must be signed in and (if roles are given) have one of them."""
    principal = await optional_principal(request)
    if principal is None:
        raise ApiError(ApiErrorCode.UNAUTHORIZED, "Sign in: send `Authorization: Bearer <token>`.")
    if roles and principal.role not in roles:
        raise ApiError(ApiErrorCode.FORBIDDEN,
                       f"This needs the {' or '.join(roles)} role.", {"role": principal.role}
        )
    return principal


def _lookup(engine: sa.Engine, digest: str) -> Principal | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(User.id, User.role, User.email)
            .join(UserSession, UserSession.user_id == User.id)
            .where(
                UserSession.token_hash == digest,
                UserSession.revoked.is_(False),
                UserSession.expires_at > sa.func.now(),
            )
        ).first()
    return Principal(int(row[0]), row[1], row[2]) if row else None


def open_session(engine: sa.Engine, user_id: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + SESSION_TTL
    with engine.begin() as conn:
        conn.execute(
            sa.insert(UserSession).values(
                token_hash=token_hash(token), user_id=user_id, expires_at=expires_at
            )
        )
    return token, expires_at


async def close_session(request: web.Request, token: str) -> None:
    digest = token_hash(token)

    def revoke() -> None:
        with request.config_dict[DB_ENGINE_KEY].begin() as conn:
            conn.execute(
                sa.update(UserSession).where(UserSession.token_hash == digest).values(revoked=True)
            )

    await asyncio.to_thread(revoke)
    await request.config_dict[REDIS_KEY].delete(_cache_key(request, digest))
