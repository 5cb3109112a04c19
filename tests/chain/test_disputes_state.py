"""DisputeRegistry as a Hypothesis state machine on the chain.

Every rule attempts one step of the dispute process (open a purchase dispute, challenge a review, submit
evidence, respond, rule, recuse, escalate, appoint a panel, appeal, finalize, report / confirm / contest /
close a remedy, rule on a remedy; also emergency hides, merchant sanctions and time) as a randomly chosen
actor (the party the step belongs to, another party, the assigned arbitrator, another arbitrator, the
governor, the relayer, a stranger, ...) and by a randomly chosen route:

* ``direct``: the actor sends the transaction itself;
* ``relay``: the actor signs an ERC-2771 request and the relayer carries it through the forwarder;
* ``spoof``: the actor sends directly, with the rightful party's address appended to the calldata (what
  the forwarder would append): a contract that trusted the suffix from anyone would be fooled;
* ``relay_spoof``: the same suffix inside a relayed request's data (the forwarder appends the real signer);
* ``forge``: a forwarder request that names the rightful party as ``from`` but is signed by the actor.

A plain Python model of every dispute (phase, deadlines, parties, assigned arbitrator, cursor, round,
outcome, ...) predicts, from the documented rules (docs/disputes.md), whether the contract must accept the
step or refuse it and with which named error and arguments; the prediction is asserted against what the
chain did, and after every step the model is compared field by field with ``dispute(id)`` (and with the
review takedowns). Invariants, after every step: a Closed dispute never changes; an open dispute has one
arbitrator who is no party (and, on appeal, not the first-instance one); a default ruling only follows a
missed response; an accepted step was taken by its party (never through a forged request); the phase only
moves along the documented edges.

Rules are drawn by Hypothesis (which enables a random subset of them per example); most of them are
steered, two times in three, to a dispute where they can succeed and to the party they belong to, and a
`progress` driver takes a step that some party can take, so that the remedy phases are reached.

Time is exact: on py-evm a transaction is simulated and mined at ``latest + 1`` (the machine first moves the
chain an hour ahead of the wall clock, which py-evm would otherwise use); on Hardhat and Anvil the next
block's timestamp is pinned to ``latest`` before every transaction, which is also when the node simulates
it. Every accepted step's block timestamp is checked against the predicted one, so the deadline
boundaries (``<=`` against ``<``) are tested exactly; ``advance_to_deadline`` lands steps on them.

Two directed tests at the end pin two contract bugs found while building this machine, which break its
invariants (a panel could be a party or the first-instance arbitrator; a respondent refused while the
dispute waited for a panel could then be ruled against by default); both are fixed since b589c5a.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger.chain import Transactor, _raise_named
from ledger.deploy import DisputePeriods
from ledger.eip712 import PurchaseAttestation, sign_forward_request, sign_purchase_attestation
from ledger.errors import ContractError, UnknownRevert

from ..conftest import World, reverts

pytestmark = pytest.mark.chain

ZERO = "0x0000000000000000000000000000000000000000"
PERIODS = DisputePeriods()  # what ledger.deploy.deploy (and so the _world fixture) uses
DAY = 24 * 3600
ANCHORED_SIZE = 8  # the checkpoint the machine anchors before a review challenge
MAX_DISPUTES = 4  # per example: every step re-reads every dispute, keep that bounded
EVIDENCE = keccak(text="evidence")
RATIONALE = keccak(text="rationale")
PURCHASE_TAG = keccak(text="trustledger.dispute.purchase")
REVIEW_TAG = keccak(text="trustledger.dispute.review")


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


class Kind(IntEnum):
    PURCHASE = 0
    REVIEW_CHALLENGE = 1


class Outcome(IntEnum):
    NONE = 0
    REFUND = 1
    REPLACEMENT = 2
    PARTIAL_REFUND = 3
    REJECTED = 4
    REVIEW_REMOVED = 5
    REVIEW_UPHELD = 6


class MS(IntEnum):  # ITrustGovernance.MerchantStatus
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    BANNED = 3


class TD(IntEnum):  # TakedownState
    NONE = 0
    EMERGENCY_HIDDEN = 1
    TAKEN_DOWN = 2
    RESTORED = 3


P = Phase
# The documented state machine (IDisputeRegistry header), as the phase changes one transaction can show.
EDGES: frozenset[tuple[Phase, Phase]] = frozenset({
    (P.NONE, P.AWAITING_RESPONSE),            # open (somebody answers)
    (P.NONE, P.AWAITING_RULING),              # the operator's own referral: nobody answers
    (P.NONE, P.ESCALATED),                    # open with no eligible arbitrator left
    (P.AWAITING_RESPONSE, P.AWAITING_RULING),  # respond
    (P.AWAITING_RESPONSE, P.RULED),           # rule by default after the response deadline
    (P.AWAITING_RULING, P.RULED),             # rule
    (P.RULED, P.APPEALED),                    # appeal
    (P.RULED, P.REMEDY_DUE),                  # appeal window over: final, remedy due
    (P.RULED, P.CLOSED),                      # appeal window over: final, nothing to remedy
    (P.APPEALED, P.REMEDY_DUE),               # rule on appeal: final
    (P.APPEALED, P.CLOSED),
    (P.REMEDY_DUE, P.REMEDY_REPORTED),        # report
    (P.REMEDY_REPORTED, P.CLOSED),            # confirm, or window over
    (P.REMEDY_REPORTED, P.REMEDY_CONTESTED),  # contest
    (P.REMEDY_CONTESTED, P.CLOSED),           # rule on remedy: fulfilled
    (P.REMEDY_CONTESTED, P.REMEDY_DUE),       # rule on remedy: not fulfilled
    # no arbitrator left (recuse / escalate / appeal): Escalated, until the governor's panel resumes it
    (P.AWAITING_RESPONSE, P.ESCALATED),
    (P.AWAITING_RULING, P.ESCALATED),
    (P.APPEALED, P.ESCALATED),
    (P.RULED, P.ESCALATED),                   # appeal, Ruled -> Appealed -> Escalated in one transaction
    (P.REMEDY_CONTESTED, P.ESCALATED),
    (P.ESCALATED, P.AWAITING_RESPONSE),
    (P.ESCALATED, P.AWAITING_RULING),
    (P.ESCALATED, P.APPEALED),
    (P.ESCALATED, P.REMEDY_CONTESTED),
})
OPEN_WITH_ARBITRATOR = frozenset(Phase) - {P.NONE, P.CLOSED, P.ESCALATED}
BEFORE_RULING = frozenset({P.AWAITING_RESPONSE, P.AWAITING_RULING, P.APPEALED, P.REMEDY_CONTESTED})
REMEDY_OUTCOMES = frozenset({Outcome.REFUND, Outcome.REPLACEMENT, Outcome.PARTIAL_REFUND})
AMOUNT_OUTCOMES = frozenset({Outcome.REFUND, Outcome.PARTIAL_REFUND})  # exactly these carry an amount
FITS = {
    Kind.PURCHASE: frozenset({Outcome.REFUND, Outcome.REPLACEMENT, Outcome.PARTIAL_REFUND, Outcome.REJECTED}),
    Kind.REVIEW_CHALLENGE: frozenset({Outcome.REVIEW_REMOVED, Outcome.REVIEW_UPHELD}),
}

Expect = tuple[str, tuple[Any, ...]] | None  # None: the contract must accept


def purchase_id(order_commitment: bytes) -> bytes:
    return keccak(encode(["bytes32", "bytes32"], [PURCHASE_TAG, order_commitment]))


def review_id(challenger: str, leaf: int) -> bytes:
    return keccak(encode(["bytes32", "address", "uint64"], [REVIEW_TAG, challenger, leaf]))


@dataclass
class Model:
    """One dispute as the model sees it; the fields up to ``subject`` mirror ``IDisputeRegistry.Dispute``."""

    kind: Kind
    phase: Phase
    resume: Phase
    outcome: Outcome
    round: int
    by_default: bool
    panel: bool
    cursor: int
    opened_at: int
    response_deadline: int
    ruling_deadline: int
    appeal_deadline: int
    claimant: str
    remedy_deadline: int
    respondent: str
    remedy_amount: int
    merchant: str
    arbitrator: str
    first_arbitrator: str
    subject: bytes
    # bookkeeping (not on chain)
    id: bytes = b""
    responded: bool = False
    default_rulings: list[int] = field(default_factory=list)  # times of default rulings
    reopen: Callable[[], Any] | None = None  # a purchase dispute's attestation and signature

    N_CHAIN_FIELDS = 20

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self)[: self.N_CHAIN_FIELDS])

    @property
    def parties(self) -> set[str]:
        return {self.claimant, self.respondent, self.merchant} - {ZERO}


def _named(exp: Expect) -> str:
    return "accepted" if exp is None else exp[0].removeprefix("DisputeRegistry")


def _err(name: str, *args: Any) -> Expect:
    return ("DisputeRegistry" + name, tuple(args))


def _unauth(s: str) -> Expect:
    return _err("Unauthorized", s)


def _wrong(d: Model) -> Expect:
    return _err("WrongPhase", d.id, int(d.phase))


STATS: Counter[str] = Counter()


@dataclass
class Extras:
    """Actors the machine adds to the world's: a dedicated buyer, two more arbitrators, two panels."""

    by_name: dict[str, Transactor]

    @classmethod
    def create(cls, world: World) -> Extras:
        by_name = {}
        for name in ("buyer", "arb2", "arb3", "panel1", "panel2"):
            t = Transactor(world.w3, Account.from_key(keccak(text=f"trustledger-state-actor:{name}")))
            world.chain.fund(t.address, 10**20)
            by_name[name] = t
        return cls(by_name)


ROUTES = st.sampled_from(["direct", "relay", "direct", "relay", "spoof", "relay_spoof", "forge"])
OTHER_ROLES = ["claimant", "respondent", "merchant", "assigned", "other_arb", "first_arb", "governor",
               "relayer", "stranger", "operator", "panel"]
# two attempts in three by whoever the step belongs to, one by anyone
WHO = st.one_of(st.just("owner"), st.just("owner"), st.sampled_from(OTHER_ROLES))
# for steps that are accepted whenever their party takes them in phase (recuse, appeal): rarer, so that they
# do not exhaust the arbitrators, or pre-empt every finalization
WHO_SELDOM = st.one_of(st.just("owner"), st.sampled_from(OTHER_ROLES))
STEER = st.sampled_from([True, True, False])  # steer two steps in three to a dispute where they can succeed
BUYERS = st.sampled_from(["buyer", "buyer", "buyer", "stranger", "arbitrator", "arb2", "governor", "relayer",
                          "merchant2", "operator"])
SECONDS = st.one_of(st.integers(1, 120), st.integers(121, DAY), st.integers(DAY, 4 * DAY),
                    st.integers(4 * DAY, 12 * DAY))


class DisputeMachine(RuleBasedStateMachine):
    disputes = Bundle("disputes")

    def __init__(self, world: World, extras: Extras) -> None:
        super().__init__()
        self.w = world
        self.extras = extras
        self.dr = world.d.disputes.functions
        self.node = world.chain.kind != "eth-tester"
        self.delta = 0 if self.node else 1  # the next transaction's timestamp - the latest block's
        self.chain_id = world.d.chain_id
        # py-evm simulates the pending block (latest + 1, where the transaction will be mined); a node, whose
        # next timestamp is pinned to latest's, simulates on latest
        self.sim_block = "latest" if self.node else "pending"
        self.reader: Any = {"from": world.actors.stranger.address}  # saves eth-tester guessing a sender
        self._reset_nonces()
        self.snap = world.chain.snapshot()
        a = world.actors
        self.actors: dict[str, Transactor] = {**a.by_name, **extras.by_name}
        self.by_addr = {t.address: t for t in self.actors.values()}
        gov = world.d.governance.functions
        for name in ("arb2", "arb3"):
            a.governor.send(gov.appointArbitrator(self.actors[name].address))
        n = gov.arbitratorCount().call()
        self.arbs = [gov.arbitratorAt(i).call() for i in range(n)]
        assert self.arbs == [a.arbitrator.address, self.actors["arb2"].address, self.actors["arb3"].address]
        # py-evm stamps a block with the wall clock when that is later than the chain: stay well ahead of it
        world.chain.increase_time(3600)
        self.operator = a.operator.address
        self.governor = a.governor.address
        self.status = {a.merchant.address: MS.ACTIVE, a.merchant2.address: MS.ACTIVE}  # governance's view
        self.model: dict[bytes, Model] = {}
        self.anchored = 0
        self.orders = 0
        self.takedowns: dict[int, list[Any]] = {}  # leaf -> [state, hiddenAt, lapseAt, reasonCode, disputeId]
        self.observed: dict[bytes, tuple[Any, ...]] = {}
        self.frozen: dict[bytes, tuple[Any, ...]] = {}
        self.last_step: dict[str, Any] | None = None
        self.phase_changes: list[tuple[bytes, Phase, Phase]] = []
        self.observed_phase: dict[bytes, Phase] = {}
        self.hidden: dict[int, tuple[Any, bool]] = {}
        self.dirty_leaves: set[int] = set()
        self.now = world.chain.now()
        self.steps = 0

    def teardown(self) -> None:
        self.w.chain.revert(self.snap)
        self._reset_nonces()
        STATS["examples"] += 1
        STATS["steps"] += self.steps

    def _reset_nonces(self) -> None:
        self.w.actors.reset_nonces()
        for t in self.extras.by_name.values():
            t._nonce = None

    # ------------------------------------------------------------ time

    def _t_exec(self) -> int:
        """The timestamp the next transaction is simulated and mined at."""
        return self.w.chain.now() + self.delta

    def _t_soon(self) -> int:
        """The same, from the time read after the last step (no chain call): for choosing, not asserting."""
        return self.now + self.delta

    def _pin(self, t: int) -> None:
        if self.node:
            r = self.w.w3.provider.make_request("evm_setNextBlockTimestamp", [t])
            assert "error" not in r, r

    # ------------------------------------------------------------ actors

    def _actor(self, address: str) -> Transactor:
        return self.by_addr.get(address, self.actors["stranger"])

    def _resolve(self, who: str, d: Model | None, owner: str | None) -> Transactor:
        if who == "owner":
            return self._actor(owner) if owner else self.actors["stranger"]
        if d is None:
            return self.actors[who] if who in self.actors else self.actors["stranger"]
        match who:
            case "claimant":
                return self._actor(d.claimant)
            case "respondent":
                return self._actor(d.respondent) if d.respondent != ZERO else self.actors["operator"]
            case "merchant":
                return self._actor(d.merchant)
            case "assigned":
                return self._actor(d.arbitrator) if d.arbitrator != ZERO else self._actor(self.arbs[0])
            case "other_arb":
                others = [x for x in self.arbs if x != d.arbitrator]
                return self._actor(others[int.from_bytes(d.id[:1], "big") % len(others)])
            case "first_arb":
                first = d.first_arbitrator
                return self._actor(first) if first != ZERO else self._actor(self.arbs[1])
            case "panel":
                return self.actors["panel1"]
            case _:
                return self.actors[who]

    # ------------------------------------------------------------ sending

    def _decode(self, exc: BaseException) -> ContractError | UnknownRevert | BaseException:
        try:
            _raise_named(exc)
        except (ContractError, UnknownRevert) as named:
            return named
        return exc

    def _exec(self, sender: Transactor, to: str, data: bytes, accept: bool, t: int) -> tuple[Any, Any]:
        """Run a call from ``sender``: (receipt, None) if mined, ("simulated", None) if the contract would
        accept a step the model says it must refuse, (None, error) if it refused.

        A step the model refuses is only simulated (``eth_call`` at the time it would be mined); a step it
        accepts is sent with a fixed gas limit and must be mined successfully at the predicted time.
        """
        if not accept:
            try:
                self.w.w3.eth.call({"from": sender.address, "to": to, "data": data}, self.sim_block)
            except Exception as exc:  # noqa: BLE001 - every revert is decoded below
                return None, self._decode(exc)
            return "simulated", None
        self._pin(t)
        tx: dict[str, Any] = {"to": to, "data": data, "value": 0, "gas": 3_000_000,
                              "nonce": sender._next_nonce(), "chainId": self.chain_id,
                              "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 1}
        try:
            tx_hash = self.w.w3.eth.send_raw_transaction(sender.account.sign_transaction(tx).raw_transaction)
        except Exception as exc:  # noqa: BLE001
            sender._nonce = None
            return None, self._decode(exc)
        receipt = sender.wait(tx_hash)
        if receipt["status"] != 1:
            return None, f"mined in block {receipt['blockNumber']} but reverted"
        return receipt, None

    def _send(self, actor: Transactor, fn: Any, route: str, claim: str, accept: bool,
              t: int) -> tuple[Any, Any]:
        """Run ``fn`` as ``actor`` by ``route``."""
        fwd = self.w.d.forwarder
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        if route in ("spoof", "relay_spoof"):
            data += bytes.fromhex(claim[2:])  # the suffix a trusted forwarder would append
        if route in ("direct", "spoof"):
            return self._exec(actor, fn.address, data, accept, t)
        signer, sender = (actor, actor.address) if route != "forge" else (actor, claim)
        request = sign_forward_request(
            signer.account.key, sender=sender, to=fn.address, data=data, gas=2_000_000,
            nonce=fwd.functions.nonces(sender).call(self.reader), deadline=t + 3600,
            chain_id=self.chain_id, forwarder=fwd.address)
        execute = bytes.fromhex(fwd.functions.execute(request)._encode_transaction_data()[2:])
        return self._exec(self.actors["relayer"], fwd.address, execute, accept, t)

    def _attempt(
        self,
        action: str,
        d: Model | None,
        who: str,
        route: str,
        owners: frozenset[str] | None,
        fn: Any,
        predict: Callable[[str, int], Expect],
        effect: Callable[[str, int], None],
        actor: Transactor | None = None,
    ) -> bool:
        """Attempt one step; assert the chain did what the model predicted; apply it to the model."""
        owner = min(owners) if owners else None
        if actor is None:
            actor = self._resolve(who, d, owner)
        sender = actor.address
        claim = owner if owner is not None else (d.claimant if d else self.operator)
        if route == "forge" and claim == sender:
            route = "relay"  # a "forged" request signed by its own `from` is simply a relayed one
        t = self._t_exec()
        before = d.as_tuple() if d else None
        if route == "forge":
            expected: Expect = ("ERC2771ForwarderInvalidSigner", (sender, to_checksum_address(claim)))
        else:
            expected = predict(sender, t)
        receipt, error = self._send(actor, fn, route, claim, expected is None, t)
        ctx = (f"{action} by {who}={sender} via {route} at t={t} on "
               f"{d.as_tuple() if d else '-'}; expected {expected}")
        if expected is None:
            assert error is None, f"{ctx}; the contract refused: {error}"
            mined_at = int(self.w.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
            assert mined_at == t, f"harness: mined at {mined_at}, predicted {t}"
            effect(sender, t)
        else:
            assert error is not None, f"{ctx}; the contract accepts it (simulated, not sent)"
            assert isinstance(error, ContractError), f"{ctx}; refused without a named error: {error}"
            assert (error.name, tuple(error.args_)) == expected, f"{ctx}; the contract refused with {error}"
            if d is not None:
                assert d.as_tuple() == before  # the model predicted no change
        STATS[f"{action}: {_named(expected)}"] += 1
        STATS[f"route {route}"] += 1
        self.last_step = {"action": action, "sender": sender, "route": route, "claim": claim,
                          "owners": owners, "accepted": expected is None}
        self.steps += 1
        self._observe()
        return expected is None

    # ------------------------------------------------------------ model helpers

    def _has(self, *phases: Phase) -> bool:
        return any(d.phase in phases for d in self.model.values())

    def _assign(self, d: Model, t: int) -> None:
        """The public assignment rule (IDisputeRegistry / DisputeRegistry natspec)."""
        n = len(self.arbs)
        start = int.from_bytes(d.id, "big") % n
        previous = d.arbitrator
        cursor = d.cursor
        excluded = {d.claimant, d.respondent, d.merchant, d.first_arbitrator, previous}
        while cursor < n:
            candidate = self.arbs[(start + cursor) % n]
            cursor += 1
            if candidate not in excluded:
                d.cursor = cursor
                d.arbitrator = candidate
                d.ruling_deadline = max(d.ruling_deadline, t + PERIODS.ruling)
                return
        d.cursor = cursor
        d.arbitrator = ZERO
        d.resume = d.phase
        d.phase = P.ESCALATED
        STATS["escalated: no arbitrator left"] += 1

    def _final(self, d: Model, t: int) -> None:
        if d.kind == Kind.REVIEW_CHALLENGE:
            leaf = int.from_bytes(d.subject, "big")
            td = self.takedowns.setdefault(leaf, [TD.NONE, 0, 0, b"\0" * 32, b"\0" * 32])
            self.dirty_leaves.add(leaf)
            if d.outcome == Outcome.REVIEW_REMOVED and td[0] != TD.TAKEN_DOWN:
                td[0], td[4] = TD.TAKEN_DOWN, d.id
                if td[1] == 0:
                    td[1] = t
                STATS["review taken down"] += 1
            elif d.outcome == Outcome.REVIEW_UPHELD and td[0] == TD.EMERGENCY_HIDDEN:
                td[0], td[4] = TD.RESTORED, d.id
                STATS["review restored"] += 1
        if d.outcome in REMEDY_OUTCOMES:
            d.phase = P.REMEDY_DUE
        else:
            d.phase = P.CLOSED

    def _new(self, did: bytes, kind: Kind, claimant: str, respondent: str, merchant: str, subject: bytes,
             t: int) -> Model:
        if respondent == ZERO:
            phase, response, ruling = P.AWAITING_RULING, t, t + PERIODS.ruling
        else:
            phase, response = P.AWAITING_RESPONSE, t + PERIODS.response
            ruling = response + PERIODS.ruling
        d = Model(kind, phase, P.NONE, Outcome.NONE, 0, False, False, 0, t, response, ruling, 0, claimant, 0,
                  respondent, 0, merchant, ZERO, ZERO, subject, id=did)
        self._assign(d, t)
        self.model[did] = d
        return d

    # ------------------------------------------------------------ opening

    @initialize(target=disputes, buyer=BUYERS, route=ROUTES)
    def first_dispute(self, buyer: str, route: str) -> Any:
        """Every example starts with one purchase dispute opened by its buyer (or a refused attempt)."""
        return self.open_purchase(buyer, "buyer", "merchant", "good", route)

    @precondition(lambda self: len(self.model) < MAX_DISPUTES)
    @rule(target=disputes, buyer=BUYERS, opener=st.sampled_from(["buyer", "buyer", "buyer", "stranger",
                                                                  "merchant", "relayer"]),
          merchant=st.sampled_from(["merchant", "merchant", "merchant2", "stranger"]),
          sig=st.sampled_from(["good", "good", "good", "forged"]), route=ROUTES,
          replay=st.sampled_from([False, False, False, False, True]))
    def open_purchase(self, buyer: str, opener: str, merchant: str, sig: str, route: str,
                      replay: bool = False) -> Any:
        who = "owner" if opener == "buyer" else opener
        opened = [d for d in self.model.values() if d.kind == Kind.PURCHASE]
        if replay and opened:
            # the attestation of a dispute already opened (perhaps closed): admits one dispute only
            assert opened[-1].reopen is not None
            att, signature = opened[-1].reopen()
            return self._open_purchase(att, signature, True, who, route)
        self.orders += 1
        att = PurchaseAttestation(keccak(text=f"order-{self.orders}"), self.actors[merchant].address,
                                  keccak(text="gtin:1"), self.actors[buyer].address, self.w.chain.now() - 100)
        signer = self.actors["order_signer" if sig == "good" else "merchant"]
        signature = sign_purchase_attestation(signer.account.key, att, chain_id=self.w.d.chain_id,
                                              governance=self.w.d.governance.address)
        return self._open_purchase(att, signature, sig == "good", who, route)

    def _open_purchase(self, att: PurchaseAttestation, signature: bytes, good: bool, who: str,
                       route: str) -> Any:
        did = purchase_id(att.order_commitment)
        fn = self.dr.openPurchaseDispute(att.as_tuple(), signature, keccak(text="salted"), keccak(text="cat"),
                                         EVIDENCE, "ipfs://evidence")

        def predict(s: str, t: int) -> Expect:
            if s != att.buyer:
                return _unauth(s)
            if not good:
                return _err("InvalidAttestation")
            if self.status.get(att.merchant, MS.NONE) == MS.NONE:  # suspended or banned: still disputable
                return _err("UnknownMerchant", att.merchant)
            if did in self.model:
                return _err("AlreadyOpened", did)
            return None

        def effect(s: str, t: int) -> None:
            d = self._new(did, Kind.PURCHASE, s, att.merchant, att.merchant, att.order_commitment, t)
            d.reopen = lambda: (att, signature)

        ok = self._attempt("openPurchaseDispute", None, who, route, frozenset({att.buyer}), fn, predict,
                           effect)
        return did if ok else multiple()

    @precondition(lambda self: len(self.model) < MAX_DISPUTES)
    @rule(target=disputes, who=st.sampled_from(["merchant", "merchant", "operator", "operator", "merchant2",
                                                "stranger", "relayer", "arbitrator"]),
          merchant=st.sampled_from(["self", "self", "merchant", "merchant2", "stranger"]),
          leaf=st.one_of(st.integers(0, 3), st.integers(0, ANCHORED_SIZE + 1)),  # 0-3: also emergency-hidden
          anchor=st.sampled_from([True, True, True, False]), route=ROUTES)
    def challenge_review(self, who: str, merchant: str, leaf: int, anchor: bool, route: str) -> Any:
        if anchor and self.anchored == 0:
            # through _exec, which pins the block time on a node: the wall clock must not leak into the
            # example (Hypothesis replays it and needs the same preconditions to hold)
            call = self.w.d.review_log.functions.appendCheckpoint(ANCHORED_SIZE, keccak(text="root"), [])
            _, error = self._exec(self.actors["operator"], call.address,
                                  bytes.fromhex(call._encode_transaction_data()[2:]), True, self._t_exec())
            assert error is None, error
            self.anchored = ANCHORED_SIZE
        if merchant == "self":  # the challenger names itself when it is a merchant
            merchant = who if who in ("merchant", "merchant2") else "merchant"
        m = self.actors[merchant].address
        return self._challenge(self.actors[who], m, leaf, route)

    def _challenge(self, actor: Transactor, m: str, leaf: int, route: str) -> Any:
        fn = self.dr.challengeReview(leaf, m, keccak(text="cat:fake"), EVIDENCE, "ipfs://evidence")
        s0 = actor.address
        did = review_id(s0, leaf)

        def predict(s: str, t: int) -> Expect:
            if s != m and s != self.operator:
                return _unauth(s)
            if self.status.get(m, MS.NONE) == MS.NONE:
                return _err("UnknownMerchant", m)
            if s == m and self.status[m] != MS.ACTIVE:  # still answers disputes, challenges no review
                return _err("MerchantNotActive", m)
            if leaf >= self.anchored:
                return _err("UnknownReview", leaf, self.anchored)
            if review_id(s, leaf) in self.model:
                return _err("AlreadyOpened", review_id(s, leaf))
            return None

        def effect(s: str, t: int) -> None:
            respondent = ZERO if s == self.operator else self.operator
            self._new(review_id(s, leaf), Kind.REVIEW_CHALLENGE, s, respondent, m, leaf.to_bytes(32, "big"),
                      t)

        ok = self._attempt("challengeReview", None, "-", route, frozenset({m, self.operator}), fn, predict,
                           effect, actor=actor)
        return did if ok else multiple()

    # ------------------------------------------------------------ steps on a dispute
    #
    # Each step is three functions of the model: who it belongs to (None: anyone), what the contract must
    # answer when `s` attempts it at time `t` (None: accept), and what an accepted step changes.

    def _act(self, action: str, did: bytes, who: str, route: str, steer: bool, *args: Any) -> None:
        d = self.model[did]
        if steer:
            # a dispute on which the step, taken now by whoever it belongs to, would be accepted
            fits = [x for x in self.model.values() if self._would_accept(action, x, *args)]
            if fits and d not in fits:
                d = fits[int.from_bytes(did[:4], "big") % len(fits)]
        self._act_on(action, d, who, route, *args)

    def _act_on(self, action: str, d: Model, who: str, route: str, *args: Any) -> None:
        owners_of, predict, effect, build = getattr(self, f"_{action}")()
        self._attempt(action, d, who, route, owners_of(d), build(d, *args),
                      lambda s, t: predict(d, s, t, *args), lambda s, t: effect(d, s, t, *args))

    def _would_accept(self, action: str, d: Model, *args: Any) -> bool:
        """Whether the model accepts the step if whoever it belongs to takes it now."""
        owners_of, predict, _, _ = getattr(self, f"_{action}")()
        return predict(d, self._default_owner(owners_of(d)), self._t_soon(), *args) is None

    def _default_owner(self, owners: frozenset[str] | None) -> str:
        return min(owners) if owners else self.actors["stranger"].address

    def _submitEvidence(self) -> Any:
        def owners(d: Model) -> frozenset[str]:
            return frozenset({d.claimant, d.respondent} - {ZERO})

        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.claimant and (s != d.respondent or d.respondent == ZERO):
                return _unauth(s)
            if d.phase == P.CLOSED:
                return _wrong(d)
            return None

        return (owners, predict, lambda d, s, t: None,
                lambda d: self.dr.submitEvidence(d.id, EVIDENCE, "ipfs://x"))

    def _respond(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.respondent:
                return _unauth(s)
            if d.phase != P.AWAITING_RESPONSE and not self._escalated_awaiting_response(d):
                return _wrong(d)
            if t > d.response_deadline:
                return _err("DeadlinePassed", d.id, d.response_deadline)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            if d.phase == P.ESCALATED:  # the answer is recorded; the panel will take it up
                d.resume = P.AWAITING_RULING
                STATS["responded while escalated"] += 1
            else:
                d.phase = P.AWAITING_RULING
                d.ruling_deadline = t + PERIODS.ruling
            d.responded = True

        return (lambda d: frozenset({d.respondent}), predict, effect,
                lambda d: self.dr.respond(d.id, EVIDENCE, "ipfs://reply"))

    @staticmethod
    def _escalated_awaiting_response(d: Model) -> bool:
        """A dispute waiting for a panel still takes its respondent's answer (up to the deadline)."""
        return d.phase == P.ESCALATED and d.resume == P.AWAITING_RESPONSE

    def _appeal(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.claimant and (s != d.respondent or d.respondent == ZERO):
                return _unauth(s)
            if d.phase != P.RULED:
                return _wrong(d)
            if t > d.appeal_deadline:
                return _err("DeadlinePassed", d.id, d.appeal_deadline)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.round = 1
            d.phase = P.APPEALED
            d.panel = False
            self._assign(d, t)

        return (lambda d: frozenset({d.claimant, d.respondent} - {ZERO}), predict, effect,
                lambda d: self.dr.appeal(d.id, EVIDENCE, "ipfs://appeal"))

    def _finalize(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if d.phase != P.RULED:
                return _wrong(d)
            if t <= d.appeal_deadline:
                return _err("DeadlineNotPassed", d.id, d.appeal_deadline)
            return None

        return lambda d: None, predict, lambda d, s, t: self._final(d, t), lambda d: self.dr.finalize(d.id)

    def _reportRemedy(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.merchant:
                return _unauth(s)
            if d.phase != P.REMEDY_DUE:
                return _wrong(d)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.phase = P.REMEDY_REPORTED
            d.remedy_deadline = t + PERIODS.remedy_confirm

        return (lambda d: frozenset({d.merchant}), predict, effect,
                lambda d: self.dr.reportRemedy(d.id, keccak(text="refund-tx")))

    def _confirmRemedy(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.claimant:
                return _unauth(s)
            if d.phase != P.REMEDY_REPORTED:
                return _wrong(d)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.phase = P.CLOSED

        return lambda d: frozenset({d.claimant}), predict, effect, lambda d: self.dr.confirmRemedy(d.id)

    def _contestRemedy(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.claimant:
                return _unauth(s)
            if d.phase != P.REMEDY_REPORTED:
                return _wrong(d)
            if t > d.remedy_deadline:
                return _err("DeadlinePassed", d.id, d.remedy_deadline)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.phase = P.REMEDY_CONTESTED
            d.ruling_deadline = t + PERIODS.ruling

        return (lambda d: frozenset({d.claimant}), predict, effect,
                lambda d: self.dr.contestRemedy(d.id, keccak(text="no refund")))

    def _closeRemedy(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if d.phase != P.REMEDY_REPORTED:
                return _wrong(d)
            if t <= d.remedy_deadline:
                return _err("DeadlineNotPassed", d.id, d.remedy_deadline)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.phase = P.CLOSED

        return lambda d: None, predict, effect, lambda d: self.dr.closeRemedy(d.id)

    def _is_arbitrator_for(self, d: Model, s: str) -> bool:
        # the assigned arbitrator, and still an arbitrator of governance unless it is the governor's panel
        return s == d.arbitrator and s != ZERO and (d.panel or s in self.arbs)

    def _recuse(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if s != d.arbitrator:
                return _unauth(s)
            if d.phase not in BEFORE_RULING:
                return _wrong(d)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.panel = False
            self._assign(d, t)

        return lambda d: frozenset({d.arbitrator} - {ZERO}), predict, effect, lambda d: self.dr.recuse(d.id)

    def _escalate(self) -> Any:
        def predict(d: Model, s: str, t: int) -> Expect:
            if d.phase not in BEFORE_RULING:
                return _wrong(d)
            if t <= d.ruling_deadline:
                return _err("DeadlineNotPassed", d.id, d.ruling_deadline)
            return None

        def effect(d: Model, s: str, t: int) -> None:
            d.panel = False
            self._assign(d, t)

        return lambda d: None, predict, effect, lambda d: self.dr.escalate(d.id)

    def _panel_address(self, d: Model, panel: str) -> str:
        """The governor's pick: a panel actor, an arbitrator of the list, a party, the first-instance
        arbitrator or nobody (the last four must be refused)."""
        match panel:
            case "zero":
                return ZERO
            case "claimant" | "respondent" | "merchant" | "first_arbitrator":
                return str(getattr(d, panel))
            case "arbitrator":
                # an arbitrator of the list, preferably one that is neither a party nor the first-instance one
                fine = [x for x in self.arbs if x not in d.parties and x != d.first_arbitrator]
                return str((fine or self.arbs)[0])
            case _:
                return self.actors[panel].address

    def _ineligible_panel(self, d: Model, p: str) -> bool:
        return p == ZERO or p in (d.claimant, d.respondent, d.merchant, d.first_arbitrator)

    def _appointPanel(self) -> Any:
        def predict(d: Model, s: str, t: int, panel: str) -> Expect:
            if s != self.governor:
                return _unauth(s)
            if d.phase != P.ESCALATED:
                return _wrong(d)
            p = self._panel_address(d, panel)
            if self._ineligible_panel(d, p):
                return _err("IneligiblePanel", p)
            return None

        def effect(d: Model, s: str, t: int, panel: str) -> None:
            d.phase = d.resume
            d.arbitrator = self._panel_address(d, panel)
            d.panel = True
            d.ruling_deadline = t + PERIODS.ruling
            STATS["panel appointed"] += 1

        return (lambda d: frozenset({self.governor}), predict, effect,
                lambda d, panel: self.dr.appointPanel(d.id, self._panel_address(d, panel)))

    def _rule(self) -> Any:
        def predict(d: Model, s: str, t: int, outcome: Outcome, amount: int) -> Expect:
            if not self._is_arbitrator_for(d, s):
                return _unauth(s)
            if d.phase == P.AWAITING_RESPONSE:
                if t <= d.response_deadline:
                    return _err("DeadlineNotPassed", d.id, d.response_deadline)
            elif d.phase not in (P.AWAITING_RULING, P.APPEALED):
                return _wrong(d)
            if t > d.ruling_deadline:
                return _err("DeadlinePassed", d.id, d.ruling_deadline)
            if outcome not in FITS[d.kind]:
                return _err("InvalidOutcome", int(d.kind), int(outcome))
            if (amount == 0) != (outcome not in AMOUNT_OUTCOMES):
                return _err("InvalidRemedy", int(outcome), amount)
            return None

        def effect(d: Model, s: str, t: int, outcome: Outcome, amount: int) -> None:
            by_default = d.phase == P.AWAITING_RESPONSE
            d.outcome = outcome
            d.remedy_amount = amount
            d.by_default = by_default
            if by_default:
                d.default_rulings.append(t)
                STATS["default ruling"] += 1
            if d.round == 0:
                d.first_arbitrator = s
                d.phase = P.RULED
                d.appeal_deadline = t + PERIODS.appeal_window
            else:
                STATS["ruled on appeal"] += 1
                self._final(d, t)

        return (lambda d: frozenset({d.arbitrator} - {ZERO}), predict, effect,
                lambda d, outcome, amount: self.dr.rule(d.id, int(outcome), amount, RATIONALE))

    def _ruleOnRemedy(self) -> Any:
        def predict(d: Model, s: str, t: int, fulfilled: bool) -> Expect:
            if not self._is_arbitrator_for(d, s):
                return _unauth(s)
            if d.phase != P.REMEDY_CONTESTED:
                return _wrong(d)
            if t > d.ruling_deadline:
                return _err("DeadlinePassed", d.id, d.ruling_deadline)
            return None

        def effect(d: Model, s: str, t: int, fulfilled: bool) -> None:
            d.phase = P.CLOSED if fulfilled else P.REMEDY_DUE

        return (lambda d: frozenset({d.arbitrator} - {ZERO}), predict, effect,
                lambda d, fulfilled: self.dr.ruleOnRemedy(d.id, fulfilled, RATIONALE))

    # ------------------------------------------------------------ the rules: one per step
    # A step whose phase no dispute is in is not attempted at all (precondition): it would only be refused,
    # and the steps that can succeed need the room (`rule`: unless some dispute can be ruled on now, or sits
    # on a deadline). Refusals in the wrong phase, too early or too late still come from the unsteered third
    # of the draws, and from the steps advance_to_deadline lands on a boundary.

    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def submit_evidence(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("submitEvidence", did, who, route, steer)

    @precondition(lambda self: any(d.phase == P.AWAITING_RESPONSE or self._escalated_awaiting_response(d)
                                   for d in self.model.values()))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def respond(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("respond", did, who, route, steer)

    @precondition(lambda self: self._has(P.RULED))
    @rule(did=disputes, who=WHO_SELDOM, route=ROUTES, steer=STEER)
    def appeal(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("appeal", did, who, route, steer)

    @precondition(lambda self: self._has(P.RULED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def finalize(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("finalize", did, who, route, steer)

    @precondition(lambda self: self._has(P.REMEDY_DUE))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def report_remedy(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("reportRemedy", did, who, route, steer)

    @precondition(lambda self: self._has(P.REMEDY_REPORTED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def confirm_remedy(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("confirmRemedy", did, who, route, steer)

    @precondition(lambda self: self._has(P.REMEDY_REPORTED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def contest_remedy(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("contestRemedy", did, who, route, steer)

    @precondition(lambda self: self._has(P.REMEDY_REPORTED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def close_remedy(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("closeRemedy", did, who, route, steer)

    @precondition(lambda self: self._has(*BEFORE_RULING))
    @rule(did=disputes, who=WHO_SELDOM, route=ROUTES, steer=STEER)
    def recuse(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("recuse", did, who, route, steer)

    # some ruling deadline is over, or about to be
    @precondition(lambda self: any(d.phase in BEFORE_RULING and d.ruling_deadline <= self._t_soon() + 1
                                   for d in self.model.values()))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER)
    def escalate(self, did: bytes, who: str, route: str, steer: bool) -> None:
        self._act("escalate", did, who, route, steer)

    @precondition(lambda self: self._has(P.ESCALATED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER,
          panel=st.sampled_from(["panel1", "arbitrator", "panel2", "panel1", "zero", "claimant", "respondent",
                                 "merchant", "first_arbitrator"]))
    def appoint_panel(self, did: bytes, who: str, route: str, steer: bool, panel: str) -> None:
        self._act("appointPanel", did, who, route, steer, panel)

    def _rule_worth_trying(self) -> bool:
        # some dispute can be ruled on now, or one sits right on its response deadline (a default ruling
        # exactly at the deadline must be refused, one second later accepted) or on its ruling deadline
        t = self._t_soon()
        return any(self._would_accept("rule", d, min(FITS[d.kind]), 1999)
                   or (d.phase == P.AWAITING_RESPONSE and abs(d.response_deadline - t) <= 1)
                   or (d.phase in (P.AWAITING_RESPONSE, P.AWAITING_RULING, P.APPEALED)
                       and abs(d.ruling_deadline - t) <= 1)
                   for d in self.model.values())

    @precondition(lambda self: self._rule_worth_trying())
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER, outcome=st.sampled_from(list(Outcome)),
          amount=st.sampled_from([0, 1999, 2**96 - 1]))
    def rule_(self, did: bytes, who: str, route: str, steer: bool, outcome: Outcome, amount: int) -> None:
        self._act("rule", did, who, route, steer, outcome, amount)

    @precondition(lambda self: self._has(P.REMEDY_CONTESTED))
    @rule(did=disputes, who=WHO, route=ROUTES, steer=STEER, fulfilled=st.booleans())
    def rule_on_remedy(self, did: bytes, who: str, route: str, steer: bool, fulfilled: bool) -> None:
        self._act("ruleOnRemedy", did, who, route, steer, fulfilled)

    # ------------------------------------------------------------ the driver
    # Hypothesis enables a random subset of the rules in each example (swarm testing), and a dispute only
    # reaches its remedy phases after some eight accepted steps in order. This rule takes, on one dispute,
    # a step its party can take now (or, when every open dispute is waiting for a deadline, moves time to
    # just past the nearest one), so that the late phases are reached in most examples. Its steps are
    # predicted and checked like any other; the adversarial attempts stay with the rules above.

    def _moves(self, d: Model, choice: int) -> list[tuple[str, tuple[Any, ...]]]:
        outcomes = sorted(FITS[d.kind])
        outcome = outcomes[choice % len(outcomes)]
        amount = 1999 if outcome in AMOUNT_OUTCOMES else 0
        panel = ("panel1", "arbitrator", "panel2")[choice % 3]  # an ineligible pick is simply not taken
        table: dict[Phase, list[tuple[str, tuple[Any, ...]]]] = {
            P.AWAITING_RESPONSE: [("respond", ()), ("rule", (outcome, amount)), ("escalate", ())],
            P.AWAITING_RULING: [("rule", (outcome, amount)), ("escalate", ())],
            P.RULED: [("appeal", ()), ("finalize", ())],
            P.APPEALED: [("rule", (outcome, amount)), ("escalate", ())],
            P.ESCALATED: [("respond", ()), ("appointPanel", (panel,))],
            P.REMEDY_DUE: [("reportRemedy", ())],
            P.REMEDY_REPORTED: [("confirmRemedy", ()), ("contestRemedy", ()), ("closeRemedy", ())],
            P.REMEDY_CONTESTED: [("ruleOnRemedy", (choice % 2 == 0,)), ("escalate", ())],
        }
        moves = list(table.get(d.phase, []))
        if d.phase in BEFORE_RULING and choice % 3 == 0:
            moves.append(("recuse", ()))  # now and then: it is how a dispute runs out of arbitrators
        if d.phase == P.AWAITING_RESPONSE and choice % 3 == 1 and d.response_deadline > self._t_soon() + DAY:
            # sooner than that while the respondent may still answer (it may answer while escalated)
            moves = [("recuse", ())]
        return moves

    @rule(did=disputes, route=ROUTES, choice=st.integers(0, 2**16))
    def progress(self, did: bytes, route: str, choice: int) -> None:
        reported = [d.remedy_deadline for d in self.model.values()
                    if d.phase == P.REMEDY_REPORTED and d.remedy_deadline >= self._t_soon()]
        if reported and choice % 4 == 0:
            # now and then the claimant lets the confirmation window pass (for closeRemedy)
            self.w.chain.increase_time(max(1, min(reported) + 1 - self._t_exec()))
            STATS["progress wait"] += 1
            self.steps += 1
            self.last_step = None
            self._observe()
            return
        options = [(d, action, args) for d in self.model.values() for action, args in self._moves(d, choice)
                   if self._would_accept(action, d, *args)]
        mine = [o for o in options if o[0].id == did]
        if mine or options:
            pool = mine or options
            d, action, args = pool[(choice >> 4) % len(pool)]  # not the bits that chose outcome and panel
            STATS["progress step"] += 1
            self._act_on(action, d, "owner", route, *args)
            return
        ahead = [v for d in self.model.values() if d.phase not in (P.CLOSED, P.ESCALATED)
                 for v in (d.response_deadline, d.ruling_deadline, d.appeal_deadline, d.remedy_deadline)
                 if v >= self._t_soon()]
        if ahead:
            self.w.chain.increase_time(max(1, min(ahead) + 1 - self._t_exec()))
            STATS["progress wait"] += 1
        self.steps += 1
        self.last_step = None
        self._observe()

    # ------------------------------------------------------------ emergency hide (feeds the takedown model)

    @precondition(lambda self: self.anchored > 0)  # reviews exist once a checkpoint is anchored
    @rule(who=st.sampled_from(["owner", "owner", "merchant", "stranger", "relayer"]),
          leaf=st.one_of(st.integers(0, 3), st.just(ANCHORED_SIZE)), route=ROUTES)
    def emergency_hide(self, who: str, leaf: int, route: str) -> None:
        reason = keccak(text="reason:illegal")

        def predict(s: str, t: int) -> Expect:
            if s != self.operator:
                return _unauth(s)
            if leaf >= self.anchored:
                return _err("UnknownReview", leaf, self.anchored)
            if self.takedowns[leaf][0] != TD.NONE:  # once per review
                return _err("AlreadyHidden", leaf)
            return None

        def effect(s: str, t: int) -> None:
            self.takedowns[leaf] = [TD.EMERGENCY_HIDDEN, t, t + PERIODS.hide_lapse, reason, b"\0" * 32]

        self.takedowns.setdefault(leaf, [TD.NONE, 0, 0, b"\0" * 32, b"\0" * 32])
        self.dirty_leaves.add(leaf)
        self._attempt("emergencyHide", None, who, route, frozenset({self.operator}),
                      self.dr.emergencyHide(leaf, reason), predict, effect)

    # ------------------------------------------------------------ governance: merchant status

    @precondition(lambda self: self.anchored > 0)  # it matters to review challenges only
    @rule(merchant=st.sampled_from(["merchant", "merchant2"]),
          act=st.sampled_from(["warning", "suspension", "ban", "restore", "restore"]))
    def sanction_merchant(self, merchant: str, act: str) -> None:
        """The governor sanctions or restores a merchant (it changes who may challenge a review)."""
        m = self.actors[merchant].address
        g = self.w.d.governance.functions
        status = self.status[m]
        if act == "restore":
            call, expected = g.restoreMerchant(m, b"\0" * 32, b"\0" * 32), MS.ACTIVE
            error = ("TrustGovernanceMerchantAlreadyActive", (m,)) if status == MS.ACTIVE else None
        else:
            kind = ("warning", "suspension", "ban").index(act)
            call, error = g.sanctionMerchant(m, kind, b"\0" * 32, b"\0" * 32), None
            expected = {"warning": status, "ban": MS.BANNED,
                        "suspension": status if status == MS.BANNED else MS.SUSPENDED}[act]
        t = self._t_exec()
        _, got = self._exec(self.actors["governor"], call.address,
                            bytes.fromhex(call._encode_transaction_data()[2:]), error is None, t)
        if error is None:
            assert got is None, f"{act} {merchant}: refused with {got}"
            self.status[m] = expected
        else:
            assert isinstance(got, ContractError) and (got.name, tuple(got.args_)) == error, got
        assert g.merchant(m).call(self.reader)[0] == self.status[m]
        STATS[f"merchant {act}: {'accepted' if error is None else error[0]}"] += 1
        self.steps += 1
        self.last_step = None
        self._observe()

    # ------------------------------------------------------------ time

    @rule(seconds=SECONDS)
    def advance_time(self, seconds: int) -> None:
        self.w.chain.increase_time(seconds)
        STATS["advance_time"] += 1
        self.steps += 1
        self.last_step = None
        self._observe()

    def _deadline(self, d: Model) -> tuple[str, int] | None:
        """The deadline that matters in the dispute's phase, if it is still ahead."""
        name = {P.AWAITING_RESPONSE: "response", P.AWAITING_RULING: "ruling", P.APPEALED: "ruling",
                P.REMEDY_CONTESTED: "ruling", P.RULED: "appeal", P.REMEDY_REPORTED: "remedy"}.get(d.phase)
        if name is None:
            return None
        if d.phase == P.AWAITING_RESPONSE and d.response_deadline < self._t_soon() + 2:
            name = "ruling"  # the response deadline passed: the ruling deadline is next
        value = getattr(d, f"{name}_deadline")
        return (name, value) if value >= self._t_soon() + 2 else None

    @rule(did=disputes, offset=st.integers(-1, 1))
    def advance_to_deadline(self, did: bytes, offset: int) -> None:
        """Land the next step exactly on the deadline of a dispute's phase, or one second either side."""
        ahead = [d for d in self.model.values() if self._deadline(d)]
        d = self.model[did]
        if ahead and d not in ahead:
            d = ahead[int.from_bytes(did[:4], "big") % len(ahead)]
        deadline = self._deadline(d)
        if deadline is not None and (seconds := deadline[1] + offset - self._t_exec()) >= 1:
            name, value = deadline
            self.w.chain.increase_time(seconds)
            assert self._t_exec() == value + offset
            STATS[f"advance to {name} deadline {offset:+d}"] += 1
        self.steps += 1
        self.last_step = None
        self._observe()

    # ------------------------------------------------------------ observation and invariants

    def _observe(self) -> None:
        """Read every dispute (and the takedowns that may have changed) and note the phase changes."""
        for did in self.model:
            got = tuple(self.dr.dispute(did).call(self.reader))
            phase = Phase(got[1])
            before = self.observed_phase.get(did, P.NONE)
            if phase != before:
                self.phase_changes.append((did, before, phase))
                STATS[f"edge {before.name}->{phase.name}"] += 1
            self.observed_phase[did] = phase
            self.observed[did] = got
        # a takedown changes only by the step that touched it; isReviewHidden also with time
        self.now = self.w.chain.now()
        watch = self.dirty_leaves | {k for k, td in self.takedowns.items() if td[0] == TD.EMERGENCY_HIDDEN}
        self.hidden = {leaf: (tuple(self.dr.takedown(leaf).call(self.reader)),
                              self.dr.isReviewHidden(leaf).call(self.reader)) for leaf in watch}
        self.dirty_leaves = set()

    @invariant()
    def model_matches_chain(self) -> None:
        for did, d in self.model.items():
            got = self.observed.get(did)
            if got is None:
                continue
            want = d.as_tuple()
            diff = {f.name: (w, g) for f, w, g in zip(fields(Model), want, got) if w != g}
            assert not diff, f"dispute {did.hex()}: model != chain (field: (model, chain)) {diff}"

    @invariant()
    def takedowns_match_chain(self) -> None:
        for leaf, (got, hidden) in self.hidden.items():
            td = self.takedowns[leaf]
            assert tuple(got) == tuple(td), f"takedown {leaf}: model {td} != chain {got}"
            want_hidden = td[0] == TD.TAKEN_DOWN or (td[0] == TD.EMERGENCY_HIDDEN and self.now <= td[2])
            assert hidden is want_hidden, f"isReviewHidden({leaf}) at {self.now}: {hidden}, model {td}"

    @invariant()
    def closed_never_changes(self) -> None:
        for did, got in self.observed.items():
            if got[1] == P.CLOSED:
                frozen = self.frozen.setdefault(did, got)
                assert got == frozen, f"closed dispute {did.hex()} changed: {frozen} -> {got}"
            else:
                assert did not in self.frozen, f"closed dispute {did.hex()} reopened: {got}"

    @invariant()
    def one_eligible_arbitrator_while_open(self) -> None:
        for did, got in self.observed.items():
            d = self.model[did]
            phase = Phase(got[1])
            arbitrator, first, round_ = got[17], got[18], got[4]
            if phase in OPEN_WITH_ARBITRATOR:
                assert arbitrator != ZERO, f"{did.hex()} open in {phase.name} without an arbitrator"
                assert arbitrator not in (got[12], got[14], got[16]), \
                    f"{did.hex()}: arbitrator {arbitrator} is a party {d.as_tuple()}"
                if round_ == 1:
                    assert arbitrator != first, f"{did.hex()}: appeal before the first-instance arbitrator"
            elif phase == P.ESCALATED:
                assert arbitrator == ZERO

    @invariant()
    def default_rulings_only_after_missed_response(self) -> None:
        for did, got in self.observed.items():
            d = self.model[did]
            if got[5]:  # byDefault, as the chain has it
                assert got[14] != ZERO and not d.responded, f"{did.hex()}: default ruling though answered"
                assert d.default_rulings and d.default_rulings[-1] > got[9], \
                    f"{did.hex()}: default ruling before the response deadline {got[9]}: {d.default_rulings}"
            for t in d.default_rulings:
                assert t > got[9] and not d.responded

    @invariant()
    def nobody_acts_for_another(self) -> None:
        s = self.last_step
        if s is None or not s["accepted"]:
            return
        assert s["route"] != "forge", f"a forged forwarder request was accepted: {s}"
        if s["owners"] is not None:
            assert s["sender"] in s["owners"], f"{s['action']} accepted from a non-party: {s}"

    @invariant()
    def phases_follow_documented_edges(self) -> None:
        for did, before, after in self.phase_changes:
            assert (before, after) in EDGES, f"{did.hex()}: undocumented {before.name} -> {after.name}"
            if before == P.ESCALATED:
                assert after != P.CLOSED
        self.phase_changes.clear()


def _run(world: World, max_examples: int, steps: int) -> float:
    extras = Extras.create(world)
    STATS.clear()
    started = time.monotonic()
    run_state_machine_as_test(
        lambda: DisputeMachine(world, extras),  # type: ignore[arg-type]  # a factory is fine
        settings=settings(max_examples=max_examples, stateful_step_count=steps, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
    return time.monotonic() - started


def test_dispute_state_machine(world: World) -> None:
    """25 examples of up to 35 steps (DISPUTE_SM_EXAMPLES / DISPUTE_SM_STEPS override, for longer hunts);
    ``pytest -s`` prints what was covered."""
    examples = int(os.environ.get("DISPUTE_SM_EXAMPLES", "25"))
    steps = int(os.environ.get("DISPUTE_SM_STEPS", "35"))
    elapsed = _run(world, max_examples=examples, steps=steps)
    print(f"\n[{world.chain.kind}] {STATS['examples']} examples, {STATS['steps']} steps, {elapsed:.1f} s")
    for k, v in sorted(STATS.items()):
        print(f"  {k}: {v}")


# ------------------------------------------------------------------ regressions for what the machine exposed


def _setup(world: World) -> tuple[Extras, dict[str, Transactor], bytes]:
    """Three arbitrators, and a purchase dispute opened by the dedicated buyer against `merchant`."""
    extras = Extras.create(world)
    a, gov, dr = world.actors, world.d.governance.functions, world.d.disputes.functions
    for name in ("arb2", "arb3"):
        a.governor.send(gov.appointArbitrator(extras.by_name[name].address))
    buyer = extras.by_name["buyer"]
    att = PurchaseAttestation(keccak(text="order-bug"), a.merchant.address, keccak(text="gtin:1"),
                              buyer.address, world.chain.now() - 100)
    sig = sign_purchase_attestation(a.order_signer.account.key, att, chain_id=world.d.chain_id,
                                    governance=world.d.governance.address)
    buyer.send(dr.openPurchaseDispute(att.as_tuple(), sig, b"\0" * 32, b"\0" * 32, b"\0" * 32, ""))
    by_addr = {t.address: t for t in (*a.by_name.values(), *extras.by_name.values())}
    return extras, by_addr, purchase_id(att.order_commitment)


def _recuse_until_escalated(world: World, by_addr: dict[str, Transactor], did: bytes) -> None:
    dr = world.d.disputes.functions
    for _ in range(4):
        d = dr.dispute(did).call()
        if d[1] == P.ESCALATED:
            return
        by_addr[d[17]].send(dr.recuse(did))
    raise RuntimeError("setup: still not escalated")


@pytest.mark.parametrize("who", ["claimant", "merchant", "first_arbitrator"])
def test_panel_cannot_be_a_party(world: World, who: str) -> None:
    """The header promises an arbitrator who is no party and, on appeal, not the first-instance one. The
    assignment rule kept that promise; appointPanel did not check it (fixed in b589c5a)."""
    a, dr = world.actors, world.d.disputes.functions
    extras, by_addr, did = _setup(world)
    if who == "first_arbitrator":
        a.merchant.send(dr.respond(did, EVIDENCE, ""))
        by_addr[dr.dispute(did).call()[17]].send(dr.rule(did, int(Outcome.REFUND), 1999, RATIONALE))
        extras.by_name["buyer"].send(dr.appeal(did, EVIDENCE, ""))
    _recuse_until_escalated(world, by_addr, did)
    d = dr.dispute(did).call()
    panel = {"claimant": d[12], "merchant": d[16], "first_arbitrator": d[18]}[who]
    assert panel != ZERO
    with reverts("DisputeRegistryIneligiblePanel", panel):
        a.governor.send(dr.appointPanel(did, panel))
    a.governor.send(dr.appointPanel(did, extras.by_name["panel1"].address))  # a neutral panel is fine
    d = dr.dispute(did).call()
    assert d[17] == extras.by_name["panel1"].address and d[6] is True


def test_respondent_answering_while_escalated_is_not_defaulted(world: World) -> None:
    """Every arbitrator recuses within the response period and the merchant answers at once. That answer
    was refused (WrongPhase: Escalated) and the panel, appointed after the response deadline, could rule by
    default against a respondent who had answered in time (fixed in b589c5a: the answer is recorded)."""
    a, dr = world.actors, world.d.disputes.functions
    extras, by_addr, did = _setup(world)
    _recuse_until_escalated(world, by_addr, did)
    assert world.chain.now() < dr.dispute(did).call()[9]  # within the response period
    a.merchant.send(dr.respond(did, EVIDENCE, "ipfs://reply"))
    d = dr.dispute(did).call()
    assert (d[1], d[2]) == (P.ESCALATED, P.AWAITING_RULING)  # still waiting for a panel; the answer is in
    world.chain.increase_time(PERIODS.response + 1)
    panel = extras.by_name["panel1"]
    a.governor.send(dr.appointPanel(did, panel.address))
    assert dr.dispute(did).call()[1] == P.AWAITING_RULING
    panel.send(dr.rule(did, int(Outcome.REFUND), 1999, RATIONALE))
    assert dr.dispute(did).call()[5] is False  # not a default ruling
