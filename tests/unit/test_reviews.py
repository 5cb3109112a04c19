"""Tests of ledger.reviews: the review leaf, its commitments, canonical bytes and strict parser."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from eth_abi.packed import encode_packed
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger import merkle, reviews
from ledger.errors import InvalidInput, LedgerError
from ledger.reviews import (
    DuplicateMember,
    InvalidReviewLeaf,
    MalformedHex,
    MalformedReviewJSON,
    MemberOutOfRange,
    MissingMember,
    NonCanonicalLeaf,
    ReviewLeaf,
    UnknownMember,
    UnsupportedVersion,
    WrongMemberType,
    content_commitment,
    order_commitment,
    parse_review_leaf,
    reviewer_pseudonym,
)

from ..fuzz import examples

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "testdata" / "reviews" / "leaf"
GENERATOR = REPO / "scripts" / "gen_review_vectors.py"
ERRORS: dict[str, type[InvalidReviewLeaf]] = {
    cls.__name__: cls
    for cls in (
        InvalidReviewLeaf,
        MalformedReviewJSON,
        DuplicateMember,
        UnknownMember,
        MissingMember,
        WrongMemberType,
        MalformedHex,
        MemberOutOfRange,
        UnsupportedVersion,
        NonCanonicalLeaf,
    )
}

PROPERTY = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# RFC 8785 §3.2.3 member order of a leaf (UTF-16 code unit order; ASCII here).
CANONICAL_ORDER = ("content", "merchant", "productId", "purchase", "rating", "reviewer", "submittedAt", "v")


def reference_canonical(leaf: ReviewLeaf) -> bytes:
    """A plain serializer for the one shape a leaf has, written without rfc8785."""
    members: dict[str, Any] = {
        "content": "0x" + leaf.content.hex(),
        "merchant": leaf.merchant,
        "productId": "0x" + leaf.product_id.hex(),
        "purchase": "0x" + leaf.purchase.hex(),
        "rating": leaf.rating,
        "reviewer": "0x" + leaf.reviewer.hex(),
        "submittedAt": leaf.submitted_at,
        "v": 1,
    }
    body = ",".join(
        f'"{k}":' + (f'"{members[k]}"' if isinstance(members[k], str) else str(members[k]))
        for k in CANONICAL_ORDER
    )
    return ("{" + body + "}").encode()


def example_leaf(**changes: Any) -> ReviewLeaf:
    fields: dict[str, Any] = {
        "product_id": keccak(text="gtin:06901234567892"),
        "merchant": "0x" + "ab" * 20,
        "rating": 4,
        "content": bytes(range(32)),
        "reviewer": bytes(range(32, 64)),
        "purchase": bytes(range(64, 96)),
        "submitted_at": 1_718_000_000,
    }
    fields.update(changes)
    return ReviewLeaf(**fields)


# ---------------------------------------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------------------------------------

ALL_VECTORS = sorted(VECTORS.glob("*.json"))


def test_vector_set_is_substantial() -> None:
    names = {p.stem for p in ALL_VECTORS}
    assert len(names) >= 50
    for required in (
        "happy-path",
        "keys-reordered",
        "whitespace",
        "unicode-escapes",
        "rating-0",
        "rating-6",
        "rating-bool",
        "rating-float",
        "extra-member",
        "missing-content",
        "uppercase-hex",
        "short-hex",
        "duplicate-key",
        "trailing-garbage",
        "nan",
        "v-2",
        "submittedAt-negative",
        "submittedAt-2^53",
    ):
        assert required in names, required


@pytest.mark.parametrize("path", ALL_VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert v["kind"] == "leaf"
    assert v["description"] and v["reproduce"].startswith("python scripts/gen_review_vectors.py")
    assert (v["input"] is None) != (v["input_hex"] is None)
    raw = v["input"].encode() if v["input"] is not None else bytes.fromhex(v["input_hex"][2:])
    runs: list[tuple[bytes | str, dict[str, Any]]] = [(raw, v["as_bytes"])]
    if v["input"] is not None:
        runs.append((v["input"], v["as_text"]))
    else:
        assert v["as_text"] is None
    accepted = False
    for data, want in runs:
        assert want["valid"] is (want["python_error"] is None)
        if want["valid"]:
            leaf = parse_review_leaf(data)
            assert leaf.canonical_bytes().decode() == v["canonical"]
            assert "0x" + leaf.leaf_hash().hex() == v["leaf_hash"]
            assert leaf.leaf_hash() == hashlib.sha256(b"\x00" + v["canonical"].encode()).digest()
            accepted = True
        else:
            with pytest.raises(ERRORS[want["python_error"]]) as info:
                parse_review_leaf(data)
            assert type(info.value).__name__ == want["python_error"]
    assert accepted is (v["canonical"] is not None)
    if accepted:  # the canonical bytes themselves are always accepted, as bytes
        assert parse_review_leaf(v["canonical"].encode()).canonical_bytes() == v["canonical"].encode()
    if "derivation" in v:
        d = v["derivation"]
        leaf = parse_review_leaf(raw)
        assert leaf.product_id == keccak(text="gtin:" + d["gtin"])
        assert leaf.content == content_commitment(d["review_text"], bytes.fromhex(d["content_salt"][2:]))
        assert leaf.reviewer == reviewer_pseudonym(d["user_id"], bytes.fromhex(d["pseudonym_key"][2:]))
        assert leaf.purchase == order_commitment(
            d["order_id"], leaf.merchant, bytes.fromhex(d["order_salt"][2:])
        )


def test_vector_generator_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------------------
# Commitments
# ---------------------------------------------------------------------------------------------------------


def test_content_commitment_is_salted_sha256_of_utf8() -> None:
    salt = bytes(range(32))
    text = "質量很好 — 5 stars"
    assert content_commitment(text, salt) == hashlib.sha256(salt + text.encode("utf-8")).digest()
    assert content_commitment(text, salt) != content_commitment(text, bytes(32))
    # No Unicode normalisation: NFC and NFD spellings of "é" commit differently.
    assert content_commitment("\u00e9", salt) != content_commitment("e\u0301", salt)


@pytest.mark.parametrize("salt", [b"", bytes(31), bytes(33), "00" * 32, None])
def test_content_commitment_requires_a_32_byte_salt(salt: Any) -> None:
    with pytest.raises(InvalidInput, match="salt"):
        content_commitment("text", salt)


def test_content_commitment_rejects_text_that_is_not_unicode_scalar_values() -> None:
    with pytest.raises(InvalidInput, match="UTF-8"):
        content_commitment("lone \ud800 surrogate", bytes(32))
    with pytest.raises(InvalidInput, match="str"):
        content_commitment(b"bytes", bytes(32))  # type: ignore[arg-type]


def test_reviewer_pseudonym_is_hmac_sha256() -> None:
    key = bytes(range(40))
    assert reviewer_pseudonym("user-1", key) == hmac.new(key, b"user-1", hashlib.sha256).digest()
    assert reviewer_pseudonym("user-1", key) == reviewer_pseudonym("user-1", key)
    assert reviewer_pseudonym("user-1", key) != reviewer_pseudonym("user-2", key)
    assert reviewer_pseudonym("user-1", key) != reviewer_pseudonym("user-1", bytes(40))


@pytest.mark.parametrize("key", [b"", bytes(31), "k" * 32, None])
def test_reviewer_pseudonym_requires_a_key_of_at_least_32_bytes(key: Any) -> None:
    with pytest.raises(InvalidInput, match="pseudonym key"):
        reviewer_pseudonym("user-1", key)


def test_reviewer_pseudonym_requires_a_user_id() -> None:
    with pytest.raises(InvalidInput, match="user_id"):
        reviewer_pseudonym("", bytes(32))
    with pytest.raises(InvalidInput, match="user_id"):
        reviewer_pseudonym(42, bytes(32))  # type: ignore[arg-type]


def test_order_commitment_matches_abi_encode_packed() -> None:
    merchant = "0x" + "cd" * 20
    salt = bytes(range(100, 132))
    packed = encode_packed(["bytes32", "address", "bytes32"], [keccak(text="ORD-1"), merchant, salt])
    assert len(packed) == 84
    assert order_commitment("ORD-1", merchant, salt) == keccak(packed)
    # The merchant's spelling does not matter; the merchant, order and salt do.
    assert order_commitment("ORD-1", to_checksum_address(merchant), salt) == keccak(packed)
    assert order_commitment("ORD-1", merchant.upper().replace("0X", "0x"), salt) == keccak(packed)
    assert order_commitment("ORD-2", merchant, salt) != keccak(packed)
    assert order_commitment("ORD-1", "0x" + "ce" * 20, salt) != keccak(packed)
    assert order_commitment("ORD-1", merchant, bytes(32)) != keccak(packed)


@pytest.mark.parametrize(
    "order_id,merchant,salt,match",
    [
        ("", "0x" + "cd" * 20, bytes(32), "order_id"),
        ("ORD-1", "0x" + "cd" * 19, bytes(32), "merchant"),
        ("ORD-1", "cd" * 20, bytes(32), "merchant"),
        ("ORD-1", "0x" + "cd" * 20, bytes(16), "salt"),
    ],
)
def test_order_commitment_rejects_bad_arguments(
    order_id: str, merchant: str, salt: bytes, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        order_commitment(order_id, merchant, salt)


# ---------------------------------------------------------------------------------------------------------
# ReviewLeaf
# ---------------------------------------------------------------------------------------------------------


def test_leaf_canonical_bytes_hash_and_json() -> None:
    leaf = example_leaf()
    assert leaf.canonical_bytes() == reference_canonical(leaf)
    assert leaf.leaf_hash() == merkle.leaf_hash(leaf.canonical_bytes())
    assert json.loads(leaf.canonical_bytes()) == leaf.to_json()
    assert leaf.to_json()["v"] == 1 == ReviewLeaf.VERSION
    assert parse_review_leaf(leaf.canonical_bytes()) == leaf
    assert "0x" + leaf.content.hex() in repr(leaf)


def test_leaf_stores_the_merchant_in_lower_case() -> None:
    merchant = to_checksum_address("0x" + "ab" * 20)
    assert merchant != merchant.lower()
    leaf = example_leaf(merchant=merchant)
    assert leaf.merchant == merchant.lower()
    assert leaf == example_leaf(merchant=merchant.lower())


def test_leaf_accepts_bytearray_and_stores_bytes() -> None:
    leaf = example_leaf(content=bytearray(range(32)))
    assert type(leaf.content) is bytes
    assert leaf == example_leaf()


@pytest.mark.parametrize(
    "changes,error,member",
    [
        ({"content": bytes(31)}, InvalidReviewLeaf, "content"),
        ({"product_id": "00" * 32}, WrongMemberType, "productId"),
        ({"merchant": "0x" + "ab" * 19}, MalformedHex, "merchant"),
        ({"merchant": b"\xab" * 20}, WrongMemberType, "merchant"),
        ({"rating": 0}, MemberOutOfRange, "rating"),
        ({"rating": True}, WrongMemberType, "rating"),
        ({"rating": 4.0}, WrongMemberType, "rating"),
        ({"submitted_at": -1}, MemberOutOfRange, "submittedAt"),
        ({"submitted_at": 2**53}, MemberOutOfRange, "submittedAt"),
    ],
)
def test_leaf_construction_validates(changes: dict[str, Any], error: type[Exception], member: str) -> None:
    with pytest.raises(error) as info:
        example_leaf(**changes)
    assert isinstance(info.value, InvalidReviewLeaf)
    assert info.value.member == member


def test_leaf_is_frozen() -> None:
    leaf = example_leaf()
    with pytest.raises(AttributeError):
        leaf.rating = 5  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------
# Parser details
# ---------------------------------------------------------------------------------------------------------


def test_errors_say_member_expected_and_found() -> None:
    text = example_leaf().canonical_bytes().replace(b'"rating":4', b'"rating":true')
    with pytest.raises(WrongMemberType) as info:
        parse_review_leaf(text)
    err = info.value
    assert (err.member, err.expected, err.found) == ("rating", "a JSON integer", "boolean true")
    assert str(err) == 'review leaf member "rating": expected a JSON integer, found boolean true'
    assert isinstance(err, InvalidInput) and isinstance(err, ValueError) and isinstance(err, LedgerError)


def test_non_canonical_error_points_at_the_first_difference() -> None:
    canonical = example_leaf().canonical_bytes()
    with pytest.raises(NonCanonicalLeaf, match=r"difference at byte 1:"):
        parse_review_leaf(b"{ " + canonical[1:])


def test_require_canonical_can_be_set_either_way() -> None:
    leaf = example_leaf()
    pretty = json.dumps(leaf.to_json(), indent=1)
    assert parse_review_leaf(pretty.encode(), require_canonical=False) == leaf
    with pytest.raises(NonCanonicalLeaf):
        parse_review_leaf(pretty, require_canonical=True)
    assert parse_review_leaf(leaf.canonical_bytes().decode(), require_canonical=True) == leaf
    with pytest.raises(InvalidInput, match="require_canonical"):
        parse_review_leaf(leaf.to_json(), require_canonical=True)


def test_mapping_input_is_checked_like_json() -> None:
    good = example_leaf().to_json()
    assert parse_review_leaf(good) == example_leaf()
    assert parse_review_leaf(dict(reversed(list(good.items())))) == example_leaf()
    for member, bad, error in [
        ("rating", True, WrongMemberType),
        ("rating", 4.0, WrongMemberType),
        ("submittedAt", float("nan"), WrongMemberType),
        ("v", False, WrongMemberType),
        ("content", bytes(32), WrongMemberType),
        ("merchant", to_checksum_address("0x" + "ab" * 20), MalformedHex),
    ]:
        with pytest.raises(error) as info:
            parse_review_leaf({**good, member: bad})
        assert info.value.member == member
    with pytest.raises(UnknownMember, match="unknown member 1"):
        parse_review_leaf({**good, 1: 2})  # type: ignore[dict-item]


@pytest.mark.parametrize("data", [5, None, ["a"], 4.5])
def test_other_input_types_are_rejected(data: Any) -> None:
    with pytest.raises(WrongMemberType):
        parse_review_leaf(data)


def test_messages_stay_short_for_hostile_input() -> None:
    good = example_leaf().to_json()
    with pytest.raises(UnknownMember) as info:
        parse_review_leaf({**good, "x" * 3000: 1})
    assert len(str(info.value)) < 400
    with pytest.raises(MalformedHex) as info2:
        parse_review_leaf(json.dumps({**good, "content": "0x" + "\u0000" * 500}))
    assert len(str(info2.value)) < 400 and "\x00" not in str(info2.value)


def test_every_error_class_is_an_invalid_review_leaf() -> None:
    for cls in ERRORS.values():
        assert issubclass(cls, InvalidReviewLeaf) and issubclass(cls, InvalidInput)
    assert set(ERRORS) <= set(reviews.__all__)


# ---------------------------------------------------------------------------------------------------------
# Properties (Hypothesis)
# ---------------------------------------------------------------------------------------------------------

hashes = st.binary(min_size=32, max_size=32)
leaves = st.builds(
    ReviewLeaf,
    product_id=hashes,
    merchant=st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    rating=st.integers(1, 5),
    content=hashes,
    reviewer=hashes,
    purchase=hashes,
    submitted_at=st.one_of(st.integers(0, 2**53 - 1), st.sampled_from([0, 2**53 - 1, 1_718_000_000])),
)


def reformat(obj: dict[str, Any], rnd: random.Random) -> str:
    """The same JSON object in a random member order, spacing and escaping."""
    items = list(obj.items())
    rnd.shuffle(items)
    ws = [" ", "\n", "\t", "\r", ""]

    def s(value: str) -> str:
        return '"' + "".join(f"\\u{ord(c):04x}" if rnd.random() < 0.2 else c for c in value) + '"'

    parts = [
        f"{rnd.choice(ws)}{s(k)}{rnd.choice(ws)}:{rnd.choice(ws)}"
        f"{s(v) if isinstance(v, str) else v}{rnd.choice(ws)}"
        for k, v in items
    ]
    return rnd.choice(ws) + "{" + ",".join(parts) + "}" + rnd.choice(ws)


@settings(PROPERTY, max_examples=examples(400))
@given(leaf=leaves, seed=st.integers(0, 2**32))
def test_valid_leaves_round_trip(leaf: ReviewLeaf, seed: int) -> None:
    canonical = leaf.canonical_bytes()
    assert canonical == reference_canonical(leaf)
    assert parse_review_leaf(canonical) == leaf
    assert parse_review_leaf(canonical).canonical_bytes() == canonical
    assert parse_review_leaf(leaf.to_json()) == leaf
    assert leaf.leaf_hash() == hashlib.sha256(b"\x00" + canonical).digest()
    text = reformat(leaf.to_json(), random.Random(seed))
    assert parse_review_leaf(text) == leaf
    if text.encode() != canonical:
        with pytest.raises(NonCanonicalLeaf):
            parse_review_leaf(text.encode())


# Bytes that turn a canonical leaf into something close to it: JSON punctuation, digits, hex, quotes.
INTERESTING = b'{}[]":,0123456789abcdefABCDEFxX-+.eE \t\n\\uNaIy'


# A few fixed leaves (the mutation is what varies; leaves themselves are varied by the other properties).
BASE_LEAVES = [
    example_leaf(),
    example_leaf(rating=1, submitted_at=0),
    example_leaf(rating=5, submitted_at=2**53 - 1),
]
OPS = ("flip", "replace", "insert", "delete", "duplicate")


def mutate(data: bytes, tape: bytes) -> bytes:
    """Apply the edits encoded in ``tape``, 4 bytes each: operation, position (2 bytes), operand.

    One binary draw per example keeps Hypothesis's overhead low while it still shrinks the tape.
    """
    out = bytearray(data)
    for k in range(0, len(tape) - 3, 4):
        op, pos, arg = OPS[tape[k] % len(OPS)], int.from_bytes(tape[k + 1 : k + 3], "big"), tape[k + 3]
        i = pos % max(len(out), 1)
        if op == "insert":
            out.insert(i, INTERESTING[arg % len(INTERESTING)] if arg & 1 else arg)
        elif not out:
            continue
        elif op == "flip":
            out[i] ^= 1 << (arg % 8)
        elif op == "replace":
            out[i] = INTERESTING[arg % len(INTERESTING)] if arg & 1 else arg
        elif op == "delete":
            del out[i]
        else:  # duplicate a short run
            out[i:i] = out[i : i + 1 + arg % 20]
    return bytes(out)


@settings(PROPERTY, max_examples=examples(2500))
@given(base=st.sampled_from(BASE_LEAVES), tape=st.binary(min_size=4, max_size=16))
def test_mutated_leaf_bytes_are_rejected_or_are_exactly_canonical(base: ReviewLeaf, tape: bytes) -> None:
    original = base.canonical_bytes()
    mutated = mutate(original, tape)
    try:
        leaf = parse_review_leaf(mutated)
    except InvalidReviewLeaf as exc:
        event(f"rejected: {type(exc).__name__}")
        return  # any other exception type fails the test
    event("accepted: same leaf" if mutated == original else "accepted: another valid leaf")
    # Never a silent different leaf: the bytes accepted are exactly the canonical bytes of what was parsed.
    assert leaf.canonical_bytes() == mutated
    assert leaf.leaf_hash() == merkle.leaf_hash(mutated)
    assert (leaf.leaf_hash() == merkle.leaf_hash(original)) is (mutated == original)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=70)
    | st.sampled_from(["0x" + "a" * 64, "0x" + "A" * 64, "0x" + "a" * 40, "0x" + "a" * 63, "", "0x"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


@settings(PROPERTY, max_examples=examples(300))
@given(
    leaf=leaves,
    member=st.sampled_from([*CANONICAL_ORDER, "extra", "V", "rating "]),
    value=json_values,
    drop=st.booleans(),
)
def test_replaced_members_are_rejected_or_valid(
    leaf: ReviewLeaf, member: str, value: Any, drop: bool
) -> None:
    obj: dict[str, Any] = dict(leaf.to_json())
    if drop:
        obj.pop(member, None)
    else:
        obj[member] = value
    try:
        text = json.dumps(obj)
    except ValueError:
        return
    for data in (obj, text):
        try:
            parsed = parse_review_leaf(data)
        except InvalidReviewLeaf:
            continue
        assert parse_review_leaf(parsed.canonical_bytes()) == parsed
        assert parsed.to_json() == {k: v for k, v in obj.items()}


# ---------------------------------------------------------------------------------------------------------
# The fast canonical form is exactly RFC 8785
# ---------------------------------------------------------------------------------------------------------

any_case_merchants = st.binary(min_size=20, max_size=20).flatmap(
    lambda b: st.lists(st.booleans(), min_size=40, max_size=40).map(
        lambda upper: "0x" + "".join(c.upper() if u else c for c, u in zip(b.hex(), upper, strict=True))
    )
)
leaves_any_case = st.builds(
    ReviewLeaf,
    product_id=hashes,
    merchant=st.one_of(any_case_merchants, st.sampled_from(["0x" + "0" * 40, "0x" + "F" * 40])),
    rating=st.integers(1, 5),
    content=st.one_of(hashes, st.sampled_from([bytes(32), b"\xff" * 32])),
    reviewer=hashes,
    purchase=hashes,
    submitted_at=st.one_of(
        st.integers(0, 2**53 - 1), st.sampled_from([0, 1, 9, 10, 2**31, 2**32, 2**53 - 2, 2**53 - 1])
    ),
)


@settings(PROPERTY, max_examples=examples(2000))
@given(leaf=leaves_any_case)
def test_canonical_bytes_are_rfc8785_of_the_json_form(leaf: ReviewLeaf) -> None:
    # ReviewLeaf.canonical_bytes is a format string (the hot path of every append); rfc8785 is the reference.
    assert leaf.canonical_bytes() == rfc8785.dumps(leaf.to_json())


@pytest.mark.parametrize("path", ALL_VECTORS, ids=lambda p: p.stem)
def test_vector_canonical_bytes_are_rfc8785(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if v["canonical"] is None:
        return
    leaf = parse_review_leaf(v["canonical"].encode())
    assert leaf.canonical_bytes() == rfc8785.dumps(leaf.to_json()) == v["canonical"].encode()


def test_canonical_leaf_bytes_from_fields_is_the_leafs() -> None:
    """The review log formats leaves from fields it has checked, without building a ReviewLeaf: the same
    bytes, so the same hash."""
    from ledger.reviews import _canonical_leaf_bytes

    fields = {"product_id": b"\x01" * 32, "merchant": "0x" + "ab" * 20, "rating": 5, "content": b"\x02" * 32,
              "reviewer": b"\x03" * 32, "purchase": b"\x04" * 32, "submitted_at": 2**53 - 1}
    leaf = ReviewLeaf(**fields)  # type: ignore[arg-type]
    assert _canonical_leaf_bytes(**fields) == leaf.canonical_bytes()  # type: ignore[arg-type]
    assert rfc8785.dumps(leaf.to_json()) == leaf.canonical_bytes()
