"""The ops change log (Postgres `ops_audit`, append-only) and `GET /ops/audit`.

A change is recorded as one row per field that changed, in one transaction,
so the log reads `new_users_per_minute 600 -> 900 by ops@... at ...`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api.http.error_codes import ApiErrorCode
from api.http.errors import ApiError
from api.http.openapi_spec import error_codes
from api.http.params import ascii_id
from api.ops.common import GUARD_CODES, OPS_KEY, routes
from engine.store.models import OpsAuditEntry

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
AUTOPILOT_ACTOR = "autopilot"


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor: Actor
    event_id: int | None
    action: str
    changes: tuple[Change, ...]
    details: dict[str, Any] = field(default_factory=dict)


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[Change, ...]:
    """The fields whose value differs (all of `new` when there was nothing before)."""
    before = old or {}
    return tuple(
        Change(name, before.get(name), value)
        for name, value in new.items()
        if old is None or before.get(name) != value
    )


def write(engine: sa.Engine, record: AuditRecord) -> list[dict[str, Any]]:
    """Insert the record's rows in one transaction; returns them as the API shows them."""
    if not record.changes:
        return []
    rows = [
        {
            "actor": record.actor.name,
            "actor_user_id": record.actor.user_id,
            "event_id": record.event_id,
            "action": record.action,
            "field": change.field,
            "old_value": change.old,
            "new_value": change.new,
            "details": record.details,
        }
        for change in record.changes
    ]
    with engine.begin() as conn:
        inserted = conn.execute(
            sa.insert(OpsAuditEntry).returning(*OpsAuditEntry.__table__.c), rows
        ).mappings().all()  # fmt: skip
    return [entry_json(row) for row in inserted]


def recent(
    engine: sa.Engine, event_id: int | None, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    table = OpsAuditEntry.__table__
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if event_id is not None:
        query = query.where(table.c.event_id == event_id)
    if before_id is not None:
        query = query.where(table.c.id < before_id)
    with engine.connect() as conn:
        return [entry_json(row) for row in conn.execute(query).mappings()]


def entry_json(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["created_at"].isoformat(),
        "actor": row["actor"],
        "actor_user_id": row["actor_user_id"],
        "event_id": row["event_id"],
        "action": row["action"],
        "field": row["field"],
        "old": row["old_value"],
        "new": row["new_value"],
        "details": row["details"] or {},
    }


async def record_async(engine: sa.Engine, records: Iterable[AuditRecord]) -> list[dict[str, Any]]:
    def write_all() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for record in records:
            out.extend(write(engine, record))
        return out

    return await asyncio.to_thread(write_all)


def _int_param(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    value = ascii_id(raw)
    if value is None:
        raise ApiError(ApiErrorCode.INVALID_REQUEST, f"{name} must be a whole number of at most 18"
                       " digits", {"field": name})
    return value


@routes.get("/audit")
async def list_audit(request: web.Request) -> web.Response:
    """Ops only. The audit log, newest first; `event_id`, `limit` (<= 500), `before_id` filter."""
    event_id = _int_param(request, "event_id", None)
    limit = min(_int_param(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    before_id = _int_param(request, "before_id", None)
    entries = await asyncio.to_thread(recent, request.config_dict[OPS_KEY].db, event_id, limit,
                                      before_id)
    return web.json_response({"entries": entries})


OPENAPI_PATHS: dict[str, Any] = {
    "/ops/audit": {
        "get": {
            "summary": "The ops audit log (ops only)",
            "x-error-codes": error_codes((*GUARD_CODES, ApiErrorCode.INVALID_REQUEST)),
            "description": "Every change to a waiting room or the autopilot, newest first: "
            "one entry per changed field with who, when, old and new value.",
            "tags": ["ops"],
            "security": [{"bearerAuth": []}],
            "parameters": [
                {"name": "event_id", "in": "query", "schema": {"type": "integer"}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "default": DEFAULT_LIMIT, "maximum": MAX_LIMIT},
                },
                {
                    "name": "before_id",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "Page back: entries with a smaller id.",
                },
            ],
            "responses": {
                "200": {
                    "description": "`{entries: [{id, at, actor, actor_user_id, event_id, "
                    "action, field, old, new, details}]}`"
                },
                "401": {"description": "Not signed in."},
                "403": {"description": "Signed in without the ops role."},
            },
        }
    }
}
