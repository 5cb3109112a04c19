"""Personal data at rest: AES-256-GCM sealing with the content key, bound to the record it belongs to.

A sealed value is ``0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)``. The associated data names the
record (for a review, its leaf hash), so a ciphertext copied onto another row does not open there. Erasure
is deleting the ciphertext; the leaf, which holds only a salted hash of the content, stays.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import InvalidInput, VerificationError

__all__ = ["SEAL_VERSION", "SealBroken", "Vault"]

SEAL_VERSION = 1
_NONCE = 12
_TAG = 16


class SealBroken(VerificationError):
    """A sealed value does not open: wrong key, another record's ciphertext, or tampered bytes."""


class Vault:
    """Seals and opens personal data with one 32-byte key (the ``content_key`` setting)."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if type(key) is not bytes or len(key) != 32:
            raise InvalidInput("the content key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Vault(<key hidden>)"

    def seal(self, plaintext: bytes, *, record: bytes) -> bytes:
        """Encrypt ``plaintext`` for the record named by ``record`` (its associated data)."""
        nonce = os.urandom(_NONCE)
        return bytes([SEAL_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, record)

    def open(self, sealed: bytes, *, record: bytes) -> bytes:
        """Decrypt ``sealed``; SealBroken unless it was sealed with this key for this ``record``."""
        if len(sealed) < 1 + _NONCE + _TAG or sealed[0] != SEAL_VERSION:
            raise SealBroken(f"expected a version-{SEAL_VERSION} sealed value of at least {1 + _NONCE + _TAG} "
                             f"bytes, found {len(sealed)} bytes starting 0x{sealed[:1].hex()}")
        try:
            return self._aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], record)
        except InvalidTag:
            raise SealBroken("sealed value does not open with this key for this record") from None
