"""The notifier's mailers: which one ONSALE_MAIL_URL names, a mailbox file, and a real SMTP
conversation with a minimal server of our own."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store.notifications import Message
from workers.mailers import FileMailer, LogMailer, SmtpMailer, make_mailer

MESSAGE = Message(7, "order_paid", "o-1", "fan@example.com", "Your tickets", "Row A, seat 3\n",
                  0)


def test_the_mail_url_names_the_mailer(tmp_path: Path) -> None:
    assert isinstance(make_mailer("log", "from@x"), LogMailer)
    mailbox = make_mailer(f"file:{tmp_path / 'box.jsonl'}", "from@x")
    assert isinstance(mailbox, FileMailer) and mailbox.path == tmp_path / "box.jsonl"
    smtp = make_mailer("smtp://relay.internal:2525", "from@x")
    assert isinstance(smtp, SmtpMailer) and (smtp.host, smtp.port) == ("relay.internal", 2525)
    assert isinstance(make_mailer("smtp://relay.internal", "from@x"), SmtpMailer)
    for bad in ("", "mail", "smtp://", "file:", "http://relay"):
        with pytest.raises(ValueError, match="ONSALE_MAIL_URL"):
            make_mailer(bad, "from@x")


def test_the_mailbox_file_gets_one_json_line_per_message(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "mail" / "box.jsonl", "onsale <t@x>")
    mailer.send(MESSAGE)
    mailer.send(MESSAGE)
    box = (tmp_path / "mail" / "box.jsonl").read_text()
    lines = [json.loads(line) for line in box.splitlines()]
    assert len(lines) == 2
    assert lines[0]["to"] == "fan@example.com" and lines[0]["from"] == "onsale <t@x>"
    assert lines[0]["body"] == "Row A, seat 3\n" and lines[0]["order_id"] == "o-1"


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message."""

    received: list[bytes] = []

    def handle(self) -> None:
        self.wfile.write(b"220 test\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.received.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture()
def smtp_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_smtp_hands_the_message_to_the_server(smtp_server: tuple[str, int]) -> None:
    _Smtp.received.clear()
    SmtpMailer(*smtp_server, sender="onsale <tickets@onsale.invalid>").send(MESSAGE)
    [mail] = _Smtp.received
    assert b"To: fan@example.com" in mail and b"Subject: Your tickets" in mail
    assert b"Row A, seat 3" in mail


def test_smtp_failures_raise_so_the_message_is_retried() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(OSError):
        SmtpMailer("127.0.0.1", port, sender="x@y").send(MESSAGE)


def test_a_bad_mail_url_stops_the_process_at_start_up() -> None:
    from api.launcher.settings import Settings, SettingsError

    assert Settings.from_env({"ONSALE_MAIL_URL": "smtp://relay:2525"}).mail_url == \
        "smtp://relay:2525"
    with pytest.raises(SettingsError, match="ONSALE_MAIL_URL"):
        Settings.from_env({"ONSALE_MAIL_URL": "smtp:relay"})
