"""A fan's mail as a MIME message; the e-tickets mail carries each ticket's QR code inline.

multipart/alternative: the plain text (every code written out, for clients that show no
images) and an HTML part whose `<img src="cid:...">` point at PNG parts related to it
(multipart/related, RFC 2387), so the codes show inside the message without loading
anything from the web.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import make_msgid

from engine.store.notifications import Message, TicketCode
from workers.ticket_qr import qr_png

MAIL_DOMAIN = "onsale.invalid"


def _ticket_html(ticket: TicketCode, content_id: str) -> str:
    place = html.escape(ticket.place)
    return (f'<div style="margin:16px 0;padding:12px;border:1px solid #d0d5dd;'
            f'border-radius:8px;max-width:320px">'
            f'<p style="margin:0 0 8px;font-weight:600">{place}</p>'
            f'<img src="cid:{content_id}" width="240" height="240" '
            f'alt="QR code of ticket {ticket.ticket_id}, {place}">'
            f'<p style="margin:8px 0 0;font-family:monospace;font-size:12px">'
            f'{html.escape(ticket.qr_payload)}</p></div>')


def build_mail(message: Message, sender: str) -> EmailMessage:
    """The message to hand to SMTP: plain text, plus the QR codes inline when it has tickets."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Message-ID"] = make_msgid(f"n{message.id}", domain=MAIL_DOMAIN)
    mail.set_content(message.body)
    if not message.tickets:
        return mail
    content_ids = [make_msgid(f"ticket{t.ticket_id}", domain=MAIL_DOMAIN)
                   for t in message.tickets]
    greeting_and_order = message.body.split("\n\n")[:2]  # the codes follow in the cards
    intro = "<br><br>".join(html.escape(paragraph) for paragraph in greeting_and_order)
    cards = "".join(_ticket_html(ticket, cid[1:-1])
                    for ticket, cid in zip(message.tickets, content_ids, strict=True))
    mail.add_alternative(
        f"<!doctype html><html><body style=\"font-family:system-ui,sans-serif\">"
        f"<p>{intro}</p><p>Show the code at the gate, on your phone or printed.</p>"
        f"{cards}</body></html>", subtype="html")
    html_part = mail.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for ticket, cid in zip(message.tickets, content_ids, strict=True):
        html_part.add_related(qr_png(ticket.qr_payload), maintype="image", subtype="png",
                              cid=cid, disposition="inline",
                              filename=f"ticket-{ticket.ticket_id}.png")
    return mail
