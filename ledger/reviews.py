"""The review leaf: what the log operator appends to the RFC 6962 review log (docs/formats.md, "Review leaf").

A review leaf is the RFC 8785 (JCS) canonical JSON of exactly these members::

    {"v": 1, "productId": "0x<64 hex>", "merchant": "0x<40 hex>", "rating": 1..5,
     "content": "0x<64 hex>", "reviewer": "0x<64 hex>", "purchase": "0x<64 hex>", "submittedAt": <int>}

and its log entry hash is ``SHA-256(0x00 || canonical bytes)`` (:func:`ledger.merkle.leaf_hash`).

No personal data goes into a leaf, only commitments to it:

* ``content`` = :func:`content_commitment` (salted SHA-256 of the review text; salt and text stay off chain,
  erasable);
* ``reviewer`` = :func:`reviewer_pseudonym` (HMAC-SHA256 of the platform's user id under the platform's
  pseudonym key: stable, so bursts by one reviewer are visible, but not reversible without the key);
* ``purchase`` = :func:`order_commitment` (the ``orderCommitment`` that the purchase attestation carries).

:func:`parse_review_leaf` is the one parser for leaves that come from the network, a file or the log: it
rejects anything that is not exactly one well-formed leaf, and, given bytes, anything that is not already
the canonical encoding (so a leaf has exactly one byte string and one hash). Every rejection is an
:class:`InvalidReviewLeaf` (an :class:`~ledger.errors.InvalidInput`, hence a ``ValueError``) whose message
names the member, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from eth_hash.auto import keccak

from ledger import merkle
from ledger.errors import InvalidInput

__all__ = [
    "MAX_INPUT_LENGTH",
    "MAX_SUBMITTED_AT",
    "PSEUDONYM_KEY_MIN_LENGTH",
    "REVIEW_LEAF_VERSION",
    "SALT_LENGTH",
    "DuplicateMember",
    "InvalidReviewLeaf",
    "MalformedHex",
    "MalformedReviewJSON",
    "MemberOutOfRange",
    "MissingMember",
    "NonCanonicalLeaf",
    "ReviewLeaf",
    "UnknownMember",
    "UnsupportedVersion",
    "WrongMemberType",
    "content_commitment",
    "order_commitment",
    "parse_review_leaf",
    "reviewer_pseudonym",
]

REVIEW_LEAF_VERSION = 1
"""The only leaf format version this module reads and writes (the ``v`` member)."""

MAX_SUBMITTED_AT = 2**53 - 1
"""Largest ``submittedAt``: a JSON integer must be exact in an IEEE 754 double (RFC 8785 §3.2.2.3)."""

SALT_LENGTH = 32
"""Length in bytes of the content and order salts."""

PSEUDONYM_KEY_MIN_LENGTH = 32
"""Minimum length in bytes of the platform's pseudonym (HMAC) key."""

MAX_INPUT_LENGTH = 4096
"""Largest leaf input accepted by :func:`parse_review_leaf`, in bytes (UTF-8). A canonical leaf is < 450."""

_MEMBERS = ("v", "productId", "merchant", "rating", "content", "reviewer", "purchase", "submittedAt")
_HASH_MEMBERS = ("productId", "content", "reviewer", "purchase")
_HASH_RE = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS_RE = re.compile(r"0x[0-9a-f]{40}")
_ANY_CASE_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
# RFC 8785 of a v1 leaf: members sorted by UTF-16 code units; ints are exact, hex needs no escapes.
_CANONICAL_LEAF = (
    '{{"content":"0x{}","merchant":"{}","productId":"0x{}","purchase":"0x{}","rating":{:d},'
    '"reviewer":"0x{}","submittedAt":{:d},"v":{:d}}}'
)


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


class InvalidReviewLeaf(InvalidInput):
    """A review leaf was rejected. ``member`` is the JSON member at fault (None for the whole document)."""

    def __init__(self, *, member: str | None, expected: str, found: str) -> None:
        self.member = member
        self.expected = expected
        self.found = found
        where = "review leaf" if member is None else f"review leaf member {_show(member)}"
        super().__init__(f"{where}: expected {expected}, found {found}")


class MalformedReviewJSON(InvalidReviewLeaf):
    """Not one RFC 8259 JSON document in UTF-8: bad syntax, NaN/Infinity, trailing data, too long."""


class DuplicateMember(InvalidReviewLeaf):
    """An object names the same member twice (RFC 8259 leaves this undefined; we refuse it)."""


class UnknownMember(InvalidReviewLeaf):
    """A member that is not part of review leaf v1."""


class MissingMember(InvalidReviewLeaf):
    """A member of review leaf v1 is absent."""


class WrongMemberType(InvalidReviewLeaf):
    """A member has the wrong JSON type (``true`` is not an integer, ``5.0`` is not an integer)."""


class MalformedHex(InvalidReviewLeaf):
    """A hex member lacks the ``0x`` prefix, has the wrong length, upper-case or non-hex digits."""


class MemberOutOfRange(InvalidReviewLeaf):
    """An integer member is outside its range (rating 1..5, 0 <= submittedAt < 2**53)."""


class UnsupportedVersion(InvalidReviewLeaf):
    """``v`` is not 1: a leaf of another format version."""


class NonCanonicalLeaf(InvalidReviewLeaf):
    """Bytes that decode to a valid leaf but are not its RFC 8785 canonical encoding."""


# --------------------------------------------------------------------------------------------------------
# Commitments (what the leaf carries instead of personal data)
# --------------------------------------------------------------------------------------------------------


def content_commitment(text: str, salt: bytes) -> bytes:
    """Return ``SHA-256(salt || UTF-8(text))``, the leaf's ``content``.

    ``text`` is hashed exactly as given (no Unicode normalisation, no trimming): the content store must keep
    the exact string. Requires ``salt`` to be ``SALT_LENGTH`` (32) random bytes, kept off chain with the
    text; raises InvalidInput otherwise or when ``text`` is not encodable as UTF-8 (lone surrogates).
    """
    raw_salt = _require_bytes(salt, "salt", SALT_LENGTH)
    return hashlib.sha256(raw_salt + _utf8(text, "text")).digest()


def reviewer_pseudonym(user_id: str, key: bytes) -> bytes:
    """Return ``HMAC-SHA256(key, UTF-8(user_id))``, the leaf's ``reviewer``.

    Stable for a given platform user and key. Requires ``user_id`` non-empty and ``key`` at least
    ``PSEUDONYM_KEY_MIN_LENGTH`` (32) bytes; raises InvalidInput otherwise.
    """
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"pseudonym key must be bytes, found {type(key).__name__}")
    raw_key = bytes(key)
    if len(raw_key) < PSEUDONYM_KEY_MIN_LENGTH:
        raise InvalidInput(
            f"pseudonym key must be at least {PSEUDONYM_KEY_MIN_LENGTH} bytes, found {len(raw_key)} bytes"
        )
    raw_id = _utf8(user_id, "user_id")
    if not raw_id:
        raise InvalidInput("user_id must be a non-empty string, found ''")
    return hmac.digest(raw_key, raw_id, "sha256")  # one-shot: same MAC as hmac.new(...).digest(), 3x faster


def order_commitment(order_id: str, merchant: str, salt: bytes) -> bytes:
    """Return the order commitment, the leaf's ``purchase`` and the attestation's ``orderCommitment``.

    ``keccak256(abi.encodePacked(keccak256(bytes(orderId)), merchant, salt))``: 32 + 20 + 32 = 84 bytes.
    ``merchant`` is a 20-byte address in hex (any case; the checksum is not checked). Requires a non-empty
    ``order_id`` and a ``SALT_LENGTH`` (32) byte salt held by the platform; raises InvalidInput otherwise.
    """
    raw_id = _utf8(order_id, "order_id")
    if not raw_id:
        raise InvalidInput("order_id must be a non-empty string, found ''")
    address = bytes.fromhex(_normalize_address(merchant, "merchant")[2:])
    raw_salt = _require_bytes(salt, "salt", SALT_LENGTH)
    return keccak(keccak(raw_id) + address + raw_salt)


# --------------------------------------------------------------------------------------------------------
# The leaf
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ReviewLeaf:
    """One review as the log records it (format version 1).

    Hashes are 32 raw bytes; ``merchant`` is accepted in any case and stored lower-case (the one spelling
    the leaf uses); ``submitted_at`` is unix seconds. Construction validates every field and raises
    :class:`InvalidReviewLeaf` naming the JSON member at fault.
    """

    VERSION: ClassVar[int] = REVIEW_LEAF_VERSION

    product_id: bytes
    merchant: str
    rating: int
    content: bytes
    reviewer: bytes
    purchase: bytes
    submitted_at: int

    def __post_init__(self) -> None:
        for field, member in (
            ("product_id", "productId"),
            ("content", "content"),
            ("reviewer", "reviewer"),
            ("purchase", "purchase"),
        ):
            value = getattr(self, field)
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise WrongMemberType(member=member, expected="32 bytes", found=_type_name(value))
            raw = bytes(value)
            if len(raw) != 32:
                raise InvalidReviewLeaf(member=member, expected="32 bytes", found=f"{len(raw)} bytes")
            object.__setattr__(self, field, raw)
        if not isinstance(self.merchant, str):
            raise WrongMemberType(
                member="merchant", expected="an address string", found=_type_name(self.merchant)
            )
        if not _ANY_CASE_ADDRESS_RE.fullmatch(self.merchant):
            raise MalformedHex(
                member="merchant", expected="0x followed by 40 hex digits", found=_show(self.merchant)
            )
        object.__setattr__(self, "merchant", self.merchant.lower())
        object.__setattr__(self, "rating", _check_rating(self.rating))
        object.__setattr__(self, "submitted_at", _check_submitted_at(self.submitted_at))

    def __repr__(self) -> str:
        return (
            f"ReviewLeaf(product_id=0x{self.product_id.hex()}, merchant={self.merchant}, "
            f"rating={self.rating}, content=0x{self.content.hex()}, reviewer=0x{self.reviewer.hex()}, "
            f"purchase=0x{self.purchase.hex()}, submitted_at={self.submitted_at})"
        )

    def to_json(self) -> dict[str, str | int]:
        """The leaf as a JSON object (member order is irrelevant: :meth:`canonical_bytes` sorts)."""
        return {
            "v": self.VERSION,
            "productId": "0x" + self.product_id.hex(),
            "merchant": self.merchant,
            "rating": self.rating,
            "content": "0x" + self.content.hex(),
            "reviewer": "0x" + self.reviewer.hex(),
            "purchase": "0x" + self.purchase.hex(),
            "submittedAt": self.submitted_at,
        }

    def canonical_bytes(self) -> bytes:
        """The RFC 8785 canonical JSON of :meth:`to_json`: the log entry itself.

        The members are fixed and their values are lower-case hex strings (nothing to escape) and integers
        below 2**53 (written as plain decimal digits), so the canonical form is a format string with the
        members in RFC 8785 order (sorted by UTF-16 code units). ``tests/unit/test_reviews.py`` checks it
        byte for byte against ``rfc8785.dumps(self.to_json())`` over random leaves and the test vectors.
        """
        return _canonical_leaf_bytes(self.product_id, self.merchant, self.rating, self.content, self.reviewer,
                                     self.purchase, self.submitted_at)

    def leaf_hash(self) -> bytes:
        """``SHA-256(0x00 || canonical bytes)``, the RFC 6962 hash of this entry in the log."""
        return merkle.leaf_hash(self.canonical_bytes())


def _canonical_leaf_bytes(product_id: bytes, merchant: str, rating: int, content: bytes, reviewer: bytes,
                          purchase: bytes, submitted_at: int) -> bytes:
    """:meth:`ReviewLeaf.canonical_bytes` of the leaf with these fields, without building the leaf (the review
    log service has checked every field of every submission, and builds no object it does not keep).

    Requires exactly what :class:`ReviewLeaf` construction enforces and stores: four 32-byte hashes, a
    lower-case ``0x`` address, a rating from 1 to 5 and ``submitted_at`` from 0 to 2**53 - 1.
    """
    return _CANONICAL_LEAF.format(
        content.hex(), merchant, product_id.hex(), purchase.hex(), rating, reviewer.hex(), submitted_at,
        REVIEW_LEAF_VERSION,
    ).encode("ascii")


JSONInput = bytes | bytearray | memoryview | str | Mapping[str, object]


def parse_review_leaf(data: JSONInput, *, require_canonical: bool | None = None) -> ReviewLeaf:
    """Parse one review leaf strictly; the only way leaves from outside enter the program.

    ``data`` is the leaf as bytes (UTF-8), as JSON text (``str``), or as an already decoded JSON object
    (a Mapping). ``require_canonical`` defaults to True for bytes, which are then accepted only when they
    are exactly the RFC 8785 canonical encoding of the leaf they decode to (:class:`NonCanonicalLeaf`
    otherwise), and to False for text, which may use any whitespace, member order and string escapes.
    It cannot be set for a Mapping.

    Rejected, always: invalid UTF-8 or JSON, more than one JSON value or trailing data, ``NaN`` and
    ``Infinity``, duplicate members (at any depth), more than ``MAX_INPUT_LENGTH`` bytes
    (:class:`MalformedReviewJSON`); anything but an object (:class:`WrongMemberType`); ``v`` other than 1
    (:class:`UnsupportedVersion`); unknown or missing members; booleans, floats (``5.0``, ``5e0``) or
    strings where integers belong (:class:`WrongMemberType`); hex that is not ``0x`` followed by exactly 64
    (40 for ``merchant``) lower-case hex digits (:class:`MalformedHex`); ``rating`` outside 1..5 and
    ``submittedAt`` outside 0..2**53-1 (:class:`MemberOutOfRange`).
    """
    if isinstance(data, Mapping):
        if require_canonical is not None:
            raise InvalidInput("require_canonical applies to bytes or text, not to a decoded object")
        return _leaf_from_object(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        canonical = True if require_canonical is None else require_canonical
    elif isinstance(data, str):
        raw = _utf8_document(data)
        canonical = False if require_canonical is None else require_canonical
    else:
        raise WrongMemberType(member=None, expected="bytes, str or a JSON object", found=_type_name(data))
    leaf = _leaf_from_object(_load_json_object(raw, what="review leaf", error=_leaf_json_error))
    if canonical:
        expected = leaf.canonical_bytes()
        if raw != expected:
            raise NonCanonicalLeaf(
                member=None,
                expected="its RFC 8785 canonical encoding",
                found=_first_difference(expected, raw),
            )
    return leaf


def _leaf_json_error(kind: str, expected: str, found: str) -> InvalidReviewLeaf:
    if kind == "duplicate":
        return DuplicateMember(member=found, expected=expected, found=f"{_show(found)} twice")
    if kind == "type":
        return WrongMemberType(member=None, expected=expected, found=found)
    return MalformedReviewJSON(member=None, expected=expected, found=found)


def _leaf_from_object(obj: Mapping[Any, object]) -> ReviewLeaf:
    # Version first: a leaf of another version may have other members, and saying so is the useful error.
    if "v" in obj:
        version = _require_int(obj["v"], "v", WrongMemberType)
        if version != REVIEW_LEAF_VERSION:
            raise UnsupportedVersion(member="v", expected=str(REVIEW_LEAF_VERSION), found=str(version))
    _require_members(obj, _MEMBERS, "review leaf v1", UnknownMember, MissingMember)
    values: dict[str, bytes] = {}
    for member in _HASH_MEMBERS:
        values[member] = _hex_member(obj[member], member, 32, WrongMemberType, MalformedHex)
    merchant = obj["merchant"]
    if not isinstance(merchant, str):
        raise WrongMemberType(member="merchant", expected="a JSON string", found=_type_name(merchant))
    if not _ADDRESS_RE.fullmatch(merchant):
        raise MalformedHex(
            member="merchant",
            expected="0x followed by 40 lower-case hex digits",
            found=_describe_hex(merchant, 20),
        )
    return ReviewLeaf(
        product_id=values["productId"],
        merchant=merchant,
        rating=_check_rating(obj["rating"]),
        content=values["content"],
        reviewer=values["reviewer"],
        purchase=values["purchase"],
        submitted_at=_check_submitted_at(obj["submittedAt"]),
    )


def _check_rating(value: object) -> int:
    rating = _require_int(value, "rating", WrongMemberType)
    if not 1 <= rating <= 5:
        raise MemberOutOfRange(member="rating", expected="an integer from 1 to 5", found=str(rating))
    return rating


def _check_submitted_at(value: object) -> int:
    t = _require_int(value, "submittedAt", WrongMemberType)
    if not 0 <= t <= MAX_SUBMITTED_AT:
        raise MemberOutOfRange(
            member="submittedAt",
            found=str(t),
            expected=f"unix seconds from 0 to 2**53 - 1 ({MAX_SUBMITTED_AT})",
        )
    return t


# --------------------------------------------------------------------------------------------------------
# Strict JSON reading, shared with ledger.receipts (one implementation of "parse strictly at the edge")
# --------------------------------------------------------------------------------------------------------

JSONErrorFactory = Callable[[str, str, str], InvalidInput]
"""``(kind, expected, found) -> error``; kind is "syntax", "duplicate" (found = the member) or "type"."""


class _Float:
    """A JSON number with a fraction or exponent, kept as written so errors can show it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _load_json_object(raw: bytes, *, what: str, error: JSONErrorFactory) -> dict[str, object]:
    """Decode ``raw`` as exactly one RFC 8259 JSON object in UTF-8 and return it.

    Numbers with a fraction or exponent come back as ``_Float`` (never a Python float); duplicate members,
    NaN/Infinity, trailing data, a byte-order mark, invalid UTF-8 and more than ``MAX_INPUT_LENGTH`` bytes
    are refused through ``error``.
    """
    if len(raw) > MAX_INPUT_LENGTH:
        raise error("syntax", f"a {what} of at most {MAX_INPUT_LENGTH} bytes", f"{len(raw)} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error("syntax", "UTF-8", f"an invalid byte at offset {exc.start}") from None
    if text.startswith("\ufeff"):
        raise error("syntax", "JSON text without a byte-order mark", "U+FEFF at offset 0")

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in items:
            if key in out:
                raise error("duplicate", "each member at most once", key)
            out[key] = value
        return out

    def constant(name: str) -> NoReturn:
        raise error("syntax", "RFC 8259 JSON (no NaN or Infinity)", name)

    try:
        obj = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=_Float)
    except json.JSONDecodeError as exc:
        raise error("syntax", "one RFC 8259 JSON value", f"{exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        raise error("syntax", "one RFC 8259 JSON value", "arrays or objects nested too deep") from None
    except ValueError as exc:  # our own errors from the hooks pass through; anything else is bad JSON
        if isinstance(exc, InvalidInput):
            raise
        raise error("syntax", "one RFC 8259 JSON value", str(exc)[:80]) from None
    if not isinstance(obj, dict):
        raise error("type", f"a {what} as a JSON object", _type_name(obj))
    return obj


def _require_members(
    obj: Mapping[Any, object],
    members: tuple[str, ...],
    what: str,
    unknown: Callable[..., InvalidInput],
    missing: Callable[..., InvalidInput],
) -> None:
    extra = sorted((k for k in obj if k not in members), key=repr)
    if extra:
        name = extra[0]
        raise unknown(
            member=name if isinstance(name, str) else repr(name),
            expected=f"only the members of {what}: {', '.join(members)}",
            found=f"unknown member {_show(name) if isinstance(name, str) else repr(name)}",
        )
    for member in members:
        if member not in obj:
            raise missing(
                member=member, expected=f"present (every member of {what} is required)", found="absent"
            )


def _require_int(value: object, member: str, wrong_type: Callable[..., InvalidInput]) -> int:
    # JSON integers only: bool is an int in Python and 5.0 equals 5, but neither is a JSON integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(member=member, expected="a JSON integer", found=_type_name(value))
    return int(value)


def _hex_member(
    value: object,
    member: str,
    size: int,
    wrong_type: Callable[..., InvalidInput],
    malformed: Callable[..., InvalidInput],
) -> bytes:
    """Strict ``0x`` + ``2*size`` lower-case hex digits -> bytes."""
    if not isinstance(value, str):
        raise wrong_type(member=member, expected="a JSON string", found=_type_name(value))
    if len(value) != 2 + 2 * size or not value.startswith("0x") or not _is_lower_hex(value[2:]):
        raise malformed(
            member=member,
            expected=f"0x followed by {2 * size} lower-case hex digits",
            found=_describe_hex(value, size),
        )
    return bytes.fromhex(value[2:])


_LOWER_HEX = re.compile(r"[0-9a-f]*")


def _is_lower_hex(digits: str) -> bool:
    return _LOWER_HEX.fullmatch(digits) is not None


def _describe_hex(value: str, size: int) -> str:
    """Say what is wrong with a would-be hex string, most basic fault first."""
    shown = _show(value)
    if value[:2] == "0X":
        return f"{shown} (upper-case 0X prefix)"
    if not value.startswith("0x"):
        return f"{shown} (no 0x prefix)"
    digits = value[2:]
    if not all(c in "0123456789abcdefABCDEF" for c in digits):
        return f"{shown} (a character that is not a hex digit)"
    if len(digits) != 2 * size:
        return f"{shown} ({len(digits)} hex digits)"
    return f"{shown} (upper-case hex digits)"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}" if abs(value) < 10**30 else "a very large integer"
    if isinstance(value, _Float):
        return f"number {_show(value.text)[1:-1]}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _show(value: str, limit: int = 80) -> str:
    """A bounded, printable rendering of a string taken from untrusted input."""
    text = json.dumps(value)  # escapes control characters and lone surrogates
    return text if len(text) <= limit else text[: limit - 4] + '..."'


def _first_difference(expected: bytes, found: bytes) -> str:
    n = next(
        (i for i, (a, b) in enumerate(zip(expected, found, strict=False)) if a != b),
        min(len(expected), len(found)),
    )
    got = found[n : n + 12]
    want = expected[n : n + 12]
    return f"a difference at byte {n}: {got!r} where the canonical form has {want!r}"


# --------------------------------------------------------------------------------------------------------
# Small argument checks
# --------------------------------------------------------------------------------------------------------


def _require_bytes(value: object, what: str, size: int) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{what} must be {size} bytes, found {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != size:
        raise InvalidInput(f"{what} must be {size} bytes, found {len(raw)} bytes")
    return raw


def _utf8(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, found {type(value).__name__}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{what} must be encodable as UTF-8, found {exc.reason} at {exc.start}") from None


def _utf8_document(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedReviewJSON(
            member=None, expected="text encodable as UTF-8", found=f"{exc.reason} at offset {exc.start}"
        ) from None


def _normalize_address(value: object, what: str) -> str:
    """``0x`` + 40 hex digits in any case (checksum not checked) -> lower case; InvalidInput otherwise."""
    if not isinstance(value, str) or not _ANY_CASE_ADDRESS_RE.fullmatch(value):
        shown = _show(value) if isinstance(value, str) else type(value).__name__
        raise InvalidInput(f"{what} must be an address (0x followed by 40 hex digits), found {shown}")
    return value.lower()
