"""A purchase dispute end to end, and a review challenge that takes a review down (smoke level)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation

from ..conftest import World, reverts

pytestmark = pytest.mark.chain

REFUND, REVIEW_REMOVED = 1, 5
AWAITING_RESPONSE, AWAITING_RULING, RULED, REMEDY_DUE, REMEDY_REPORTED, CLOSED = 1, 2, 3, 6, 7, 9


def _attestation(world: World, buyer: str, order: str = "order-1") -> tuple[PurchaseAttestation, bytes]:
    att = PurchaseAttestation(keccak(text=order), world.actors.merchant.address, keccak(text="gtin:1"), buyer,
                              world.chain.now() - 100)
    sig = sign_purchase_attestation(world.actors.order_signer.account.key, att, chain_id=world.d.chain_id,
                                    governance=world.d.governance.address)
    return att, sig


def test_purchase_dispute_to_closed(world: World) -> None:
    a, dr = world.actors, world.d.disputes.functions
    att, sig = _attestation(world, a.stranger.address)
    assert dr.attestationDigest(att.as_tuple()).call()  # digest computable
    a.stranger.send(dr.openPurchaseDispute(att.as_tuple(), sig, keccak(text="salted"), keccak(text="cat:defect"),
                                           keccak(text="photo"), "ipfs://photo"))
    did = dr.purchaseDisputeId(att.order_commitment).call()
    d = dr.dispute(did).call()
    assert d[1] == AWAITING_RESPONSE and d[17] == a.arbitrator.address  # only one arbitrator appointed
    with reverts("DisputeRegistryAlreadyOpened", did):
        a.stranger.send(dr.openPurchaseDispute(att.as_tuple(), sig, b"\0" * 32, b"\0" * 32, b"\0" * 32, ""))
    a.merchant.send(dr.respond(did, keccak(text="reply"), "ipfs://reply"))
    a.arbitrator.send(dr.rule(did, REFUND, 1999, keccak(text="rationale")))
    assert dr.dispute(did).call()[1] == RULED
    with reverts("DisputeRegistryDeadlineNotPassed"):
        a.stranger.send(dr.finalize(did))
    world.chain.increase_time(3 * 24 * 3600 + 1)
    a.stranger.send(dr.finalize(did))
    assert dr.dispute(did).call()[1] == REMEDY_DUE
    a.merchant.send(dr.reportRemedy(did, keccak(text="refund-tx")))
    a.stranger.send(dr.confirmRemedy(did))
    assert dr.dispute(did).call()[1] == CLOSED


def test_forged_attestation_and_copied_attestation(world: World) -> None:
    a, dr = world.actors, world.d.disputes.functions
    att, sig = _attestation(world, a.stranger.address)
    with reverts("DisputeRegistryUnauthorized", a.relayer.address):  # a copied attestation is useless
        a.relayer.send(dr.openPurchaseDispute(att.as_tuple(), sig, b"\0" * 32, b"\0" * 32, b"\0" * 32, ""))
    forged = sign_purchase_attestation(a.merchant.account.key, att, chain_id=world.d.chain_id,
                                       governance=world.d.governance.address)
    with reverts("DisputeRegistryInvalidAttestation"):
        a.stranger.send(dr.openPurchaseDispute(att.as_tuple(), forged, b"\0" * 32, b"\0" * 32, b"\0" * 32, ""))


def test_review_challenge_takes_review_down(world: World) -> None:
    a, dr = world.actors, world.d.disputes.functions
    with reverts("DisputeRegistryUnknownReview", 3, 0):  # only anchored reviews can be hidden
        a.operator.send(dr.emergencyHide(3, keccak(text="reason:illegal")))
    a.operator.send(world.d.review_log.functions.appendCheckpoint(10, keccak(text="root"), []))
    a.operator.send(dr.emergencyHide(3, keccak(text="reason:illegal")))
    assert dr.isReviewHidden(3).call() is True
    a.merchant.send(dr.challengeReview(3, a.merchant.address, keccak(text="cat:fake"), b"\0" * 32, ""))
    did = dr.reviewChallengeId(a.merchant.address, 3).call()
    a.operator.send(dr.respond(did, keccak(text="defence"), ""))
    a.arbitrator.send(dr.rule(did, REVIEW_REMOVED, 0, keccak(text="rationale")))
    world.chain.increase_time(3 * 24 * 3600 + 1)
    assert dr.isReviewHidden(3).call() is True  # still hidden: the hide outlasts a ruling given in time
    a.stranger.send(dr.finalize(did))
    assert dr.isReviewHidden(3).call() is True
    world.chain.increase_time(30 * 24 * 3600)
    assert dr.isReviewHidden(3).call() is True  # taken down for good
    assert dr.takedown(3).call()[4] == did
    assert dr.dispute(did).call()[1] == CLOSED
