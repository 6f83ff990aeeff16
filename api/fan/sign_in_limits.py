"""Limits on the account endpoints, against password guessing and sign-up floods.

Three fixed-window counters in Redis, each refused with 429 `rate_limited` (details: scope,
retry_after; a Retry-After header): sign-ups per client address a minute, sign-in attempts
per address a minute, and failed sign-ins per account per 15 minutes (a success clears
them). The account is keyed by the SHA-256 of its email, so Redis holds no addresses. Each
counter is one key updated in one MULTI, so every step touches one slot (Redis Cluster).

And argon2 itself: a hash costs ~0.1 s of a core and a lot of memory, and runs in the
default thread pool the database calls share. `PasswordWork` lets at most
`PASSWORD_HASHING_SLOTS` run at once per process and answers 503 `busy` when more than
`MAX_QUEUED_PASSWORD_WORK` wait, so a flood of sign-ins cannot starve bookings of threads.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio
from aiohttp import web

from api.http.appkeys import REDIS_KEY, SETTINGS_KEY
from api.http.client_address import client_address
from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError

MINUTE_SECONDS = 60
ACCOUNT_WINDOW_SECONDS = 15 * 60
PASSWORD_HASHING_SLOTS = 2
MAX_QUEUED_PASSWORD_WORK = 32

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Window:
    scope: str
    subject: str
    limit: int
    seconds: int

    def key(self, prefix: str) -> str:
        return f"{prefix}:limit:{self.scope}:{{{self.subject}}}"


def _refused(window: Window, retry_after: int) -> ApiError:
    retry_after = max(1, retry_after)
    return ApiError(ApiErrorCode.RATE_LIMITED, f"Too many attempts; retry in {retry_after} s.",
                    {"scope": window.scope, "retry_after": retry_after})


async def _hit(client: redis.asyncio.Redis, key: str, seconds: int) -> tuple[int, int]:
    """Count one more in the window; the count and the seconds the window has left."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, seconds, nx=True)
        pipe.ttl(key)
        count, _, ttl = await pipe.execute()
    return int(count), int(ttl)


async def _spend(request: web.Request, window: Window) -> None:
    if window.limit <= 0:
        return
    count, ttl = await _hit(request.app[REDIS_KEY], window.key(_prefix(request)), window.seconds)
    if count > window.limit:
        raise _refused(window, ttl)


def _prefix(request: web.Request) -> str:
    return request.app[SETTINGS_KEY].redis_prefix


def _account_window(request: web.Request, email: str) -> Window:
    subject = hashlib.sha256(email.encode()).hexdigest()
    return Window("account", subject, request.app[SETTINGS_KEY].failed_sign_ins_per_account,
                  ACCOUNT_WINDOW_SECONDS)


async def spend_sign_up(request: web.Request) -> None:
    """Count a sign-up from the caller's address; 429 past the limit."""
    address = client_address(request)
    if address is not None:
        await _spend(request, Window("signup_ip", address,
                                     request.app[SETTINGS_KEY].signups_per_ip_per_minute,
                                     MINUTE_SECONDS))


async def spend_sign_in(request: web.Request, email: str) -> None:
    """Count a sign-in attempt from the caller's address, and refuse at once (before any
    password is checked) an account that failed too often in its window."""
    address = client_address(request)
    if address is not None:
        await _spend(request, Window("ip", address,
                                     request.app[SETTINGS_KEY].sign_ins_per_ip_per_minute,
                                     MINUTE_SECONDS))
    window = _account_window(request, email)
    if window.limit <= 0:
        return
    client = request.app[REDIS_KEY]
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(window.key(_prefix(request)))
        pipe.ttl(window.key(_prefix(request)))
        failures, ttl = await pipe.execute()
    if failures is not None and int(failures) >= window.limit:
        raise _refused(window, int(ttl))


async def record_sign_in(request: web.Request, email: str, *, succeeded: bool) -> None:
    window = _account_window(request, email)
    if window.limit <= 0:
        return
    key = window.key(_prefix(request))
    if succeeded:
        await request.app[REDIS_KEY].delete(key)
    else:
        await _hit(request.app[REDIS_KEY], key, window.seconds)


class PasswordWork:
    """argon2 calls, at most `slots` at once; 503 `busy` past `max_queued` waiting."""

    def __init__(self, slots: int = PASSWORD_HASHING_SLOTS,
                 max_queued: int = MAX_QUEUED_PASSWORD_WORK) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._max_queued = max_queued
        self._queued = 0

    async def run(self, work: Callable[..., _T], *args: object) -> _T:
        if self._queued >= self._max_queued:
            raise ApiError(ApiErrorCode.BUSY, "Too many sign-ins at once; retry shortly.",
                           {"retry_after": 1})
        self._queued += 1
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._slots.release()
