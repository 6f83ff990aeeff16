"""The admission signing key on disk: loaded from a PEM file, created on first use.

Several processes may start at once against a fresh path; the file is
created exclusively (O_EXCL) from a fully written temporary file, so exactly
one key wins and every process ends up signing with it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from waitingroom.tokens import ISSUER, AdmissionSigner


def load_or_create_signer(path: str | os.PathLike[str], issuer: str = ISSUER) -> AdmissionSigner:
    key_path = Path(path)
    if not key_path.exists():
        _create(key_path)
    return AdmissionSigner.from_pem(key_path.read_bytes(), issuer)


def _create(key_path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process got there first
            os.link(temporary, key_path)
    finally:
        temporary.unlink(missing_ok=True)
