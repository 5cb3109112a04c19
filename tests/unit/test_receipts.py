"""Tests of ledger.receipts: the log operator's EIP-712 review receipts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import receipts
from ledger.errors import InvalidInput, VerificationError
from ledger.receipts import (
    RECEIPT_FIELDS,
    SECP256K1_HALF_N,
    SECP256K1_N,
    InvalidReceipt,
    MalformedSignature,
    Receipt,
    ReceiptSigner,
    ReceiptVerificationError,
    WrongDomain,
    WrongSigner,
    domain_separator,
    receipt_digest,
    review_log_domain,
    verify_receipt,
)

from ..fuzz import examples

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "testdata" / "reviews" / "receipt"
ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (InvalidReceipt, WrongDomain, WrongSigner, MalformedSignature)
}
PROPERTY = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

KEY = keccak(text="trustledger-test-receipt-key")  # a test key, never a real one
OPERATOR = Account.from_key(KEY).address
CHAIN_ID = 31337
LOG = "0x" + keccak(text="trustledger-test-review-log")[12:].hex()
DELAY = 86_400
LEAF = keccak(text="leaf")
SIGNER = ReceiptSigner(KEY, chain_id=CHAIN_ID, review_log=LOG, max_merge_delay=DELAY)


def eth_account_message(
    leaf_hash: bytes, leaf_index: int, submitted_at: int, delay: int, chain_id: int, log: str
) -> Any:
    return encode_typed_data(
        domain_data=review_log_domain(chain_id, log),
        message_types={"ReviewReceipt": RECEIPT_FIELDS},
        message_data={
            "leafHash": leaf_hash,
            "leafIndex": leaf_index,
            "submittedAt": submitted_at,
            "maxMergeDelay": delay,
        },
    )


def verify(receipt: Receipt, *, operator: str = OPERATOR, chain_id: int = CHAIN_ID, log: str = LOG) -> None:
    verify_receipt(receipt, operator=operator, chain_id=chain_id, review_log=log)


# ---------------------------------------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------------------------------------

ALL_VECTORS = sorted(VECTORS.glob("*.json"))


def test_vector_set_is_substantial() -> None:
    names = {p.stem for p in ALL_VECTORS}
    assert len(names) >= 30
    for required in (
        "happy-path",
        "wrong-chain",
        "wrong-log",
        "high-s",
        "v-29",
        "truncated-signature",
        "wrong-signer",
        "signed-for-other-chain",
    ):
        assert required in names, required


@pytest.mark.parametrize("path", ALL_VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert v["kind"] == "receipt"
    assert v["description"] and v["reproduce"].startswith("python scripts/gen_review_vectors.py")
    assert v["valid"] is (v["python_error"] is None) is (v["stage"] is None)
    if v["stage"] == "parse":
        with pytest.raises(InvalidReceipt):
            Receipt.from_json(v["receipt_text"])
        if v["receipt"] is not None:
            with pytest.raises(InvalidReceipt):
                Receipt.from_json(v["receipt"])
        return
    receipt = Receipt.from_json(v["receipt_text"])
    assert Receipt.from_json(v["receipt"]) == receipt == Receipt.from_json(v["receipt_text"].encode())
    assert receipt.to_json() == v["receipt"]
    assert "0x" + receipt.digest().hex() == v["digest"]
    message = eth_account_message(
        receipt.leaf_hash,
        receipt.leaf_index,
        receipt.submitted_at,
        receipt.max_merge_delay,
        receipt.chain_id,
        receipt.review_log,
    )
    assert bytes(Account.sign_message(message, KEY).message_hash) == receipt.digest()

    def run() -> None:
        verify_receipt(receipt, operator=v["operator"], chain_id=v["chain_id"], review_log=v["review_log"])

    if v["valid"]:
        run()
        assert v["signer_key"] is not None
        assert Account.from_key(v["signer_key"]).address.lower() == v["operator"]
    else:
        with pytest.raises(ERRORS[v["python_error"]]) as info:
            run()
        assert type(info.value).__name__ == v["python_error"]


def test_high_s_vector_is_the_malleable_twin_of_a_valid_signature() -> None:
    v = json.loads((VECTORS / "high-s.json").read_text(encoding="utf-8"))
    receipt = Receipt.from_json(v["receipt"])
    sig = receipt.signature
    # libsecp256k1 recovers the operator from the twin: only the explicit low-s rule rejects it.
    recovered = coincurve.PublicKey.from_signature_and_message(
        sig[:64] + bytes((sig[64] - 27,)), receipt.digest(), hasher=None
    )
    assert "0x" + keccak(recovered.format(compressed=False)[1:])[12:].hex() == v["operator"]
    assert int.from_bytes(sig[32:64], "big") > SECP256K1_HALF_N
    happy = Receipt.from_json(json.loads((VECTORS / "happy-path.json").read_text())["receipt"])
    assert int.from_bytes(sig[32:64], "big") == SECP256K1_N - int.from_bytes(happy.signature[32:64], "big")


def test_happy_path_receipt_covers_the_happy_path_leaf() -> None:
    leaf = json.loads((REPO / "tests/testdata/reviews/leaf/happy-path.json").read_text(encoding="utf-8"))
    receipt = json.loads((VECTORS / "happy-path.json").read_text(encoding="utf-8"))
    assert receipt["receipt"]["leafHash"] == leaf["leaf_hash"]


# ---------------------------------------------------------------------------------------------------------
# EIP-712 digest against eth_account
# ---------------------------------------------------------------------------------------------------------


def test_domain_and_struct_hash_match_eth_account() -> None:
    message = eth_account_message(LEAF, 7, 1_700_000_000, DELAY, CHAIN_ID, LOG)
    assert bytes(message.header) == domain_separator(CHAIN_ID, LOG)
    digest = receipt_digest(
        leaf_hash=LEAF,
        leaf_index=7,
        submitted_at=1_700_000_000,
        max_merge_delay=DELAY,
        chain_id=CHAIN_ID,
        review_log=LOG,
    )
    assert digest == bytes(Account.sign_message(message, KEY).message_hash)
    assert receipts.RECEIPT_TYPE == (
        "ReviewReceipt(" + ",".join(f"{f['type']} {f['name']}" for f in RECEIPT_FIELDS) + ")"
    )


uint64 = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**53, 2**63, 2**64 - 1]))
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
chain_ids = st.one_of(st.integers(1, 2**256 - 1), st.sampled_from([1, 10, 137, 8453, 31337, 2**256 - 1]))


@settings(PROPERTY, max_examples=examples(200))
@given(
    leaf=st.binary(min_size=32, max_size=32),
    index=uint64,
    t=uint64,
    delay=uint64,
    chain_id=chain_ids,
    log=addresses,
)
def test_digest_matches_eth_account_encode_typed_data(
    leaf: bytes, index: int, t: int, delay: int, chain_id: int, log: str
) -> None:
    message = eth_account_message(leaf, index, t, delay, chain_id, log)
    ours = receipt_digest(
        leaf_hash=leaf,
        leaf_index=index,
        submitted_at=t,
        max_merge_delay=delay,
        chain_id=chain_id,
        review_log=log,
    )
    assert ours == bytes(Account.sign_message(message, KEY).message_hash)


# ---------------------------------------------------------------------------------------------------------
# Signing and verifying
# ---------------------------------------------------------------------------------------------------------


def test_sign_and_verify() -> None:
    receipt = SIGNER.sign(LEAF, 41, 1_700_000_000)
    assert (receipt.leaf_hash, receipt.leaf_index, receipt.submitted_at) == (LEAF, 41, 1_700_000_000)
    assert (receipt.max_merge_delay, receipt.chain_id, receipt.review_log) == (DELAY, CHAIN_ID, LOG)
    assert receipt.deadline == 1_700_000_000 + DELAY
    assert len(receipt.signature) == 65 and receipt.signature[64] in (27, 28)
    verify(receipt)
    verify(receipt, operator=OPERATOR.lower(), log=to_checksum_address(LOG))  # spelling does not matter
    assert SIGNER.address == OPERATOR.lower()
    # The same bytes as eth_account's signer (both RFC 6979), and eth_account recovers the operator.
    message = eth_account_message(LEAF, 41, 1_700_000_000, DELAY, CHAIN_ID, LOG)
    assert bytes(Account.sign_message(message, KEY).signature) == receipt.signature
    assert Account.recover_message(message, signature=receipt.signature) == OPERATOR


def test_receipt_signed_by_eth_account_verifies() -> None:
    digest = receipt_digest(
        leaf_hash=LEAF, leaf_index=3, submitted_at=5, max_merge_delay=DELAY, chain_id=CHAIN_ID, review_log=LOG
    )
    signed = Account.unsafe_sign_hash(digest, KEY)
    signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes((signed.v,))
    verify(Receipt(LEAF, 3, 5, DELAY, CHAIN_ID, LOG, signature))


def test_verification_errors_say_expected_and_found() -> None:
    receipt = SIGNER.sign(LEAF, 1, 2)
    with pytest.raises(WrongDomain) as info:
        verify(receipt, chain_id=1)
    assert (info.value.what, info.value.expected, info.value.found) == ("chainId", "1", str(CHAIN_ID))
    assert str(info.value) == f"receipt chainId: expected 1, found {CHAIN_ID}"
    other = "0x" + "11" * 20
    with pytest.raises(WrongDomain, match=f"verifyingContract: expected {other}, found {LOG}"):
        verify(receipt, log=other)
    stranger = Account.from_key(keccak(text="stranger")).address
    with pytest.raises(WrongSigner) as info2:
        verify(receipt, operator=stranger)
    assert info2.value.expected == stranger.lower() and info2.value.found == OPERATOR.lower()
    for cls in (WrongDomain, WrongSigner, MalformedSignature):
        assert issubclass(cls, ReceiptVerificationError) and issubclass(cls, VerificationError)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"operator": "0x1234"}, "operator"),
        ({"chain_id": 0}, "chain_id"),
        ({"chain_id": True}, "chain_id"),
        ({"log": "not an address"}, "review_log"),
    ],
)
def test_verify_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        verify(SIGNER.sign(LEAF, 1, 2), **kwargs)
    with pytest.raises(InvalidInput, match="Receipt"):
        verify_receipt("receipt", operator=OPERATOR, chain_id=1, review_log=LOG)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key,match",
    [
        (b"", "32 bytes"),
        (bytes(31), "32 bytes"),
        (KEY.hex(), "32 bytes"),
        (bytes(32), "out of range"),
        (SECP256K1_N.to_bytes(32, "big"), "out of range"),
        (b"\xff" * 32, "out of range"),
    ],
)
def test_signer_rejects_bad_keys(key: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        ReceiptSigner(key, chain_id=CHAIN_ID, review_log=LOG, max_merge_delay=DELAY)


def test_signer_repr_does_not_show_the_key() -> None:
    text = repr(SIGNER)
    assert KEY.hex() not in text and OPERATOR.lower() in text


@pytest.mark.parametrize(
    "args,match",
    [
        ((LEAF[:31], 0, 0), "leaf_hash"),
        ((LEAF.hex(), 0, 0), "leaf_hash"),
        ((LEAF, -1, 0), "leaf_index"),
        ((LEAF, 2**64, 0), "leaf_index"),
        ((LEAF, True, 0), "leaf_index"),
        ((LEAF, 0, 2**64), "submitted_at"),
        ((LEAF, 0, 2**64 - 1), "maxMergeDelay"),  # the deadline would overflow uint64
    ],
)
def test_sign_rejects_bad_arguments(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        SIGNER.sign(*args)


@pytest.mark.parametrize(
    "changes",
    [
        {"leaf_hash": bytes(31)},
        {"leaf_index": -1},
        {"leaf_index": 2**64},
        {"submitted_at": 1.0},
        {"max_merge_delay": False},
        {"chain_id": 0},
        {"chain_id": 2**256},
        {"review_log": "0x12"},
        {"review_log": b"\x00" * 20},
        {"signature": bytes(64)},
        {"signature": "00" * 65},
    ],
)
def test_receipt_construction_checks_shapes(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidReceipt):
        dataclasses.replace(SIGNER.sign(LEAF, 1, 2), **changes)


def test_receipt_json_round_trip_and_spelling() -> None:
    receipt = SIGNER.sign(LEAF, 2**63, 2**60)
    obj = receipt.to_json()
    assert obj["leafIndex"] == str(2**63) and obj["chainId"] == str(CHAIN_ID) and obj["v"] == 1
    assert Receipt.from_json(obj) == receipt
    assert Receipt.from_json(json.dumps(obj, indent=2)) == receipt
    assert Receipt.from_json(json.dumps(obj).encode()) == receipt
    assert "0x" + receipt.signature.hex() in repr(receipt)
    # The constructor takes any spelling of the log address and keeps one.
    assert dataclasses.replace(receipt, review_log=to_checksum_address(LOG)) == receipt


@pytest.mark.parametrize(
    "member,value",
    [
        ("v", True),
        ("v", 1.0),
        ("v", "1"),
        ("leafIndex", "4.0"),
        ("leafIndex", " 4"),
        ("leafIndex", "٤"),
        ("leafIndex", ""),
        ("chainId", "1" * 79),
        ("leafHash", None),
        ("signature", 5),
    ],
)
def test_receipt_from_json_is_strict(member: str, value: Any) -> None:
    obj: dict[str, Any] = dict(SIGNER.sign(LEAF, 4, 5).to_json())
    obj[member] = value
    with pytest.raises(InvalidReceipt) as info:
        Receipt.from_json(obj)
    assert info.value.member == member
    with pytest.raises(InvalidReceipt):
        Receipt.from_json(json.dumps(obj))


def test_receipt_from_json_rejects_nan_and_non_objects() -> None:
    text = json.dumps(SIGNER.sign(LEAF, 4, 5).to_json())
    with pytest.raises(InvalidReceipt, match="NaN"):
        Receipt.from_json(text.replace('"v": 1', '"v": NaN'))
    with pytest.raises(InvalidReceipt, match="object"):
        Receipt.from_json("[" + text + "]")
    with pytest.raises(InvalidReceipt):
        Receipt.from_json(5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Properties (Hypothesis)
# ---------------------------------------------------------------------------------------------------------

keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(PROPERTY, max_examples=examples(300))
@given(
    key=keys,
    leaf=st.binary(min_size=32, max_size=32),
    index=uint64,
    t=st.integers(0, 2**63),
    delay=st.integers(0, 2**62),
    chain_id=chain_ids,
    log=addresses,
)
def test_sign_verify_round_trip(
    key: bytes, leaf: bytes, index: int, t: int, delay: int, chain_id: int, log: str
) -> None:
    signer = ReceiptSigner(key, chain_id=chain_id, review_log=log, max_merge_delay=delay)
    receipt = signer.sign(leaf, index, t)
    assert int.from_bytes(receipt.signature[32:64], "big") <= SECP256K1_HALF_N  # low s, always
    verify_receipt(receipt, operator=signer.address, chain_id=chain_id, review_log=log)
    assert Receipt.from_json(receipt.to_json()) == receipt
    assert Receipt.from_json(json.dumps(receipt.to_json())) == receipt
    assert receipt.deadline == t + delay


FIXED = [SIGNER.sign(LEAF, 41, 1_718_000_000), SIGNER.sign(keccak(text="other"), 2**40, 2**33)]
FIELDS = ["signature", "leaf_hash", "leaf_index", "submitted_at", "max_merge_delay", "chain_id", "review_log"]


def flip(receipt: Receipt, field: str, bit: int) -> Receipt:
    value = getattr(receipt, field)
    if isinstance(value, bytes):
        raw = bytearray(value)
        raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
        changes: dict[str, Any] = {field: bytes(raw)}
        return dataclasses.replace(receipt, **changes)
    if isinstance(value, str):  # the log address: flip a bit of its 20 bytes
        raw = bytearray(bytes.fromhex(value[2:]))
        raw[(bit // 8) % 20] ^= 1 << (bit % 8)
        changes = {field: "0x" + raw.hex()}
        return dataclasses.replace(receipt, **changes)
    changes = {field: value ^ (1 << (bit % (256 if field == "chain_id" else 64)))}
    return dataclasses.replace(receipt, **changes)


@settings(PROPERTY, max_examples=examples(1200))
@given(base=st.sampled_from(FIXED), field=st.sampled_from(FIELDS), bit=st.integers(0, 65 * 8 - 1))
def test_any_single_bit_flip_fails_verification(base: Receipt, field: str, bit: int) -> None:
    try:
        mutated = flip(base, field, bit)
    except InvalidReceipt:
        return  # not even a receipt (chain id 0, a deadline past uint64): nothing to verify
    assert mutated != base
    with pytest.raises(ReceiptVerificationError) as info:
        verify(mutated)
    if field in ("chain_id", "review_log"):
        assert isinstance(info.value, WrongDomain)
    elif field == "signature":
        assert isinstance(info.value, (WrongSigner, MalformedSignature))
    else:
        assert isinstance(info.value, WrongSigner)


# ---------------------------------------------------------------------------------------------------------
# Batches (the review log's fast path)
# ---------------------------------------------------------------------------------------------------------


@PROPERTY
@given(
    hashes=st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=6),
    first=st.integers(0, 2**64 - 7),
    times=st.lists(st.integers(0, 2**64 - 1 - DELAY), min_size=6, max_size=6),
)
def test_sign_batch_is_sign_of_each_leaf(hashes: list[bytes], first: int, times: list[int]) -> None:
    times = times[: len(hashes)]
    batch = SIGNER.sign_batch(hashes, first, times)
    assert batch == [SIGNER.sign(h, first + i, t) for i, (h, t) in enumerate(zip(hashes, times, strict=True))]
    for receipt in batch:  # byte for byte the same JSON, and as valid
        assert receipt.to_json() == SIGNER.sign(receipt.leaf_hash, receipt.leaf_index, receipt.submitted_at).to_json()
        verify(receipt)


def test_sign_batch_in_a_process_pool_is_the_same() -> None:
    from concurrent.futures import ProcessPoolExecutor

    hashes = [keccak(text=f"leaf {i}") for i in range(40)]
    times = [1_800_000_000 + i for i in range(40)]
    with ProcessPoolExecutor(1) as pool:
        assert SIGNER.sign_batch(hashes, 7, times, executor=pool) == SIGNER.sign_batch(hashes, 7, times)


def test_sign_batch_reproduces_the_happy_path_vector() -> None:
    vector = json.loads((VECTORS / "happy-path.json").read_text())
    expected = Receipt.from_json(vector["receipt"])
    signer = ReceiptSigner(bytes.fromhex(vector["signer_key"].removeprefix("0x")), chain_id=expected.chain_id, review_log=expected.review_log,
                           max_merge_delay=expected.max_merge_delay)
    (receipt,) = signer.sign_batch([expected.leaf_hash], expected.leaf_index, [expected.submitted_at])
    assert receipt == expected and receipt.to_json() == vector["receipt"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([LEAF, LEAF], 0, [1]), "one submitted_at per leaf hash"),
        (([LEAF[:31]], 0, [1]), "leaf_hash must be 32 bytes"),
        (([bytearray(LEAF)], 0, [1]), "of type bytes"),
        (([LEAF], -1, [1]), "first_index must be from 0"),
        (([LEAF, LEAF], 2**64 - 1, [1, 1]), "the last leaf index must be from 0"),
        (([LEAF], 0, [True]), "submitted_at must be an int, found bool"),
        (([LEAF], 0, [-1]), "submitted_at must be from 0"),
        (([LEAF], 0, [2**64 - DELAY]), "submitted_at must be from 0"),
    ],
)
def test_sign_batch_rejects_bad_arguments(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        SIGNER.sign_batch(*args)
