"""TrustGovernance: every external function, with its exact events, state and errors.

Each test runs on the shared deployed world (``world`` fixture, reverted to its initial state afterwards):
admin is the default admin, governor holds GOVERNOR_ROLE, issuer (#1) and issuer2 (#2) are accredited,
merchant and merchant2 are admitted, arbitrator is appointed, order_signer is the order signer.
Tests that need an unbound governance deploy one inside the test (reverted with the world).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3RPCError
from web3.types import TxParams, TxReceipt

from ledger.artifacts import load
from ledger.chain import Transactor
from ledger.eip712 import Certificate, certificate_id

from ..conftest import ACT_DELAY, OTHER_STANDARD, STANDARD, World, reverts

pytestmark = pytest.mark.chain

ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
DEFAULT_ADMIN_ROLE = ZERO32
ADMIN_DELAY = 3 * 24 * 3600  # ledger.deploy default
REASON = keccak(text="reason:test")
RULING = keccak(text="ruling:42")
LICENCE = keccak(text="licence:new-merchant")
ROOT = keccak(text="root:5")

# ITrustGovernance enums
ACTIVE, SUSPENDED, BANNED = 1, 2, 3
WARNING, SUSPENSION, BAN = 0, 1, 2
REPLACE_LOG_OPERATOR, REVOKE_CERTIFICATE, DECLARE_KEY_COMPROMISE = 1, 2, 3
PENDING, EXECUTED, CANCELLED = 1, 2, 3
# ICertificateRegistry.CertificateStatus
VALID, REVOKED, COMPROMISED = 1, 2, 6


# ---------------------------------------------------------------- helpers


def addr(label: str) -> str:
    """A fresh, reproducible address that holds no role."""
    return str(Account.from_key(keccak(text=f"test-governance:{label}")).address)


def funded(world: World, label: str) -> Transactor:
    t = Transactor(world.w3, Account.from_key(keccak(text=f"test-governance:{label}")))
    world.chain.fund(t.address, 10**19)
    return t


def _abi_type(param: Any) -> str:
    t: str = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def decoded_logs(world: World, receipt: TxReceipt, **extra: Contract) -> list[tuple[str, str, dict[str, Any]]]:
    """Every log of ``receipt`` as (contract label, event name, args); unknown emitters fail the test."""
    d = world.d
    contracts = {"forwarder": d.forwarder, "governance": d.governance, "registry": d.registry,
                 "review_log": d.review_log, **extra}
    by_address = {c.address: (label, c) for label, c in contracts.items()}
    out = []
    for log in receipt["logs"]:
        label, c = by_address[log["address"]]
        topic0 = bytes(log["topics"][0])
        name = next(i["name"] for i in c.abi if i["type"] == "event" and keccak(
            text=f"{i['name']}({','.join(_abi_type(p) for p in i['inputs'])})") == topic0)
        out.append((label, name, dict(getattr(c.events, name)().process_log(log)["args"])))
    return out


def block_time(world: World, receipt: TxReceipt) -> int:
    return int(world.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def horizon(world: World) -> int:
    """A time that every later block follows: the latest block's, or on py-evm, whose new blocks take the
    wall clock when it is ahead of the chain (as it is after snapshots are reverted), the wall clock."""
    now = world.chain.now()
    if world.chain.kind == "eth-tester":
        now = max(now, int(time.time()) + 1)
    return now


def run_ahead(world: World) -> None:
    """Put the chain well ahead of the wall clock, so that the block time of a simulated call is exact."""
    world.chain.increase_time(horizon(world) - world.chain.now() + 3600)


def simulation_time(world: World) -> int:
    """``block.timestamp`` seen by a simulated call once the chain runs ahead (:func:`run_ahead`): py-evm
    simulates on a new block after the latest one, Hardhat and Anvil on the latest block."""
    return world.chain.now() + (1 if world.chain.kind == "eth-tester" else 0)


def force_send(world: World, sender: Transactor, call: ContractFunction, *, gas: int = 1_000_000) -> TxReceipt:
    """Mine ``call`` without simulating it first (a reverting call is mined with status 0)."""
    w3 = world.w3
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tx = call.build_transaction(cast(TxParams, {
        "from": sender.address, "gas": gas, "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "maxFeePerGas": 2 * base_fee + 10, "maxPriorityFeePerGas": 1,
    }))
    signed = sender.account.sign_transaction(cast(dict[str, Any], tx))
    sender._nonce = None  # the Transactor resynchronises from the chain
    with contextlib.suppress(Web3RPCError):  # Hardhat mines a reverting transaction but answers with an error
        w3.eth.send_raw_transaction(signed.raw_transaction)
    return sender.wait(signed.hash, timeout=20)


def mine_at(world: World, timestamp: int, sender: Transactor, call: ContractFunction) -> TxReceipt:
    """Mine ``call`` in a block whose timestamp is exactly ``timestamp``."""
    chain = world.chain
    assert timestamp > chain.now(), "mine_at needs a timestamp after the latest block"
    assert timestamp >= horizon(world) - 1, "mine_at needs a timestamp the next block can still have"
    if chain.kind == "eth-tester":
        chain.tester.time_travel(timestamp)  # type: ignore[attr-defined]  # the next block gets it
    else:
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
    receipt = force_send(world, sender, call)
    assert block_time(world, receipt) == timestamp
    return receipt


def deploy_governance(world: World, *, forwarder: str | None = None) -> Contract:
    """A fresh, unbound TrustGovernance administered by ``admin``."""
    artifact = load("TrustGovernance")
    factory = world.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = world.actors.admin.send(factory.constructor(
        ADMIN_DELAY, world.actors.admin.address, ACT_DELAY, forwarder or world.d.forwarder.address))
    return cast(Contract, world.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi))


def arbitrators(world: World) -> list[str]:
    g = world.d.governance.functions
    return [g.arbitratorAt(i).call() for i in range(g.arbitratorCount().call())]


def issue_certificate(world: World, label: str, *, issuer: Transactor | None = None) -> tuple[Certificate, bytes]:
    a = world.actors
    issuer = issuer or a.issuer
    now = world.chain.now()
    cert = Certificate(keccak(text=f"gtin:{label}"), keccak(text="lot:1"), a.merchant.address, issuer.address, 0,
                       keccak(text=f"doc:{label}"), STANDARD, now - 10, now + 365 * 24 * 3600)
    issuer.send(world.d.registry.functions.issue(cert.as_tuple()))
    return cert, certificate_id(cert)


@pytest.fixture
def fresh(world: World) -> Iterator[Contract]:
    """An unbound TrustGovernance trusting the world's forwarder."""
    yield deploy_governance(world)


# ---------------------------------------------------------------- deployment and wiring


def test_deployed_roles_and_wiring(world: World) -> None:
    a, d = world.actors, world.d
    g = d.governance.functions
    assert g.GOVERNOR_ROLE().call() == GOVERNOR_ROLE
    assert g.actDelay().call() == ACT_DELAY
    assert g.defaultAdmin().call() == a.admin.address
    assert g.defaultAdminDelay().call() == ADMIN_DELAY
    assert g.hasRole(GOVERNOR_ROLE, a.governor.address).call() is True
    for name in ("admin", "relayer", "stranger", "issuer", "operator"):
        assert g.hasRole(GOVERNOR_ROLE, a.by_name[name].address).call() is False, name
    for name in ("governor", "relayer", "stranger"):
        assert g.hasRole(DEFAULT_ADMIN_ROLE, a.by_name[name].address).call() is False, name
    assert g.certificateRegistry().call() == d.registry.address
    assert g.reviewLog().call() == d.review_log.address
    assert d.registry.functions.governance().call() == d.governance.address
    assert d.review_log.functions.governance().call() == d.governance.address
    assert d.review_log.functions.logOperator().call() == a.operator.address
    for c in (d.governance, d.registry, d.review_log):
        assert c.functions.isTrustedForwarder(d.forwarder.address).call() is True
        assert c.functions.isTrustedForwarder(a.relayer.address).call() is False
    assert g.issuerById(1).call() == a.issuer.address
    assert g.issuerById(2).call() == a.issuer2.address
    assert g.issuerById(3).call() == ZERO_ADDRESS
    assert g.orderSigner().call() == a.order_signer.address
    assert arbitrators(world) == [a.arbitrator.address]
    assert g.actCount().call() == 0


# ---------------------------------------------------------------- bind


def test_bind_once_by_the_admin(world: World, fresh: Contract) -> None:
    a, d = world.actors, world.d
    receipt = a.admin.send(fresh.functions.bind(d.registry.address, d.review_log.address))
    assert decoded_logs(world, receipt, fresh=fresh) == [
        ("fresh", "ContractsBound", {"certificateRegistry": d.registry.address, "reviewLog": d.review_log.address}),
    ]
    assert fresh.functions.certificateRegistry().call() == d.registry.address
    assert fresh.functions.reviewLog().call() == d.review_log.address
    with reverts("TrustGovernanceAlreadyBound"):
        a.admin.send(fresh.functions.bind(addr("other-registry"), addr("other-log")))
    with reverts("TrustGovernanceAlreadyBound"):  # bound beats the zero-address check
        a.admin.send(fresh.functions.bind(ZERO_ADDRESS, ZERO_ADDRESS))
    assert fresh.functions.certificateRegistry().call() == d.registry.address


def test_deployed_world_is_already_bound(world: World) -> None:
    with reverts("TrustGovernanceAlreadyBound"):
        world.actors.admin.send(world.d.governance.functions.bind(addr("r"), addr("l")))


@pytest.mark.parametrize("which", ["registry-zero", "log-zero", "both-zero"])
def test_bind_refuses_zero_addresses(world: World, fresh: Contract, which: str) -> None:
    registry = ZERO_ADDRESS if which in ("registry-zero", "both-zero") else world.d.registry.address
    log = ZERO_ADDRESS if which in ("log-zero", "both-zero") else world.d.review_log.address
    with reverts("TrustGovernanceZeroAddress"):
        world.actors.admin.send(fresh.functions.bind(registry, log))
    assert fresh.functions.certificateRegistry().call() == ZERO_ADDRESS
    assert fresh.functions.reviewLog().call() == ZERO_ADDRESS


@pytest.mark.parametrize("who", ["governor", "stranger", "relayer"])
def test_bind_by_non_admin(world: World, fresh: Contract, who: str) -> None:
    actor = world.actors.by_name[who]
    with reverts("TrustGovernanceUnauthorized", actor.address, DEFAULT_ADMIN_ROLE):
        actor.send(fresh.functions.bind(world.d.registry.address, world.d.review_log.address))
    assert fresh.functions.certificateRegistry().call() == ZERO_ADDRESS


def test_acts_cannot_be_scheduled_before_bind(world: World, fresh: Contract) -> None:
    a = world.actors
    f = fresh.functions
    a.admin.send(f.grantRole(GOVERNOR_ROLE, a.governor.address))
    with reverts("TrustGovernanceNotBound"):
        a.governor.send(f.scheduleLogOperatorReplacement(a.stranger.address))
    with reverts("TrustGovernanceNotBound"):
        a.governor.send(f.scheduleCertificateRevocation(keccak(text="cert"), REASON))
    now = world.chain.now()
    a.governor.send(f.accreditIssuer(a.issuer.address, now - 10, now + 1000, []))
    with reverts("TrustGovernanceNotBound"):
        a.governor.send(f.scheduleKeyCompromise(a.issuer.address, now - 5, REASON))
    assert f.actCount().call() == 0


# ---------------------------------------------------------------- accreditIssuer


def test_accredit_new_issuers_get_the_next_ids(world: World) -> None:
    g = world.d.governance.functions
    x, y = addr("issuer-x"), addr("issuer-y")
    now = world.chain.now()
    receipt = world.actors.governor.send(g.accreditIssuer(x, now - 5, now + 500, [STANDARD, OTHER_STANDARD]))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerAccredited", {"issuer": x, "issuerId": 3, "validFrom": now - 5, "validUntil": now + 500}),
        ("governance", "IssuerScopeSet", {"issuer": x, "scope": STANDARD, "inScope": True}),
        ("governance", "IssuerScopeSet", {"issuer": x, "scope": OTHER_STANDARD, "inScope": True}),
    ]
    assert g.accreditation(x).call() == (3, now - 5, now + 500, 0, False)
    assert g.issuerById(3).call() == x
    assert g.isInScope(x, STANDARD).call() is True
    assert g.isInScope(x, OTHER_STANDARD).call() is True
    assert g.isInScope(x, keccak(text="std:unrelated")).call() is False

    receipt = world.actors.governor.send(g.accreditIssuer(y, now, now + 1, []))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerAccredited", {"issuer": y, "issuerId": 4, "validFrom": now, "validUntil": now + 1}),
    ]
    assert g.issuerById(4).call() == y
    assert g.issuerById(5).call() == ZERO_ADDRESS
    assert g.accreditation(addr("never")).call() == (0, 0, 0, 0, False)


def test_renewal_keeps_the_id_and_adds_scopes(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    before = g.accreditation(a.issuer.address).call()
    assert before[0] == 1
    now = world.chain.now()
    receipt = a.governor.send(g.accreditIssuer(a.issuer.address, now - 100, now + 100, [OTHER_STANDARD]))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerAccredited",
         {"issuer": a.issuer.address, "issuerId": 1, "validFrom": now - 100, "validUntil": now + 100}),
        ("governance", "IssuerScopeSet", {"issuer": a.issuer.address, "scope": OTHER_STANDARD, "inScope": True}),
    ]
    assert g.accreditation(a.issuer.address).call() == (1, now - 100, now + 100, 0, False)
    assert g.isInScope(a.issuer.address, STANDARD).call() is True  # scopes are additive
    assert g.isInScope(a.issuer.address, OTHER_STANDARD).call() is True
    assert g.issuerById(1).call() == a.issuer.address
    assert g.issuerById(3).call() == ZERO_ADDRESS  # no new number was used
    # A renewal does not lift a suspension.
    a.governor.send(g.suspendIssuer(a.issuer.address, REASON))
    a.governor.send(g.accreditIssuer(a.issuer.address, now - 100, now + 200, []))
    assert g.accreditation(a.issuer.address).call() == (1, now - 100, now + 200, 0, True)


@pytest.mark.parametrize("delta", [0, -1, -1000], ids=["until-equals-from", "until-before-from",
                                                        "until-far-before-from"])
def test_accredit_refuses_an_empty_window(world: World, delta: int) -> None:
    g = world.d.governance.functions
    now = world.chain.now()
    with reverts("TrustGovernanceInvalidWindow", now + 10, now + 10 + delta):
        world.actors.governor.send(g.accreditIssuer(addr("issuer-x"), now + 10, now + 10 + delta, [STANDARD]))
    assert g.accreditation(addr("issuer-x")).call() == (0, 0, 0, 0, False)


def test_accredit_refuses_the_zero_address(world: World) -> None:
    now = world.chain.now()
    with reverts("TrustGovernanceZeroAddress"):
        world.actors.governor.send(world.d.governance.functions.accreditIssuer(ZERO_ADDRESS, now, now + 10, []))


def test_a_compromised_issuer_cannot_be_reaccredited(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    t = world.chain.now() - 50
    a.issuer.send(g.declareKeyCompromised(t))
    now = world.chain.now()
    with reverts("TrustGovernanceIssuerCompromised", a.issuer.address, t):
        a.governor.send(g.accreditIssuer(a.issuer.address, now, now + 1000, [STANDARD]))
    assert g.accreditation(a.issuer.address).call()[3] == t


# ---------------------------------------------------------------- setIssuerScope


def test_set_issuer_scope_adds_and_removes(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    issuer, merchant = a.issuer.address, a.merchant.address
    assert g.issuanceStanding(issuer, OTHER_STANDARD, merchant, world.chain.now() - 1).call()[1] is False
    receipt = a.governor.send(g.setIssuerScope(issuer, OTHER_STANDARD, True))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerScopeSet", {"issuer": issuer, "scope": OTHER_STANDARD, "inScope": True}),
    ]
    assert g.isInScope(issuer, OTHER_STANDARD).call() is True
    assert g.issuanceStanding(issuer, OTHER_STANDARD, merchant, world.chain.now() - 1).call() == [1, True, True]

    receipt = a.governor.send(g.setIssuerScope(issuer, STANDARD, False))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerScopeSet", {"issuer": issuer, "scope": STANDARD, "inScope": False}),
    ]
    assert g.isInScope(issuer, STANDARD).call() is False
    assert g.issuanceStanding(issuer, STANDARD, merchant, world.chain.now() - 1).call() == [1, False, True]
    assert g.isInScope(a.issuer2.address, STANDARD).call() is True  # other issuers untouched


def test_set_issuer_scope_of_unknown_issuer(world: World) -> None:
    a = world.actors
    with reverts("TrustGovernanceUnknownIssuer", a.stranger.address):
        a.governor.send(world.d.governance.functions.setIssuerScope(a.stranger.address, STANDARD, True))
    assert world.d.governance.functions.isInScope(a.stranger.address, STANDARD).call() is False


# ---------------------------------------------------------------- suspendIssuer / restoreIssuer


def test_suspend_and_restore_issuer(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    issuer = a.issuer.address
    standing = g.issuanceStanding(issuer, STANDARD, a.merchant.address, world.chain.now() - 1)
    assert standing.call() == [1, True, True]

    receipt = a.governor.send(g.suspendIssuer(issuer, REASON))
    assert decoded_logs(world, receipt) == [("governance", "IssuerSuspended", {"issuer": issuer, "reasonCode": REASON})]
    assert g.accreditation(issuer).call()[4] is True
    assert standing.call() == [1, False, True]
    with reverts("TrustGovernanceIssuerAlreadySuspended", issuer):
        a.governor.send(g.suspendIssuer(issuer, REASON))

    receipt = a.governor.send(g.restoreIssuer(issuer))
    assert decoded_logs(world, receipt) == [("governance", "IssuerRestored", {"issuer": issuer})]
    assert g.accreditation(issuer).call()[4] is False
    assert standing.call() == [1, True, True]
    with reverts("TrustGovernanceIssuerNotSuspended", issuer):
        a.governor.send(g.restoreIssuer(issuer))


def test_restore_an_issuer_never_suspended(world: World) -> None:
    with reverts("TrustGovernanceIssuerNotSuspended", world.actors.issuer2.address):
        world.actors.governor.send(world.d.governance.functions.restoreIssuer(world.actors.issuer2.address))


@pytest.mark.parametrize("action", ["suspend", "restore"])
def test_suspend_or_restore_unknown_issuer(world: World, action: str) -> None:
    a = world.actors
    g = world.d.governance.functions
    call = g.suspendIssuer(a.stranger.address, REASON) if action == "suspend" else g.restoreIssuer(a.stranger.address)
    with reverts("TrustGovernanceUnknownIssuer", a.stranger.address):
        a.governor.send(call)


# ---------------------------------------------------------------- declareKeyCompromised


def test_issuer_declares_its_own_key_compromised(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    t = world.chain.now() - 100
    receipt = a.issuer.send(g.declareKeyCompromised(t))
    assert decoded_logs(world, receipt) == [
        ("governance", "IssuerKeyCompromised",
         {"issuer": a.issuer.address, "compromisedAt": t, "declaredBy": a.issuer.address}),
    ]
    assert g.accreditation(a.issuer.address).call()[3] == t
    assert g.compromisedAtById(1).call() == t
    assert g.compromisedAtById(2).call() == 0
    assert g.issuanceStanding(a.issuer.address, STANDARD, a.merchant.address, t + 1).call() == [1, False, True]
    assert g.issuanceStanding(a.issuer2.address, STANDARD, a.merchant.address, t + 1).call() == [2, True, True]


@pytest.mark.parametrize("who", ["stranger", "merchant", "governor", "admin"])
def test_declare_compromise_by_a_non_issuer(world: World, who: str) -> None:
    actor = world.actors.by_name[who]
    with reverts("TrustGovernanceUnknownIssuer", actor.address):
        actor.send(world.d.governance.functions.declareKeyCompromised(world.chain.now() - 10))


def test_declare_compromise_in_the_future(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    future = horizon(world) + 1000
    with reverts("TrustGovernanceInvalidCompromiseTime", future, 0):  # `current` is the declared time: none
        a.issuer.send(g.declareKeyCompromised(future))
    t0 = world.chain.now() - 100
    a.issuer.send(g.declareKeyCompromised(t0))
    with reverts("TrustGovernanceInvalidCompromiseTime", future, t0):
        a.issuer.send(g.declareKeyCompromised(future))
    assert g.accreditation(a.issuer.address).call()[3] == t0


@pytest.mark.parametrize("offset", [0, 1, 50], ids=["same-time", "one-second-later", "later"])
def test_declare_compromise_cannot_move_later(world: World, offset: int) -> None:
    a = world.actors
    g = world.d.governance.functions
    t0 = world.chain.now() - 100
    a.issuer.send(g.declareKeyCompromised(t0))
    with reverts("TrustGovernanceInvalidCompromiseTime", t0 + offset, t0):
        a.issuer.send(g.declareKeyCompromised(t0 + offset))
    assert g.accreditation(a.issuer.address).call()[3] == t0


def test_declare_compromise_may_move_earlier(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    t0 = world.chain.now() - 100
    a.issuer.send(g.declareKeyCompromised(t0))
    for t in (t0 - 1, t0 - 50):
        receipt = a.issuer.send(g.declareKeyCompromised(t))
        assert decoded_logs(world, receipt) == [
            ("governance", "IssuerKeyCompromised",
             {"issuer": a.issuer.address, "compromisedAt": t, "declaredBy": a.issuer.address}),
        ]
        assert g.accreditation(a.issuer.address).call()[3] == t
        assert g.compromisedAtById(1).call() == t


def test_declare_compromise_at_the_current_block_time(world: World) -> None:
    """``compromisedAt == block.timestamp`` is not in the future; one second later is."""
    a = world.actors
    g = world.d.governance.functions
    ts = horizon(world) + 100
    assert mine_at(world, ts, a.issuer2, g.declareKeyCompromised(ts + 1))["status"] == 0
    assert g.accreditation(a.issuer2.address).call()[3] == 0
    receipt = mine_at(world, ts + 10, a.issuer, g.declareKeyCompromised(ts + 10))
    assert receipt["status"] == 1
    assert g.accreditation(a.issuer.address).call()[3] == ts + 10


@pytest.mark.parametrize("path", ["declared-by-issuer", "scheduled-act"])
def test_a_declared_compromise_cannot_be_undone_with_time_zero(world: World, path: str) -> None:
    a = world.actors
    g = world.d.governance.functions
    _, cid = issue_certificate(world, "after-compromise")
    t0 = world.chain.now() - 1  # the certificate was anchored at or after t0
    a.issuer.send(g.declareKeyCompromised(t0))
    assert world.d.registry.functions.status(cid).call() == [COMPROMISED, False]
    with reverts("TrustGovernanceInvalidCompromiseTime", 0, t0):
        if path == "declared-by-issuer":
            a.issuer.send(g.declareKeyCompromised(0))
        else:
            a.governor.send(g.scheduleKeyCompromise(a.issuer.address, 0, REASON))
    assert g.accreditation(a.issuer.address).call()[3] == t0
    assert world.d.registry.functions.status(cid).call() == [COMPROMISED, False]


def test_declaring_time_zero_is_refused_or_recorded(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    with reverts("TrustGovernanceInvalidCompromiseTime", 0, 0):
        a.issuer.send(g.declareKeyCompromised(0))
    standing = g.issuanceStanding(a.issuer.address, STANDARD, a.merchant.address, world.chain.now() - 1).call()
    assert standing[1] is True


# ---------------------------------------------------------------- merchants


def test_admit_merchant_stores_licence_and_time(world: World) -> None:
    g = world.d.governance.functions
    x = addr("merchant-x")
    receipt = world.actors.governor.send(g.admitMerchant(x, LICENCE))
    assert decoded_logs(world, receipt) == [("governance", "MerchantAdmitted", {"merchant": x, "licenceHash": LICENCE})]
    assert g.merchant(x).call() == (ACTIVE, block_time(world, receipt), LICENCE)
    assert g.issuanceStanding(world.actors.issuer.address, STANDARD, x, world.chain.now() - 1).call()[2] is True


def test_admit_merchant_twice(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    before = g.merchant(a.merchant.address).call()
    with reverts("TrustGovernanceMerchantAlreadyAdmitted", a.merchant.address):
        a.governor.send(g.admitMerchant(a.merchant.address, LICENCE))
    a.governor.send(g.sanctionMerchant(a.merchant.address, BAN, REASON, RULING))
    with reverts("TrustGovernanceMerchantAlreadyAdmitted", a.merchant.address):  # a ban is not a way back in
        a.governor.send(g.admitMerchant(a.merchant.address, LICENCE))
    assert g.merchant(a.merchant.address).call() == (BANNED, before[1], before[2])


def test_admit_merchant_zero_address(world: World) -> None:
    with reverts("TrustGovernanceZeroAddress"):
        world.actors.governor.send(world.d.governance.functions.admitMerchant(ZERO_ADDRESS, LICENCE))


@pytest.mark.parametrize(("before", "kind", "expected"), [
    ([], WARNING, ACTIVE),
    ([], SUSPENSION, SUSPENDED),
    ([], BAN, BANNED),
    ([SUSPENSION], WARNING, SUSPENDED),
    ([SUSPENSION], SUSPENSION, SUSPENDED),
    ([SUSPENSION], BAN, BANNED),
    ([BAN], WARNING, BANNED),
    ([BAN], SUSPENSION, BANNED),
    ([BAN], BAN, BANNED),
], ids=["warning-active", "suspension-active", "ban-active", "warning-suspended", "suspension-suspended",
        "ban-suspended", "warning-banned", "suspension-banned", "ban-banned"])
def test_sanction_merchant(world: World, before: list[int], kind: int, expected: int) -> None:
    a = world.actors
    g = world.d.governance.functions
    m = a.merchant.address
    _, admitted_at, licence = g.merchant(m).call()
    for k in before:
        a.governor.send(g.sanctionMerchant(m, k, keccak(text="earlier"), keccak(text="ruling:1")))
    receipt = a.governor.send(g.sanctionMerchant(m, kind, REASON, RULING))
    assert decoded_logs(world, receipt) == [
        ("governance", "MerchantSanctioned",
         {"merchant": m, "kind": kind, "status": expected, "reasonCode": REASON, "rulingRef": RULING}),
    ]
    assert g.merchant(m).call() == (expected, admitted_at, licence)
    assert g.issuanceStanding(a.issuer.address, STANDARD, m, world.chain.now() - 1).call()[2] is (expected == ACTIVE)
    assert g.merchant(a.merchant2.address).call()[0] == ACTIVE


def test_sanction_unknown_merchant(world: World) -> None:
    a = world.actors
    with reverts("TrustGovernanceUnknownMerchant", a.stranger.address):
        a.governor.send(world.d.governance.functions.sanctionMerchant(a.stranger.address, WARNING, REASON, RULING))


@pytest.mark.parametrize("kind", [SUSPENSION, BAN], ids=["suspended", "banned"])
def test_restore_merchant(world: World, kind: int) -> None:
    a = world.actors
    g = world.d.governance.functions
    m = a.merchant.address
    _, admitted_at, licence = g.merchant(m).call()
    a.governor.send(g.sanctionMerchant(m, kind, keccak(text="why"), keccak(text="ruling:1")))
    receipt = a.governor.send(g.restoreMerchant(m, REASON, RULING))
    assert decoded_logs(world, receipt) == [
        ("governance", "MerchantRestored", {"merchant": m, "reasonCode": REASON, "rulingRef": RULING}),
    ]
    assert g.merchant(m).call() == (ACTIVE, admitted_at, licence)
    with reverts("TrustGovernanceMerchantAlreadyActive", m):
        a.governor.send(g.restoreMerchant(m, REASON, RULING))


def test_restore_active_merchant(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    a.governor.send(g.sanctionMerchant(a.merchant.address, WARNING, REASON, RULING))  # a warning keeps it active
    with reverts("TrustGovernanceMerchantAlreadyActive", a.merchant.address):
        a.governor.send(g.restoreMerchant(a.merchant.address, REASON, RULING))


def test_restore_unknown_merchant(world: World) -> None:
    a = world.actors
    with reverts("TrustGovernanceUnknownMerchant", a.stranger.address):
        a.governor.send(world.d.governance.functions.restoreMerchant(a.stranger.address, REASON, RULING))


# ---------------------------------------------------------------- arbitrators


def test_appoint_arbitrator(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    x = addr("arbitrator-x")
    assert g.isArbitrator(x).call() is False
    receipt = a.governor.send(g.appointArbitrator(x))
    assert decoded_logs(world, receipt) == [("governance", "ArbitratorAppointed", {"arbitrator": x})]
    assert g.isArbitrator(x).call() is True
    assert arbitrators(world) == [a.arbitrator.address, x]
    with reverts("TrustGovernanceArbitratorAlreadyAppointed", x):
        a.governor.send(g.appointArbitrator(x))
    with reverts("TrustGovernanceArbitratorAlreadyAppointed", a.arbitrator.address):
        a.governor.send(g.appointArbitrator(a.arbitrator.address))


def test_appoint_arbitrator_zero_address(world: World) -> None:
    with reverts("TrustGovernanceZeroAddress"):
        world.actors.governor.send(world.d.governance.functions.appointArbitrator(ZERO_ADDRESS))
    assert world.d.governance.functions.arbitratorCount().call() == 1


def test_remove_not_an_arbitrator(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    with reverts("TrustGovernanceNotArbitrator", a.stranger.address):
        a.governor.send(g.removeArbitrator(a.stranger.address))
    receipt = a.governor.send(g.removeArbitrator(a.arbitrator.address))
    assert decoded_logs(world, receipt) == [("governance", "ArbitratorRemoved", {"arbitrator": a.arbitrator.address})]
    assert arbitrators(world) == []
    assert g.isArbitrator(a.arbitrator.address).call() is False
    with reverts("TrustGovernanceNotArbitrator", a.arbitrator.address):
        a.governor.send(g.removeArbitrator(a.arbitrator.address))


@pytest.mark.parametrize(("position", "after"), [(0, [2, 1]), (1, [0, 2]), (2, [0, 1])],
                         ids=["first", "middle", "last"])
def test_remove_arbitrator_swap_and_pop(world: World, position: int, after: list[int]) -> None:
    """Removing one of three moves the last into its place; every view agrees afterwards."""
    a = world.actors
    g = world.d.governance.functions
    three = [a.arbitrator.address, addr("arbitrator-2"), addr("arbitrator-3")]
    for x in three[1:]:
        a.governor.send(g.appointArbitrator(x))
    assert arbitrators(world) == three
    removed = three[position]
    receipt = a.governor.send(g.removeArbitrator(removed))
    assert decoded_logs(world, receipt) == [("governance", "ArbitratorRemoved", {"arbitrator": removed})]
    assert g.arbitratorCount().call() == 2
    assert arbitrators(world) == [three[i] for i in after]
    assert g.isArbitrator(removed).call() is False
    for i in after:
        assert g.isArbitrator(three[i]).call() is True
    # Every position was kept right: removing the rest one by one, front first, needs the moved entry's
    # updated position (a stale one would remove the wrong entry or run off the end of the list).
    remaining = [three[i] for i in after]
    while remaining:
        a.governor.send(g.removeArbitrator(remaining[0]))
        remaining = remaining[-1:] if len(remaining) > 1 else []
        assert arbitrators(world) == remaining
    a.governor.send(g.appointArbitrator(removed))
    assert arbitrators(world) == [removed]
    assert g.isArbitrator(removed).call() is True


# ---------------------------------------------------------------- order signer


def test_set_order_signer(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    x, y = addr("signer-x"), addr("signer-y")
    receipt = a.governor.send(g.setOrderSigner(x))
    assert decoded_logs(world, receipt) == [
        ("governance", "OrderSignerSet", {"previous": a.order_signer.address, "current": x}),
    ]
    assert g.orderSigner().call() == x
    receipt = a.governor.send(g.setOrderSigner(y))
    assert decoded_logs(world, receipt) == [("governance", "OrderSignerSet", {"previous": x, "current": y})]
    assert g.orderSigner().call() == y
    with reverts("TrustGovernanceZeroAddress"):
        a.governor.send(g.setOrderSigner(ZERO_ADDRESS))
    assert g.orderSigner().call() == y


# ---------------------------------------------------------------- delayed acts


def _scheduled(world: World, receipt: TxReceipt, act_id: int, kind: int, *, account: str = ZERO_ADDRESS,
               ref: bytes = ZERO32, reason: bytes = ZERO32, time: int = 0) -> int:
    eta = block_time(world, receipt) + ACT_DELAY
    assert decoded_logs(world, receipt) == [
        ("governance", "ActScheduled", {"actId": act_id, "kind": kind, "eta": eta, "account": account, "ref": ref,
                                        "reasonCode": reason, "time": time}),
    ]
    assert world.d.governance.functions.act(act_id).call() == (kind, PENDING, eta, time, account, ref, reason)
    return eta


def test_schedule_acts_events_and_views(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    assert g.act(1).call() == (0, 0, 0, 0, ZERO_ADDRESS, ZERO32, ZERO32)

    call = g.scheduleLogOperatorReplacement(a.stranger.address)
    assert a.governor.simulate(call) == 1
    _scheduled(world, a.governor.send(call), 1, REPLACE_LOG_OPERATOR, account=a.stranger.address)
    assert g.actCount().call() == 1

    cid = keccak(text="some certificate")
    call = g.scheduleCertificateRevocation(cid, REASON)
    assert a.governor.simulate(call) == 2
    _scheduled(world, a.governor.send(call), 2, REVOKE_CERTIFICATE, ref=cid, reason=REASON)
    assert g.actCount().call() == 2

    t = world.chain.now() - 30
    call = g.scheduleKeyCompromise(a.issuer.address, t, REASON)
    assert a.governor.simulate(call) == 3
    _scheduled(world, a.governor.send(call), 3, DECLARE_KEY_COMPROMISE, account=a.issuer.address, reason=REASON,
               time=t)
    assert g.actCount().call() == 3
    # Scheduling changes nothing yet.
    assert world.d.review_log.functions.logOperator().call() == a.operator.address
    assert g.accreditation(a.issuer.address).call()[3] == 0


def test_schedule_log_operator_replacement_zero_address(world: World) -> None:
    with reverts("TrustGovernanceZeroAddress"):
        world.actors.governor.send(world.d.governance.functions.scheduleLogOperatorReplacement(ZERO_ADDRESS))
    assert world.d.governance.functions.actCount().call() == 0


def test_schedule_key_compromise_checks(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    with reverts("TrustGovernanceUnknownIssuer", a.stranger.address):
        a.governor.send(g.scheduleKeyCompromise(a.stranger.address, world.chain.now() - 10, REASON))
    run_ahead(world)
    future = world.chain.now() + 1000
    with reverts("TrustGovernanceInvalidCompromiseTime", future, 0):  # nothing declared yet
        a.governor.send(g.scheduleKeyCompromise(a.issuer.address, future, REASON))
    assert g.actCount().call() == 0


def test_execute_act_before_eta(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    eta = _scheduled(world, a.governor.send(g.scheduleLogOperatorReplacement(a.stranger.address)), 1,
                     REPLACE_LOG_OPERATOR, account=a.stranger.address)
    with reverts("TrustGovernanceActNotReady", 1, eta):
        a.stranger.send(g.executeAct(1))
    world.chain.increase_time(ACT_DELAY - 60)
    with reverts("TrustGovernanceActNotReady", 1, eta):
        a.governor.send(g.executeAct(1))
    assert g.act(1).call()[1] == PENDING
    assert world.d.review_log.functions.logOperator().call() == a.operator.address


def test_replace_log_operator_at_eta_by_a_stranger(world: World) -> None:
    """Executable from ``eta`` on (not one second earlier), by anyone; then only the new operator anchors."""
    a = world.actors
    g = world.d.governance.functions
    log = world.d.review_log.functions
    new = funded(world, "new-operator")
    eta = _scheduled(world, a.governor.send(g.scheduleLogOperatorReplacement(new.address)), 1,
                     REPLACE_LOG_OPERATOR, account=new.address)
    assert mine_at(world, eta - 1, a.stranger, g.executeAct(1))["status"] == 0  # same call, one second early
    assert g.act(1).call()[1] == PENDING
    assert log.logOperator().call() == a.operator.address

    receipt = mine_at(world, eta, a.stranger, g.executeAct(1))
    assert receipt["status"] == 1
    assert decoded_logs(world, receipt) == [
        ("governance", "ActExecuted", {"actId": 1, "kind": REPLACE_LOG_OPERATOR}),
        ("review_log", "LogOperatorSet", {"previous": a.operator.address, "current": new.address, "actId": 1}),
    ]
    assert g.act(1).call()[1] == EXECUTED
    assert log.logOperator().call() == new.address

    with reverts("ReviewLogUnauthorized", a.operator.address):
        a.operator.send(log.appendCheckpoint(5, ROOT, []))
    receipt = new.send(log.appendCheckpoint(5, ROOT, []))
    ts = block_time(world, receipt)
    assert decoded_logs(world, receipt) == [
        ("review_log", "CheckpointAnchored", {"index": 0, "size": 5, "root": ROOT, "timestamp": ts}),
    ]
    assert log.checkpointCount().call() == 1
    assert tuple(log.latestCheckpoint().call())[:2] == (ROOT, 5)


def test_certificate_revocation_act(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    _, cid = issue_certificate(world, "to-revoke")
    assert world.d.registry.functions.status(cid).call() == [VALID, True]
    _scheduled(world, a.governor.send(g.scheduleCertificateRevocation(cid, REASON)), 1, REVOKE_CERTIFICATE,
               ref=cid, reason=REASON)
    assert world.d.registry.functions.status(cid).call() == [VALID, True]
    world.chain.increase_time(ACT_DELAY + 1)
    receipt = a.stranger.send(g.executeAct(1))
    assert decoded_logs(world, receipt) == [
        ("governance", "ActExecuted", {"actId": 1, "kind": REVOKE_CERTIFICATE}),
        ("registry", "CertificateRevoked",
         {"id": cid, "revokedBy": world.d.governance.address, "reasonCode": REASON, "actId": 1}),
    ]
    assert world.d.registry.functions.status(cid).call() == [REVOKED, True]
    assert world.d.registry.functions.certificateState(cid).call()[3] == block_time(world, receipt)
    assert g.act(1).call()[1] == EXECUTED


def test_revocation_act_of_an_unknown_certificate_stays_pending(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    cid = keccak(text="no such certificate")
    a.governor.send(g.scheduleCertificateRevocation(cid, REASON))
    world.chain.increase_time(ACT_DELAY + 1)
    with reverts("CertificateRegistryUnknownCertificate", cid):  # the registry's error comes through
        a.stranger.send(g.executeAct(1))
    assert g.act(1).call()[1] == PENDING
    receipt = a.governor.send(g.cancelAct(1))
    assert decoded_logs(world, receipt) == [("governance", "ActCancelled", {"actId": 1, "kind": REVOKE_CERTIFICATE})]


def test_key_compromise_act(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    _, cid = issue_certificate(world, "before-compromise-act")
    t = world.chain.now() - 1
    a.governor.send(g.scheduleKeyCompromise(a.issuer.address, t, REASON))
    assert g.accreditation(a.issuer.address).call()[3] == 0
    world.chain.increase_time(ACT_DELAY + 1)
    receipt = a.stranger.send(g.executeAct(1))
    logs = decoded_logs(world, receipt)
    assert [(c, n) for c, n, _ in logs] == [("governance", "ActExecuted"), ("governance", "IssuerKeyCompromised")]
    assert logs[0][2] == {"actId": 1, "kind": DECLARE_KEY_COMPROMISE}
    assert {k: v for k, v in logs[1][2].items() if k != "declaredBy"} == {"issuer": a.issuer.address,
                                                                          "compromisedAt": t}
    assert g.accreditation(a.issuer.address).call()[3] == t
    assert world.d.registry.functions.status(cid).call() == [COMPROMISED, False]
    assert g.act(1).call()[1] == EXECUTED


def test_key_compromise_act_is_declared_by_governance(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    a.governor.send(g.scheduleKeyCompromise(a.issuer.address, world.chain.now() - 1, REASON))
    world.chain.increase_time(ACT_DELAY + 1)
    receipt = a.stranger.send(g.executeAct(1))
    declared = [args for _, name, args in decoded_logs(world, receipt) if name == "IssuerKeyCompromised"]
    assert len(declared) == 1
    assert declared[0]["declaredBy"] == world.d.governance.address


def test_key_compromise_act_is_stuck_when_a_earlier_time_was_declared(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    now = world.chain.now()
    a.governor.send(g.scheduleKeyCompromise(a.issuer.address, now - 10, REASON))
    a.issuer.send(g.declareKeyCompromised(now - 100))  # the issuer declared an earlier time meanwhile
    world.chain.increase_time(ACT_DELAY + 1)
    with reverts("TrustGovernanceInvalidCompromiseTime", now - 10, now - 100):
        a.stranger.send(g.executeAct(1))
    assert g.act(1).call()[1] == PENDING
    assert g.accreditation(a.issuer.address).call()[3] == now - 100


def test_execute_act_twice(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    a.governor.send(g.scheduleLogOperatorReplacement(a.stranger.address))
    world.chain.increase_time(ACT_DELAY + 1)
    a.stranger.send(g.executeAct(1))
    with reverts("TrustGovernanceActNotPending", 1):
        a.stranger.send(g.executeAct(1))
    with reverts("TrustGovernanceActNotPending", 1):
        a.governor.send(g.cancelAct(1))
    assert g.act(1).call()[1] == EXECUTED


def test_cancel_act(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    a.governor.send(g.scheduleLogOperatorReplacement(a.stranger.address))
    with reverts("TrustGovernanceUnauthorized", a.stranger.address, GOVERNOR_ROLE):
        a.stranger.send(g.cancelAct(1))
    with reverts("TrustGovernanceUnauthorized", a.admin.address, GOVERNOR_ROLE):
        a.admin.send(g.cancelAct(1))
    receipt = a.governor.send(g.cancelAct(1))
    assert decoded_logs(world, receipt) == [("governance", "ActCancelled", {"actId": 1, "kind": REPLACE_LOG_OPERATOR})]
    assert g.act(1).call()[1] == CANCELLED
    world.chain.increase_time(ACT_DELAY + 1)
    with reverts("TrustGovernanceActNotPending", 1):
        a.stranger.send(g.executeAct(1))
    with reverts("TrustGovernanceActNotPending", 1):
        a.governor.send(g.cancelAct(1))
    assert world.d.review_log.functions.logOperator().call() == a.operator.address
    assert g.actCount().call() == 1


@pytest.mark.parametrize(("act_id", "scheduled"), [(0, 1), (1, 0), (2, 1), (2**256 - 1, 1)],
                         ids=["zero", "first-none-scheduled", "next", "max"])
def test_unknown_act(world: World, act_id: int, scheduled: int) -> None:
    a = world.actors
    g = world.d.governance.functions
    for _ in range(scheduled):
        a.governor.send(g.scheduleLogOperatorReplacement(a.stranger.address))
    assert g.actCount().call() == scheduled
    with reverts("TrustGovernanceActNotPending", act_id):
        a.stranger.send(g.executeAct(act_id))
    with reverts("TrustGovernanceActNotPending", act_id):
        a.governor.send(g.cancelAct(act_id))
    assert g.act(act_id).call() == (0, 0, 0, 0, ZERO_ADDRESS, ZERO32, ZERO32)


@pytest.mark.parametrize("who", ["stranger", "governor", "admin", "operator", "relayer"])
def test_governance_only_entry_points_refuse_direct_callers(world: World, who: str) -> None:
    actor = world.actors.by_name[who]
    _, cid = issue_certificate(world, "governance-only")
    with reverts("ReviewLogNotGovernance", actor.address):
        actor.send(world.d.review_log.functions.setLogOperator(actor.address, 1))
    with reverts("CertificateRegistryNotGovernance", actor.address):
        actor.send(world.d.registry.functions.revokeByGovernance(cid, REASON, 1))
    assert world.d.review_log.functions.logOperator().call() == world.actors.operator.address


# ---------------------------------------------------------------- default admin (AccessControlDefaultAdminRules)


def test_default_admin_transfer_is_delayed(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    new = funded(world, "new-admin")
    receipt = a.admin.send(g.beginDefaultAdminTransfer(new.address))
    schedule = block_time(world, receipt) + ADMIN_DELAY
    assert decoded_logs(world, receipt) == [
        ("governance", "DefaultAdminTransferScheduled", {"newAdmin": new.address, "acceptSchedule": schedule}),
    ]
    assert g.pendingDefaultAdmin().call() == [new.address, schedule]
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule):
        new.send(g.acceptDefaultAdminTransfer())
    with reverts("AccessControlInvalidDefaultAdmin", a.stranger.address):
        a.stranger.send(g.acceptDefaultAdminTransfer())
    # OpenZeppelin: accepted strictly after the schedule.
    assert mine_at(world, schedule, new, g.acceptDefaultAdminTransfer())["status"] == 0
    assert g.defaultAdmin().call() == a.admin.address

    receipt = mine_at(world, schedule + 1, new, g.acceptDefaultAdminTransfer())
    assert receipt["status"] == 1
    assert decoded_logs(world, receipt) == [
        ("governance", "RoleRevoked", {"role": DEFAULT_ADMIN_ROLE, "account": a.admin.address, "sender": new.address}),
        ("governance", "RoleGranted", {"role": DEFAULT_ADMIN_ROLE, "account": new.address, "sender": new.address}),
    ]
    assert g.defaultAdmin().call() == new.address
    assert g.hasRole(DEFAULT_ADMIN_ROLE, a.admin.address).call() is False
    assert g.pendingDefaultAdmin().call() == [ZERO_ADDRESS, 0]
    with reverts("AccessControlUnauthorizedAccount", a.admin.address, DEFAULT_ADMIN_ROLE):
        a.admin.send(g.grantRole(GOVERNOR_ROLE, a.stranger.address))
    receipt = new.send(g.grantRole(GOVERNOR_ROLE, a.stranger.address))
    assert decoded_logs(world, receipt) == [
        ("governance", "RoleGranted", {"role": GOVERNOR_ROLE, "account": a.stranger.address, "sender": new.address}),
    ]


def test_default_admin_role_cannot_be_granted_or_revoked_directly(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        a.admin.send(g.grantRole(DEFAULT_ADMIN_ROLE, a.stranger.address))
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        a.admin.send(g.revokeRole(DEFAULT_ADMIN_ROLE, a.admin.address))
    assert g.hasRole(DEFAULT_ADMIN_ROLE, a.stranger.address).call() is False
    assert g.defaultAdmin().call() == a.admin.address


def test_admin_grants_and_revokes_the_governor_role(world: World) -> None:
    a = world.actors
    g = world.d.governance.functions
    x = addr("merchant-x")
    a.admin.send(g.grantRole(GOVERNOR_ROLE, a.stranger.address))
    receipt = a.stranger.send(g.admitMerchant(x, LICENCE))
    assert decoded_logs(world, receipt) == [("governance", "MerchantAdmitted", {"merchant": x, "licenceHash": LICENCE})]
    receipt = a.admin.send(g.revokeRole(GOVERNOR_ROLE, a.governor.address))
    assert decoded_logs(world, receipt) == [
        ("governance", "RoleRevoked", {"role": GOVERNOR_ROLE, "account": a.governor.address, "sender": a.admin.address}),
    ]
    with reverts("TrustGovernanceUnauthorized", a.governor.address, GOVERNOR_ROLE):
        a.governor.send(g.admitMerchant(addr("merchant-y"), LICENCE))
