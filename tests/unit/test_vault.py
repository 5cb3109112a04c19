"""Sealing personal data: round trip, and every way a sealed value must refuse to open."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.vault import SealBroken, Vault

KEY = bytes(range(32))


@given(st.binary(max_size=2000), st.binary(min_size=1, max_size=64))
def test_round_trip(plaintext: bytes, record: bytes) -> None:
    v = Vault(KEY)
    sealed = v.seal(plaintext, record=record)
    assert plaintext not in sealed or len(plaintext) < 4
    assert v.open(sealed, record=record) == plaintext


def test_two_seals_differ() -> None:
    v = Vault(KEY)
    assert v.seal(b"same", record=b"r") != v.seal(b"same", record=b"r")


def test_other_record_other_key_and_tampering_refused() -> None:
    v = Vault(KEY)
    sealed = v.seal(b"great kettle", record=b"leaf-1")
    with pytest.raises(SealBroken):
        v.open(sealed, record=b"leaf-2")
    with pytest.raises(SealBroken):
        Vault(bytes(32)).open(sealed, record=b"leaf-1")
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 1
        with pytest.raises(SealBroken):
            v.open(bytes(bad), record=b"leaf-1")
    with pytest.raises(SealBroken, match="at least"):
        v.open(sealed[:20], record=b"leaf-1")


def test_key_must_be_32_bytes_and_stays_hidden() -> None:
    with pytest.raises(InvalidInput):
        Vault(b"short")
    assert KEY.hex() not in repr(Vault(KEY))
