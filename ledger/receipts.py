"""Review receipts: the log operator's signed promise to merge a review (docs/formats.md, "Review receipt").

When the operator accepts a review leaf it hands back an EIP-712 signature over::

    ReviewReceipt(bytes32 leafHash,uint64 leafIndex,uint64 submittedAt,uint64 maxMergeDelay)

in the domain ``{name: "TrustLedger ReviewLog", version: "1", chainId, verifyingContract: <ReviewLog>}``.
It binds the receipt to one log on one chain, and promises that the leaf with ``leafHash`` will be entry
``leafIndex`` of a checkpoint anchored in that ReviewLog no later than ``submittedAt + maxMergeDelay``
(:attr:`Receipt.deadline`). Whoever holds the receipt can prove a broken promise from the chain alone.

* :class:`ReceiptSigner` signs with coincurve (libsecp256k1: RFC 6979 nonces, low-s);
* :func:`verify_receipt` checks the domain, the signature's shape (v in {27, 28}, 0 < r < n,
  0 < s <= n/2) and the signer, raising a :class:`ReceiptVerificationError` subclass that says what was
  expected and what was found;
* :meth:`Receipt.from_json` is the strict parser for receipts from the network or a file
  (:class:`InvalidReceipt`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_hash.auto import keccak as _eth_hash_keccak

from ledger.errors import InvalidInput, VerificationError
from ledger.reviews import (  # the one strict JSON reader and its checks, shared by both formats
    _ADDRESS_RE,
    _ANY_CASE_ADDRESS_RE,
    _describe_hex,
    _hex_member,
    _load_json_object,
    _require_int,
    _require_members,
    _show,
    _type_name,
)

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "RECEIPT_FIELDS",
    "RECEIPT_FORMAT_VERSION",
    "RECEIPT_TYPE",
    "InvalidReceipt",
    "MalformedSignature",
    "Receipt",
    "ReceiptSigner",
    "ReceiptVerificationError",
    "WrongDomain",
    "WrongSigner",
    "receipt_digest",
    "review_log_domain",
    "sign_receipt_range",
    "verify_receipt",
]

DOMAIN_NAME = "TrustLedger ReviewLog"
DOMAIN_VERSION = "1"
RECEIPT_TYPE = "ReviewReceipt(bytes32 leafHash,uint64 leafIndex,uint64 submittedAt,uint64 maxMergeDelay)"
RECEIPT_FIELDS = [
    {"name": "leafHash", "type": "bytes32"},
    {"name": "leafIndex", "type": "uint64"},
    {"name": "submittedAt", "type": "uint64"},
    {"name": "maxMergeDelay", "type": "uint64"},
]
"""The ``ReviewReceipt`` struct for eth_account's ``encode_typed_data`` (``message_types``)."""

RECEIPT_FORMAT_VERSION = 1
"""The ``v`` member of a receipt's JSON form (the format of the JSON, not of the signed struct)."""

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group."""
SECP256K1_HALF_N = SECP256K1_N // 2
"""Largest s accepted (EIP-2 low-s; the precompile accepts both, this format does not)."""


def _load_keccak() -> Callable[[bytes], bytes]:
    """Keccak-256: safe-pysha3 when installed (about 3 us for a struct hash here, against about 10 us for
    eth_hash's pycryptodome backend, which its auto-selection prefers), else eth_hash. Checked against the
    known Keccak-256 of the empty string, so a foreign ``sha3`` module (FIPS SHA-3) is never used."""
    try:
        keccak_256 = importlib.import_module("sha3").keccak_256
        if keccak_256(b"").hexdigest() == _EMPTY_KECCAK:
            return lambda data: bytes(keccak_256(data).digest())
    except (ImportError, AttributeError):
        pass
    return _eth_hash_keccak


_EMPTY_KECCAK = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
_keccak = _load_keccak()

_DOMAIN_TYPEHASH = _keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_NAME_HASH = _keccak(DOMAIN_NAME.encode())
_VERSION_HASH = _keccak(DOMAIN_VERSION.encode())
_RECEIPT_TYPEHASH = _keccak(RECEIPT_TYPE.encode())
_MEMBERS = ("v", "leafHash", "leafIndex", "submittedAt", "maxMergeDelay", "chainId", "reviewLog", "signature")
_DECIMAL_DIGITS = frozenset("0123456789")


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


class InvalidReceipt(InvalidInput):
    """A receipt was malformed (bad JSON, member, type, length or range). ``member`` names the culprit."""

    def __init__(self, *, member: str | None, expected: str, found: str) -> None:
        self.member = member
        self.expected = expected
        self.found = found
        where = "receipt" if member is None else f"receipt member {_show(member)}"
        super().__init__(f"{where}: expected {expected}, found {found}")


class ReceiptVerificationError(VerificationError):
    """A well-formed receipt did not verify. ``what`` names the part at fault."""

    def __init__(self, *, what: str, expected: str, found: str) -> None:
        self.what = what
        self.expected = expected
        self.found = found
        super().__init__(f"receipt {what}: expected {expected}, found {found}")


class WrongDomain(ReceiptVerificationError):
    """The receipt is for another chain or another ReviewLog than the one it was checked against."""


class MalformedSignature(ReceiptVerificationError):
    """The signature is not a canonical recoverable secp256k1 signature: v not 27/28, r or s out of range,
    high s (the malleable twin), or no public key recovers from it."""


class WrongSigner(ReceiptVerificationError):
    """The signature recovers to an address other than the log operator's."""


# --------------------------------------------------------------------------------------------------------
# EIP-712
# --------------------------------------------------------------------------------------------------------


def review_log_domain(chain_id: int, review_log: str) -> dict[str, Any]:
    """EIP-712 domain of receipts for the ReviewLog at ``review_log`` on ``chain_id`` (eth_account form)."""
    from eth_utils.address import to_checksum_address

    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": _check_chain_id(chain_id),
        "verifyingContract": to_checksum_address(_check_address(review_log, "review_log")),
    }


def domain_separator(chain_id: int, review_log: str) -> bytes:
    """``hashStruct(EIP712Domain)`` for the ReviewLog at ``review_log`` on ``chain_id``."""
    return _domain_separator(_check_chain_id(chain_id), _check_address(review_log, "review_log"))


def receipt_digest(
    *,
    leaf_hash: bytes,
    leaf_index: int,
    submitted_at: int,
    max_merge_delay: int,
    chain_id: int,
    review_log: str,
) -> bytes:
    """The EIP-712 digest ``keccak256(0x19 0x01 || domainSeparator || hashStruct(ReviewReceipt))``.

    Requires a 32-byte ``leaf_hash``, uint64 ``leaf_index``, ``submitted_at`` and ``max_merge_delay``,
    ``1 <= chain_id < 2**256`` and an address for ``review_log``; raises InvalidInput otherwise.
    """
    return _digest(
        _domain_separator(_check_chain_id(chain_id), _check_address(review_log, "review_log")),
        _check_hash(leaf_hash, "leaf_hash"),
        _check_uint64(leaf_index, "leaf_index"),
        _check_uint64(submitted_at, "submitted_at"),
        _check_uint64(max_merge_delay, "max_merge_delay"),
    )


def _domain_separator(chain_id: int, review_log: str) -> bytes:
    # Requires validated arguments; review_log is lower-case 0x-hex.
    return _keccak(
        _DOMAIN_TYPEHASH
        + _NAME_HASH
        + _VERSION_HASH
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(review_log[2:])
    )


def _digest(
    domain: bytes, leaf_hash: bytes, leaf_index: int, submitted_at: int, max_merge_delay: int
) -> bytes:
    # Requires validated arguments.
    struct_hash = _keccak(
        _RECEIPT_TYPEHASH
        + leaf_hash
        + leaf_index.to_bytes(32, "big")
        + submitted_at.to_bytes(32, "big")
        + max_merge_delay.to_bytes(32, "big")
    )
    return _keccak(b"\x19\x01" + domain + struct_hash)


# --------------------------------------------------------------------------------------------------------
# The receipt
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Receipt:
    """A signed review receipt.

    ``signature`` is 65 bytes ``r || s || v``. Construction checks shapes only (lengths and ranges,
    ``submitted_at + max_merge_delay`` within uint64) and raises :class:`InvalidReceipt`; whether the
    signature is canonical and whose it is, is :func:`verify_receipt`'s job. ``review_log`` is accepted in
    any case and stored lower-case.
    """

    leaf_hash: bytes
    leaf_index: int
    submitted_at: int
    max_merge_delay: int
    chain_id: int
    review_log: str
    signature: bytes

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "leaf_hash", _receipt_bytes(self.leaf_hash, "leafHash", 32))
        for field, member in (
            ("leaf_index", "leafIndex"),
            ("submitted_at", "submittedAt"),
            ("max_merge_delay", "maxMergeDelay"),
        ):
            set_(self, field, _receipt_uint(getattr(self, field), member, UINT64_MAX))
        if self.submitted_at + self.max_merge_delay > UINT64_MAX:
            raise InvalidReceipt(
                member="maxMergeDelay",
                expected="submittedAt + maxMergeDelay <= 2**64 - 1",
                found=f"{self.submitted_at} + {self.max_merge_delay}",
            )
        chain_id = _receipt_uint(self.chain_id, "chainId", UINT256_MAX)
        if chain_id == 0:
            raise InvalidReceipt(member="chainId", expected="a chain id >= 1", found="0")
        set_(self, "chain_id", chain_id)
        if not isinstance(self.review_log, str) or not _ANY_CASE_ADDRESS_RE.fullmatch(self.review_log):
            raise InvalidReceipt(
                member="reviewLog", expected="0x followed by 40 hex digits", found=_type_name(self.review_log)
            )
        set_(self, "review_log", self.review_log.lower())
        set_(self, "signature", _receipt_bytes(self.signature, "signature", 65))

    def __repr__(self) -> str:
        return (
            f"Receipt(leaf_hash=0x{self.leaf_hash.hex()}, leaf_index={self.leaf_index}, "
            f"submitted_at={self.submitted_at}, max_merge_delay={self.max_merge_delay}, "
            f"chain_id={self.chain_id}, review_log={self.review_log}, signature=0x{self.signature.hex()})"
        )

    @property
    def deadline(self) -> int:
        """``submitted_at + max_merge_delay``: the leaf must be in a checkpoint anchored by then."""
        return self.submitted_at + self.max_merge_delay

    def digest(self) -> bytes:
        """The EIP-712 digest this receipt's signature signs (:func:`receipt_digest` of its fields)."""
        return _digest(
            _domain_separator(self.chain_id, self.review_log),
            self.leaf_hash,
            self.leaf_index,
            self.submitted_at,
            self.max_merge_delay,
        )

    def to_json(self) -> dict[str, str | int]:
        """The receipt as a JSON object. uint64 and uint256 values are decimal strings (docs/formats.md)."""
        return {
            "v": RECEIPT_FORMAT_VERSION,
            "leafHash": "0x" + self.leaf_hash.hex(),
            "leafIndex": str(self.leaf_index),
            "submittedAt": str(self.submitted_at),
            "maxMergeDelay": str(self.max_merge_delay),
            "chainId": str(self.chain_id),
            "reviewLog": self.review_log,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview | str | Mapping[str, object]) -> Receipt:
        """Parse a receipt strictly: bytes (UTF-8 JSON), JSON text, or a decoded JSON object.

        Exactly the members of :meth:`to_json`; ``v`` = 1; hex as ``0x`` + lower-case digits of the exact
        length (32 bytes for ``leafHash``, 20 for ``reviewLog``, 65 for ``signature``); integers as
        decimal strings without sign, leading zeros or spaces, within uint64 (``chainId``: 1..2**256-1).
        Invalid JSON, duplicate members, NaN, trailing data and everything above raise
        :class:`InvalidReceipt` naming the member. The signature's content is not judged here.
        """
        if isinstance(data, Mapping):
            obj: Mapping[Any, object] = data
        elif isinstance(data, (bytes, bytearray, memoryview, str)):
            if isinstance(data, str):
                try:
                    raw = data.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise InvalidReceipt(
                        member=None,
                        expected="text encodable as UTF-8",
                        found=f"{exc.reason} at offset {exc.start}",
                    ) from None
            else:
                raw = bytes(data)
            obj = _load_json_object(raw, what="receipt", error=_receipt_json_error)
        else:
            raise InvalidReceipt(member=None, expected="bytes, str or a JSON object", found=_type_name(data))
        if "v" in obj:
            version = _require_int(obj["v"], "v", InvalidReceipt)
            if version != RECEIPT_FORMAT_VERSION:
                raise InvalidReceipt(member="v", expected=str(RECEIPT_FORMAT_VERSION), found=str(version))
        _require_members(obj, _MEMBERS, "review receipt v1", InvalidReceipt, InvalidReceipt)
        review_log = obj["reviewLog"]
        if not isinstance(review_log, str):
            raise InvalidReceipt(member="reviewLog", expected="a JSON string", found=_type_name(review_log))
        if not _ADDRESS_RE.fullmatch(review_log):
            raise InvalidReceipt(
                member="reviewLog",
                expected="0x followed by 40 lower-case hex digits",
                found=_describe_hex(review_log, 20),
            )
        return cls(
            leaf_hash=_hex_member(obj["leafHash"], "leafHash", 32, InvalidReceipt, InvalidReceipt),
            leaf_index=_decimal_member(obj["leafIndex"], "leafIndex", UINT64_MAX),
            submitted_at=_decimal_member(obj["submittedAt"], "submittedAt", UINT64_MAX),
            max_merge_delay=_decimal_member(obj["maxMergeDelay"], "maxMergeDelay", UINT64_MAX),
            chain_id=_decimal_member(obj["chainId"], "chainId", UINT256_MAX),
            review_log=review_log,
            signature=_hex_member(obj["signature"], "signature", 65, InvalidReceipt, InvalidReceipt),
        )


def _receipt_json_error(kind: str, expected: str, found: str) -> InvalidReceipt:
    if kind == "duplicate":
        return InvalidReceipt(member=found, expected=expected, found=f"{_show(found)} twice")
    return InvalidReceipt(member=None, expected=expected, found=found)


def _decimal_member(value: object, member: str, maximum: int) -> int:
    if not isinstance(value, str):
        raise InvalidReceipt(member=member, expected="a decimal string", found=_type_name(value))
    if (
        not value
        or len(value) > 78  # digits of 2**256 - 1
        or not _DECIMAL_DIGITS.issuperset(value)
        or (value[0] == "0" and value != "0")
    ):
        raise InvalidReceipt(
            member=member,
            found=_show(value),
            expected="a decimal string of ASCII digits without sign or leading zeros",
        )
    number = int(value)
    if number > maximum:
        raise InvalidReceipt(member=member, expected=f"at most {maximum}", found=value)
    return number


def _receipt_bytes(value: object, member: str, size: int) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidReceipt(member=member, expected=f"{size} bytes", found=_type_name(value))
    raw = bytes(value)
    if len(raw) != size:
        raise InvalidReceipt(member=member, expected=f"{size} bytes", found=f"{len(raw)} bytes")
    return raw


def _receipt_uint(value: object, member: str, maximum: int) -> int:
    number = _require_int(value, member, InvalidReceipt)
    if not 0 <= number <= maximum:
        raise InvalidReceipt(member=member, expected=f"an integer from 0 to {maximum}", found=str(number))
    return number


# --------------------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------------------


class ReceiptSigner:
    """The log operator's receipt signer for one ReviewLog on one chain, with a fixed maximum merge delay.

    Requires a 32-byte secp256k1 private key (1 <= key < n), ``1 <= chain_id < 2**256``, the ReviewLog
    address and a uint64 ``max_merge_delay`` in seconds; raises InvalidInput otherwise. The key is held in
    a coincurve ``PrivateKey`` and never shown by ``repr``.
    """

    __slots__ = ("_domain", "_key", "address", "chain_id", "max_merge_delay", "review_log")

    def __init__(self, private_key: bytes, *, chain_id: int, review_log: str, max_merge_delay: int) -> None:
        if not isinstance(private_key, (bytes, bytearray)) or len(private_key) != 32:
            found = (
                f"{len(private_key)} bytes"
                if isinstance(private_key, (bytes, bytearray))
                else type(private_key).__name__
            )
            raise InvalidInput(f"private_key must be 32 bytes, found {found}")
        if not 1 <= int.from_bytes(private_key, "big") < SECP256K1_N:
            raise InvalidInput("private_key must be a secp256k1 scalar 1 <= key < n, found one out of range")
        self._key = coincurve.PrivateKey(bytes(private_key))
        self.chain_id = _check_chain_id(chain_id)
        self.review_log = _check_address(review_log, "review_log")
        self.max_merge_delay = _check_uint64(max_merge_delay, "max_merge_delay")
        self._domain = _domain_separator(self.chain_id, self.review_log)
        self.address = _address_of(self._key.public_key)
        """The operator's address, lower-case."""

    def __repr__(self) -> str:
        return (
            f"ReceiptSigner(address={self.address}, chain_id={self.chain_id}, "
            f"review_log={self.review_log}, max_merge_delay={self.max_merge_delay})"
        )

    def sign(self, leaf_hash: bytes, leaf_index: int, submitted_at: int) -> Receipt:
        """Sign the promise to merge ``leaf_hash`` as entry ``leaf_index`` by ``submitted_at + delay``.

        Requires a 32-byte ``leaf_hash``, uint64 ``leaf_index`` and ``submitted_at``, and a deadline that fits
        in uint64; raises InvalidInput otherwise.
        """
        leaf_hash = _check_hash(leaf_hash, "leaf_hash")
        leaf_index = _check_uint64(leaf_index, "leaf_index")
        submitted_at = _check_uint64(submitted_at, "submitted_at")
        digest = _digest(self._domain, leaf_hash, leaf_index, submitted_at, self.max_merge_delay)
        rsv = self._key.sign_recoverable(digest, hasher=None)  # r || s || recid, RFC 6979 nonce
        if int.from_bytes(rsv[32:64], "big") > SECP256K1_HALF_N:  # libsecp256k1 always normalises
            raise RuntimeError("coincurve returned a high-s signature")
        return Receipt(
            leaf_hash=leaf_hash,
            leaf_index=leaf_index,
            submitted_at=submitted_at,
            max_merge_delay=self.max_merge_delay,
            chain_id=self.chain_id,
            review_log=self.review_log,
            signature=rsv[:64] + bytes((rsv[64] + 27,)),
        )

    def sign_batch(
        self, leaf_hashes: Sequence[bytes], first_index: int, submitted_ats: Sequence[int], *,
        executor: Executor | None = None,
    ) -> list[Receipt]:
        """Sign receipts for the leaves ``first_index, first_index + 1, ...``: byte for byte what :meth:`sign`
        returns for each, for a fraction of the Python time (the log service signs every review).

        With an ``executor`` (a process pool), the digests and signatures are computed there by
        :func:`sign_receipt_range` (this signer's private key goes with the call: use a pool you own), and
        only the receipts are built here; whatever the call raises is raised.

        Requires as many ``submitted_ats`` as ``leaf_hashes``, each hash 32 ``bytes``, each time an ``int``,
        and every index, time and deadline within uint64; the checks run once over the whole batch and raise
        InvalidInput (nothing is signed then). The receipts are built without :class:`Receipt`'s per-field
        checks, which these batch checks make redundant.
        """
        count = len(leaf_hashes)
        if len(submitted_ats) != count:
            raise InvalidInput(f"expected one submitted_at per leaf hash, found {len(submitted_ats)} for {count}")
        if not count:
            return []
        first_index = _check_uint64(first_index, "first_index")
        _check_uint64(first_index + count - 1, "the last leaf index")
        if not set(map(type, leaf_hashes)) <= {bytes} or not set(map(len, leaf_hashes)) <= {32}:
            bad = next(h for h in leaf_hashes if type(h) is not bytes or len(h) != 32)
            _check_hash(bad, "leaf_hash")
            raise InvalidInput("leaf_hash must be of type bytes")  # a bytes-like that is not bytes
        if not set(map(type, submitted_ats)) <= {int}:
            bad_type = next(t for t in submitted_ats if type(t) is not int)
            raise InvalidInput(f"submitted_at must be an int, found {type(bad_type).__name__}")
        delay = self.max_merge_delay
        if min(submitted_ats) < 0 or max(submitted_ats) > UINT64_MAX - delay:
            raise InvalidInput(f"submitted_at must be from 0 to 2**64 - 1 - max_merge_delay ({delay}), "
                               f"found {min(submitted_ats)} .. {max(submitted_ats)}")
        joined = b"".join(leaf_hashes)
        if executor is None:
            signatures = _sign_range(self._key, self._domain, delay, joined, first_index, submitted_ats)
        else:
            args = (self._key.secret, self._domain, delay)
            signatures = executor.submit(sign_receipt_range, args, joined, first_index, list(submitted_ats)).result()
        return self._receipts(leaf_hashes, first_index, submitted_ats, signatures)

    def _receipts(self, leaf_hashes: Sequence[bytes], first_index: int, submitted_ats: Sequence[int],
                 signatures: bytes) -> list[Receipt]:
        """The receipts of :meth:`sign_batch` from ``signatures`` (65 bytes each, concatenated) that
        :func:`sign_receipt_range` made with this signer's key, for arguments :meth:`sign_batch` checked.
        Built without :class:`Receipt`'s per-field checks; the signatures are taken as they are."""
        if len(signatures) != 65 * len(leaf_hashes):
            raise InvalidInput(f"expected {65 * len(leaf_hashes)} bytes of signatures, found {len(signatures)}")
        new = object.__new__
        common = {"max_merge_delay": self.max_merge_delay, "chain_id": self.chain_id, "review_log": self.review_log}
        out: list[Receipt] = []
        append = out.append
        for i, (leaf_hash, submitted_at) in enumerate(zip(leaf_hashes, submitted_ats, strict=True)):
            receipt = new(Receipt)
            receipt.__dict__.update(common, leaf_hash=leaf_hash, leaf_index=first_index + i,
                                    submitted_at=submitted_at, signature=signatures[65 * i : 65 * i + 65])
            append(receipt)
        return out


def sign_receipt_range(args: tuple[bytes, bytes, int], leaf_hashes: bytes, first_index: int,
                       submitted_ats: Sequence[int]) -> bytes:
    """The 65-byte ``r || s || v`` receipt signatures, concatenated, of the leaves ``first_index, ...`` whose
    32-byte hashes are concatenated in ``leaf_hashes``; ``args`` is ``(private key, domain separator, max
    merge delay)`` of the signer. What :meth:`ReceiptSigner.sign_batch` runs in its ``executor``
    (module-level, so a process pool can call it); requires the arguments that method checked."""
    secret, domain, delay = args
    key = _RANGE_KEYS.get(secret)
    if key is None:
        key = _RANGE_KEYS.setdefault(secret, coincurve.PrivateKey(secret))
    return _sign_range(key, domain, delay, leaf_hashes, first_index, submitted_ats)


_RANGE_KEYS: dict[bytes, coincurve.PrivateKey] = {}  # per signing process: the key objects it has made


def _sign_range(key: coincurve.PrivateKey, domain: bytes, delay: int, leaf_hashes: bytes, first_index: int,
                submitted_ats: Sequence[int]) -> bytes:
    # Requires validated arguments. libsecp256k1 signs with RFC 6979 nonces and always a low s.
    prefix = b"\x19\x01" + domain
    tail = delay.to_bytes(32, "big")
    sign = key.sign_recoverable
    keccak = _keccak
    out = bytearray()
    index = first_index
    for offset, submitted_at in zip(range(0, len(leaf_hashes), 32), submitted_ats, strict=True):
        struct_hash = keccak(_RECEIPT_TYPEHASH + leaf_hashes[offset : offset + 32] + index.to_bytes(32, "big")
                             + submitted_at.to_bytes(32, "big") + tail)
        rsv = sign(keccak(prefix + struct_hash), hasher=None)  # r || s || recid
        out += rsv[:64]
        out += _V[rsv[64]]
        index += 1
    return bytes(out)


_V = (b"\x1b", b"\x1c")  # recovery id 0 or 1 as the v byte 27 or 28


# --------------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------------


def verify_receipt(receipt: Receipt, *, operator: str, chain_id: int, review_log: str) -> None:
    """Check that ``receipt`` was signed by ``operator`` for the ReviewLog ``review_log`` on ``chain_id``.

    In order, raises :class:`WrongDomain` (``what`` "chainId" or "verifyingContract") when the receipt
    names another chain or log; :class:`MalformedSignature` when v is not 27 or 28, r or s is 0 or >= n,
    s > n/2 (high s: the malleable twin of a valid signature), or no public key recovers;
    :class:`WrongSigner` when the recovered address is not ``operator``. Addresses compare
    case-insensitively. Raises InvalidInput for a malformed argument. Returns None on success.

    A valid receipt says nothing yet about the log: pair it with the leaf (``leaf_hash``) and the
    checkpoints anchored by ``deadline`` to check the promise was kept.
    """
    if not isinstance(receipt, Receipt):
        raise InvalidInput(f"receipt must be a Receipt, found {type(receipt).__name__}")
    operator = _check_address(operator, "operator")
    chain_id = _check_chain_id(chain_id)
    review_log = _check_address(review_log, "review_log")
    if receipt.chain_id != chain_id:
        raise WrongDomain(what="chainId", expected=str(chain_id), found=str(receipt.chain_id))
    if receipt.review_log != review_log:
        raise WrongDomain(what="verifyingContract", expected=review_log, found=receipt.review_log)
    signer = _recover(receipt.signature, receipt.digest())
    if signer != operator:
        raise WrongSigner(what="signer", expected=operator, found=signer)


def _recover(signature: bytes, digest: bytes) -> str:
    """Address (lower-case) that made the 65-byte ``r || s || v`` signature over ``digest``."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise MalformedSignature(what="signature v", expected="27 or 28", found=str(v))
    if not 0 < r < SECP256K1_N:
        raise MalformedSignature(what="signature r", expected="0 < r < n", found=f"0x{r:064x}")
    if not 0 < s <= SECP256K1_HALF_N:
        found = "s > n/2 (high s)" if s > SECP256K1_HALF_N else "s = 0"
        raise MalformedSignature(what="signature s", expected="0 < s <= n/2 (low s)", found=found)
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError:
        raise MalformedSignature(
            what="signature",
            expected="a signature from which a public key recovers",
            found=f"r = 0x{r:064x}, which is no point's x-coordinate",
        ) from None
    return _address_of(public_key)


def _address_of(public_key: coincurve.PublicKey) -> str:
    return "0x" + _keccak(public_key.format(compressed=False)[1:])[12:].hex()


# --------------------------------------------------------------------------------------------------------
# Argument checks (InvalidInput with the argument's Python name)
# --------------------------------------------------------------------------------------------------------


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{what} must be 32 bytes, found {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != 32:
        raise InvalidInput(f"{what} must be 32 bytes, found {len(raw)} bytes")
    return raw


def _check_uint64(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an int, found {type(value).__name__}")
    if not 0 <= value <= UINT64_MAX:
        raise InvalidInput(f"{what} must be from 0 to 2**64 - 1, found {value}")
    return int(value)


def _check_chain_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"chain_id must be an int, found {type(value).__name__}")
    if not 1 <= value <= UINT256_MAX:
        raise InvalidInput(f"chain_id must be from 1 to 2**256 - 1, found {value}")
    return int(value)


def _check_address(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ANY_CASE_ADDRESS_RE.fullmatch(value):
        shown = _show(value) if isinstance(value, str) else type(value).__name__
        raise InvalidInput(f"{what} must be an address (0x followed by 40 hex digits), found {shown}")
    return value.lower()


if __name__ == "__main__":  # python -m ledger.receipts: signing speed, coincurve vs eth-account
    import timeit

    from eth_account import Account
    from eth_account.messages import encode_typed_data

    key = _keccak(b"trustledger-test-receipt-key")  # the test key, never a real one
    log = "0x" + _keccak(b"trustledger-test-review-log")[12:].hex()
    signer = ReceiptSigner(key, chain_id=31337, review_log=log, max_merge_delay=86_400)
    leaf = _keccak(b"leaf")
    receipt = signer.sign(leaf, 0, 1_700_000_000)
    raw_key, digest = coincurve.PrivateKey(key), receipt.digest()
    message = {"leafHash": leaf, "leafIndex": 0, "submittedAt": 1_700_000_000, "maxMergeDelay": 86_400}

    def eth_account_sign() -> bytes:
        signable = encode_typed_data(
            domain_data=review_log_domain(31337, log),
            message_types={"ReviewReceipt": RECEIPT_FIELDS},
            message_data=message,
        )
        return bytes(Account.sign_message(signable, key).signature)

    def best_us(fn: Callable[[], object], n: int) -> float:  # best of 5 runs: the least disturbed by load
        return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6

    timings: list[tuple[str, Callable[[], object], int]] = [
        ("coincurve sign_recoverable alone", lambda: raw_key.sign_recoverable(digest, hasher=None), 5000),
        ("ReceiptSigner.sign", lambda: signer.sign(leaf, 7, 1_700_000_000), 5000),
        (
            "verify_receipt",
            lambda: verify_receipt(receipt, operator=signer.address, chain_id=31337, review_log=log),
            5000,
        ),
        ("eth-account typed-data sign", eth_account_sign, 200),
    ]
    print(f"keccak backend: {'safe-pysha3' if _keccak is not _eth_hash_keccak else 'eth_hash'}")
    for label, fn, n in timings:
        print(f"{label:34s}{best_us(fn, n):8.1f} us")
