"""The notifications outbox against a real Postgres: due messages are sent once, a failure
waits (doubling) before it is tried again, and two notifiers never send the same message."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from engine.store.notifications import Message, dispatch_due, retry_delay

pytestmark = pytest.mark.integration


def write(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        for n in range(count):
            conn.execute(text(
                "INSERT INTO notifications (kind, order_id, user_id, recipient, subject, body)"
                " VALUES ('order_paid', :o, 1, 'fan@example.com', 'Your tickets', 'body')"),
                {"o": f"order-{n}"})


def test_due_messages_are_sent_once_oldest_first(db_engine: Engine) -> None:
    write(db_engine, 3)
    sent: list[Message] = []
    assert dispatch_due(db_engine, sent.append, limit=2) == (2, 0)
    assert dispatch_due(db_engine, sent.append) == (1, 0)
    assert dispatch_due(db_engine, sent.append) == (0, 0)
    assert [m.order_id for m in sent] == ["order-0", "order-1", "order-2"]
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notifications"
                                 " WHERE sent_at IS NOT NULL AND attempts = 1")).scalar() == 3


def test_a_failed_message_waits_before_it_is_tried_again(db_engine: Engine) -> None:
    write(db_engine, 1)

    def refuse(message: Message) -> None:
        raise ConnectionRefusedError("mail relay down")

    assert dispatch_due(db_engine, refuse) == (0, 1)
    assert dispatch_due(db_engine, refuse) == (0, 0), "not due again at once"
    with db_engine.connect() as conn:
        row = conn.execute(text("SELECT attempts, last_error, sent_at,"
                                " extract(epoch FROM next_attempt_at - now()) AS wait"
                                " FROM notifications")).one()
    assert row.attempts == 1 and "mail relay down" in row.last_error and row.sent_at is None
    assert float(row.wait) == pytest.approx(retry_delay(1), abs=5)
    assert [retry_delay(n) for n in (1, 2, 3, 20)] == [30.0, 60.0, 120.0, 3600.0]
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE notifications SET next_attempt_at = now()"))
    sent: list[Message] = []
    assert dispatch_due(db_engine, sent.append) == (1, 0)
    assert sent[0].attempts == 1, "the message knows it was tried before"


def test_two_notifiers_never_send_the_same_message(db_engine: Engine) -> None:
    write(db_engine, 40)
    sent: list[str] = []
    lock = threading.Lock()

    def slow(message: Message) -> None:
        time.sleep(0.002)
        with lock:
            sent.append(message.order_id)

    def notifier() -> None:
        while dispatch_due(db_engine, slow, limit=5)[0]:
            pass

    threads = [threading.Thread(target=notifier) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"order-{n}" for n in range(40)), "each exactly once"
