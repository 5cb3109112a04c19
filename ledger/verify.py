"""Verification of certificates, reviews and the review log, with structured results.

Each function returns a frozen result: a :class:`Verdict`, the :class:`Reason` objects that led to it (a stable
:class:`ReasonCode` plus a human message saying what was expected and what was found), and the on-chain
:class:`Evidence` it rests on (transaction hash, block number and time, contract address, log index).

Two sources, chosen with ``source=``:

* :attr:`Source.INDEX` (default): the SQL index of :class:`~ledger.indexer.Indexer` — fast, but only as current
  and as honest as the index;
* :attr:`Source.CHAIN`: the contracts themselves over ``w3`` — views (``status``, ``statusAt``,
  ``isCheckpoint``, ``verifyInclusion``) and event logs read from the manifest's deploy block.

Both give the same verdict for the same chain (``tests/chain/test_verify.py`` checks it).

* :func:`verify_certificate`: the certificate's status (valid / revoked / expired / superseded / failed /
  compromised / unknown) now or at a given time, whether its issuer was accredited at issue, and the
  issuance, revocation and supersession events; with a record, also that the record hashes to the id.
* :func:`verify_review`: a review leaf's inclusion in an anchored checkpoint (RFC 9162 inclusion proof), or
  that it is not anchored yet.
* :func:`verify_log`: the anchored checkpoints form one growing history, and the leaves a store holds
  reproduce every anchored root.

The seam for what comes next (the product record, the merchant trust profile): they compose these functions
over a product's certificates and reviews and reuse :class:`Reason`, :class:`Evidence` and :class:`Verdict`.
Proof bundles (:mod:`ledger.bundle`) reuse the same result types.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from eth_utils.crypto import keccak
from web3 import Web3
from web3.types import FilterParams

from . import merkle
from .deploy import contract_at
from .eip712 import Certificate, certificate_id
from .errors import InvalidInput, InvalidProof, RootMismatch
from .indexer import CertificateRecord, CertificateStatus, Indexer, IndexView
from .manifest import Manifest
from .reviews import ReviewLeaf, parse_review_leaf

__all__ = [
    "CertificateVerification",
    "CheckpointRef",
    "Evidence",
    "LeafList",
    "LeafStore",
    "LogVerification",
    "Reason",
    "ReasonCode",
    "ReviewVerification",
    "Source",
    "Verdict",
    "verify_certificate",
    "verify_indexed_certificate",
    "verify_log",
    "verify_review",
]


# --- result types -----------------------------------------------------------------------------------------


class Verdict(StrEnum):
    """The outcome of a verification."""

    VALID = "valid"
    """Verified, and in good standing (a valid certificate, an anchored review, a consistent log)."""
    INVALID = "invalid"
    """Verified to be bad: revoked, expired, tampered, not reproduced, refused by the chain. See the reasons."""
    PENDING = "pending"
    """Well formed, but not anchored yet (a review awaiting its checkpoint)."""
    UNKNOWN = "unknown"
    """No such record, or it could not be checked (the chain did not answer). See the reasons."""


class Source(StrEnum):
    """Where a verification reads the chain's state."""

    INDEX = "index"
    CHAIN = "chain"


class ReasonCode(StrEnum):
    """Stable codes of every reason a verification gives. Values never change meaning; new ones may be added."""

    # certificates (verify_certificate, and bundles checked against the chain)
    CERTIFICATE_VALID = "certificate.valid"
    CERTIFICATE_UNKNOWN = "certificate.unknown"
    CERTIFICATE_REVOKED = "certificate.revoked"
    CERTIFICATE_EXPIRED = "certificate.expired"
    CERTIFICATE_SUPERSEDED = "certificate.superseded"
    CERTIFICATE_FAILED = "certificate.failed"
    CERTIFICATE_COMPROMISED = "certificate.compromised"
    CERTIFICATE_ISSUER_NOT_ACCREDITED = "certificate.issuer-not-accredited"
    CERTIFICATE_ID_MISMATCH = "certificate.id-mismatch"
    # reviews
    REVIEW_INCLUDED = "review.included"
    REVIEW_NOT_ANCHORED = "review.not-anchored"
    REVIEW_UNKNOWN = "review.unknown"
    REVIEW_LEAF_MISMATCH = "review.leaf-mismatch"
    REVIEW_LEAF_MALFORMED = "review.leaf-malformed"
    REVIEW_LEAF_HASH_MISMATCH = "review.leaf-hash-mismatch"
    REVIEW_INDEX_OUT_OF_RANGE = "review.index-out-of-range"
    REVIEW_INCLUSION_FAILED = "review.inclusion-failed"
    REVIEW_PROOF_UNAVAILABLE = "review.proof-unavailable"
    REVIEW_TAKEN_DOWN = "review.taken-down"
    """Not a failure: the review is in the log, and a final ruling removed its content (a public tombstone)."""
    REVIEW_EMERGENCY_HIDDEN = "review.emergency-hidden"
    """Not a failure: the review is in the log, and the operator hid its content pending a ruling."""
    REVIEW_RESTORED = "review.restored"
    """Not a failure: the review was hidden or taken down, and a later ruling restored it."""
    # the log
    LOG_CONSISTENT = "log.consistent"
    LOG_ROOT_MISMATCH = "log.root-mismatch"
    LOG_LEAVES_MISSING = "log.leaves-missing"
    LOG_LEAF_HASH_CORRUPT = "log.leaf-hash-corrupt"
    LOG_LEAF_MALFORMED = "log.leaf-malformed"
    LOG_INCONSISTENT = "log.inconsistent"
    LOG_CHECKPOINTS_OUT_OF_ORDER = "log.checkpoints-out-of-order"
    # the chain
    CHAIN_NOT_A_CHECKPOINT = "chain.not-a-checkpoint"
    CHAIN_INCLUSION_REFUSED = "chain.inclusion-refused"
    CHAIN_UNREACHABLE = "chain.unreachable"
    CHAIN_ID_MISMATCH = "chain.chain-id-mismatch"
    CHAIN_NO_CODE = "chain.no-code"
    CHAIN_CODE_MISMATCH = "chain.code-mismatch"
    CHAIN_TX_NOT_FOUND = "chain.tx-not-found"
    CHAIN_TX_FAILED = "chain.tx-failed"
    CHAIN_BLOCK_MISMATCH = "chain.block-mismatch"
    CHAIN_LOG_MISMATCH = "chain.log-mismatch"
    CHAIN_STATUS_MISMATCH = "chain.status-mismatch"
    CHAIN_ACCREDITATION_MISMATCH = "chain.accreditation-mismatch"
    CHAIN_TAKEDOWN_MISMATCH = "chain.takedown-mismatch"
    # proof bundles (ledger.bundle), checked offline
    BUNDLE_UNTRUSTED_CHAIN = "bundle.untrusted-chain"
    BUNDLE_UNTRUSTED_CONTRACT = "bundle.untrusted-contract"
    BUNDLE_ANCHOR_WRONG_CONTRACT = "bundle.anchor-wrong-contract"
    BUNDLE_ANCHOR_WRONG_EVENT = "bundle.anchor-wrong-event"
    BUNDLE_ANCHOR_MISMATCH = "bundle.anchor-mismatch"
    BUNDLE_RECORD_INCONSISTENT = "bundle.record-inconsistent"
    BUNDLE_ACCREDITATION_INCONSISTENT = "bundle.accreditation-inconsistent"
    BUNDLE_STATUS_INCONSISTENT = "bundle.status-inconsistent"
    BUNDLE_TAKEDOWN_INCONSISTENT = "bundle.takedown-inconsistent"


@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is: a stable ``code`` and a message saying what was expected and what was found."""

    code: ReasonCode
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Evidence:
    """One on-chain fact a verification rests on: the event, where and when it was emitted."""

    event: str
    contract: str
    """Checksummed address of the contract that emitted ``event``."""
    tx_hash: bytes
    block_number: int
    block_time: int
    log_index: int | None = None


@dataclass(frozen=True)
class CheckpointRef:
    """An anchored checkpoint of the review log: ``root`` is the RFC 6962 root of the first ``size`` leaves."""

    index: int
    size: int
    root: bytes
    timestamp: int
    evidence: Evidence


@dataclass(frozen=True)
class CertificateVerification:
    """The result of :func:`verify_certificate`."""

    certificate_id: bytes
    verdict: Verdict
    status: CertificateStatus
    issuer_accredited_at_issue: bool
    at: int | None
    """The time the status is for (unix seconds); None for "now" as the chain's latest block saw it."""
    reasons: tuple[Reason, ...]
    evidence: tuple[Evidence, ...]
    """CertificateIssued first, then CertificateRevoked / CertificateSuperseded, in chain order."""
    certificate: Certificate | None
    """The record, as its CertificateIssued event carries it (None when unknown)."""
    superseded_by: bytes | None
    source: Source

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class ReviewVerification:
    """The result of :func:`verify_review`."""

    leaf_index: int | None
    leaf_hash: bytes | None
    leaf: ReviewLeaf | None
    verdict: Verdict
    reasons: tuple[Reason, ...]
    checkpoint: CheckpointRef | None
    """The checkpoint the review was checked against (None when none covers it yet)."""
    proof: tuple[bytes, ...]
    evidence: tuple[Evidence, ...]
    source: Source

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class LogVerification:
    """The result of :func:`verify_log`."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    checkpoints: tuple[CheckpointRef, ...]
    leaves_held: int
    source: Source

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)


# --- leaf stores ------------------------------------------------------------------------------------------


class LeafStore(Protocol):
    """What the review verifications read from a log's leaves (:class:`~ledger.reviewlog.ReviewLogService`,
    an auditor's mirror, or :class:`LeafList`)."""

    @property
    def size(self) -> int: ...

    def leaves(self, start: int, end: int) -> list[bytes]: ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]: ...


class LeafList:
    """A :class:`LeafStore` over leaf bytes held in memory (an auditor's mirror, a test)."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._leaves = [bytes(b) for b in leaves]
        self._tree = merkle.MerkleTree(merkle.leaf_hash(b) for b in self._leaves)

    @property
    def size(self) -> int:
        return len(self._leaves)

    def append(self, leaf: bytes) -> int:
        self._leaves.append(bytes(leaf))
        return self._tree.append(merkle.leaf_hash(leaf))

    def leaves(self, start: int, end: int) -> list[bytes]:
        return self._leaves[start:end]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return [self._tree.leaf_hash(i) for i in range(start, end)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._tree.inclusion_proof(index, size)


# --- reading the chain --------------------------------------------------------------------------------------


def _event_topic(contract: str, event: str) -> bytes:
    from .artifacts import load

    for item in load(contract).abi:
        if item.get("type") == "event" and item.get("name") == event:
            types = ",".join(_canonical(p) for p in item["inputs"])
            return keccak(text=f"{event}({types})")
    raise KeyError(f"{contract} has no event {event}")


def _canonical(param: Any) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


class _Chain:
    """Contract views and event logs of one deployment, with block times cached."""

    def __init__(self, w3: Web3, manifest: Manifest) -> None:
        self.w3 = w3
        self.manifest = manifest
        self._times: dict[int, int] = {}

    def contract(self, name: str) -> Any:
        return contract_at(self.w3, name, self.manifest.address(name))

    def block_time(self, number: int) -> int:
        if number not in self._times:
            self._times[number] = int(self.w3.eth.get_block(number)["timestamp"])
        return self._times[number]

    def logs(self, name: str, event: str, *topics: bytes | None) -> list[tuple[Evidence, dict[str, Any]]]:
        contract = self.contract(name)
        params: FilterParams = {
            "address": contract.address,
            "fromBlock": self.manifest.deploy_block,
            "toBlock": "latest",
            "topics": [_event_topic(name, event), *(None if t is None else t for t in topics)],  # type: ignore[list-item]
        }
        out = []
        for log in self.w3.eth.get_logs(params):
            decoded = getattr(contract.events, event)().process_log(log)
            number = int(log["blockNumber"])
            out.append((Evidence(event, contract.address, bytes(log["transactionHash"]), number,
                                 self.block_time(number), int(log["logIndex"])), dict(decoded["args"])))
        return out

    def checkpoints(self) -> list[CheckpointRef]:
        return [CheckpointRef(int(a["index"]), int(a["size"]), bytes(a["root"]), int(a["timestamp"]), ev)
                for ev, a in self.logs("ReviewLog", "CheckpointAnchored")]


def _index_checkpoints(indexer: Indexer | IndexView) -> list[CheckpointRef]:
    address = indexer.manifest.address("ReviewLog")
    return [CheckpointRef(c.index, c.size, c.root, c.anchored_at,
                          Evidence("CheckpointAnchored", address, c.tx_hash, c.block_number, c.anchored_at))
            for c in indexer.checkpoints()]


def _checkpoints(source: Source, indexer: Indexer | None, chain: _Chain | None) -> list[CheckpointRef]:
    if source is Source.CHAIN:
        assert chain is not None
        return chain.checkpoints()
    assert indexer is not None
    return _index_checkpoints(indexer)


def _sources(source: Source, indexer: Indexer | None, w3: Web3 | None,
             manifest: Manifest | None) -> tuple[Indexer | None, _Chain | None]:
    source = Source(source)
    if source is Source.INDEX:
        if indexer is None:
            raise InvalidInput("source=index needs an indexer")
        return indexer, None
    if w3 is None:
        raise InvalidInput("source=chain needs w3")
    manifest = manifest or (indexer.manifest if indexer is not None else None)
    if manifest is None:
        raise InvalidInput("source=chain needs a manifest (or an indexer to take it from)")
    return indexer, _Chain(w3, manifest)


# --- certificates -----------------------------------------------------------------------------------------

_STATUS_REASON = {
    CertificateStatus.UNKNOWN: ReasonCode.CERTIFICATE_UNKNOWN,
    CertificateStatus.VALID: ReasonCode.CERTIFICATE_VALID,
    CertificateStatus.REVOKED: ReasonCode.CERTIFICATE_REVOKED,
    CertificateStatus.EXPIRED: ReasonCode.CERTIFICATE_EXPIRED,
    CertificateStatus.SUPERSEDED: ReasonCode.CERTIFICATE_SUPERSEDED,
    CertificateStatus.FAILED: ReasonCode.CERTIFICATE_FAILED,
    CertificateStatus.COMPROMISED: ReasonCode.CERTIFICATE_COMPROMISED,
}


def status_reason(status: CertificateStatus, certificate: Certificate | None, at: int | None,
                  superseded_by: bytes | None = None) -> Reason:
    """The reason that states ``status`` in words (shared with :mod:`ledger.bundle`)."""
    when = "now" if at is None else f"at {at}"
    if status is CertificateStatus.VALID:
        until = f" until {certificate.valid_until}" if certificate is not None else ""
        return Reason(ReasonCode.CERTIFICATE_VALID, f"valid {when}{until}")
    if status is CertificateStatus.UNKNOWN:
        return Reason(ReasonCode.CERTIFICATE_UNKNOWN, f"no certificate with this id is anchored {when}")
    if status is CertificateStatus.EXPIRED and certificate is not None:
        return Reason(ReasonCode.CERTIFICATE_EXPIRED,
                      f"expected valid, found expired: validUntil {certificate.valid_until} is before {when}")
    if status is CertificateStatus.SUPERSEDED and superseded_by is not None:
        return Reason(ReasonCode.CERTIFICATE_SUPERSEDED,
                      f"expected valid, found superseded by 0x{superseded_by.hex()} {when}")
    return Reason(_STATUS_REASON[status], f"expected valid, found {status.name.lower()} {when}")


def _certificate_from_args(a: dict[str, Any]) -> Certificate:
    return Certificate(product_id=bytes(a["productId"]), lot=bytes(a["lot"]), merchant=str(a["merchant"]),
                       issuer=str(a["issuer"]), kind=int(a["kind"]), document_hash=bytes(a["documentHash"]),
                       standard=bytes(a["standard"]), issued_at=int(a["issuedAt"]),
                       valid_until=int(a["validUntil"]))


def _certificate_from_record(r: CertificateRecord) -> Certificate:
    return Certificate(product_id=r.product_id, lot=r.lot, merchant=r.merchant, issuer=r.issuer, kind=r.kind,
                       document_hash=r.document_hash, standard=r.standard, issued_at=r.issued_at,
                       valid_until=r.valid_until)


def verify_certificate(certificate_id_: bytes, *, source: Source = Source.INDEX, indexer: Indexer | None = None,
                       w3: Web3 | None = None, manifest: Manifest | None = None, at: int | None = None,
                       record: Certificate | None = None) -> CertificateVerification:
    """Verify certificate ``certificate_id_``: its status, its issuer's accreditation at issue, its events.

    ``at``: the time (unix seconds) to judge the status at ("was it valid when I bought it?"), with today's
    knowledge of key compromises; default now as the source knows it — the latest block's time on the chain, or
    in index mode the time of the last indexed block (the wall clock only while no block is indexed): a status
    "now" from the index is never judged past what the index has seen.
    ``record``: a record the caller holds; it must hash to the id (:attr:`ReasonCode.CERTIFICATE_ID_MISMATCH`).

    Requires ``indexer`` for ``source=index``; ``w3`` and a manifest (or the indexer's) for ``source=chain``.
    """
    cid = bytes(certificate_id_)
    if len(cid) != 32:
        raise InvalidInput(f"certificate id must be 32 bytes, found {len(cid)}")
    source = Source(source)
    index, chain = _sources(source, indexer, w3, manifest)
    evidence: list[Evidence] = []
    certificate: Certificate | None = None
    superseded_by: bytes | None = None
    if chain is not None:
        registry = chain.contract("CertificateRegistry")
        if at is None:
            raw_status, accredited = registry.functions.status(cid).call()
        else:
            raw_status, accredited = registry.functions.statusAt(cid, at).call()
        status = CertificateStatus(int(raw_status))
        issued = chain.logs("CertificateRegistry", "CertificateIssued", cid)
        if issued:
            certificate = _certificate_from_args(issued[0][1])
            evidence.append(issued[0][0])
            events = [*chain.logs("CertificateRegistry", "CertificateRevoked", cid),
                      *chain.logs("CertificateRegistry", "CertificateSuperseded", cid)]
            for ev, args in sorted(events, key=lambda e: (e[0].block_number, e[0].log_index or 0)):
                evidence.append(ev)
                if ev.event == "CertificateSuperseded":
                    superseded_by = bytes(args["replacementId"])
    else:
        assert index is not None
        when = at
        if when is None:  # now as the index knows it: its last block's time (the wall clock before any block)
            indexed = index.position().block_time
            when = indexed if indexed is not None else int(time.time())
        return verify_indexed_certificate(cid, index.certificate(cid), at=at, when=when, manifest=index.manifest,
                                          record=record)
    return _certificate_verification(cid, status, bool(accredited), certificate, superseded_by, evidence, at, record,
                                     source)


def verify_indexed_certificate(certificate_id_: bytes, found: CertificateRecord | None, *, at: int | None,
                               manifest: Manifest, when: int | None = None,
                               record: Certificate | None = None) -> CertificateVerification:
    """:func:`verify_certificate` in index mode over a record already read (``found``: what
    ``Indexer.certificate(certificate_id_)`` returns, None for no such certificate). ``at``: as there;
    ``when``: the time ``at=None`` stands for (default the wall clock)."""
    cid = bytes(certificate_id_)
    evidence: list[Evidence] = []
    certificate: Certificate | None = None
    superseded_by: bytes | None = None
    if when is None:
        when = int(time.time()) if at is None else at
    if found is None:
        status, accredited = CertificateStatus.UNKNOWN, False
    else:
        status, accredited = found.status_at(when)
        certificate = _certificate_from_record(found)
        superseded_by = found.superseded_by
        address = manifest.address("CertificateRegistry")
        for h in found.history:
            if h.event == "CertificateSuperseded" and bytes.fromhex(str(h.args["id"])[2:]) != cid:
                continue  # the event that made this certificate the replacement of another
            evidence.append(Evidence(h.event, address, h.tx_hash, h.block_number, h.block_time, h.log_index))
    return _certificate_verification(cid, status, accredited, certificate, superseded_by, evidence, at, record,
                                     Source.INDEX)


def _certificate_verification(cid: bytes, status: CertificateStatus, accredited: bool,
                              certificate: Certificate | None, superseded_by: bytes | None,
                              evidence: list[Evidence], at: int | None, record: Certificate | None,
                              source: Source) -> CertificateVerification:
    reasons: list[Reason] = []
    if status is not CertificateStatus.VALID or accredited or certificate is None:
        reasons.append(status_reason(status, certificate, at, superseded_by))
    if certificate is not None and not accredited and status is not CertificateStatus.COMPROMISED:
        reasons.append(Reason(ReasonCode.CERTIFICATE_ISSUER_NOT_ACCREDITED,
                              f"expected issuer {certificate.issuer} accredited at issue, found it was not"))
    if record is not None:
        computed = certificate_id(record)
        if computed != cid:
            reasons.append(Reason(ReasonCode.CERTIFICATE_ID_MISMATCH,
                                  f"expected the record to hash to 0x{cid.hex()}, calculated 0x{computed.hex()}"))
    if status is CertificateStatus.UNKNOWN:
        verdict = Verdict.UNKNOWN
    elif status is CertificateStatus.VALID and accredited and all(
            r.code is ReasonCode.CERTIFICATE_VALID for r in reasons):
        verdict = Verdict.VALID
    else:
        verdict = Verdict.INVALID
    if verdict is Verdict.UNKNOWN and record is not None and any(
            r.code is ReasonCode.CERTIFICATE_ID_MISMATCH for r in reasons):
        verdict = Verdict.INVALID
    return CertificateVerification(cid, verdict, status, bool(accredited), at, tuple(reasons), tuple(evidence),
                                   certificate, superseded_by, source)


# --- reviews ----------------------------------------------------------------------------------------------


def verify_review(leaf: ReviewLeaf | bytes | int, *, source: Source = Source.INDEX, store: LeafStore | None = None,
                  leaf_index: int | None = None, proof: Sequence[bytes] | None = None,
                  checkpoint_index: int | None = None, indexer: Indexer | None = None, w3: Web3 | None = None,
                  manifest: Manifest | None = None) -> ReviewVerification:
    """Verify that a review leaf is in the log, by an inclusion proof against an anchored checkpoint.

    ``leaf``: a :class:`ReviewLeaf`, its canonical bytes (parsed strictly), or its index in ``store``.
    ``leaf_index``: where the leaf claims to be (found in ``store`` by its hash when not given).
    ``proof``: an inclusion proof the caller holds; otherwise it comes from ``store``.
    ``checkpoint_index``: the checkpoint to check against; default the first one that covers the leaf (whose
    time is when the review was anchored).

    Verdicts: VALID (included), PENDING (no anchored checkpoint covers the index yet), INVALID (the proof does
    not reproduce the checkpoint's root: the leaf is not what the log holds there; or the chain refuses),
    UNKNOWN (no such leaf in the store). In chain mode the checkpoint is also checked with ``isCheckpoint``
    and the inclusion with the contract's own ``verifyInclusion``.
    """
    source = Source(source)
    index, chain = _sources(source, indexer, w3, manifest)
    reasons: list[Reason] = []

    def result(verdict: Verdict, *, cp: CheckpointRef | None = None, path: Sequence[bytes] = (),
               evidence: Sequence[Evidence] = ()) -> ReviewVerification:
        return ReviewVerification(leaf_index, leaf_hash, parsed, verdict, tuple(reasons), cp, tuple(path),
                                  tuple(evidence), source)

    parsed: ReviewLeaf | None = None
    leaf_hash: bytes | None = None
    if isinstance(leaf, int) and not isinstance(leaf, bool):
        if store is None:
            raise InvalidInput("a leaf given by index needs a store")
        leaf_index = leaf
        if not 0 <= leaf < store.size:
            reasons.append(Reason(ReasonCode.REVIEW_UNKNOWN,
                                  f"expected a leaf at index {leaf}, found a log of {store.size} leaves"))
            return result(Verdict.UNKNOWN)
        raw = store.leaves(leaf, leaf + 1)[0]
    elif isinstance(leaf, ReviewLeaf):
        raw = leaf.canonical_bytes()
    elif isinstance(leaf, (bytes, bytearray, memoryview)):
        raw = bytes(leaf)
    else:
        raise InvalidInput(f"leaf must be a ReviewLeaf, bytes or an index, found {type(leaf).__name__}")
    leaf_hash = merkle.leaf_hash(raw)
    try:
        parsed = parse_review_leaf(raw)
    except InvalidInput as exc:
        reasons.append(Reason(ReasonCode.REVIEW_LEAF_MALFORMED, str(exc)))
        return result(Verdict.INVALID)

    if leaf_index is None:
        if store is None:
            raise InvalidInput("a leaf without its index needs a store to find it in")
        hashes = store.leaf_hashes(0, store.size)
        try:
            leaf_index = hashes.index(leaf_hash)
        except ValueError:
            reasons.append(Reason(ReasonCode.REVIEW_UNKNOWN,
                                  f"expected leaf 0x{leaf_hash.hex()} in the log, found it in none of its "
                                  f"{len(hashes)} leaves"))
            return result(Verdict.UNKNOWN)
    if leaf_index < 0:
        raise InvalidInput(f"leaf_index must be >= 0, found {leaf_index}")
    if store is not None and leaf_index < store.size:
        held = store.leaf_hashes(leaf_index, leaf_index + 1)[0]
        if held != leaf_hash:
            reasons.append(Reason(ReasonCode.REVIEW_LEAF_MISMATCH,
                                  f"expected leaf {leaf_index} to be 0x{leaf_hash.hex()}, the store holds "
                                  f"0x{held.hex()}"))

    checkpoints = _checkpoints(source, index, chain)
    covering = [c for c in checkpoints if c.size > leaf_index]
    if checkpoint_index is not None:
        covering = [c for c in covering if c.index == checkpoint_index]
    if not covering:
        reasons.append(Reason(ReasonCode.REVIEW_NOT_ANCHORED,
                              f"expected a checkpoint of size > {leaf_index}, found "
                              + (f"sizes up to {checkpoints[-1].size}" if checkpoints else "no checkpoint")))
        return result(Verdict.PENDING)
    cp = covering[0]
    if proof is None:
        if store is None or store.size < cp.size:
            reasons.append(Reason(ReasonCode.REVIEW_PROOF_UNAVAILABLE,
                                  f"expected a store of >= {cp.size} leaves to prove inclusion in checkpoint "
                                  f"{cp.index}, found " + ("none" if store is None else f"{store.size}")))
            return result(Verdict.UNKNOWN, cp=cp, evidence=[cp.evidence])
        proof = store.inclusion_proof(leaf_index, cp.size)
    path = [bytes(p) for p in proof]
    try:
        merkle.verify_inclusion(leaf_index, cp.size, leaf_hash, path, cp.root)
        ok = True
    except (RootMismatch, InvalidProof, InvalidInput) as exc:
        ok = False
        reasons.append(Reason(ReasonCode.REVIEW_INCLUSION_FAILED,
                              f"leaf 0x{leaf_hash.hex()} at index {leaf_index} against checkpoint {cp.index} "
                              f"(size {cp.size}): {exc}"))
    if chain is not None:
        log = chain.contract("ReviewLog").functions
        if not log.isCheckpoint(cp.index, cp.size, cp.root).call():
            reasons.append(Reason(ReasonCode.CHAIN_NOT_A_CHECKPOINT,
                                  f"expected checkpoint {cp.index} to be (size {cp.size}, root 0x{cp.root.hex()}), "
                                  "the ReviewLog says it is not"))
            ok = False
        elif ok and not log.verifyInclusion(cp.index, cp.size, cp.root, leaf_index, leaf_hash, path).call():
            reasons.append(Reason(ReasonCode.CHAIN_INCLUSION_REFUSED,
                                  "the ReviewLog's verifyInclusion refused a proof the local verifier accepted"))
            ok = False
    if ok and not any(r.code is ReasonCode.REVIEW_LEAF_MISMATCH for r in reasons):
        reasons.append(Reason(ReasonCode.REVIEW_INCLUDED,
                              f"leaf {leaf_index} is in checkpoint {cp.index} (size {cp.size}) anchored at "
                              f"{cp.timestamp}"))
        return result(Verdict.VALID, cp=cp, path=path, evidence=[cp.evidence])
    return result(Verdict.INVALID, cp=cp, path=path, evidence=[cp.evidence])


# --- the log ----------------------------------------------------------------------------------------------

_CHUNK = 10_000


def verify_log(store: LeafStore, *, source: Source = Source.INDEX, indexer: Indexer | None = None,
               w3: Web3 | None = None, manifest: Manifest | None = None,
               parse_leaves: bool = True) -> LogVerification:
    """Verify the anchored checkpoints against each other and against the leaves ``store`` holds.

    Checks, each failure a named reason: checkpoint indexes run 0, 1, 2, … and sizes grow
    (``log.checkpoints-out-of-order``); in chain mode each (index, size, root) is the chain's own
    (``chain.not-a-checkpoint``); every leaf parses (``log.leaf-malformed``, with ``parse_leaves``) and the
    store's leaf hashes are the hashes of its leaf bytes (``log.leaf-hash-corrupt``); the tree of the held leaf
    bytes reproduces every anchored root (``log.root-mismatch``; ``log.leaves-missing`` when the store is
    shorter than a checkpoint); and each checkpoint is consistent with the one before by an RFC 9162
    consistency proof over those leaves (``log.inconsistent``).
    """
    source = Source(source)
    index, chain = _sources(source, indexer, w3, manifest)
    reasons: list[Reason] = []
    checkpoints = _checkpoints(source, index, chain)
    size = store.size
    tree = merkle.MerkleTree()
    for start in range(0, size, _CHUNK):
        end = min(size, start + _CHUNK)
        raw = store.leaves(start, end)
        computed = [merkle.leaf_hash(b) for b in raw]
        held = store.leaf_hashes(start, end)
        for i, (c, h) in enumerate(zip(computed, held, strict=True)):
            if c != h:
                reasons.append(Reason(ReasonCode.LOG_LEAF_HASH_CORRUPT,
                                      f"leaf {start + i}: its bytes hash to 0x{c.hex()}, the store holds "
                                      f"0x{h.hex()}"))
        if parse_leaves:
            for i, b in enumerate(raw):
                try:
                    parse_review_leaf(b)
                except InvalidInput as exc:
                    reasons.append(Reason(ReasonCode.LOG_LEAF_MALFORMED, f"leaf {start + i}: {exc}"))
        tree.extend(computed)
    previous: CheckpointRef | None = None
    for position, cp in enumerate(checkpoints):
        if cp.index != position or (previous is not None and cp.size <= previous.size):
            reasons.append(Reason(ReasonCode.LOG_CHECKPOINTS_OUT_OF_ORDER,
                                  f"expected checkpoint {position} growing from size "
                                  f"{previous.size if previous else 0}, found checkpoint {cp.index} of size "
                                  f"{cp.size}"))
        if chain is not None and not chain.contract("ReviewLog").functions.isCheckpoint(
                cp.index, cp.size, cp.root).call():
            reasons.append(Reason(ReasonCode.CHAIN_NOT_A_CHECKPOINT,
                                  f"expected checkpoint {cp.index} to be (size {cp.size}, root 0x{cp.root.hex()}), "
                                  "the ReviewLog says it is not"))
        if cp.size > size:
            reasons.append(Reason(ReasonCode.LOG_LEAVES_MISSING,
                                  f"checkpoint {cp.index} covers {cp.size} leaves, the store holds only {size}"))
        else:
            calculated = tree.root(cp.size)
            if calculated != cp.root:
                reasons.append(Reason(ReasonCode.LOG_ROOT_MISMATCH,
                                      f"checkpoint {cp.index} (size {cp.size}): expected root 0x{cp.root.hex()}, "
                                      f"the held leaves give 0x{calculated.hex()}"))
            if previous is not None and previous.size <= cp.size:
                try:
                    merkle.verify_consistency(previous.size, cp.size, previous.root, cp.root,
                                              tree.consistency_proof(previous.size, cp.size))
                except (RootMismatch, InvalidProof, InvalidInput) as exc:
                    reasons.append(Reason(ReasonCode.LOG_INCONSISTENT,
                                          f"checkpoint {cp.index} (size {cp.size}) against checkpoint "
                                          f"{previous.index} (size {previous.size}): {exc}"))
        previous = cp
    if reasons:
        verdict = Verdict.INVALID
    else:
        verdict = Verdict.VALID
        reasons.append(Reason(ReasonCode.LOG_CONSISTENT,
                              f"{len(checkpoints)} checkpoints, each extending the one before; the {size} leaves "
                              "held reproduce every anchored root"))
    return LogVerification(verdict, tuple(reasons), tuple(checkpoints), size, source)
