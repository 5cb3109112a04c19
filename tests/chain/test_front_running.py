"""Id front-running (issue 9, Attacks): someone who sees an honest transaction while it is pending sends the
same call first, or squats the id it will create. For every id the contracts derive, and every nonce a caller
chooses, the attempt is refused with its named error, or takes an id of its own, and the honest transaction,
broadcast afterwards exactly as it was signed, still gives the id it expected. Two attempts are not refused and
are pinned down exactly: a forward request executed first by someone else than its relayer does what its
signer asked (the relayer's copy then reverts in the forwarder), and a purchase dispute id, which binds the
order rather than the claimant, goes to whoever first opens it with any valid attestation of that order (only
the order signer can make a second one).

The "pending" transaction is real: the honest actor's transaction is signed (nonce, gas and fees fixed) but
held back, and the attacker works from what a mempool watcher would see, the signed bytes. The attacker's copy
is mined first; then the held-back bytes are broadcast unchanged. This is the order a front-runner with a
higher fee obtains, on py-evm (one transaction per block) as on Hardhat and Anvil.

Ids under test (docs/formats.md, docs/disputes.md): a certificate's id is the EIP-712 struct hash of its
record, which names the issuer and the merchant; an offer is signed by the issuer over the record, a nonce and
a deadline; a purchase dispute's id is derived from the order commitment alone; a review challenge's id from
(challenger, leaf index); a forwarded request carries its signer's sequential forwarder nonce; a governance act
id is a counter.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

from ledger.chain import Transactor, _raise_named
from ledger.eip712 import FORWARD_REQUEST_FIELDS, certificate_id, forwarder_domain, sign_forward_request

from ..conftest import World, reverts
from .test_certificates import block_time, events, issuer_id, make_cert, offer, state
from .test_disputes import (
    LEAF,
    REVIEW_CATEGORY,
    ZERO32,
    Kind,
    Phase,
    T,
    purchase_id,
    review_id,
)

pytestmark = pytest.mark.chain

DAY = 24 * 3600
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")


# ---------------------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Pending:
    """An honest transaction, signed and held back: what a front-runner sees in the mempool."""

    actor: Transactor
    raw: bytes
    tx_hash: bytes
    to: str
    data: bytes


def pending(world: World, actor: Transactor, call: ContractFunction) -> Pending:
    """Sign ``call`` from ``actor`` (gas estimated now, before anyone front-runs it) without broadcasting."""
    w3 = world.w3
    estimate = call.estimate_gas({"from": actor.address})
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tx = call.build_transaction({
        "from": actor.address, "gas": estimate * 2 + 50_000, "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(actor.address, "pending"),
        "maxFeePerGas": 4 * base_fee + 10, "maxPriorityFeePerGas": 1,
    })
    signed = actor.account.sign_transaction(tx)
    raw = bytes(signed.raw_transaction)
    # what the watcher reads: the destination and calldata of the signed bytes
    seen = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    return Pending(actor, raw, bytes(signed.hash), to_checksum_address(seen["to"]), bytes(seen["data"]))


def broadcast(world: World, p: Pending) -> TxReceipt:
    """Send the held-back bytes unchanged; return the receipt (status 0 if it reverts when mined)."""
    with contextlib.suppress(Web3RPCError):  # Hardhat mines a reverting transaction but answers with an error
        world.w3.eth.send_raw_transaction(p.raw)
    p.actor._nonce = None
    return p.actor.wait(p.tx_hash, timeout=20)


def why_reverted(world: World, p: Pending) -> None:
    """Raise the named error ``p``'s call gives now (after it was mined with status 0)."""
    try:
        world.w3.eth.call({"from": p.actor.address, "to": p.to, "data": p.data})
    except Exception as exc:
        _raise_named(exc)
        raise
    raise AssertionError("the call does not revert")


def copy_and_send(world: World, attacker: Transactor, to: str, data: bytes) -> TxReceipt:
    """The front-runner's transaction: ``data`` sent to ``to`` from the attacker's own account, simulated first
    (a refusal raises its named error, as ``Transactor.send`` does) and mined before the honest one."""
    w3 = world.w3
    params: dict[str, Any] = {"from": attacker.address, "to": to, "data": data}
    try:
        w3.eth.call(params)
        gas = w3.eth.estimate_gas(params)
    except Exception as exc:
        _raise_named(exc)
        raise
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tx = {**params, "gas": gas * 2 + 50_000, "chainId": w3.eth.chain_id, "value": 0,
          "nonce": w3.eth.get_transaction_count(attacker.address, "pending"),
          "maxFeePerGas": 4 * base_fee + 1000, "maxPriorityFeePerGas": 1000}
    signed = attacker.account.sign_transaction(tx)
    attacker._nonce = None
    receipt = attacker.wait(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=20)
    assert receipt["status"] == 1
    return receipt


def relayed_copy(world: World, attacker: Transactor, to: str, data: bytes) -> TxReceipt:
    """The front-runner's copy sent through the forwarder as its own signed request (the relayer pays)."""
    call = _Raw(to, data)
    request = world.forward_request(attacker, call)  # type: ignore[arg-type]
    return world.actors.relayer.send(world.d.forwarder.functions.execute(request))


@dataclass(frozen=True)
class _Raw:
    """Just enough of a ContractFunction for World.forward_request: a destination and calldata."""

    address: str
    data: bytes

    def _encode_transaction_data(self) -> str:
        return "0x" + self.data.hex()


def issued_ids(world: World, receipt: TxReceipt) -> list[tuple[bytes, str, str]]:
    """(id, merchant, anchoredBy) of each CertificateIssued in ``receipt``."""
    return [(bytes(e.args.id), e.args.merchant, e.args.anchoredBy)
            for e in events(world.d.registry, "CertificateIssued", receipt)]


def assert_unknown(world: World, cid: bytes) -> None:
    assert state(world, cid) == (0, 0, 0, 0, 0, 0, False)


def forward_signer_after_use(world: World, request: tuple[Any, ...], used_nonce: int) -> str:
    """Whom the forwarder recovers from ``request`` once its nonce has moved on (``used_nonce + 1``)."""
    frm, to, value, gas, deadline, data, signature = request
    message = encode_typed_data(
        domain_data=forwarder_domain(world.d.chain_id, world.d.forwarder.address),
        message_types={"ForwardRequest": FORWARD_REQUEST_FIELDS},
        message_data={"from": frm, "to": to, "value": value, "gas": gas, "nonce": used_nonce + 1,
                      "deadline": deadline, "data": data},
    )
    return str(Account.recover_message(message, signature=signature))


# ---------------------------------------------------------------------------------------------- 1. issue


@pytest.mark.parametrize("attacker", ["stranger", "issuer2", "merchant", "relayer"])
@pytest.mark.parametrize("route", ["direct", "relayed"])
def test_issue_copied_from_the_mempool_is_refused(world: World, attacker: str, route: str) -> None:
    """The issuer's pending issue(record), sent first from another account: the record names its issuer and
    the registry checks it against the signer, so the copy is refused and the issuer's own bytes then record
    the certificate under the id the issuer computed."""
    a = world.actors
    c = make_cert(world, f"fr-issue-{attacker}-{route}")
    cid = certificate_id(c)
    p = pending(world, a.issuer, world.d.registry.functions.issue(c.as_tuple()))
    thief = a.by_name[attacker]
    with reverts("CertificateRegistryNotIssuer", thief.address, a.issuer.address):
        if route == "direct":
            copy_and_send(world, thief, p.to, p.data)
        else:
            relayed_copy(world, thief, p.to, p.data)
    assert_unknown(world, cid)

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    assert issued_ids(world, receipt) == [(cid, a.merchant.address, a.issuer.address)]
    assert state(world, cid) == (issuer_id(world, a.issuer), block_time(world, receipt), c.valid_until, 0, 0,
                                 c.kind, False)


# ---------------------------------------------------------------------------------------------- 2. anchor


@pytest.mark.parametrize("attacker", ["stranger", "merchant2", "issuer", "issuer2", "relayer"])
def test_anchor_copied_from_the_mempool_is_refused(world: World, attacker: str) -> None:
    """The merchant's pending anchor(offer) sent first from another account: the record names its merchant and
    the registry checks it against the signer (before the nonce is spent), so the copy is refused, the issuer's
    nonce stays unused, and the merchant's own bytes then anchor the certificate under the expected id."""
    a = world.actors
    r = world.d.registry.functions
    c = make_cert(world, f"fr-anchor-{attacker}")
    cid = certificate_id(c)
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=77, deadline=deadline)
    p = pending(world, a.merchant, r.anchor(c.as_tuple(), 77, deadline, sig))
    thief = a.by_name[attacker]
    with reverts("CertificateRegistryNotMerchant", thief.address, a.merchant.address):
        copy_and_send(world, thief, p.to, p.data)
    with reverts("CertificateRegistryNotMerchant", thief.address, a.merchant.address):
        relayed_copy(world, thief, p.to, p.data)
    assert_unknown(world, cid)
    assert not r.isNonceUsed(a.issuer.address, 77).call()

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    assert issued_ids(world, receipt) == [(cid, a.merchant.address, a.merchant.address)]
    assert [dict(e.args) for e in events(world.d.registry, "NonceUsed", receipt)] == [
        {"issuer": a.issuer.address, "nonce": 77}]
    assert state(world, cid)[1] == block_time(world, receipt)


def test_anchor_request_relayed_by_someone_else_first_is_the_merchants_own(world: World) -> None:
    """The merchant's signed forward request (pending in the relayer's transaction) executed first by a
    stranger who pays the gas: the forwarder appends the request's signer, so the stranger anchors the same
    certificate for the same merchant, recorded as anchored by the merchant, with the same id: harmless. The
    relayer's transaction then reverts with the forwarder's ERC2771ForwarderInvalidSigner (the merchant's
    forwarder nonce has moved on), and the certificate stays exactly the merchant's."""
    a = world.actors
    r = world.d.registry.functions
    c = make_cert(world, "fr-anchor-relayed")
    cid = certificate_id(c)
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=78, deadline=deadline)
    nonce = world.d.forwarder.functions.nonces(a.merchant.address).call()
    request = world.forward_request(a.merchant, r.anchor(c.as_tuple(), 78, deadline, sig))
    p = pending(world, a.relayer, world.d.forwarder.functions.execute(request))

    first = copy_and_send(world, a.stranger, p.to, p.data)
    assert first["from"] == a.stranger.address
    assert issued_ids(world, first) == [(cid, a.merchant.address, a.merchant.address)]
    anchored = state(world, cid)
    assert anchored == (issuer_id(world, a.issuer), block_time(world, first), c.valid_until, 0, 0, c.kind,
                        False)
    assert world.d.forwarder.functions.nonces(a.merchant.address).call() == nonce + 1

    receipt = broadcast(world, p)
    assert receipt["status"] == 0
    with reverts("ERC2771ForwarderInvalidSigner", forward_signer_after_use(world, request, nonce),
                 a.merchant.address):
        why_reverted(world, p)
    assert state(world, cid) == anchored
    assert world.d.forwarder.functions.nonces(a.merchant.address).call() == nonce + 1


def test_an_issuers_offer_nonce_cannot_be_burnt_by_anyone_else(world: World) -> None:
    """Offer nonces are chosen by the issuer. A watcher who reads the nonce of a pending anchor and cancels
    it first spends only its own bitmap (cancelNonces acts on the signer's nonces), so the anchor goes
    through."""
    a = world.actors
    r = world.d.registry.functions
    c = make_cert(world, "fr-nonce")
    deadline = world.chain.now() + 10 * DAY
    nonce = 300  # word 1, bit 44
    sig = offer(world, c, nonce=nonce, deadline=deadline)
    p = pending(world, a.merchant, r.anchor(c.as_tuple(), nonce, deadline, sig))
    for thief in (a.stranger, a.merchant2, a.issuer2):
        receipt = copy_and_send(world, thief, world.d.registry.address,
                                bytes.fromhex(r.cancelNonces(nonce >> 8, 1 << (nonce & 0xFF))
                                              ._encode_transaction_data()[2:]))
        assert [dict(e.args) for e in events(world.d.registry, "NoncesCancelled", receipt)] == [
            {"issuer": thief.address, "wordPos": 1, "mask": 1 << 44}]
        assert r.isNonceUsed(thief.address, nonce).call()
    assert not r.isNonceUsed(a.issuer.address, nonce).call()

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    assert issued_ids(world, receipt) == [(certificate_id(c), a.merchant.address, a.merchant.address)]


# ---------------------------------------------------------------------------------------------- 3. purchase


@pytest.mark.parametrize("attacker", ["stranger", "merchant", "buyer2", "relayer"])
@pytest.mark.parametrize("route", ["direct", "relayed"])
def test_purchase_attestation_copied_from_the_mempool_is_refused(t: T, attacker: str, route: str) -> None:
    """The buyer's pending openPurchaseDispute, attestation and order signer's signature included, sent first
    by someone else: the attestation names the buyer key, so the copy is refused; the buyer's own bytes then
    open the purchase's dispute under purchaseDisputeId(orderCommitment)."""
    world = t.world
    att, sig = t.attest(f"fr-order-{attacker}-{route}")
    did = purchase_id(att.order_commitment)
    assert t.dr.purchaseDisputeId(att.order_commitment).call() == did
    p = pending(world, t.x.buyer, t.open_call(att, sig))
    thief = t.x.buyer2 if attacker == "buyer2" else t.a.by_name[attacker]
    with reverts("DisputeRegistryUnauthorized", thief.address):
        if route == "direct":
            copy_and_send(world, thief, p.to, p.data)
        else:
            relayed_copy(world, thief, p.to, p.data)
    assert t.get(did).phase == Phase.NONE

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    opened = [args for name, args in t.events(receipt) if name == "PurchaseDisputeOpened"]
    assert [(o["id"], o["claimant"], o["merchant"], o["orderCommitment"]) for o in opened] == [
        (did, t.x.buyer.address, t.a.merchant.address, att.order_commitment)]
    d = t.get(did)
    assert (d.kind, d.phase, d.claimant, d.merchant, d.subject) == (
        Kind.PURCHASE, Phase.AWAITING_RESPONSE, t.x.buyer.address, t.a.merchant.address, att.order_commitment)


def test_a_purchase_dispute_id_binds_the_order_not_the_claimant(t: T) -> None:
    """The purchase dispute id is derived from the order commitment alone (one dispute per purchase), and the
    claimant is bound only through the order signer's attestation. So the id can be taken first by the
    holder of any other valid attestation for the same order: here the order signer has attested the order a
    second time, naming another buyer key (a re-issued attestation). Whoever opens first owns the purchase's
    only dispute; the other key is refused with DisputeRegistryAlreadyOpened. Nobody without the order
    signer's signature can do this (previous test)."""
    world = t.world
    att, sig = t.attest("fr-reissued")
    att2, sig2 = t.attest("fr-reissued", buyer=t.x.buyer2.address)
    assert att2.order_commitment == att.order_commitment
    did = purchase_id(att.order_commitment)
    p = pending(world, t.x.buyer, t.open_call(att, sig))

    first = copy_and_send(world, t.x.buyer2, world.d.disputes.address,
                          bytes.fromhex(t.open_call(att2, sig2)._encode_transaction_data()[2:]))
    assert [args["id"] for name, args in t.events(first) if name == "PurchaseDisputeOpened"] == [did]
    taken = t.get(did)
    assert taken.claimant == t.x.buyer2.address

    receipt = broadcast(world, p)
    assert receipt["status"] == 0
    with reverts("DisputeRegistryAlreadyOpened", did):
        why_reverted(world, p)
    assert t.get(did) == taken


# ---------------------------------------------------------------------------------------------- 4. challenges


SQUATS = {
    # name: (actor, the merchant its call names, copied verbatim?, expected error or None for its own id)
    "stranger-copy": ("stranger", "merchant", True, "DisputeRegistryUnauthorized"),
    "merchant2-copy": ("merchant2", "merchant", True, "DisputeRegistryUnauthorized"),
    "relayer-copy": ("relayer", "merchant", True, "DisputeRegistryUnauthorized"),
    "stranger-as-merchant": ("stranger", "stranger", False, "DisputeRegistryUnknownMerchant"),
    "merchant2-own-challenge": ("merchant2", "merchant2", False, None),
    # the operator's referral of the merchant's review is byte for byte the merchant's call
    "operator-copy": ("operator", "merchant", True, None),
}


@pytest.mark.parametrize("squat", list(SQUATS))
def test_a_review_challenge_id_cannot_be_squatted(t: T, squat: str) -> None:
    """Someone sees the merchant's pending challengeReview(leaf) and challenges the same leaf first. A verbatim
    copy is refused (the named merchant must be the signer), except from the log operator, whose referral of
    the same review is the same calldata and opens the operator's own id; a challenge in the squatter's own name is refused
    or gets the squatter's own id (the id binds the challenger); the merchant's own bytes then open
    reviewChallengeId(merchant, leaf)."""
    world = t.world
    t.anchor()
    merchant = t.a.merchant.address
    mine = review_id(merchant, LEAF)
    assert t.dr.reviewChallengeId(merchant, LEAF).call() == mine
    p = pending(world, t.a.merchant, t.dr.challengeReview(LEAF, merchant, REVIEW_CATEGORY, ZERO32, ""))

    who, named, verbatim, error = SQUATS[squat]
    squatter = t.a.by_name[who]
    named_address = t.a.by_name[named].address
    data = p.data if verbatim else bytes.fromhex(
        t.dr.challengeReview(LEAF, named_address, REVIEW_CATEGORY, ZERO32, "")._encode_transaction_data()[2:])
    assert verbatim == (data == p.data)
    theirs = review_id(squatter.address, LEAF)
    if error is not None:
        args = (named_address,) if error == "DisputeRegistryUnknownMerchant" else (squatter.address,)
        with reverts(error, *args):
            copy_and_send(world, squatter, p.to, data)
        assert t.get(theirs).phase == Phase.NONE
    else:
        first = copy_and_send(world, squatter, p.to, data)
        assert [args["id"] for name, args in t.events(first) if name == "ReviewChallenged"] == [theirs]
        assert theirs != mine
        assert t.get(theirs).claimant == squatter.address
    assert t.get(mine).phase == Phase.NONE

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    challenged = [args for name, args in t.events(receipt) if name == "ReviewChallenged"]
    assert [(c["id"], c["claimant"], c["merchant"], c["leafIndex"]) for c in challenged] == [
        (mine, merchant, merchant, LEAF)]
    d = t.get(mine)
    assert (d.kind, d.phase, d.claimant, d.merchant, d.subject) == (
        Kind.REVIEW, Phase.AWAITING_RESPONSE, merchant, merchant, LEAF.to_bytes(32, "big"))
    if error is None:  # the squatter's challenge is a separate dispute, untouched
        assert t.get(theirs).claimant == squatter.address


# ---------------------------------------------------------------------------------------------- 5. others


def test_a_governance_act_id_is_a_counter_only_governors_advance(world: World) -> None:
    """Act ids are not chosen by the caller: a stranger's schedule call, sent before the governor's pending
    one, is refused and does not move the counter, so the governor's act gets the id it predicted."""
    a = world.actors
    g = world.d.governance.functions
    cid = keccak(text="fr-act-certificate")
    reason = keccak(text="reason:fraudulent-document")
    predicted = g.actCount().call() + 1
    p = pending(world, a.governor, g.scheduleCertificateRevocation(cid, reason))
    for thief in (a.stranger, a.issuer, a.merchant, a.relayer):
        with reverts("TrustGovernanceUnauthorized", thief.address, GOVERNOR_ROLE):
            copy_and_send(world, thief, p.to, p.data)
        with reverts("TrustGovernanceUnauthorized", thief.address, GOVERNOR_ROLE):
            relayed_copy(world, thief, p.to, p.data)
    assert g.actCount().call() == predicted - 1

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    scheduled = events(world.d.governance, "ActScheduled", receipt)
    assert [(e.args.actId, e.args.ref) for e in scheduled] == [(predicted, cid)]
    assert g.actCount().call() == predicted


def test_a_forwarder_nonce_cannot_be_spent_by_anyone_else(world: World) -> None:
    """The forwarder's nonce is the signer's: a stranger who builds a request in the issuer's name with the
    issuer's next nonce cannot sign it, and its own requests advance only its own nonce; the issuer's pending
    relayed request then executes as the issuer."""
    a = world.actors
    r = world.d.registry.functions
    c = make_cert(world, "fr-forwarder-nonce")
    nonce = world.d.forwarder.functions.nonces(a.issuer.address).call()
    request = world.forward_request(a.issuer, r.issue(c.as_tuple()))
    p = pending(world, a.relayer, world.d.forwarder.functions.execute(request))

    call = r.issue(c.as_tuple())
    forged = sign_forward_request(  # the stranger's signature over a request naming the issuer and its nonce
        a.stranger.account.key, sender=a.issuer.address, to=world.d.registry.address,
        data=bytes.fromhex(call._encode_transaction_data()[2:]), gas=2_000_000, nonce=nonce,
        deadline=world.chain.now() + 3600, chain_id=world.d.chain_id, forwarder=world.d.forwarder.address)
    with reverts("ERC2771ForwarderInvalidSigner", a.stranger.address, a.issuer.address):
        copy_and_send(world, a.stranger, world.d.forwarder.address,
                      bytes.fromhex(world.d.forwarder.functions.execute(forged)._encode_transaction_data()[2:]))
    other = make_cert(world, "fr-forwarder-nonce-own", issuer=a.issuer2)
    own = world.forward_request(a.issuer2, r.issue(other.as_tuple()))  # someone else's request, mined first
    copy_and_send(world, a.stranger, world.d.forwarder.address,
                  bytes.fromhex(world.d.forwarder.functions.execute(own)._encode_transaction_data()[2:]))
    assert world.d.forwarder.functions.nonces(a.issuer.address).call() == nonce

    receipt = broadcast(world, p)
    assert receipt["status"] == 1
    assert issued_ids(world, receipt) == [(certificate_id(c), a.merchant.address, a.issuer.address)]
    assert world.d.forwarder.functions.nonces(a.issuer.address).call() == nonce + 1

