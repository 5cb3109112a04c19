"""Who acted is on chain: the role matrix of every guarded write, and the forwarder's defences.

``ROWS`` lists every role-guarded state-changing function of TrustGovernance, CertificateRegistry, ReviewLog
and DisputeRegistry with arguments that are valid for its authorised actor. Every other named actor, calling
directly or through the forwarder, is refused with the component's own error naming that actor (for a relayed
call: the signer, never the relayer nor the forwarder); the authorised actor succeeds both ways with the same
events. The relayer's key holds no role: it can change nothing in any contract.

The module prepares one state for the whole matrix (``m``) on top of the shared world and reverts it at the
end. Refusals are checked by simulation, so they leave no trace; tests that write use ``clean``, which
reverts the chain after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.chain import Transactor
from ledger.deploy import Deployment
from ledger.eip712 import (
    FORWARD_REQUEST_FIELDS,
    Certificate,
    PurchaseAttestation,
    certificate_id,
    forwarder_domain,
    sign_certificate_offer,
    sign_forward_request,
    sign_purchase_attestation,
)

from ..conftest import ACTOR_NAMES, OTHER_STANDARD, STANDARD, Actors, World, reverts
from .test_governance import (
    ADMIN_DELAY,
    BAN,
    DEFAULT_ADMIN_ROLE,
    GOVERNOR_ROLE,
    LICENCE,
    REASON,
    ROOT,
    RULING,
    SUSPENSION,
    ZERO32,
    ZERO_ADDRESS,
    addr,
    block_time,
    decoded_logs,
    deploy_governance,
    force_send,
    horizon,
    mine_at,
)

pytestmark = pytest.mark.chain

DAY = 24 * 3600
YEAR = 365 * DAY
OFFER_NONCE = 7
REQUEST_GAS = 500_000


@dataclass
class M:
    """The prepared state of the matrix."""

    world: World
    now: int
    newadmin: Transactor  # pending default admin, past its delay: only it may accept
    fresh_governance: Contract  # an unbound TrustGovernance trusting the forwarder: bind is valid
    spare_issuer: str  # accredited and suspended: restoreIssuer is valid
    spare_merchant: str  # admitted and suspended: restoreMerchant is valid
    new: str  # an address with no role and no record
    cert1: Certificate  # issued by issuer for merchant
    cert_new: Certificate  # not yet issued
    batch: list[Certificate]
    offer: Certificate
    offer_deadline: int
    offer_signature: bytes
    replacement: Certificate
    compromised_at: int
    pending_act: int  # a ReplaceLogOperator act, for cancelAct
    revoke_act: int  # a ready RevokeCertificate act of cert1
    operator_act: int  # a ready ReplaceLogOperator act to `new`
    buyer: Transactor  # the purchase disputes' consumer key; no named actor, so every named one is refused
    panel: str  # a panel the governor may appoint
    disputes: dict[str, bytes]  # purchase disputes by the phase they wait in (see _prepare_disputes)
    attestation: tuple[tuple[Any, ...], bytes]  # an attested purchase of `buyer` with no dispute yet

    @property
    def d(self) -> Deployment:
        return self.world.d

    @property
    def a(self) -> Actors:
        return self.world.actors

    @property
    def cert1_id(self) -> bytes:
        return certificate_id(self.cert1)

    def actor(self, name: str) -> Transactor:
        return {"newadmin": self.newadmin, "buyer": self.buyer}.get(name) or self.a.by_name[name]

    def contract(self, target: str) -> Contract:
        return {"governance": self.d.governance, "fresh_governance": self.fresh_governance,
                "registry": self.d.registry, "review_log": self.d.review_log,
                "disputes": self.d.disputes}[target]

    def relayed(self, signer: Transactor, call: ContractFunction, **kw: Any) -> ContractFunction:
        """``forwarder.execute`` of a request signed by ``signer`` for ``call``."""
        kw.setdefault("gas", REQUEST_GAS)
        return self.d.forwarder.functions.execute(self.world.forward_request(signer, call, **kw))

    def nonce(self, account: str) -> int:
        return int(self.d.forwarder.functions.nonces(account).call())


def _certificate(m_actors: Actors, label: str, now: int) -> Certificate:
    return Certificate(keccak(text=f"gtin:{label}"), keccak(text="lot:1"), m_actors.merchant.address,
                       m_actors.issuer.address, 0, keccak(text=f"doc:{label}"), STANDARD, now - 10, now + YEAR)


def _prepare(world: World) -> M:
    a, d, chain = world.actors, world.d, world.chain
    g, reg = d.governance.functions, d.registry.functions
    now = chain.now()
    newadmin = Transactor(world.w3, Account.from_key(keccak(text="test-roles:newadmin")))
    chain.fund(newadmin.address, 10**19)
    spare_issuer, spare_merchant = addr("spare-issuer"), addr("spare-merchant")
    a.governor.send(g.accreditIssuer(spare_issuer, now - 10, now + YEAR, [STANDARD]))
    a.governor.send(g.suspendIssuer(spare_issuer, REASON))
    a.governor.send(g.admitMerchant(spare_merchant, LICENCE))
    a.governor.send(g.sanctionMerchant(spare_merchant, SUSPENSION, REASON, RULING))
    cert1 = _certificate(a, "cert1", now)
    a.issuer.send(reg.issue(cert1.as_tuple()))
    new = addr("roles-new")
    a.governor.send(g.scheduleLogOperatorReplacement(addr("pending-operator")))
    a.governor.send(g.scheduleCertificateRevocation(certificate_id(cert1), REASON))
    a.governor.send(g.scheduleLogOperatorReplacement(new))
    assert g.actCount().call() == 3
    a.admin.send(g.beginDefaultAdminTransfer(newadmin.address))
    fresh = deploy_governance(world)
    chain.increase_time(ADMIN_DELAY + 100)  # the admin transfer and the acts are ripe
    buyer = Transactor(world.w3, Account.from_key(keccak(text="test-roles:buyer")))
    chain.fund(buyer.address, 10**19)
    disputes = _prepare_disputes(world, buyer)  # moves the clock past an appeal window
    order = _attest(world, buyer, "roles-order:new")
    now = chain.now()
    offer = _certificate(a, "offer", now)
    deadline = now + 10 * DAY
    signature = sign_certificate_offer(a.issuer.account.key, offer, nonce=OFFER_NONCE, deadline=deadline,
                                       chain_id=d.chain_id, registry=d.registry.address)
    return M(world=world, now=now, newadmin=newadmin, fresh_governance=fresh, spare_issuer=spare_issuer,
             spare_merchant=spare_merchant, new=new, cert1=cert1, cert_new=_certificate(a, "new", now),
             batch=[_certificate(a, "batch-1", now), _certificate(a, "batch-2", now)], offer=offer,
             offer_deadline=deadline, offer_signature=signature,
             replacement=_certificate(a, "replacement", now), compromised_at=now - 5, pending_act=1,
             revoke_act=2, operator_act=3, buyer=buyer, panel=addr("roles-panel"), disputes=disputes,
             attestation=order)


def _attest(world: World, buyer: Transactor, order: str) -> tuple[tuple[Any, ...], bytes]:
    a = world.actors
    att = PurchaseAttestation(keccak(text=order), a.merchant.address, keccak(text="gtin:roles"),
                              buyer.address, world.chain.now() - 10)
    signature = sign_purchase_attestation(a.order_signer.account.key, att, chain_id=world.d.chain_id,
                                          governance=world.d.governance.address)
    return att.as_tuple(), signature


def _prepare_disputes(world: World, buyer: Transactor) -> dict[str, bytes]:
    """Purchase disputes of ``buyer`` against merchant, one waiting in each phase a guarded step needs (the
    only arbitrator, ``arbitrator``, is assigned to all)."""
    a, dr = world.actors, world.d.disputes.functions

    def opened(label: str) -> bytes:
        attestation, signature = _attest(world, buyer, f"roles-order:{label}")
        buyer.send(dr.openPurchaseDispute(attestation, signature, ROOT, REASON, ROOT, "ipfs://claim"))
        return bytes(dr.purchaseDisputeId(attestation[0]).call())

    def ruled(label: str) -> bytes:
        did = opened(label)
        a.merchant.send(dr.respond(did, ZERO32, ""))
        a.arbitrator.send(dr.rule(did, 1, 100, ROOT))  # Refund
        return did

    due, reported, contested = ruled("due"), ruled("reported"), ruled("contested")
    world.chain.increase_time(3 * DAY + 1)  # past the appeal window
    for did in (due, reported, contested):
        a.stranger.send(dr.finalize(did))
    for did in (reported, contested):
        a.merchant.send(dr.reportRemedy(did, ROOT))
    buyer.send(dr.contestRemedy(contested, ROOT))
    awaiting_response, awaiting_ruling, escalated = opened("open"), opened("awaiting"), opened("escalated")
    a.merchant.send(dr.respond(awaiting_ruling, ZERO32, ""))
    a.arbitrator.send(dr.recuse(escalated))  # nobody left: Escalated until a panel is appointed
    return {"awaiting_response": awaiting_response, "awaiting_ruling": awaiting_ruling,
            "ruled": ruled("ruled"), "escalated": escalated, "remedy_due": due, "remedy_reported": reported,
            "remedy_contested": contested}


@pytest.fixture(scope="module")
def m(_world: World) -> Iterator[M]:
    snap = _world.chain.snapshot()
    try:
        yield _prepare(_world)
    finally:
        _world.chain.revert(snap)
        _world.actors.reset_nonces()


@pytest.fixture
def clean(m: M) -> Iterator[M]:
    """The matrix state, reverted after the test."""
    snap = m.world.chain.snapshot()
    try:
        yield m
    finally:
        m.world.chain.revert(snap)
        m.a.reset_nonces()
        m.newadmin._nonce = None
        m.buyer._nonce = None


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    """A guarded write: how to call it validly, who may, and how everyone else is refused."""

    key: str
    target: str
    fn: str
    args: Callable[[M], tuple[Any, ...]]
    authorised: tuple[str, ...]
    error: str
    error_args: Callable[[M, str], tuple[Any, ...]]
    positive: tuple[str, Callable[[M], ContractFunction]] | None = None  # (actor, call) when no actor may
    prepare: Callable[[M], Any] | None = None  # state a valid call needs beyond the matrix's (positive tests)

    def call(self, m: M) -> ContractFunction:
        function: ContractFunction = getattr(m.contract(self.target).functions, self.fn)(*self.args(m))
        return function


GOVERNANCE_CONTRACT = "governance-contract"


def _governor_row(fn: str, args: Callable[[M], tuple[Any, ...]]) -> Row:
    return Row(f"governance.{fn}", "governance", fn, args, ("governor",), "TrustGovernanceUnauthorized",
               lambda m, who: (who, GOVERNOR_ROLE))


def _admin_row(fn: str, args: Callable[[M], tuple[Any, ...]]) -> Row:
    return Row(f"governance.{fn}", "governance", fn, args, ("admin",), "AccessControlUnauthorizedAccount",
               lambda m, who: (who, DEFAULT_ADMIN_ROLE))


def _issuer_row(fn: str, args: Callable[[M], tuple[Any, ...]]) -> Row:
    return Row(f"registry.{fn}", "registry", fn, args, ("issuer",), "CertificateRegistryNotIssuer",
               lambda m, who: (who, m.a.issuer.address))


def _dispute_row(fn: str, args: Callable[[M], tuple[Any, ...]], authorised: tuple[str, ...],
                 prepare: Callable[[M], Any] | None = None) -> Row:
    return Row(f"disputes.{fn}", "disputes", fn, args, authorised, "DisputeRegistryUnauthorized",
               lambda m, who: (who,), prepare=prepare)


ROWS: list[Row] = [
    Row("governance.bind", "fresh_governance", "bind", lambda m: (m.d.registry.address, m.d.review_log.address),
        ("admin",), "TrustGovernanceUnauthorized", lambda m, who: (who, DEFAULT_ADMIN_ROLE)),
    _governor_row("accreditIssuer", lambda m: (m.new, m.now - 10, m.now + YEAR, [STANDARD])),
    _governor_row("setIssuerScope", lambda m: (m.a.issuer.address, OTHER_STANDARD, True)),
    _governor_row("suspendIssuer", lambda m: (m.a.issuer2.address, REASON)),
    _governor_row("restoreIssuer", lambda m: (m.spare_issuer,)),
    Row("governance.declareKeyCompromised", "governance", "declareKeyCompromised", lambda m: (m.compromised_at,),
        ("issuer", "issuer2"), "TrustGovernanceUnknownIssuer", lambda m, who: (who,)),
    _governor_row("admitMerchant", lambda m: (m.new, LICENCE)),
    _governor_row("sanctionMerchant", lambda m: (m.a.merchant.address, BAN, REASON, RULING)),
    _governor_row("restoreMerchant", lambda m: (m.spare_merchant, REASON, RULING)),
    _governor_row("appointArbitrator", lambda m: (m.new,)),
    _governor_row("removeArbitrator", lambda m: (m.a.arbitrator.address,)),
    _governor_row("setOrderSigner", lambda m: (m.new,)),
    _governor_row("scheduleLogOperatorReplacement", lambda m: (m.new,)),
    _governor_row("scheduleCertificateRevocation", lambda m: (m.cert1_id, REASON)),
    _governor_row("scheduleKeyCompromise", lambda m: (m.a.issuer.address, m.compromised_at, REASON)),
    _governor_row("cancelAct", lambda m: (m.pending_act,)),
    _admin_row("grantRole", lambda m: (GOVERNOR_ROLE, m.new)),
    _admin_row("revokeRole", lambda m: (GOVERNOR_ROLE, m.a.governor.address)),
    _admin_row("beginDefaultAdminTransfer", lambda m: (m.new,)),
    _admin_row("cancelDefaultAdminTransfer", lambda m: ()),
    _admin_row("changeDefaultAdminDelay", lambda m: (DAY,)),
    _admin_row("rollbackDefaultAdminDelay", lambda m: ()),
    Row("governance.acceptDefaultAdminTransfer", "governance", "acceptDefaultAdminTransfer", lambda m: (),
        ("newadmin",), "AccessControlInvalidDefaultAdmin", lambda m, who: (who,)),
    _issuer_row("issue", lambda m: (m.cert_new.as_tuple(),)),
    _issuer_row("issueBatch", lambda m: ([c.as_tuple() for c in m.batch],)),
    Row("registry.anchor", "registry", "anchor",
        lambda m: (m.offer.as_tuple(), OFFER_NONCE, m.offer_deadline, m.offer_signature),
        ("merchant",), "CertificateRegistryNotMerchant", lambda m, who: (who, m.a.merchant.address)),
    _issuer_row("revoke", lambda m: (m.cert1_id, REASON)),
    _issuer_row("supersede", lambda m: (m.cert1_id, m.replacement.as_tuple(), REASON)),
    Row("registry.revokeByGovernance", "registry", "revokeByGovernance", lambda m: (m.cert1_id, REASON, m.revoke_act),
        (GOVERNANCE_CONTRACT,), "CertificateRegistryNotGovernance", lambda m, who: (who,),
        positive=("stranger", lambda m: m.d.governance.functions.executeAct(m.revoke_act))),
    Row("review_log.appendCheckpoint", "review_log", "appendCheckpoint", lambda m: (1, ROOT, []),
        ("operator",), "ReviewLogUnauthorized", lambda m, who: (who,)),
    Row("review_log.setLogOperator", "review_log", "setLogOperator", lambda m: (m.new, m.operator_act),
        (GOVERNANCE_CONTRACT,), "ReviewLogNotGovernance", lambda m, who: (who,),
        positive=("stranger", lambda m: m.d.governance.functions.executeAct(m.operator_act))),
    _dispute_row("openPurchaseDispute", lambda m: (*m.attestation, ROOT, REASON, ROOT, "ipfs://claim"),
                 ("buyer",)),
    _dispute_row("challengeReview", lambda m: (3, m.a.merchant.address, REASON, ROOT, "ipfs://claim"),
                 ("merchant", "operator"),
                 prepare=lambda m: m.a.operator.send(  # the challenged review must be anchored
                     m.d.review_log.functions.appendCheckpoint(10, ROOT, []))),
    _dispute_row("submitEvidence", lambda m: (m.disputes["awaiting_response"], ROOT, "ipfs://more"),
                 ("buyer", "merchant")),
    _dispute_row("respond", lambda m: (m.disputes["awaiting_response"], ROOT, "ipfs://answer"),
                 ("merchant",)),
    _dispute_row("recuse", lambda m: (m.disputes["awaiting_response"],), ("arbitrator",)),
    _dispute_row("appointPanel", lambda m: (m.disputes["escalated"], m.panel), ("governor",)),
    _dispute_row("rule", lambda m: (m.disputes["awaiting_ruling"], 1, 100, ROOT), ("arbitrator",)),
    _dispute_row("appeal", lambda m: (m.disputes["ruled"], ROOT, "ipfs://appeal"), ("buyer", "merchant")),
    _dispute_row("reportRemedy", lambda m: (m.disputes["remedy_due"], ROOT), ("merchant",)),
    _dispute_row("confirmRemedy", lambda m: (m.disputes["remedy_reported"],), ("buyer",)),
    _dispute_row("contestRemedy", lambda m: (m.disputes["remedy_reported"], ROOT), ("buyer",)),
    _dispute_row("ruleOnRemedy", lambda m: (m.disputes["remedy_contested"], True, ROOT), ("arbitrator",)),
    _dispute_row("emergencyHide", lambda m: (3, REASON), ("operator",),
                 prepare=lambda m: m.a.operator.send(  # the hidden review must be anchored
                     m.d.review_log.functions.appendCheckpoint(10, ROOT, []))),
]


def _negative_cases() -> list[Any]:
    cases: list[Any] = []
    for row in ROWS:
        for who in ACTOR_NAMES:
            if who in row.authorised:
                continue
            for mode in ("direct", "relayed"):
                marks: list[Any] = []
                cases.append(pytest.param(row, who, mode, id=f"{row.key}-{who}-{mode}", marks=marks))
    return cases


def _positive_cases() -> list[Any]:
    cases: list[Any] = []
    for row in ROWS:
        actors = (row.positive[0],) if row.positive else row.authorised
        cases.extend(pytest.param(row, who, id=f"{row.key}-{who}") for who in actors)
    return cases


def test_the_table_covers_every_guarded_write(m: M) -> None:
    """Every state-changing function of the four contracts is in the table or deliberately open."""
    open_to_anyone = {
        "governance.executeAct",  # anyone may execute a ripe act
        "governance.renounceRole",  # only for oneself (OpenZeppelin)
        "registry.cancelNonces",  # an account cancels its own offer nonces
        "disputes.escalate",  # anyone, once the ruling deadline passed
        "disputes.finalize",  # anyone, once the appeal window passed
        "disputes.closeRemedy",  # anyone, once the confirmation window passed
    }
    listed = {row.key for row in ROWS}
    for label, contract in (("governance", m.d.governance), ("registry", m.d.registry),
                            ("review_log", m.d.review_log), ("disputes", m.d.disputes)):
        writes = {f"{label}.{i['name']}" for i in contract.abi
                  if i["type"] == "function" and i["stateMutability"] in ("nonpayable", "payable")}
        assert writes - open_to_anyone == {k for k in listed if k.startswith(label + ".")}, label


@pytest.mark.parametrize(("row", "who", "mode"), _negative_cases())
def test_unauthorised_caller_is_refused(m: M, row: Row, who: str, mode: str) -> None:
    actor = m.actor(who)
    with reverts(row.error, *row.error_args(m, actor.address)):
        if mode == "direct":
            actor.simulate(row.call(m))
        else:
            m.a.relayer.simulate(m.relayed(actor, row.call(m)))


@pytest.mark.parametrize(("row", "who"), _positive_cases())
def test_authorised_caller_succeeds_direct_and_relayed_with_the_same_events(clean: M, row: Row, who: str) -> None:
    """The same block time, the same call: relayed, it emits exactly the direct call's events (which name the
    actor wherever they name anyone) followed by the forwarder's ExecutedForwardRequest for the signer."""
    m = clean
    chain = m.world.chain
    actor = m.actor(who)
    call = row.positive[1](m) if row.positive else row.call(m)
    if row.prepare:
        row.prepare(m)
    at = horizon(m.world) + 100
    start = chain.snapshot()
    direct = mine_at(m.world, at, actor, call)
    assert direct["status"] == 1
    assert direct["from"] == actor.address
    direct_logs = decoded_logs(m.world, direct, fresh_governance=m.fresh_governance,
                               disputes=m.d.disputes)

    chain.revert(start)
    m.a.reset_nonces()
    m.newadmin._nonce = None
    nonce = m.nonce(actor.address)
    relayed = mine_at(m.world, at, m.a.relayer, m.relayed(actor, call))
    assert relayed["status"] == 1
    assert relayed["from"] == m.a.relayer.address
    assert decoded_logs(m.world, relayed, fresh_governance=m.fresh_governance, disputes=m.d.disputes) == [
        *direct_logs,
        ("forwarder", "ExecutedForwardRequest", {"signer": actor.address, "nonce": nonce, "success": True}),
    ]
    assert m.nonce(actor.address) == nonce + 1


@pytest.mark.parametrize("row", [pytest.param(row, id=row.key) for row in ROWS])
def test_the_relayer_alone_changes_nothing(clean: M, row: Row) -> None:
    """Mined without simulation, every guarded write sent by the relayer itself fails and leaves no event."""
    m = clean
    receipt = force_send(m.world, m.a.relayer, row.call(m))
    assert receipt["status"] == 0
    assert receipt["logs"] == []


# ---------------------------------------------------------------- positive attribution


def test_relayed_issue_is_anchored_by_the_issuer(clean: M) -> None:
    m = clean
    c = m.cert_new
    receipt = m.a.relayer.send(m.relayed(m.a.issuer, m.d.registry.functions.issue(c.as_tuple())))
    assert decoded_logs(m.world, receipt) == [
        ("registry", "CertificateIssued", {
            "id": certificate_id(c), "productId": c.product_id, "merchant": c.merchant, "issuer": c.issuer,
            "lot": c.lot, "kind": c.kind, "documentHash": c.document_hash, "standard": c.standard,
            "issuedAt": c.issued_at, "validUntil": c.valid_until, "anchoredBy": m.a.issuer.address}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.issuer.address, "nonce": 0, "success": True}),
    ]
    assert m.d.registry.functions.certificateState(certificate_id(c)).call()[:2] == (1, block_time(m.world, receipt))


def test_relayed_anchor_is_anchored_by_the_merchant(clean: M) -> None:
    m = clean
    c = m.offer
    call = m.d.registry.functions.anchor(c.as_tuple(), OFFER_NONCE, m.offer_deadline, m.offer_signature)
    receipt = m.a.relayer.send(m.relayed(m.a.merchant, call))
    logs = decoded_logs(m.world, receipt)
    assert [(x, n) for x, n, _ in logs] == [("registry", "NonceUsed"), ("registry", "CertificateIssued"),
                                            ("forwarder", "ExecutedForwardRequest")]
    assert logs[0][2] == {"issuer": m.a.issuer.address, "nonce": OFFER_NONCE}
    assert logs[1][2]["anchoredBy"] == m.a.merchant.address
    assert logs[1][2]["issuer"] == m.a.issuer.address
    assert logs[2][2] == {"signer": m.a.merchant.address, "nonce": 0, "success": True}
    assert m.d.registry.functions.isNonceUsed(m.a.issuer.address, OFFER_NONCE).call() is True


def test_relayed_revoke_is_revoked_by_the_issuer(clean: M) -> None:
    m = clean
    receipt = m.a.relayer.send(m.relayed(m.a.issuer, m.d.registry.functions.revoke(m.cert1_id, REASON)))
    assert decoded_logs(m.world, receipt) == [
        ("registry", "CertificateRevoked", {"id": m.cert1_id, "revokedBy": m.a.issuer.address, "reasonCode": REASON,
                                            "actId": 0}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.issuer.address, "nonce": 0, "success": True}),
    ]


def test_relayed_governor_admits_a_merchant(clean: M) -> None:
    m = clean
    g = m.d.governance.functions
    receipt = m.a.relayer.send(m.relayed(m.a.governor, g.admitMerchant(m.new, LICENCE)))
    assert decoded_logs(m.world, receipt) == [
        ("governance", "MerchantAdmitted", {"merchant": m.new, "licenceHash": LICENCE}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.governor.address, "nonce": 0, "success": True}),
    ]
    assert g.merchant(m.new).call() == (1, block_time(m.world, receipt), LICENCE)


def test_relayed_operator_anchors_a_checkpoint(clean: M) -> None:
    m = clean
    receipt = m.a.relayer.send(m.relayed(m.a.operator, m.d.review_log.functions.appendCheckpoint(3, ROOT, [])))
    assert decoded_logs(m.world, receipt) == [
        ("review_log", "CheckpointAnchored", {"index": 0, "size": 3, "root": ROOT,
                                              "timestamp": block_time(m.world, receipt)}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.operator.address, "nonce": 0, "success": True}),
    ]
    assert m.d.review_log.functions.checkpointCount().call() == 1


def test_relayed_issuer_declares_its_key_compromised(clean: M) -> None:
    m = clean
    receipt = m.a.relayer.send(
        m.relayed(m.a.issuer2, m.d.governance.functions.declareKeyCompromised(m.compromised_at)))
    assert decoded_logs(m.world, receipt) == [
        ("governance", "IssuerKeyCompromised", {"issuer": m.a.issuer2.address, "compromisedAt": m.compromised_at,
                                                "declaredBy": m.a.issuer2.address}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.issuer2.address, "nonce": 0, "success": True}),
    ]


def test_relayed_admin_grants_a_role_as_itself(clean: M) -> None:
    m = clean
    g = m.d.governance.functions
    receipt = m.a.relayer.send(m.relayed(m.a.admin, g.grantRole(GOVERNOR_ROLE, m.new)))
    assert decoded_logs(m.world, receipt) == [
        ("governance", "RoleGranted", {"role": GOVERNOR_ROLE, "account": m.new, "sender": m.a.admin.address}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.admin.address, "nonce": 0, "success": True}),
    ]
    assert g.hasRole(GOVERNOR_ROLE, m.new).call() is True
    assert g.hasRole(GOVERNOR_ROLE, m.a.relayer.address).call() is False


# ---------------------------------------------------------------- forwarder attacks


def recover_signer(request: tuple[Any, ...], *, nonce: int, chain_id: int, forwarder: str) -> str:
    """The address the forwarder recovers from ``request`` when the signer's current nonce is ``nonce``."""
    sender, to, value, gas, deadline, data, signature = request
    message = encode_typed_data(
        domain_data=forwarder_domain(chain_id, forwarder),
        message_types={"ForwardRequest": FORWARD_REQUEST_FIELDS},
        message_data={"from": sender, "to": to, "value": value, "gas": gas, "nonce": nonce, "deadline": deadline,
                      "data": data},
    )
    return str(Account.recover_message(message, signature=signature))


def _execute(m: M, request: tuple[Any, ...]) -> ContractFunction:
    return m.d.forwarder.functions.execute(request)


def _admit(m: M) -> ContractFunction:
    return m.d.governance.functions.admitMerchant(m.new, LICENCE)


def test_replayed_request_is_refused(clean: M) -> None:
    m = clean
    governor = m.a.governor
    request = m.world.forward_request(governor, _admit(m), gas=REQUEST_GAS)
    m.a.relayer.send(_execute(m, request))
    assert m.nonce(governor.address) == 1
    recovered = recover_signer(request, nonce=1, chain_id=m.d.chain_id, forwarder=m.d.forwarder.address)
    assert recovered != governor.address
    with reverts("ERC2771ForwarderInvalidSigner", recovered, governor.address):
        m.a.relayer.send(_execute(m, request))
    assert m.nonce(governor.address) == 1


@pytest.mark.parametrize("nonce", [0, 2, 2**64], ids=["used", "skipping-one", "far-future"])
def test_request_with_a_wrong_nonce_is_refused(clean: M, nonce: int) -> None:
    m = clean
    governor = m.a.governor
    m.a.relayer.send(m.relayed(governor, m.d.governance.functions.setOrderSigner(m.new)))  # nonce 0 used
    request = m.world.forward_request(governor, _admit(m), gas=REQUEST_GAS, nonce=nonce)
    recovered = recover_signer(request, nonce=1, chain_id=m.d.chain_id, forwarder=m.d.forwarder.address)
    with reverts("ERC2771ForwarderInvalidSigner", recovered, governor.address):
        m.a.relayer.send(_execute(m, request))
    assert m.d.governance.functions.merchant(m.new).call()[0] == 0


def test_expired_request_is_refused(clean: M) -> None:
    m = clean
    deadline = m.world.chain.now() - 1
    request = m.world.forward_request(m.a.governor, _admit(m), gas=REQUEST_GAS, deadline=deadline)
    with reverts("ERC2771ForwarderExpiredRequest", deadline):
        m.a.relayer.send(_execute(m, request))


def test_request_is_valid_up_to_its_deadline_second(clean: M) -> None:
    m = clean
    at = horizon(m.world) + 100
    late = m.world.forward_request(m.a.governor, _admit(m), gas=REQUEST_GAS, deadline=at)
    assert mine_at(m.world, at + 1, m.a.relayer, _execute(m, late))["status"] == 0
    assert m.nonce(m.a.governor.address) == 0
    on_time = m.world.forward_request(m.a.governor, _admit(m), gas=REQUEST_GAS, deadline=at + 10)
    receipt = mine_at(m.world, at + 10, m.a.relayer, _execute(m, on_time))
    assert receipt["status"] == 1
    assert m.nonce(m.a.governor.address) == 1


@pytest.mark.parametrize(("signer", "claimed"), [("stranger", "governor"), ("relayer", "issuer"),
                                                 ("governor", "admin"), ("issuer2", "issuer")])
def test_request_signed_by_one_account_claiming_another_is_refused(clean: M, signer: str, claimed: str) -> None:
    m = clean
    s, c = m.actor(signer), m.actor(claimed)
    call = _admit(m)
    request = sign_forward_request(
        s.account.key, sender=c.address, to=call.address, data=bytes.fromhex(call._encode_transaction_data()[2:]),
        gas=REQUEST_GAS, nonce=m.nonce(c.address), deadline=m.world.chain.now() + 3600, chain_id=m.d.chain_id,
        forwarder=m.d.forwarder.address)
    with reverts("ERC2771ForwarderInvalidSigner", s.address, c.address):
        m.a.relayer.send(_execute(m, request))


def test_request_with_a_malformed_signature_is_refused(clean: M) -> None:
    m = clean
    request = list(m.world.forward_request(m.a.governor, _admit(m), gas=REQUEST_GAS))
    request[6] = b"\x01" * 65  # v = 1: no signer can be recovered
    with reverts("ERC2771ForwarderInvalidSigner", ZERO_ADDRESS, m.a.governor.address):
        m.a.relayer.send(_execute(m, tuple(request)))


@pytest.mark.parametrize("field", ["data", "to", "gas", "deadline"])
def test_request_altered_by_the_relayer_is_refused(clean: M, field: str) -> None:
    m = clean
    governor = m.a.governor
    request = list(m.world.forward_request(governor, _admit(m), gas=REQUEST_GAS))
    if field == "data":
        other = m.d.governance.functions.admitMerchant(m.a.relayer.address, LICENCE)
        request[5] = bytes.fromhex(other._encode_transaction_data()[2:])
    elif field == "to":
        request[1] = m.fresh_governance.address  # another contract that trusts the forwarder
    elif field == "gas":
        request[3] = REQUEST_GAS + 1
    else:
        request[4] = request[4] + 1
    altered = tuple(request)
    recovered = recover_signer(altered, nonce=0, chain_id=m.d.chain_id, forwarder=m.d.forwarder.address)
    assert recovered != governor.address
    with reverts("ERC2771ForwarderInvalidSigner", recovered, governor.address):
        m.a.relayer.send(_execute(m, altered))


@pytest.mark.parametrize("domain", ["other-chain-id", "other-forwarder"])
def test_request_signed_for_another_domain_is_refused(clean: M, domain: str) -> None:
    m = clean
    governor = m.a.governor
    call = _admit(m)
    chain_id = m.d.chain_id + 1 if domain == "other-chain-id" else m.d.chain_id
    forwarder = m.d.forwarder.address if domain == "other-chain-id" else m.d.registry.address
    request = sign_forward_request(
        governor.account.key, sender=governor.address, to=call.address,
        data=bytes.fromhex(call._encode_transaction_data()[2:]), gas=REQUEST_GAS, nonce=0,
        deadline=m.world.chain.now() + 3600, chain_id=chain_id, forwarder=forwarder)
    recovered = recover_signer(request, nonce=0, chain_id=m.d.chain_id, forwarder=m.d.forwarder.address)
    assert recovered != governor.address
    with reverts("ERC2771ForwarderInvalidSigner", recovered, governor.address):
        m.a.relayer.send(_execute(m, request))


@pytest.mark.parametrize("target", ["forwarder-itself", "eoa", "governance-of-another-forwarder"])
def test_request_to_an_untrusting_target_is_refused(clean: M, target: str) -> None:
    m = clean
    governor = m.a.governor
    to: str
    data: bytes
    if target == "forwarder-itself":
        to, data = m.d.forwarder.address, bytes.fromhex(
            m.d.forwarder.functions.nonces(governor.address)._encode_transaction_data()[2:])
    elif target == "eoa":
        to, data = m.a.stranger.address, b""
    else:
        other = deploy_governance(m.world, forwarder=addr("another-forwarder"))
        to, data = other.address, bytes.fromhex(
            other.functions.grantRole(GOVERNOR_ROLE, m.new)._encode_transaction_data()[2:])
    request = sign_forward_request(
        governor.account.key, sender=governor.address, to=to, data=data, gas=REQUEST_GAS, nonce=0,
        deadline=m.world.chain.now() + 3600, chain_id=m.d.chain_id, forwarder=m.d.forwarder.address)
    with reverts("ERC2771UntrustfulTarget", to, m.d.forwarder.address):
        m.a.relayer.send(_execute(m, request))
    assert m.nonce(governor.address) == 0


def test_value_must_match_the_request(clean: M) -> None:
    m = clean
    with reverts("ERC2771ForwarderMismatchedValue", 0, 1):
        m.a.relayer.send(m.relayed(m.a.governor, _admit(m)), value=1)


@pytest.mark.parametrize("case", ["governance", "registry", "review_log"])
def test_failing_inner_call_reraises_its_error_and_keeps_the_nonce(clean: M, case: str) -> None:
    m = clean
    if case == "governance":
        signer = m.a.governor
        call = m.d.governance.functions.restoreMerchant(m.a.merchant.address, REASON, RULING)
        error: tuple[Any, ...] = ("TrustGovernanceMerchantAlreadyActive", m.a.merchant.address)
    elif case == "registry":
        signer = m.a.issuer
        call = m.d.registry.functions.issue(m.cert1.as_tuple())
        error = ("CertificateRegistryAlreadyIssued", m.cert1_id)
    else:
        signer = m.a.operator
        call = m.d.review_log.functions.appendCheckpoint(0, ROOT, [])
        error = ("ReviewLogNotExtended", 0, 0)
    request = m.world.forward_request(signer, call, gas=REQUEST_GAS)
    with reverts(*error):
        m.a.relayer.simulate(_execute(m, request))
    with reverts(*error):
        m.a.relayer.send(_execute(m, request))
    mined = force_send(m.world, m.a.relayer, _execute(m, request))  # on chain too
    assert mined["status"] == 0
    assert mined["logs"] == []
    assert m.nonce(signer.address) == 0


def test_request_that_failed_stays_usable(clean: M) -> None:
    """A failed inner call consumes no nonce: the same signed request succeeds once its call is valid."""
    m = clean
    g = m.d.governance.functions
    merchant = m.a.merchant.address
    request = m.world.forward_request(m.a.governor, g.restoreMerchant(merchant, REASON, RULING), gas=REQUEST_GAS)
    assert force_send(m.world, m.a.relayer, _execute(m, request))["status"] == 0
    assert m.nonce(m.a.governor.address) == 0
    m.a.governor.send(g.sanctionMerchant(merchant, SUSPENSION, REASON, RULING))
    receipt = m.a.relayer.send(_execute(m, request))
    assert decoded_logs(m.world, receipt) == [
        ("governance", "MerchantRestored", {"merchant": merchant, "reasonCode": REASON, "rulingRef": RULING}),
        ("forwarder", "ExecutedForwardRequest", {"signer": m.a.governor.address, "nonce": 0, "success": True}),
    ]
    assert g.merchant(merchant).call()[0] == 1
    assert m.nonce(m.a.governor.address) == 1
