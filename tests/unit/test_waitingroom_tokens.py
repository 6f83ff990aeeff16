"""Admission tokens, queue tickets and proof of work: nothing forged, expired or foreign gets in."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from waitingroom.errors import ErrorCode, WaitingRoomError
from waitingroom.pow import (
    CHALLENGE_TTL_SECONDS,
    PowSolution,
    issue_challenge,
    leading_zero_bits,
    solve,
    verify_solution,
)
from waitingroom.queue_tickets import QueueTicket, decode_ticket, encode_ticket
from waitingroom.tokens import AdmissionSigner, parse_jti, session_jti

# Deterministic keys: unit tests draw no randomness.
SIGNER = AdmissionSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER = AdmissionSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
NOW = 1_800_000_000.0


def issue(
    signer: AdmissionSigner = SIGNER, event_id: int = 42, expires_at: float = NOW + 600
) -> str:
    return signer.issue(
        event_id=event_id,
        user_id=7,
        position=31,
        jti=session_jti(31, expires_at),
        expires_at=expires_at,
    )


def refusal(token: str | None, event_id: int = 42, now: float = NOW) -> str:
    with pytest.raises(WaitingRoomError) as caught:
        SIGNER.verify(token, event_id=event_id, now=now)
    assert caught.value.code is ErrorCode.NOT_ADMITTED
    assert caught.value.http_status == 403
    return str(caught.value.details["reason"])


def test_a_genuine_token_carries_its_claims() -> None:
    claims = SIGNER.verify(issue(), event_id=42, now=NOW)
    assert (claims.event_id, claims.user_id, claims.position) == (42, 7, 31)
    assert claims.expires_at == int(NOW + 600)
    assert parse_jti(claims.jti) == (31, round((NOW + 600) * 1000))


def test_the_same_session_always_gets_the_same_token() -> None:
    assert issue() == issue()


def test_missing_token() -> None:
    assert refusal(None) == "missing"
    assert refusal("") == "missing"


def test_token_signed_by_another_key_is_forged() -> None:
    assert refusal(issue(OTHER)) == "invalid"


def test_tampered_claims_are_forged() -> None:
    header, payload, signature = issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["event"] = 43
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refusal(f"{header}.{forged_payload}.{signature}", event_id=43) == "invalid"


def test_unsigned_and_symmetric_tokens_are_refused() -> None:
    claims = {
        "iss": SIGNER.issuer,
        "sub": "7",
        "event": 42,
        "position": 1,
        "jti": "1-1",
        "exp": NOW + 60,
    }
    assert refusal(jwt.encode(claims, None, algorithm="none")) == "invalid"
    assert (
        refusal(jwt.encode(claims, "guessed-secret-of-32-bytes-length!", algorithm="HS256"))
        == "invalid"
    )


def test_expired_token() -> None:
    assert refusal(issue(expires_at=NOW - 1)) == "expired"
    assert refusal(issue(expires_at=NOW + 10), now=NOW + 10) == "expired"


def test_token_for_another_event() -> None:
    assert refusal(issue(event_id=41)) == "wrong_event"


def test_garbage_token() -> None:
    assert refusal("not.a.jwt") == "invalid"


def test_public_key_is_published_as_a_jwk_that_verifies_tokens() -> None:
    (jwk,) = SIGNER.jwks()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["kid"]) == (
        "OKP",
        "Ed25519",
        "EdDSA",
        SIGNER.kid,
    )
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(issue(), public_key, algorithms=["EdDSA"], options={"verify_exp": False})
    assert claims["sub"] == "7"
    assert jwt.get_unverified_header(issue())["kid"] == SIGNER.kid
    assert "BEGIN PUBLIC KEY" in SIGNER.public_key_pem()


def test_jti_parsing_rejects_foreign_ids() -> None:
    assert parse_jti("12-34") == (12, 34)
    for foreign in ("", "abc", "12", "-1-2", "1-x"):
        assert parse_jti(foreign) is None


def test_queue_ticket_round_trip_and_forgeries() -> None:
    ticket = encode_ticket(SIGNER.mac_key, QueueTicket(42, 7, 1234))
    assert decode_ticket(SIGNER.mac_key, ticket, 42) == QueueTicket(42, 7, 1234)
    payload, mac = ticket.split(".")
    forged = [
        encode_ticket(OTHER.mac_key, QueueTicket(42, 7, 1234)),
        base64.urlsafe_b64encode(b"t1.42.7.1").rstrip(b"=").decode() + "." + mac,
        payload,
        "",
        "....",
        "é.é",
    ]
    for text in forged:
        with pytest.raises(WaitingRoomError) as caught:
            decode_ticket(SIGNER.mac_key, text, 42)
        assert caught.value.code is ErrorCode.INVALID_TICKET
    with pytest.raises(WaitingRoomError):
        decode_ticket(SIGNER.mac_key, ticket, 43)


def test_leading_zero_bits() -> None:
    assert leading_zero_bits(b"\x00\x00\xff") == 16
    assert leading_zero_bits(b"\x00\x10\x00") == 11
    assert leading_zero_bits(b"\x80") == 0


def test_proof_of_work_is_bound_to_event_account_and_time() -> None:
    challenge = issue_challenge(SIGNER.mac_key, 42, 7, 8, NOW)
    solution = solve(challenge.challenge, 8)
    assert verify_solution(SIGNER.mac_key, 42, 7, solution, NOW + 5) == 8

    def reason(event_id: int, user_id: int, candidate: PowSolution, now: float) -> str:
        with pytest.raises(WaitingRoomError) as caught:
            verify_solution(SIGNER.mac_key, event_id, user_id, candidate, now)
        assert caught.value.code is ErrorCode.POW_INVALID
        return str(caught.value.details["reason"])

    assert "account" in reason(42, 8, solution, NOW)
    assert "account" in reason(43, 7, solution, NOW)
    assert reason(42, 7, solution, NOW + CHALLENGE_TTL_SECONDS + 1) == "challenge expired"
    assert reason(42, 7, PowSolution("8.1.x", "1"), NOW) != ""
    assert reason(42, 7, PowSolution("garbage", "1"), NOW) == "malformed challenge"
    unsolved = next(
        PowSolution(challenge.challenge, str(n))
        for n in range(1000)
        if leading_zero_bits(hashlib.sha256(f"{challenge.challenge}:{n}".encode()).digest()) < 8
    )
    assert reason(42, 7, unsolved, NOW) == "not enough leading zero bits"
