"""Register, sign in, sign out, and who am I.

Passwords are hashed with argon2 (argon2-cffi's defaults). New accounts are
fans; organizer and ops accounts are created by ops or the demo data.
Sign-ups and sign-ins are rate limited and argon2 runs in bounded slots
(api/sign_in_limits.py). A sign-in for an unknown email checks the password
against a stand-in hash, so it takes as long as one for a known email and the
answer (401 `invalid_credentials`) is the same.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.fan.identity import bearer_token, close_session, open_session, require_principal
from api.fan.sign_in_limits import PasswordWork, record_sign_in, spend_sign_in, spend_sign_up
from api.http.appkeys import DB_ENGINE_KEY
from api.http.body_schema import object_schema
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from engine.store.models import User

routes = web.RouteTableDef()
_hasher = PasswordHasher()
PASSWORD_WORK_KEY = web.AppKey("password_work", PasswordWork)


async def accounts_ctx(app: web.Application) -> AsyncIterator[None]:
    app[PASSWORD_WORK_KEY] = PasswordWork()
    yield


@functools.cache
def _stand_in_hash() -> str:
    """A hash no password matches, for sign-ins with an unknown email (made once)."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _check_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a stored value that is no argon2 hash (an account made
    without a password) matches nothing."""
    try:
        _hasher.verify(password_hash or _stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
"""OWASP ASVS 2.1.1 and 2.1.2: at least 12 characters, up to 128 (no other composition rule)."""
MAX_SIGN_IN_PASSWORD_LENGTH = 1024


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            f"{name}: required string",
            {"field": name, "reason": "required string"},
        )
    return value.strip()


_EMAIL_FIELD = {"format": "email", "maxLength": 254}
MAX_DISPLAY_NAME_LENGTH = 80


@dataclass(frozen=True)
class SignUp:
    """The body of a sign-up (unknown properties are ignored)."""

    email: Annotated[str, _EMAIL_FIELD]
    """Kept lower-case; the account's sign-in name."""
    password: Annotated[str, {"minLength": MIN_PASSWORD_LENGTH,
                              "maxLength": MAX_PASSWORD_LENGTH}]
    display_name: Annotated[str, {"maxLength": MAX_DISPLAY_NAME_LENGTH}] = ""
    """The name shown; the email's local part when absent or empty."""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SignUp:
        email = _field(body, "email").lower()
        password = _field(body, "password")
        name = str(body.get("display_name") or email.split("@")[0])[:MAX_DISPLAY_NAME_LENGTH]
        if not EMAIL.match(email):
            raise ApiError(
                ApiErrorCode.INVALID_REQUEST,
                "email: not an email address",
                {"field": "email", "reason": "not an email address"},
            )
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise ApiError(ApiErrorCode.INVALID_REQUEST,
                f"password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
                {"field": "password",
                 "reason": "too short" if len(password) < MIN_PASSWORD_LENGTH else "too long"},
            )
        return cls(email, password, name)


@dataclass(frozen=True)
class SignIn:
    """The body of a sign-in (unknown properties are ignored)."""

    email: Annotated[str, _EMAIL_FIELD]
    password: Annotated[str, {"minLength": 1, "maxLength": MAX_SIGN_IN_PASSWORD_LENGTH}]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SignIn:
        email = _field(body, "email").lower()
        password = _field(body, "password")
        if len(password) > MAX_SIGN_IN_PASSWORD_LENGTH:
            raise ApiError(ApiErrorCode.INVALID_REQUEST, "password: too long",
                           {"field": "password", "reason": "too long"})
        return cls(email, password)


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    """Anyone: create a fan account and get a session token."""
    sign_up = SignUp.from_json(await read_json(request))
    email, password, name = sign_up.email, sign_up.password, sign_up.display_name
    await spend_sign_up(request)
    password_hash = await request.app[PASSWORD_WORK_KEY].run(_hasher.hash, password)
    engine = request.app[DB_ENGINE_KEY]

    def create() -> int | None:
        with engine.begin() as conn:
            return conn.execute(
                sa.dialects.postgresql.insert(User)
                .values(email=email, password_hash=password_hash, role="fan", display_name=name)
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(User.id)
            ).scalar()

    user_id = await asyncio.to_thread(create)
    if user_id is None:
        raise ApiError(ApiErrorCode.EMAIL_TAKEN, "An account with this email exists; sign in.")
    token, expires_at = await asyncio.to_thread(open_session, engine, user_id)
    return web.json_response(
        {
            "user": {"id": user_id, "email": email, "role": "fan", "display_name": name},
            "token": token,
            "expires_at": expires_at.isoformat(),
        },
        status=201,
    )


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    """Anyone: exchange email + password for a session token."""
    sign_in = SignIn.from_json(await read_json(request))
    email, password = sign_in.email, sign_in.password
    engine = request.app[DB_ENGINE_KEY]

    def find() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(User.id, User.password_hash, User.role, User.display_name).where(
                    User.email == email
                )
            ).first()

    await spend_sign_in(request, email)
    row = await asyncio.to_thread(find)
    matches = await request.app[PASSWORD_WORK_KEY].run(
        _check_password, None if row is None else row.password_hash, password)
    await record_sign_in(request, email, succeeded=matches)
    if not matches:
        raise ApiError(ApiErrorCode.INVALID_CREDENTIALS, "Email or password is wrong.")
    token, expires_at = await asyncio.to_thread(open_session, engine, row.id)
    return web.json_response(
        {
            "user": {
                "id": row.id,
                "email": email,
                "role": row.role,
                "display_name": row.display_name,
            },
            "token": token,
            "expires_at": expires_at.isoformat(),
        }
    )


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """Signed in: revoke this session token."""
    await require_principal(request)
    token = bearer_token(request)
    assert token is not None
    await close_session(request, token)
    return web.json_response({"status": "signed_out"})


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    """Signed in: the caller's account."""
    principal = await require_principal(request)
    return web.json_response(
        {"id": principal.user_id, "email": principal.email, "role": principal.role}
    )


from api.http.openapi_spec import json_body, ok, operation  # noqa: E402

_SESSION = {"type": "object", "properties": {
    "user": {"type": "object"}, "token": {"type": "string"},
    "expires_at": {"type": "string", "format": "date-time"}}}

OPENAPI_PATHS: dict[str, Any] = {
    "/auth/register": {"post": operation(
        "Create a fan account", who="anyone", tags=["Accounts"],
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.EMAIL_TAKEN,
                ApiErrorCode.PAYLOAD_TOO_LARGE, ApiErrorCode.RATE_LIMITED, ApiErrorCode.BUSY),
        body=json_body(object_schema(SignUp, closed=False),
            example={"email": "new-fan@onsale.example", "password": "correct horse battery",
                     "display_name": "New Fan"}),
        responses={201: ok(_SESSION, "The account and a session token.")})},
    "/auth/login": {"post": operation(
        "Sign in", who="anyone", tags=["Accounts"],
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.INVALID_CREDENTIALS,
                ApiErrorCode.PAYLOAD_TOO_LARGE, ApiErrorCode.RATE_LIMITED, ApiErrorCode.BUSY),
        body=json_body(object_schema(SignIn, closed=False), example={"email": "fan@onsale.example",
                                              "password": "onsale-fan-demo"}),
        responses={200: ok(_SESSION, "A session token (send as `Authorization: Bearer`).")})},
    "/auth/logout": {"post": operation(
        "Sign out", who="signed in", tags=["Accounts"], signed_in=True,
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN),
        responses={200: ok({"type": "object"}, "The token is revoked.")})},
    "/me": {"get": operation(
        "Who am I", who="signed in", tags=["Accounts"], signed_in=True,
        errors=(ApiErrorCode.UNAUTHORIZED, ApiErrorCode.FORBIDDEN),
        responses={200: ok({"type": "object", "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"},
            "role": {"type": "string", "enum": ["fan", "organizer", "ops"]}}})})},
}
