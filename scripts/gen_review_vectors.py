#!/usr/bin/env python3
"""Generate the review leaf and review receipt test vectors in tests/testdata/reviews/.

Writes one JSON file per vector to ``tests/testdata/reviews/leaf/`` and ``tests/testdata/reviews/receipt/``
(and removes stale ``*.json`` files there). Output is deterministic: re-running produces byte-identical
files.

    python scripts/gen_review_vectors.py           # (re)write the vectors
    python scripts/gen_review_vectors.py --check   # exit 1 if the files on disk are not what it would write

How truth is decided. Leaf members are derived from fixed test inputs (a GTIN, review text, user id, order
id and salts made from fixed strings) with hashlib, hmac and eth_abi's ``encode_packed``, not with
``ledger.reviews``. Canonical bytes come from a hand-written serializer for the one shape a leaf has
(eight members in RFC 8785 key order, hex strings and small integers); leaf hashes from
``SHA-256(0x00 || bytes)`` with hashlib. Each mutation's expected error is stated here, next to the
mutation, from the rules in docs/formats.md. Receipt digests come from eth_account's ``encode_typed_data``
and signatures from eth_account's signer (RFC 6979, like coincurve). The generator then runs
``ledger.reviews`` and ``ledger.receipts`` on every vector and refuses to write anything if they disagree.

The receipt key is ``keccak256("trustledger-test-receipt-key")``: a test key, never a real one.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eth_abi.packed import encode_packed
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger import receipts, reviews

OUT_DIR = ROOT / "tests" / "testdata" / "reviews"
KINDS = ("leaf", "receipt")
CMD = "python scripts/gen_review_vectors.py"

Vector = dict[str, Any]

# ---------------------------------------------------------------------------------------------------------
# Fixed test inputs (never real data or keys)
# ---------------------------------------------------------------------------------------------------------

GTIN = "06901234567892"
MERCHANT_KEY = keccak(text="trustledger-test-merchant")
REVIEW_TEXT = "質量很好，物流很快。The kettle boils in 3 minutes."
CONTENT_SALT = hashlib.sha256(b"trustledger-test-content-salt").digest()
USER_ID = "user-10086"
PSEUDONYM_KEY = hashlib.sha256(b"trustledger-test-pseudonym-key").digest()
ORDER_ID = "ORD-2024-000042"
ORDER_SALT = hashlib.sha256(b"trustledger-test-order-salt").digest()
RATING = 4
SUBMITTED_AT = 1_718_000_000

RECEIPT_KEY = keccak(text="trustledger-test-receipt-key")
OTHER_KEY = keccak(text="trustledger-test-other-key")
CHAIN_ID = 31337
OTHER_CHAIN_ID = 1
REVIEW_LOG = "0x" + keccak(text="trustledger-test-review-log")[12:].hex()
OTHER_REVIEW_LOG = "0x" + keccak(text="trustledger-test-other-review-log")[12:].hex()
LEAF_INDEX = 41
MAX_MERGE_DELAY = 86_400
N = receipts.SECP256K1_N


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def address_of(key: bytes) -> str:
    return str(Account.from_key(key).address).lower()


MERCHANT = address_of(MERCHANT_KEY)
OPERATOR = address_of(RECEIPT_KEY)

# ---------------------------------------------------------------------------------------------------------
# Reference leaf (independent of ledger.reviews)
# ---------------------------------------------------------------------------------------------------------

PRODUCT_ID = keccak(text="gtin:" + GTIN)
CONTENT = hashlib.sha256(CONTENT_SALT + REVIEW_TEXT.encode("utf-8")).digest()
REVIEWER = hmac.new(PSEUDONYM_KEY, USER_ID.encode("utf-8"), hashlib.sha256).digest()
PURCHASE = keccak(
    encode_packed(["bytes32", "address", "bytes32"], [keccak(text=ORDER_ID), MERCHANT, ORDER_SALT])
)

# RFC 8785 §3.2.3 sorts member names by UTF-16 code units; for these ASCII names that is byte order.
CANONICAL_ORDER = ("content", "merchant", "productId", "purchase", "rating", "reviewer", "submittedAt", "v")

BASE_MEMBERS: dict[str, Any] = {
    "v": 1,
    "productId": hx(PRODUCT_ID),
    "merchant": MERCHANT,
    "rating": RATING,
    "content": hx(CONTENT),
    "reviewer": hx(REVIEWER),
    "purchase": hx(PURCHASE),
    "submittedAt": SUBMITTED_AT,
}

DERIVATION = {
    "gtin": GTIN,
    "productId": 'keccak256("gtin:" || gtin)',
    "merchant": 'address of the test key keccak256("trustledger-test-merchant")',
    "review_text": REVIEW_TEXT,
    "content_salt": hx(CONTENT_SALT),
    "content": "SHA-256(content_salt || UTF-8(review_text))",
    "user_id": USER_ID,
    "pseudonym_key": hx(PSEUDONYM_KEY),
    "reviewer": "HMAC-SHA256(pseudonym_key, UTF-8(user_id))",
    "order_id": ORDER_ID,
    "order_salt": hx(ORDER_SALT),
    "purchase": "keccak256(abi.encodePacked(keccak256(bytes(order_id)), merchant, order_salt))",
}


def ref_canonical(members: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a leaf-shaped object: the eight members, hex strings and small integers only."""
    assert set(members) == set(CANONICAL_ORDER)
    parts = []
    for name in CANONICAL_ORDER:
        value = members[name]
        assert (isinstance(value, str) and value.isascii()) or (type(value) is int and 0 <= value < 2**53)
        parts.append(f'"{name}":' + (f'"{value}"' if isinstance(value, str) else str(value)))
    return ("{" + ",".join(parts) + "}").encode("ascii")


def ref_leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


BASE_CANONICAL = ref_canonical(BASE_MEMBERS)
BASE_TEXT = BASE_CANONICAL.decode()


def with_members(**changes: Any) -> dict[str, Any]:
    out = dict(BASE_MEMBERS)
    out.update(changes)
    return out


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, (old, text)
    return text.replace(old, new)


# ---------------------------------------------------------------------------------------------------------
# Leaf vectors
# ---------------------------------------------------------------------------------------------------------


def leaf_vector(
    name: str,
    what: str,
    *,
    text: str | None = None,
    data: bytes | None = None,
    text_error: str | None,
    bytes_error: str | None,
    canonical: bytes | None = None,
    derivation: bool = False,
) -> tuple[str, Vector]:
    """``text`` (or non-UTF-8 ``data``) is given to parse_review_leaf as str and as bytes."""
    assert (text is None) != (data is None)
    valid_somewhere = (text is not None and text_error is None) or bytes_error is None
    assert (canonical is not None) == valid_somewhere, name
    if text is None:
        verdict = f"as bytes: {bytes_error}"
    else:
        verdict = (
            f"as text: {'accepted' if text_error is None else text_error}; "
            f"as bytes: {'accepted' if bytes_error is None else bytes_error}"
        )
    v: Vector = {
        "description": f"review leaf, {what} ({verdict})",
        "reproduce": f"{CMD} (leaf: {what})",
        "kind": "leaf",
        "input": text,
        "input_hex": None if data is None else hx(data),
        "as_text": None if text is None else {"valid": text_error is None, "python_error": text_error},
        "as_bytes": {"valid": bytes_error is None, "python_error": bytes_error},
        "canonical": None if canonical is None else canonical.decode("utf-8"),
        "leaf_hash": None if canonical is None else hx(ref_leaf_hash(canonical)),
    }
    if derivation:
        v["derivation"] = DERIVATION
    return f"leaf/{name}.json", v


def canonical_vector(name: str, what: str, members: dict[str, Any], **kw: Any) -> tuple[str, Vector]:
    """A valid leaf written canonically: accepted as text and as bytes."""
    c = ref_canonical(members)
    return leaf_vector(name, what, text=c.decode(), text_error=None, bytes_error=None, canonical=c, **kw)


def noncanonical_vector(
    name: str, what: str, text: str, members: dict[str, Any] = BASE_MEMBERS
) -> tuple[str, Vector]:
    """Valid JSON text of a valid leaf, not in canonical form: accepted as text, NonCanonicalLeaf as bytes."""
    c = ref_canonical(members)
    assert text.encode() != c
    return leaf_vector(name, what, text=text, text_error=None, bytes_error="NonCanonicalLeaf", canonical=c)


def rejected(name: str, what: str, text: str, error: str) -> tuple[str, Vector]:
    """Rejected whichever way it is given: the member rules are checked before canonical form."""
    return leaf_vector(name, what, text=text, text_error=error, bytes_error=error)


def escape_hex_letters(s: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if c in "abcdef" else c for c in s)


def leaf_vectors() -> list[tuple[str, Vector]]:
    out: list[tuple[str, Vector]] = []
    content = BASE_MEMBERS["content"]
    t = BASE_TEXT

    # Accepted, canonical.
    out.append(
        canonical_vector(
            "happy-path",
            "the reference leaf, canonical (members derived as in 'derivation')",
            BASE_MEMBERS,
            derivation=True,
        )
    )
    out.append(canonical_vector("rating-1", "rating 1 (lowest)", with_members(rating=1)))
    out.append(canonical_vector("rating-5", "rating 5 (highest)", with_members(rating=5)))
    out.append(canonical_vector("submittedAt-0", "submittedAt 0", with_members(submittedAt=0)))
    out.append(
        canonical_vector(
            "submittedAt-2^53-1", "submittedAt 2**53 - 1 (largest)", with_members(submittedAt=2**53 - 1)
        )
    )

    # Accepted as text, not canonical as bytes.
    schema_order = "{" + ",".join(f'"{k}":{json.dumps(v)}' for k, v in BASE_MEMBERS.items()) + "}"
    out.append(
        noncanonical_vector("keys-reordered", "members in schema order instead of sorted", schema_order)
    )
    reversed_order = (
        "{" + ",".join(f'"{k}":{json.dumps(BASE_MEMBERS[k])}' for k in CANONICAL_ORDER[::-1]) + "}"
    )
    out.append(noncanonical_vector("keys-reversed", "members in reverse sorted order", reversed_order))
    pretty = json.dumps(json.loads(t), indent=2) + "\n"
    out.append(
        noncanonical_vector("whitespace", "pretty-printed with 2-space indent and a final newline", pretty)
    )
    out.append(
        noncanonical_vector(
            "whitespace-around-colon",
            "a space after every ':' and ','",
            json.dumps(json.loads(t), separators=(", ", ": ")),
        )
    )
    out.append(
        noncanonical_vector(
            "unicode-escapes",
            "hex letters of content written as \\u escapes",
            replace_once(t, content, escape_hex_letters(content)),
        )
    )
    out.append(
        noncanonical_vector(
            "escaped-prefix",
            "the '0x' of productId written as \\u0030\\u0078",
            replace_once(t, '"productId":"0x', '"productId":"\\u0030\\u0078'),
        )
    )
    out.append(
        noncanonical_vector(
            "submittedAt-negative-zero",
            "submittedAt 0 written as -0",
            replace_once(t, f'"submittedAt":{SUBMITTED_AT}', '"submittedAt":-0'),
            with_members(submittedAt=0),
        )
    )
    pad = reviews.MAX_INPUT_LENGTH - len(BASE_CANONICAL)
    out.append(
        noncanonical_vector(
            "whitespace-4096-bytes",
            f"{pad} spaces after '{{': exactly 4096 bytes (the limit)",
            "{" + " " * pad + t[1:],
        )
    )

    # Rejected.
    out.append(
        rejected(
            "too-long",
            f"{pad + 1} spaces after '{{': 4097 bytes, over the 4096-byte limit",
            "{" + " " * (pad + 1) + t[1:],
            "MalformedReviewJSON",
        )
    )
    rating = f'"rating":{RATING}'
    out.append(rejected("rating-0", "rating 0", replace_once(t, rating, '"rating":0'), "MemberOutOfRange"))
    out.append(rejected("rating-6", "rating 6", replace_once(t, rating, '"rating":6'), "MemberOutOfRange"))
    out.append(
        rejected("rating-negative", "rating -1", replace_once(t, rating, '"rating":-1'), "MemberOutOfRange")
    )
    out.append(
        rejected(
            "rating-bool",
            "rating true (a boolean is not an integer)",
            replace_once(t, rating, '"rating":true'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "rating-float",
            f"rating {RATING}.0 (a number with a fraction is not an integer)",
            replace_once(t, rating, f'"rating":{RATING}.0'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "rating-exponent",
            f"rating {RATING}e0 (a number with an exponent is not an integer)",
            replace_once(t, rating, f'"rating":{RATING}e0'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "rating-string",
            f'rating "{RATING}" (a string)',
            replace_once(t, rating, f'"rating":"{RATING}"'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected("rating-null", "rating null", replace_once(t, rating, '"rating":null'), "WrongMemberType")
    )
    out.append(
        rejected(
            "rating-leading-zero",
            f"rating 0{RATING} (not JSON)",
            replace_once(t, rating, f'"rating":0{RATING}'),
            "MalformedReviewJSON",
        )
    )
    out.append(
        rejected(
            "extra-member",
            'an extra member "comment" in sorted position',
            replace_once(t, '{"content"', '{"comment":"nice","content"'),
            "UnknownMember",
        )
    )
    out.append(
        rejected(
            "missing-content",
            "member content removed",
            replace_once(t, f'"content":"{content}",', ""),
            "MissingMember",
        )
    )
    out.append(rejected("missing-v", "member v removed", replace_once(t, ',"v":1}', "}"), "MissingMember"))
    out.append(
        rejected(
            "renamed-member",
            "submittedAt renamed submitted_at",
            replace_once(t, '"submittedAt"', '"submitted_at"'),
            "UnknownMember",
        )
    )
    out.append(
        rejected(
            "uppercase-hex",
            "content in upper-case hex",
            replace_once(t, content, "0x" + content[2:].upper()),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "uppercase-prefix",
            "content with a 0X prefix",
            replace_once(t, content, "0X" + content[2:]),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "checksum-address",
            "merchant in EIP-55 mixed case (one spelling only: lower case)",
            replace_once(t, MERCHANT, to_checksum_address(MERCHANT)),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "short-hex",
            "content with its last two hex digits removed",
            replace_once(t, content, content[:-2]),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "long-hex",
            "content with two hex digits appended",
            replace_once(t, content, content + "00"),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "odd-length-hex",
            "content with its last hex digit removed",
            replace_once(t, content, content[:-1]),
            "MalformedHex",
        )
    )
    out.append(
        rejected("no-prefix", "content without 0x", replace_once(t, content, content[2:]), "MalformedHex")
    )
    out.append(
        rejected(
            "non-hex-digit",
            "content with 'g' as its last digit",
            replace_once(t, content, content[:-1] + "g"),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "short-address",
            "merchant with 38 hex digits",
            replace_once(t, MERCHANT, MERCHANT[:-2]),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "hash-as-address",
            "merchant given as 64 hex digits (a padded address)",
            replace_once(t, MERCHANT, "0x" + "0" * 24 + MERCHANT[2:]),
            "MalformedHex",
        )
    )
    out.append(
        rejected(
            "content-as-number",
            "content as a JSON number",
            replace_once(t, f'"{content}"', "1"),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "duplicate-key",
            "rating given twice with the same value",
            replace_once(t, rating, f"{rating},{rating}"),
            "DuplicateMember",
        )
    )
    out.append(
        rejected(
            "duplicate-key-different-values",
            "rating given twice, 1 then 5",
            replace_once(t, rating, '"rating":1,"rating":5'),
            "DuplicateMember",
        )
    )
    out.append(rejected("trailing-garbage", "the byte 'x' appended", t + "x", "MalformedReviewJSON"))
    out.append(
        rejected("trailing-comma", "a ',' before the closing '}'", t[:-1] + ",}", "MalformedReviewJSON")
    )
    out.append(rejected("two-documents", "the leaf twice in a row", t + t, "MalformedReviewJSON"))
    out.append(rejected("truncated", "the closing '}' removed", t[:-1], "MalformedReviewJSON"))
    out.append(rejected("empty", "empty input", "", "MalformedReviewJSON"))
    out.append(rejected("nan", "rating NaN", replace_once(t, rating, '"rating":NaN'), "MalformedReviewJSON"))
    out.append(
        rejected(
            "infinity",
            "submittedAt Infinity",
            replace_once(t, f'"submittedAt":{SUBMITTED_AT}', '"submittedAt":Infinity'),
            "MalformedReviewJSON",
        )
    )
    out.append(
        rejected(
            "byte-order-mark", "a UTF-8 byte-order mark before the leaf", "\ufeff" + t, "MalformedReviewJSON"
        )
    )
    out.append(
        rejected("single-quotes", "member names in single quotes", t.replace('"', "'"), "MalformedReviewJSON")
    )
    out.append(rejected("not-an-object", "the leaf inside an array", "[" + t + "]", "WrongMemberType"))
    out.append(
        rejected(
            "v-2", "v 2 (a later format version)", replace_once(t, '"v":1', '"v":2'), "UnsupportedVersion"
        )
    )
    out.append(rejected("v-0", "v 0", replace_once(t, '"v":1', '"v":0'), "UnsupportedVersion"))
    out.append(rejected("v-string", 'v "1"', replace_once(t, '"v":1', '"v":"1"'), "WrongMemberType"))
    out.append(
        rejected(
            "v-2-with-other-members",
            "v 2 with a member v1 does not have (the version is judged first)",
            replace_once(t, '{"content"', '{"comment":"x","content"').replace('"v":1', '"v":2'),
            "UnsupportedVersion",
        )
    )
    sub = f'"submittedAt":{SUBMITTED_AT}'
    out.append(
        rejected(
            "submittedAt-negative",
            "submittedAt -1",
            replace_once(t, sub, '"submittedAt":-1'),
            "MemberOutOfRange",
        )
    )
    out.append(
        rejected(
            "submittedAt-2^53",
            "submittedAt 2**53 (not exact in a double)",
            replace_once(t, sub, f'"submittedAt":{2**53}'),
            "MemberOutOfRange",
        )
    )
    out.append(
        rejected(
            "submittedAt-2^64",
            "submittedAt 2**64",
            replace_once(t, sub, f'"submittedAt":{2**64}'),
            "MemberOutOfRange",
        )
    )
    out.append(
        rejected(
            "submittedAt-float",
            f"submittedAt {SUBMITTED_AT}.5",
            replace_once(t, sub, f'"submittedAt":{SUBMITTED_AT}.5'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "submittedAt-string",
            "submittedAt as a decimal string (only for values that may exceed 2**53; this one may not)",
            replace_once(t, sub, f'"submittedAt":"{SUBMITTED_AT}"'),
            "WrongMemberType",
        )
    )
    out.append(
        rejected(
            "control-character",
            "a raw tab inside the content string",
            replace_once(t, content, content[:10] + "\t" + content[10:]),
            "MalformedReviewJSON",
        )
    )
    out.append(
        rejected(
            "deeply-nested-array",
            "2000 nested arrays (4000 bytes): parsed, but not an object",
            "[" * 2000 + "]" * 2000,
            "WrongMemberType",
        )
    )
    bad_utf8 = BASE_CANONICAL.replace(b'{"content"', b'{"c\xff":1,"content"')
    out.append(
        leaf_vector(
            "invalid-utf8",
            "the byte 0xff inside a member name (not UTF-8)",
            data=bad_utf8,
            text_error=None,
            bytes_error="MalformedReviewJSON",
        )
    )
    return out


# ---------------------------------------------------------------------------------------------------------
# Receipt vectors
# ---------------------------------------------------------------------------------------------------------


def ref_digest(
    leaf_hash: bytes, leaf_index: int, submitted_at: int, delay: int, chain_id: int, log: str
) -> bytes:
    message = encode_typed_data(
        domain_data={
            "name": "TrustLedger ReviewLog",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(log),
        },
        message_types={
            "ReviewReceipt": [
                {"name": "leafHash", "type": "bytes32"},
                {"name": "leafIndex", "type": "uint64"},
                {"name": "submittedAt", "type": "uint64"},
                {"name": "maxMergeDelay", "type": "uint64"},
            ]
        },
        message_data={
            "leafHash": leaf_hash,
            "leafIndex": leaf_index,
            "submittedAt": submitted_at,
            "maxMergeDelay": delay,
        },
    )
    return bytes(Account.sign_message(message, RECEIPT_KEY).message_hash)


def ref_sign(digest: bytes, key: bytes) -> bytes:
    signed = Account.unsafe_sign_hash(digest, key)
    r, s, v = int(signed.r), int(signed.s), int(signed.v)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))


BASE_LEAF_HASH = ref_leaf_hash(BASE_CANONICAL)


def receipt_object(
    *,
    leaf_hash: bytes = BASE_LEAF_HASH,
    leaf_index: int = LEAF_INDEX,
    submitted_at: int = SUBMITTED_AT,
    delay: int = MAX_MERGE_DELAY,
    chain_id: int = CHAIN_ID,
    log: str = REVIEW_LOG,
    key: bytes = RECEIPT_KEY,
    signature: bytes | None = None,
) -> dict[str, Any]:
    """The receipt JSON object, signed over its own fields with ``key`` unless ``signature`` is given."""
    if signature is None:
        signature = ref_sign(ref_digest(leaf_hash, leaf_index, submitted_at, delay, chain_id, log), key)
    return {
        "v": 1,
        "leafHash": hx(leaf_hash),
        "leafIndex": str(leaf_index),
        "submittedAt": str(submitted_at),
        "maxMergeDelay": str(delay),
        "chainId": str(chain_id),
        "reviewLog": log,
        "signature": hx(signature),
    }


BASE_RECEIPT = receipt_object()
BASE_SIGNATURE = bytes.fromhex(BASE_RECEIPT["signature"][2:])


def with_signature(sig: bytes) -> dict[str, Any]:
    return {**BASE_RECEIPT, "signature": hx(sig)}


def receipt_vector(
    name: str,
    what: str,
    obj: dict[str, Any] | None,
    *,
    error: str | None,
    stage: str | None,
    text: str | None = None,
    signer_key: bytes | None = RECEIPT_KEY,
) -> tuple[str, Vector]:
    """``obj`` (or raw ``text``) checked against OPERATOR, CHAIN_ID and REVIEW_LOG."""
    assert (error is None) == (stage is None)
    receipt_text = text if text is not None else json.dumps(obj, separators=(",", ":"))
    digest = None
    if stage != "parse":
        assert obj is not None
        digest = hx(
            ref_digest(
                bytes.fromhex(obj["leafHash"][2:]),
                int(obj["leafIndex"]),
                int(obj["submittedAt"]),
                int(obj["maxMergeDelay"]),
                int(obj["chainId"]),
                obj["reviewLog"],
            )
        )
    verdict = "valid" if error is None else f"rejected at {stage} with {error}"
    return f"receipt/{name}.json", {
        "description": f"review receipt, {what}: {verdict}",
        "reproduce": f"{CMD} (receipt: {what})",
        "kind": "receipt",
        "signer_key": None if signer_key is None else hx(signer_key),
        "operator": OPERATOR,
        "chain_id": CHAIN_ID,
        "review_log": REVIEW_LOG,
        "receipt": obj,
        "receipt_text": receipt_text,
        "digest": digest,
        "valid": error is None,
        "stage": stage,
        "python_error": error,
    }


def receipt_vectors() -> list[tuple[str, Vector]]:
    out: list[tuple[str, Vector]] = []
    r, s, v = BASE_SIGNATURE[:32], int.from_bytes(BASE_SIGNATURE[32:64], "big"), BASE_SIGNATURE[64]

    def verify_fail(name: str, what: str, obj: dict[str, Any], error: str, **kw: Any) -> None:
        out.append(receipt_vector(name, what, obj, error=error, stage="verify", **kw))

    def parse_fail(name: str, what: str, obj: dict[str, Any] | None, text: str | None = None) -> None:
        out.append(receipt_vector(name, what, obj, error="InvalidReceipt", stage="parse", text=text))

    out.append(
        receipt_vector(
            "happy-path",
            f"leaf {LEAF_INDEX} (the leaf/happy-path leaf hash), submitted at {SUBMITTED_AT}, "
            f"merge delay {MAX_MERGE_DELAY} s, chain {CHAIN_ID}, signed by the test receipt key",
            BASE_RECEIPT,
            error=None,
            stage=None,
        )
    )
    out.append(
        receipt_vector(
            "happy-path-large-values",
            "leafIndex 2**63 + 1 and submittedAt 2**60 (beyond 2**53: decimal strings "
            "keep them exact), delay 2**62",
            receipt_object(leaf_index=2**63 + 1, submitted_at=2**60, delay=2**62),
            error=None,
            stage=None,
        )
    )
    out.append(
        receipt_vector(
            "happy-path-deadline-uint64-max",
            "submittedAt + maxMergeDelay = 2**64 - 1 exactly",
            receipt_object(submitted_at=2**64 - 1 - MAX_MERGE_DELAY),
            error=None,
            stage=None,
        )
    )

    # Domain and signer.
    verify_fail(
        "wrong-chain",
        f"signed for chain {OTHER_CHAIN_ID} and saying so; checked for chain {CHAIN_ID}",
        receipt_object(chain_id=OTHER_CHAIN_ID),
        "WrongDomain",
    )
    verify_fail(
        "wrong-log",
        "signed for another ReviewLog and saying so",
        receipt_object(log=OTHER_REVIEW_LOG),
        "WrongDomain",
    )
    verify_fail(
        "signed-for-other-chain",
        f"claims chain {CHAIN_ID} but the signature is over chain {OTHER_CHAIN_ID}",
        {**BASE_RECEIPT, "signature": receipt_object(chain_id=OTHER_CHAIN_ID)["signature"]},
        "WrongSigner",
    )
    verify_fail(
        "signed-for-other-log",
        "claims our ReviewLog but the signature is over another one",
        {**BASE_RECEIPT, "signature": receipt_object(log=OTHER_REVIEW_LOG)["signature"]},
        "WrongSigner",
    )
    verify_fail(
        "wrong-signer",
        'signed by keccak256("trustledger-test-other-key"), not the operator',
        receipt_object(key=OTHER_KEY),
        "WrongSigner",
        signer_key=OTHER_KEY,
    )
    flipped = bytearray(BASE_LEAF_HASH)
    flipped[0] ^= 1 << 3
    verify_fail(
        "leaf-hash-bit-3",
        "bit 3 of byte 0 of leafHash flipped after signing",
        {**BASE_RECEIPT, "leafHash": hx(bytes(flipped))},
        "WrongSigner",
    )
    verify_fail(
        "leaf-index-plus-1",
        "leafIndex + 1 after signing",
        {**BASE_RECEIPT, "leafIndex": str(LEAF_INDEX + 1)},
        "WrongSigner",
    )
    verify_fail(
        "submitted-at-plus-1",
        "submittedAt + 1 after signing",
        {**BASE_RECEIPT, "submittedAt": str(SUBMITTED_AT + 1)},
        "WrongSigner",
    )
    verify_fail(
        "max-merge-delay-doubled",
        "maxMergeDelay doubled after signing (a later deadline)",
        {**BASE_RECEIPT, "maxMergeDelay": str(2 * MAX_MERGE_DELAY)},
        "WrongSigner",
    )

    # Signature shape.
    twin = r + (N - s).to_bytes(32, "big") + bytes((55 - v,))
    verify_fail(
        "high-s",
        "the malleable twin (r, n - s, v flipped 27<->28): recovers the operator, but high s",
        with_signature(twin),
        "MalformedSignature",
    )
    for bad_v in (29, 0, 1):
        verify_fail(
            f"v-{bad_v}",
            f"v set to {bad_v} (only 27 and 28 are accepted)",
            with_signature(BASE_SIGNATURE[:64] + bytes((bad_v,))),
            "MalformedSignature",
        )
    verify_fail("r-zero", "r = 0", with_signature(bytes(32) + BASE_SIGNATURE[32:]), "MalformedSignature")
    verify_fail(
        "r-equals-n",
        "r = n",
        with_signature(N.to_bytes(32, "big") + BASE_SIGNATURE[32:]),
        "MalformedSignature",
    )
    verify_fail("s-zero", "s = 0", with_signature(r + bytes(32) + BASE_SIGNATURE[64:]), "MalformedSignature")
    verify_fail(
        "s-equals-n",
        "s = n",
        with_signature(r + N.to_bytes(32, "big") + BASE_SIGNATURE[64:]),
        "MalformedSignature",
    )
    verify_fail(
        "r-not-on-curve",
        "r = 5, which is no point's x-coordinate (no key recovers)",
        with_signature((5).to_bytes(32, "big") + BASE_SIGNATURE[32:]),
        "MalformedSignature",
    )

    # Parsing.
    parse_fail(
        "truncated-signature",
        "signature missing its last byte (64 bytes)",
        with_signature(BASE_SIGNATURE[:64]),
    )
    parse_fail(
        "signature-66-bytes", "signature with a byte appended", with_signature(BASE_SIGNATURE + b"\x00")
    )
    parse_fail(
        "signature-uppercase-hex",
        "signature in upper-case hex",
        {**BASE_RECEIPT, "signature": "0x" + BASE_SIGNATURE.hex().upper()},
    )
    parse_fail(
        "review-log-checksummed",
        "reviewLog in EIP-55 mixed case (one spelling only: lower case)",
        {**BASE_RECEIPT, "reviewLog": to_checksum_address(REVIEW_LOG)},
    )
    parse_fail(
        "leaf-index-number",
        "leafIndex as a JSON number (uint64 values are decimal strings)",
        {**BASE_RECEIPT, "leafIndex": LEAF_INDEX},
    )
    parse_fail(
        "leaf-index-leading-zero",
        "leafIndex written with a leading zero",
        {**BASE_RECEIPT, "leafIndex": f"0{LEAF_INDEX}"},
    )
    parse_fail("leaf-index-negative", "leafIndex -1", {**BASE_RECEIPT, "leafIndex": "-1"})
    parse_fail("leaf-index-hex", "leafIndex as 0x-hex", {**BASE_RECEIPT, "leafIndex": hex(LEAF_INDEX)})
    parse_fail("leaf-index-2^64", "leafIndex 2**64 (over uint64)", {**BASE_RECEIPT, "leafIndex": str(2**64)})
    parse_fail(
        "deadline-overflow",
        "submittedAt + maxMergeDelay = 2**64 (the deadline overflows uint64)",
        {**BASE_RECEIPT, "submittedAt": str(2**64 - MAX_MERGE_DELAY)},
    )
    parse_fail("chain-id-zero", "chainId 0", {**BASE_RECEIPT, "chainId": "0"})
    parse_fail("format-version-2", "v 2 (a later receipt format)", {**BASE_RECEIPT, "v": 2})
    parse_fail("extra-member", "an extra member 'operator'", {**BASE_RECEIPT, "operator": OPERATOR})
    parse_fail(
        "missing-signature",
        "member signature removed",
        {k: val for k, val in BASE_RECEIPT.items() if k != "signature"},
    )
    base_text = json.dumps(BASE_RECEIPT, separators=(",", ":"))
    parse_fail(
        "duplicate-member",
        "leafIndex given twice (first a different value)",
        None,
        text=base_text.replace('"leafIndex"', '"leafIndex":"0","leafIndex"', 1),
    )
    parse_fail("trailing-garbage", "the byte 'x' after the object", None, text=base_text + "x")
    return out


# ---------------------------------------------------------------------------------------------------------
# Cross-check with ledger.reviews / ledger.receipts, render, write
# ---------------------------------------------------------------------------------------------------------


def outcome(fn: Callable[[], object]) -> str | None:
    try:
        fn()
    except (reviews.InvalidReviewLeaf, receipts.InvalidReceipt, receipts.ReceiptVerificationError) as exc:
        return type(exc).__name__
    return None


def check_leaf(v: Vector) -> list[str]:
    problems = []
    raw = v["input"].encode("utf-8") if v["input"] is not None else bytes.fromhex(v["input_hex"][2:])
    runs: list[tuple[str, Any, dict[str, Any] | None]] = [("as_bytes", raw, v["as_bytes"])]
    if v["as_text"] is not None:
        runs.append(("as_text", v["input"], v["as_text"]))
    for label, data, want in runs:
        assert want is not None
        got = outcome(lambda: reviews.parse_review_leaf(data))  # noqa: B023 (called right here)
        if got != want["python_error"]:
            problems.append(f"{label}: ledger.reviews says {got}, vector says {want['python_error']}")
        elif got is None:
            leaf = reviews.parse_review_leaf(data)
            if leaf.canonical_bytes().decode() != v["canonical"]:
                problems.append(f"{label}: canonical bytes differ")
            if hx(leaf.leaf_hash()) != v["leaf_hash"]:
                problems.append(f"{label}: leaf hash differs")
    if "derivation" in v:
        if reviews.content_commitment(REVIEW_TEXT, CONTENT_SALT) != CONTENT:
            problems.append("content_commitment differs")
        if reviews.reviewer_pseudonym(USER_ID, PSEUDONYM_KEY) != REVIEWER:
            problems.append("reviewer_pseudonym differs")
        if reviews.order_commitment(ORDER_ID, MERCHANT, ORDER_SALT) != PURCHASE:
            problems.append("order_commitment differs")
    return problems


def check_receipt(v: Vector) -> list[str]:
    problems = []
    parsed: list[receipts.Receipt] = []

    def run() -> None:
        receipt = receipts.Receipt.from_json(v["receipt_text"])
        parsed.append(receipt)
        if v["receipt"] is not None and receipts.Receipt.from_json(v["receipt"]) != receipt:
            raise AssertionError("object and text parse differently")
        receipts.verify_receipt(
            receipt, operator=v["operator"], chain_id=v["chain_id"], review_log=v["review_log"]
        )

    got = outcome(run)
    if got != v["python_error"]:
        problems.append(f"ledger.receipts says {got}, vector says {v['python_error']}")
    if v["digest"] is not None and parsed and hx(parsed[0].digest()) != v["digest"]:
        problems.append("digest differs")
    if got is None and v["signer_key"] is not None:
        receipt = parsed[0]
        signer = receipts.ReceiptSigner(
            bytes.fromhex(v["signer_key"][2:]),
            chain_id=receipt.chain_id,
            review_log=receipt.review_log,
            max_merge_delay=receipt.max_merge_delay,
        )
        if signer.sign(receipt.leaf_hash, receipt.leaf_index, receipt.submitted_at) != receipt:
            problems.append("ReceiptSigner (coincurve) and eth_account sign differently")
    return problems


def render() -> dict[str, str]:
    vectors = leaf_vectors() + receipt_vectors()
    names = [name for name, _ in vectors]
    assert len(names) == len(set(names)), "duplicate vector names"
    problems = []
    for name, v in vectors:
        for p in check_leaf(v) if v["kind"] == "leaf" else check_receipt(v):
            problems.append(f"{name}: {p}")
    if problems:
        raise SystemExit("ledger disagrees with the vectors; nothing written:\n  " + "\n  ".join(problems))
    return {name: json.dumps(v, indent=2, ensure_ascii=False) + "\n" for name, v in vectors}


def on_disk() -> dict[str, str]:
    out = {}
    for kind in KINDS:
        for path in sorted((OUT_DIR / kind).glob("*.json")):
            out[f"{kind}/{path.name}"] = path.read_text(encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the files on disk differ from what would be generated",
    )
    args = parser.parse_args(argv)

    want = render()
    have = on_disk()
    if args.check:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        changed = sorted(name for name in set(want) & set(have) if want[name] != have[name])
        for label, names in (("missing", missing), ("stale", extra), ("differs", changed)):
            for name in names:
                print(f"{label}: tests/testdata/reviews/{name}", file=sys.stderr)
        if missing or extra or changed:
            print(f"review vectors are out of date; run: {CMD}", file=sys.stderr)
            return 1
        print(f"{len(want)} review vectors up to date")
        return 0

    for kind in KINDS:
        (OUT_DIR / kind).mkdir(parents=True, exist_ok=True)
    for name in sorted(set(have) - set(want)):
        (OUT_DIR / name).unlink()
    for name, text in want.items():
        if have.get(name) != text:
            (OUT_DIR / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(want)} review vectors to {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
