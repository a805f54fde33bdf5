"""Identity numbers at rest: encrypted (AES-GCM via Fernet), with a keyed hash for matching.

Only :func:`reveal` turns the ciphertext back into the number; callers must have checked that
the viewer is the owner or an authorised officer. Numbers never go to logs or the ledger.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


class IdentityVault:
    def __init__(self, secret: str):
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"identity-encryption")))
        self._mac_key = _derive(secret, b"identity-matching")

    def seal(self, number: str) -> bytes:
        return self._fernet.encrypt(number.encode())

    def reveal(self, sealed: bytes) -> str:
        return self._fernet.decrypt(sealed).decode()

    def fingerprint(self, number: str) -> str:
        """Keyed hash of a normalised number: equal numbers match, the number is not exposed."""
        return hmac.new(self._mac_key, number.encode(), hashlib.sha256).hexdigest()
