"""The merchant trust profile (ledger/trust.py, docs/trust-profile.md).

Scenario tests drive certificates, disputes, sanctions, checkpoints and takedowns on the chain, index them, and
check the profile's counts, that a well-behaved merchant outscores a badly behaved one, and that
``scripts/trust_profile_plain.py`` (which reads only ``eth_getLogs`` and the leaves, and imports nothing from
``ledger``) gives the same canonical JSON byte for byte. Leaves that do not reproduce an anchored root, or lie
beyond the latest checkpoint, are excluded and counted. Hypothesis checks the formula is bounded and monotone.

Storage-backed tests run on SQLite and PostgreSQL (``database``) and on py-evm or a live node (``--chain``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.eip712 import Certificate, certificate_id
from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.merkle import consistency_proof_from_leaf_hashes, leaf_hash, root_from_leaf_hashes
from ledger.reviews import ReviewLeaf, parse_review_leaf
from ledger.storage import Database
from ledger.storage.schema import log_leaves
from ledger.trust import REMEDY_PERIOD, TrustInputs, TrustProfile, score, trust_profile
from ledger.verify import ReasonCode

from ..storage.reviewlog_helpers import attestation, make_service, submission
from .test_certificates import SPOT_CHECK_FAIL, SPOT_CHECK_PASS, make_cert
from .test_disputes import APPEAL, CONFIRM, EVIDENCE, RESPONSE, Outcome, T, purchase_id
from .test_governance import WARNING

pytestmark = pytest.mark.chain

ROOT = Path(__file__).resolve().parents[2]
REASON = keccak(text="reason:trust-test")
RULING = keccak(text="ruling:trust-test")
PRODUCT = keccak(text="gtin:trust-test")


def _load_plain() -> Any:
    spec = importlib.util.spec_from_file_location("trust_profile_plain", ROOT / "scripts" / "trust_profile_plain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plain = _load_plain()


# ---------------------------------------------------------------------------------------------- fixtures
# extras, t, manifest and ix: tests/chain/conftest.py


# ---------------------------------------------------------------------------------------------- helpers


def review(merchant: str, rating: int, n: int, *, purchase: bytes | None = None) -> bytes:
    return ReviewLeaf(product_id=PRODUCT, merchant=merchant, rating=rating, content=keccak(text=f"content:{n}"),
                      reviewer=keccak(text=f"reviewer:{n}"), purchase=purchase or keccak(text=f"purchase:{n}"),
                      submitted_at=1_718_000_000 + n).canonical_bytes()


def anchor(t: T, leaves: Sequence[bytes], size: int, previous: int) -> int:
    """Anchor the checkpoint of the first ``size`` leaves; returns its block time."""
    hashes = [leaf_hash(leaf) for leaf in leaves[:size]]
    proof = consistency_proof_from_leaf_hashes(previous, hashes) if previous else []
    receipt = t.do(t.a.operator, t.world.d.review_log.functions.appendCheckpoint(
        size, root_from_leaf_hashes(hashes), proof))
    return t.time(receipt)


def issue(t: T, c: Certificate) -> bytes:
    t.do(t.a.issuer, t.world.d.registry.functions.issue(c.as_tuple()))
    return certificate_id(c)


def open_dispute(t: T, order: str, merchant: str, buyer: Any) -> bytes:
    att, sig = t.attest(order, buyer=buyer.address, merchant=merchant)
    t.do(buyer, t.open_call(att, sig))
    return purchase_id(att.order_commitment)


def profile(t: T, ix: Indexer, manifest: Manifest, merchant: str, leaves: Sequence[bytes],
            as_of: int | None = None) -> TrustProfile:
    """The library's profile, after checking the plain script computes the very same JSON from the raw logs."""
    w3 = t.world.w3
    as_of = t.now() if as_of is None else as_of
    ix.sync()
    lib = trust_profile(merchant, indexer=ix, leaves=leaves, as_of=as_of)
    events = plain.fetch_events(w3, manifest.addresses, manifest.deploy_block, int(w3.eth.block_number))
    independent = plain.to_json(plain.profile(events, merchant, list(leaves), as_of, int(w3.eth.chain_id)))
    assert independent == lib.to_json()
    return lib


def doc(p: TrustProfile) -> dict[str, Any]:
    return p.as_json()


# ---------------------------------------------------------------------------------------------- scenarios


def test_good_merchant_outscores_bad_one(t: T, ix: Indexer, manifest: Manifest) -> None:
    """Valid certificates, timely responses and a paid remedy against revoked and failed certificates,
    default rulings, unpaid remedies and a warning; both recomputed by the plain script, now and in the past."""
    a, dr, reg = t.a, t.dr, t.world.d.registry.functions
    w = t.world
    good, bad = a.merchant.address, a.merchant2.address
    for tag in ("good-1", "good-2"):
        issue(t, make_cert(w, tag))
    issue(t, make_cert(w, "good-pass", kind=SPOT_CHECK_PASS))
    revoked = issue(t, make_cert(w, "bad-revoked", merchant=bad))
    t.do(a.issuer, reg.revoke(revoked, REASON))
    issue(t, make_cert(w, "bad-failed", merchant=bad, kind=SPOT_CHECK_FAIL))

    rejected = open_dispute(t, "good-1", good, t.x.buyer)
    refunded = open_dispute(t, "good-2", good, t.x.buyer2)
    unpaid = [open_dispute(t, "bad-1", bad, t.x.buyer), open_dispute(t, "bad-2", bad, t.x.buyer2)]
    for did in (rejected, refunded):
        t.do(a.merchant, dr.respond(did, EVIDENCE, ""))
    t.rule(rejected, Outcome.REJECTED)
    t.rule(refunded, Outcome.REFUND)
    t.chain.increase_time(RESPONSE + 1)
    t.rule(unpaid[0], Outcome.REFUND)  # by default: merchant2 never answered
    t.rule(unpaid[1], Outcome.REPLACEMENT)
    t.chain.increase_time(APPEAL + 1)
    for did in (rejected, refunded, *unpaid):
        t.do(a.stranger, dr.finalize(did))
    t.do(a.merchant, dr.reportRemedy(refunded, EVIDENCE))
    t.do(t.x.buyer2, dr.confirmRemedy(refunded))
    before_sanction = t.now()
    t.chain.increase_time(60)  # a live node may stamp the next block with the same second
    t.do(a.governor, t.g.sanctionMerchant(bad, WARNING, REASON, RULING))

    leaves = [review(good, r, i) for i, r in enumerate((5, 4, 4, 5))]
    leaves += [review(bad, r, 10 + i) for i, r in enumerate((2, 1, 3))]
    anchor(t, leaves, len(leaves), 0)
    t.chain.increase_time(REMEDY_PERIOD + 1)

    g, b = profile(t, ix, manifest, good, leaves), profile(t, ix, manifest, bad, leaves)
    assert g.score > b.score
    assert doc(g)["certificates"]["byStatus"] == {"valid": 3, "revoked": 0, "failed": 0, "expired": 0,
                                                   "superseded": 0, "compromised": 0}
    assert doc(b)["certificates"]["byStatus"]["revoked"] == doc(b)["certificates"]["byStatus"]["failed"] == 1
    assert g.reviews.stars == (0, 0, 0, 2, 2) and b.reviews.stars == (1, 1, 1, 0, 0)
    assert doc(g)["disputes"] == {
        "opened": 2, "responses": {"timely": 2, "missed": 0, "pending": 0, "defaultRulings": 0},
        "final": {"refund": 1, "replacement": 0, "partialRefund": 0, "rejected": 1}, "notFinal": 0,
        "remedies": {"ordered": 1, "fulfilled": 1, "contested": 0, "unpaid": 0, "pending": 0}}
    assert doc(b)["disputes"] == {
        "opened": 2, "responses": {"timely": 0, "missed": 2, "pending": 0, "defaultRulings": 2},
        "final": {"refund": 1, "replacement": 1, "partialRefund": 0, "rejected": 0}, "notFinal": 0,
        "remedies": {"ordered": 2, "fulfilled": 0, "contested": 0, "unpaid": 2, "pending": 0}}
    assert (b.sanctions.warnings, b.sanctions.standing, len(b.sanctions.history)) == (1, 1, 1)
    assert b.sanctions.history[0].ruling_ref == RULING
    for p in (g, b):  # the standing replayed from events equals the indexer's projection
        m = ix.merchant(p.merchant)
        assert m is not None and m.status == p.sanctions.standing
        assert 0 <= p.score <= 100 and p.to_json() == p.to_json()

    # the same merchant before the warning and before the remedy period ran out: no sanction, remedies pending
    past = profile(t, ix, manifest, bad, leaves, as_of=before_sanction)
    assert past.sanctions.warnings == 0 and past.disputes.remedies_unpaid == 0
    assert past.disputes.remedies_pending == 2 and past.reviews.anchored_size == 0
    assert past.score > b.score


def test_unverified_leaves_are_excluded_and_counted(t: T, ix: Indexer, manifest: Manifest) -> None:
    """A tampered leaf, a short log, leaves beyond the latest checkpoint and malformed bytes."""
    m, other = t.a.merchant.address, t.a.merchant2.address
    leaves = [review(other if i % 3 == 0 else m, 1 + i % 5, i) for i in range(12)]
    mine = [i for i in range(12) if i % 3]
    first = anchor(t, leaves, 6, 0)
    t.chain.increase_time(60)  # a live node may stamp the next block with the same second
    anchor(t, leaves, 10, 6)

    honest = profile(t, ix, manifest, m, leaves)
    r = honest.reviews
    assert (r.anchored_size, r.verified_size, r.verified_checkpoint) == (10, 10, 1)
    assert r.counted == len([i for i in mine if i < 10]) and r.root_mismatch == 0
    assert r.beyond_checkpoint == len([i for i in mine if i >= 10])

    tampered = list(leaves)
    tampered[8] = review(m, 5, 8)  # the same review, its rating raised
    tampered.append(b'{"rating":5}')
    p = profile(t, ix, manifest, m, tampered)
    r = p.reviews
    assert (r.verified_size, r.verified_checkpoint, r.malformed) == (6, 0, 1)
    assert r.counted == len([i for i in mine if i < 6])
    assert r.root_mismatch == len([i for i in mine if 6 <= i < 10])
    assert r.beyond_checkpoint == len([i for i in mine if i >= 10])
    assert p.score != honest.score

    short = profile(t, ix, manifest, m, leaves[:8])  # the mirror holds fewer leaves than the latest checkpoint
    assert (short.reviews.verified_size, short.reviews.root_mismatch) == (6, len([i for i in mine if 6 <= i < 8]))

    early = profile(t, ix, manifest, m, leaves, as_of=first)  # before the second checkpoint was anchored
    assert (early.reviews.anchored_size, early.reviews.verified_size) == (6, 6)
    assert early.reviews.beyond_checkpoint == len([i for i in mine if i >= 6])


def test_every_certificate_status_and_remedy_state(t: T, ix: Indexer, manifest: Manifest,
                                                  tmp_path: Path) -> None:
    """Superseded, expired and compromised records count neither way; a contested remedy waits for its ruling,
    a reported one is deemed fulfilled once the window passes, one ruled unfulfilled is unpaid after the period
    counted from the final ruling. The plain script agrees on each; on a live node its command line too."""
    a, dr, reg, w = t.a, t.dr, t.world.d.registry.functions, t.world
    m = a.merchant.address
    old, new = make_cert(w, "old"), make_cert(w, "new")
    t.do(a.issuer, reg.supersede(issue(t, old), new.as_tuple(), REASON))
    issue(t, make_cert(w, "short", valid_until=t.now() + 3600))
    receipt = t.do(a.issuer2, reg.issue(make_cert(w, "compromised", issuer=a.issuer2).as_tuple()))
    t.do(a.issuer2, t.g.declareKeyCompromised(t.time(receipt)))

    dids = [open_dispute(t, f"remedy-{i}", m, buyer) for i, buyer in enumerate((t.x.buyer, t.x.buyer2))]
    for did in dids:
        t.do(a.merchant, dr.respond(did, EVIDENCE, ""))
        t.rule(did, Outcome.REFUND)
    t.chain.increase_time(APPEAL + 1)
    for did in dids:
        t.do(a.stranger, dr.finalize(did))
        t.do(a.merchant, dr.reportRemedy(did, EVIDENCE))
    t.do(t.x.buyer, dr.contestRemedy(dids[0], EVIDENCE))
    p = profile(t, ix, manifest, m, [])
    assert doc(p)["certificates"]["byStatus"] == {"valid": 1, "revoked": 0, "failed": 0, "expired": 1,
                                                  "superseded": 1, "compromised": 1}
    assert (p.disputes.remedies_contested, p.disputes.remedies_pending) == (1, 1)
    t.do(t.arbitrator_of(dids[0]), dr.ruleOnRemedy(dids[0], False, EVIDENCE))  # not paid: due again
    t.chain.increase_time(CONFIRM + 1)
    p = profile(t, ix, manifest, m, [])
    assert (p.disputes.remedies_pending, p.disputes.remedies_fulfilled) == (1, 1)  # deemed, nobody closed it
    t.chain.increase_time(REMEDY_PERIOD - CONFIRM)
    p = profile(t, ix, manifest, m, [])
    assert (p.disputes.remedies_pending, p.disputes.remedies_unpaid) == (0, 1)  # 14 days since the final ruling

    if t.chain.kind == "eth-tester":
        return  # the command line needs an RPC URL
    manifest.write(tmp_path / "deployment.json")
    (tmp_path / "leaves.txt").write_text("")
    as_of = t.now()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "trust_profile_plain.py"),
                          "--rpc", t.world.w3.provider.endpoint_uri, "--manifest", str(tmp_path / "deployment.json"),
                          "--merchant", m, "--leaves", str(tmp_path / "leaves.txt"), "--as-of", str(as_of)],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == trust_profile(m, indexer=ix, leaves=[], as_of=as_of).to_json()


def test_takedowns_and_duplicate_purchases_are_excluded(t: T, ix: Indexer, manifest: Manifest) -> None:
    m = t.a.merchant.address
    leaves = [review(m, 1, 0), review(m, 5, 1), review(m, 1, 2), review(m, 5, 3, purchase=keccak(text="purchase:1"))]
    anchor(t, leaves, 4, 0)
    before = profile(t, ix, manifest, m, leaves)
    assert (before.reviews.stars, before.reviews.duplicate_purchase) == ((2, 0, 0, 0, 1), 1)
    t.review_final(Outcome.REVIEW_REMOVED, leaf=2)  # the merchant's fake-review claim upheld: taken down
    after = profile(t, ix, manifest, m, leaves)
    assert (after.reviews.stars, after.reviews.taken_down, after.reviews.duplicate_purchase) == \
        ((1, 0, 0, 0, 1), 1, 1)
    assert after.score > before.score


def test_unknown_merchant_scores_zero(t: T, ix: Indexer, manifest: Manifest) -> None:
    p = profile(t, ix, manifest, t.a.stranger.address, [])
    assert (p.score, p.sanctions.standing, doc(p)["sanctions"]["standing"]) == (0, 0, "notAdmitted")


def test_store_path_equals_the_sequence_path_and_the_plain_script(t: T, ix: Indexer, manifest: Manifest,
                                                                    database: Database) -> None:
    """The operator's log (ReviewLogService) as the leaves: only the merchant's leaves are read and each is proved
    against the anchored checkpoint. Honest: the profile's JSON is the full-sequence path's and the plain
    script's, for both merchants, now and before the second checkpoint. A leaf rewritten in the database fails
    its proof and is left out alone, named; the merchant's certificates come with their histories."""
    m, other = t.a.merchant.address, t.a.merchant2.address
    revoked = issue(t, make_cert(t.world, "store-revoked"))
    t.do(t.a.issuer, t.world.d.registry.functions.revoke(revoked, REASON))
    issue(t, make_cert(t.world, "store-valid"))
    service = make_service(database)
    try:
        for i in range(12):
            merchant = other if i % 3 == 0 else m
            order = f"trust-store-{i}"
            service.submit(submission(order, rating=1 + i % 5, merchant=merchant, product=PRODUCT,
                                      att=attestation(order, merchant=merchant, product=PRODUCT)))
        leaves = service.leaves(0, service.size)
        first = anchor(t, leaves, 6, 0)
        t.chain.increase_time(60)  # a live node may stamp the next block with the same second
        anchor(t, leaves, 10, 6)
        t.review_final(Outcome.REVIEW_REMOVED, leaf=4)
        as_of = t.now()
        for who in (m, other):
            for when in (as_of, first):
                by_sequence = profile(t, ix, manifest, who, leaves, as_of=when)  # the plain script agrees
                assert trust_profile(who, indexer=ix, leaves=service, as_of=when).to_json() == by_sequence.to_json()
        honest = trust_profile(m, indexer=ix, leaves=service, as_of=as_of).reviews
        assert (honest.counted, honest.taken_down, honest.beyond_checkpoint, honest.exclusions) == (5, 1, 2, ())
        assert ix.merchant_certificates(m) == ix.certificates(merchant=m)
        assert [len(c.history) for c in ix.merchant_certificates(m)][-2:] == [2, 1]

        altered = dataclasses.replace(parse_review_leaf(leaves[8]), rating=5)
        with database.write() as conn:
            conn.execute(sa.update(log_leaves).where(log_leaves.c.leaf_index == 8)
                         .values(leaf=altered.canonical_bytes()))
        r = trust_profile(m, indexer=ix, leaves=service, as_of=as_of).reviews
        assert (r.root_mismatch, r.counted, r.verified_size) == (1, honest.counted - 1, 10)
        assert [x.code for x in r.exclusions] == [ReasonCode.REVIEW_INCLUSION_FAILED]
        assert r.exclusions[0].message.startswith("leaf 8 ")
        assert trust_profile(other, indexer=ix, leaves=service, as_of=as_of) == \
            trust_profile(other, indexer=ix, leaves=leaves, as_of=as_of)  # another merchant's leaf: no effect
    finally:
        service.close()


def test_a_moved_index_is_never_served_from_a_cache(t: T, ix: Indexer, manifest: Manifest,
                                                    database: Database) -> None:
    """What the profile remembers (the index's reads while its cursor stands still; leaves parsed and proved, by
    leaf hash and checkpoint) never outlives what it depends on. For the same merchant, moment and leaves: a
    revocation, a new dispute, a takedown and a new checkpoint change nothing until indexed, and everything once
    indexed, equal to a fresh indexer's profile and the plain script's."""
    m = t.a.merchant.address
    cid = issue(t, make_cert(t.world, "cache-revoked"))
    service = make_service(database)
    try:
        for i in range(6):
            order = f"trust-cache-{i}"
            service.submit(submission(order, rating=1 + i % 5, merchant=m, product=PRODUCT,
                                      att=attestation(order, merchant=m, product=PRODUCT)))
        leaves = service.leaves(0, service.size)
        anchor(t, leaves, 4, 0)
        ix.sync()
        before = trust_profile(m, indexer=ix, leaves=service, as_of=t.now())  # the caches filled
        assert (before.certificates.revoked, before.disputes.opened, before.reviews.taken_down,
                before.reviews.verified_size) == (0, 0, 0, 4)

        t.chain.increase_time(60)  # a live node may stamp the next block with the same second as `before`
        t.do(t.a.issuer, t.world.d.registry.functions.revoke(cid, REASON))
        open_dispute(t, "trust-cache", m, t.x.buyer)
        t.review_final(Outcome.REVIEW_REMOVED, leaf=1)
        t.chain.increase_time(60)  # a live node may stamp the next block with the same second
        anchor(t, leaves, 6, 4)
        as_of = t.now()
        stale = trust_profile(m, indexer=ix, leaves=service, as_of=as_of)  # the index has not seen them yet
        assert (stale.certificates.revoked, stale.disputes.opened, stale.reviews.taken_down,
                stale.reviews.verified_size) == (0, 0, 0, 4)

        ix.sync()
        moved = trust_profile(m, indexer=ix, leaves=service, as_of=as_of)
        assert (moved.certificates.revoked, moved.disputes.opened, moved.reviews.taken_down,
                moved.reviews.verified_size) == (1, 1, 1, 6)
        uncached = Indexer(t.world.w3, database, manifest, retry_delay=0)
        assert moved.to_json() == trust_profile(m, indexer=uncached, leaves=service, as_of=as_of).to_json()
        assert moved.to_json() == profile(t, ix, manifest, m, leaves, as_of=as_of).to_json()  # the plain script too
        # and the past stays the past: the first moment again, from the moved index
        assert trust_profile(m, indexer=ix, leaves=service, as_of=before.as_of).to_json() == before.to_json()
    finally:
        service.close()


# ---------------------------------------------------------------------------------------------- the formula

counts = st.integers(min_value=0, max_value=60)
inputs = st.builds(
    TrustInputs, certificates_valid=counts, certificates_revoked=counts, certificates_failed=counts,
    stars=st.tuples(counts, counts, counts, counts, counts), responses_timely=counts, responses_missed=counts,
    outcomes_rejected=counts, outcomes_upheld=counts, remedies_fulfilled=counts, remedies_unpaid=counts,
    standing=st.sampled_from([0, 1, 2, 3]), warnings=st.integers(0, 5), suspensions=st.integers(0, 5),
    bans=st.integers(0, 3))
FAVOURABLE = ("certificates_valid", "responses_timely", "outcomes_rejected", "remedies_fulfilled")
UNFAVOURABLE = ("certificates_revoked", "certificates_failed", "responses_missed", "outcomes_upheld",
                "remedies_unpaid", "warnings", "suspensions", "bans")


def bump(i: TrustInputs, field: str) -> TrustInputs:
    return dataclasses.replace(i, **{field: getattr(i, field) + 1})


def add_stars(i: TrustInputs, rating: int, n: int = 1) -> TrustInputs:
    stars = list(i.stars)
    stars[rating - 1] += n
    return dataclasses.replace(i, stars=(stars[0], stars[1], stars[2], stars[3], stars[4]))


@given(inputs)
def test_score_is_bounded_and_rounded_half_up(i: TrustInputs) -> None:
    s = score(i)
    assert 0 <= s.exact <= 100 and 0 <= s.score <= 100
    assert s.score - s.exact <= 0.5 < s.score - s.exact + 1  # round half up, exactly
    assert all(0 < term.value < 1 for term in s.terms)


@given(inputs, st.sampled_from(FAVOURABLE))
def test_favourable_evidence_never_lowers_the_score(i: TrustInputs, field: str) -> None:
    """Adding a valid certificate, a timely response, a rejected dispute or a fulfilled remedy."""
    assert score(bump(i, field)).exact >= score(i).exact
    assert score(bump(i, field)).score >= score(i).score


@given(inputs, st.sampled_from(UNFAVOURABLE))
def test_unfavourable_evidence_never_raises_the_score(i: TrustInputs, field: str) -> None:
    """Adding a revoked or failed certificate, a missed response (a default ruling), an upheld dispute, an
    unpaid remedy or a sanction."""
    assert score(bump(i, field)).exact <= score(i).exact
    assert score(bump(i, field)).score <= score(i).score


@given(inputs, st.integers(1, 5))
def test_reviews_move_the_score_their_way(i: TrustInputs, rating: int) -> None:
    s = score(i).exact
    assert score(add_stars(i, 5)).exact >= s >= score(add_stars(i, 1)).exact
    if rating < 5 and i.stars[rating - 1]:  # one review rated a star higher never lowers the score
        assert score(add_stars(add_stars(i, rating, -1), rating + 1)).exact >= s


@given(inputs)
def test_better_standing_never_lowers_the_score(i: TrustInputs) -> None:
    by_standing = {st_: score(dataclasses.replace(i, standing=st_)).exact for st_ in (0, 1, 2, 3)}
    assert by_standing[0] == by_standing[3] == 0 <= by_standing[2] <= by_standing[1]


def test_small_samples_are_smoothed() -> None:
    one_five = score(add_stars(TrustInputs(), 5)).terms[1].value
    many_fours = score(add_stars(TrustInputs(), 4, 500)).terms[1].value
    assert one_five < many_fours
    one_valid = score(TrustInputs(certificates_valid=1)).terms[0].value
    assert one_valid < score(TrustInputs(certificates_valid=50, certificates_revoked=1)).terms[0].value
    assert score(TrustInputs()).score == 50  # an admitted merchant with no record yet: neutral


def test_worked_example_of_the_documentation() -> None:
    """docs/trust-profile.md, "Worked example": the same inputs give the numbers printed there."""
    example = TrustInputs(certificates_valid=3, certificates_revoked=1, stars=(1, 0, 1, 4, 6),
                          responses_timely=4, responses_missed=1, outcomes_rejected=2, outcomes_upheld=3,
                          remedies_fulfilled=2, remedies_unpaid=1, warnings=1)
    s = score(example)
    assert [f"{t.value.numerator}/{t.value.denominator}" for t in s.terms] == \
        ["2/3", "29/44", "5/7", "3/7", "3/5"]
    assert (s.exact.numerator, s.exact.denominator, s.score) == (48005, 847, 57)
