"""Proof of work on join: make each bot join cost CPU while a fan's browser barely notices.

Stateless: the challenge is MAC-bound to (event, user, difficulty, issue
time), so the server stores nothing, a solution cannot be reused by another
account or event, and it expires after `CHALLENGE_TTL_SECONDS`. A solution is a
nonce such that sha256(f"{challenge}:{nonce}") starts with `difficulty` zero bits.
Reusing one's own solution within its lifetime only repeats an idempotent join.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from waitingroom.errors import ErrorCode, WaitingRoomError

CHALLENGE_TTL_SECONDS = 300
MAX_NONCE_CHARS = 64
_MAC_BYTES = 12


@dataclass(frozen=True, slots=True)
class PowChallenge:
    challenge: str
    difficulty_bits: int
    expires_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "challenge": self.challenge,
            "difficulty_bits": self.difficulty_bits,
            "expires_at": self.expires_at,
            "algorithm": "sha256-leading-zero-bits",
        }


@dataclass(frozen=True, slots=True)
class PowSolution:
    challenge: str
    nonce: str


def issue_challenge(
    mac_key: bytes, event_id: int, user_id: int, difficulty_bits: int, now: float
) -> PowChallenge:
    issued_at = int(now)
    mac = _mac(mac_key, event_id, user_id, difficulty_bits, issued_at)
    return PowChallenge(
        f"{difficulty_bits}.{issued_at}.{mac}", difficulty_bits, issued_at + CHALLENGE_TTL_SECONDS
    )


def verify_solution(
    mac_key: bytes, event_id: int, user_id: int, solution: PowSolution, now: float
) -> int:
    """The difficulty the solution proves; raises `pow_invalid` if it proves nothing."""
    try:
        difficulty_text, issued_text, mac = solution.challenge.split(".")
        difficulty_bits, issued_at = int(difficulty_text), int(issued_text)
    except ValueError:
        raise _invalid("malformed challenge") from None
    expected = _mac(mac_key, event_id, user_id, difficulty_bits, issued_at)
    if not hmac.compare_digest(mac, expected):
        raise _invalid("challenge not issued for this event and account")
    if not issued_at - 5 <= now <= issued_at + CHALLENGE_TTL_SECONDS:
        raise _invalid("challenge expired")
    if not 0 < len(solution.nonce) <= MAX_NONCE_CHARS:
        raise _invalid("nonce length")
    if leading_zero_bits(_digest(solution.challenge, solution.nonce)) < difficulty_bits:
        raise _invalid("not enough leading zero bits")
    return difficulty_bits


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(challenge: str, difficulty_bits: int) -> PowSolution:
    """Brute force, as a fan's browser does (tests and load tests use it)."""
    counter = 0
    while leading_zero_bits(_digest(challenge, str(counter))) < difficulty_bits:
        counter += 1
    return PowSolution(challenge, str(counter))


def _digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()


def _mac(mac_key: bytes, event_id: int, user_id: int, difficulty_bits: int, issued_at: int) -> str:
    message = f"pow|{event_id}|{user_id}|{difficulty_bits}|{issued_at}".encode()
    digest = hmac.new(mac_key, message, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _invalid(reason: str) -> WaitingRoomError:
    return WaitingRoomError(
        ErrorCode.POW_INVALID, "the proof of work is not valid", {"reason": reason}
    )
