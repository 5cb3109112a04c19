"""Early-warning signals over a real log and an indexed chain (ledger/signals.py, docs/signals.md).

Synthetic brushing: reviews go through the review log service (its clock set to the scenario's days, stored on
SQLite and PostgreSQL through ``database``), a checkpoint of them is anchored on the chain and indexed; disputes,
revocations, failed spot checks and an unpaid remedy are driven on the chain and indexed. The signals must be the
ones the scenario plants, with the data that raised them, and nothing on the honest merchant; an auditor's mirror
(the leaf bytes from index 0) must give the very same report as the operator's store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.indexer import Indexer
from ledger.reviewlog import ReviewLogService, ReviewSubmission
from ledger.reviews import reviewer_pseudonym
from ledger.signals import DAY, SignalSource, Subjects
from ledger.storage import Database
from ledger.trust import REMEDY_PERIOD, trust_profile

from ..storage.reviewlog_helpers import PSEUDONYM_KEY, attestation, make_service, submission
from .test_certificates import SPOT_CHECK_FAIL, make_cert
from .test_disputes import T
from .test_trust import anchor, issue, open_dispute

pytestmark = pytest.mark.chain

BRUSHER = "0x" + keccak(text="signals:brusher")[12:].hex()
HONEST = "0x" + keccak(text="signals:honest")[12:].hex()
SHOP = "0x" + keccak(text="signals:shop")[12:].hex()
REASON = keccak(text="reason:signals-test")


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


@pytest.fixture
def service(database: Database, t: T) -> Iterator[ReviewLogService]:
    now = t.now()
    s = make_service(database, clock=lambda: float(now), max_clock_skew=200 * DAY)
    try:
        yield s
    finally:
        s.close()


def review(order: str, merchant: str, at: int, *, rating: int, user: str, product_tag: str = "p") -> ReviewSubmission:
    product = keccak(text=f"gtin:signals-{product_tag}")
    return submission(order, rating=rating, merchant=merchant, product=product, user_id=user, submitted_at=at,
                      att=attestation(order, merchant=merchant, product=product, purchased_at=at - DAY))


def test_brushing_scenarios_in_the_log(t: T, ix: Indexer, service: ReviewLogService) -> None:
    """Two months of a trickle then 200 five-star reviews in an hour; a pseudonym reviewing 50 products in a day;
    an honest merchant with steady reviews all along."""
    now = t.now()
    start = now - 62 * DAY
    subs = [review(f"trickle-{d}", BRUSHER, start + d * DAY + 5000, rating=2 + d % 4, user=f"t-{d}")
            for d in range(60)]
    burst_at = now - DAY
    subs += [review(f"burst-{i}", BRUSHER, burst_at + i * 18, rating=5, user=f"b-{i}", product_tag="bought")
             for i in range(200)]
    subs += [review(f"spree-{i}", SHOP, now - 20 * DAY + i * 1700, rating=5, user="spree", product_tag=f"s{i}")
             for i in range(50)]
    subs += [review(f"honest-{i}", HONEST, start + i * 6 * 3600 + 777, rating=3 + i % 3, user=f"h-{i}",
                    product_tag=f"h{i % 5}") for i in range(4 * 62)]
    results = service.submit_many(sorted(subs, key=lambda s: s.submitted_at or 0))
    assert all(not isinstance(r, Exception) for r in results)
    leaves = service.leaves(0, service.size)
    anchor(t, leaves, len(leaves), 0)
    ix.sync()
    as_of = t.now()

    source = SignalSource(ix, service)
    report = source.report(as_of=as_of)
    assert report.checkpoint == (0, len(leaves)) and report.reviews == len(leaves)
    raised = {(s.kind, s.subject_type, s.subject): s for s in report.signals}
    brusher = raised[("review-burst", "merchant", _checksum(BRUSHER))]
    bought = {r.leaf_index for r in results if not isinstance(r, Exception)} & set(
        service.leaf_indices(product=keccak(text="gtin:signals-bought")))
    assert len(bought) == 200 and bought <= set(brusher.data.leaves) and brusher.observed >= 200
    assert brusher.data.counts[-1] == brusher.observed and brusher.value >= brusher.rule.min_surprise
    assert ("rating-shift", "merchant", _checksum(BRUSHER)) in raised
    assert ("review-burst", "product", "0x" + keccak(text="gtin:signals-bought").hex()) in raised

    spree = "0x" + reviewer_pseudonym("spree", PSEUDONYM_KEY).hex()
    pseudonym = raised[("review-burst", "reviewer", spree)]
    assert pseudonym.observed == 50 and pseudonym.data.distinct_products == 50 and len(pseudonym.data.leaves) == 50

    assert not [s for s in report.signals if s.subject == _checksum(HONEST)]
    assert not any(s.subject_type == "reviewer" and s.subject != spree for s in report.signals)

    # the auditor's mirror reproduces the report; a filter answers the subject's signals only; before the burst
    mirror = SignalSource(ix, leaves).report(as_of=as_of)
    assert mirror.to_json() == report.to_json()
    tampered = SignalSource(ix, [*leaves[:-1], leaves[0]]).report(as_of=as_of)  # does not reproduce the root
    assert (tampered.checkpoint, tampered.anchored_size, tampered.reviews) == (None, len(leaves), 0)
    only = source.report(as_of=as_of, subjects=Subjects.only(merchant=HONEST))
    assert only.signals == ()
    burst_only = source.report(as_of=as_of, subjects=Subjects.only(merchant=BRUSHER), kinds=["review-burst"])
    assert [s.kind for s in burst_only.signals] == ["review-burst"]
    assert source.report(as_of=burst_at - 1, subjects=Subjects.only(merchant=BRUSHER)).signals == ()


def test_dispute_surge_revocation_and_spot_check_spikes_and_an_unpaid_remedy(t: T, ix: Indexer) -> None:
    a, reg = t.a, t.world.d.registry.functions
    merchant, issuer = a.merchant.address, a.issuer.address
    did = t.finalized("signals-remedy")  # a refund ordered and final
    final_at = t.now()
    disputes = [open_dispute(t, f"signals-{i}", merchant, t.x.buyer if i % 2 else t.x.buyer2) for i in range(5)]
    revoked = [issue(t, make_cert(t.world, f"signals-rev-{i}")) for i in range(3)]
    for cid in revoked:
        t.do(a.issuer, reg.revoke(cid, REASON))
    failed = [issue(t, make_cert(t.world, f"signals-fail-{i}", kind=SPOT_CHECK_FAIL)) for i in range(3)]
    spiked_at = t.now()
    ix.sync()
    source = SignalSource(ix, [])

    early = source.report(as_of=spiked_at)
    assert {s.kind for s in early.signals} == {"dispute-surge", "revocation-spike", "spot-check-failure-spike"}
    raised = {(s.kind, s.subject_type, s.subject): s for s in early.signals}
    surge = raised[("dispute-surge", "merchant", merchant)]
    assert [e.ref for e in surge.data.events][-5:] == disputes and surge.observed == 6  # with the remedy's
    assert all(len(e.tx_hash) == 32 for e in surge.data.events)
    for subject_type, subject in (("merchant", merchant), ("issuer", issuer)):
        assert [e.ref for e in raised[("revocation-spike", subject_type, subject)].data.events] == revoked
        assert [e.ref for e in raised[("spot-check-failure-spike", subject_type, subject)].data.events] == failed

    late = source.report(as_of=final_at + REMEDY_PERIOD + DAY, kinds=["remedy-unpaid"])
    (unpaid,) = late.signals
    assert (unpaid.subject, [r.dispute_id for r in unpaid.data.remedies]) == (merchant, [did])
    due = unpaid.data.remedies[0].due_since
    assert source.report(as_of=due + REMEDY_PERIOD, kinds=["remedy-unpaid"]).signals == ()
    assert len(source.report(as_of=due + REMEDY_PERIOD + 1, kinds=["remedy-unpaid"]).signals) == 1
    profile = trust_profile(merchant, indexer=ix, leaves=[], as_of=due + REMEDY_PERIOD + 1)
    assert profile.disputes.remedies_unpaid == 1  # the same rule as the trust profile's
