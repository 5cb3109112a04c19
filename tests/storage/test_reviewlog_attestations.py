"""Purchase attestations as the review log verifies them, fuzzed against eth-account (the reference signer).

No database: the digest and the recovery are checked directly, and admission through the service's
preparation step (the part of ``submit`` that runs before the sequencer).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.eip712 import PURCHASE_FIELDS, PurchaseAttestation, purchase_domain
from ledger.receipts import SECP256K1_N
from ledger.reviewlog import (
    InvalidReview,
    MalformedAttestationSignature,
    RatingOutOfRange,
    ReviewLogService,
    SubmittedAtOutOfRange,
    _recover_address,
    attestation_digest,
)
from ledger.reviews import parse_review_leaf
from ledger.storage import Database

from .reviewlog_helpers import NOW, ORDER_SIGNER, make_service, submission

PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
hashes = st.binary(min_size=32, max_size=32)
keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))  # valid secp256k1 scalars


@st.composite
def attestations(draw: st.DrawFn) -> PurchaseAttestation:
    return PurchaseAttestation(
        order_commitment=draw(hashes),
        merchant=draw(addresses),
        product_id=draw(hashes),
        buyer=draw(addresses),
        purchased_at=draw(st.integers(0, 2**40 - 1)),
    )


def eth_account_sign(key: bytes, att: PurchaseAttestation, chain_id: int, governance: str) -> Any:
    signable = encode_typed_data(
        domain_data=purchase_domain(chain_id, governance),
        message_types={"PurchaseAttestation": PURCHASE_FIELDS},
        message_data=att.as_message(),
    )
    return Account.sign_message(signable, key)


@PROPERTY
@given(attestations(), keys, st.integers(1, 2**64), addresses)
def test_digest_and_recovery_match_eth_account(att: PurchaseAttestation, key: bytes, chain_id: int,
                                               governance: str) -> None:
    signed = eth_account_sign(key, att, chain_id, governance)
    digest = attestation_digest(att, chain_id=chain_id, governance=governance)
    assert digest == bytes(signed.message_hash)
    signer = Account.from_key(key).address
    assert _recover_address(bytes(signed.signature), digest) == bytes.fromhex(signer[2:])


@PROPERTY
@given(attestations(), st.integers(0, 65 * 8 - 1))
def test_a_flipped_signature_bit_never_recovers_the_signer(att: PurchaseAttestation, bit: int) -> None:
    key = b"\x42" * 32
    signed = eth_account_sign(key, att, 31337, "0x" + "22" * 20)
    digest = attestation_digest(att, chain_id=31337, governance="0x" + "22" * 20)
    sig = bytearray(bytes(signed.signature))
    sig[bit // 8] ^= 1 << (bit % 8)
    try:
        recovered = _recover_address(bytes(sig), digest)
    except MalformedAttestationSignature:
        return
    assert recovered != bytes.fromhex(Account.from_key(key).address[2:])


@PROPERTY
@given(attestations(), st.integers(0, 2**256 - 1), st.sampled_from(["chain_id", "governance", "field"]))
def test_another_domain_or_field_changes_the_digest(att: PurchaseAttestation, other: int, what: str) -> None:
    base = attestation_digest(att, chain_id=31337, governance="0x" + "22" * 20)
    if what == "chain_id":
        chain_id = max(1, other) if other != 31337 else 1
        assert attestation_digest(att, chain_id=chain_id, governance="0x" + "22" * 20) != base
    elif what == "governance":
        governance = "0x" + (other % 2**160).to_bytes(20, "big").hex()
        if governance != "0x" + "22" * 20:
            assert attestation_digest(att, chain_id=31337, governance=governance) != base
    else:
        changed = PurchaseAttestation(att.order_commitment, att.merchant, att.product_id, att.buyer,
                                      (att.purchased_at + 1 + other % 1000) % 2**40)
        assert attestation_digest(changed, chain_id=31337, governance="0x" + "22" * 20) != base


@pytest.fixture(scope="module")
def offline_service() -> Iterator[ReviewLogService]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'offline.db'}")
        db.migrate()
        service = make_service(db)
        yield service
        service.close()
        db.dispose()


VALID = submission("ORD-property")


@PROPERTY
@given(rating=st.one_of(st.integers(-10, 10), st.booleans(), st.floats(0, 6), st.text(max_size=2)),
       offset=st.one_of(st.none(), st.integers(-1000, 1000)))
def test_rating_and_submitted_at_are_judged_exactly(offline_service: ReviewLogService, rating: Any,
                                                    offset: int | None) -> None:
    sub = submission("ORD-property", rating=rating, att=VALID.attestation, signature=VALID.attestation_signature,
                     submitted_at=None if offset is None else NOW + offset)
    rating_ok = type(rating) is int and 1 <= rating <= 5
    time_ok = offset is None or -300 <= offset <= 300
    try:
        prepared = offline_service._prepare(sub, float(NOW))
    except RatingOutOfRange:
        assert not rating_ok
        return
    except SubmittedAtOutOfRange:
        assert rating_ok and not time_ok
        return
    assert rating_ok and time_ok
    leaf = parse_review_leaf(prepared.row[1])  # the canonical leaf the log would store, parsed strictly
    assert leaf.rating == rating
    assert leaf.submitted_at == prepared.submitted_at == (NOW if offset is None else NOW + offset)


def test_digest_rejects_malformed_attestations() -> None:
    with pytest.raises(InvalidReview, match="orderCommitment"):
        attestation_digest(PurchaseAttestation(b"x", ORDER_SIGNER, b"\x00" * 32, ORDER_SIGNER, 0),
                           chain_id=1, governance="0x" + "22" * 20)
    with pytest.raises(InvalidReview, match="buyer"):
        attestation_digest(PurchaseAttestation(b"\x00" * 32, ORDER_SIGNER, b"\x00" * 32, "0xzz", 0),
                           chain_id=1, governance="0x" + "22" * 20)
    with pytest.raises(ValueError, match="chain_id"):
        attestation_digest(VALID.attestation, chain_id=0, governance="0x" + "22" * 20)
