"""The e-tickets mail carries each ticket's QR code as an inline PNG the HTML part shows by
content id; mail without tickets stays plain text."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from engine.store.notifications import Message, TicketCode
from workers.ticket_mail import build_mail
from workers.ticket_qr import qr_png, qr_svg

TICKETS = (TicketCode(5, "Stalls, row A, seat 1", "5." + "a" * 32),
           TicketCode(6, "Floor, standing", "6." + "b" * 32))
PAID = Message(1, "order_paid", "o-1", "fan@example.com", "Your tickets",
               "Hello <Ann>,\n\nyour order o-1 is paid.\n\nYour 2 e-ticket(s):\n  x\n", 0,
               TICKETS)


def test_each_ticket_is_an_inline_png_the_html_part_points_at() -> None:
    sent = build_mail(PAID, "onsale <t@onsale.invalid>").as_bytes()
    mail = message_from_bytes(sent, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None and "Hello <Ann>" in plain.get_content()
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    page = html.get_content()
    assert "Hello &lt;Ann&gt;" in page, "buyer text is escaped in HTML"
    images = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 2
    for image, ticket in zip(images, TICKETS, strict=True):
        content_id = image["Content-ID"].strip("<>")
        assert f'src="cid:{content_id}"' in page
        assert image.get_content_disposition() == "inline"
        assert image.get_payload(decode=True) == qr_png(ticket.qr_payload)
        assert ticket.place in page and ticket.qr_payload in page


def test_mail_without_tickets_is_plain_text() -> None:
    refund = Message(2, "order_refunded", "o-1", "fan@example.com", "Refund", "Refunded.\n", 0)
    mail = build_mail(refund, "onsale <t@onsale.invalid>")
    assert mail.get_content_type() == "text/plain"


def test_qr_images_are_png_and_titled_svg() -> None:
    assert qr_png("1." + "c" * 32).startswith(b"\x89PNG\r\n\x1a\n")
    svg = qr_svg("1." + "c" * 32, "E-ticket 1 <seat>")
    assert svg.startswith("<svg") and "<title>E-ticket 1 &lt;seat&gt;</title>" in svg
