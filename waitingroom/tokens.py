"""Admission tokens: EdDSA (Ed25519) JWTs that every booking call must carry.

Asymmetric so that any service can check a token with the published public
key (`jwks`) while only the waiting room can mint one. Claims: `iss`, `sub`
(the account, as a string per RFC 7519), `event`, `position` (place in line),
`jti` (names the admitted session, so a session ended by purchase or leave
can be refused before `exp`), `exp`.

The same private key also yields `mac_key`, the HMAC key for queue tickets
and proof-of-work challenges, so one key file is all a deployment manages.
Key files are read and created in `waitingroom.keyfile`; this module does no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from waitingroom.errors import not_admitted

ISSUER = "onsale-waitingroom"
ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["iss", "sub", "event", "position", "jti", "exp"]


@dataclass(frozen=True, slots=True)
class AdmissionClaims:
    event_id: int
    user_id: int
    position: int
    jti: str
    expires_at: int


def session_jti(seq: int, expires_at: float) -> str:
    """The admitted session's id: the fan's join sequence number and the session's expiry (ms).

    Deterministic, so polling again after admission returns the very same token;
    the expiry part makes it unique even if an event's counters were ever reset.
    """
    return f"{seq}-{round(expires_at * 1000)}"


def parse_jti(jti: str) -> tuple[int, int] | None:
    """(seq, expires_at in ms) from a `session_jti`, or None for anything else."""
    seq_text, _, expires_text = jti.partition("-")
    if not (seq_text.isdigit() and expires_text.isdigit()):
        return None
    return int(seq_text), int(expires_text)


class AdmissionSigner:
    """Mints and checks admission tokens with one Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey, issuer: str = ISSUER):
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self.issuer = issuer
        raw_private = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self.mac_key = hashlib.sha256(b"onsale/waitingroom/mac/v1" + raw_private).digest()
        raw_public = self._public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._x = _b64url(raw_public)
        thumbprint_input = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":"), sort_keys=True
        )
        self.kid = _b64url(hashlib.sha256(thumbprint_input.encode()).digest())
        """RFC 7638 thumbprint of the public key."""

    @classmethod
    def from_pem(cls, pem: bytes, issuer: str = ISSUER) -> AdmissionSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the admission key must be an Ed25519 private key")
        return cls(key, issuer)

    def issue(
        self, *, event_id: int, user_id: int, position: int, jti: str, expires_at: float
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user_id),
            "event": event_id,
            "position": position,
            "jti": jti,
            "exp": int(expires_at),
        }
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def sign_claims(self, claims: dict[str, Any]) -> str:
        """A JWT over `claims` with the room's key (e.g. a fan's receipt of their place)."""
        return jwt.encode(
            {"iss": self.issuer, **claims},
            self._private_key,
            algorithm=ALGORITHM,
            headers={"kid": self.kid},
        )

    def verify(self, token: str | None, *, event_id: int, now: float) -> AdmissionClaims:
        """The claims of a genuine, unexpired token for `event_id`; else `not_admitted`.

        Whether the session behind it is still open (not ended by purchase or
        leave) is a Redis question: `WaitingRoom.check_admission` asks it.
        """
        if not token:
            raise not_admitted("missing")
        if not token.isascii():  # a JWT is ASCII; PyJWT would fail encoding a lone surrogate
            raise not_admitted("invalid", "the admission token is not valid")
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"verify_exp": False, "require": _REQUIRED_CLAIMS},
            )
        except jwt.InvalidTokenError:
            raise not_admitted("invalid", "the admission token is not valid") from None
        exp, event, position, sub = (
            claims["exp"],
            claims["event"],
            claims["position"],
            claims["sub"],
        )
        if not (_is_int(exp) and _is_int(event) and _is_int(position) and str(sub).isdigit()):
            raise not_admitted("invalid", "the admission token is not valid")
        if exp <= now:
            raise not_admitted("expired", "the admission token has expired")
        if event != event_id:
            raise not_admitted("wrong_event", "the admission token is for another event")
        return AdmissionClaims(event, int(sub), position, str(claims["jti"]), exp)

    def public_key_pem(self) -> str:
        return self._public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set to publish (e.g. at /.well-known/jwks.json)."""
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": self._x,
                    "kid": self.kid,
                    "alg": ALGORITHM,
                    "use": "sig",
                }
            ]
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
