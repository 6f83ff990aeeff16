"""Process-wide log setup: one line per record, JSON when ONSALE_LOG_JSON is set.

The request id of the HTTP request being served lives in a context variable,
so every record logged while handling it carries the id, whichever module
logs, and ops can follow one request across API logs and client reports.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.launcher.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("onsale_request_id", default=None)

# Attributes every LogRecord has; anything else came in through `extra=` and is shown.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "request_id", "component"}


class _ContextFilter(logging.Filter):
    """Stamps each record with the current request id and the process's component name."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.component = self.component
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "component": getattr(record, "component", None),
            "pid": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal; the request id is appended when there is one."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)-7s %(component)s[%(process)d] %(name)s: %(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id and "\n" not in line:
            line += f" [request_id={request_id}]"
        return line


def configure_logging(settings: Settings, component: str) -> None:
    """Replace the root handlers with one stderr handler; safe to call again."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(component))
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # aiohttp's own access log is replaced by one line per request from the API middleware.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces every plugin it loads; the migrations it runs stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
