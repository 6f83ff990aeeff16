"""Queue tickets: the opaque, signed handle a fan polls with.

A ticket names (event, account, join sequence number) and is HMAC-signed, so
a status poll needs no lookup to know whose place it is, and nobody can forge
one for a place they do not hold. It is a bearer handle for *polling*; the
admission token it leads to names the account, and booking checks that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from waitingroom.errors import ErrorCode, WaitingRoomError

_MAC_BYTES = 16
_VERSION = "t1"


@dataclass(frozen=True, slots=True)
class QueueTicket:
    event_id: int
    user_id: int
    seq: int
    """The fan's join sequence number (1-based); the place is derived from it."""


def encode_ticket(mac_key: bytes, ticket: QueueTicket) -> str:
    payload = f"{_VERSION}.{ticket.event_id}.{ticket.user_id}.{ticket.seq}".encode()
    return f"{_b64(payload)}.{_b64(_mac(mac_key, payload))}"


def decode_ticket(mac_key: bytes, text: str, event_id: int) -> QueueTicket:
    """The ticket's contents if it is genuine and for `event_id`; else `invalid_ticket`."""
    try:
        payload_text, mac_text = text.split(".")
        payload = _unb64(payload_text)
        mac = _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise _invalid() from None
    if not hmac.compare_digest(mac, _mac(mac_key, payload)):
        raise _invalid()
    version, event_text, user_text, seq_text = payload.decode().split(".")
    if version != _VERSION or int(event_text) != event_id:
        raise _invalid()
    return QueueTicket(int(event_text), int(user_text), int(seq_text))


def _mac(mac_key: bytes, payload: bytes) -> bytes:
    return hmac.new(mac_key, b"ticket|" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) > 200:
        raise ValueError("bad length")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> WaitingRoomError:
    return WaitingRoomError(ErrorCode.INVALID_TICKET, "this queue ticket is not valid here")
