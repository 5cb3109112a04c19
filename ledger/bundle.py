"""Proof bundle v1: one self-contained JSON file proving a certificate or a review (docs/proof-bundle.md).

A bundle carries the record, its proofs, the anchoring transaction and block with the very log that anchored
it, the chain id and the deployment's contract addresses, and (for a certificate) the issuer's accreditation as
of the anchoring block and the status at export. :func:`verify_bundle` checks it with no server at all, and
when given an RPC URL (or a ``w3``) also against the chain.

* :func:`export_certificate_bundle`, :func:`export_review_bundle` build one from the chain (and an index or a
  leaf store); :meth:`CertificateBundle.to_json` / :func:`dumps_bundle` write it;
* :func:`parse_bundle` is the one strict parser: unknown or missing members, wrong JSON types, hex of the wrong
  case or length, numbers out of range raise an :class:`InvalidBundle` subclass naming the member by its path
  (``anchor.log.topics[1]``);
* :func:`verify_bundle` returns a :class:`BundleVerification`: a :class:`~ledger.verify.Verdict` and named
  :class:`~ledger.verify.Reason` objects.

Integers follow docs/formats.md: values that fit in 0..2**53-1 by construction (block numbers, unix times,
log indexes, ``kind``, ``issuerId``) are JSON integers; uint256 and uint64 values (``chainId``, checkpoint
``index`` and ``size``, ``leafIndex``) are decimal strings. Hex is ``0x`` + lower-case digits; addresses are
lower case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from web3 import Web3
from web3.exceptions import BlockNotFound, ContractLogicError, TransactionNotFound

from . import merkle
from .artifacts import CONTRACT_NAMES, load
from .eip712 import Certificate, certificate_id
from .errors import InvalidInput, InvalidProof, RootMismatch
from .indexer import CertificateStatus, Indexer
from .manifest import Manifest, masked_code_hash, shipped_code_hash
from .reviews import parse_review_leaf
from .verify import (
    CheckpointRef,
    Evidence,
    LeafStore,
    Reason,
    ReasonCode,
    Verdict,
    _Chain,
    _event_topic,
    _index_checkpoints,
    status_reason,
)

__all__ = [
    "BUNDLE_VERSION",
    "MAX_BUNDLE_BYTES",
    "AccreditationAtIssue",
    "Anchor",
    "AnchorLog",
    "Bundle",
    "BundleValueOutOfRange",
    "BundleVerification",
    "CertificateBundle",
    "InvalidBundle",
    "MalformedBundle",
    "MalformedBundleHex",
    "MissingBundleMember",
    "ReviewBundle",
    "StatusAtExport",
    "TakedownAtExport",
    "UnknownBundleMember",
    "UnsupportedBundleVersion",
    "WrongBundleType",
    "dumps_bundle",
    "export_certificate_bundle",
    "export_review_bundle",
    "parse_bundle",
    "verify_bundle",
]

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 1 << 20
"""Largest bundle accepted by :func:`parse_bundle` (a real one is a few kilobytes)."""
MAX_PROOF_HASHES = 64
MAX_LOG_DATA = 4096
_JSON_INT_MAX = 2**53 - 1
_UINT40_MAX = 2**40 - 1
_UINT64_MAX = 2**64 - 1
_UINT256_MAX = 2**256 - 1

_CERTIFICATE_ISSUED = _event_topic("CertificateRegistry", "CertificateIssued")
_CHECKPOINT_ANCHORED = _event_topic("ReviewLog", "CheckpointAnchored")
_STATUS_NAMES = {s.name.lower(): s for s in CertificateStatus}


# --- errors -----------------------------------------------------------------------------------------------


class InvalidBundle(InvalidInput):
    """A bundle is malformed. ``member`` is the path of the member at fault (None: the document itself)."""

    def __init__(self, *, member: str | None, expected: str, found: str) -> None:
        self.member = member
        self.expected = expected
        self.found = found
        where = "bundle" if member is None else f"bundle member {member}"
        super().__init__(f"{where}: expected {expected}, found {found}")


class MalformedBundle(InvalidBundle):
    """Not a JSON document: invalid UTF-8 or JSON, duplicate members, NaN, floats, too large, too deep."""


class UnknownBundleMember(InvalidBundle):
    """A member this version of the format does not have."""


class MissingBundleMember(InvalidBundle):
    """A member the format requires is absent."""


class WrongBundleType(InvalidBundle):
    """A member has the wrong JSON type (a string where an integer belongs, a number for a boolean, …)."""


class MalformedBundleHex(InvalidBundle):
    """Hex of the wrong prefix, case, length or digits."""


class BundleValueOutOfRange(InvalidBundle):
    """A number, list length or enumerated value outside what the format allows."""


class UnsupportedBundleVersion(InvalidBundle):
    """``v`` is not 1 (judged before anything else) or ``type`` is neither ``certificate`` nor ``review``."""


# --- the bundle -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorLog:
    """An event log as the node returns it: emitting contract (lower case), topics and data."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "topics": ["0x" + t.hex() for t in self.topics],
                "data": "0x" + self.data.hex()}


@dataclass(frozen=True)
class Anchor:
    """The transaction, block and log that anchored the record."""

    transaction_hash: bytes
    block_number: int
    block_hash: bytes
    block_timestamp: int
    transaction_index: int
    log_index: int
    log: AnchorLog

    def to_json(self) -> dict[str, Any]:
        return {"transactionHash": "0x" + self.transaction_hash.hex(), "blockNumber": self.block_number,
                "blockHash": "0x" + self.block_hash.hex(), "blockTimestamp": self.block_timestamp,
                "transactionIndex": self.transaction_index, "logIndex": self.log_index, "log": self.log.to_json()}


@dataclass(frozen=True)
class AccreditationAtIssue:
    """``TrustGovernance.accreditation(issuer)`` and ``isInScope(issuer, standard)`` at the anchoring block."""

    issuer_id: int
    valid_from: int
    valid_until: int
    compromised_at: int
    suspended: bool
    standard_in_scope: bool

    def to_json(self) -> dict[str, Any]:
        return {"issuerId": self.issuer_id, "validFrom": self.valid_from, "validUntil": self.valid_until,
                "compromisedAt": self.compromised_at, "suspended": self.suspended,
                "standardInScope": self.standard_in_scope}


@dataclass(frozen=True)
class StatusAtExport:
    """``CertificateRegistry.status(id)`` at the latest block when the bundle was made: that block's number,
    hash and time bind the claim to the chain."""

    status: CertificateStatus
    issuer_accredited_at_issue: bool
    block_number: int
    block_hash: bytes
    time: int

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.name.lower(), "issuerAccreditedAtIssue": self.issuer_accredited_at_issue,
                "blockNumber": self.block_number, "blockHash": "0x" + self.block_hash.hex(), "time": self.time}


@dataclass(frozen=True)
class CertificateBundle:
    """A proof bundle for a certificate."""

    chain_id: int
    contracts: Mapping[str, str]
    certificate_id: bytes
    certificate: Certificate
    anchored_by: str
    anchor: Anchor
    accreditation: AccreditationAtIssue
    status: StatusAtExport

    kind = "certificate"

    def to_json(self) -> dict[str, Any]:
        c = self.certificate
        return {
            "v": BUNDLE_VERSION,
            "type": self.kind,
            "chainId": str(self.chain_id),
            "contracts": dict(self.contracts),
            "certificate": {
                "id": "0x" + self.certificate_id.hex(), "productId": "0x" + c.product_id.hex(),
                "lot": "0x" + c.lot.hex(), "merchant": c.merchant.lower(), "issuer": c.issuer.lower(),
                "kind": c.kind, "documentHash": "0x" + c.document_hash.hex(), "standard": "0x" + c.standard.hex(),
                "issuedAt": c.issued_at, "validUntil": c.valid_until, "anchoredBy": self.anchored_by,
            },
            "accreditation": self.accreditation.to_json(),
            "status": self.status.to_json(),
            "anchor": self.anchor.to_json(),
        }


TAKEDOWN_STATES: Mapping[int, str] = {1: "emergencyHidden", 2: "takenDown", 3: "restored"}
"""``IDisputeRegistry.TakedownState`` by value, as a bundle spells it (None, 0, is never exported)."""


@dataclass(frozen=True)
class TakedownAtExport:
    """``DisputeRegistry.takedown(leafIndex)`` at ``block_number``: a hide or takedown of the review known when
    the bundle was made (the index's, or the chain's at its latest block). The leaf stays in the log whatever
    this says; it tells what became of the review's content."""

    state: str
    """``emergencyHidden``, ``takenDown`` or ``restored``."""
    hidden_at: int
    lapse_at: int
    reason_code: bytes
    dispute_id: bytes
    block_number: int

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "hiddenAt": self.hidden_at, "lapseAt": self.lapse_at,
                "reasonCode": "0x" + self.reason_code.hex(), "disputeId": "0x" + self.dispute_id.hex(),
                "blockNumber": self.block_number}


@dataclass(frozen=True)
class ReviewBundle:
    """A proof bundle for a review: the leaf, its inclusion proof and the checkpoint it is proved against, and
    (optional member) a hide or takedown of the review known at export."""

    chain_id: int
    contracts: Mapping[str, str]
    leaf_index: int
    leaf: bytes
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    checkpoint: CheckpointRef
    anchor: Anchor
    takedown: TakedownAtExport | None = None

    kind = "review"

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        doc = {
            "v": BUNDLE_VERSION,
            "type": self.kind,
            "chainId": str(self.chain_id),
            "contracts": dict(self.contracts),
            "review": {"leafIndex": str(self.leaf_index), "leaf": "0x" + self.leaf.hex(),
                       "leafHash": "0x" + self.leaf_hash.hex()},
            "inclusionProof": ["0x" + p.hex() for p in self.inclusion_proof],
            "checkpoint": {"index": str(cp.index), "size": str(cp.size), "root": "0x" + cp.root.hex(),
                           "timestamp": cp.timestamp},
            "anchor": self.anchor.to_json(),
        }
        if self.takedown is not None:
            doc["takedown"] = self.takedown.to_json()
        return doc


Bundle = CertificateBundle | ReviewBundle


def dumps_bundle(bundle: Bundle) -> bytes:
    """The bundle as the UTF-8 JSON file it is exchanged as (2-space indent, trailing newline)."""
    return (json.dumps(bundle.to_json(), indent=2) + "\n").encode("utf-8")


# --- export -----------------------------------------------------------------------------------------------


def _contracts(manifest: Manifest) -> dict[str, str]:
    return {name: manifest.address(name).lower() for name in CONTRACT_NAMES}


def _anchor(w3: Web3, tx_hash: bytes, address: str, topics: Sequence[bytes]) -> Anchor:
    """The anchor of the log of ``address`` in transaction ``tx_hash`` whose topics start with ``topics``."""
    receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    for log in receipt["logs"]:
        log_topics = [bytes(t) for t in log["topics"]]
        if str(log["address"]).lower() == address.lower() and log_topics[: len(topics)] == list(topics):
            number = int(receipt["blockNumber"])
            block = w3.eth.get_block(number)
            return Anchor(bytes(receipt["transactionHash"]), number, bytes(block["hash"]), int(block["timestamp"]),
                          int(receipt["transactionIndex"]), int(log["logIndex"]),
                          AnchorLog(address.lower(), tuple(log_topics), bytes(log["data"])))
    raise InvalidInput(f"transaction 0x{tx_hash.hex()} holds no such log of {address}")


def export_certificate_bundle(certificate_id_: bytes, *, w3: Web3, manifest: Manifest,
                              indexer: Indexer | None = None) -> CertificateBundle:
    """The proof bundle of certificate ``certificate_id_``, read from the chain behind ``w3``.

    The anchoring transaction is taken from ``indexer`` when given, else from the chain's event logs. The
    accreditation is read at the anchoring block (the node must serve that block's state); the status is the
    one at the latest block. Raises :class:`~ledger.errors.InvalidInput` for a certificate not anchored.
    """
    cid = bytes(certificate_id_)
    chain = _Chain(w3, manifest)
    registry_address = manifest.address("CertificateRegistry")
    if indexer is not None:
        record = indexer.certificate(cid)
        if record is None:
            raise InvalidInput(f"no certificate 0x{cid.hex()} in the index")
        tx_hash = record.tx_hash
    else:
        issued = chain.logs("CertificateRegistry", "CertificateIssued", cid)
        if not issued:
            raise InvalidInput(f"no certificate 0x{cid.hex()} on chain")
        tx_hash = issued[0][0].tx_hash
    anchor = _anchor(w3, tx_hash, registry_address, [_CERTIFICATE_ISSUED, cid])
    event = chain.contract("CertificateRegistry").events.CertificateIssued().process_log(
        next(log for log in w3.eth.get_transaction_receipt(tx_hash)["logs"]  # type: ignore[arg-type]
             if int(log["logIndex"]) == anchor.log_index))
    args = event["args"]
    certificate = Certificate(
        product_id=bytes(args["productId"]), lot=bytes(args["lot"]), merchant=str(args["merchant"]).lower(),
        issuer=str(args["issuer"]).lower(), kind=int(args["kind"]), document_hash=bytes(args["documentHash"]),
        standard=bytes(args["standard"]), issued_at=int(args["issuedAt"]), valid_until=int(args["validUntil"]))
    governance = chain.contract("TrustGovernance").functions
    issuer = Web3.to_checksum_address(certificate.issuer)
    acc = governance.accreditation(issuer).call(block_identifier=anchor.block_number)
    in_scope = governance.isInScope(issuer, certificate.standard).call(block_identifier=anchor.block_number)
    latest = w3.eth.get_block("latest")
    raw_status, accredited = chain.contract("CertificateRegistry").functions.status(cid).call(
        block_identifier=int(latest["number"]))
    return CertificateBundle(
        chain_id=manifest.chain_id, contracts=_contracts(manifest), certificate_id=cid, certificate=certificate,
        anchored_by=str(args["anchoredBy"]).lower(), anchor=anchor,
        accreditation=AccreditationAtIssue(int(acc[0]), int(acc[1]), int(acc[2]), int(acc[3]), bool(acc[4]),
                                           bool(in_scope)),
        status=StatusAtExport(CertificateStatus(int(raw_status)), bool(accredited), int(latest["number"]),
                              bytes(latest["hash"]), int(latest["timestamp"])))


def export_review_bundle(leaf_index: int, *, store: LeafStore, w3: Web3, manifest: Manifest,
                         indexer: Indexer | None = None, checkpoint_index: int | None = None) -> ReviewBundle:
    """The proof bundle of review ``leaf_index``: its leaf bytes from ``store``, an inclusion proof against the
    first anchored checkpoint covering it (or ``checkpoint_index``), that checkpoint's anchoring log, and any
    hide or takedown of the review (``takedown``).

    Checkpoints and the takedown come from ``indexer`` when given (the takedown as of the block of its last
    change), else from the chain's event logs and ``DisputeRegistry.takedown`` at the latest block. Raises
    :class:`~ledger.errors.InvalidInput` when no anchored checkpoint covers the leaf yet, or the store is short.
    """
    if not 0 <= leaf_index < store.size:
        raise InvalidInput(f"leaf_index must be < {store.size}, found {leaf_index}")
    checkpoints = _index_checkpoints(indexer) if indexer is not None else _Chain(w3, manifest).checkpoints()
    covering = [c for c in checkpoints if c.size > leaf_index
                and (checkpoint_index is None or c.index == checkpoint_index)]
    if not covering:
        raise InvalidInput(f"no anchored checkpoint covers leaf {leaf_index} yet")
    cp = covering[0]
    if store.size < cp.size:
        raise InvalidInput(f"checkpoint {cp.index} covers {cp.size} leaves, the store holds {store.size}")
    leaf = store.leaves(leaf_index, leaf_index + 1)[0]
    anchor = _anchor(w3, cp.evidence.tx_hash, manifest.address("ReviewLog"),
                     [_CHECKPOINT_ANCHORED, cp.index.to_bytes(32, "big")])
    takedown: TakedownAtExport | None = None
    if indexer is not None:
        known = indexer.takedown_record(leaf_index)
        if known is not None and known.state in TAKEDOWN_STATES:
            takedown = TakedownAtExport(TAKEDOWN_STATES[known.state], known.hidden_at, known.lapse_at,
                                        known.reason_code, known.dispute_id, known.block_number)
    else:
        latest = int(w3.eth.block_number)
        t = _Chain(w3, manifest).contract("DisputeRegistry").functions.takedown(leaf_index).call(
            block_identifier=latest)
        if int(t[0]) in TAKEDOWN_STATES:
            takedown = TakedownAtExport(TAKEDOWN_STATES[int(t[0])], int(t[1]), int(t[2]), bytes(t[3]), bytes(t[4]),
                                        latest)
    return ReviewBundle(chain_id=manifest.chain_id, contracts=_contracts(manifest), leaf_index=leaf_index,
                        leaf=leaf, leaf_hash=merkle.leaf_hash(leaf),
                        inclusion_proof=tuple(store.inclusion_proof(leaf_index, cp.size)), checkpoint=cp,
                        anchor=anchor, takedown=takedown)


# --- parsing ----------------------------------------------------------------------------------------------

_HEX = re.compile(r"0x(?:[0-9a-f]{2})*")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: str, limit: int = 40) -> str:
    text = value if len(value) <= limit else value[:limit] + "…"
    return json.dumps(text)


def _object(value: object, path: str, members: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WrongBundleType(member=path or None, expected="a JSON object", found=_type_name(value))
    prefix = f"{path}." if path else ""
    for key in value:
        if not isinstance(key, str) or (key not in members and key not in optional):
            shown = _show(key) if isinstance(key, str) else repr(key)
            raise UnknownBundleMember(member=prefix + str(key), expected=f"only {', '.join([*members, *optional])}",
                                      found=f"member {shown}")
    for key in members:
        if key not in value:
            raise MissingBundleMember(member=prefix + key, expected="the member", found="none")
    return value


def _hex(value: object, path: str, size: int | None = None, *, limit: int = MAX_LOG_DATA) -> bytes:
    if not isinstance(value, str):
        raise WrongBundleType(member=path, expected="a 0x hex string", found=_type_name(value))
    if not _HEX.fullmatch(value) or (size is not None and len(value) != 2 + 2 * size) or len(value) > 2 + 2 * limit:
        want = f"0x and {2 * size} lower-case hex digits" if size is not None else "0x and lower-case hex byte pairs"
        raise MalformedBundleHex(member=path, expected=want, found=_show(value))
    return bytes.fromhex(value[2:])


def _address(value: object, path: str) -> str:
    return "0x" + _hex(value, path, 20).hex()


def _int(value: object, path: str, maximum: int = _JSON_INT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongBundleType(member=path, expected="a JSON integer", found=_type_name(value))
    if not 0 <= value <= maximum:
        raise BundleValueOutOfRange(member=path, expected=f"0 .. {maximum}", found=str(value))
    return value


def _decimal(value: object, path: str, maximum: int) -> int:
    if not isinstance(value, str):
        raise WrongBundleType(member=path, expected="a decimal string", found=_type_name(value))
    if len(value) > 80 or not _DECIMAL.fullmatch(value):
        raise MalformedBundleHex(member=path, expected="decimal digits, no sign or leading zeros",
                                 found=_show(value))
    number = int(value)
    if number > maximum:
        raise BundleValueOutOfRange(member=path, expected=f"0 .. {maximum}", found=value)
    return number


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise WrongBundleType(member=path, expected="true or false", found=_type_name(value))
    return value


def _list(value: object, path: str, maximum: int, minimum: int = 0) -> list[Any]:
    if not isinstance(value, list):
        raise WrongBundleType(member=path, expected="a JSON array", found=_type_name(value))
    if not minimum <= len(value) <= maximum:
        raise BundleValueOutOfRange(member=path, expected=f"{minimum} .. {maximum} entries",
                                    found=f"{len(value)}")
    return value


def _fail_json(expected: str, found: str) -> NoReturn:
    raise MalformedBundle(member=None, expected=expected, found=found)


def _load(data: bytes) -> object:
    if len(data) > MAX_BUNDLE_BYTES:
        _fail_json(f"at most {MAX_BUNDLE_BYTES} bytes", f"{len(data)} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail_json("UTF-8", f"{exc.reason} at byte {exc.start}")

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in items:
            if key in out:
                raise MalformedBundle(member=key, expected="each member once", found=f"{_show(key)} twice")
            out[key] = value
        return out

    def no_float(text: str) -> NoReturn:
        raise MalformedBundle(member=None, expected="integers only", found=f"number {_show(text)}")

    def no_constant(name: str) -> NoReturn:
        raise MalformedBundle(member=None, expected="JSON values", found=name)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_constant)
    except InvalidBundle:
        raise
    except RecursionError:
        _fail_json("a JSON document nested at most a few levels", "one nested too deeply")
    except ValueError as exc:  # JSONDecodeError, and int() of more digits than Python allows
        _fail_json("a JSON document", str(exc))


def _anchor_from(value: object) -> Anchor:
    a = _object(value, "anchor", ("transactionHash", "blockNumber", "blockHash", "blockTimestamp",
                                  "transactionIndex", "logIndex", "log"))
    log = _object(a["log"], "anchor.log", ("address", "topics", "data"))
    topics = _list(log["topics"], "anchor.log.topics", 4, 1)
    return Anchor(
        transaction_hash=_hex(a["transactionHash"], "anchor.transactionHash", 32),
        block_number=_int(a["blockNumber"], "anchor.blockNumber"),
        block_hash=_hex(a["blockHash"], "anchor.blockHash", 32),
        block_timestamp=_int(a["blockTimestamp"], "anchor.blockTimestamp", _UINT40_MAX),
        transaction_index=_int(a["transactionIndex"], "anchor.transactionIndex"),
        log_index=_int(a["logIndex"], "anchor.logIndex"),
        log=AnchorLog(_address(log["address"], "anchor.log.address"),
                      tuple(_hex(t, f"anchor.log.topics[{i}]", 32) for i, t in enumerate(topics)),
                      _hex(log["data"], "anchor.log.data")),
    )


_TOP = ("v", "type", "chainId", "contracts")
_CERTIFICATE_MEMBERS = ("id", "productId", "lot", "merchant", "issuer", "kind", "documentHash", "standard",
                        "issuedAt", "validUntil", "anchoredBy")


def parse_bundle(data: bytes | bytearray | memoryview | str | Mapping[str, object]) -> Bundle:
    """Parse a proof bundle v1 strictly: UTF-8 JSON bytes, JSON text, or an already decoded JSON object.

    Exactly the members of docs/proof-bundle.md, with their JSON types; ``v`` must be 1 and is judged first,
    then ``type``. Anything else raises an :class:`InvalidBundle` subclass naming the member's path. Only the
    shape is judged here; whether the bundle proves anything is :func:`verify_bundle`'s job.
    """
    if isinstance(data, Mapping):
        doc: object = dict(data)
    elif isinstance(data, str):
        try:
            doc = _load(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            _fail_json("text encodable as UTF-8", f"{exc.reason} at offset {exc.start}")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        doc = _load(bytes(data))
    else:
        raise MalformedBundle(member=None, expected="bytes, str or a JSON object", found=_type_name(data))
    if not isinstance(doc, dict):
        raise WrongBundleType(member=None, expected="a JSON object", found=_type_name(doc))
    if "v" not in doc:
        raise MissingBundleMember(member="v", expected="the member", found="none")
    version = _int(doc["v"], "v")
    if version != BUNDLE_VERSION:
        raise UnsupportedBundleVersion(member="v", expected=str(BUNDLE_VERSION), found=str(version))
    kind = doc.get("type")
    if kind == "certificate":
        top = _object(doc, "", (*_TOP, "certificate", "accreditation", "status", "anchor"))
    elif kind == "review":
        top = _object(doc, "", (*_TOP, "review", "inclusionProof", "checkpoint", "anchor"), optional=("takedown",))
    else:
        found = _show(kind) if isinstance(kind, str) else _type_name(kind)
        raise UnsupportedBundleVersion(member="type", expected='"certificate" or "review"', found=found)
    chain_id = _decimal(top["chainId"], "chainId", _UINT256_MAX)
    if chain_id == 0:
        raise BundleValueOutOfRange(member="chainId", expected="a chain id >= 1", found="0")
    contracts_obj = _object(top["contracts"], "contracts", CONTRACT_NAMES)
    contracts = {name: _address(contracts_obj[name], f"contracts.{name}") for name in CONTRACT_NAMES}
    anchor = _anchor_from(top["anchor"])
    if kind == "certificate":
        c = _object(top["certificate"], "certificate", _CERTIFICATE_MEMBERS)
        record_kind = _int(c["kind"], "certificate.kind")
        if record_kind > 2:
            raise BundleValueOutOfRange(member="certificate.kind", expected="0, 1 or 2", found=str(record_kind))
        certificate = Certificate(
            product_id=_hex(c["productId"], "certificate.productId", 32), lot=_hex(c["lot"], "certificate.lot", 32),
            merchant=_address(c["merchant"], "certificate.merchant"),
            issuer=_address(c["issuer"], "certificate.issuer"), kind=record_kind,
            document_hash=_hex(c["documentHash"], "certificate.documentHash", 32),
            standard=_hex(c["standard"], "certificate.standard", 32),
            issued_at=_int(c["issuedAt"], "certificate.issuedAt", _UINT40_MAX),
            valid_until=_int(c["validUntil"], "certificate.validUntil", _UINT40_MAX))
        acc = _object(top["accreditation"], "accreditation",
                      ("issuerId", "validFrom", "validUntil", "compromisedAt", "suspended", "standardInScope"))
        st = _object(top["status"], "status", ("status", "issuerAccreditedAtIssue", "blockNumber", "blockHash", "time"))
        status_name = st["status"]
        if not isinstance(status_name, str):
            raise WrongBundleType(member="status.status", expected="a string", found=_type_name(status_name))
        if status_name not in _STATUS_NAMES:
            raise BundleValueOutOfRange(member="status.status", expected=" or ".join(_STATUS_NAMES),
                                        found=_show(status_name))
        return CertificateBundle(
            chain_id=chain_id, contracts=contracts, certificate_id=_hex(c["id"], "certificate.id", 32),
            certificate=certificate, anchored_by=_address(c["anchoredBy"], "certificate.anchoredBy"), anchor=anchor,
            accreditation=AccreditationAtIssue(
                issuer_id=_int(acc["issuerId"], "accreditation.issuerId", 2**32 - 1),
                valid_from=_int(acc["validFrom"], "accreditation.validFrom", _UINT40_MAX),
                valid_until=_int(acc["validUntil"], "accreditation.validUntil", _UINT40_MAX),
                compromised_at=_int(acc["compromisedAt"], "accreditation.compromisedAt", _UINT40_MAX),
                suspended=_bool(acc["suspended"], "accreditation.suspended"),
                standard_in_scope=_bool(acc["standardInScope"], "accreditation.standardInScope")),
            status=StatusAtExport(_STATUS_NAMES[status_name],
                                  _bool(st["issuerAccreditedAtIssue"], "status.issuerAccreditedAtIssue"),
                                  _int(st["blockNumber"], "status.blockNumber"),
                                  _hex(st["blockHash"], "status.blockHash", 32),
                                  _int(st["time"], "status.time", _UINT40_MAX)))
    r = _object(top["review"], "review", ("leafIndex", "leaf", "leafHash"))
    cp = _object(top["checkpoint"], "checkpoint", ("index", "size", "root", "timestamp"))
    proof = _list(top["inclusionProof"], "inclusionProof", MAX_PROOF_HASHES)
    checkpoint = CheckpointRef(
        index=_decimal(cp["index"], "checkpoint.index", _UINT256_MAX),
        size=_decimal(cp["size"], "checkpoint.size", _UINT64_MAX),
        root=_hex(cp["root"], "checkpoint.root", 32),
        timestamp=_int(cp["timestamp"], "checkpoint.timestamp", _UINT40_MAX),
        evidence=Evidence("CheckpointAnchored", Web3.to_checksum_address(contracts["ReviewLog"]),
                          anchor.transaction_hash, anchor.block_number, anchor.block_timestamp, anchor.log_index))
    takedown: TakedownAtExport | None = None
    if "takedown" in top:
        t = _object(top["takedown"], "takedown",
                    ("state", "hiddenAt", "lapseAt", "reasonCode", "disputeId", "blockNumber"))
        state = t["state"]
        if not isinstance(state, str):
            raise WrongBundleType(member="takedown.state", expected="a string", found=_type_name(state))
        if state not in TAKEDOWN_STATES.values():
            raise BundleValueOutOfRange(member="takedown.state", expected=" or ".join(TAKEDOWN_STATES.values()),
                                        found=_show(state))
        takedown = TakedownAtExport(
            state, _int(t["hiddenAt"], "takedown.hiddenAt", _UINT40_MAX), _int(t["lapseAt"], "takedown.lapseAt", _UINT40_MAX),
            _hex(t["reasonCode"], "takedown.reasonCode", 32), _hex(t["disputeId"], "takedown.disputeId", 32),
            _int(t["blockNumber"], "takedown.blockNumber"))
    return ReviewBundle(
        chain_id=chain_id, contracts=contracts,
        leaf_index=_decimal(r["leafIndex"], "review.leafIndex", _UINT64_MAX),
        leaf=_hex(r["leaf"], "review.leaf", limit=8192), leaf_hash=_hex(r["leafHash"], "review.leafHash", 32),
        inclusion_proof=tuple(_hex(p, f"inclusionProof[{i}]", 32) for i, p in enumerate(proof)),
        checkpoint=checkpoint, anchor=anchor, takedown=takedown)


# --- verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleVerification:
    """The result of :func:`verify_bundle`.

    ``verdict``: VALID when every check passed and the record is in good standing (a certificate valid — now
    when checked against the chain, else at export —, a review included); INVALID with the reasons otherwise;
    UNKNOWN when the offline checks passed but the chain could not be asked (``chain.unreachable``).
    """

    kind: str
    subject: bytes
    """The certificate id, or the review's leaf hash."""
    verdict: Verdict
    reasons: tuple[Reason, ...]
    online: bool
    """Whether the chain was consulted."""
    status_now: CertificateStatus | None
    """A certificate's status at the chain's latest block (None offline and for reviews)."""
    evidence: Evidence

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)


class _Checks:
    def __init__(self) -> None:
        self.failures: list[Reason] = []
        self.notes: list[Reason] = []

    def fail(self, code: ReasonCode, message: str) -> None:
        self.failures.append(Reason(code, message))


def _word(value: int | bytes) -> bytes:
    return value.to_bytes(32, "big") if isinstance(value, int) else bytes(12) + value if len(value) == 20 else value


def _compare_log(checks: _Checks, anchor: Anchor, expected_topics: Sequence[tuple[str, bytes]],
                 expected_data: Sequence[tuple[str, bytes]]) -> None:
    """The anchoring log must be exactly the event the record implies; name the first field that differs."""
    log = anchor.log
    if len(log.topics) != len(expected_topics):
        checks.fail(ReasonCode.BUNDLE_ANCHOR_MISMATCH,
                    f"anchor.log.topics: expected {len(expected_topics)} topics, found {len(log.topics)}")
        return
    for i, ((name, want), got) in enumerate(zip(expected_topics, log.topics, strict=True)):
        if want != got:
            checks.fail(ReasonCode.BUNDLE_ANCHOR_MISMATCH,
                        f"anchor.log.topics[{i}] ({name}): expected 0x{want.hex()}, found 0x{got.hex()}")
    data = b"".join(w for _, w in expected_data)
    if log.data != data:
        if len(log.data) != len(data):
            checks.fail(ReasonCode.BUNDLE_ANCHOR_MISMATCH,
                        f"anchor.log.data: expected {len(data)} bytes, found {len(log.data)}")
            return
        for i, (name, want) in enumerate(expected_data):
            got = log.data[32 * i: 32 * i + 32]
            if got != want:
                checks.fail(ReasonCode.BUNDLE_ANCHOR_MISMATCH,
                            f"anchor.log.data word {i} ({name}): expected 0x{want.hex()}, found 0x{got.hex()}")


def _offline_certificate(b: CertificateBundle, checks: _Checks) -> None:
    c, acc, st, t = b.certificate, b.accreditation, b.status, b.anchor.block_timestamp
    computed = certificate_id(c)
    if computed != b.certificate_id:
        checks.fail(ReasonCode.CERTIFICATE_ID_MISMATCH,
                    f"certificate.id: expected the record's hash 0x{computed.hex()}, found 0x{b.certificate_id.hex()}")
    if b.anchor.log.address != b.contracts["CertificateRegistry"]:
        checks.fail(ReasonCode.BUNDLE_ANCHOR_WRONG_CONTRACT,
                    f"anchor.log.address: expected the CertificateRegistry {b.contracts['CertificateRegistry']}, "
                    f"found {b.anchor.log.address}")
    if b.anchor.log.topics[0] != _CERTIFICATE_ISSUED:
        checks.fail(ReasonCode.BUNDLE_ANCHOR_WRONG_EVENT,
                    f"anchor.log.topics[0]: expected CertificateIssued 0x{_CERTIFICATE_ISSUED.hex()}, "
                    f"found 0x{b.anchor.log.topics[0].hex()}")
    else:
        merchant, issuer = bytes.fromhex(c.merchant[2:]), bytes.fromhex(c.issuer[2:])
        _compare_log(checks, b.anchor,
                     [("event", _CERTIFICATE_ISSUED), ("id", b.certificate_id), ("productId", c.product_id),
                      ("merchant", _word(merchant))],
                     [("issuer", _word(issuer)), ("lot", c.lot), ("kind", _word(c.kind)),
                      ("documentHash", c.document_hash), ("standard", c.standard), ("issuedAt", _word(c.issued_at)),
                      ("validUntil", _word(c.valid_until)),
                      ("anchoredBy", _word(bytes.fromhex(b.anchored_by[2:])))])
    # what the registry enforced when it recorded the certificate in that block
    if not (c.issued_at <= t and c.valid_until > c.issued_at and c.valid_until >= t):
        checks.fail(ReasonCode.BUNDLE_RECORD_INCONSISTENT,
                    f"certificate: expected issuedAt <= block time {t} <= validUntil and issuedAt < validUntil, "
                    f"found issuedAt {c.issued_at}, validUntil {c.valid_until}")
    problems = []
    if acc.issuer_id == 0:
        problems.append("issuerId 0 (never accredited)")
    if acc.suspended:
        problems.append("suspended")
    if acc.compromised_at != 0:
        problems.append(f"compromisedAt {acc.compromised_at}")
    if not acc.standard_in_scope:
        problems.append("standard out of scope")
    if not acc.valid_from <= t <= acc.valid_until:
        problems.append(f"window [{acc.valid_from}, {acc.valid_until}] not covering block time {t}")
    if c.issued_at < acc.valid_from:
        problems.append(f"issuedAt {c.issued_at} before validFrom {acc.valid_from}")
    if problems:
        checks.fail(ReasonCode.BUNDLE_ACCREDITATION_INCONSISTENT,
                    "accreditation: expected the issuer accredited for the standard when the registry recorded "
                    f"the certificate, found {', '.join(problems)}")
    expected = _implied_status(c, st)
    if st.time < t or st.block_number < b.anchor.block_number or st.status not in expected or st.issuer_accredited_at_issue != (
            st.status is not CertificateStatus.COMPROMISED):
        checks.fail(ReasonCode.BUNDLE_STATUS_INCONSISTENT,
                    f"status: expected one of {sorted(s.name.lower() for s in expected)} at block >= "
                    f"{b.anchor.block_number}, time >= {t}, with "
                    f"issuerAccreditedAtIssue {st.status is not CertificateStatus.COMPROMISED}, found "
                    f"{st.status.name.lower()} at {st.time} with {st.issuer_accredited_at_issue}")


def _implied_status(c: Certificate, st: StatusAtExport) -> set[CertificateStatus]:
    """The statuses the record allows at ``st.time`` (revocation, supersession and compromise are always
    possible; the rest follow from kind and validity)."""
    S = CertificateStatus
    allowed = {S.REVOKED, S.SUPERSEDED, S.COMPROMISED}
    if c.kind == 2:
        allowed.add(S.FAILED)
    elif st.time > c.valid_until:
        allowed.add(S.EXPIRED)
    else:
        allowed.add(S.VALID)
    return allowed


def _offline_review(b: ReviewBundle, checks: _Checks) -> None:
    try:
        parse_review_leaf(b.leaf)
    except InvalidInput as exc:
        checks.fail(ReasonCode.REVIEW_LEAF_MALFORMED, f"review.leaf: {exc}")
    computed = merkle.leaf_hash(b.leaf)
    if computed != b.leaf_hash:
        checks.fail(ReasonCode.REVIEW_LEAF_HASH_MISMATCH,
                    f"review.leafHash: expected SHA-256(0x00 || leaf) 0x{computed.hex()}, found 0x{b.leaf_hash.hex()}")
    cp = b.checkpoint
    if b.leaf_index >= cp.size:
        checks.fail(ReasonCode.REVIEW_INDEX_OUT_OF_RANGE,
                    f"review.leafIndex: expected < checkpoint size {cp.size}, found {b.leaf_index}")
    else:
        try:
            merkle.verify_inclusion(b.leaf_index, cp.size, b.leaf_hash, list(b.inclusion_proof), cp.root)
        except (RootMismatch, InvalidProof, InvalidInput) as exc:
            checks.fail(ReasonCode.REVIEW_INCLUSION_FAILED, f"inclusionProof: {exc}")
    if b.anchor.log.address != b.contracts["ReviewLog"]:
        checks.fail(ReasonCode.BUNDLE_ANCHOR_WRONG_CONTRACT,
                    f"anchor.log.address: expected the ReviewLog {b.contracts['ReviewLog']}, "
                    f"found {b.anchor.log.address}")
    if b.anchor.log.topics[0] != _CHECKPOINT_ANCHORED:
        checks.fail(ReasonCode.BUNDLE_ANCHOR_WRONG_EVENT,
                    f"anchor.log.topics[0]: expected CheckpointAnchored 0x{_CHECKPOINT_ANCHORED.hex()}, "
                    f"found 0x{b.anchor.log.topics[0].hex()}")
    else:
        _compare_log(checks, b.anchor,
                     [("event", _CHECKPOINT_ANCHORED), ("index", _word(cp.index)), ("root", cp.root)],
                     [("size", _word(cp.size)), ("timestamp", _word(cp.timestamp))])
    if cp.timestamp != b.anchor.block_timestamp:
        checks.fail(ReasonCode.BUNDLE_ANCHOR_MISMATCH,
                    f"checkpoint.timestamp: expected the anchoring block's time {b.anchor.block_timestamp}, "
                    f"found {cp.timestamp}")
    t = b.takedown
    if t is not None:
        problems = []
        if t.hidden_at == 0:
            problems.append("hiddenAt 0")
        if t.state == "emergencyHidden" and (t.dispute_id != bytes(32) or t.lapse_at <= t.hidden_at):
            problems.append(f"an emergency hide with disputeId 0x{t.dispute_id.hex()} and lapseAt {t.lapse_at}")
        if t.state in ("takenDown", "restored") and t.dispute_id == bytes(32):
            problems.append(f"{t.state} by no ruling (disputeId 0)")
        if t.block_number < b.anchor.block_number:
            problems.append(f"blockNumber {t.block_number} before the anchoring block {b.anchor.block_number}")
        if problems:
            checks.fail(ReasonCode.BUNDLE_TAKEDOWN_INCONSISTENT,
                        "takedown: expected a hide (disputeId 0, lapseAt after hiddenAt) or a ruling's takedown or "
                        f"restoration (its disputeId), hidden at a time, at or after the anchoring block; found "
                        f"{', '.join(problems)}")


def _trusted(b: Bundle, trusted: Manifest, checks: _Checks) -> None:
    if b.chain_id != trusted.chain_id:
        checks.fail(ReasonCode.BUNDLE_UNTRUSTED_CHAIN,
                    f"chainId: expected the trusted chain {trusted.chain_id}, found {b.chain_id}")
    for name in CONTRACT_NAMES:
        want = trusted.address(name).lower()
        if b.contracts[name] != want:
            checks.fail(ReasonCode.BUNDLE_UNTRUSTED_CONTRACT,
                        f"contracts.{name}: expected the trusted {want}, found {b.contracts[name]}")


def _online(b: Bundle, w3: Web3, checks: _Checks) -> CertificateStatus | None:
    """The checks against the chain; returns a certificate's status now. Provider failures propagate."""
    chain_id = int(w3.eth.chain_id)
    if chain_id != b.chain_id:
        checks.fail(ReasonCode.CHAIN_ID_MISMATCH, f"chainId: expected {b.chain_id}, the node serves {chain_id}")
        return None
    before = len(checks.failures)
    for name in CONTRACT_NAMES:
        address = Web3.to_checksum_address(b.contracts[name])
        code = bytes(w3.eth.get_code(address))
        if not code:
            checks.fail(ReasonCode.CHAIN_NO_CODE, f"contracts.{name}: expected code at {address}, found none")
        elif masked_code_hash(load(name), code) != shipped_code_hash(name):
            checks.fail(ReasonCode.CHAIN_CODE_MISMATCH,
                        f"contracts.{name}: expected the {name} code shipped with ledger at {address}, found other code")
    if len(checks.failures) > before:  # not the shipped contracts: their views and logs mean nothing
        return None
    a = b.anchor
    try:
        receipt = w3.eth.get_transaction_receipt(a.transaction_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        checks.fail(ReasonCode.CHAIN_TX_NOT_FOUND,
                    f"anchor.transactionHash: expected a mined transaction 0x{a.transaction_hash.hex()}, found none")
        receipt = None
    if receipt is not None:
        if int(receipt["status"]) != 1:
            checks.fail(ReasonCode.CHAIN_TX_FAILED, "anchor.transactionHash: expected a successful transaction, "
                        "found a reverted one")
        found = (int(receipt["blockNumber"]), bytes(receipt["blockHash"]), int(receipt["transactionIndex"]))
        if found != (a.block_number, a.block_hash, a.transaction_index):
            checks.fail(ReasonCode.CHAIN_BLOCK_MISMATCH,
                        f"anchor: expected the transaction in block {a.block_number} 0x{a.block_hash.hex()} at "
                        f"position {a.transaction_index}, found block {found[0]} 0x{found[1].hex()} at {found[2]}")
        logs = [log for log in receipt["logs"] if int(log["logIndex"]) == a.log_index]
        if not logs:
            checks.fail(ReasonCode.CHAIN_LOG_MISMATCH,
                        f"anchor.logIndex: expected log {a.log_index} in the transaction, found none")
        else:
            log = logs[0]
            found_log = AnchorLog(str(log["address"]).lower(), tuple(bytes(t) for t in log["topics"]),
                                  bytes(log["data"]))
            if found_log != a.log:
                checks.fail(ReasonCode.CHAIN_LOG_MISMATCH,
                            f"anchor.log: expected the chain's log {a.log_index} of the transaction to be the "
                            f"bundle's, found address {found_log.address}, "
                            f"topics {['0x' + t.hex() for t in found_log.topics]}, data 0x{found_log.data.hex()}")
    block = _block(w3, a.block_number)
    anchor_block_ok = block == (a.block_hash, a.block_timestamp)
    if not anchor_block_ok:
        checks.fail(ReasonCode.CHAIN_BLOCK_MISMATCH,
                    f"anchor: expected block {a.block_number} to be 0x{a.block_hash.hex()} at {a.block_timestamp}, "
                    f"found {_show_block(block)}")
    if isinstance(b, ReviewBundle):
        log_fn = w3.eth.contract(address=Web3.to_checksum_address(b.contracts["ReviewLog"]),
                                 abi=load("ReviewLog").abi).functions
        cp = b.checkpoint
        try:
            known = bool(log_fn.isCheckpoint(cp.index, cp.size, cp.root).call())
            answer = "says it is not"
        except Exception as exc:
            if not _is_revert(exc):
                raise
            known, answer = False, "has no such checkpoint"  # ReviewLogUnknownCheckpoint
        if not known:
            checks.fail(ReasonCode.CHAIN_NOT_A_CHECKPOINT,
                        f"checkpoint: expected checkpoint {cp.index} to be (size {cp.size}, root 0x{cp.root.hex()}), "
                        f"the ReviewLog {answer}")
        elif b.leaf_index < cp.size and not any(
                r.code is ReasonCode.REVIEW_INCLUSION_FAILED for r in checks.failures):
            ok = log_fn.verifyInclusion(cp.index, cp.size, cp.root, b.leaf_index, b.leaf_hash,
                                        list(b.inclusion_proof)).call()
            if not ok:
                checks.fail(ReasonCode.CHAIN_INCLUSION_REFUSED,
                            "inclusionProof: the ReviewLog's verifyInclusion refused the proof")
        if b.takedown is not None:
            t = b.takedown
            disputes = w3.eth.contract(address=Web3.to_checksum_address(b.contracts["DisputeRegistry"]),
                                       abi=load("DisputeRegistry").abi).functions
            raw = disputes.takedown(b.leaf_index).call(block_identifier=t.block_number)
            state = TAKEDOWN_STATES.get(int(raw[0]), "none")
            hidden_at, lapse_at, reason_code, dispute_id = int(raw[1]), int(raw[2]), bytes(raw[3]), bytes(raw[4])
            if (state, hidden_at, lapse_at, reason_code, dispute_id) != (
                    t.state, t.hidden_at, t.lapse_at, t.reason_code, t.dispute_id):
                checks.fail(ReasonCode.CHAIN_TAKEDOWN_MISMATCH,
                            f"takedown: expected DisputeRegistry.takedown({b.leaf_index}) at block {t.block_number} "
                            f"to be {t.to_json()}, the registry says state {state}, hiddenAt {hidden_at}, lapseAt "
                            f"{lapse_at}, reasonCode 0x{reason_code.hex()}, disputeId 0x{dispute_id.hex()}")
        return None
    registry = w3.eth.contract(address=Web3.to_checksum_address(b.contracts["CertificateRegistry"]),
                               abi=load("CertificateRegistry").abi).functions
    governance = w3.eth.contract(address=Web3.to_checksum_address(b.contracts["TrustGovernance"]),
                                 abi=load("TrustGovernance").abi).functions
    st = b.status
    status_block = _block(w3, st.block_number)
    if status_block != (st.block_hash, st.time):
        checks.fail(ReasonCode.CHAIN_STATUS_MISMATCH,
                    f"status: expected block {st.block_number} to be 0x{st.block_hash.hex()} at {st.time}, found "
                    f"{_show_block(status_block)}")
    else:
        found_status = registry.status(b.certificate_id).call(block_identifier=st.block_number)
        found_pair = (CertificateStatus(int(found_status[0])), bool(found_status[1]))
        if found_pair != (st.status, st.issuer_accredited_at_issue):
            checks.fail(ReasonCode.CHAIN_STATUS_MISMATCH,
                        f"status: expected {st.status.name.lower()} (issuer accredited "
                        f"{st.issuer_accredited_at_issue}) at block {st.block_number}, the registry said "
                        f"{found_pair[0].name.lower()} ({found_pair[1]})")
    issuer = Web3.to_checksum_address(b.certificate.issuer)
    if not anchor_block_ok:  # the anchoring block is not the chain's: no state to read the accreditation at
        return CertificateStatus(int(registry.status(b.certificate_id).call()[0]))
    acc = governance.accreditation(issuer).call(block_identifier=a.block_number)
    in_scope = governance.isInScope(issuer, b.certificate.standard).call(block_identifier=a.block_number)
    found_acc = AccreditationAtIssue(int(acc[0]), int(acc[1]), int(acc[2]), int(acc[3]), bool(acc[4]),
                                     bool(in_scope))
    if found_acc != b.accreditation:
        checks.fail(ReasonCode.CHAIN_ACCREDITATION_MISMATCH,
                    f"accreditation: expected {b.accreditation.to_json()} at block {a.block_number}, the governance "
                    f"says {found_acc.to_json()}")
    now = registry.status(b.certificate_id).call()
    return CertificateStatus(int(now[0]))


def _is_revert(exc: BaseException) -> bool:
    """Whether ``exc`` is a contract call that reverted (web3's error, or eth-tester's in-process one)."""
    return isinstance(exc, ContractLogicError) or (
        type(exc).__name__ == "TransactionFailed" and type(exc).__module__.startswith("eth_tester"))


def _block(w3: Web3, number: int) -> tuple[bytes, int] | None:
    """(hash, timestamp) of block ``number``, or None when the chain has no such block."""
    try:
        block = w3.eth.get_block(number)
    except BlockNotFound:
        return None
    return bytes(block["hash"]), int(block["timestamp"])


def _show_block(block: tuple[bytes, int] | None) -> str:
    return "no such block" if block is None else f"0x{block[0].hex()} at {block[1]}"


def _takedown_reason(leaf_index: int, t: TakedownAtExport) -> Reason:
    """What became of an included review's content, as the bundle reports it (not a failure)."""
    if t.state == "takenDown":
        return Reason(ReasonCode.REVIEW_TAKEN_DOWN,
                      f"leaf {leaf_index} was taken down by the final ruling of dispute 0x{t.dispute_id.hex()} (hidden "
                      f"since {t.hidden_at}): its content is removed, the leaf stays in the log as a tombstone")
    if t.state == "emergencyHidden":
        return Reason(ReasonCode.REVIEW_EMERGENCY_HIDDEN,
                      f"leaf {leaf_index} was hidden by the operator at {t.hidden_at} (reason 0x{t.reason_code.hex()}); "
                      f"the hide lapses at {t.lapse_at} unless a ruling confirms it")
    return Reason(ReasonCode.REVIEW_RESTORED,
                  f"leaf {leaf_index} was hidden at {t.hidden_at} and restored by the ruling of dispute "
                  f"0x{t.dispute_id.hex()}")


def verify_bundle(bundle: Bundle | bytes | bytearray | memoryview | str | Mapping[str, object],
                  rpc_url: str | None = None, *, w3: Web3 | None = None,
                  trusted: Manifest | None = None) -> BundleVerification:
    """Verify a proof bundle: offline always, and against the chain when given ``rpc_url`` or ``w3``.

    Offline: the record hashes to its id (certificate) or leaf hash (review, whose leaf must also parse
    strictly); the inclusion proof reproduces the checkpoint root; the anchoring log is exactly the event the
    record implies, emitted by the bundle's own contract; the accreditation, validity and status agree with the
    anchoring block's time; with ``trusted`` (the deployment you trust, e.g. from the published manifest), the
    chain id and contract addresses are that deployment's.

    Online: the node serves the bundle's chain; the shipped contracts' code is at every address; the anchoring
    transaction succeeded in the stated block and position and carries the stated log; the block hash and time
    are the chain's; ``isCheckpoint`` and ``verifyInclusion`` (review); ``statusAt`` at export time, the
    accreditation at the anchoring block, and the status now (certificate).

    A bundle that does not parse raises :class:`InvalidBundle` (see :func:`parse_bundle`); everything else is
    reported in the result, never raised.
    """
    b = bundle if isinstance(bundle, CertificateBundle | ReviewBundle) else parse_bundle(bundle)
    checks = _Checks()
    if trusted is not None:
        _trusted(b, trusted, checks)
    if isinstance(b, CertificateBundle):
        _offline_certificate(b, checks)
        subject = b.certificate_id
        event = "CertificateIssued"
        contract = b.contracts["CertificateRegistry"]
    else:
        _offline_review(b, checks)
        subject = b.leaf_hash
        event = "CheckpointAnchored"
        contract = b.contracts["ReviewLog"]
    if w3 is None and rpc_url is not None:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    online = w3 is not None
    status_now: CertificateStatus | None = None
    unreachable: Reason | None = None
    if w3 is not None:
        try:
            status_now = _online(b, w3, checks)
        except Exception as exc:  # noqa: BLE001 - any provider failure means the chain could not be asked
            if _is_revert(exc):
                checks.fail(ReasonCode.CHAIN_CODE_MISMATCH, f"a contract view reverted: {exc}")
            else:
                unreachable = Reason(ReasonCode.CHAIN_UNREACHABLE,
                                     f"the chain did not answer: {type(exc).__name__}: {exc}")
    reasons = list(checks.failures)
    a = b.anchor
    evidence = Evidence(event, Web3.to_checksum_address(contract), a.transaction_hash, a.block_number,
                        a.block_timestamp, a.log_index)
    if reasons:
        verdict = Verdict.INVALID
        if unreachable is not None:
            reasons.append(unreachable)
    elif unreachable is not None:
        reasons.append(unreachable)
        verdict = Verdict.UNKNOWN
    elif isinstance(b, CertificateBundle):
        status = status_now if status_now is not None else b.status.status
        at = None if status_now is not None else b.status.time
        reasons.append(status_reason(status, b.certificate, at))
        verdict = Verdict.VALID if status is CertificateStatus.VALID else Verdict.INVALID
    else:
        reasons.append(Reason(ReasonCode.REVIEW_INCLUDED,
                              f"leaf {b.leaf_index} is in checkpoint {b.checkpoint.index} (size {b.checkpoint.size}) "
                              f"anchored at {b.checkpoint.timestamp}"))
        if b.takedown is not None:
            reasons.append(_takedown_reason(b.leaf_index, b.takedown))
        verdict = Verdict.VALID
    return BundleVerification(b.kind, subject, verdict, tuple(reasons), online, status_now, evidence)
