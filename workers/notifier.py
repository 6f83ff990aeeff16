"""`onsale notifier`: sends the notifications outbox (engine/store/notifications.py).

Where messages go is `ONSALE_MAIL_URL`:
- `log` (the default): each message is logged by `onsale.mail` (subject and recipient at
  INFO, the body at DEBUG), for a laptop;
- `file:<path>`: appended to a mailbox file, one JSON object per line, for demos and tests;
- `smtp://host[:port]`: handed to an SMTP server (a relay, Postfix, Mailpit), plain SMTP.
Several notifiers may run: each locks the rows it sends (SKIP LOCKED).
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from engine.store.notifications import Message, dispatch_due
from workers.ticket_mail import build_mail

if TYPE_CHECKING:
    from api.settings import Settings

log = logging.getLogger("onsale.mail")

POLL_SECONDS = 1.0
SMTP_TIMEOUT_SECONDS = 10.0


class Mailer(Protocol):
    def send(self, message: Message) -> None:
        """Hand `message` over, or raise: the notifier retries it later."""


class LogMailer:
    def send(self, message: Message) -> None:
        log.info("mail to %s: %s (%s %s, %d QR image(s))", message.recipient,
                 message.subject, message.kind, message.order_id, len(message.tickets))
        log.debug("mail body:\n%s", message.body)


class FileMailer:
    """A mailbox file: one JSON object per message and line; `attachments` lists the inline
    QR images the SMTP message would carry (content id, file name, size)."""

    def __init__(self, path: Path, sender: str):
        self.path = path
        self.sender = sender
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, message: Message) -> None:
        line = json.dumps({"from": self.sender, "to": message.recipient,
                           "subject": message.subject, "body": message.body,
                           "kind": message.kind, "order_id": message.order_id,
                           "attachments": _attachments(build_mail(message, self.sender)),
                           "sent_at": time.time()})
        with self.path.open("a", encoding="utf-8") as mailbox:
            mailbox.write(line + "\n")


def _attachments(mail: EmailMessage) -> list[dict[str, object]]:
    return [{"content_id": part["Content-ID"], "filename": part.get_filename(),
             "content_type": part.get_content_type(),
             "size": len(part.get_payload(decode=True) or b"")}
            for part in mail.walk() if part.get_content_maintype() == "image"]


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str):
        self.host, self.port, self.sender = host, port, sender

    def send(self, message: Message) -> None:
        mail = build_mail(message, self.sender)
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(mail)


def parse_mail_url(mail_url: str) -> tuple[str, str, int]:
    """`ONSALE_MAIL_URL` as (kind, where, port): ("log", "", 0), ("file", path, 0) or
    ("smtp", host, port); ValueError if it is none of them."""
    if mail_url == "log":
        return "log", "", 0
    if mail_url.startswith("file:"):
        path = mail_url.removeprefix("file:").removeprefix("//")
        if path:
            return "file", path, 0
    parts = urlsplit(mail_url)
    if parts.scheme == "smtp" and parts.hostname:
        return "smtp", parts.hostname, parts.port or 25
    raise ValueError("none of log, file:<path>, smtp://host[:port]")


def make_mailer(mail_url: str, sender: str) -> Mailer:
    """The mailer `ONSALE_MAIL_URL` names; ValueError (naming the variable) if none."""
    try:
        kind, where, port = parse_mail_url(mail_url)
    except ValueError as error:
        raise ValueError(f"ONSALE_MAIL_URL={mail_url!r}: {error}") from None
    if kind == "file":
        return FileMailer(Path(where), sender)
    if kind == "smtp":
        return SmtpMailer(where, port, sender)
    return LogMailer()


def serve(settings: Settings, stop: threading.Event) -> None:
    """Send what is due until `stop` is set; poll every second when nothing is."""
    from engine.store.db import make_engine

    mailer = make_mailer(settings.mail_url, settings.mail_from)
    engine = make_engine(settings.database_url or "")
    log.info("notifier: sending to %s", settings.mail_url)
    try:
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
    finally:
        engine.dispose()
