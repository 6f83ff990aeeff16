"""`onsale notifier`: sends the notifications outbox (engine/store/notifications.py).

The mailer it hands messages to is built by the launcher from `ONSALE_MAIL_URL`
(`workers.mailers.make_mailer`). Several notifiers may run: each locks the rows it
sends (SKIP LOCKED).
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from engine.store.notifications import dispatch_due
from workers.mailers import Mailer

log = logging.getLogger("onsale.mail")

POLL_SECONDS = 1.0


def serve(engine: sa.Engine, mailer: Mailer, stop: threading.Event) -> None:
    """Send what is due until `stop` is set; poll every second when nothing is."""
    while not stop.is_set():
        try:
            sent, failed = dispatch_due(engine, mailer.send)
        except Exception:  # noqa: BLE001 - Postgres away: try again at the next poll
            log.warning("notifier: could not read the outbox", exc_info=True)
            sent = failed = 0
        if failed:
            log.warning("notifier: %d message(s) failed, retried later", failed)
        if not sent:
            stop.wait(POLL_SECONDS)
