"""Constants shared by the waiting-room integration tests (real Redis, simulated time)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from waitingroom.tokens import AdmissionSigner

T0 = 1_900_000_000.0
"""Opening time; the sale starts at T0 + 100. All times are simulated."""
START = T0 + 100
SIGNER = AdmissionSigner(Ed25519PrivateKey.generate())
