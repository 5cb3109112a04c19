"""DisputeRegistry: every transition and every refused one, with exact errors, events and stored state.

The state machine under test is the one in ``IDisputeRegistry``'s header and docs/disputes.md. Each test runs
on the shared deployed world (``world`` fixture, reverted afterwards): merchant and merchant2 are admitted,
``arbitrator`` is the only arbitrator, ``operator`` runs the review log, ``order_signer`` attests purchases.
This module adds a consumer key (``buyer``), four spare arbitrator keys and a panel key, funded once for the
module (reverted at its end). Tests that need more arbitrators appoint them from the governor.

Conventions:
* Every assertion on events lists *all* events of the dispute registry in the receipt, in order (a relayed
  receipt also ends with the forwarder's ``ExecutedForwardRequest``, checked where attribution matters).
* Stored state is compared as the whole ``dispute(id)`` struct: either built field by field, or as the
  previous struct with exactly the fields the step may change replaced (``before._replace(...)``).
* Deadlines are checked at the exact second: a block is mined at the deadline and, from a snapshot, one
  second after it (``accepted_until`` / ``refused_until``).
* The assignment rule is recomputed in Python (``pick``) from governance's list and compared with the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.artifacts import load
from ledger.chain import Transactor, _raise_named
from ledger.deploy import DisputePeriods
from ledger.eip712 import PURCHASE_FIELDS, PurchaseAttestation, purchase_domain, sign_purchase_attestation
from ledger.merkle import MerkleTree, leaf_hash

from ..conftest import World, reverts
from .test_governance import (
    BAN,
    SUSPENSION,
    WARNING,
    ZERO_ADDRESS,
    block_time,
    decoded_logs,
    force_send,
    mine_at,
)

pytestmark = pytest.mark.chain

DAY = 24 * 3600
# ledger.deploy.DisputePeriods defaults, as deployed by the world fixture
RESPONSE, RULING, APPEAL, CONFIRM, HIDE = 3 * DAY, 7 * DAY, 3 * DAY, 7 * DAY, 14 * DAY

ZERO32 = b"\x00" * 32
PRODUCT = keccak(text="gtin:06901234567892")
CATEGORY = keccak(text="category:defective")
REVIEW_CATEGORY = keccak(text="category:fake-review")
EVIDENCE = keccak(text="evidence:photo")
URI = "ipfs://bafy-evidence"
RATIONALE = keccak(text="rationale:1")
REASON = keccak(text="reason:illegal-content")
AMOUNT = 1999
IDENTITY = b"platform-user:4711"  # the consumer's identity: must never reach the chain
SALT = keccak(text="salt:claimant")
COMMITMENT = keccak(IDENTITY + SALT)
LEAF = 3
LOG_SIZE = 10


class Kind(IntEnum):
    PURCHASE = 0
    REVIEW = 1


class Phase(IntEnum):
    NONE = 0
    AWAITING_RESPONSE = 1
    AWAITING_RULING = 2
    RULED = 3
    APPEALED = 4
    ESCALATED = 5
    REMEDY_DUE = 6
    REMEDY_REPORTED = 7
    REMEDY_CONTESTED = 8
    CLOSED = 9


class Outcome(IntEnum):
    NONE = 0
    REFUND = 1
    REPLACEMENT = 2
    PARTIAL_REFUND = 3
    REJECTED = 4
    REVIEW_REMOVED = 5
    REVIEW_UPHELD = 6


MERCHANT_SUSPENDED, MERCHANT_BANNED = 2, 3  # ITrustGovernance.MerchantStatus


class Hide(IntEnum):
    NONE = 0
    EMERGENCY_HIDDEN = 1
    TAKEN_DOWN = 2
    RESTORED = 3


REMEDIES = (Outcome.REFUND, Outcome.REPLACEMENT, Outcome.PARTIAL_REFUND)
PAID = (Outcome.REFUND, Outcome.PARTIAL_REFUND)  # the outcomes that carry a (non-zero) remedy amount
PURCHASE_OUTCOMES = (*REMEDIES, Outcome.REJECTED)
REVIEW_OUTCOMES = (Outcome.REVIEW_REMOVED, Outcome.REVIEW_UPHELD)


class Dispute(NamedTuple):
    """``IDisputeRegistry.Dispute`` as ``dispute(id)`` returns it (field order checked against the ABI)."""

    kind: int
    phase: int
    resume: int
    outcome: int
    round: int
    byDefault: bool
    panel: bool
    cursor: int
    openedAt: int
    responseDeadline: int
    rulingDeadline: int
    appealDeadline: int
    claimant: str
    remedyDeadline: int
    respondent: str
    remedyAmount: int
    merchant: str
    arbitrator: str
    firstArbitrator: str
    subject: bytes


class Takedown(NamedTuple):
    """``IDisputeRegistry.Takedown``."""

    state: int
    hiddenAt: int
    lapseAt: int
    reasonCode: bytes
    disputeId: bytes


def _abi_fields(fn: str) -> list[str]:
    item = next(i for i in load("DisputeRegistry").abi if i["type"] == "function" and i["name"] == fn)
    return [c["name"] for c in item["outputs"][0]["components"]]


def test_struct_mirrors_match_the_abi() -> None:
    assert list(Dispute._fields) == _abi_fields("dispute")
    assert list(Takedown._fields) == _abi_fields("takedown")


def amount_for(outcome: int) -> int:
    """A valid remedy amount for ``outcome``: AMOUNT for Refund and PartialRefund, 0 for every other."""
    return AMOUNT if outcome in PAID else 0


# ---------------------------------------------------------------- reference implementations


def purchase_id(order_commitment: bytes) -> bytes:
    tag = keccak(text="trustledger.dispute.purchase")
    return keccak(encode(["bytes32", "bytes32"], [tag, order_commitment]))


def review_id(challenger: str, leaf: int) -> bytes:
    tag = keccak(text="trustledger.dispute.review")
    return keccak(encode(["bytes32", "address", "uint64"], [tag, challenger, leaf]))


def attestation_digest(att: PurchaseAttestation, chain_id: int, governance: str) -> bytes:
    message = encode_typed_data(domain_data=purchase_domain(chain_id, governance),
                                message_types={"PurchaseAttestation": PURCHASE_FIELDS},
                                message_data=att.as_message())
    return keccak(b"\x19" + message.version + message.header + message.body)


def pick(dispute_id: bytes, arbitrators: list[str], skip: Iterable[str], cursor: int = 0) -> tuple[str, int]:
    """The public rule: candidate k is ``arbitrators[(uint256(id) + k) % n]``, skipping ``skip``, from
    ``cursor`` on. Returns (arbitrator, cursor after it), or (zero address, n) when none is left."""
    n, start, skipped = len(arbitrators), int.from_bytes(dispute_id, "big"), set(skip)
    for k in range(cursor, n):
        candidate = arbitrators[(start + k) % n]
        if candidate not in skipped:
            return candidate, k + 1
    return ZERO_ADDRESS, max(cursor, n)


# ---------------------------------------------------------------- fixtures and helpers


@dataclass
class Extras:
    buyer: Transactor  # the key acting for the consumer
    buyer2: Transactor
    arbs: list[Transactor]  # spare arbitrator keys, appointed by tests that need them
    panel: Transactor  # the governor's panel (e.g. a multisig): holds no arbitrator role


def _key(w3: Any, label: str) -> Transactor:
    return Transactor(w3, Account.from_key(keccak(text=f"test-disputes:{label}")))


@pytest.fixture(scope="module")
def extras(_world: World) -> Iterator[Extras]:
    snap = _world.chain.snapshot()
    x = Extras(_key(_world.w3, "buyer"), _key(_world.w3, "buyer2"),
               [_key(_world.w3, f"arbitrator{i}") for i in range(2, 6)], _key(_world.w3, "panel"))
    for t in (x.buyer, x.buyer2, *x.arbs, x.panel):
        _world.chain.fund(t.address, 10**20)
    try:
        yield x
    finally:
        _world.chain.revert(snap)
        _world.actors.reset_nonces()


class T:
    """The world plus the module's extra keys, and the steps of a dispute."""

    def __init__(self, world: World, x: Extras) -> None:
        self.world, self.x, self.chain = world, x, world.chain
        self.a = world.actors
        self.dr = world.d.disputes.functions
        self.g = world.d.governance.functions
        self._extra = [x.buyer, x.buyer2, *x.arbs, x.panel]
        self._by_address = {t.address: t for t in [*self.a.by_name.values(), *self._extra]}

    # -- chain
    def who(self, address: str) -> Transactor:
        return self._by_address[address]

    def now(self) -> int:
        return self.chain.now()

    def snapshot(self) -> Any:
        return self.chain.snapshot()

    def rewind(self, snap: Any) -> None:
        self.chain.revert(snap)
        self.reset_nonces()

    def reset_nonces(self) -> None:
        self.a.reset_nonces()
        for t in self._extra:
            t._nonce = None

    def events(self, receipt: TxReceipt, *, forwarder: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """The registry's events of ``receipt`` in order (any other emitter but the forwarder fails)."""
        logs = decoded_logs(self.world, receipt, disputes=self.world.d.disputes)
        assert {label for label, _, _ in logs} <= {"disputes", "forwarder"}
        return [(name, args) for label, name, args in logs if label == "disputes" or forwarder]

    def time(self, receipt: TxReceipt) -> int:
        return block_time(self.world, receipt)

    def do(self, actor: Transactor, call: ContractFunction, *, gas: int = 3_000_000) -> TxReceipt:
        """Mine ``call`` from ``actor`` without the gas estimate (slow on py-evm); a revert raises its named
        error. Steps expected to be refused use ``actor.send`` (simulated first) instead."""
        receipt = force_send(self.world, actor, call, gas=gas)
        if receipt["status"] != 1:
            actor.simulate(call)
            raise AssertionError(f"{call.fn_name} reverted without a named error")
        return receipt

    # -- reads
    def get(self, did: bytes) -> Dispute:
        return Dispute(*self.dr.dispute(did).call())

    def takedown(self, leaf: int = LEAF) -> Takedown:
        return Takedown(*self.dr.takedown(leaf).call())

    def hidden(self, leaf: int = LEAF) -> bool:
        return bool(self.dr.isReviewHidden(leaf).call())

    def arbitrators(self) -> list[str]:
        return [self.g.arbitratorAt(i).call() for i in range(self.g.arbitratorCount().call())]

    def appoint(self, *arbs: Transactor) -> list[str]:
        for arb in arbs:
            self.do(self.a.governor, self.g.appointArbitrator(arb.address))
        return self.arbitrators()

    def arbitrator_of(self, did: bytes) -> Transactor:
        return self.who(self.get(did).arbitrator)

    def parties(self, did: bytes) -> set[str]:
        d = self.get(did)
        return {d.claimant, d.respondent, d.merchant}

    # -- purchase disputes
    def attest(self, order: str = "order-1", *, buyer: str | None = None, merchant: str | None = None,
               signer: Transactor | None = None, chain_id: int | None = None,
               governance: str | None = None) -> tuple[PurchaseAttestation, bytes]:
        att = PurchaseAttestation(keccak(text=order), merchant or self.a.merchant.address, PRODUCT,
                                  buyer or self.x.buyer.address, self.now() - 100)
        sig = sign_purchase_attestation((signer or self.a.order_signer).account.key, att,
                                        chain_id=chain_id if chain_id is not None else self.world.d.chain_id,
                                        governance=governance or self.world.d.governance.address)
        return att, sig

    def open_call(self, att: PurchaseAttestation, sig: bytes, *, evidence: bytes = EVIDENCE,
                  uri: str = URI) -> ContractFunction:
        return self.dr.openPurchaseDispute(att.as_tuple(), sig, COMMITMENT, CATEGORY, evidence, uri)

    def open(self, order: str = "order-1", *, buyer: Transactor | None = None, evidence: bytes = EVIDENCE,
             relayed: bool = False) -> tuple[bytes, TxReceipt]:
        buyer = buyer or self.x.buyer
        att, sig = self.attest(order, buyer=buyer.address)
        call = self.open_call(att, sig, evidence=evidence)
        receipt = self.world.relay(buyer, call) if relayed else self.do(buyer, call)
        return purchase_id(att.order_commitment), receipt

    def responded(self, order: str = "order-1") -> bytes:
        did, _ = self.open(order)
        self.do(self.a.merchant, self.dr.respond(did, ZERO32, ""))
        return did

    def rule(self, did: bytes, outcome: int, amount: int | None = None) -> TxReceipt:
        amount = amount_for(outcome) if amount is None else amount
        return self.do(self.arbitrator_of(did), self.dr.rule(did, outcome, amount, RATIONALE))

    def ruled(self, order: str = "order-1", outcome: int = Outcome.REFUND) -> bytes:
        did = self.responded(order)
        self.rule(did, outcome)
        return did

    def finalized(self, order: str = "order-1", outcome: int = Outcome.REFUND) -> bytes:
        did = self.ruled(order, outcome)
        self.chain.increase_time(APPEAL + 1)
        self.do(self.a.stranger, self.dr.finalize(did))
        return did

    def reported(self, order: str = "order-1") -> bytes:
        did = self.finalized(order)
        self.do(self.a.merchant, self.dr.reportRemedy(did, EVIDENCE))
        return did

    def contested(self, order: str = "order-1") -> bytes:
        did = self.reported(order)
        self.do(self.x.buyer, self.dr.contestRemedy(did, EVIDENCE))
        return did

    # -- review challenges
    def anchor(self, size: int = LOG_SIZE) -> None:
        log = self.world.d.review_log.functions
        self.do(self.a.operator, log.appendCheckpoint(size, keccak(text="root"), []))

    def challenge(self, leaf: int = LEAF, *, by: Transactor | None = None, merchant: str | None = None,
                  evidence: bytes = ZERO32, uri: str = "") -> tuple[bytes, TxReceipt]:
        by = by or self.a.merchant
        named = merchant or (self.a.merchant.address if by == self.a.operator else by.address)
        receipt = self.do(by, self.dr.challengeReview(leaf, named, REVIEW_CATEGORY, evidence, uri))
        return review_id(by.address, leaf), receipt

    def review_final(self, outcome: int, *, by: Transactor | None = None,
                     leaf: int = LEAF) -> tuple[bytes, TxReceipt]:
        """A review challenge ruled ``outcome`` at first instance and finalized; returns the finalize
        receipt."""
        did, _ = self.challenge(leaf, by=by)
        if self.get(did).phase == Phase.AWAITING_RESPONSE:
            self.do(self.a.operator, self.dr.respond(did, ZERO32, ""))
        self.rule(did, outcome, 0)
        self.chain.increase_time(APPEAL + 1)
        return did, self.do(self.a.stranger, self.dr.finalize(did))

    # -- calls by a role of a dispute
    def role(self, did: bytes, role: str, d: Dispute | None = None) -> Transactor:
        d = d or self.get(did)
        if d.phase == Phase.NONE:  # unknown dispute: whoever would act on a purchase dispute
            default = {"claimant": self.x.buyer, "respondent": self.a.merchant,
                       "arbitrator": self.a.arbitrator, "merchant": self.a.merchant}
            if role in default:
                return default[role]
        return {"claimant": lambda: self.who(d.claimant), "respondent": lambda: self.who(d.respondent),
                "arbitrator": lambda: self.who(d.arbitrator), "merchant": lambda: self.who(d.merchant),
                "governor": lambda: self.a.governor, "anyone": lambda: self.a.stranger}[role]()


@pytest.fixture
def t(world: World, extras: Extras) -> Iterator[T]:
    helper = T(world, extras)
    try:
        yield helper
    finally:
        helper.reset_nonces()


def call_from_zero(t: T, call: ContractFunction) -> Any:
    """Simulate ``call`` with ``msg.sender == address(0)`` (funded for the simulation's gas on py-evm)."""
    t.chain.fund(ZERO_ADDRESS, 10**18)
    try:
        return call.call({"from": ZERO_ADDRESS})
    except Exception as exc:
        _raise_named(exc)
        raise


def accepted_until(t: T, deadline: int, actor: Transactor, call: ContractFunction, did: bytes) -> TxReceipt:
    """``call`` is refused one second after ``deadline`` (DeadlinePassed(id, deadline)) and mined at the
    deadline second itself; the chain is left after the accepted call."""
    snap = t.snapshot()
    assert mine_at(t.world, deadline + 1, actor, call)["status"] == 0
    with reverts("DisputeRegistryDeadlinePassed", did, deadline):
        actor.simulate(call)
    t.rewind(snap)
    receipt = mine_at(t.world, deadline, actor, call)
    assert receipt["status"] == 1
    return receipt


def refused_until(t: T, deadline: int, actor: Transactor, call: ContractFunction, did: bytes) -> TxReceipt:
    """``call`` is refused before ``deadline`` and at the deadline second itself (DeadlineNotPassed(id,
    deadline)), and mined one second later; the chain is left after the accepted call."""
    with reverts("DisputeRegistryDeadlineNotPassed", did, deadline):
        actor.simulate(call)
    snap = t.snapshot()
    assert mine_at(t.world, deadline, actor, call)["status"] == 0
    t.rewind(snap)
    receipt = mine_at(t.world, deadline + 1, actor, call)
    assert receipt["status"] == 1
    return receipt


def assigned(did: bytes, arbitrator: str, cursor: int, deadline: int,
             panel: bool = False) -> tuple[str, dict[str, Any]]:
    return ("ArbitratorAssigned", {"id": did, "arbitrator": arbitrator, "cursor": cursor, "panel": panel,
                                   "rulingDeadline": deadline})


def ruled_event(did: bytes, arbitrator: str, round_: int, outcome: int, amount: int = AMOUNT,
                by_default: bool = False) -> tuple[str, dict[str, Any]]:
    return ("DisputeRuled", {"id": did, "arbitrator": arbitrator, "round": round_, "outcome": outcome,
                             "remedyAmount": amount, "rationaleHash": RATIONALE, "byDefault": by_default})


def executed(signer: str, nonce: int = 0) -> tuple[str, dict[str, Any]]:
    return ("ExecutedForwardRequest", {"signer": signer, "nonce": nonce, "success": True})


# ================================================================ opening a purchase dispute


@pytest.mark.parametrize("evidence", [EVIDENCE, ZERO32], ids=["with-evidence", "without-evidence"])
def test_open_purchase_dispute(t: T, evidence: bytes) -> None:
    att, sig = t.attest()
    assert t.dr.attestationDigest(att.as_tuple()).call() == attestation_digest(
        att, t.world.d.chain_id, t.world.d.governance.address)
    did = purchase_id(att.order_commitment)
    assert t.dr.purchaseDisputeId(att.order_commitment).call() == did
    receipt = t.do(t.x.buyer, t.open_call(att, sig, evidence=evidence))
    at = t.time(receipt)
    buyer, merchant, arbitrator = t.x.buyer.address, t.a.merchant.address, t.a.arbitrator.address
    expected = [("PurchaseDisputeOpened", {
        "id": did, "merchant": merchant, "productId": PRODUCT, "orderCommitment": att.order_commitment,
        "claimant": buyer, "claimantCommitment": COMMITMENT, "category": CATEGORY,
        "responseDeadline": at + RESPONSE})]
    if evidence != ZERO32:
        expected.append(("Evidence", {"id": did, "party": buyer, "evidenceHash": evidence, "uri": URI}))
    expected.append(assigned(did, arbitrator, 1, at + RESPONSE + RULING))
    assert t.events(receipt) == expected
    assert t.get(did) == Dispute(
        kind=Kind.PURCHASE, phase=Phase.AWAITING_RESPONSE, resume=Phase.NONE, outcome=Outcome.NONE, round=0,
        byDefault=False, panel=False, cursor=1, openedAt=at, responseDeadline=at + RESPONSE,
        rulingDeadline=at + RESPONSE + RULING, appealDeadline=0, claimant=buyer, remedyDeadline=0,
        respondent=merchant, remedyAmount=0, merchant=merchant, arbitrator=arbitrator,
        firstArbitrator=ZERO_ADDRESS, subject=att.order_commitment)


def test_claimant_identity_never_reaches_the_chain(t: T) -> None:
    """Only the salted commitment is published: neither the identity nor the salt appear in any log."""
    _, receipt = t.open()
    blob = b"".join(bytes(log["data"]) + b"".join(bytes(x) for x in log["topics"]) for log in receipt["logs"])
    assert COMMITMENT in blob
    assert IDENTITY not in blob and SALT not in blob


def test_relayed_open_is_the_buyers(t: T) -> None:
    did, receipt = t.open(relayed=True)
    events = t.events(receipt, forwarder=True)
    assert events[0][0] == "PurchaseDisputeOpened" and events[0][1]["claimant"] == t.x.buyer.address
    assert events[1] == ("Evidence", {"id": did, "party": t.x.buyer.address, "evidenceHash": EVIDENCE,
                                      "uri": URI})
    assert events[-1] == executed(t.x.buyer.address)
    assert t.get(did).claimant == t.x.buyer.address


@pytest.mark.parametrize("n", [1, 3, 5])
def test_assignment_follows_the_public_rule(t: T, n: int) -> None:
    arbs = t.appoint(*t.x.arbs[: n - 1])
    assert len(arbs) == n
    # one order per starting position, so that every residue of id mod n is exercised
    orders: dict[int, str] = {}
    i = 0
    while len(orders) < n:
        label = f"rule-{n}-{i}"
        orders.setdefault(int.from_bytes(purchase_id(keccak(text=label)), "big") % n, label)
        i += 1
    for start, label in sorted(orders.items()):
        did, receipt = t.open(label)
        expected, cursor = pick(did, arbs, t.parties(did))
        assert expected == arbs[start]
        d = t.get(did)
        assert (d.arbitrator, d.cursor) == (expected, cursor)
        assert t.events(receipt)[-1] == assigned(did, expected, cursor, d.rulingDeadline)


def test_assignment_skips_the_parties(t: T) -> None:
    """Candidates who are the merchant or the buyer are skipped: the cursor counts them as consumed."""
    arbs = t.appoint(t.x.arbs[0], t.a.merchant, t.x.buyer)
    n = len(arbs)
    i = 0
    while True:  # an order whose first two candidates are the merchant and the buyer
        label, i = f"skip-{i}", i + 1
        start = int.from_bytes(purchase_id(keccak(text=label)), "big")
        if arbs[start % n] == t.a.merchant.address and arbs[(start + 1) % n] == t.x.buyer.address:
            break
    did, receipt = t.open(label)
    expected, cursor = pick(did, arbs, t.parties(did))
    assert cursor == 3 and expected == arbs[(start + 2) % n]
    assert (t.get(did).arbitrator, t.get(did).cursor) == (expected, 3)
    assert t.events(receipt)[-1] == assigned(did, expected, 3, t.get(did).rulingDeadline)


@pytest.mark.parametrize("mode", ["stranger-direct", "stranger-relayed", "relayer-direct", "merchant-direct"])
def test_open_by_anyone_but_the_buyer_is_refused(t: T, mode: str) -> None:
    att, sig = t.attest()
    call = t.open_call(att, sig)
    who = {"stranger": t.a.stranger, "relayer": t.a.relayer, "merchant": t.a.merchant}[mode.split("-")[0]]
    with reverts("DisputeRegistryUnauthorized", who.address):
        if mode.endswith("relayed"):
            t.world.relay(who, call)
        else:
            who.send(call)
    assert t.get(purchase_id(att.order_commitment)).phase == Phase.NONE


@pytest.mark.parametrize("case", ["wrong-signer", "other-chain-id", "other-governance", "tampered-merchant",
                                  "tampered-product", "tampered-order", "tampered-buyer", "tampered-time",
                                  "truncated-signature"])
def test_invalid_attestation_is_refused(t: T, case: str) -> None:
    buyer = t.x.buyer
    att, sig = t.attest()
    if case == "wrong-signer":
        att, sig = t.attest(signer=t.a.merchant)
    elif case == "other-chain-id":
        att, sig = t.attest(chain_id=t.world.d.chain_id + 1)
    elif case == "other-governance":
        att, sig = t.attest(governance=t.world.d.registry.address)
    elif case == "tampered-merchant":  # merchant2 is admitted: only the signature can refuse it
        att = PurchaseAttestation(att.order_commitment, t.a.merchant2.address, att.product_id, att.buyer,
                                  att.purchased_at)
    elif case == "tampered-product":
        att = PurchaseAttestation(att.order_commitment, att.merchant, keccak(text="gtin:other"), att.buyer,
                                  att.purchased_at)
    elif case == "tampered-order":
        att = PurchaseAttestation(keccak(text="order-2"), att.merchant, att.product_id, att.buyer,
                                  att.purchased_at)
    elif case == "tampered-buyer":  # a stranger names itself the buyer of someone else's order
        buyer = t.x.buyer2
        att = PurchaseAttestation(att.order_commitment, att.merchant, att.product_id, buyer.address,
                                  att.purchased_at)
    elif case == "tampered-time":
        att = PurchaseAttestation(att.order_commitment, att.merchant, att.product_id, att.buyer,
                                  att.purchased_at + 1)
    else:
        sig = sig[:64]
    with reverts("DisputeRegistryInvalidAttestation"):
        buyer.send(t.open_call(att, sig))
    assert t.get(purchase_id(att.order_commitment)).phase == Phase.NONE


@pytest.mark.parametrize("mode", ["direct", "relayed"])
def test_the_same_attestation_twice_is_a_replay(t: T, mode: str) -> None:
    att, sig = t.attest()
    call = t.open_call(att, sig)
    did = purchase_id(att.order_commitment)
    send: Callable[[], Any] = (lambda: t.world.relay(t.x.buyer, call)) if mode == "relayed" else (
        lambda: t.do(t.x.buyer, call))
    send()
    before = t.get(did)
    for again in (send, lambda: t.x.buyer.send(call), lambda: t.world.relay(t.x.buyer, call)):
        with reverts("DisputeRegistryAlreadyOpened", did):
            again()
    assert t.get(did) == before


def test_unknown_merchant_is_refused(t: T) -> None:
    unknown = str(Account.from_key(keccak(text="test-disputes:unknown-merchant")).address)
    att, sig = t.attest(merchant=unknown)
    with reverts("DisputeRegistryUnknownMerchant", unknown):
        t.x.buyer.send(t.open_call(att, sig))


@pytest.mark.parametrize("status", ["suspended", "banned"])
def test_a_sanctioned_merchant_can_still_be_disputed(t: T, status: str) -> None:
    _sanction(t, t.a.merchant.address, SANCTIONS[status])
    did, _ = t.open()
    assert t.get(did).phase == Phase.AWAITING_RESPONSE


def test_no_arbitrator_appointed_is_refused(t: T) -> None:
    t.do(t.a.governor, t.g.removeArbitrator(t.a.arbitrator.address))
    assert t.arbitrators() == []
    att, sig = t.attest()
    with reverts("DisputeRegistryNoArbitrator"):
        t.x.buyer.send(t.open_call(att, sig))
    assert t.get(purchase_id(att.order_commitment)).phase == Phase.NONE


def test_attestations_of_a_replaced_order_signer_are_refused(t: T) -> None:
    old_att, old_sig = t.attest("order-old")
    new_signer = t.x.arbs[3]
    t.do(t.a.governor, t.g.setOrderSigner(new_signer.address))
    with reverts("DisputeRegistryInvalidAttestation"):
        t.x.buyer.send(t.open_call(old_att, old_sig))
    att, sig = t.attest("order-new", signer=new_signer)
    t.do(t.x.buyer, t.open_call(att, sig))
    assert t.get(purchase_id(att.order_commitment)).phase == Phase.AWAITING_RESPONSE


# ================================================================ review challenges


def test_merchant_challenges_a_review(t: T) -> None:
    t.anchor()
    merchant, operator = t.a.merchant.address, t.a.operator.address
    did, receipt = t.challenge(LEAF, evidence=EVIDENCE, uri=URI)
    assert t.dr.reviewChallengeId(merchant, LEAF).call() == did
    at = t.time(receipt)
    assert t.events(receipt) == [
        ("ReviewChallenged", {"id": did, "merchant": merchant, "leafIndex": LEAF, "claimant": merchant,
                              "respondent": operator, "category": REVIEW_CATEGORY,
                              "responseDeadline": at + RESPONSE}),
        ("Evidence", {"id": did, "party": merchant, "evidenceHash": EVIDENCE, "uri": URI}),
        assigned(did, t.a.arbitrator.address, 1, at + RESPONSE + RULING),
    ]
    assert t.get(did) == Dispute(
        kind=Kind.REVIEW, phase=Phase.AWAITING_RESPONSE, resume=Phase.NONE, outcome=Outcome.NONE, round=0,
        byDefault=False, panel=False, cursor=1, openedAt=at, responseDeadline=at + RESPONSE,
        rulingDeadline=at + RESPONSE + RULING, appealDeadline=0, claimant=merchant, remedyDeadline=0,
        respondent=operator, remedyAmount=0, merchant=merchant, arbitrator=t.a.arbitrator.address,
        firstArbitrator=ZERO_ADDRESS, subject=LEAF.to_bytes(32, "big"))


def test_operator_refers_a_review_straight_to_the_arbitrator(t: T) -> None:
    t.anchor()
    merchant, operator = t.a.merchant.address, t.a.operator.address
    did, receipt = t.challenge(LEAF, by=t.a.operator)
    assert did == t.dr.reviewChallengeId(operator, LEAF).call()
    at = t.time(receipt)
    assert t.events(receipt) == [
        ("ReviewChallenged", {"id": did, "merchant": merchant, "leafIndex": LEAF, "claimant": operator,
                              "respondent": ZERO_ADDRESS, "category": REVIEW_CATEGORY,
                              "responseDeadline": at}),
        assigned(did, t.a.arbitrator.address, 1, at + RULING),
    ]
    assert t.get(did) == Dispute(
        kind=Kind.REVIEW, phase=Phase.AWAITING_RULING, resume=Phase.NONE, outcome=Outcome.NONE, round=0,
        byDefault=False, panel=False, cursor=1, openedAt=at, responseDeadline=at, rulingDeadline=at + RULING,
        appealDeadline=0, claimant=operator, remedyDeadline=0, respondent=ZERO_ADDRESS, remedyAmount=0,
        merchant=merchant, arbitrator=t.a.arbitrator.address, firstArbitrator=ZERO_ADDRESS,
        subject=LEAF.to_bytes(32, "big"))


@pytest.mark.parametrize(("who", "named", "mode"), [
    ("stranger", "merchant", "direct"), ("stranger", "merchant", "relayed"),
    ("merchant", "merchant2", "direct"), ("merchant", "merchant2", "relayed"),
    ("merchant2", "merchant", "direct"), ("arbitrator", "merchant", "direct"),
    ("governor", "merchant", "direct"), ("relayer", "merchant", "direct"),
])
def test_challenge_by_anyone_else_is_refused(t: T, who: str, named: str, mode: str) -> None:
    t.anchor()
    actor = t.a.by_name[who]
    call = t.dr.challengeReview(LEAF, t.a.by_name[named].address, REVIEW_CATEGORY, ZERO32, "")
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


@pytest.mark.parametrize(("anchored", "leaf"),
                         [(0, 0), (0, LEAF), (LOG_SIZE, LOG_SIZE), (LOG_SIZE, 2**64 - 1)])
@pytest.mark.parametrize("by", ["merchant", "operator"])
def test_challenge_of_a_review_outside_the_anchored_log(t: T, anchored: int, leaf: int, by: str) -> None:
    if anchored:
        t.anchor(anchored)
    with reverts("DisputeRegistryUnknownReview", leaf, anchored):
        t.challenge(leaf, by=t.a.by_name[by])


def test_challenge_of_the_last_anchored_review(t: T) -> None:
    t.anchor()
    did, _ = t.challenge(LOG_SIZE - 1)
    assert t.get(did).subject == (LOG_SIZE - 1).to_bytes(32, "big")


def test_challenge_twice_is_refused_but_each_challenger_has_its_own(t: T) -> None:
    t.anchor()
    mine, _ = t.challenge()
    theirs, _ = t.challenge(by=t.a.operator)
    other, _ = t.challenge(by=t.a.merchant2, merchant=t.a.merchant2.address)
    assert len({mine, theirs, other}) == 3
    for by, did in ((t.a.merchant, mine), (t.a.operator, theirs)):
        with reverts("DisputeRegistryAlreadyOpened", did):
            t.challenge(by=by)
    with reverts("DisputeRegistryAlreadyOpened", mine):
        call = t.dr.challengeReview(LEAF, t.a.merchant.address, REVIEW_CATEGORY, ZERO32, "")
        t.world.relay(t.a.merchant, call)


@pytest.mark.parametrize("by", ["itself", "operator"])
def test_challenge_naming_an_unknown_merchant(t: T, by: str) -> None:
    t.anchor()
    unknown = _key(t.world.w3, "unknown-merchant")
    t.chain.fund(unknown.address, 10**18)
    challenger = unknown if by == "itself" else t.a.operator
    with reverts("DisputeRegistryUnknownMerchant", unknown.address):
        t.challenge(by=challenger, merchant=unknown.address)


SANCTIONS = {"suspended": (SUSPENSION,), "banned": (BAN,), "suspended-then-banned": (SUSPENSION, BAN)}


def _sanction(t: T, merchant: str, sanctions: Iterable[int]) -> None:
    for kind in sanctions:
        t.do(t.a.governor, t.g.sanctionMerchant(merchant, kind, REASON, ZERO32))


@pytest.mark.parametrize("status", list(SANCTIONS))
@pytest.mark.parametrize("mode", ["direct", "relayed"])
def test_a_sanctioned_merchant_cannot_challenge_a_review(t: T, status: str, mode: str) -> None:
    t.anchor()
    merchant = t.a.merchant.address
    _sanction(t, merchant, SANCTIONS[status])
    assert t.g.merchant(merchant).call()[0] == (MERCHANT_BANNED if "banned" in status else MERCHANT_SUSPENDED)
    call = t.dr.challengeReview(LEAF, merchant, REVIEW_CATEGORY, EVIDENCE, URI)
    with reverts("DisputeRegistryMerchantNotActive", merchant):
        if mode == "relayed":
            t.world.relay(t.a.merchant, call)
        else:
            t.a.merchant.send(call)
    assert t.get(review_id(merchant, LEAF)).phase == Phase.NONE


def test_merchant_not_active_is_checked_after_the_caller_and_before_the_review(t: T) -> None:
    merchant = t.a.merchant.address
    _sanction(t, merchant, (SUSPENSION,))
    call = t.dr.challengeReview(LEAF, merchant, REVIEW_CATEGORY, ZERO32, "")  # nothing anchored yet
    with reverts("DisputeRegistryMerchantNotActive", merchant):
        t.a.merchant.send(call)
    with reverts("DisputeRegistryUnauthorized", t.a.stranger.address):
        t.a.stranger.send(call)


def test_a_warned_or_restored_merchant_can_challenge(t: T) -> None:
    t.anchor()
    merchant = t.a.merchant.address
    _sanction(t, merchant, (WARNING,))
    did, _ = t.challenge()
    assert t.get(did).phase == Phase.AWAITING_RESPONSE
    _sanction(t, merchant, (BAN,))
    with reverts("DisputeRegistryMerchantNotActive", merchant):
        t.challenge(LEAF + 1)
    t.do(t.a.governor, t.g.restoreMerchant(merchant, REASON, ZERO32))
    did, _ = t.challenge(LEAF + 1)
    assert t.get(did).subject == (LEAF + 1).to_bytes(32, "big")


@pytest.mark.parametrize("status", list(SANCTIONS))
def test_the_operator_may_refer_a_review_of_a_sanctioned_merchant(t: T, status: str) -> None:
    t.anchor()
    _sanction(t, t.a.merchant.address, SANCTIONS[status])
    did, receipt = t.challenge(by=t.a.operator)
    assert t.events(receipt)[0][1]["merchant"] == t.a.merchant.address
    assert t.get(did).phase == Phase.AWAITING_RULING


@pytest.mark.parametrize("status", list(SANCTIONS))
def test_a_sanctioned_merchants_open_challenge_and_disputes_go_on(t: T, status: str) -> None:
    """Sanctioned after its challenge opened, the merchant still takes part in it; it may still be disputed
    over a purchase, and answers."""
    t.anchor()
    challenge, _ = t.challenge()
    _sanction(t, t.a.merchant.address, SANCTIONS[status])
    receipt = t.do(t.a.merchant, t.dr.submitEvidence(challenge, EVIDENCE, URI))
    assert [n for n, _ in t.events(receipt)] == ["Evidence"]
    did, _ = t.open()
    before = t.get(did)
    receipt = t.do(t.a.merchant, t.dr.respond(did, EVIDENCE, URI))
    assert [n for n, _ in t.events(receipt)] == ["DisputeResponded", "Evidence"]
    assert t.get(did) == before._replace(phase=Phase.AWAITING_RULING, rulingDeadline=t.time(receipt) + RULING)


# ================================================================ evidence


@pytest.mark.parametrize(("kind", "party"), [("purchase", "claimant"), ("purchase", "respondent"),
                                              ("review", "claimant"), ("review", "respondent")])
@pytest.mark.parametrize("mode", ["direct", "relayed"])
def test_parties_submit_evidence(t: T, kind: str, party: str, mode: str) -> None:
    if kind == "purchase":
        did, _ = t.open()
    else:
        t.anchor()
        did, _ = t.challenge()
    actor = t.role(did, party)
    before = t.get(did)
    call = t.dr.submitEvidence(did, EVIDENCE, URI)
    receipt = t.world.relay(actor, call) if mode == "relayed" else t.do(actor, call)
    expected = [("Evidence", {"id": did, "party": actor.address, "evidenceHash": EVIDENCE, "uri": URI})]
    if mode == "relayed":
        expected.append(executed(actor.address))
    assert t.events(receipt, forwarder=True) == expected
    assert t.get(did) == before


@pytest.mark.parametrize(("who", "mode"), [
    ("arbitrator", "direct"), ("relayer", "direct"), ("stranger", "direct"), ("merchant2", "direct"),
    ("governor", "direct"), ("operator", "direct"), ("stranger", "relayed"), ("arbitrator", "relayed"),
])
def test_evidence_from_anyone_else_is_refused(t: T, who: str, mode: str) -> None:
    did, _ = t.open()
    actor = t.a.by_name[who]
    call = t.dr.submitEvidence(did, EVIDENCE, URI)
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_evidence_on_the_operators_own_referral(t: T) -> None:
    """With no respondent, the zero address is no party; the named merchant is none either."""
    t.anchor()
    did, _ = t.challenge(by=t.a.operator)
    call = t.dr.submitEvidence(did, EVIDENCE, URI)
    with reverts("DisputeRegistryUnauthorized", ZERO_ADDRESS):
        call_from_zero(t, call)
    with reverts("DisputeRegistryUnauthorized", t.a.merchant.address):
        t.a.merchant.send(call)
    receipt = t.do(t.a.operator, call)
    assert t.events(receipt) == [
        ("Evidence", {"id": did, "party": t.a.operator.address, "evidenceHash": EVIDENCE, "uri": URI})]


def test_evidence_after_closing_is_refused(t: T) -> None:
    did = t.finalized(outcome=Outcome.REJECTED)
    assert t.get(did).phase == Phase.CLOSED
    for party in (t.x.buyer, t.a.merchant):
        with reverts("DisputeRegistryWrongPhase", did, Phase.CLOSED):
            party.send(t.dr.submitEvidence(did, EVIDENCE, URI))


# ================================================================ respond


@pytest.mark.parametrize("evidence", [EVIDENCE, ZERO32], ids=["with-evidence", "without-evidence"])
def test_respondent_answers(t: T, evidence: bytes) -> None:
    did, _ = t.open()
    before = t.get(did)
    receipt = t.do(t.a.merchant, t.dr.respond(did, evidence, URI))
    at = t.time(receipt)
    merchant = t.a.merchant.address
    expected = [("DisputeResponded", {"id": did, "respondent": merchant, "evidenceHash": evidence})]
    if evidence != ZERO32:
        expected.append(("Evidence", {"id": did, "party": merchant, "evidenceHash": evidence, "uri": URI}))
    assert t.events(receipt) == expected
    assert t.get(did) == before._replace(phase=Phase.AWAITING_RULING, rulingDeadline=at + RULING)


def test_operator_answers_a_merchants_challenge(t: T) -> None:
    t.anchor()
    did, _ = t.challenge()
    receipt = t.do(t.a.operator, t.dr.respond(did, EVIDENCE, URI))
    assert [name for name, _ in t.events(receipt)] == ["DisputeResponded", "Evidence"]
    assert t.events(receipt)[0][1]["respondent"] == t.a.operator.address
    assert t.get(did).phase == Phase.AWAITING_RULING


@pytest.mark.parametrize(("who", "mode"), [
    ("buyer", "direct"), ("stranger", "direct"), ("arbitrator", "direct"), ("relayer", "direct"),
    ("merchant2", "direct"), ("stranger", "relayed"),
])
def test_respond_by_anyone_else_is_refused(t: T, who: str, mode: str) -> None:
    did, _ = t.open()
    actor = t.x.buyer if who == "buyer" else t.a.by_name[who]
    call = t.dr.respond(did, EVIDENCE, URI)
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_respond_up_to_the_deadline_second(t: T) -> None:
    did, _ = t.open()
    deadline = t.get(did).responseDeadline
    receipt = accepted_until(t, deadline, t.a.merchant, t.dr.respond(did, ZERO32, ""), did)
    assert t.get(did).phase == Phase.AWAITING_RULING
    assert t.get(did).rulingDeadline == t.time(receipt) + RULING


def test_respond_twice_is_refused(t: T) -> None:
    did = t.responded()
    with reverts("DisputeRegistryWrongPhase", did, Phase.AWAITING_RULING):
        t.a.merchant.send(t.dr.respond(did, EVIDENCE, URI))


def test_no_response_to_the_operators_own_referral(t: T) -> None:
    t.anchor()
    did, _ = t.challenge(by=t.a.operator)
    before = t.get(did)
    with reverts("DisputeRegistryUnauthorized", t.a.operator.address):
        t.a.operator.send(t.dr.respond(did, ZERO32, ""))
    with reverts("DisputeRegistryUnauthorized", t.a.merchant.address):
        t.a.merchant.send(t.dr.respond(did, ZERO32, ""))
    # the zero address is nobody's respondent, even where the respondent field is zero
    for evidence in (ZERO32, EVIDENCE):
        with reverts("DisputeRegistryUnauthorized", ZERO_ADDRESS):
            call_from_zero(t, t.dr.respond(did, evidence, URI))
    assert t.get(did) == before


# ================================================================ rule


@pytest.mark.parametrize(("who", "mode"), [
    ("merchant", "direct"), ("buyer", "direct"), ("governor", "direct"), ("relayer", "direct"),
    ("stranger", "direct"), ("other-arbitrator", "direct"), ("stranger", "relayed"),
    ("other-arbitrator", "relayed"),
])
def test_rule_by_anyone_but_the_assigned_arbitrator_is_refused(t: T, who: str, mode: str) -> None:
    arbs = t.appoint(t.x.arbs[0], t.x.arbs[1])
    did = t.responded()
    assigned_to = t.get(did).arbitrator
    if who == "other-arbitrator":
        actor = t.who(next(a for a in arbs if a != assigned_to))
    else:
        actor = t.x.buyer if who == "buyer" else t.a.by_name[who]
    call = t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE)
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_ruling_after_a_response(t: T) -> None:
    did = t.responded()
    before = t.get(did)
    receipt = t.rule(did, Outcome.PARTIAL_REFUND, 500)
    at = t.time(receipt)
    arb = t.a.arbitrator.address
    assert t.events(receipt) == [ruled_event(did, arb, 0, Outcome.PARTIAL_REFUND, 500)]
    assert t.get(did) == before._replace(phase=Phase.RULED, outcome=Outcome.PARTIAL_REFUND, remedyAmount=500,
                                         byDefault=False, firstArbitrator=arb, appealDeadline=at + APPEAL)


def test_default_ruling_only_after_the_missed_response_deadline(t: T) -> None:
    did, _ = t.open()
    before = t.get(did)
    call = t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE)
    receipt = refused_until(t, before.responseDeadline, t.a.arbitrator, call, did)
    at = t.time(receipt)
    arb = t.a.arbitrator.address
    assert t.events(receipt) == [ruled_event(did, arb, 0, Outcome.REFUND, by_default=True)]
    assert t.get(did) == before._replace(phase=Phase.RULED, outcome=Outcome.REFUND, remedyAmount=AMOUNT,
                                         byDefault=True, firstArbitrator=arb, appealDeadline=at + APPEAL)
    # the respondent cannot answer any more
    with reverts("DisputeRegistryWrongPhase", did, Phase.RULED):
        t.a.merchant.send(t.dr.respond(did, ZERO32, ""))


def test_appeal_ruling_after_a_default_ruling_is_not_by_default(t: T) -> None:
    t.appoint(t.x.arbs[0], t.x.arbs[1])
    did, _ = t.open()
    t.chain.increase_time(RESPONSE + 1)
    t.rule(did, Outcome.REFUND)
    assert t.get(did).byDefault is True
    t.do(t.a.merchant, t.dr.appeal(did, EVIDENCE, URI))
    receipt = t.rule(did, Outcome.REJECTED, 0)
    assert t.events(receipt)[0] == ruled_event(did, t.get(did).arbitrator, 1, Outcome.REJECTED, 0)
    assert t.get(did).byDefault is False


def test_ruling_on_the_operators_referral_is_not_by_default(t: T) -> None:
    t.anchor()
    did, _ = t.challenge(by=t.a.operator)
    receipt = t.rule(did, Outcome.REVIEW_UPHELD, 0)
    assert t.events(receipt) == [ruled_event(did, t.a.arbitrator.address, 0, Outcome.REVIEW_UPHELD, 0)]
    assert t.get(did).byDefault is False


@pytest.mark.parametrize("after", ["response", "default"])
def test_rule_up_to_the_ruling_deadline_second(t: T, after: str) -> None:
    did = t.responded() if after == "response" else t.open()[0]
    deadline = t.get(did).rulingDeadline
    receipt = accepted_until(t, deadline, t.a.arbitrator, t.dr.rule(did, Outcome.REJECTED, 0, RATIONALE), did)
    assert t.events(receipt)[0] == ruled_event(did, t.a.arbitrator.address, 0, Outcome.REJECTED, 0,
                                               by_default=after == "default")


@pytest.mark.parametrize(("kind", "outcome"), [
    *((Kind.PURCHASE, o) for o in (Outcome.NONE, *REVIEW_OUTCOMES)),
    *((Kind.REVIEW, o) for o in (Outcome.NONE, *PURCHASE_OUTCOMES)),
], ids=lambda v: v.name.lower())
@pytest.mark.parametrize("amount", [0, AMOUNT])
def test_outcome_that_does_not_fit_the_kind(t: T, kind: Kind, outcome: Outcome, amount: int) -> None:
    """Checked before the remedy amount: whichever the amount, the outcome is the error."""
    if kind == Kind.PURCHASE:
        did = t.responded()
    else:
        t.anchor()
        did, _ = t.challenge(by=t.a.operator)
    with reverts("DisputeRegistryInvalidOutcome", kind, outcome):
        t.a.arbitrator.send(t.dr.rule(did, outcome, amount, RATIONALE))


@pytest.mark.parametrize(("outcome", "amount"), [
    (Outcome.REFUND, 0), (Outcome.PARTIAL_REFUND, 0),
    (Outcome.REPLACEMENT, 1), (Outcome.REPLACEMENT, AMOUNT), (Outcome.REJECTED, 1),
    (Outcome.REJECTED, 2**96 - 1), (Outcome.REVIEW_REMOVED, 1), (Outcome.REVIEW_UPHELD, AMOUNT),
], ids=lambda v: v.name.lower() if isinstance(v, Outcome) else str(v))
def test_remedy_amount_that_does_not_fit_the_outcome(t: T, outcome: Outcome, amount: int) -> None:
    """Refund and PartialRefund need a non-zero amount; every other outcome must carry 0."""
    if outcome in PURCHASE_OUTCOMES:
        did = t.responded()
    else:
        t.anchor()
        did, _ = t.challenge(by=t.a.operator)
    before = t.get(did)
    call = t.dr.rule(did, outcome, amount, RATIONALE)
    with reverts("DisputeRegistryInvalidRemedy", outcome, amount):
        t.a.arbitrator.send(call)
    with reverts("DisputeRegistryInvalidRemedy", outcome, amount):
        t.world.relay(t.a.arbitrator, call)
    assert t.get(did) == before


@pytest.mark.parametrize(("outcome", "amount"), [
    (Outcome.REFUND, 1), (Outcome.REFUND, 2**96 - 1), (Outcome.PARTIAL_REFUND, 1),
    (Outcome.REPLACEMENT, 0), (Outcome.REJECTED, 0),
], ids=lambda v: v.name.lower() if isinstance(v, Outcome) else str(v))
def test_remedy_amount_that_fits_the_outcome(t: T, outcome: Outcome, amount: int) -> None:
    did = t.responded()
    before = t.get(did)
    receipt = t.rule(did, outcome, amount)
    at = t.time(receipt)
    assert t.events(receipt) == [ruled_event(did, t.a.arbitrator.address, 0, outcome, amount)]
    assert t.get(did) == before._replace(phase=Phase.RULED, outcome=outcome, remedyAmount=amount,
                                         firstArbitrator=t.a.arbitrator.address, appealDeadline=at + APPEAL)


def test_remedy_amount_is_checked_for_panels_default_rulings_and_appeals(t: T) -> None:
    # a panel (the only arbitrator recused)
    did = _escalated(t, Phase.AWAITING_RULING)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    before = t.get(did)
    with reverts("DisputeRegistryInvalidRemedy", Outcome.REPLACEMENT, AMOUNT):
        t.x.panel.send(t.dr.rule(did, Outcome.REPLACEMENT, AMOUNT, RATIONALE))
    assert t.get(did) == before
    # a default ruling
    t.appoint(t.x.arbs[0])
    did, _ = t.open("order-2")
    t.chain.increase_time(RESPONSE + 1)
    first = t.arbitrator_of(did)
    before = t.get(did)
    with reverts("DisputeRegistryInvalidRemedy", Outcome.REFUND, 0):
        first.send(t.dr.rule(did, Outcome.REFUND, 0, RATIONALE))
    assert t.get(did) == before
    receipt = t.rule(did, Outcome.REFUND)
    assert t.events(receipt) == [ruled_event(did, first.address, 0, Outcome.REFUND, by_default=True)]
    # an appeal ruling
    t.do(t.a.merchant, t.dr.appeal(did, ZERO32, ""))
    before = t.get(did)
    assert before.phase == Phase.APPEALED and before.arbitrator not in (ZERO_ADDRESS, first.address)
    second = t.who(before.arbitrator)
    for outcome, amount in ((Outcome.REJECTED, AMOUNT), (Outcome.PARTIAL_REFUND, 0)):
        with reverts("DisputeRegistryInvalidRemedy", outcome, amount):
            second.send(t.dr.rule(did, outcome, amount, RATIONALE))
    assert t.get(did) == before
    receipt = t.rule(did, Outcome.PARTIAL_REFUND, 1)
    assert t.events(receipt)[0] == ruled_event(did, second.address, 1, Outcome.PARTIAL_REFUND, 1)
    assert (t.get(did).phase, t.get(did).remedyAmount) == (Phase.REMEDY_DUE, 1)


def test_removed_arbitrator_can_no_longer_rule_and_the_dispute_escalates(t: T) -> None:
    t.appoint(t.x.arbs[0], t.x.arbs[1])
    did = t.responded()
    first = t.get(did)
    gone = t.who(first.arbitrator)
    t.do(t.a.governor, t.g.removeArbitrator(gone.address))
    call = t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE)
    with reverts("DisputeRegistryUnauthorized", gone.address):
        gone.send(call)
    t.chain.increase_time(first.rulingDeadline - t.now() + 1)
    receipt = t.do(t.a.stranger, t.dr.escalate(did))
    arbs = t.arbitrators()
    expected, cursor = pick(did, arbs, t.parties(did) | {gone.address}, first.cursor)
    assert expected != ZERO_ADDRESS
    assert t.events(receipt) == [
        assigned(did, expected, cursor, t.time(receipt) + RULING),
        ("DisputeEscalated", {"id": did, "from": gone.address, "to": expected}),
    ]
    t.rule(did, Outcome.REFUND)
    assert t.get(did).firstArbitrator == expected


def test_rule_in_a_wrong_phase(t: T) -> None:
    did = t.ruled(outcome=Outcome.REFUND)
    call = t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE)
    with reverts("DisputeRegistryWrongPhase", did, Phase.RULED):
        t.a.arbitrator.send(call)
    t.chain.increase_time(APPEAL + 1)
    t.do(t.a.stranger, t.dr.finalize(did))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.arbitrator.send(call)
    t.do(t.a.merchant, t.dr.reportRemedy(did, EVIDENCE))
    t.do(t.x.buyer, t.dr.contestRemedy(did, EVIDENCE))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_CONTESTED):  # that is ruleOnRemedy's
        t.a.arbitrator.send(call)


# ================================================================ recuse, escalate, panel


def test_recusal_passes_to_the_next_candidate(t: T) -> None:
    arbs = t.appoint(t.x.arbs[0], t.x.arbs[1])
    did, _ = t.open()
    d = t.get(did)
    parties = t.parties(did)
    assert (d.arbitrator, d.cursor) == pick(did, arbs, parties)
    for _ in range(2):
        before = t.get(did)
        receipt = t.do(t.who(before.arbitrator), t.dr.recuse(did))
        expected, cursor = pick(did, arbs, parties | {before.arbitrator}, before.cursor)
        assert expected not in (ZERO_ADDRESS, before.arbitrator)
        # still a full ruling period ahead: the deadline is kept
        assert t.events(receipt) == [
            ("ArbitratorRecused", {"id": did, "arbitrator": before.arbitrator}),
            assigned(did, expected, cursor, before.rulingDeadline),
        ]
        assert t.get(did) == before._replace(arbitrator=expected, cursor=cursor)
    last = t.get(did)
    receipt = t.do(t.who(last.arbitrator), t.dr.recuse(did))
    assert t.events(receipt) == [
        ("ArbitratorRecused", {"id": did, "arbitrator": last.arbitrator}),
        ("DisputeEscalated", {"id": did, "from": last.arbitrator, "to": ZERO_ADDRESS}),
    ]
    assert t.get(did) == last._replace(phase=Phase.ESCALATED, resume=Phase.AWAITING_RESPONSE,
                                       arbitrator=ZERO_ADDRESS, cursor=3)


def test_recusal_gives_a_fresh_period_when_the_deadline_is_near(t: T) -> None:
    t.appoint(t.x.arbs[0])
    did = t.responded()
    t.chain.increase_time(RULING - DAY)
    before = t.get(did)
    receipt = t.do(t.who(before.arbitrator), t.dr.recuse(did))
    assert t.events(receipt)[1][1]["rulingDeadline"] == t.time(receipt) + RULING
    assert t.get(did).rulingDeadline == t.time(receipt) + RULING


def test_recusal_of_the_only_arbitrator_escalates(t: T) -> None:
    did, _ = t.open()
    before = t.get(did)
    arb = t.a.arbitrator.address
    receipt = t.do(t.a.arbitrator, t.dr.recuse(did))
    assert t.events(receipt) == [
        ("ArbitratorRecused", {"id": did, "arbitrator": arb}),
        ("DisputeEscalated", {"id": did, "from": arb, "to": ZERO_ADDRESS}),
    ]
    assert t.get(did) == before._replace(phase=Phase.ESCALATED, resume=Phase.AWAITING_RESPONSE,
                                         arbitrator=ZERO_ADDRESS)
    with reverts("DisputeRegistryUnauthorized", arb):  # nobody is assigned while escalated
        t.a.arbitrator.send(t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE))
    with reverts("DisputeRegistryUnauthorized", arb):
        t.a.arbitrator.send(t.dr.recuse(did))


def test_dispute_whose_only_candidates_are_parties_opens_escalated(t: T) -> None:
    t.do(t.a.governor, t.g.removeArbitrator(t.a.arbitrator.address))
    t.appoint(t.a.merchant)  # the only arbitrator is the merchant concerned
    did, receipt = t.open()
    at = t.time(receipt)
    assert [n for n, _ in t.events(receipt)] == ["PurchaseDisputeOpened", "Evidence", "DisputeEscalated"]
    assert t.events(receipt)[-1] == ("DisputeEscalated", {"id": did, "from": ZERO_ADDRESS, "to": ZERO_ADDRESS})
    d = t.get(did)
    assert (d.phase, d.resume, d.arbitrator, d.cursor) == (Phase.ESCALATED, Phase.AWAITING_RESPONSE,
                                                           ZERO_ADDRESS, 1)
    assert d.rulingDeadline == at + RESPONSE + RULING
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    assert t.get(did).phase == Phase.AWAITING_RESPONSE


@pytest.mark.parametrize(("who", "mode"), [
    ("stranger", "direct"), ("merchant", "direct"), ("buyer", "direct"), ("governor", "direct"),
    ("relayer", "direct"), ("other-arbitrator", "direct"), ("stranger", "relayed"),
])
def test_recuse_by_anyone_but_the_assigned_arbitrator_is_refused(t: T, who: str, mode: str) -> None:
    t.appoint(t.x.arbs[0])
    did, _ = t.open()
    if who == "other-arbitrator":
        actor = t.who(next(a for a in t.arbitrators() if a != t.get(did).arbitrator))
    else:
        actor = t.x.buyer if who == "buyer" else t.a.by_name[who]
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, t.dr.recuse(did))
        else:
            actor.send(t.dr.recuse(did))


def test_recuse_after_ruling_is_refused(t: T) -> None:
    did = t.ruled()
    with reverts("DisputeRegistryWrongPhase", did, Phase.RULED):
        t.a.arbitrator.send(t.dr.recuse(did))


def test_escalation_after_the_ruling_deadline_until_none_is_left(t: T) -> None:
    arbs = t.appoint(t.x.arbs[0], t.x.arbs[1])
    did = t.responded()
    parties = t.parties(did)
    call = t.dr.escalate(did)
    for step in range(2):
        before = t.get(did)
        if step == 0:
            receipt = refused_until(t, before.rulingDeadline, t.a.stranger, call, did)
        else:
            with reverts("DisputeRegistryDeadlineNotPassed", did, before.rulingDeadline):
                t.a.stranger.send(call)
            t.chain.increase_time(before.rulingDeadline - t.now() + 1)
            receipt = t.do(t.a.relayer, call)  # anyone, even the relayer's key
        expected, cursor = pick(did, arbs, parties | {before.arbitrator}, before.cursor)
        assert expected not in (ZERO_ADDRESS, before.arbitrator)
        deadline = t.time(receipt) + RULING
        assert t.events(receipt) == [
            assigned(did, expected, cursor, deadline),
            ("DisputeEscalated", {"id": did, "from": before.arbitrator, "to": expected}),
        ]
        assert t.get(did) == before._replace(arbitrator=expected, cursor=cursor, rulingDeadline=deadline)
    last = t.get(did)
    t.chain.increase_time(last.rulingDeadline - t.now() + 1)
    receipt = t.do(t.a.stranger, call)
    assert t.events(receipt) == [
        ("DisputeEscalated", {"id": did, "from": last.arbitrator, "to": ZERO_ADDRESS})]
    assert t.get(did) == last._replace(phase=Phase.ESCALATED, resume=Phase.AWAITING_RULING,
                                       arbitrator=ZERO_ADDRESS, cursor=3)
    with reverts("DisputeRegistryWrongPhase", did, Phase.ESCALATED):
        t.a.stranger.send(call)


def test_escalation_of_an_unanswered_dispute_keeps_it_awaiting_response(t: T) -> None:
    t.appoint(t.x.arbs[0])
    did, _ = t.open()
    before = t.get(did)
    t.chain.increase_time(before.rulingDeadline - t.now() + 1)
    t.do(t.a.stranger, t.dr.escalate(did))
    after = t.get(did)
    assert after.phase == Phase.AWAITING_RESPONSE and after.arbitrator != before.arbitrator
    with reverts("DisputeRegistryDeadlinePassed", did, before.responseDeadline):
        t.a.merchant.send(t.dr.respond(did, ZERO32, ""))
    receipt = t.rule(did, Outcome.REFUND)
    assert t.events(receipt) == [ruled_event(did, after.arbitrator, 0, Outcome.REFUND, by_default=True)]


def test_escalate_in_a_wrong_phase(t: T) -> None:
    did = t.ruled()
    call = t.dr.escalate(did)
    t.chain.increase_time(RULING * 3)
    with reverts("DisputeRegistryWrongPhase", did, Phase.RULED):
        t.a.stranger.send(call)
    t.do(t.a.stranger, t.dr.finalize(did))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.stranger.send(call)
    t.do(t.a.merchant, t.dr.reportRemedy(did, EVIDENCE))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_REPORTED):
        t.a.stranger.send(call)


def _escalated(t: T, resume: Phase) -> bytes:
    """A dispute escalated (only one arbitrator, who recuses or is exhausted) from ``resume``."""
    if resume == Phase.AWAITING_RESPONSE:
        did, _ = t.open()
        t.do(t.a.arbitrator, t.dr.recuse(did))
    elif resume == Phase.AWAITING_RULING:
        did = t.responded()
        t.do(t.a.arbitrator, t.dr.recuse(did))
    elif resume == Phase.APPEALED:
        did = t.ruled()
        t.do(t.x.buyer, t.dr.appeal(did, ZERO32, ""))
    else:
        did = t.contested()
        t.do(t.a.arbitrator, t.dr.recuse(did))
    d = t.get(did)
    assert (d.phase, d.resume, d.arbitrator) == (Phase.ESCALATED, resume, ZERO_ADDRESS)
    return did


@pytest.mark.parametrize("resume", [Phase.AWAITING_RESPONSE, Phase.AWAITING_RULING, Phase.APPEALED,
                                    Phase.REMEDY_CONTESTED], ids=lambda p: p.name.lower())
def test_panel_resumes_the_dispute_and_acts_without_the_arbitrator_role(t: T, resume: Phase) -> None:
    did = _escalated(t, resume)
    before = t.get(did)
    panel = t.x.panel
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, panel.address))
    deadline = t.time(receipt) + RULING
    assert t.events(receipt) == [assigned(did, panel.address, before.cursor, deadline, panel=True)]
    assert t.get(did) == before._replace(phase=resume, arbitrator=panel.address, panel=True,
                                         rulingDeadline=deadline)
    assert t.g.isArbitrator(panel.address).call() is False
    if resume == Phase.AWAITING_RESPONSE:
        t.do(t.a.merchant, t.dr.respond(did, ZERO32, ""))
        assert t.get(did).phase == Phase.AWAITING_RULING
    if resume == Phase.REMEDY_CONTESTED:
        receipt = t.do(panel, t.dr.ruleOnRemedy(did, True, RATIONALE))
        assert t.events(receipt) == [
            ("RemedyRuled", {"id": did, "arbitrator": panel.address, "fulfilled": True,
                             "rationaleHash": RATIONALE}),
            ("DisputeClosed", {"id": did}),
        ]
        return
    receipt = t.do(panel, t.dr.rule(did, Outcome.REJECTED, 0, RATIONALE))
    if resume == Phase.APPEALED:
        assert t.events(receipt) == [ruled_event(did, panel.address, 1, Outcome.REJECTED, 0),
                                     ("DisputeFinal", {"id": did, "outcome": Outcome.REJECTED}),
                                     ("DisputeClosed", {"id": did})]
        assert t.get(did).phase == Phase.CLOSED
    else:
        assert t.events(receipt) == [ruled_event(did, panel.address, 0, Outcome.REJECTED, 0)]
        assert (t.get(did).phase, t.get(did).firstArbitrator) == (Phase.RULED, panel.address)


@pytest.mark.parametrize(("who", "mode"), [
    ("admin", "direct"), ("stranger", "direct"), ("arbitrator", "direct"), ("merchant", "direct"),
    ("buyer", "direct"), ("relayer", "direct"), ("panel", "direct"), ("stranger", "relayed"),
    ("admin", "relayed"),
])
def test_appoint_panel_by_anyone_but_a_governor_is_refused(t: T, who: str, mode: str) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    actor = {"buyer": t.x.buyer, "panel": t.x.panel}.get(who) or t.a.by_name[who]
    call = t.dr.appointPanel(did, t.x.panel.address)
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_appoint_panel_relayed_by_the_governor(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    receipt = t.world.relay(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    events = t.events(receipt, forwarder=True)
    assert events[0][0] == "ArbitratorAssigned" and events[0][1]["arbitrator"] == t.x.panel.address
    assert events[1] == executed(t.a.governor.address)


def _refuse_panels(t: T, did: bytes, panels: Iterable[str]) -> None:
    """Each of ``panels`` is refused as ineligible, directly and relayed, and nothing changes."""
    before = t.get(did)
    for panel in panels:
        call = t.dr.appointPanel(did, panel)
        with reverts("DisputeRegistryIneligiblePanel", panel):
            t.a.governor.send(call)
        with reverts("DisputeRegistryIneligiblePanel", panel):
            t.world.relay(t.a.governor, call)
    assert t.get(did) == before


def test_appoint_a_zero_panel_is_refused(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    _refuse_panels(t, did, [ZERO_ADDRESS])


@pytest.mark.parametrize("resume", [Phase.AWAITING_RESPONSE, Phase.AWAITING_RULING, Phase.APPEALED,
                                    Phase.REMEDY_CONTESTED], ids=lambda p: p.name.lower())
def test_a_party_cannot_be_the_panel(t: T, resume: Phase) -> None:
    """Claimant (buyer) and respondent (merchant, also the merchant concerned) of a purchase dispute."""
    did = _escalated(t, resume)
    d = t.get(did)
    assert (d.claimant, d.respondent, d.merchant) == (t.x.buyer.address, t.a.merchant.address,
                                                      t.a.merchant.address)
    _refuse_panels(t, did, [d.claimant, d.respondent])


@pytest.mark.parametrize("by", ["merchant", "operator"])
def test_a_party_to_a_review_challenge_cannot_be_the_panel(t: T, by: str) -> None:
    """A merchant's challenge: claimant and merchant are the merchant, the operator responds. The operator's
    referral: the operator is the claimant, the named merchant is a party though it is neither claimant nor
    respondent (and the respondent is zero)."""
    t.anchor()
    did, _ = t.challenge(by=t.a.by_name[by])
    if by == "merchant":
        t.do(t.a.operator, t.dr.respond(did, ZERO32, ""))
    t.do(t.a.arbitrator, t.dr.recuse(did))
    d = t.get(did)
    assert (d.phase, d.resume) == (Phase.ESCALATED, Phase.AWAITING_RULING)
    if by == "merchant":
        assert (d.claimant, d.respondent, d.merchant) == (t.a.merchant.address, t.a.operator.address,
                                                          t.a.merchant.address)
    else:
        assert (d.claimant, d.respondent, d.merchant) == (t.a.operator.address, ZERO_ADDRESS,
                                                          t.a.merchant.address)
    _refuse_panels(t, did, [t.a.merchant.address, t.a.operator.address, ZERO_ADDRESS])
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))  # anyone else may
    assert t.events(receipt) == [assigned(did, t.x.panel.address, d.cursor, t.time(receipt) + RULING,
                                          panel=True)]


def test_the_first_instance_cannot_be_the_appeal_panel(t: T) -> None:
    did = _escalated(t, Phase.APPEALED)
    d = t.get(did)
    assert d.firstArbitrator == t.a.arbitrator.address
    _refuse_panels(t, did, [d.firstArbitrator])
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    assert t.get(did).arbitrator == t.x.panel.address


def test_a_panel_that_ruled_cannot_be_the_panel_of_its_appeal(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RULING)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    t.do(t.x.panel, t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE))
    t.do(t.x.buyer, t.dr.appeal(did, ZERO32, ""))
    assert t.get(did).firstArbitrator == t.x.panel.address
    _refuse_panels(t, did, [t.x.panel.address, t.x.buyer.address, t.a.merchant.address])
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, t.a.arbitrator.address))  # not the first instance
    assert t.events(receipt)[0][1]["arbitrator"] == t.a.arbitrator.address
    assert t.get(did).phase == Phase.APPEALED


def test_an_arbitrator_who_recused_before_any_ruling_may_be_the_panel(t: T) -> None:
    """Only the first-instance arbitrator of an appeal is excluded: before a ruling there is none."""
    did = _escalated(t, Phase.AWAITING_RULING)
    before = t.get(did)
    assert before.firstArbitrator == ZERO_ADDRESS
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, t.a.arbitrator.address))
    deadline = t.time(receipt) + RULING
    assert t.events(receipt) == [assigned(did, t.a.arbitrator.address, before.cursor, deadline, panel=True)]
    assert t.get(did) == before._replace(phase=Phase.AWAITING_RULING, arbitrator=t.a.arbitrator.address,
                                         panel=True, rulingDeadline=deadline)


def test_appoint_panel_outside_escalated_is_refused(t: T) -> None:
    did, _ = t.open()
    call = t.dr.appointPanel(did, t.x.panel.address)
    with reverts("DisputeRegistryWrongPhase", did, Phase.AWAITING_RESPONSE):
        t.a.governor.send(call)
    t.do(t.a.arbitrator, t.dr.recuse(did))
    t.do(t.a.governor, call)
    with reverts("DisputeRegistryWrongPhase", did, Phase.AWAITING_RESPONSE):  # appointed already
        t.a.governor.send(call)


def test_panel_that_misses_its_deadline_escalates_again(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RULING)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    before = t.get(did)
    t.chain.increase_time(before.rulingDeadline - t.now() + 1)
    receipt = t.do(t.a.stranger, t.dr.escalate(did))
    assert t.events(receipt) == [
        ("DisputeEscalated", {"id": did, "from": t.x.panel.address, "to": ZERO_ADDRESS})]
    assert t.get(did) == before._replace(phase=Phase.ESCALATED, resume=Phase.AWAITING_RULING,
                                         arbitrator=ZERO_ADDRESS, panel=False)


def _escalated_unanswered(t: T, kind: str) -> bytes:
    """A purchase dispute, or a merchant's review challenge, escalated (its only arbitrator recused) before
    its respondent (the merchant, or the log operator) answered."""
    if kind == "purchase":
        return _escalated(t, Phase.AWAITING_RESPONSE)
    t.anchor()
    did, _ = t.challenge()
    t.do(t.a.arbitrator, t.dr.recuse(did))
    d = t.get(did)
    assert (d.phase, d.resume, d.arbitrator, d.respondent) == (Phase.ESCALATED, Phase.AWAITING_RESPONSE,
                                                               ZERO_ADDRESS, t.a.operator.address)
    return did


@pytest.mark.parametrize("evidence", [EVIDENCE, ZERO32], ids=["with-evidence", "without-evidence"])
@pytest.mark.parametrize("kind", ["purchase", "review"])
def test_respondent_can_answer_while_escalated_before_its_deadline(t: T, kind: str, evidence: bytes) -> None:
    """Escalated out of AwaitingResponse, the dispute still takes its respondent's answer up to the response
    deadline second (DeadlinePassed one second later): DisputeResponded (+ Evidence), the dispute stays
    Escalated and only its resume phase becomes AwaitingRuling (the ruling deadline is kept); a panel
    appointed afterwards, even after the response deadline, resumes AwaitingRuling and does not rule by
    default."""
    did = _escalated_unanswered(t, kind)
    before = t.get(did)
    assert t.now() < before.responseDeadline
    respondent = t.who(before.respondent)
    receipt = accepted_until(t, before.responseDeadline, respondent, t.dr.respond(did, evidence, URI), did)
    expected = [("DisputeResponded", {"id": did, "respondent": respondent.address, "evidenceHash": evidence})]
    if evidence != ZERO32:
        expected.append(("Evidence", {"id": did, "party": respondent.address, "evidenceHash": evidence,
                                      "uri": URI}))
    assert t.events(receipt) == expected
    answered = t.get(did)
    assert answered == before._replace(resume=Phase.AWAITING_RULING)
    with reverts("DisputeRegistryWrongPhase", did, Phase.ESCALATED):  # answered once only
        respondent.send(t.dr.respond(did, ZERO32, ""))
    t.chain.increase_time(RESPONSE + 1)  # the panel comes after the response deadline
    panel = t.x.panel
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, panel.address))
    deadline = t.time(receipt) + RULING
    assert t.events(receipt) == [assigned(did, panel.address, before.cursor, deadline, panel=True)]
    resumed = answered._replace(phase=Phase.AWAITING_RULING, arbitrator=panel.address, panel=True,
                                rulingDeadline=deadline)
    assert t.get(did) == resumed
    outcome = Outcome.REFUND if kind == "purchase" else Outcome.REVIEW_REMOVED
    receipt = t.do(panel, t.dr.rule(did, outcome, amount_for(outcome), RATIONALE))
    at = t.time(receipt)
    assert t.events(receipt) == [ruled_event(did, panel.address, 0, outcome, amount_for(outcome),
                                             by_default=False)]
    assert t.get(did) == resumed._replace(phase=Phase.RULED, outcome=outcome, remedyAmount=amount_for(outcome),
                                          byDefault=False, firstArbitrator=panel.address,
                                          appealDeadline=at + APPEAL)


def test_relayed_answer_while_escalated_is_the_respondents(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    before = t.get(did)
    call = t.dr.respond(did, EVIDENCE, URI)
    with reverts("DisputeRegistryUnauthorized", t.a.stranger.address):
        t.world.relay(t.a.stranger, call)
    receipt = t.world.relay(t.a.merchant, call)
    merchant = t.a.merchant.address
    assert t.events(receipt, forwarder=True) == [
        ("DisputeResponded", {"id": did, "respondent": merchant, "evidenceHash": EVIDENCE}),
        ("Evidence", {"id": did, "party": merchant, "evidenceHash": EVIDENCE, "uri": URI}),
        executed(merchant),
    ]
    assert t.get(did) == before._replace(resume=Phase.AWAITING_RULING)


@pytest.mark.parametrize("who", ["buyer", "arbitrator", "governor", "stranger", "relayer", "merchant2",
                                 "operator", "panel"])
def test_answer_while_escalated_by_anyone_else_is_refused(t: T, who: str) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    before = t.get(did)
    actor = {"buyer": t.x.buyer, "panel": t.x.panel}.get(who) or t.a.by_name[who]
    with reverts("DisputeRegistryUnauthorized", actor.address):
        actor.send(t.dr.respond(did, EVIDENCE, URI))
    with reverts("DisputeRegistryUnauthorized", ZERO_ADDRESS):
        call_from_zero(t, t.dr.respond(did, EVIDENCE, URI))
    assert t.get(did) == before


def test_no_answer_while_escalated_after_the_deadline_and_the_panel_rules_by_default(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RESPONSE)
    before = t.get(did)
    t.chain.increase_time(before.responseDeadline - t.now() + 1)
    with reverts("DisputeRegistryDeadlinePassed", did, before.responseDeadline):
        t.a.merchant.send(t.dr.respond(did, ZERO32, ""))
    assert t.get(did) == before
    receipt = t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    deadline = t.time(receipt) + RULING
    assert t.get(did) == before._replace(phase=Phase.AWAITING_RESPONSE, arbitrator=t.x.panel.address,
                                         panel=True, rulingDeadline=deadline)
    with reverts("DisputeRegistryDeadlinePassed", did, before.responseDeadline):
        t.a.merchant.send(t.dr.respond(did, ZERO32, ""))
    receipt = t.do(t.x.panel, t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE))
    assert t.events(receipt) == [ruled_event(did, t.x.panel.address, 0, Outcome.REFUND, by_default=True)]


@pytest.mark.parametrize("resume", [Phase.AWAITING_RULING, Phase.APPEALED, Phase.REMEDY_CONTESTED],
                         ids=lambda p: p.name.lower())
def test_no_answer_while_escalated_out_of_another_phase(t: T, resume: Phase) -> None:
    """Only a dispute escalated out of AwaitingResponse takes an answer, even before the response deadline."""
    did = _escalated(t, resume)
    before = t.get(did)
    with reverts("DisputeRegistryWrongPhase", did, Phase.ESCALATED):
        t.a.merchant.send(t.dr.respond(did, EVIDENCE, URI))
    assert t.get(did) == before


def test_a_dispute_opened_escalated_takes_the_answer(t: T) -> None:
    """A dispute that opens Escalated (its only candidate is a party) also takes the answer."""
    t.do(t.a.governor, t.g.removeArbitrator(t.a.arbitrator.address))
    t.appoint(t.a.merchant)
    did, _ = t.open()
    before = t.get(did)
    assert (before.phase, before.resume) == (Phase.ESCALATED, Phase.AWAITING_RESPONSE)
    receipt = t.do(t.a.merchant, t.dr.respond(did, ZERO32, ""))
    assert t.events(receipt) == [("DisputeResponded", {"id": did, "respondent": t.a.merchant.address,
                                                       "evidenceHash": ZERO32})]
    assert t.get(did) == before._replace(resume=Phase.AWAITING_RULING)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    assert t.get(did).phase == Phase.AWAITING_RULING


# ================================================================ appeal


@pytest.mark.parametrize("party", ["claimant", "respondent"])
def test_appeal_goes_to_a_different_arbitrator(t: T, party: str) -> None:
    arbs = t.appoint(t.x.arbs[0], t.x.arbs[1])
    did = t.ruled(outcome=Outcome.REFUND)
    before = t.get(did)
    first = before.firstArbitrator
    appellant = t.role(did, party)
    receipt = t.do(appellant, t.dr.appeal(did, EVIDENCE, URI))
    expected, cursor = pick(did, arbs, t.parties(did) | {first}, before.cursor)
    assert expected not in (ZERO_ADDRESS, first)
    deadline = t.time(receipt) + RULING
    assert t.events(receipt) == [
        ("DisputeAppealed", {"id": did, "party": appellant.address, "evidenceHash": EVIDENCE}),
        ("Evidence", {"id": did, "party": appellant.address, "evidenceHash": EVIDENCE, "uri": URI}),
        assigned(did, expected, cursor, deadline),
    ]
    assert t.get(did) == before._replace(phase=Phase.APPEALED, round=1, arbitrator=expected, cursor=cursor,
                                         rulingDeadline=deadline)
    call = t.dr.rule(did, Outcome.REJECTED, 0, RATIONALE)
    with reverts("DisputeRegistryUnauthorized", first):  # the first instance does not judge its own appeal
        t.who(first).send(call)
    receipt = t.do(t.who(expected), call)
    assert t.events(receipt) == [ruled_event(did, expected, 1, Outcome.REJECTED, 0),
                                 ("DisputeFinal", {"id": did, "outcome": Outcome.REJECTED}),
                                 ("DisputeClosed", {"id": did})]
    final = t.get(did)
    assert final == before._replace(phase=Phase.CLOSED, round=1, arbitrator=expected, cursor=cursor,
                                    rulingDeadline=deadline, outcome=Outcome.REJECTED, remedyAmount=0)
    for again in (t.x.buyer, t.a.merchant):  # the appeal ruling is final
        with reverts("DisputeRegistryWrongPhase", did, Phase.CLOSED):
            again.send(t.dr.appeal(did, ZERO32, ""))


def test_appeal_ruling_with_a_remedy_is_final(t: T) -> None:
    t.appoint(t.x.arbs[0], t.x.arbs[1])
    did = t.ruled(outcome=Outcome.REJECTED)
    t.do(t.x.buyer, t.dr.appeal(did, ZERO32, ""))
    receipt = t.rule(did, Outcome.REPLACEMENT, 0)
    assert [n for n, _ in t.events(receipt)] == ["DisputeRuled", "DisputeFinal"]
    assert t.get(did).phase == Phase.REMEDY_DUE
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.merchant.send(t.dr.appeal(did, ZERO32, ""))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.stranger.send(t.dr.finalize(did))


def test_appeal_up_to_the_window_end_second(t: T) -> None:
    t.appoint(t.x.arbs[0])
    did = t.ruled()
    deadline = t.get(did).appealDeadline
    accepted_until(t, deadline, t.x.buyer, t.dr.appeal(did, ZERO32, ""), did)
    assert t.get(did).phase == Phase.APPEALED


@pytest.mark.parametrize(("who", "mode"), [
    ("arbitrator", "direct"), ("stranger", "direct"), ("merchant2", "direct"), ("relayer", "direct"),
    ("governor", "direct"), ("stranger", "relayed"),
])
def test_appeal_by_anyone_else_is_refused(t: T, who: str, mode: str) -> None:
    did = t.ruled()
    actor = t.a.by_name[who]
    call = t.dr.appeal(did, ZERO32, "")
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_appeal_before_a_ruling_is_refused(t: T) -> None:
    did = t.responded()
    with reverts("DisputeRegistryWrongPhase", did, Phase.AWAITING_RULING):
        t.x.buyer.send(t.dr.appeal(did, ZERO32, ""))


def test_appeal_with_a_single_arbitrator_goes_to_a_panel(t: T) -> None:
    did = t.ruled()
    before = t.get(did)
    arb = t.a.arbitrator.address
    receipt = t.do(t.a.merchant, t.dr.appeal(did, ZERO32, ""))
    assert t.events(receipt) == [
        ("DisputeAppealed", {"id": did, "party": t.a.merchant.address, "evidenceHash": ZERO32}),
        ("DisputeEscalated", {"id": did, "from": arb, "to": ZERO_ADDRESS}),
    ]
    assert t.get(did) == before._replace(phase=Phase.ESCALATED, resume=Phase.APPEALED, round=1,
                                         arbitrator=ZERO_ADDRESS)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    with reverts("DisputeRegistryUnauthorized", arb):
        t.a.arbitrator.send(t.dr.rule(did, Outcome.REJECTED, 0, RATIONALE))
    receipt = t.do(t.x.panel, t.dr.rule(did, Outcome.REJECTED, 0, RATIONALE))
    assert [n for n, _ in t.events(receipt)] == ["DisputeRuled", "DisputeFinal", "DisputeClosed"]


def test_appeal_of_a_panels_ruling_escalates_again(t: T) -> None:
    did = _escalated(t, Phase.AWAITING_RULING)
    t.do(t.a.governor, t.dr.appointPanel(did, t.x.panel.address))
    t.do(t.x.panel, t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE))
    receipt = t.do(t.x.buyer, t.dr.appeal(did, ZERO32, ""))
    assert t.events(receipt)[-1] == ("DisputeEscalated",
                                     {"id": did, "from": t.x.panel.address, "to": ZERO_ADDRESS})
    d = t.get(did)
    assert (d.phase, d.resume, d.panel, d.firstArbitrator) == (Phase.ESCALATED, Phase.APPEALED, False,
                                                               t.x.panel.address)


# ================================================================ finalize


@pytest.mark.parametrize("outcome", [*PURCHASE_OUTCOMES, *REVIEW_OUTCOMES], ids=lambda o: o.name.lower())
def test_finalize_after_the_appeal_window(t: T, outcome: Outcome) -> None:
    if outcome in PURCHASE_OUTCOMES:
        did = t.ruled(outcome=outcome)
    else:
        t.anchor()
        did, _ = t.challenge(by=t.a.operator)
        t.rule(did, outcome, 0)
    before = t.get(did)
    receipt = refused_until(t, before.appealDeadline, t.a.stranger, t.dr.finalize(did), did)
    events = [("DisputeFinal", {"id": did, "outcome": outcome})]
    if outcome == Outcome.REVIEW_REMOVED:
        events.append(("ReviewTakenDown", {"leafIndex": LEAF, "disputeId": did}))
    if outcome in REMEDIES:
        assert t.events(receipt) == events
        assert t.get(did) == before._replace(phase=Phase.REMEDY_DUE)
    else:
        assert t.events(receipt) == [*events, ("DisputeClosed", {"id": did})]
        assert t.get(did) == before._replace(phase=Phase.CLOSED)


def test_finalize_before_a_ruling_is_refused(t: T) -> None:
    did = t.responded()
    t.chain.increase_time(30 * DAY)
    with reverts("DisputeRegistryWrongPhase", did, Phase.AWAITING_RULING):
        t.a.stranger.send(t.dr.finalize(did))


# ================================================================ remedy


def test_merchant_reports_the_remedy(t: T) -> None:
    did = t.finalized()
    before = t.get(did)
    receipt = t.do(t.a.merchant, t.dr.reportRemedy(did, EVIDENCE))
    deadline = t.time(receipt) + CONFIRM
    assert t.events(receipt) == [("RemedyReported", {"id": did, "merchant": t.a.merchant.address,
                                                     "evidenceHash": EVIDENCE, "confirmDeadline": deadline})]
    assert t.get(did) == before._replace(phase=Phase.REMEDY_REPORTED, remedyDeadline=deadline)
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_REPORTED):
        t.a.merchant.send(t.dr.reportRemedy(did, EVIDENCE))


def test_report_remedy_before_it_is_due_is_refused(t: T) -> None:
    did = t.ruled()
    with reverts("DisputeRegistryWrongPhase", did, Phase.RULED):
        t.a.merchant.send(t.dr.reportRemedy(did, EVIDENCE))


REMEDY_STEPS: dict[str, tuple[str, str, Callable[[T, bytes], ContractFunction]]] = {
    # step: (phase it needs, the one who may take it, call)
    "reportRemedy": ("finalized", "merchant", lambda t, i: t.dr.reportRemedy(i, EVIDENCE)),
    "confirmRemedy": ("reported", "buyer", lambda t, i: t.dr.confirmRemedy(i)),
    "contestRemedy": ("reported", "buyer", lambda t, i: t.dr.contestRemedy(i, EVIDENCE)),
    "ruleOnRemedy": ("contested", "arbitrator", lambda t, i: t.dr.ruleOnRemedy(i, True, RATIONALE)),
}


@pytest.mark.parametrize("step", list(REMEDY_STEPS))
def test_remedy_steps_by_anyone_else_are_refused(t: T, step: str) -> None:
    prepare, authorised, make = REMEDY_STEPS[step]
    did = getattr(t, prepare)()
    call = make(t, did)
    others = [n for n in ("buyer", "merchant", "merchant2", "arbitrator", "governor", "operator", "relayer",
                          "stranger", "admin") if n != authorised]
    for name in others:
        actor = t.x.buyer if name == "buyer" else t.a.by_name[name]
        with reverts("DisputeRegistryUnauthorized", actor.address):
            actor.simulate(call)
    with reverts("DisputeRegistryUnauthorized", t.a.stranger.address):
        t.world.relay(t.a.stranger, call)
    with reverts("DisputeRegistryUnauthorized", t.a.relayer.address):
        t.a.relayer.send(call)


def test_claimant_confirms_the_remedy(t: T) -> None:
    did = t.reported()
    before = t.get(did)
    receipt = t.do(t.x.buyer, t.dr.confirmRemedy(did))
    assert t.events(receipt) == [("RemedyConfirmed", {"id": did, "deemed": False}),
                                 ("DisputeClosed", {"id": did})]
    assert t.get(did) == before._replace(phase=Phase.CLOSED)


def test_confirm_before_a_report_is_refused(t: T) -> None:
    did = t.finalized()
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.x.buyer.send(t.dr.confirmRemedy(did))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.x.buyer.send(t.dr.contestRemedy(did, EVIDENCE))
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.stranger.send(t.dr.closeRemedy(did))


def test_claimant_contests_up_to_the_deadline_second(t: T) -> None:
    did = t.reported()
    before = t.get(did)
    receipt = accepted_until(t, before.remedyDeadline, t.x.buyer, t.dr.contestRemedy(did, EVIDENCE), did)
    assert t.events(receipt) == [("RemedyContested", {"id": did, "evidenceHash": EVIDENCE})]
    assert t.get(did) == before._replace(phase=Phase.REMEDY_CONTESTED,
                                         rulingDeadline=t.time(receipt) + RULING)


def test_arbitrator_finds_the_remedy_fulfilled(t: T) -> None:
    did = t.contested()
    before = t.get(did)
    call = t.dr.ruleOnRemedy(did, True, RATIONALE)
    receipt = accepted_until(t, before.rulingDeadline, t.a.arbitrator, call, did)
    assert t.events(receipt) == [
        ("RemedyRuled", {"id": did, "arbitrator": t.a.arbitrator.address, "fulfilled": True,
                         "rationaleHash": RATIONALE}),
        ("DisputeClosed", {"id": did}),
    ]
    assert t.get(did) == before._replace(phase=Phase.CLOSED)


def test_arbitrator_finds_the_remedy_unfulfilled_and_the_merchant_reports_again(t: T) -> None:
    did = t.contested()
    before = t.get(did)
    receipt = t.do(t.a.arbitrator, t.dr.ruleOnRemedy(did, False, RATIONALE))
    assert t.events(receipt) == [("RemedyRuled", {"id": did, "arbitrator": t.a.arbitrator.address,
                                                  "fulfilled": False, "rationaleHash": RATIONALE})]
    assert t.get(did) == before._replace(phase=Phase.REMEDY_DUE)
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_DUE):
        t.a.arbitrator.send(t.dr.ruleOnRemedy(did, True, RATIONALE))
    t.chain.increase_time(DAY)
    receipt = t.do(t.a.merchant, t.dr.reportRemedy(did, EVIDENCE))
    assert t.get(did).remedyDeadline == t.time(receipt) + CONFIRM > before.remedyDeadline
    t.do(t.x.buyer, t.dr.confirmRemedy(did))
    assert t.get(did).phase == Phase.CLOSED


def test_rule_on_remedy_outside_a_contest_is_refused(t: T) -> None:
    did = t.reported()
    with reverts("DisputeRegistryWrongPhase", did, Phase.REMEDY_REPORTED):
        t.a.arbitrator.send(t.dr.ruleOnRemedy(did, True, RATIONALE))


def test_anyone_closes_an_uncontested_remedy_after_the_window(t: T) -> None:
    did = t.reported()
    before = t.get(did)
    receipt = refused_until(t, before.remedyDeadline, t.a.stranger, t.dr.closeRemedy(did), did)
    assert t.events(receipt) == [("RemedyConfirmed", {"id": did, "deemed": True}),
                                 ("DisputeClosed", {"id": did})]
    assert t.get(did) == before._replace(phase=Phase.CLOSED)


# ================================================================ Closed is final; unknown ids

ID_CALLS: dict[str, tuple[str, Callable[[T, bytes], ContractFunction]]] = {
    "submitEvidence": ("claimant", lambda t, i: t.dr.submitEvidence(i, EVIDENCE, URI)),
    "respond": ("respondent", lambda t, i: t.dr.respond(i, EVIDENCE, URI)),
    "recuse": ("arbitrator", lambda t, i: t.dr.recuse(i)),
    "escalate": ("anyone", lambda t, i: t.dr.escalate(i)),
    "appointPanel": ("governor", lambda t, i: t.dr.appointPanel(i, t.x.panel.address)),
    "rule": ("arbitrator", lambda t, i: t.dr.rule(i, Outcome.REFUND, AMOUNT, RATIONALE)),
    "appeal": ("claimant", lambda t, i: t.dr.appeal(i, EVIDENCE, URI)),
    "finalize": ("anyone", lambda t, i: t.dr.finalize(i)),
    "reportRemedy": ("merchant", lambda t, i: t.dr.reportRemedy(i, EVIDENCE)),
    "confirmRemedy": ("claimant", lambda t, i: t.dr.confirmRemedy(i)),
    "contestRemedy": ("claimant", lambda t, i: t.dr.contestRemedy(i, EVIDENCE)),
    "closeRemedy": ("anyone", lambda t, i: t.dr.closeRemedy(i)),
    "ruleOnRemedy": ("arbitrator", lambda t, i: t.dr.ruleOnRemedy(i, True, RATIONALE)),
}


def test_the_id_table_covers_every_write_taking_an_id() -> None:
    writes = {i["name"] for i in load("DisputeRegistry").abi if i["type"] == "function"
              and i["stateMutability"] == "nonpayable" and i["inputs"] and i["inputs"][0]["name"] == "id"}
    assert writes == set(ID_CALLS)


def _closed(t: T, path: str) -> bytes:
    if path == "remedy-confirmed":
        did = t.reported()
        t.do(t.x.buyer, t.dr.confirmRemedy(did))
    elif path == "remedy-deemed":
        did = t.reported()
        t.chain.increase_time(CONFIRM + 1)
        t.do(t.a.stranger, t.dr.closeRemedy(did))
    elif path == "remedy-ruled":
        did = t.contested()
        t.do(t.a.arbitrator, t.dr.ruleOnRemedy(did, True, RATIONALE))
    elif path == "rejected":
        did = t.finalized(outcome=Outcome.REJECTED)
    else:  # a review taken down
        t.anchor()
        did, _ = t.review_final(Outcome.REVIEW_REMOVED)
    assert t.get(did).phase == Phase.CLOSED
    return did


@pytest.mark.parametrize("path", ["remedy-confirmed", "remedy-deemed", "remedy-ruled", "rejected",
                                  "review-removed"])
def test_closed_is_final(t: T, path: str) -> None:
    did = _closed(t, path)
    before, takedown = t.get(did), t.takedown()
    t.chain.increase_time(365 * DAY)  # every deadline long past
    for fn, (role, make) in ID_CALLS.items():
        call = make(t, did)
        actor = t.role(did, role, before)
        with reverts("DisputeRegistryWrongPhase", did, Phase.CLOSED):
            actor.simulate(call)
        if role != "anyone":
            with reverts("DisputeRegistryUnauthorized", t.a.stranger.address):
                t.a.stranger.simulate(call)
        if path == "remedy-confirmed":  # mined too: each fails and leaves no event
            receipt = force_send(t.world, actor, call)
            assert (receipt["status"], receipt["logs"]) == (0, []), fn
    assert t.get(did) == before
    if path == "review-removed":
        with reverts("DisputeRegistryAlreadyOpened", did):
            t.challenge()
    else:
        att, sig = t.attest()
        with reverts("DisputeRegistryAlreadyOpened", did):
            t.x.buyer.send(t.open_call(att, sig))
    assert t.get(did) == before and t.takedown() == takedown


@pytest.mark.parametrize("fn", list(ID_CALLS))
def test_unknown_dispute(t: T, fn: str) -> None:
    role, make = ID_CALLS[fn]
    unknown = keccak(text="no such dispute")
    with reverts("DisputeRegistryUnknownDispute", unknown):
        t.role(unknown, role).send(make(t, unknown))


# ================================================================ relayed attribution


def test_relayed_respond_is_the_merchants(t: T) -> None:
    did, _ = t.open()
    receipt = t.world.relay(t.a.merchant, t.dr.respond(did, EVIDENCE, URI))
    merchant = t.a.merchant.address
    assert t.events(receipt, forwarder=True) == [
        ("DisputeResponded", {"id": did, "respondent": merchant, "evidenceHash": EVIDENCE}),
        ("Evidence", {"id": did, "party": merchant, "evidenceHash": EVIDENCE, "uri": URI}),
        executed(merchant),
    ]
    assert t.get(did).phase == Phase.AWAITING_RULING


def test_relayed_rule_is_the_signers(t: T) -> None:
    did = t.responded()
    call = t.dr.rule(did, Outcome.REFUND, AMOUNT, RATIONALE)
    with reverts("DisputeRegistryUnauthorized", t.a.stranger.address):
        t.world.relay(t.a.stranger, call)
    receipt = t.world.relay(t.a.arbitrator, call)
    assert t.events(receipt, forwarder=True) == [ruled_event(did, t.a.arbitrator.address, 0, Outcome.REFUND),
                                                 executed(t.a.arbitrator.address)]
    assert t.get(did).firstArbitrator == t.a.arbitrator.address


# ================================================================ takedowns


def test_hide_lapse_outlasts_response_ruling_and_appeal() -> None:
    assert DisputePeriods().as_tuple() == (RESPONSE, RULING, APPEAL, CONFIRM, HIDE)
    assert HIDE > RESPONSE + RULING + APPEAL


def test_deployed_periods_and_governance(t: T) -> None:
    assert tuple(t.dr.periods().call()) == (RESPONSE, RULING, APPEAL, CONFIRM, HIDE)
    assert t.dr.governance().call() == t.world.d.governance.address


def test_operator_hides_a_review_at_once(t: T) -> None:
    t.anchor()
    receipt = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    at = t.time(receipt)
    assert t.events(receipt) == [("ReviewEmergencyHidden", {
        "leafIndex": LEAF, "operator": t.a.operator.address, "reasonCode": REASON, "lapseAt": at + HIDE})]
    assert t.takedown() == (Hide.EMERGENCY_HIDDEN, at, at + HIDE, REASON, ZERO32)
    assert t.hidden() is True
    assert t.hidden(LEAF + 1) is False


def test_relayed_hide_is_the_operators(t: T) -> None:
    t.anchor()
    receipt = t.world.relay(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    at = t.time(receipt)
    assert t.events(receipt, forwarder=True) == [
        ("ReviewEmergencyHidden", {"leafIndex": LEAF, "operator": t.a.operator.address, "reasonCode": REASON,
                                   "lapseAt": at + HIDE}),
        executed(t.a.operator.address),
    ]
    assert t.takedown() == (Hide.EMERGENCY_HIDDEN, at, at + HIDE, REASON, ZERO32)


@pytest.mark.parametrize(("anchored", "leaf"),
                         [(0, 0), (0, LEAF), (LOG_SIZE, LOG_SIZE), (LOG_SIZE, 2**64 - 1)])
@pytest.mark.parametrize("mode", ["direct", "relayed"])
def test_hide_of_a_review_outside_the_anchored_log(t: T, anchored: int, leaf: int, mode: str) -> None:
    if anchored:
        t.anchor(anchored)
    call = t.dr.emergencyHide(leaf, REASON)
    with reverts("DisputeRegistryUnknownReview", leaf, anchored):
        if mode == "relayed":
            t.world.relay(t.a.operator, call)
        else:
            t.a.operator.send(call)
    assert t.takedown(leaf) == (Hide.NONE, 0, 0, ZERO32, ZERO32)


def test_hide_of_the_last_anchored_review_and_of_a_later_checkpoint(t: T) -> None:
    log = t.world.d.review_log.functions
    tree = MerkleTree(leaf_hash(f"review-{i}".encode()) for i in range(LOG_SIZE + 1))
    t.do(t.a.operator, log.appendCheckpoint(LOG_SIZE, tree.root(LOG_SIZE), []))
    t.do(t.a.operator, t.dr.emergencyHide(LOG_SIZE - 1, REASON))
    assert t.hidden(LOG_SIZE - 1) is True
    with reverts("DisputeRegistryUnknownReview", LOG_SIZE, LOG_SIZE):
        t.a.operator.send(t.dr.emergencyHide(LOG_SIZE, REASON))
    # the latest checkpoint counts
    t.do(t.a.operator, log.appendCheckpoint(LOG_SIZE + 1, tree.root(), tree.consistency_proof(LOG_SIZE,
                                                                                             LOG_SIZE + 1)))
    t.do(t.a.operator, t.dr.emergencyHide(LOG_SIZE, REASON))
    assert t.takedown(LOG_SIZE).state == Hide.EMERGENCY_HIDDEN


@pytest.mark.parametrize(("who", "mode"), [
    ("merchant", "direct"), ("governor", "direct"), ("stranger", "direct"), ("arbitrator", "direct"),
    ("relayer", "direct"), ("admin", "direct"), ("stranger", "relayed"), ("relayer", "relayed"),
])
def test_hide_by_anyone_but_the_operator_is_refused(t: T, who: str, mode: str) -> None:
    """Nothing is anchored: the caller is checked first."""
    actor = t.a.by_name[who]
    call = t.dr.emergencyHide(LEAF, REASON)
    with reverts("DisputeRegistryUnauthorized", actor.address):
        if mode == "relayed":
            t.world.relay(actor, call)
        else:
            actor.send(call)


def test_hide_lapses_and_cannot_be_hidden_again(t: T) -> None:
    """Once per review: neither while hidden, nor at the lapse second, nor after the lapse; only a ruling
    takes the review down then, and it keeps the record of the hide."""
    t.anchor()
    receipt = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    hidden_at = t.time(receipt)
    lapse = hidden_at + HIDE
    record = (Hide.EMERGENCY_HIDDEN, hidden_at, lapse, REASON, ZERO32)
    call = t.dr.emergencyHide(LEAF, keccak(text="reason:again"))
    with reverts("DisputeRegistryAlreadyHidden", LEAF):
        t.a.operator.send(call)
    with reverts("DisputeRegistryAlreadyHidden", LEAF):
        t.world.relay(t.a.operator, call)
    for at in (lapse, lapse + 1):
        snap = t.snapshot()
        assert mine_at(t.world, at, t.a.operator, call)["status"] == 0
        t.rewind(snap)
    t.chain.increase_time(lapse - t.now() + 1)
    assert t.hidden() is False
    assert t.takedown() == record  # lapsed: the record stays, the view says visible
    with reverts("DisputeRegistryAlreadyHidden", LEAF):
        t.a.operator.send(call)
    assert t.takedown() == record
    # a final removal still takes it down
    did, receipt = t.review_final(Outcome.REVIEW_REMOVED, by=t.a.operator)
    assert ("ReviewTakenDown", {"leafIndex": LEAF, "disputeId": did}) in t.events(receipt)
    assert t.takedown() == (Hide.TAKEN_DOWN, hidden_at, lapse, REASON, did)
    assert t.hidden() is True


def test_a_timely_ruling_lands_before_the_hide_lapses(t: T) -> None:
    """Hidden and challenged at once, every step taken at its last second: the removal is final while the
    review is still hidden."""
    t.anchor()
    receipt = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    hidden_at = t.time(receipt)
    lapse = hidden_at + HIDE
    did, receipt = t.challenge()
    d = t.get(did)
    assert mine_at(t.world, d.responseDeadline, t.a.operator, t.dr.respond(did, ZERO32, ""))["status"] == 1
    d = t.get(did)
    call = t.dr.rule(did, Outcome.REVIEW_REMOVED, 0, RATIONALE)
    assert mine_at(t.world, d.rulingDeadline, t.a.arbitrator, call)["status"] == 1
    d = t.get(did)
    assert d.appealDeadline + 1 <= lapse
    receipt = mine_at(t.world, d.appealDeadline + 1, t.a.stranger, t.dr.finalize(did))
    assert receipt["status"] == 1
    assert t.takedown() == (Hide.TAKEN_DOWN, hidden_at, lapse, REASON, did)
    t.chain.increase_time(HIDE)
    assert t.hidden() is True


def test_final_removal_takes_the_review_down_for_good(t: T) -> None:
    t.anchor()
    did, receipt = t.review_final(Outcome.REVIEW_REMOVED)
    at = t.time(receipt)
    assert t.events(receipt) == [("DisputeFinal", {"id": did, "outcome": Outcome.REVIEW_REMOVED}),
                                 ("ReviewTakenDown", {"leafIndex": LEAF, "disputeId": did}),
                                 ("DisputeClosed", {"id": did})]
    assert t.takedown() == (Hide.TAKEN_DOWN, at, 0, ZERO32, did)
    assert t.hidden() is True
    with reverts("DisputeRegistryAlreadyHidden", LEAF):
        t.a.operator.send(t.dr.emergencyHide(LEAF, REASON))
    # another challenge of the same review, upheld, does not bring it back
    other, receipt = t.review_final(Outcome.REVIEW_UPHELD, by=t.a.operator)
    assert t.events(receipt) == [("DisputeFinal", {"id": other, "outcome": Outcome.REVIEW_UPHELD}),
                                 ("DisputeClosed", {"id": other})]
    # nor does a later removal rename the tombstone
    later, receipt = t.review_final(Outcome.REVIEW_REMOVED, by=t.a.merchant2)
    assert t.events(receipt) == [("DisputeFinal", {"id": later, "outcome": Outcome.REVIEW_REMOVED}),
                                 ("DisputeClosed", {"id": later})]
    t.chain.increase_time(3 * 365 * DAY)
    assert t.takedown() == (Hide.TAKEN_DOWN, at, 0, ZERO32, did)
    assert t.hidden() is True


def test_final_removal_confirms_an_emergency_hide(t: T) -> None:
    t.anchor()
    hid = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    did, _ = t.challenge(by=t.a.operator)
    t.rule(did, Outcome.REVIEW_REMOVED, 0)
    t.chain.increase_time(APPEAL + 1)
    receipt = t.do(t.a.stranger, t.dr.finalize(did))
    assert ("ReviewTakenDown", {"leafIndex": LEAF, "disputeId": did}) in t.events(receipt)
    assert t.takedown() == (Hide.TAKEN_DOWN, t.time(hid), t.time(hid) + HIDE, REASON, did)
    assert t.hidden() is True


def test_final_upholding_restores_an_emergency_hidden_review(t: T) -> None:
    t.anchor()
    hid = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    did, _ = t.challenge(by=t.a.operator)
    t.rule(did, Outcome.REVIEW_UPHELD, 0)
    t.chain.increase_time(APPEAL + 1)
    receipt = t.do(t.a.stranger, t.dr.finalize(did))
    assert t.events(receipt) == [("DisputeFinal", {"id": did, "outcome": Outcome.REVIEW_UPHELD}),
                                 ("ReviewRestored", {"leafIndex": LEAF, "disputeId": did}),
                                 ("DisputeClosed", {"id": did})]
    assert t.takedown() == (Hide.RESTORED, t.time(hid), t.time(hid) + HIDE, REASON, did)
    assert t.hidden() is False
    with reverts("DisputeRegistryAlreadyHidden", LEAF):  # restored: only a ruling can take it down now
        t.a.operator.send(t.dr.emergencyHide(LEAF, keccak(text="reason:again")))
    assert t.takedown() == (Hide.RESTORED, t.time(hid), t.time(hid) + HIDE, REASON, did)


def test_final_upholding_of_a_review_never_hidden_records_nothing(t: T) -> None:
    t.anchor()
    did, receipt = t.review_final(Outcome.REVIEW_UPHELD)
    assert t.events(receipt) == [("DisputeFinal", {"id": did, "outcome": Outcome.REVIEW_UPHELD}),
                                 ("DisputeClosed", {"id": did})]
    assert t.takedown() == (Hide.NONE, 0, 0, ZERO32, ZERO32)
    assert t.hidden() is False
    receipt = t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))  # no record: it may still be hidden once
    at = t.time(receipt)
    assert t.takedown() == (Hide.EMERGENCY_HIDDEN, at, at + HIDE, REASON, ZERO32)


@pytest.mark.parametrize("hidden_first", [False, True], ids=["never-hidden", "emergency-hidden"])
def test_removal_overturned_on_appeal_leaves_the_review_visible(t: T, hidden_first: bool) -> None:
    t.anchor()
    t.appoint(t.x.arbs[0], t.x.arbs[1])
    if hidden_first:
        t.do(t.a.operator, t.dr.emergencyHide(LEAF, REASON))
    did, _ = t.challenge()
    t.do(t.a.operator, t.dr.respond(did, ZERO32, ""))
    receipt = t.rule(did, Outcome.REVIEW_REMOVED, 0)
    assert [n for n, _ in t.events(receipt)] == ["DisputeRuled"]  # first instance: nothing taken down yet
    t.do(t.a.operator, t.dr.appeal(did, EVIDENCE, URI))
    receipt = t.rule(did, Outcome.REVIEW_UPHELD, 0)
    expected = [ruled_event(did, t.get(did).arbitrator, 1, Outcome.REVIEW_UPHELD, 0),
                ("DisputeFinal", {"id": did, "outcome": Outcome.REVIEW_UPHELD})]
    if hidden_first:
        expected.append(("ReviewRestored", {"leafIndex": LEAF, "disputeId": did}))
    assert t.events(receipt) == [*expected, ("DisputeClosed", {"id": did})]
    assert t.hidden() is False
    assert t.takedown().state == (Hide.RESTORED if hidden_first else Hide.NONE)
    if hidden_first:
        with reverts("DisputeRegistryAlreadyHidden", LEAF):
            t.a.operator.send(t.dr.emergencyHide(LEAF, REASON))
