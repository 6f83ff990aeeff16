"""Register, sign in, sign out, and who am I.

Passwords are hashed with argon2 (argon2-cffi's defaults). New accounts are
fans; organizer and ops accounts are created by ops or the demo data.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from api.fan.identity import bearer_token, close_session, open_session, require_principal
from api.http.appkeys import DB_ENGINE_KEY
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError, read_json
from engine.store.models import User

routes = web.RouteTableDef()
_hasher = PasswordHasher()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            f"{name}: required string",
            {"field": name, "reason": "required string"},
        )
    return value.strip()


@dataclass(frozen=True, slots=True)
class Credentials:
    """The body of `POST /auth/login`."""

    email: Annotated[str, {"format": "email", "maxLength": 254}]
    """The account's e-mail address (any case)."""
    password: Annotated[str, {"minLength": 1, "maxLength": 1024}]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Credentials:
        return cls(_field(body, "email").lower(), _field(body, "password"))


@dataclass(frozen=True, slots=True)
class Registration:
    """The body of `POST /auth/register`."""

    email: Annotated[str, {"format": "email", "maxLength": 254}]
    """An e-mail address no account uses yet."""
    password: Annotated[str, {"minLength": MIN_PASSWORD_LENGTH, "maxLength": 1024}]
    """At least 8 characters."""
    display_name: Annotated[str | None, {"maxLength": 80}] = None
    """Shown to organizers and on tickets (up to 80 characters); the address's name part
    when left out."""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Registration:
        credentials = Credentials.from_json(body)
        name = body.get("display_name")
        return cls(credentials.email, credentials.password,
                   str(name)[:80] if name else None)


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    """Anyone: create a fan account and get a session token."""
    registration = Registration.from_json(await read_json(request))
    email, password = registration.email, registration.password
    name = registration.display_name or email.split("@")[0][:80]
    if not EMAIL.match(email):
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            "email: not an email address",
            {"field": "email", "reason": "not an email address"},
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(
            ApiErrorCode.INVALID_REQUEST,
            f"password: at least {MIN_PASSWORD_LENGTH} characters",
            {"field": "password", "reason": "too short"},
        )
    password_hash = await asyncio.to_thread(_hasher.hash, password)
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
    credentials = Credentials.from_json(await read_json(request))
    email, password = credentials.email, credentials.password
    engine = request.app[DB_ENGINE_KEY]

    def find() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(User.id, User.password_hash, User.role, User.display_name).where(
                    User.email == email
                )
            ).first()

    row = await asyncio.to_thread(find)
    try:
        if row is None:
            raise VerificationError("unknown email")
        await asyncio.to_thread(_hasher.verify, row.password_hash, password)
    except VerificationError:
        raise ApiError(ApiErrorCode.INVALID_CREDENTIALS, "Email or password is wrong.") from None
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


from api.http.body_schema import object_schema  # noqa: E402  (documentation, kept last)
from api.http.openapi_spec import json_body, ok, operation  # noqa: E402

_SESSION = {"type": "object", "properties": {
    "user": {"type": "object"}, "token": {"type": "string"},
    "expires_at": {"type": "string", "format": "date-time"}}}

OPENAPI_PATHS: dict[str, Any] = {
    "/auth/register": {"post": operation(
        "Create a fan account", who="anyone", tags=["Accounts"],
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.EMAIL_TAKEN,
                ApiErrorCode.PAYLOAD_TOO_LARGE),
        body=json_body(object_schema(Registration, closed=False)),
        responses={201: ok(_SESSION, "The account and a session token.")})},
    "/auth/login": {"post": operation(
        "Sign in", who="anyone", tags=["Accounts"],
        errors=(ApiErrorCode.INVALID_REQUEST, ApiErrorCode.INVALID_CREDENTIALS,
                ApiErrorCode.PAYLOAD_TOO_LARGE),
        body=json_body(object_schema(Credentials, closed=False)),
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
