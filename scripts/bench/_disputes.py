"""Dispute gas: TrustLedger's DisputeRegistry through every step, beside Kleros's ERC-792 arbitrators.

Both run on the bench chain inside one snapshot (reverted at the end, so no other row sees their state).

TrustLedger: three purchase disputes and one review challenge, driven as ``tests/chain/test_disputes_smoke.py``
drives them, with three arbitrators appointed so that recusal and escalation have somewhere to go:

* A, the typical lifecycle: open (with evidence) -> submitEvidence -> respond -> rule (Refund) -> finalize after
  the appeal window -> reportRemedy -> confirmRemedy.
* B, appeal and remedy dispute: open -> respond -> rule (Rejected) -> appeal -> appeal ruling (Refund, final)
  -> reportRemedy -> contestRemedy -> ruleOnRemedy (not fulfilled) -> reportRemedy -> closeRemedy after the
  confirmation window.
* C, arbitrators: open -> respond -> recuse -> escalate (ruling deadline missed: next arbitrator) -> escalate
  (none left: Escalated) -> appointPanel.
* D, reviews: emergencyHide of a review, then a merchant's challengeReview of it (with evidence).

The storage slots each step writes are not guessed: the dispute's seven slots (and the review's takedown
slots) are read before and after every measured transaction, and the lower bound counts what changed.

Kleros: nothing is compiled. ``CentralizedArbitrator``, ``AppealableArbitrator`` and the arbitrable example
``TwoPartyArbitrable`` are deployed byte for byte from the Truffle artifacts that ``@kleros/kleros`` publishes
(``build/contracts``, compiled from ``@kleros/kleros-interaction``'s ``standard/arbitration`` sources, the
Arbitrator / Arbitrable interface that became ERC-792). A dispute is created the ERC-792 way: the arbitrable
contract calls ``createDispute`` when the second party has paid the arbitration fee.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from ledger.chain import Transactor
from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation

REPO = Path(__file__).resolve().parents[2]
KLEROS_PACKAGE = REPO / "hardhat-local" / "node_modules" / "@kleros" / "kleros"
KLEROS_ARTIFACTS = KLEROS_PACKAGE / "build" / "contracts"
KLEROS_CONTRACTS = ("CentralizedArbitrator", "AppealableArbitrator", "TwoPartyArbitrable")

# Outcomes and phases of IDisputeRegistry.
REFUND, REJECTED = 1, 4
AWAITING_RESPONSE, AWAITING_RULING, RULED, APPEALED, ESCALATED = 1, 2, 3, 4, 5
REMEDY_DUE, REMEDY_REPORTED, REMEDY_CONTESTED, CLOSED = 6, 7, 8, 9
D_PHASE, D_RULING_DEADLINE, D_ARBITRATOR = 1, 10, 17  # field indexes of the Dispute tuple

# Fixed (2023-11-14), so calldata is the same on every chain; bumped by a second until the attestation signature
# has no zero byte, and its low byte (0x11) stays non-zero for every bump.
PURCHASED_AT = 0x6553_F111
GRIND_TRIES = 0xEE
REMEDY_AMOUNT = 1_999
LEAF = 3
# Chain time between two dispute transactions. A node may mine two transactions in the same second, and a step
# that stores `now` over an equal value costs less (2,200 instead of 5,000 per slot: TwoPartyArbitrable's
# lastInteraction, for one): with every transaction an hour after the previous one, no run depends on that.
GAP = 3600
# Evidence is referenced by a content hash and an IPFS URI of realistic length (a 59-character CIDv1).
EVIDENCE_URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
# Kleros: fees in wei. Any non-zero value; Kleros's arbitrators are paid, TrustLedger's are not.
ARBITRATION_FEE = 10**16
APPEAL_FEE = 2 * 10**16
META_EVIDENCE_URI = "ipfs://bafybeihkoviema7g3gxyt6la7vd5ho32ictqbilu3wnlo3rs7ewhnp7lly"

#: ERC-792 (``IArbitrator`` / ``IArbitrable`` of ``@kleros/erc-792``): the artifacts must carry all of it.
ERC792_ARBITRATOR = ("createDispute(uint256,bytes)", "arbitrationCost(bytes)", "appeal(uint256,bytes)",
                     "appealCost(uint256,bytes)", "appealPeriod(uint256)", "disputeStatus(uint256)",
                     "currentRuling(uint256)", "event DisputeCreation(uint256,address)",
                     "event AppealPossible(uint256,address)", "event AppealDecision(uint256,address)")
ERC792_ARBITRABLE = ("rule(uint256,uint256)", "event Ruling(address,uint256,uint256)")

DISPUTE_SLOTS = 7  # kind..appealDeadline | claimant, remedyDeadline | respondent, remedyAmount | merchant |
#                    arbitrator | firstArbitrator | subject
TAKEDOWN_SLOTS = 3  # state, hiddenAt, lapseAt | reasonCode | disputeId


def _word(x: int) -> bytes:
    return x.to_bytes(32, "big")


def mapping_base(key: bytes, slot: int) -> int:
    """Storage slot of ``mapping[key]`` for a mapping declared at ``slot`` (key already 32 bytes)."""
    return int.from_bytes(keccak(key + _word(slot)), "big")


def dispute_slots(dispute_id: bytes) -> list[int]:
    base = mapping_base(dispute_id, 0)  # _disputes is DisputeRegistry's first state variable
    return [base + i for i in range(DISPUTE_SLOTS)]


def takedown_slots(leaf_index: int) -> list[int]:
    base = mapping_base(_word(leaf_index), 1)  # _takedowns is the second
    return [base + i for i in range(TAKEDOWN_SLOTS)]


def kleros_artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((KLEROS_ARTIFACTS / f"{name}.json").read_text())
    return data


def abi_signatures(abi: list[dict[str, Any]]) -> set[str]:
    out = set()
    for e in abi:
        if e.get("type") in ("function", "event"):
            sig = f"{e['name']}({','.join(i['type'] for i in e.get('inputs', []))})"
            out.add(sig if e["type"] == "function" else f"event {sig}")
    return out


def kleros_available() -> bool:
    return all((KLEROS_ARTIFACTS / f"{n}.json").is_file() for n in KLEROS_CONTRACTS)


def kleros_info() -> dict[str, Any]:
    """What the published artifacts say about themselves (a Truffle artifact records no optimizer settings)."""
    pkg = json.loads((KLEROS_PACKAGE / "package.json").read_text())
    interaction = KLEROS_PACKAGE.parent / "kleros-interaction" / "package.json"
    out: dict[str, Any] = {"package": f"@kleros/kleros {pkg['version']}",
                           "interaction_installed": (json.loads(interaction.read_text())["version"]
                                                     if interaction.is_file() else None),
                           "contracts": {}}
    for name in KLEROS_CONTRACTS:
        art = kleros_artifact(name)
        runtime = bytes.fromhex(art["deployedBytecode"].removeprefix("0x"))
        meta_len = int.from_bytes(runtime[-2:], "big") + 2
        meta = runtime[-meta_len:-2]
        wanted = ERC792_ARBITRABLE if name == "TwoPartyArbitrable" else ERC792_ARBITRATOR
        missing = sorted(set(wanted) - abi_signatures(art["abi"]))
        if missing:
            raise RuntimeError(f"@kleros/kleros {name} lacks ERC-792 members {missing}")
        out["contracts"][name] = {
            "erc792_members": len(wanted),
            "solc": art["compiler"]["version"],
            "source": art["sourcePath"].split("node_modules/")[-1],
            "artifact_updated": art.get("updatedAt"),
            "runtime_bytes": len(runtime),
            "bytecode_hash": "bzzr0" if b"bzzr0" in meta else ("bzzr1" if b"bzzr1" in meta else
                                                                ("ipfs" if b"ipfs" in meta else "none")),
        }
    return out


class Runner:
    """Sends the measured steps and records, for each, its gas and the slots it created, changed or cleared."""

    def __init__(self, w: Any, lower_bound: Callable[..., dict[str, Any]]) -> None:
        self.w = w
        self.lower_bound = lower_bound
        self.rows: dict[str, Any] = {}

    def storage(self, address: str, slots: list[int]) -> list[int]:
        return [int.from_bytes(bytes(self.w.w3.eth.get_storage_at(address, s)), "big") for s in slots]

    def step(self, key: str, label: str, sender: Transactor, call: Any, *, slots: list[int] | None = None,
             address: str | None = None, ecrecovers: int = 0, value: int = 0) -> dict[str, Any]:
        watched = slots or []
        where = address or self.w.d.disputes.address
        self.w.chain.increase_time(GAP)
        before = self.storage(where, watched)
        m = self.w.measure(label, sender, call, value=value)
        after = self.storage(where, watched)
        new = sum(1 for b, a in zip(before, after, strict=True) if b == 0 and a != 0)
        changed = sum(1 for b, a in zip(before, after, strict=True) if b != 0 and a != 0 and a != b)
        cleared = sum(1 for b, a in zip(before, after, strict=True) if b != 0 and a == 0)
        row = {"label": label, "tl": m.gas, "new_slots": new, "changed_slots": changed, "cleared_slots": cleared,
               "lb": self.lower_bound(m, new_slots=new, rewritten_slots=changed, cleared_slots=cleared,
                                      ecrecovers=ecrecovers)}
        self.rows[key] = row
        return row


def _actor(w: Any, name: str) -> Transactor:
    t = Transactor(w.w3, Account.from_key(keccak(text=f"trustledger-bench-actor:{name}")))
    w.chain.fund(t.address, 10**20)
    return t


def _evidence(tag: str) -> bytes:
    return keccak(text=f"evidence:{tag}")


def run_trustledger(w: Any, lower_bound: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    chain, d = w.chain, w.d
    dr, g = d.disputes.functions, d.governance.functions
    r = Runner(w, lower_bound)
    order_signer = _actor(w, "order_signer")
    arbitrators = {a.address: a for a in (_actor(w, f"arbitrator{i}") for i in (1, 2, 3))}
    buyers = {k: _actor(w, f"buyer-{k}") for k in "ABC"}
    panel = _actor(w, "panel")
    w.governor.send(g.setOrderSigner(order_signer.address))
    for address in arbitrators:
        w.governor.send(g.appointArbitrator(address))
    periods = dr.periods().call()
    appeal_window, remedy_confirm = periods[2], periods[3]

    def state(did: bytes) -> Any:
        return dr.dispute(did).call()

    def arbitrator(did: bytes) -> Transactor:
        return arbitrators[state(did)[D_ARBITRATOR]]

    def expect(did: bytes, phase: int) -> None:
        got = state(did)[D_PHASE]
        if got != phase:
            raise AssertionError(f"dispute 0x{did.hex()}: phase {got}, expected {phase}")

    def open_purchase(tag: str, key: str | None) -> bytes:
        """Open purchase dispute ``tag``; the attestation's purchasedAt is ground so r||s has no zero byte."""
        buyer = buyers[tag]
        for k in range(GRIND_TRIES):
            att = PurchaseAttestation(keccak(text=f"order:bench-{tag}"), w.merchant.address,
                                      keccak(text=f"gtin:bench-{tag}"), buyer.address, PURCHASED_AT + k)
            sig = sign_purchase_attestation(order_signer.account.key, att, chain_id=d.chain_id,
                                            governance=d.governance.address)
            if 0 not in sig[:64]:
                break
        else:
            raise RuntimeError("no attestation signature without a zero byte")
        did = bytes(dr.purchaseDisputeId(att.order_commitment).call())
        call = dr.openPurchaseDispute(att.as_tuple(), sig, keccak(text=f"salted claimant {tag}"),
                                      keccak(text="cat:defect"), _evidence(f"{tag}:photo"), EVIDENCE_URI)
        if key is None:
            tick()
            buyer.send(call)
        else:
            r.step(key, "open a purchase dispute (buyer sends; attestation, evidence)", buyer, call,
                   slots=dispute_slots(did), ecrecovers=1)
        claimant = w.w3.eth.get_storage_at(d.disputes.address, dispute_slots(did)[1])
        if int.from_bytes(bytes(claimant), "big") & (2**160 - 1) != int(buyer.address, 16):
            raise AssertionError("DisputeRegistry storage layout is not the one dispute_slots() assumes")
        expect(did, AWAITING_RESPONSE)
        return did

    def after(seconds: int) -> None:
        chain.increase_time(seconds)

    def tick() -> None:
        chain.increase_time(GAP)

    # ------------------------------------------------------------------ A: the typical lifecycle
    a = open_purchase("A", "open")
    sa = dispute_slots(a)
    r.step("submit_evidence", "submitEvidence (claimant)", buyers["A"],
           dr.submitEvidence(a, _evidence("A:receipt"), EVIDENCE_URI), slots=sa)
    r.step("respond", "respond (merchant, with evidence)", w.merchant,
           dr.respond(a, _evidence("A:reply"), EVIDENCE_URI), slots=sa)
    r.step("rule", "rule, first instance (Refund)", arbitrator(a),
           dr.rule(a, REFUND, REMEDY_AMOUNT, keccak(text="rationale:A")), slots=sa)
    expect(a, RULED)
    after(appeal_window + 1)
    r.step("finalize", "finalize (anyone, appeal window over)", w.relayer, dr.finalize(a), slots=sa)
    expect(a, REMEDY_DUE)
    r.step("report_remedy", "reportRemedy (merchant)", w.merchant, dr.reportRemedy(a, keccak(text="refund-tx:A")),
           slots=sa)
    r.step("confirm_remedy", "confirmRemedy (claimant; closes)", buyers["A"], dr.confirmRemedy(a), slots=sa)
    expect(a, CLOSED)

    # ------------------------------------------------------------------ B: appeal, contested remedy
    b = open_purchase("B", None)
    sb = dispute_slots(b)
    tick()
    w.merchant.send(dr.respond(b, _evidence("B:reply"), EVIDENCE_URI))
    tick()
    arbitrator(b).send(dr.rule(b, REJECTED, 0, keccak(text="rationale:B1")))
    r.step("appeal", "appeal (claimant, with evidence; next arbitrator assigned)", buyers["B"],
           dr.appeal(b, _evidence("B:appeal"), EVIDENCE_URI), slots=sb)
    expect(b, APPEALED)
    r.step("appeal_ruling", "appeal ruling, final (Refund; remedy due)", arbitrator(b),
           dr.rule(b, REFUND, REMEDY_AMOUNT, keccak(text="rationale:B2")), slots=sb)
    expect(b, REMEDY_DUE)
    tick()
    w.merchant.send(dr.reportRemedy(b, keccak(text="refund-tx:B1")))
    r.step("contest_remedy", "contestRemedy (claimant)", buyers["B"],
           dr.contestRemedy(b, _evidence("B:not-refunded")), slots=sb)
    expect(b, REMEDY_CONTESTED)
    r.step("rule_on_remedy", "ruleOnRemedy (not fulfilled: remedy due again)", arbitrator(b),
           dr.ruleOnRemedy(b, False, keccak(text="rationale:B3")), slots=sb)
    expect(b, REMEDY_DUE)
    tick()
    w.merchant.send(dr.reportRemedy(b, keccak(text="refund-tx:B2")))
    after(remedy_confirm + 1)
    r.step("close_remedy", "closeRemedy (anyone, confirmation window over)", w.relayer, dr.closeRemedy(b),
           slots=sb)
    expect(b, CLOSED)

    # ------------------------------------------------------------------ C: recusal, escalation, panel
    c = open_purchase("C", None)
    sc = dispute_slots(c)
    tick()
    w.merchant.send(dr.respond(c, _evidence("C:reply"), EVIDENCE_URI))
    first = arbitrator(c)
    r.step("recuse", "recuse (assigned arbitrator; next one assigned)", first, dr.recuse(c), slots=sc)
    if arbitrator(c).address == first.address:
        raise AssertionError("recuse did not assign another arbitrator")
    after(state(c)[D_RULING_DEADLINE] - chain.now() + 1)
    r.step("escalate", "escalate (anyone, ruling deadline missed: next arbitrator)", w.relayer, dr.escalate(c),
           slots=sc)
    expect(c, AWAITING_RULING)
    after(state(c)[D_RULING_DEADLINE] - chain.now() + 1)
    r.step("escalate_to_panel", "escalate (ruling deadline missed, no arbitrator left: awaits a panel)", w.relayer,
           dr.escalate(c), slots=sc)
    expect(c, ESCALATED)
    r.step("appoint_panel", "appointPanel (governor)", w.governor, dr.appointPanel(c, panel.address), slots=sc)
    expect(c, AWAITING_RULING)

    # ------------------------------------------------------------------ D: reviews
    tick()
    w.operator.send(d.review_log.functions.appendCheckpoint(10, keccak(text="bench review root"), []))
    r.step("emergency_hide", "emergencyHide of a review (log operator)", w.operator,
           dr.emergencyHide(LEAF, keccak(text="reason:illegal-content")), slots=takedown_slots(LEAF))
    if not dr.isReviewHidden(LEAF).call():
        raise AssertionError("emergencyHide did not hide the review")
    rid = bytes(dr.reviewChallengeId(w.merchant.address, LEAF).call())
    r.step("challenge_review", "challenge a review (merchant, with evidence)", w.merchant,
           dr.challengeReview(LEAF, w.merchant.address, keccak(text="cat:fake-review"), _evidence("D:claim"),
                              EVIDENCE_URI), slots=dispute_slots(rid))
    expect(rid, AWAITING_RESPONSE)
    return r.rows


def run_kleros(w: Any) -> dict[str, Any]:
    """createDispute / giveRuling / appeal of Kleros's published arbitrators, driven by TwoPartyArbitrable."""
    w3 = w.w3
    owner, backup_owner = _actor(w, "kleros-arbitrator"), _actor(w, "kleros-backup-arbitrator")
    party_a, party_b = _actor(w, "kleros-party-a"), _actor(w, "kleros-party-b")
    out: dict[str, Any] = {}

    def deploy(sender: Transactor, name: str, *args: Any) -> Any:
        art = kleros_artifact(name)
        receipt = sender.send(w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args))
        return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])

    def m(key: str, label: str, sender: Transactor, call: Any, value: int = 0) -> int:
        w.chain.increase_time(GAP)
        gas = int(w.measure(f"kleros {label}", sender, call, value=value).gas)
        out[key] = {"label": label, "gas": gas}
        return gas

    periods = w.d.disputes.functions.periods().call()
    response, appeal_window = periods[0], periods[2]
    central = deploy(owner, "CentralizedArbitrator", ARBITRATION_FEE)
    backup = deploy(backup_owner, "CentralizedArbitrator", APPEAL_FEE)
    appealable = deploy(owner, "AppealableArbitrator", ARBITRATION_FEE, backup.address, b"", appeal_window)

    # Each arbitrator keeps its disputes in an array: the first dispute ever creates the length slot. One
    # direct call first (an EOA may create a dispute; only an arbitrable contract can then receive the ruling)
    # puts every arbitrator in the steady state in which the measured disputes are created.
    m("create_direct_first", "createDispute called directly, first dispute of the arbitrator", owner,
      central.functions.createDispute(2, b""), ARBITRATION_FEE)
    m("create_direct", "createDispute called directly (arbitrator alone)", owner,
      central.functions.createDispute(2, b""), ARBITRATION_FEE)
    owner.send(appealable.functions.createDispute(2, b""), value=ARBITRATION_FEE)
    backup_owner.send(backup.functions.createDispute(2, b""), value=APPEAL_FEE)

    def arbitrable(arb: Any) -> Any:
        return deploy(party_a, "TwoPartyArbitrable", arb.address, response, party_b.address, 2, b"",
                      META_EVIDENCE_URI)

    def raise_dispute(tpa: Any, tag: str) -> tuple[int, int]:
        pay_a = m(f"pay_a_{tag}", f"payArbitrationFeeByPartyA ({tag})", party_a,
                  tpa.functions.payArbitrationFeeByPartyA(), ARBITRATION_FEE)
        create = m(f"create_{tag}", f"payArbitrationFeeByPartyB -> createDispute ({tag})", party_b,
                   tpa.functions.payArbitrationFeeByPartyB(), ARBITRATION_FEE)
        if tpa.functions.status().call() != 3:  # DisputeCreated
            raise AssertionError("TwoPartyArbitrable did not create the dispute")
        return pay_a, create

    # 1. CentralizedArbitrator: one final ruling, no appeal.
    t1 = arbitrable(central)
    raise_dispute(t1, "central")
    d1 = t1.functions.disputeID().call()
    m("evidence", "TwoPartyArbitrable.submitEvidence (ERC-1497 Evidence)", party_a,
      t1.functions.submitEvidence(EVIDENCE_URI))
    m("rule_central", "CentralizedArbitrator.giveRuling (final; arbitrable executes)", owner,
      central.functions.giveRuling(d1, 1))
    if t1.functions.status().call() != 4:  # Resolved
        raise AssertionError("TwoPartyArbitrable not resolved by the ruling")

    # 2. AppealableArbitrator, appealed to the back-up arbitrator.
    t2 = arbitrable(appealable)
    raise_dispute(t2, "appealed")
    d2 = t2.functions.disputeID().call()
    m("rule_first", "AppealableArbitrator.giveRuling, first (appealable)", owner,
      appealable.functions.giveRuling(d2, 2))
    cost = appealable.functions.appealCost(d2, b"").call()
    m("appeal", "TwoPartyArbitrable.appeal -> AppealableArbitrator.appeal -> back-up createDispute", party_a,
      t2.functions.appeal(b""), cost)
    d2b = appealable.functions.appealDisputes(d2).call()[2]
    m("rule_appeal", "back-up giveRuling -> AppealableArbitrator.rule -> arbitrable (final)", backup_owner,
      backup.functions.giveRuling(d2b, 1))
    if t2.functions.status().call() != 4:
        raise AssertionError("appealed TwoPartyArbitrable not resolved by the back-up ruling")

    # 3. AppealableArbitrator, not appealed: the ruling is given again once the appeal time-out passed.
    t3 = arbitrable(appealable)
    raise_dispute(t3, "unappealed")
    d3 = t3.functions.disputeID().call()
    m("rule_first_unappealed", "AppealableArbitrator.giveRuling, first (appealable), second dispute", owner,
      appealable.functions.giveRuling(d3, 1))
    w.chain.increase_time(appeal_window + 1)
    m("rule_timeout", "AppealableArbitrator.giveRuling after the time-out (final; arbitrable executes)", owner,
      appealable.functions.giveRuling(d3, 1))
    if t3.functions.status().call() != 4:
        raise AssertionError("unappealed TwoPartyArbitrable not resolved")
    out["fees"] = {"arbitration": ARBITRATION_FEE, "appeal": APPEAL_FEE}
    return out


def run(w: Any, lower_bound: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Both sides, in one chain snapshot that is reverted afterwards."""
    snap = w.chain.snapshot()
    try:
        out: dict[str, Any] = {"trustledger": run_trustledger(w, lower_bound)}
        out["kleros"] = run_kleros(w) if kleros_available() else None
        return out
    finally:
        w.chain.revert(snap)
        w.reset_nonces()
