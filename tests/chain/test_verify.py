"""ledger.verify against the contracts: certificates (valid, revoked, expired, superseded, failed, unknown), reviews
(included, not yet anchored, tampered) and the log (a leaf store that does not reproduce an anchored root), each
from the index and from the chain directly, the two agreeing.

Storage-backed tests run on SQLite and PostgreSQL (``database``) and on py-evm or a live node (``--chain``).
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from eth_utils.crypto import keccak

from ledger.eip712 import Certificate, certificate_id
from ledger.indexer import CertificateStatus, Indexer
from ledger.merkle import MerkleTree
from ledger.reviews import ReviewLeaf
from ledger.storage import Database
from ledger.verify import (
    LeafList,
    ReasonCode,
    Source,
    Verdict,
    verify_certificate,
    verify_log,
    verify_review,
)

from ..conftest import World
from .test_certificates import SPOT_CHECK_FAIL, make_cert

pytestmark = pytest.mark.chain

REASON = keccak(text="reason:verify-test")


# ---------------------------------------------------------------------------------------------- helpers


def review_leaf(i: int, merchant: str = "0x" + "ab" * 20) -> ReviewLeaf:
    """A distinct, well-formed review leaf (commitments derived from ``i``)."""
    return ReviewLeaf(product_id=keccak(text="gtin:06901234567892"), merchant=merchant, rating=1 + i % 5,
                      content=hashlib.sha256(b"content %d" % i).digest(),
                      reviewer=hashlib.sha256(b"reviewer %d" % (i % 3)).digest(),
                      purchase=keccak(text=f"order-{i}"), submitted_at=1_800_000_000 + i)


def leaf_store(n: int) -> LeafList:
    return LeafList([review_leaf(i).canonical_bytes() for i in range(n)])


def anchor(world: World, store: LeafList, size: int, previous: int) -> None:
    """Anchor checkpoint ``size`` of ``store`` as the operator, with its consistency proof from ``previous``."""
    tree = MerkleTree(store.leaf_hashes(0, size))
    proof = tree.consistency_proof(previous, size) if previous else []
    world.actors.operator.send(world.d.review_log.functions.appendCheckpoint(size, tree.root(), proof))


def issue(world: World, c: Certificate) -> bytes:
    by = world.actors.issuer if c.issuer == world.actors.issuer.address else world.actors.issuer2
    by.send(world.d.registry.functions.issue(c.as_tuple()))
    return certificate_id(c)


# ---------------------------------------------------------------------------------------------- certificates


def test_certificates_in_every_state_index_and_chain_agree(world: World, ix: Indexer) -> None:
    reg = world.d.registry.functions
    a = world.actors
    valid = make_cert(world, "valid")
    revoked = make_cert(world, "revoked")
    short = make_cert(world, "short", valid_until=world.chain.now() + 3600)
    old, new = make_cert(world, "old"), make_cert(world, "new")
    failed = make_cert(world, "failed", kind=SPOT_CHECK_FAIL)
    ids = {name: issue(world, c) for name, c in
           (("valid", valid), ("revoked", revoked), ("short", short), ("old", old), ("failed", failed))}
    world.chain.increase_time(5)  # a later block: Hardhat may stamp the next block with its parent's time
    a.issuer.send(reg.revoke(ids["revoked"], REASON))
    a.issuer.send(reg.supersede(ids["old"], new.as_tuple(), REASON))
    ids["new"] = certificate_id(new)
    world.chain.increase_time(7200)  # the short-lived one expires
    ids["unknown"] = keccak(text="no such certificate")
    ix.sync()
    now = world.chain.now()
    expected = {
        "valid": (Verdict.VALID, CertificateStatus.VALID, ReasonCode.CERTIFICATE_VALID),
        "new": (Verdict.VALID, CertificateStatus.VALID, ReasonCode.CERTIFICATE_VALID),
        "revoked": (Verdict.INVALID, CertificateStatus.REVOKED, ReasonCode.CERTIFICATE_REVOKED),
        "short": (Verdict.INVALID, CertificateStatus.EXPIRED, ReasonCode.CERTIFICATE_EXPIRED),
        "old": (Verdict.INVALID, CertificateStatus.SUPERSEDED, ReasonCode.CERTIFICATE_SUPERSEDED),
        "failed": (Verdict.INVALID, CertificateStatus.FAILED, ReasonCode.CERTIFICATE_FAILED),
        "unknown": (Verdict.UNKNOWN, CertificateStatus.UNKNOWN, ReasonCode.CERTIFICATE_UNKNOWN),
    }
    for name, (verdict, status, code) in expected.items():
        by_index = verify_certificate(ids[name], indexer=ix, at=now)
        by_chain = verify_certificate(ids[name], source=Source.CHAIN, indexer=ix, w3=world.w3, at=now)
        latest = verify_certificate(ids[name], source=Source.CHAIN, w3=world.w3, manifest=ix.manifest)
        for result in (by_index, by_chain, latest):
            assert (result.verdict, result.status) == (verdict, status), (name, result)
            assert code in result.codes, (name, result.reasons)
            assert all(r.message for r in result.reasons)
        # the two sources agree on everything but where they read it
        assert dataclasses.replace(by_index, source=Source.CHAIN) == by_chain, name
    # evidence: the issuance (tx hash, block, time, contract), then what happened to it
    revoked_result = verify_certificate(ids["revoked"], source=Source.CHAIN, w3=world.w3, manifest=ix.manifest)
    assert [e.event for e in revoked_result.evidence] == ["CertificateIssued", "CertificateRevoked"]
    issued = revoked_result.evidence[0]
    receipt = world.w3.eth.get_transaction_receipt(issued.tx_hash)
    assert receipt["blockNumber"] == issued.block_number
    assert issued.contract == world.d.registry.address
    assert issued.block_time == world.w3.eth.get_block(issued.block_number)["timestamp"]
    assert revoked_result.certificate == dataclasses.replace(revoked, merchant=revoked.merchant,
                                                             issuer=revoked.issuer)
    old_result = verify_certificate(ids["old"], indexer=ix, at=now)
    assert old_result.superseded_by == ids["new"]
    assert [e.event for e in old_result.evidence] == ["CertificateIssued", "CertificateSuperseded"]
    # "was it valid when I bought it?": before the revocation it was
    anchored_at = revoked_result.evidence[0].block_time
    for source in (Source.INDEX, Source.CHAIN):
        earlier = verify_certificate(ids["revoked"], source=source, indexer=ix, w3=world.w3, at=anchored_at)
        assert earlier.verdict is Verdict.VALID


def test_a_record_that_does_not_hash_to_the_id_is_named(world: World, ix: Indexer) -> None:
    c = make_cert(world, "record")
    cid = issue(world, c)
    ix.sync()
    assert verify_certificate(cid, indexer=ix, at=world.chain.now(), record=c).verdict is Verdict.VALID
    forged = dataclasses.replace(c, valid_until=c.valid_until + 86400)
    for source in (Source.INDEX, Source.CHAIN):
        result = verify_certificate(cid, source=source, indexer=ix, w3=world.w3, at=world.chain.now(), record=forged)
        assert result.verdict is Verdict.INVALID
        assert ReasonCode.CERTIFICATE_ID_MISMATCH in result.codes
        assert "0x" + cid.hex() in str(result.reasons)


def test_now_in_index_mode_is_the_last_indexed_block(world: World, ix: Indexer) -> None:
    """Without ``at`` the index judges a certificate at its last indexed block's time, never past what it has
    seen: one that expired on the chain after that block stays valid until the index reaches the block."""
    cid = issue(world, make_cert(world, "expires-unseen", valid_until=world.chain.now() + 3600))
    ix.sync()
    assert ix.position().block_time == world.w3.eth.get_block(ix.cursor())["timestamp"]
    world.chain.increase_time(7200)
    assert verify_certificate(cid, indexer=ix).status is CertificateStatus.VALID
    chain = verify_certificate(cid, source=Source.CHAIN, w3=world.w3, manifest=ix.manifest)
    assert chain.status is CertificateStatus.EXPIRED
    ix.sync()
    assert verify_certificate(cid, indexer=ix).status is CertificateStatus.EXPIRED


# ---------------------------------------------------------------------------------------------- reviews


def test_reviews_included_pending_and_tampered_index_and_chain_agree(world: World, ix: Indexer) -> None:
    store = leaf_store(7)
    anchor(world, store, 5, 0)
    ix.sync()
    for source in (Source.INDEX, Source.CHAIN):
        kw = {"source": source, "indexer": ix, "w3": world.w3, "store": store}
        included = verify_review(3, **kw)  # type: ignore[arg-type]
        assert included.verdict is Verdict.VALID, included.reasons
        assert included.codes == (ReasonCode.REVIEW_INCLUDED,)
        assert included.checkpoint is not None and (included.checkpoint.index, included.checkpoint.size) == (0, 5)
        assert included.leaf == review_leaf(3)
        ev = included.evidence[0]
        assert ev.event == "CheckpointAnchored" and ev.contract == world.d.review_log.address
        assert world.w3.eth.get_transaction_receipt(ev.tx_hash)["blockNumber"] == ev.block_number
        # leaf 6 is held but no checkpoint covers it yet
        pending = verify_review(review_leaf(6), leaf_index=6, **kw)  # type: ignore[arg-type]
        assert pending.verdict is Verdict.PENDING and pending.codes == (ReasonCode.REVIEW_NOT_ANCHORED,)
        # a leaf whose rating was changed is not what the log holds at its index
        tampered = dataclasses.replace(review_leaf(2), rating=5 if review_leaf(2).rating != 5 else 1)
        bad = verify_review(tampered, leaf_index=2, **kw)  # type: ignore[arg-type]
        assert bad.verdict is Verdict.INVALID
        assert {ReasonCode.REVIEW_LEAF_MISMATCH, ReasonCode.REVIEW_INCLUSION_FAILED} <= set(bad.codes)
        # found by its hash when no index is given; unknown when it is nowhere
        assert verify_review(review_leaf(4).canonical_bytes(), **kw).leaf_index == 4  # type: ignore[arg-type]
        assert verify_review(tampered, **kw).verdict is Verdict.UNKNOWN  # type: ignore[arg-type]
        assert verify_review(99, **kw).verdict is Verdict.UNKNOWN  # type: ignore[arg-type]
        # a proof from elsewhere that is wrong
        wrong = verify_review(review_leaf(1), leaf_index=1, proof=[b"\x00" * 32] * 3, **kw)  # type: ignore[arg-type]
        assert wrong.verdict is Verdict.INVALID and ReasonCode.REVIEW_INCLUSION_FAILED in wrong.codes
    anchor(world, store, 7, 5)
    ix.sync()
    by_index = verify_review(6, indexer=ix, store=store)
    by_chain = verify_review(6, source=Source.CHAIN, indexer=ix, w3=world.w3, store=store)
    assert by_index.verdict is by_chain.verdict is Verdict.VALID
    assert by_index.checkpoint is not None and by_chain.checkpoint is not None
    assert (by_index.checkpoint.index, by_index.checkpoint.root, by_index.proof) == \
        (by_chain.checkpoint.index, by_chain.checkpoint.root, by_chain.proof)


def test_over_the_review_log_service(world: World, database: Database, ix: Indexer) -> None:
    """Reviews admitted by the real service and anchored: each verifies from its index in the service's store."""
    from ..storage.reviewlog_helpers import make_service, submission

    service = make_service(database)
    try:
        receipts = service.submit_many([submission(f"order-{i}", rating=1 + i % 5) for i in range(6)])
        assert all(not isinstance(r, Exception) for r in receipts), receipts
        world.actors.operator.send(world.d.review_log.functions.appendCheckpoint(6, service.root(), []))
        ix.sync()
        for i in range(6):
            assert verify_review(i, indexer=ix, store=service).verdict is Verdict.VALID
        assert verify_log(service, indexer=ix).verdict is Verdict.VALID
    finally:
        service.close()


# ---------------------------------------------------------------------------------------------- the log


def test_verify_log_names_a_store_that_does_not_reproduce_an_anchored_root(world: World, ix: Indexer) -> None:
    store = leaf_store(12)
    anchor(world, store, 4, 0)
    anchor(world, store, 9, 4)
    anchor(world, store, 12, 9)
    ix.sync()
    for source in (Source.INDEX, Source.CHAIN):
        good = verify_log(store, source=source, indexer=ix, w3=world.w3)
        assert good.verdict is Verdict.VALID and good.codes == (ReasonCode.LOG_CONSISTENT,)
        assert [(c.index, c.size) for c in good.checkpoints] == [(0, 4), (1, 9), (2, 12)]
    # a mirror where leaf 6 was rewritten: checkpoints 1 and 2 are not reproduced, checkpoint 0 still is
    leaves = store.leaves(0, 12)
    leaves[6] = review_leaf(106).canonical_bytes()
    rewritten = verify_log(LeafList(leaves), indexer=ix)
    assert rewritten.verdict is Verdict.INVALID
    mismatches = [r for r in rewritten.reasons if r.code is ReasonCode.LOG_ROOT_MISMATCH]
    assert [m.message.split(" ")[1] for m in mismatches] == ["1", "2"]
    assert ReasonCode.LOG_INCONSISTENT in rewritten.codes
    # a mirror that lost its tail
    short = verify_log(LeafList(leaves[:10]), source=Source.CHAIN, w3=world.w3, manifest=ix.manifest)
    assert ReasonCode.LOG_LEAVES_MISSING in short.codes and short.verdict is Verdict.INVALID
    # a mirror holding bytes that are not a review leaf
    junk = verify_log(LeafList([*store.leaves(0, 11), b"not a leaf"]), indexer=ix)
    assert {ReasonCode.LOG_LEAF_MALFORMED, ReasonCode.LOG_ROOT_MISMATCH} <= set(junk.codes)
