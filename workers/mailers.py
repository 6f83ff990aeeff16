"""Mailers: where `onsale notifier` hands fans' mail over, named by `ONSALE_MAIL_URL`.

`make_mailer` is the one place a mail URL becomes a mailer:
- `log` (the default): each message is logged by `onsale.mail` (subject and recipient at
  INFO, the body at DEBUG), for a laptop;
- `file:<path>`: appended to a mailbox file, one JSON object per line, for demos and tests;
- `smtp://host[:port]`: handed to an SMTP server (a relay, Postfix, Mailpit), plain SMTP;
  an e-tickets message carries each ticket's QR code as an inline image
  (`workers.ticket_mail.build_mail`).
Adding a mailer is a class with `send(message)` plus one line in `MAILERS` (and, for a new
URL form, in `parse_mail_url`).
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from workers.ticket_mail import build_mail

if TYPE_CHECKING:
    from engine.store.notifications import Message

log = logging.getLogger("onsale.mail")

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


MAILERS: dict[str, Callable[[str, int, str], Mailer]] = {
    "log": lambda where, port, sender: LogMailer(),
    "file": lambda where, port, sender: FileMailer(Path(where), sender),
    "smtp": SmtpMailer,
}
"""Each kind `parse_mail_url` gives, to a mailer made from (where, port, sender)."""


def make_mailer(mail_url: str, sender: str) -> Mailer:
    """The mailer `ONSALE_MAIL_URL` names; ValueError (naming the variable) if none."""
    try:
        kind, where, port = parse_mail_url(mail_url)
    except ValueError as error:
        raise ValueError(f"ONSALE_MAIL_URL={mail_url!r}: {error}") from None
    return MAILERS[kind](where, port, sender)
