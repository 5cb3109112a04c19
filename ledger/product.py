"""The product record: what a consumer can check about one product, from chain-anchored data only.

:func:`product_record` composes :mod:`ledger.verify` and :mod:`ledger.trust` over one product id and returns a
:class:`ProductRecord` (docs/product-record.md):

* every certificate recorded for the product, with its status at ``as_of`` and (given ``purchased_at``) at the
  purchase, its issuer and the issuer's accreditation as of the anchoring block, and the on-chain evidence
  (:func:`ledger.verify.verify_certificate`);
* statistics over the product's review leaves that verify against an anchored checkpoint: the count per star,
  the mean as an exact fraction, how many were left out and why, how many wait for the next checkpoint, and the
  takedowns as tombstones;
* the disputes about the product (purchase disputes naming it, challenges of its reviews) and where each stood;
* the trust profile (:func:`ledger.trust.trust_profile`) of each merchant selling it.

Everything counted happened at or before ``as_of`` (blocks' times; checkpoints: their anchoring time), so a
record is reproducible for any past moment. ``source=Source.CHAIN`` re-reads the certificates (found by their
``CertificateIssued`` logs, statuses by ``statusAt``, accreditations at the anchoring block) and the
checkpoints (their ``CheckpointAnchored`` logs, the one verified against confirmed by ``isCheckpoint``) from the
contracts; disputes, takedowns and trust profiles come from the index in both modes. For the same chain the two
modes give the same record but for :attr:`ProductRecord.source` (``tests/chain/test_product.py`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from hashlib import sha256
from typing import Any

from web3 import Web3

from . import merkle
from .bundle import AccreditationAtIssue
from .eip712 import Certificate
from .errors import InvalidInput
from .indexer import CertificateRecord, CertificateStatus, DisputeRecord, HistoryEntry, Indexer, IndexView
from .reviews import parse_review_leaf
from .tally import ReviewTally
from .trust import (
    IndexedLeafStore,
    Leaves,
    ReadOnce,
    TrustProfile,
    canonical_json,
    checksum_address,
    leaf_store,
    proved_leaves,
    remedy_track,
    trust_profile,
)
from .verify import (
    CertificateVerification,
    CheckpointRef,
    Evidence,
    Reason,
    ReasonCode,
    Source,
    Verdict,
    _Chain,
    _index_checkpoints,
    verify_certificate,
    verify_indexed_certificate,
)

__all__ = [
    "DISPUTE_KINDS",
    "OUTCOMES",
    "ProductCertificate",
    "ProductDispute",
    "ProductRecord",
    "ProductReviews",
    "Tombstone",
    "product_record",
]

RECORD_VERSION = 1

OUTCOMES: Mapping[int, str] = {1: "refund", 2: "replacement", 3: "partialRefund", 4: "rejected",
                               5: "reviewRemoved", 6: "reviewUpheld"}
"""``IDisputeRegistry.Outcome`` by value, as the record spells them."""

DISPUTE_KINDS: Mapping[int, str] = {0: "purchase", 1: "reviewChallenge"}

_GOVERNANCE_ISSUER_EVENTS = ("IssuerAccredited", "IssuerScopeSet", "IssuerSuspended", "IssuerRestored",
                             "IssuerKeyCompromised")


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _fraction(x: Fraction | None) -> str | None:
    return None if x is None else f"{x.numerator}/{x.denominator}"


def _evidence_json(e: Evidence) -> dict[str, Any]:
    return {"event": e.event, "contract": e.contract, "tx": _hex(e.tx_hash), "block": e.block_number,
            "time": e.block_time, "logIndex": e.log_index}


def _reasons_json(reasons: Iterable[Reason]) -> list[dict[str, str]]:
    return [{"code": str(r.code), "message": r.message} for r in reasons]


# --- result types -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductCertificate:
    """One certificate of the product: its verification at ``as_of`` and at the purchase, and its issuer's
    accreditation as of the block that anchored it (None: the issuer was not accredited then)."""

    certificate_id: bytes
    certificate: Certificate
    now: CertificateVerification
    at_purchase: CertificateVerification | None
    accreditation: AccreditationAtIssue | None

    @property
    def status(self) -> CertificateStatus:
        return self.now.status

    @property
    def verdict(self) -> Verdict:
        return self.now.verdict

    def to_json(self) -> dict[str, Any]:
        c = self.certificate

        def verification(v: CertificateVerification) -> dict[str, Any]:
            return {"at": v.at, "verdict": str(v.verdict), "status": v.status.name.lower(),
                    "issuerAccreditedAtIssue": v.issuer_accredited_at_issue, "reasons": _reasons_json(v.reasons)}

        return {
            "id": _hex(self.certificate_id), "lot": _hex(c.lot), "merchant": checksum_address(c.merchant),
            "issuer": checksum_address(c.issuer), "kind": c.kind, "documentHash": _hex(c.document_hash),
            "standard": _hex(c.standard), "issuedAt": c.issued_at, "validUntil": c.valid_until,
            "now": verification(self.now),
            "atPurchase": None if self.at_purchase is None else verification(self.at_purchase),
            "accreditationAtIssue": None if self.accreditation is None else self.accreditation.to_json(),
            "supersededBy": None if self.now.superseded_by is None else _hex(self.now.superseded_by),
            "evidence": [_evidence_json(e) for e in self.now.evidence],
        }


@dataclass(frozen=True)
class Tombstone:
    """A review of the product taken down by a final ruling: what remains public of it."""

    leaf_index: int
    dispute_id: bytes
    block_time: int
    block_number: int
    tx_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {"leafIndex": self.leaf_index, "disputeId": _hex(self.dispute_id), "time": self.block_time,
                "block": self.block_number, "tx": _hex(self.tx_hash)}


@dataclass(frozen=True)
class ProductReviews:
    """The product's review leaves among those given, and which of them count.

    A leaf counts when it lies within ``verified_size``, the largest checkpoint anchored by ``as_of`` whose
    root the given leaves reproduce (the same rule as the trust profile's). Left out: ``pending`` (at or past
    the latest anchored checkpoint: waiting for the next one), ``root_mismatch`` (covered by an anchored
    checkpoint the given leaves do not reproduce: a tampered or missing leaf at or before it),
    ``duplicate_purchase`` (a second leaf for a purchase already reviewed), ``taken_down`` (removed by a final
    ruling; listed in ``tombstones``), ``malformed`` (names the product but the strict parser rejects it).
    """

    leaves_given: int
    leaves_of_product: int
    anchored_size: int
    verified_size: int
    checkpoint: CheckpointRef | None
    """The checkpoint the counted leaves were verified against (None: none reproduced)."""
    stars: tuple[int, int, int, int, int]
    pending: int
    root_mismatch: int
    duplicate_purchase: int
    taken_down: int
    malformed: int
    tombstones: tuple[Tombstone, ...]
    reasons: tuple[Reason, ...] = ()
    """Problems with the checkpoints themselves (chain mode: a checkpoint the ReviewLog does not confirm)."""

    @property
    def counted(self) -> int:
        return sum(self.stars)

    @property
    def mean(self) -> Fraction | None:
        """The exact mean rating of the counted reviews (None when none counts)."""
        if not self.counted:
            return None
        return Fraction(sum(n * (i + 1) for i, n in enumerate(self.stars)), self.counted)

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "leavesGiven": self.leaves_given, "leavesOfProduct": self.leaves_of_product,
            "anchoredSize": self.anchored_size, "verifiedSize": self.verified_size,
            "checkpoint": None if cp is None else {
                "index": cp.index, "size": cp.size, "root": _hex(cp.root), "timestamp": cp.timestamp,
                "block": cp.evidence.block_number, "tx": _hex(cp.evidence.tx_hash)},
            "counted": self.counted, "stars": {str(i + 1): n for i, n in enumerate(self.stars)},
            "mean": _fraction(self.mean), "pending": self.pending,
            "excluded": {"rootMismatch": self.root_mismatch, "duplicatePurchase": self.duplicate_purchase,
                         "takenDown": self.taken_down, "malformed": self.malformed},
            "tombstones": [t.to_json() for t in self.tombstones],
            "reasons": _reasons_json(self.reasons),
        }


@dataclass(frozen=True)
class ProductDispute:
    """A dispute about the product as it stood at ``as_of``.

    ``ruling``: the latest ruling's outcome (first instance or appeal); ``outcome``: the final one. ``remedy``
    (purchase disputes whose final outcome orders one): ``due``, ``reported``, ``contested`` or ``fulfilled``
    (confirmed, deemed or ruled fulfilled).
    """

    dispute_id: bytes
    kind: str
    merchant: str
    leaf_index: int | None
    category: bytes
    opened_at: int
    responded: bool
    by_default: bool
    ruling: str | None
    outcome: str | None
    remedy: str | None
    history: tuple[HistoryEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": _hex(self.dispute_id), "kind": self.kind, "merchant": self.merchant,
                "leafIndex": self.leaf_index, "category": _hex(self.category), "openedAt": self.opened_at,
                "responded": self.responded, "byDefault": self.by_default, "ruling": self.ruling,
                "outcome": self.outcome, "remedy": self.remedy,
                "history": [{"event": h.event, "time": h.block_time, "block": h.block_number,
                             "logIndex": h.log_index, "tx": _hex(h.tx_hash)} for h in self.history]}


@dataclass(frozen=True)
class ProductRecord:
    """A consumer's record of one product. :meth:`to_json` is canonical and stable."""

    product_id: bytes
    chain_id: int
    as_of: int
    purchased_at: int | None
    certificates: tuple[ProductCertificate, ...]
    reviews: ProductReviews
    disputes: tuple[ProductDispute, ...]
    merchants: tuple[TrustProfile, ...]
    """The trust profile of each merchant selling the product (named by a certificate, a purchase dispute or
    a counted review), by address."""
    source: Source

    def as_json(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for c in self.certificates:
            by_status[c.status.name.lower()] = by_status.get(c.status.name.lower(), 0) + 1
        return {
            "v": RECORD_VERSION, "productId": _hex(self.product_id), "chainId": self.chain_id, "asOf": self.as_of,
            "purchasedAt": self.purchased_at, "source": str(self.source),
            "certificates": [c.to_json() for c in self.certificates], "certificatesByStatus": by_status,
            "reviews": self.reviews.to_json(), "disputes": [d.to_json() for d in self.disputes],
            "merchants": [p.as_json() for p in self.merchants],
        }

    def to_json(self) -> str:
        """RFC 8785 canonical JSON (members sorted, no whitespace, integers and ASCII strings only): equal
        records give equal bytes."""
        return canonical_json(self.as_json())


# --- building it ------------------------------------------------------------------------------------------


def product_record(product_id: bytes, *, indexer: Indexer, leaves: Leaves, as_of: int | None = None,
                   source: Source = Source.INDEX, w3: Web3 | None = None, purchased_at: int | None = None,
                   profiles: Mapping[str, TrustProfile] | None = None, tally: ReviewTally | None = None,
                   ) -> ProductRecord:
    """The record of product ``product_id`` (32 bytes) as of unix time ``as_of``.

    ``indexer`` must have synced past ``as_of``. ``leaves``: the review log's entries from index 0 on, as
    canonical bytes (an auditor's mirror, or ``ReviewLogService.leaves(0, n)``), all hashed here and checked
    against the anchored checkpoints (O(n)); or an :class:`~ledger.trust.IndexedLeafStore` (the
    ``ReviewLogService`` itself), of which only the product's leaves (and the merchants' for their profiles)
    are read, each counted only when its inclusion proof verifies against the anchored checkpoint
    (O(k log n)). For an honest log the two give the same record. ``as_of``: default now as the source knows it:
    in index mode the time of the last indexed block (:attr:`~ledger.indexer.IndexPosition.block_time`; the wall
    clock only while no block is indexed), in chain mode the latest block's time (pass it when the two must
    agree). ``purchased_at``: also judge each certificate at that time.
    ``source=Source.CHAIN`` needs ``w3``. ``profiles``: trust profiles already computed (a cache keyed by
    checksummed merchant address); a merchant missing from it gets one computed as of ``as_of``. ``tally``: the
    store's :class:`~ledger.tally.ReviewTally`, which the profiles count the merchants' reviews from where it
    verified the checkpoint (index mode only; :func:`~ledger.trust.trust_profile`).
    """
    pid = bytes(product_id)
    if len(pid) != 32:
        raise InvalidInput(f"product id must be 32 bytes, found {len(pid)}")
    source = Source(source)
    chain: _Chain | None = None
    if source is Source.CHAIN:
        if w3 is None:
            raise InvalidInput("source=chain needs w3")
        chain = _Chain(w3, indexer.manifest)
    if as_of is not None and (not isinstance(as_of, int) or as_of < 0):
        raise InvalidInput(f"as_of must be unix seconds, not {as_of!r}")
    if purchased_at is not None and (not isinstance(purchased_at, int) or purchased_at < 0):
        raise InvalidInput(f"purchased_at must be unix seconds, not {purchased_at!r}")

    store = leaf_store(leaves)
    if store is not None:
        leaves = store = ReadOnce(store)
        mine = store.leaf_indices(product=pid)
    else:
        assert isinstance(leaves, Sequence)
        # The canonical leaf spells the product exactly so (reviews.py); a leaf that names it any other way is
        # not canonical and the strict parser would reject it, so it is no review of this product either.
        needle = b'"productId":"0x' + pid.hex().encode() + b'"'
        mine = [i for i, raw in enumerate(leaves) if needle in raw]
    # one snapshot of the index: its position, the product's certificates and disputes (with the challenges of
    # its leaves), and its certificates' and disputes' merchants' trust data, each unless memoized there already
    view = indexer.view(product=pid, review_leaves=mine)
    data = view.product(pid, mine)
    if chain is not None:
        tally = None  # source=chain re-checks every leaf against the checkpoints read from the contract
    if store is not None and tally is None:  # the product's leaves and its merchants' in one read of the store
        named = sorted({c.merchant for c in data.certificates} | {d.merchant for d in data.disputes if d.kind == 0})
        store.prefetch([*mine, *(i for m in named for i in store.leaf_indices(merchant=m))])
    elif store is not None:
        store.prefetch(mine)
    if as_of is None:
        if chain is not None:
            as_of = int(chain.w3.eth.get_block("latest")["timestamp"])
        else:  # what the index has seen: the last indexed block's time (the wall clock before any block)
            as_of = view.position.block_time if view.position.block_time is not None else int(time.time())
    reviews, counted_merchants = _reviews(pid, view, chain, leaves, mine, as_of)
    certificates = _certificates(pid, view, data.certificates, chain, source, as_of, purchased_at)
    disputes = _disputes(data.disputes, as_of)
    merchants = sorted({*(checksum_address(c.certificate.merchant) for c in certificates),
                        *(d.merchant for d in disputes if d.kind == "purchase"), *counted_merchants})
    cache = profiles or {}
    trust = tuple(cache.get(m) or trust_profile(m, indexer=view, leaves=leaves, as_of=as_of, tally=tally)
                  for m in merchants)
    return ProductRecord(product_id=pid, chain_id=indexer.manifest.chain_id, as_of=as_of, purchased_at=purchased_at,
                         certificates=certificates, reviews=reviews.result, disputes=disputes, merchants=trust,
                         source=source)


# --- certificates -----------------------------------------------------------------------------------------


def _certificates(pid: bytes, view: IndexView, records: Sequence[CertificateRecord], chain: _Chain | None,
                  source: Source, as_of: int, purchased_at: int | None) -> tuple[ProductCertificate, ...]:
    if chain is not None:
        found = [(ev.block_number, bytes(args["id"]))
                 for ev, args in chain.logs("CertificateRegistry", "CertificateIssued", None, pid)
                 if ev.block_time <= as_of]
        found.sort()  # the index's order: anchoring block, then id
        out = []
        for block, cid in found:
            kw: dict[str, Any] = {"source": source, "indexer": view.indexer, "w3": chain.w3}
            now = verify_certificate(cid, at=as_of, **kw)
            at_purchase = None if purchased_at is None else verify_certificate(cid, at=purchased_at, **kw)
            assert now.certificate is not None, "a certificate found anchored verifies as known"
            out.append(ProductCertificate(cid, now.certificate, now, at_purchase,
                                          _chain_accreditation(chain, now.certificate, block)))
        return tuple(out)
    anchored = [r for r in records if r.anchored_at <= as_of]  # in anchoring order: block, then id
    governance = [e for e in view.governance_events() if e.event in _GOVERNANCE_ISSUER_EVENTS] if anchored else []
    manifest = view.manifest
    out = []
    for r in anchored:
        now = verify_indexed_certificate(r.certificate_id, r, at=as_of, manifest=manifest)
        at_purchase = None if purchased_at is None else verify_indexed_certificate(
            r.certificate_id, r, at=purchased_at, manifest=manifest)
        assert now.certificate is not None, "a certificate found anchored verifies as known"
        out.append(ProductCertificate(r.certificate_id, now.certificate, now, at_purchase,
                                      _index_accreditation(governance, now.certificate, r.block_number)))
    return tuple(out)


def _index_accreditation(events: Sequence[HistoryEntry], c: Certificate, block: int) -> AccreditationAtIssue | None:
    """The issuer's accreditation as of ``block`` (every event of that block included), replayed from the
    governance events as ``TrustGovernance.accreditation`` and ``isInScope`` would report it there."""
    issuer = checksum_address(c.issuer)
    mine = sorted((e for e in events if e.block_number <= block and e.args.get("issuer") == issuer),
                  key=lambda e: (e.block_number, e.log_index))
    issuer_id, valid_from, valid_until, compromised_at, suspended = 0, 0, 0, 0, False
    scopes: set[str] = set()
    for e in mine:
        if e.event == "IssuerAccredited":
            issuer_id = issuer_id or int(e.args["issuerId"])
            valid_from, valid_until = int(e.args["validFrom"]), int(e.args["validUntil"])
        elif e.event == "IssuerScopeSet":
            (scopes.add if e.args["inScope"] else scopes.discard)(str(e.args["scope"]).lower())
        elif e.event == "IssuerSuspended":
            suspended = True
        elif e.event == "IssuerRestored":
            suspended = False
        elif e.event == "IssuerKeyCompromised":
            compromised_at = int(e.args["compromisedAt"])
    if issuer_id == 0:
        return None
    return AccreditationAtIssue(issuer_id, valid_from, valid_until, compromised_at, suspended,
                                _hex(c.standard) in scopes)


def _chain_accreditation(chain: _Chain, c: Certificate, block: int) -> AccreditationAtIssue | None:
    governance = chain.contract("TrustGovernance").functions
    issuer = Web3.to_checksum_address(c.issuer)
    acc = governance.accreditation(issuer).call(block_identifier=block)
    if int(acc[0]) == 0:
        return None
    in_scope = governance.isInScope(issuer, c.standard).call(block_identifier=block)
    return AccreditationAtIssue(int(acc[0]), int(acc[1]), int(acc[2]), int(acc[3]), bool(acc[4]), bool(in_scope))


# --- reviews ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reviews:
    result: ProductReviews
    leaf_indexes: tuple[int, ...]


def _reviews(pid: bytes, view: IndexView, chain: _Chain | None, leaves: Leaves, mine: list[int],
             as_of: int) -> tuple[_Reviews, set[str]]:
    """``mine``: the product's leaves (the store's ``leaf_indices``, or the leaves naming it in the sequence)."""
    checkpoints = [c for c in (chain.checkpoints() if chain is not None else _index_checkpoints(view))
                   if c.timestamp <= as_of]
    store = leaf_store(leaves)
    if store is not None:
        return _proved_reviews(pid, view, chain, store, mine, checkpoints, as_of)
    assert isinstance(leaves, Sequence)
    anchored_size = max((c.size for c in checkpoints), default=0)
    hashes = [merkle.leaf_hash(bytes(raw)) for raw in leaves[:anchored_size]]
    verified: CheckpointRef | None = None
    reasons: list[Reason] = []
    # the largest anchored checkpoint the given leaves reproduce (each checkpoint was proved consistent with
    # the one before when anchored, so every smaller one is reproduced too)
    for c in sorted(checkpoints, key=lambda c: (-c.size, c.index)):
        if c.size <= len(hashes) and _root(hashes[:c.size]) == c.root:
            verified = c
            break
    if verified is not None and chain is not None and not chain.contract("ReviewLog").functions.isCheckpoint(
            verified.index, verified.size, verified.root).call():
        reasons.append(Reason(ReasonCode.CHAIN_NOT_A_CHECKPOINT,
                              f"expected checkpoint {verified.index} to be (size {verified.size}, root "
                              f"0x{verified.root.hex()}), the ReviewLog says it is not"))
        verified = None
    verified_size = 0 if verified is None else verified.size
    taken_down = _takedowns(view, as_of)
    stars = [0, 0, 0, 0, 0]
    counts = dict.fromkeys(("pending", "mismatch", "duplicate", "taken_down", "malformed"), 0)
    purchases: set[bytes] = set()
    merchants: set[str] = set()
    tombstones: list[Tombstone] = []
    for index in mine:
        try:
            leaf = parse_review_leaf(bytes(leaves[index]))
        except InvalidInput:
            counts["malformed"] += 1
            continue
        if index in taken_down:
            tombstones.append(taken_down[index])
        if index >= anchored_size:
            counts["pending"] += 1
        elif index >= verified_size:
            counts["mismatch"] += 1
        elif leaf.purchase in purchases:
            counts["duplicate"] += 1
        else:
            purchases.add(leaf.purchase)
            if index in taken_down:
                counts["taken_down"] += 1
            else:
                stars[leaf.rating - 1] += 1
                merchants.add(checksum_address(leaf.merchant))
    result = ProductReviews(
        leaves_given=len(leaves), leaves_of_product=len(mine), anchored_size=anchored_size,
        verified_size=verified_size, checkpoint=verified, stars=(stars[0], stars[1], stars[2], stars[3], stars[4]),
        pending=counts["pending"], root_mismatch=counts["mismatch"], duplicate_purchase=counts["duplicate"],
        taken_down=counts["taken_down"], malformed=counts["malformed"], tombstones=tuple(tombstones),
        reasons=tuple(reasons))
    return _Reviews(result, tuple(mine)), merchants


def _proved_reviews(pid: bytes, view: IndexView, chain: _Chain | None, store: IndexedLeafStore, mine: list[int],
                    checkpoints: list[CheckpointRef], as_of: int) -> tuple[_Reviews, set[str]]:
    """The indexed path: only the product's leaves (``store.leaf_indices``), each proved by its inclusion proof
    against the checkpoint verified against; the buckets and their order are the full-sequence path's. A leaf
    whose bytes do not prove is in ``root_mismatch`` and named in ``reasons`` (``review.inclusion-failed``)."""
    anchored_size, verified, found = proved_leaves(store, mine, checkpoints)
    reasons: list[Reason] = []
    if verified is not None and chain is not None and not chain.contract("ReviewLog").functions.isCheckpoint(
            verified.index, verified.size, verified.root).call():
        reasons.append(Reason(ReasonCode.CHAIN_NOT_A_CHECKPOINT,
                              f"expected checkpoint {verified.index} to be (size {verified.size}, root "
                              f"0x{verified.root.hex()}), the ReviewLog says it is not"))
        verified = None
    taken_down = _takedowns(view, as_of)
    stars = [0, 0, 0, 0, 0]
    counts = dict.fromkeys(("pending", "mismatch", "duplicate", "taken_down", "malformed"), 0)
    purchases: set[bytes] = set()
    merchants: set[str] = set()
    tombstones: list[Tombstone] = []
    for p in found:
        if p.reason is not None:
            reasons.append(p.reason)
        if p.leaf is None:
            counts["malformed"] += 1
            continue
        if p.leaf_index in taken_down:
            tombstones.append(taken_down[p.leaf_index])
        if p.verdict == "pending":
            counts["pending"] += 1
        elif p.verdict != "included" or verified is None or p.leaf.product_id != pid:
            counts["mismatch"] += 1
        elif p.leaf.purchase in purchases:
            counts["duplicate"] += 1
        else:
            purchases.add(p.leaf.purchase)
            if p.leaf_index in taken_down:
                counts["taken_down"] += 1
            else:
                stars[p.leaf.rating - 1] += 1
                merchants.add(checksum_address(p.leaf.merchant))
    result = ProductReviews(
        leaves_given=store.size, leaves_of_product=len(mine), anchored_size=anchored_size,
        verified_size=0 if verified is None else verified.size, checkpoint=verified,
        stars=(stars[0], stars[1], stars[2], stars[3], stars[4]), pending=counts["pending"],
        root_mismatch=counts["mismatch"], duplicate_purchase=counts["duplicate"], taken_down=counts["taken_down"],
        malformed=counts["malformed"], tombstones=tuple(tombstones), reasons=tuple(reasons))
    return _Reviews(result, tuple(mine)), merchants


def _root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 for n >= 1, level by level: pair neighbours, carry an odd last node up unchanged.

    The same root as :func:`ledger.merkle.root_from_leaf_hashes` (RFC 6962's split at the largest power of two
    below n gives exactly this left-balanced tree; ``tests/chain/test_product.py`` checks them equal), without
    its recursion: the record hashes every anchored leaf on each call, and this is its hot loop.
    """
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _takedowns(view: IndexView, as_of: int) -> dict[int, Tombstone]:
    """Leaves taken down as of ``as_of``: the last of ReviewTakenDown / ReviewRestored for a leaf decides."""
    state: dict[int, Tombstone | None] = {}
    for e in view.takedown_events():  # chain order
        if e.block_time > as_of:
            continue
        leaf = int(e.args["leafIndex"])
        state[leaf] = None if e.event == "ReviewRestored" else Tombstone(
            leaf, bytes.fromhex(str(e.args["disputeId"])[2:]), e.block_time, e.block_number, e.tx_hash)
    return {leaf: t for leaf, t in state.items() if t is not None}


# --- disputes ---------------------------------------------------------------------------------------------


def _disputes(records: Sequence[DisputeRecord], as_of: int) -> tuple[ProductDispute, ...]:
    """The product's disputes (its purchase disputes, the challenges of its review leaves) as of ``as_of``."""
    out = []
    for r in sorted(records, key=lambda r: (r.history[0].block_number, r.history[0].log_index)):
        history = tuple(h for h in r.history if h.block_time <= as_of)
        if not history:
            continue  # opened after as_of
        ruling = None
        by_default = False
        for h in history:
            if h.event == "DisputeRuled":
                ruling, by_default = OUTCOMES.get(int(h.args["outcome"])), by_default or bool(h.args["byDefault"])
        track = remedy_track(history)
        outcome = OUTCOMES.get(track.outcome) if track.outcome else None
        remedy = track.state or None
        out.append(ProductDispute(
            dispute_id=r.dispute_id, kind=DISPUTE_KINDS[r.kind], merchant=r.merchant,
            leaf_index=int.from_bytes(r.subject, "big") if r.kind == 1 else None, category=r.category,
            opened_at=history[0].block_time, responded=any(h.event == "DisputeResponded" for h in history),
            by_default=by_default, ruling=ruling, outcome=outcome, remedy=remedy, history=history))
    return tuple(out)
