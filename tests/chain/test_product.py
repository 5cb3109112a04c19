"""The product record (ledger/product.py, docs/product-record.md) and the indexer reads it adds.

One scenario on the chain: certificates of the product that are valid, revoked after the purchase and expired
(and one of another product); a review log whose leaves name the product or another one, two checkpoints, two
leaves pending the next checkpoint, a duplicate purchase, a review taken down by a final ruling; a purchase
dispute ruled and final. The record's numbers are checked against a count made here from the scenario's own
table (not from leaf bytes), for an honest mirror and for one with a tampered leaf and a malformed one; index
mode and chain mode give the same record.

Storage-backed tests run on SQLite and PostgreSQL (``database``) and on py-evm or a live node (``--chain``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from ledger.eip712 import Certificate, certificate_id
from ledger.errors import InvalidInput
from ledger.indexer import CertificateStatus, Indexer
from ledger.merkle import consistency_proof_from_leaf_hashes, leaf_hash, root_from_leaf_hashes
from ledger.product import ProductRecord, product_record
from ledger.reviewlog import ReviewLogService
from ledger.reviews import ReviewLeaf, parse_review_leaf
from ledger.storage import Database
from ledger.storage.schema import log_leaves
from ledger.trust import trust_profile
from ledger.verify import ReasonCode, Source, Verdict

from ..storage.reviewlog_helpers import attestation, make_service, submission
from .test_certificates import make_cert
from .test_disputes import EVIDENCE, PRODUCT, Outcome, T

pytestmark = pytest.mark.chain

REASON = keccak(text="reason:product-test")
OTHER = keccak(text="gtin:another-product")


# ---------------------------------------------------------------------------------------------- the scenario

# (merchant: "m" or "m2", product, rating, purchase number); the log's leaves in order
LOG: tuple[tuple[str, bytes, int, int], ...] = (
    ("m", PRODUCT, 5, 0),
    ("m", PRODUCT, 4, 1),
    ("m", PRODUCT, 1, 2),   # taken down by a final ruling
    ("m", OTHER, 3, 3),
    ("m2", PRODUCT, 4, 4),
    ("m", PRODUCT, 5, 0),   # a second review of purchase 0
    ("m", PRODUCT, 2, 6),   # tampered in the second mirror
    ("m2", OTHER, 5, 7),
    ("m", PRODUCT, 3, 8),   # pending: beyond the latest checkpoint
    ("m2", PRODUCT, 5, 9),  # pending
)
CHECKPOINTS = (4, 8)
TAKEN_DOWN = 2
TAMPERED = 6


def leaf(t: T, i: int, rating: int | None = None) -> bytes:
    who, product, stars, purchase = LOG[i]
    merchant = t.a.merchant.address if who == "m" else t.a.merchant2.address
    return ReviewLeaf(product_id=product, merchant=merchant, rating=rating or stars,
                      content=keccak(text=f"content:{i}"), reviewer=keccak(text=f"reviewer:{i}"),
                      purchase=keccak(text=f"purchase:{purchase}"), submitted_at=1_718_000_000 + i).canonical_bytes()


def anchor(t: T, leaves: Sequence[bytes], size: int, previous: int) -> None:
    hashes = [leaf_hash(b) for b in leaves[:size]]
    proof = consistency_proof_from_leaf_hashes(previous, hashes) if previous else []
    t.do(t.a.operator, t.world.d.review_log.functions.appendCheckpoint(size, root_from_leaf_hashes(hashes), proof))


def expected_reviews(verified: int, anchored: int) -> dict[str, Any]:
    """The review statistics counted straight from LOG: the plain rule of docs/product-record.md."""
    stars = [0] * 5
    pending = mismatch = duplicate = down = 0
    seen: set[int] = set()
    for i, (_, product, rating, purchase) in enumerate(LOG):
        if product != PRODUCT:
            continue
        if i >= anchored:
            pending += 1
        elif i >= verified:
            mismatch += 1
        elif purchase in seen:
            duplicate += 1
        else:
            seen.add(purchase)
            if i == TAKEN_DOWN:
                down += 1
            else:
                stars[rating - 1] += 1
    total = sum(stars)
    mean = Fraction(sum((r + 1) * n for r, n in enumerate(stars)), total) if total else None
    return {"stars": tuple(stars), "pending": pending, "mismatch": mismatch, "duplicate": duplicate,
            "down": down, "mean": mean}


@dataclasses.dataclass
class Scenario:
    ids: dict[str, bytes]
    purchased_at: int
    dispute: bytes
    challenge: bytes
    leaves: list[bytes]
    before_revocation: int


def build(t: T, leaves: list[bytes] | None = None) -> Scenario:
    a, reg, w = t.a, t.world.d.registry.functions, t.world

    def cert(tag: str, **kw: Any) -> Certificate:
        return dataclasses.replace(make_cert(w, tag, **kw), product_id=PRODUCT)

    records = {"valid": cert("valid"), "revoked": cert("revoked", merchant=a.merchant2.address),
               "expired": cert("expired", valid_until=t.now() + 3600),
               "other": make_cert(w, "another-product")}
    for c in records.values():
        t.do(a.issuer, reg.issue(c.as_tuple()))
    ids = {k: certificate_id(c) for k, c in records.items()}
    t.chain.increase_time(60)  # a live node may stamp the next block with its parent's time
    purchased_at = t.now()
    t.chain.increase_time(60)
    before_revocation = t.now()
    t.chain.increase_time(60)
    t.do(a.issuer, reg.revoke(ids["revoked"], REASON))

    leaves = leaves if leaves is not None else [leaf(t, i) for i in range(len(LOG))]
    anchor(t, leaves, CHECKPOINTS[0], 0)
    t.chain.increase_time(60)
    anchor(t, leaves, CHECKPOINTS[1], CHECKPOINTS[0])

    dispute, _ = t.open("product-order-1")
    t.do(a.merchant, t.dr.respond(dispute, EVIDENCE, ""))
    t.rule(dispute, Outcome.REFUND)
    challenge, _ = t.review_final(Outcome.REVIEW_REMOVED, leaf=TAKEN_DOWN)
    t.do(a.stranger, t.dr.finalize(dispute))  # its appeal window ran out with the challenge's
    t.chain.increase_time(7200)  # the short-lived certificate expires
    return Scenario(ids, purchased_at, dispute, challenge, leaves, before_revocation)


def without_source(r: ProductRecord) -> dict[str, Any]:
    doc = r.as_json()
    del doc["source"]
    return doc


# ---------------------------------------------------------------------------------------------- tests


def test_product_record_counts_and_modes_agree(t: T, ix: Indexer) -> None:
    s = build(t)
    ix.sync()
    as_of = t.now()
    a = t.a
    rec = product_record(PRODUCT, indexer=ix, leaves=s.leaves, as_of=as_of, purchased_at=s.purchased_at)

    # certificates: every one of the product, none of the other; status now and at the purchase
    by_id = {c.certificate_id: c for c in rec.certificates}
    assert set(by_id) == {s.ids["valid"], s.ids["revoked"], s.ids["expired"]}
    now = {k: by_id[s.ids[k]].status for k in ("valid", "revoked", "expired")}
    assert now == {"valid": CertificateStatus.VALID, "revoked": CertificateStatus.REVOKED,
                   "expired": CertificateStatus.EXPIRED}
    for c in rec.certificates:
        assert c.at_purchase is not None and c.at_purchase.verdict is Verdict.VALID, c.at_purchase
        assert c.now.issuer_accredited_at_issue
        assert c.accreditation is not None and c.accreditation.standard_in_scope
        assert not c.accreditation.suspended and c.accreditation.compromised_at == 0
        assert c.now.evidence[0].event == "CertificateIssued"
    assert [e.event for e in by_id[s.ids["revoked"]].now.evidence] == ["CertificateIssued", "CertificateRevoked"]
    assert ReasonCode.CERTIFICATE_REVOKED in by_id[s.ids["revoked"]].now.codes
    # the accreditation replayed from events is the chain's (unchanged since the world was deployed)
    accreditation = by_id[s.ids["valid"]].accreditation
    assert accreditation is not None
    assert (accreditation.issuer_id, accreditation.valid_from, accreditation.valid_until,
            accreditation.compromised_at, accreditation.suspended) == tuple(t.g.accreditation(a.issuer.address).call())
    doc = rec.as_json()
    assert doc["certificatesByStatus"] == {"valid": 1, "revoked": 1, "expired": 1}

    # reviews, against the independent count
    r = rec.reviews
    want = expected_reviews(verified=CHECKPOINTS[1], anchored=CHECKPOINTS[1])
    assert (r.stars, r.pending, r.root_mismatch, r.duplicate_purchase, r.taken_down, r.mean) == (
        want["stars"], want["pending"], want["mismatch"], want["duplicate"], want["down"], want["mean"])
    assert r.stars == (0, 1, 0, 2, 1) and r.mean == Fraction(15, 4) and r.malformed == 0
    assert doc["reviews"]["mean"] == "15/4"
    assert (r.anchored_size, r.verified_size, r.leaves_of_product) == (8, 8, 8)
    assert r.checkpoint is not None and (r.checkpoint.index, r.checkpoint.size) == (1, 8)
    assert [(tb.leaf_index, tb.dispute_id) for tb in r.tombstones] == [(TAKEN_DOWN, s.challenge)]

    # disputes: the purchase dispute and the challenge of the product's review, with their outcomes
    disputes = {d.dispute_id: d for d in rec.disputes}
    assert set(disputes) == {s.dispute, s.challenge}
    purchase, challenge = disputes[s.dispute], disputes[s.challenge]
    assert (purchase.kind, purchase.responded, purchase.ruling, purchase.outcome, purchase.remedy,
            purchase.merchant) == ("purchase", True, "refund", "refund", "due", a.merchant.address)
    assert (challenge.kind, challenge.leaf_index, challenge.outcome) == ("reviewChallenge", TAKEN_DOWN,
                                                                         "reviewRemoved")
    assert purchase.history[0].event == "PurchaseDisputeOpened"

    # the merchants selling it, each with the library's own trust profile
    assert [m.merchant for m in rec.merchants] == sorted([a.merchant.address, a.merchant2.address])
    for m in rec.merchants:
        assert m == trust_profile(m.merchant, indexer=ix, leaves=s.leaves, as_of=as_of)

    # stable JSON
    assert rec.to_json() == product_record(PRODUCT, indexer=ix, leaves=s.leaves, as_of=as_of,
                                           purchased_at=s.purchased_at).to_json()
    assert json.loads(rec.to_json()) == json.loads(json.dumps(doc))

    # chain mode: certificates and checkpoints re-read from the contracts, the same record
    by_chain = product_record(PRODUCT, indexer=ix, leaves=s.leaves, as_of=as_of, purchased_at=s.purchased_at,
                              source=Source.CHAIN, w3=t.world.w3)
    assert by_chain.source is Source.CHAIN
    assert without_source(by_chain) == without_source(rec)


def test_tampered_and_malformed_leaves_are_excluded(t: T, ix: Indexer) -> None:
    s = build(t)
    ix.sync()
    as_of = t.now()
    mirror = list(s.leaves)
    mirror[TAMPERED] = leaf(t, TAMPERED, rating=5)  # the same review, its rating raised
    mirror.append(b'{"productId":"0x' + PRODUCT.hex().encode() + b'","rating":5}')
    for source in (Source.INDEX, Source.CHAIN):
        r = product_record(PRODUCT, indexer=ix, leaves=mirror, as_of=as_of, source=source, w3=t.world.w3).reviews
        want = expected_reviews(verified=CHECKPOINTS[0], anchored=CHECKPOINTS[1])
        assert (r.stars, r.pending, r.root_mismatch, r.duplicate_purchase, r.taken_down, r.mean) == (
            want["stars"], want["pending"], want["mismatch"], want["duplicate"], want["down"], want["mean"])
        assert (r.verified_size, r.malformed, r.root_mismatch) == (4, 1, 3)
        assert r.checkpoint is not None and r.checkpoint.index == 0


def test_a_past_moment_and_an_unknown_product(t: T, ix: Indexer) -> None:
    s = build(t)
    ix.sync()
    past = product_record(PRODUCT, indexer=ix, leaves=s.leaves, as_of=s.before_revocation)
    assert {c.status for c in past.certificates} == {CertificateStatus.VALID}
    assert past.disputes == () and past.reviews.anchored_size == 0
    assert past.reviews.pending == 8 and past.reviews.counted == 0 and past.reviews.mean is None
    nothing = product_record(keccak(text="gtin:nothing"), indexer=ix, leaves=s.leaves, as_of=t.now())
    assert (nothing.certificates, nothing.disputes, nothing.merchants, nothing.reviews.leaves_of_product) == \
        ((), (), (), 0)
    with pytest.raises(InvalidInput):
        product_record(b"short", indexer=ix, leaves=[])
    with pytest.raises(InvalidInput):
        product_record(PRODUCT, indexer=ix, leaves=[], source=Source.CHAIN)


def test_indexer_disputes_by_product_merchant_and_review_leaves(t: T, ix: Indexer) -> None:
    s = build(t)
    ix.sync()
    a = t.a

    def ids(**kw: Any) -> list[bytes]:
        return [d.dispute_id for d in ix.disputes(**kw)]

    assert ids(product=PRODUCT) == [s.dispute]
    assert ids(product=OTHER) == []
    assert ids(review_leaves=[TAKEN_DOWN, 7]) == [s.challenge]
    assert ids(review_leaves=[3]) == ids(review_leaves=[]) == []
    assert ids(merchant=a.merchant.address) == [s.dispute, s.challenge]  # in opening order
    assert ids(merchant=a.merchant2.address) == []
    assert ids(product=PRODUCT, merchant=a.merchant2.address) == []
    assert ids() == [s.dispute, s.challenge]
    found = ix.disputes(product=PRODUCT)[0]
    assert found == ix.dispute(s.dispute)


def test_root_level_by_level_is_rfc_6962() -> None:
    from ledger.merkle import root_from_leaf_hashes
    from ledger.product import _root

    hashes = [leaf_hash(b"leaf %d" % i) for i in range(130)]
    for n in range(1, 131):
        assert _root(hashes[:n]) == root_from_leaf_hashes(hashes[:n]), n


def test_indexer_certificate_ids(t: T, ix: Indexer) -> None:
    s = build(t)
    ix.sync()
    ids = ix.certificate_ids(product=PRODUCT)
    assert [cid for _, _, cid in ids] == [c.certificate_id for c in ix.certificates(product=PRODUCT)]
    assert {cid for _, _, cid in ids} == {s.ids["valid"], s.ids["revoked"], s.ids["expired"]}
    assert all(ix.certificate(cid).block_number == block for block, _, cid in ids)  # type: ignore[union-attr]
    assert [cid for _, _, cid in ix.certificate_ids(product=OTHER)] == [s.ids["other"]]
    assert ix.certificate_ids(product=keccak(text="gtin:nothing")) == []


# ---------------------------------------------------------------------------------------------- the indexed path


@pytest.fixture
def service(t: T, database: Database) -> Iterator[ReviewLogService]:
    """The operator's review log holding LOG's reviews (one purchase each: the log admits no duplicate),
    admitted through the real service, in LOG's order."""
    log = make_service(database)
    try:
        for i, (who, product, rating, _) in enumerate(LOG):
            merchant = t.a.merchant.address if who == "m" else t.a.merchant2.address
            order = f"product-store-{i}"
            log.submit(submission(order, rating=rating, merchant=merchant, product=product,
                                  att=attestation(order, merchant=merchant, product=product)))
        assert log.size == len(LOG)
        yield log
    finally:
        log.close()


class OneRead:
    """The service as a store that also answers which leaves are whose *with their bytes* in one read
    (``leaves_of``, what ledger.trust.ReadOnce uses when a store has it)."""

    def __init__(self, service: ReviewLogService) -> None:
        self.service = service
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.service, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return found(*args, **kwargs)

        return call

    def leaves_of(self, *, product: bytes | None = None, merchant: str | None = None) -> list[tuple[int, bytes]]:
        self.calls.append("leaves_of")
        indices = self.service.leaf_indices(product=product, merchant=merchant)
        return list(zip(indices, self.service.leaves_at(indices), strict=True))


def alter(database: Database, service: ReviewLogService, index: int, rating: int) -> None:
    """Rewrite leaf ``index``'s bytes in the database (its stored hash and the tree left alone): the same
    review with another rating, still canonical."""
    altered = dataclasses.replace(parse_review_leaf(service.leaves(index, index + 1)[0]), rating=rating)
    with database.write() as conn:
        conn.execute(sa.update(log_leaves).where(log_leaves.c.leaf_index == index)
                     .values(leaf=altered.canonical_bytes()))


def test_store_path_gives_the_sequence_paths_record(t: T, ix: Indexer, service: ReviewLogService) -> None:
    """Honest log: the record (merchants' trust profiles included) from the store equals the record from all
    the leaves, byte for byte, in index and chain mode."""
    s = build(t, service.leaves(0, service.size))
    ix.sync()
    as_of = t.now()
    for source in (Source.INDEX, Source.CHAIN):
        kw: dict[str, Any] = {"indexer": ix, "as_of": as_of, "purchased_at": s.purchased_at, "source": source,
                              "w3": t.world.w3}
        by_store = product_record(PRODUCT, leaves=service, **kw)
        assert by_store.to_json() == product_record(PRODUCT, leaves=service.leaves(0, service.size), **kw).to_json()
        r = by_store.reviews
        # LOG without its duplicate: leaves 0, 1, 4, 5, 6 count, 2 is taken down, 8 and 9 pending
        assert (r.counted, r.taken_down, r.pending, r.root_mismatch, r.duplicate_purchase) == (5, 1, 2, 0, 0)
        assert (r.leaves_given, r.leaves_of_product, r.verified_size, r.reasons) == (10, 8, 8, ())
        assert len(by_store.merchants) == 2
        one_read = OneRead(service)  # a store that reads which leaves and their bytes at once: the same record
        assert product_record(PRODUCT, leaves=one_read, **kw).to_json() == by_store.to_json()
        assert "leaves_of" in one_read.calls and "leaves_at" not in one_read.calls and \
            "leaf_indices" not in one_read.calls


def test_store_path_excludes_an_altered_leaf_by_name(t: T, ix: Indexer, database: Database,
                                                      service: ReviewLogService) -> None:
    """A leaf rewritten in the database fails its inclusion proof: it alone is left out, named; the full-sequence
    path over the same bytes can only leave out everything from the last checkpoint it reproduces."""
    build(t, service.leaves(0, service.size))
    ix.sync()
    as_of = t.now()
    honest = product_record(PRODUCT, indexer=ix, leaves=service, as_of=as_of).reviews
    alter(database, service, TAMPERED, rating=5)
    r = product_record(PRODUCT, indexer=ix, leaves=service, as_of=as_of).reviews
    assert (r.root_mismatch, r.counted, r.verified_size) == (1, honest.counted - 1, 8)
    stars = list(honest.stars)
    stars[LOG[TAMPERED][2] - 1] -= 1
    assert r.stars == tuple(stars)
    assert [x.code for x in r.reasons] == [ReasonCode.REVIEW_INCLUSION_FAILED]
    assert r.reasons[0].message.startswith(f"leaf {TAMPERED} ")
    assert r.to_json()["excluded"]["rootMismatch"] == 1
    assert product_record(PRODUCT, indexer=ix, leaves=OneRead(service), as_of=as_of).reviews == r  # read at once
    mirror = product_record(PRODUCT, indexer=ix, leaves=service.leaves(0, service.size), as_of=as_of).reviews
    assert (mirror.verified_size, mirror.root_mismatch) == (CHECKPOINTS[0], 3)  # leaves 4, 5 and 6
    # the merchant's profile on the store path names it too
    p = trust_profile(t.a.merchant.address, indexer=ix, leaves=service, as_of=as_of)
    assert p.reviews.root_mismatch == 1
    assert [x.code for x in p.reviews.exclusions] == [ReasonCode.REVIEW_INCLUSION_FAILED]


def test_the_record_follows_the_index_as_it_moves(t: T, ix: Indexer, database: Database,
                                                  service: ReviewLogService) -> None:
    """The record's reads of the index are memoized while its cursor stands still, never after: a new certificate
    of the product and a takedown of one of its reviews change nothing until indexed, and once indexed the
    record equals a fresh indexer's. Without ``as_of`` the record is for the last indexed block's time."""
    build(t, service.leaves(0, service.size))
    ix.sync()
    as_of = t.now()
    first = product_record(PRODUCT, indexer=ix, leaves=service, as_of=as_of)
    assert product_record(PRODUCT, indexer=ix, leaves=service).as_of == ix.position().block_time == \
        t.world.w3.eth.get_block(ix.cursor())["timestamp"]

    cert = dataclasses.replace(make_cert(t.world, "after-the-record"), product_id=PRODUCT)
    t.do(t.a.issuer, t.world.d.registry.functions.issue(cert.as_tuple()))
    t.review_final(Outcome.REVIEW_REMOVED, leaf=0)
    later = t.now()
    stale = product_record(PRODUCT, indexer=ix, leaves=service, as_of=later)
    assert (len(stale.certificates), len(stale.reviews.tombstones)) == (len(first.certificates), 1)
    assert product_record(PRODUCT, indexer=ix, leaves=service).as_of == first.as_of  # the index's time: unmoved

    ix.sync()
    moved = product_record(PRODUCT, indexer=ix, leaves=service, as_of=later)
    assert (len(moved.certificates), len(moved.reviews.tombstones)) == (len(first.certificates) + 1, 2)
    assert certificate_id(cert) in [c.certificate_id for c in moved.certificates]
    mine = next(p for p in moved.merchants if p.merchant == t.a.merchant.address)
    assert mine.reviews.taken_down == next(
        p for p in first.merchants if p.merchant == t.a.merchant.address).reviews.taken_down + 1
    uncached = Indexer(t.world.w3, database, ix.manifest, retry_delay=0)
    assert moved.to_json() == product_record(PRODUCT, indexer=uncached, leaves=service, as_of=later).to_json()
    assert moved.to_json() == product_record(PRODUCT, indexer=ix, leaves=service.leaves(0, service.size),
                                             as_of=later).to_json()
    assert product_record(PRODUCT, indexer=ix, leaves=service).as_of == ix.position().block_time > first.as_of


def test_leaf_indices_are_exactly_the_products_and_merchants(t: T, service: ReviewLogService) -> None:
    a = t.a
    m = {"m": a.merchant.address, "m2": a.merchant2.address}
    for product in (PRODUCT, OTHER):
        assert service.leaf_indices(product=product) == [i for i, e in enumerate(LOG) if e[1] == product]
    for who, address in m.items():
        assert service.leaf_indices(merchant=address) == [i for i, e in enumerate(LOG) if e[0] == who]
        assert service.leaf_indices(merchant=address.lower(), product=OTHER) == \
            [i for i, e in enumerate(LOG) if e[0] == who and e[1] == OTHER]
    assert service.leaf_indices(product=keccak(text="gtin:nothing")) == []
    assert service.leaves_at([7, 2, 7]) == [service.leaves(7, 8)[0], service.leaves(2, 3)[0], service.leaves(7, 8)[0]]
    with pytest.raises(InvalidInput):
        service.leaves_at([len(LOG)])
    with pytest.raises(InvalidInput):
        service.leaf_indices()
    with pytest.raises(InvalidInput):
        service.leaf_indices(merchant="not an address")
