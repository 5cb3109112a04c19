"""CertificateRegistry: issue, batch issue, anchoring with an issuer's EIP-712 offer, revoke, supersede,
revocation by governance, and the status / statusAt timeline (expiry, key compromise, precedence).

Runs unchanged on py-evm, Hardhat and Anvil. Two facts about these chains shape the time-sensitive tests:

* The next block's time is not "now + 1". Hardhat and Anvil may mine a block with its parent's timestamp;
  py-evm, and Hardhat after a snapshot revert, stamp it with the wall clock, which runs ahead of the chain
  once the world fixture has reverted to a snapshot taken earlier in the session. So a test either reads
  the block time from the receipt, or pins it: :func:`advance` mines an empty block exactly N seconds
  after the latest one, and :func:`send_at` mines a write in a block at an exact time.
* ``Transactor.send`` simulates a write at the latest block's time before sending it. A revert test
  therefore puts the latest block past the boundary already (``deadline = now`` then
  ``advance(world, 1)``), and a write that is only valid at the boundary second (``issuedAt`` equal to the
  block time, an act at its eta) goes through :func:`send_at`, which does not simulate.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eth_keys import keys
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from ledger.chain import Transactor, _raise_named
from ledger.eip712 import Certificate, certificate_id, sign_certificate_offer, sign_forward_request
from ledger.errors import UnknownRevert

from ..conftest import ACT_DELAY, OTHER_STANDARD, STANDARD, World, reverts

pytestmark = pytest.mark.chain

# ICertificateRegistry.CertificateKind
CERTIFICATE, SPOT_CHECK_PASS, SPOT_CHECK_FAIL = 0, 1, 2
# ICertificateRegistry.CertificateStatus
UNKNOWN, VALID, REVOKED, EXPIRED, SUPERSEDED, FAILED, COMPROMISED = range(7)
# ITrustGovernance.SanctionKind / ActKind / ActState
WARNING, SUSPENSION, BAN = 0, 1, 2
ACT_REVOKE_CERTIFICATE, ACT_DECLARE_KEY_COMPROMISE = 2, 3
ACT_PENDING, ACT_EXECUTED, ACT_CANCELLED = 1, 2, 3

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT40_MAX = 2**40 - 1
UINT256_MAX = 2**256 - 1
DAY = 24 * 3600
REASON = keccak(text="reason:test")
RULING = keccak(text="ruling:test")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


# ---------------------------------------------------------------------------------------------- helpers


def make_cert(world: World, tag: str, *, issuer: Transactor | None = None, merchant: str | None = None,
              kind: int = CERTIFICATE, standard: bytes = STANDARD, issued_at: int | None = None,
              valid_until: int | None = None, lot: bytes | None = None) -> Certificate:
    """A distinct record (``tag`` names the product); by default issuer, merchant, STANDARD, issued a minute
    ago and valid for 30 days."""
    a = world.actors
    now = world.chain.now()
    return Certificate(
        product_id=keccak(text=f"gtin:{tag}"),
        lot=lot if lot is not None else keccak(text=f"lot:{tag}"),
        merchant=merchant if merchant is not None else a.merchant.address,
        issuer=(issuer or a.issuer).address,
        kind=kind,
        document_hash=keccak(text=f"doc:{tag}"),
        standard=standard,
        issued_at=issued_at if issued_at is not None else now - 60,
        valid_until=valid_until if valid_until is not None else now + 30 * DAY,
    )


def fn(world: World) -> Any:
    return world.d.registry.functions


def gov(world: World) -> Any:
    return world.d.governance.functions


def issue(world: World, c: Certificate, by: Transactor | None = None) -> Any:
    by = by or getattr(world.actors, "issuer" if c.issuer == world.actors.issuer.address else "issuer2")
    return by.send(fn(world).issue(c.as_tuple()))


def state(world: World, cid: bytes) -> tuple[int, ...]:
    """(issuerId, anchoredAt, validUntil, revokedAt, supersededAt, kind, revokedByGovernance)."""
    return tuple(fn(world).certificateState(cid).call())


def status(world: World, cid: bytes) -> tuple[int, bool]:
    return tuple(fn(world).status(cid).call())  # type: ignore[return-value]


def status_at(world: World, cid: bytes, t: int) -> tuple[int, bool]:
    return tuple(fn(world).statusAt(cid, t).call())  # type: ignore[return-value]


def block_time(world: World, receipt: Any) -> int:
    return int(world.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def issuer_id(world: World, who: Transactor) -> int:
    return int(gov(world).accreditation(who.address).call()[0])


def events(contract: Any, name: str, receipt: Any) -> list[Any]:
    """Logs of event ``name`` emitted by ``contract`` itself in ``receipt``."""
    found = getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
    return [e for e in found if e.address == contract.address]


def issued_args(c: Certificate, anchored_by: str) -> dict[str, Any]:
    """The exact arguments of the CertificateIssued event for record ``c``."""
    return {
        "id": certificate_id(c),
        "productId": c.product_id,
        "merchant": c.merchant,
        "issuer": c.issuer,
        "lot": c.lot,
        "kind": c.kind,
        "documentHash": c.document_hash,
        "standard": c.standard,
        "issuedAt": c.issued_at,
        "validUntil": c.valid_until,
        "anchoredBy": anchored_by,
    }


def assert_issued(world: World, receipt: Any, certs: list[Certificate], anchored_by: str) -> None:
    """The receipt carries exactly one CertificateIssued per record, in order, with every field, and each
    record's slot holds what the chain must store for it."""
    logs = events(world.d.registry, "CertificateIssued", receipt)
    assert [dict(e.args) for e in logs] == [issued_args(c, anchored_by) for c in certs]
    t = block_time(world, receipt)
    for c in certs:
        iid = issuer_id(world, world.actors.issuer if c.issuer == world.actors.issuer.address
                        else world.actors.issuer2)
        assert state(world, certificate_id(c)) == (iid, t, c.valid_until, 0, 0, c.kind, False)


def assert_not_recorded(world: World, *certs: Certificate) -> None:
    for c in certs:
        assert state(world, certificate_id(c)) == (0, 0, 0, 0, 0, 0, False)
        assert status(world, certificate_id(c)) == (UNKNOWN, False)


def offer(world: World, c: Certificate, *, nonce: int, deadline: int | None = None,
          signer: Transactor | None = None, chain_id: int | None = None, registry: str | None = None) -> bytes:
    """The issuer's EIP-712 offer for ``c`` (by default: signed by the record's issuer, for this chain and
    this registry, deadline in ten days)."""
    if signer is None:
        signer = world.actors.issuer if c.issuer == world.actors.issuer.address else world.actors.issuer2
    return sign_certificate_offer(
        signer.account.key, c, nonce=nonce,
        deadline=deadline if deadline is not None else world.chain.now() + 10 * DAY,
        chain_id=chain_id if chain_id is not None else world.d.chain_id,
        registry=registry if registry is not None else world.d.registry.address,
    )


def advance(world: World, seconds: int) -> None:
    """Mine one block exactly ``seconds`` after the latest one.

    On py-evm not through ``DevChain.increase_time``, which never aims below the pending block's
    wall-clock time (so it may move further than asked); the backend's own ``time_travel(t)`` mines a
    block at ``t - 1`` whatever the pending block's time.
    """
    assert seconds >= 1
    target = world.chain.now() + seconds
    if world.chain.kind == "eth-tester":
        world.chain.tester.backend.time_travel(target + 1)  # type: ignore[attr-defined]
    else:
        world.chain.increase_time(seconds)
    assert world.chain.now() == target


def set_next_block_time(world: World, t: int) -> None:
    """Make the next mined block carry timestamp ``t`` exactly; ``t`` must be after the latest block.

    Hardhat and Anvil: ``evm_setNextBlockTimestamp``. py-evm: set the timestamp of the pending header,
    the block the next transaction is mined into.
    """
    assert t > world.chain.now()
    if world.chain.kind == "eth-tester":
        backend = world.chain.tester.backend  # type: ignore[attr-defined]
        backend.chain.header = backend.chain.header.copy(timestamp=t)
    else:
        world.w3.provider.make_request("evm_setNextBlockTimestamp", [t])  # type: ignore[arg-type]


def send_at(world: World, actor: Transactor, call: Any, t: int, *, gas: int = 1_500_000) -> Any:
    """Mine ``call`` from ``actor`` in a block at exactly time ``t`` and return its (successful) receipt.

    Not simulated first: a simulation runs at the latest block's time, before ``t``, where a write that
    is valid only from ``t`` on (an act at its eta, ``issuedAt == t``) would revert.
    """
    set_next_block_time(world, t)
    receipt = send_unsimulated(world, actor, call, gas=gas)
    assert block_time(world, receipt) == t
    return receipt


def send_unsimulated(world: World, actor: Transactor, call: Any, *, gas: int = 1_500_000) -> Any:
    """Sign and send ``call`` with a fixed gas limit, no simulation or estimate; return its (successful)
    receipt. Used where the time a simulation runs at is not the block's, and to keep the property test
    fast (gas estimation is most of a write's cost on py-evm)."""
    w3 = world.w3
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tx = call.build_transaction({
        "from": actor.address, "gas": gas, "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(actor.address, "pending"),
        "maxPriorityFeePerGas": 1, "maxFeePerGas": 2 * base_fee + 1,
    })
    tx_hash = w3.eth.send_raw_transaction(actor.account.sign_transaction(tx).raw_transaction)
    world.actors.reset_nonces()  # the actor's Transactor caches its next nonce
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.002)
    assert receipt["status"] == 1
    return receipt


def schedule(world: World, call: Any) -> tuple[int, int, Any]:
    """Send a governance schedule call as the governor; (actId, eta, receipt)."""
    r = world.actors.governor.send(call)
    (ev,) = events(world.d.governance, "ActScheduled", r)
    assert ev.args.eta == block_time(world, r) + ACT_DELAY
    return int(ev.args.actId), int(ev.args.eta), r


def raw_call(world: World, sender: str, to: str, data: bytes) -> Any:
    """eth_call with raw calldata; raise the named error it reverts with."""
    try:
        return world.w3.eth.call({"from": sender, "to": to, "data": data})
    except Exception as exc:
        _raise_named(exc)
        raise


# ---------------------------------------------------------------------------------------------- issue


def test_issue_records_slot_event_and_id(world: World) -> None:
    a = world.actors
    c = make_cert(world, "issue-happy", kind=SPOT_CHECK_PASS)
    cid = certificate_id(c)
    assert fn(world).certificateId(c.as_tuple()).call() == cid
    assert a.issuer.simulate(fn(world).issue(c.as_tuple())) == cid
    r = issue(world, c)
    (ev,) = events(world.d.registry, "CertificateIssued", r)
    assert dict(ev.args) == issued_args(c, a.issuer.address)
    assert events(world.d.registry, "NonceUsed", r) == []
    t = block_time(world, r)
    assert issuer_id(world, a.issuer) == 1
    assert state(world, cid) == (1, t, c.valid_until, 0, 0, SPOT_CHECK_PASS, False)
    assert status(world, cid) == (VALID, True)


def test_certificate_id_binds_every_field(world: World) -> None:
    """Changing any one field of the record gives a different id, on chain and in Python alike."""
    c = make_cert(world, "id-binding")
    variants = [
        dataclasses.replace(c, product_id=keccak(text="other")),
        dataclasses.replace(c, lot=keccak(text="other")),
        dataclasses.replace(c, merchant=world.actors.merchant2.address),
        dataclasses.replace(c, issuer=world.actors.issuer2.address),
        dataclasses.replace(c, kind=SPOT_CHECK_FAIL),
        dataclasses.replace(c, document_hash=keccak(text="other")),
        dataclasses.replace(c, standard=OTHER_STANDARD),
        dataclasses.replace(c, issued_at=c.issued_at - 1),
        dataclasses.replace(c, valid_until=c.valid_until + 1),
    ]
    ids = {certificate_id(c)}
    for v in variants:
        assert fn(world).certificateId(v.as_tuple()).call() == certificate_id(v)
        ids.add(certificate_id(v))
    assert len(ids) == 1 + len(variants)


def test_issue_kind_out_of_range_rejected(world: World) -> None:
    """CertificateKind has three values; the ABI decoder refuses a fourth (a bare revert, no error data)."""
    c = make_cert(world, "kind-3", kind=3)
    with pytest.raises(UnknownRevert) as info:
        issue(world, c)
    assert info.value.data == b""
    assert_not_recorded(world, c)


def test_issue_relayed_by_issuer(world: World) -> None:
    a = world.actors
    c = make_cert(world, "issue-relayed")
    r = world.relay(a.issuer, fn(world).issue(c.as_tuple()))
    assert r["from"] == a.relayer.address
    assert_issued(world, r, [c], a.issuer.address)


@pytest.mark.parametrize("caller", ["issuer2", "merchant", "stranger", "relayer", "governor", "admin"])
def test_issue_not_issuer_direct(world: World, caller: str) -> None:
    a = world.actors
    c = make_cert(world, f"not-issuer-{caller}")
    sender = getattr(a, caller)
    with reverts("CertificateRegistryNotIssuer", sender.address, a.issuer.address):
        sender.send(fn(world).issue(c.as_tuple()))
    assert_not_recorded(world, c)


@pytest.mark.parametrize("signer", ["stranger", "issuer2", "relayer"])
def test_issue_not_issuer_relayed(world: World, signer: str) -> None:
    a = world.actors
    c = make_cert(world, f"not-issuer-relayed-{signer}")
    s = getattr(a, signer)
    with reverts("CertificateRegistryNotIssuer", s.address, a.issuer.address):
        world.relay(s, fn(world).issue(c.as_tuple()))
    assert_not_recorded(world, c)


def test_relayer_cannot_forge_or_spoof_the_issuer(world: World) -> None:
    """The relayer can neither sign a forward request in the issuer's name nor append the issuer's address
    to calldata it sends itself (it is not the trusted forwarder)."""
    a = world.actors
    c = make_cert(world, "forged")
    call = fn(world).issue(c.as_tuple())
    data = bytes.fromhex(call._encode_transaction_data()[2:])
    forged = sign_forward_request(
        a.relayer.account.key, sender=a.issuer.address, to=world.d.registry.address, data=data,
        gas=2_000_000, nonce=world.d.forwarder.functions.nonces(a.issuer.address).call(),
        deadline=world.chain.now() + 10 * DAY, chain_id=world.d.chain_id, forwarder=world.d.forwarder.address,
    )
    with reverts("ERC2771ForwarderInvalidSigner", a.relayer.address, a.issuer.address):
        a.relayer.send(world.d.forwarder.functions.execute(forged))
    with reverts("CertificateRegistryNotIssuer", a.relayer.address, a.issuer.address):
        raw_call(world, a.relayer.address, world.d.registry.address,
                 data + bytes.fromhex(a.issuer.address[2:]))
    assert_not_recorded(world, c)


def test_issue_unknown_issuer(world: World) -> None:
    a = world.actors
    c = make_cert(world, "unknown-issuer", issuer=a.stranger)
    with reverts("CertificateRegistryIssuerNotAccredited", a.stranger.address, STANDARD):
        a.stranger.send(fn(world).issue(c.as_tuple()))
    assert_not_recorded(world, c)


def test_issue_suspended_issuer_then_restored(world: World) -> None:
    a = world.actors
    c = make_cert(world, "suspended-issuer")
    a.governor.send(gov(world).suspendIssuer(a.issuer.address, REASON))
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, c)
    assert_not_recorded(world, c)
    a.governor.send(gov(world).restoreIssuer(a.issuer.address))
    assert_issued(world, issue(world, c), [c], a.issuer.address)


def test_issue_standard_out_of_scope(world: World) -> None:
    a = world.actors
    c = make_cert(world, "out-of-scope", standard=OTHER_STANDARD)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, OTHER_STANDARD):
        issue(world, c)
    assert_not_recorded(world, c)
    # issuer2 has OTHER_STANDARD in scope; removing it from scope stops it too.
    c2 = make_cert(world, "in-scope", issuer=a.issuer2, standard=OTHER_STANDARD)
    assert_issued(world, issue(world, c2), [c2], a.issuer2.address)
    a.governor.send(gov(world).setIssuerScope(a.issuer2.address, OTHER_STANDARD, False))
    c3 = make_cert(world, "scope-removed", issuer=a.issuer2, standard=OTHER_STANDARD)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer2.address, OTHER_STANDARD):
        issue(world, c3)
    assert status(world, certificate_id(c2)) == (VALID, True)  # recorded certificates are untouched


def test_issue_issued_at_before_accreditation_window(world: World) -> None:
    a = world.actors
    early = make_cert(world, "before-window", issued_at=world.accredited_from - 1)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, early)
    assert_not_recorded(world, early)
    first_second = make_cert(world, "window-start", issued_at=world.accredited_from)
    assert_issued(world, issue(world, first_second), [first_second], a.issuer.address)


def test_issue_window_not_yet_open(world: World) -> None:
    """Re-accrediting with a window that starts in the future: no issuing until it opens."""
    a = world.actors
    now = world.chain.now()
    a.governor.send(gov(world).accreditIssuer(a.issuer.address, now + 10 * DAY, now + 100 * DAY, []))
    c = make_cert(world, "window-future", issued_at=now - 10)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, c)
    assert_not_recorded(world, c)


def test_issue_up_to_last_second_of_accreditation(world: World) -> None:
    """Accredited through validUntil inclusive; one second later, not accredited."""
    a = world.actors
    until = world.accredited_until
    c = make_cert(world, "window-last-second", valid_until=until + 10 * DAY)
    r = send_at(world, a.issuer, fn(world).issue(c.as_tuple()), until)
    assert_issued(world, r, [c], a.issuer.address)
    advance(world, 1)
    assert world.chain.now() == until + 1
    late = make_cert(world, "window-after", valid_until=until + 10 * DAY)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, late)
    assert_not_recorded(world, late)


def test_issue_after_key_compromise_declaration(world: World) -> None:
    a = world.actors
    before = make_cert(world, "before-compromise")
    issue(world, before)
    advance(world, 100)
    a.issuer.send(gov(world).declareKeyCompromised(world.chain.now() - 10))
    c = make_cert(world, "after-compromise")
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, c)
    assert_not_recorded(world, c)
    assert status(world, certificate_id(before)) == (VALID, True)


@pytest.mark.parametrize("who", ["stranger", "suspended", "banned"])
def test_issue_merchant_not_active(world: World, who: str) -> None:
    a = world.actors
    merchant = a.stranger.address if who == "stranger" else a.merchant.address
    if who != "stranger":
        r = a.governor.send(gov(world).sanctionMerchant(merchant, SUSPENSION if who == "suspended" else BAN,
                                                         REASON, RULING))
        (ev,) = events(world.d.governance, "MerchantSanctioned", r)
        assert ev.args.status == (2 if who == "suspended" else 3)
    c = make_cert(world, f"merchant-{who}", merchant=merchant)
    with reverts("CertificateRegistryMerchantNotActive", merchant):
        issue(world, c)
    assert_not_recorded(world, c)


def test_issue_merchant_warning_keeps_it_active_and_restore_reactivates(world: World) -> None:
    a = world.actors
    a.governor.send(gov(world).sanctionMerchant(a.merchant.address, WARNING, REASON, RULING))
    c1 = make_cert(world, "merchant-warned")
    assert_issued(world, issue(world, c1), [c1], a.issuer.address)
    a.governor.send(gov(world).sanctionMerchant(a.merchant.address, BAN, REASON, RULING))
    c2 = make_cert(world, "merchant-restored")
    with reverts("CertificateRegistryMerchantNotActive", a.merchant.address):
        issue(world, c2)
    a.governor.send(gov(world).restoreMerchant(a.merchant.address, REASON, RULING))
    assert_issued(world, issue(world, c2), [c2], a.issuer.address)
    # a sanction afterwards does not touch what is recorded
    a.governor.send(gov(world).sanctionMerchant(a.merchant.address, BAN, REASON, RULING))
    assert status(world, certificate_id(c2)) == (VALID, True)


def test_issue_issuer_standing_is_checked_before_merchant(world: World) -> None:
    a = world.actors
    c = make_cert(world, "both-bad", standard=OTHER_STANDARD, merchant=a.stranger.address)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, OTHER_STANDARD):
        issue(world, c)


def test_issue_in_future(world: World) -> None:
    now = world.chain.now()
    c = make_cert(world, "future", issued_at=now + 10 * DAY, valid_until=now + 20 * DAY)
    with reverts("CertificateRegistryIssuedInFuture", now + 10 * DAY):
        issue(world, c)
    # one second ahead of the block a call runs in (the latest block)
    c1 = make_cert(world, "future-1s", issued_at=now + 1, valid_until=now + DAY)
    with reverts("CertificateRegistryIssuedInFuture", now + 1):
        world.actors.issuer.simulate(fn(world).issue(c1.as_tuple()))
    assert_not_recorded(world, c, c1)


def test_issue_at_block_time_and_valid_until_block_time_accepted(world: World) -> None:
    """issuedAt == block time is not in the future; validUntil == block time is not yet past."""
    a = world.actors
    t = world.chain.now() + 50
    c = make_cert(world, "validity-boundary", issued_at=world.chain.now() - 10, valid_until=t)
    r = send_at(world, a.issuer, fn(world).issue(c.as_tuple()), t)
    assert_issued(world, r, [c], a.issuer.address)
    assert status_at(world, certificate_id(c), t) == (VALID, True)
    assert status_at(world, certificate_id(c), t + 1) == (EXPIRED, True)
    t2 = world.chain.now() + 50
    c2 = make_cert(world, "issued-now", issued_at=t2, valid_until=t2 + 1)
    r2 = send_at(world, a.issuer, fn(world).issue(c2.as_tuple()), t2)
    assert_issued(world, r2, [c2], a.issuer.address)


@pytest.mark.parametrize("delta", [0, -1, -1000])
def test_issue_valid_until_not_after_issued_at(world: World, delta: int) -> None:
    now = world.chain.now()
    c = make_cert(world, f"validity{delta}", issued_at=now - 10, valid_until=now - 10 + delta)
    with reverts("CertificateRegistryInvalidValidity", now - 10, now - 10 + delta):
        issue(world, c)
    assert_not_recorded(world, c)


def test_issue_valid_until_already_past(world: World) -> None:
    now = world.chain.now()
    c = make_cert(world, "already-past", issued_at=now - 100, valid_until=now - 1)
    with reverts("CertificateRegistryInvalidValidity", now - 100, now - 1):
        issue(world, c)
    assert_not_recorded(world, c)


def test_issue_same_record_twice(world: World) -> None:
    a = world.actors
    c = make_cert(world, "dup")
    cid = certificate_id(c)
    r = issue(world, c)
    before = state(world, cid)
    with reverts("CertificateRegistryAlreadyIssued", cid):
        issue(world, c)
    assert state(world, cid) == before == (1, block_time(world, r), c.valid_until, 0, 0, CERTIFICATE, False)
    # revoked, it still cannot be issued again
    a.issuer.send(fn(world).revoke(cid, REASON))
    with reverts("CertificateRegistryAlreadyIssued", cid):
        issue(world, c)


def test_issue_relayed_duplicate(world: World) -> None:
    a = world.actors
    c = make_cert(world, "dup-relayed")
    cid = certificate_id(c)
    world.relay(a.issuer, fn(world).issue(c.as_tuple()))
    nonce = world.d.forwarder.functions.nonces(a.issuer.address).call()
    with reverts("CertificateRegistryAlreadyIssued", cid):
        world.relay(a.issuer, fn(world).issue(c.as_tuple()))
    assert world.d.forwarder.functions.nonces(a.issuer.address).call() == nonce
    with reverts("CertificateRegistryAlreadyIssued", cid):
        issue(world, c)


# ---------------------------------------------------------------------------------------------- issueBatch


@pytest.mark.parametrize("n", [1, 10])
def test_issue_batch(world: World, n: int) -> None:
    a = world.actors
    certs = [make_cert(world, f"batch-{n}-{i}", kind=i % 3) for i in range(n)]
    call = fn(world).issueBatch([c.as_tuple() for c in certs])
    assert a.issuer.simulate(call) == [certificate_id(c) for c in certs]
    r = a.issuer.send(call)
    assert_issued(world, r, certs, a.issuer.address)


def test_issue_batch_relayed(world: World) -> None:
    a = world.actors
    certs = [make_cert(world, f"batch-relayed-{i}") for i in range(3)]
    r = world.relay(a.issuer, fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_issued(world, r, certs, a.issuer.address)


def test_issue_batch_empty(world: World) -> None:
    with reverts("CertificateRegistryEmptyBatch"):
        world.actors.issuer.send(fn(world).issueBatch([]))


@pytest.mark.parametrize("position", [0, 4, 9])
def test_issue_batch_one_wrong_issuer_reverts_all(world: World, position: int) -> None:
    a = world.actors
    certs = [make_cert(world, f"batch-wrong-{position}-{i}", issuer=a.issuer2 if i == position else a.issuer)
             for i in range(10)]
    with reverts("CertificateRegistryNotIssuer", a.issuer.address, a.issuer2.address):
        a.issuer.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_not_recorded(world, *certs)


def test_issue_batch_not_issuer_relayed(world: World) -> None:
    a = world.actors
    certs = [make_cert(world, f"batch-stranger-{i}") for i in range(2)]
    with reverts("CertificateRegistryNotIssuer", a.stranger.address, a.issuer.address):
        world.relay(a.stranger, fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_not_recorded(world, *certs)


def test_issue_batch_duplicate_inside(world: World) -> None:
    a = world.actors
    c0, c1 = make_cert(world, "batch-dup-0"), make_cert(world, "batch-dup-1")
    with reverts("CertificateRegistryAlreadyIssued", certificate_id(c1)):
        a.issuer.send(fn(world).issueBatch([c0.as_tuple(), c1.as_tuple(), c1.as_tuple()]))
    assert_not_recorded(world, c0, c1)


def test_issue_batch_duplicate_of_recorded(world: World) -> None:
    a = world.actors
    c0, c1 = make_cert(world, "batch-rec-0"), make_cert(world, "batch-rec-1")
    issue(world, c1)
    with reverts("CertificateRegistryAlreadyIssued", certificate_id(c1)):
        a.issuer.send(fn(world).issueBatch([c0.as_tuple(), c1.as_tuple()]))
    assert_not_recorded(world, c0)


def test_issue_batch_mixed_standards_and_merchants(world: World) -> None:
    a = world.actors
    now = world.chain.now()
    combos = [(STANDARD, a.merchant.address, now - 60), (STANDARD, a.merchant.address, now - 60),
              (OTHER_STANDARD, a.merchant.address, now - 60), (OTHER_STANDARD, a.merchant2.address, now - 60),
              (STANDARD, a.merchant2.address, now - 30), (STANDARD, a.merchant2.address, now - 20)]
    certs = [make_cert(world, f"batch-mixed-{i}", issuer=a.issuer2, standard=s, merchant=m, issued_at=t,
                       kind=i % 3) for i, (s, m, t) in enumerate(combos)]
    r = a.issuer2.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_issued(world, r, certs, a.issuer2.address)
    assert all(state(world, certificate_id(c))[0] == 2 for c in certs)


def test_issue_batch_out_of_scope_in_the_middle(world: World) -> None:
    a = world.actors
    certs = [make_cert(world, "batch-scope-0"), make_cert(world, "batch-scope-1"),
             make_cert(world, "batch-scope-2", standard=OTHER_STANDARD), make_cert(world, "batch-scope-3")]
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, OTHER_STANDARD):
        a.issuer.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_not_recorded(world, *certs)


def test_issue_batch_inactive_merchant_in_the_middle(world: World) -> None:
    a = world.actors
    a.governor.send(gov(world).sanctionMerchant(a.merchant2.address, SUSPENSION, REASON, RULING))
    certs = [make_cert(world, "batch-m-0"), make_cert(world, "batch-m-1", merchant=a.merchant2.address),
             make_cert(world, "batch-m-2")]
    with reverts("CertificateRegistryMerchantNotActive", a.merchant2.address):
        a.issuer.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_not_recorded(world, *certs)


def test_issue_batch_issued_at_before_window_in_the_middle(world: World) -> None:
    """Same standard and merchant, only issuedAt differs: standing must still be re-checked."""
    a = world.actors
    certs = [make_cert(world, "batch-t-0"), make_cert(world, "batch-t-1", issued_at=world.accredited_from - 1),
             make_cert(world, "batch-t-2")]
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        a.issuer.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    assert_not_recorded(world, *certs)


def test_issue_batch_bad_validity_or_future_in_the_middle(world: World) -> None:
    a = world.actors
    now = world.chain.now()
    bad = make_cert(world, "batch-v-1", issued_at=now - 60, valid_until=now - 1)
    certs = [make_cert(world, "batch-v-0"), bad, make_cert(world, "batch-v-2")]
    with reverts("CertificateRegistryInvalidValidity", now - 60, now - 1):
        a.issuer.send(fn(world).issueBatch([c.as_tuple() for c in certs]))
    future = make_cert(world, "batch-f-1", issued_at=now + 10 * DAY, valid_until=now + 20 * DAY)
    with reverts("CertificateRegistryIssuedInFuture", now + 10 * DAY):
        a.issuer.send(fn(world).issueBatch([certs[0].as_tuple(), future.as_tuple()]))
    assert_not_recorded(world, *certs, future)


# ---------------------------------------------------------------------------------------------- anchor


def test_anchor_happy_path(world: World) -> None:
    a = world.actors
    c = make_cert(world, "anchor-happy", kind=SPOT_CHECK_FAIL)
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=42, deadline=deadline)
    assert len(sig) == 65
    # the digest the contract checks is the one the Python signer signed
    digest = fn(world).offerDigest(c.as_tuple(), 42, deadline).call()
    recovered = keys.Signature(sig[:64] + bytes([sig[64] - 27])).recover_public_key_from_msg_hash(digest)
    assert recovered.to_checksum_address() == a.issuer.address
    assert not fn(world).isNonceUsed(a.issuer.address, 42).call()
    call = fn(world).anchor(c.as_tuple(), 42, deadline, sig)
    assert a.merchant.simulate(call) == certificate_id(c)
    r = a.merchant.send(call)
    assert_issued(world, r, [c], a.merchant.address)
    assert [dict(e.args) for e in events(world.d.registry, "NonceUsed", r)] == [
        {"issuer": a.issuer.address, "nonce": 42}]
    assert fn(world).isNonceUsed(a.issuer.address, 42).call()
    assert not fn(world).isNonceUsed(a.issuer.address, 41).call()
    assert not fn(world).isNonceUsed(a.issuer2.address, 42).call()
    assert status(world, certificate_id(c)) == (FAILED, True)
    # anchored or issued, the record is the same certificate: the issuer cannot record it again
    with reverts("CertificateRegistryAlreadyIssued", certificate_id(c)):
        issue(world, c)


def test_anchor_relayed_by_merchant(world: World) -> None:
    a = world.actors
    c = make_cert(world, "anchor-relayed", merchant=a.merchant2.address, issuer=a.issuer2)
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=1, deadline=deadline)
    r = world.relay(a.merchant2, fn(world).anchor(c.as_tuple(), 1, deadline, sig))
    assert_issued(world, r, [c], a.merchant2.address)
    assert [dict(e.args) for e in events(world.d.registry, "NonceUsed", r)] == [
        {"issuer": a.issuer2.address, "nonce": 1}]


@pytest.mark.parametrize("caller", ["stranger", "relayer", "issuer", "merchant2"])
def test_anchor_not_merchant(world: World, caller: str) -> None:
    a = world.actors
    c = make_cert(world, f"anchor-not-merchant-{caller}")
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=7, deadline=deadline)
    sender = getattr(a, caller)
    with reverts("CertificateRegistryNotMerchant", sender.address, a.merchant.address):
        sender.send(fn(world).anchor(c.as_tuple(), 7, deadline, sig))
    with reverts("CertificateRegistryNotMerchant", sender.address, a.merchant.address):
        world.relay(sender, fn(world).anchor(c.as_tuple(), 7, deadline, sig))
    assert_not_recorded(world, c)
    assert not fn(world).isNonceUsed(a.issuer.address, 7).call()


def test_anchor_same_signature_twice(world: World) -> None:
    a = world.actors
    c = make_cert(world, "anchor-replay")
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=3, deadline=deadline)
    a.merchant.send(fn(world).anchor(c.as_tuple(), 3, deadline, sig))
    with reverts("CertificateRegistryNonceUsed", a.issuer.address, 3):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 3, deadline, sig))
    with reverts("CertificateRegistryNonceUsed", a.issuer.address, 3):
        world.relay(a.merchant, fn(world).anchor(c.as_tuple(), 3, deadline, sig))
    # the same nonce for another record, freshly and correctly signed, is spent as well
    c2 = make_cert(world, "anchor-replay-2")
    sig2 = offer(world, c2, nonce=3, deadline=deadline)
    with reverts("CertificateRegistryNonceUsed", a.issuer.address, 3):
        a.merchant.send(fn(world).anchor(c2.as_tuple(), 3, deadline, sig2))
    assert_not_recorded(world, c2)


@pytest.mark.parametrize("attack", ["other-chain", "other-contract-forwarder", "other-contract-governance",
                                    "wrong-signer-issuer2", "wrong-signer-merchant", "other-record",
                                    "other-nonce", "other-deadline"])
def test_anchor_signature_not_the_issuers(world: World, attack: str) -> None:
    a = world.actors
    c = make_cert(world, f"anchor-{attack}")
    deadline = world.chain.now() + 10 * DAY
    nonce = 11
    kwargs: dict[str, Any] = {}
    signed, submitted_nonce, submitted_deadline = c, nonce, deadline
    if attack == "other-chain":
        kwargs["chain_id"] = world.d.chain_id + 1
    elif attack == "other-contract-forwarder":
        kwargs["registry"] = world.d.forwarder.address
    elif attack == "other-contract-governance":
        kwargs["registry"] = world.d.governance.address
    elif attack == "wrong-signer-issuer2":
        kwargs["signer"] = a.issuer2
    elif attack == "wrong-signer-merchant":
        kwargs["signer"] = a.merchant
    elif attack == "other-record":
        signed = dataclasses.replace(c, document_hash=keccak(text="the document the issuer really signed"))
    elif attack == "other-nonce":
        submitted_nonce = nonce + 1
    elif attack == "other-deadline":
        submitted_deadline = deadline + 1
    sig = offer(world, signed, nonce=nonce, deadline=deadline, **kwargs)
    with reverts("CertificateRegistryInvalidSignature", a.issuer.address):
        a.merchant.send(fn(world).anchor(c.as_tuple(), submitted_nonce, submitted_deadline, sig))
    assert_not_recorded(world, c)
    assert not fn(world).isNonceUsed(a.issuer.address, submitted_nonce).call()
    # the genuine offer still works afterwards
    good = offer(world, c, nonce=nonce, deadline=deadline)
    assert_issued(world, a.merchant.send(fn(world).anchor(c.as_tuple(), nonce, deadline, good)), [c],
                  a.merchant.address)


def _malformed(sig: bytes, kind: str) -> bytes:
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    if kind == "high-s":
        assert s <= SECP256K1_N // 2
        return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    if kind == "truncated-64":
        return sig[:64]
    if kind == "compact-eip2098":
        return r + (s | ((v - 27) << 255)).to_bytes(32, "big")
    if kind == "v-0-or-1":
        return sig[:64] + bytes([v - 27])
    if kind == "extra-byte":
        return sig + b"\x00"
    if kind == "empty":
        return b""
    if kind == "zeros":
        return bytes(65)
    if kind == "garbage":
        return keccak(text="garbage-r") + keccak(text="garbage-s") + b"\x1b"
    if kind == "short":
        return sig[:20]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["high-s", "truncated-64", "compact-eip2098", "v-0-or-1", "extra-byte",
                                  "empty", "zeros", "garbage", "short"])
def test_anchor_malformed_signature(world: World, kind: str) -> None:
    a = world.actors
    c = make_cert(world, f"anchor-malformed-{kind}")
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=9, deadline=deadline)
    bad = _malformed(sig, kind)
    if kind == "high-s":
        # the malleated signature is a genuine (high-s) signature of the issuer over the same digest
        digest = fn(world).offerDigest(c.as_tuple(), 9, deadline).call()
        alt = keys.Signature(vrs=(bad[64] - 27, int.from_bytes(bad[:32], "big"), int.from_bytes(bad[32:64], "big")))
        assert alt.recover_public_key_from_msg_hash(digest).to_checksum_address() == a.issuer.address
    with reverts("CertificateRegistryInvalidSignature", a.issuer.address):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 9, deadline, bad))
    assert_not_recorded(world, c)
    assert not fn(world).isNonceUsed(a.issuer.address, 9).call()


def test_anchor_zero_issuer_with_garbage_signature(world: World) -> None:
    """ecrecover returns the zero address for some garbage; the zero issuer must never match it."""
    a = world.actors
    c = dataclasses.replace(make_cert(world, "anchor-zero-issuer"), issuer=ZERO_ADDRESS)
    deadline = world.chain.now() + 10 * DAY
    for bad in (bytes(65), bytes(64) + b"\x1b", b""):
        with reverts("CertificateRegistryInvalidSignature", ZERO_ADDRESS):
            a.merchant.send(fn(world).anchor(c.as_tuple(), 1, deadline, bad))


def test_anchor_past_deadline(world: World) -> None:
    a = world.actors
    c = make_cert(world, "anchor-expired")
    deadline = world.chain.now()
    sig = offer(world, c, nonce=2, deadline=deadline)
    advance(world, 1)  # every block from now on, including the simulation's, is > deadline
    assert world.chain.now() == deadline + 1
    with reverts("CertificateRegistryExpiredSignature", deadline):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 2, deadline, sig))
    old = world.chain.now() - 10 * DAY
    sig_old = offer(world, c, nonce=2, deadline=old)
    with reverts("CertificateRegistryExpiredSignature", old):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 2, old, sig_old))
    assert_not_recorded(world, c)


def test_anchor_exactly_at_deadline(world: World) -> None:
    """The deadline second is allowed: pin the including block's time to the deadline and check it."""
    a = world.actors
    c = make_cert(world, "anchor-at-deadline")
    deadline = world.chain.now() + 100
    sig = offer(world, c, nonce=4, deadline=deadline)
    r = send_at(world, a.merchant, fn(world).anchor(c.as_tuple(), 4, deadline, sig), deadline)
    assert_issued(world, r, [c], a.merchant.address)


def test_anchor_cancelled_nonce(world: World) -> None:
    a = world.actors
    c = make_cert(world, "anchor-cancelled")
    deadline = world.chain.now() + 10 * DAY
    sig = offer(world, c, nonce=7, deadline=deadline)
    mask = (1 << 7) | (1 << 200)
    r = a.issuer.send(fn(world).cancelNonces(0, mask))
    (ev,) = events(world.d.registry, "NoncesCancelled", r)
    assert dict(ev.args) == {"issuer": a.issuer.address, "wordPos": 0, "mask": mask}
    assert [fn(world).isNonceUsed(a.issuer.address, n).call() for n in (6, 7, 8, 200, 256 + 7)] == \
        [False, True, False, True, False]
    with reverts("CertificateRegistryNonceUsed", a.issuer.address, 7):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 7, deadline, sig))
    assert_not_recorded(world, c)
    # cancelling is the caller's own bitmap: a stranger cannot cancel the issuer's nonces
    r = a.stranger.send(fn(world).cancelNonces(0, 1 << 8))
    (ev,) = events(world.d.registry, "NoncesCancelled", r)
    assert dict(ev.args) == {"issuer": a.stranger.address, "wordPos": 0, "mask": 1 << 8}
    assert not fn(world).isNonceUsed(a.issuer.address, 8).call()
    # relayed, the cancellation is the signer's
    r = world.relay(a.issuer, fn(world).cancelNonces(3, 1 << 5))
    (ev,) = events(world.d.registry, "NoncesCancelled", r)
    assert dict(ev.args) == {"issuer": a.issuer.address, "wordPos": 3, "mask": 1 << 5}
    assert fn(world).isNonceUsed(a.issuer.address, 3 * 256 + 5).call()
    assert not fn(world).isNonceUsed(a.relayer.address, 3 * 256 + 5).call()
    sig8 = offer(world, c, nonce=8, deadline=deadline)
    assert_issued(world, a.merchant.send(fn(world).anchor(c.as_tuple(), 8, deadline, sig8)), [c],
                  a.merchant.address)


def test_anchor_unordered_nonces(world: World) -> None:
    a = world.actors
    deadline = world.chain.now() + 10 * DAY
    for n in (5, 1, UINT256_MAX):
        c = make_cert(world, f"anchor-unordered-{n}")
        r = a.merchant.send(fn(world).anchor(c.as_tuple(), n, deadline, offer(world, c, nonce=n, deadline=deadline)))
        assert [dict(e.args) for e in events(world.d.registry, "NonceUsed", r)] == [
            {"issuer": a.issuer.address, "nonce": n}]
        assert status(world, certificate_id(c)) == (VALID, True)
    assert [fn(world).isNonceUsed(a.issuer.address, n).call() for n in (0, 1, 2, 4, 5, 6, UINT256_MAX)] == \
        [False, True, False, False, True, False, True]


def test_anchor_nonces_255_and_256_in_different_words(world: World) -> None:
    a = world.actors
    deadline = world.chain.now() + 10 * DAY
    c255, c256 = make_cert(world, "anchor-255"), make_cert(world, "anchor-256")
    a.merchant.send(fn(world).anchor(c255.as_tuple(), 255, deadline, offer(world, c255, nonce=255,
                                                                            deadline=deadline)))
    assert fn(world).isNonceUsed(a.issuer.address, 255).call()
    assert not fn(world).isNonceUsed(a.issuer.address, 256).call()
    # cancelling all of word 0 leaves 256 (word 1, bit 0) usable ...
    a.issuer.send(fn(world).cancelNonces(0, UINT256_MAX))
    assert not fn(world).isNonceUsed(a.issuer.address, 256).call()
    sig256 = offer(world, c256, nonce=256, deadline=deadline)
    a.merchant.send(fn(world).anchor(c256.as_tuple(), 256, deadline, sig256))
    assert [fn(world).isNonceUsed(a.issuer.address, n).call() for n in (0, 254, 255, 256, 257, 512)] == \
        [True, True, True, True, False, False]
    # ... and cancelling word 1, bit 1 spends 257 and nothing in word 0 or 2
    a.issuer.send(fn(world).cancelNonces(1, 1 << 1))
    assert [fn(world).isNonceUsed(a.issuer.address, n).call() for n in (257, 258, 513)] == [True, False, False]


def test_anchor_standing_checked_at_anchoring(world: World) -> None:
    """A signed offer does not outlive the issuer's accreditation or the merchant's admission."""
    a = world.actors
    deadline = world.chain.now() + 10 * DAY
    c = make_cert(world, "anchor-standing")
    sig = offer(world, c, nonce=1, deadline=deadline)
    a.governor.send(gov(world).suspendIssuer(a.issuer.address, REASON))
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 1, deadline, sig))
    a.governor.send(gov(world).restoreIssuer(a.issuer.address))
    a.governor.send(gov(world).sanctionMerchant(a.merchant.address, SUSPENSION, REASON, RULING))
    with reverts("CertificateRegistryMerchantNotActive", a.merchant.address):
        a.merchant.send(fn(world).anchor(c.as_tuple(), 1, deadline, sig))
    assert not fn(world).isNonceUsed(a.issuer.address, 1).call()
    assert_not_recorded(world, c)


# ---------------------------------------------------------------------------------------------- revoke


def test_revoke_by_issuer_is_permanent(world: World) -> None:
    a = world.actors
    c = make_cert(world, "revoke")
    cid = certificate_id(c)
    issue(world, c)
    advance(world, 10)
    r = a.issuer.send(fn(world).revoke(cid, REASON))
    (ev,) = events(world.d.registry, "CertificateRevoked", r)
    assert dict(ev.args) == {"id": cid, "revokedBy": a.issuer.address, "reasonCode": REASON, "actId": 0}
    t = block_time(world, r)
    assert state(world, cid)[3] == t
    assert status(world, cid) == (REVOKED, True)
    with reverts("CertificateRegistryAlreadyRevoked", cid):
        a.issuer.send(fn(world).revoke(cid, keccak(text="again")))
    assert state(world, cid)[3] == t
    for step in (1, 30 * DAY, 400 * DAY):  # beyond validUntil: still Revoked, never Expired
        advance(world, step)
        assert status(world, cid) == (REVOKED, True)
    assert status_at(world, cid, UINT40_MAX) == (REVOKED, True)


@pytest.mark.parametrize("caller", ["issuer2", "merchant", "stranger", "relayer", "governor"])
def test_revoke_not_issuer(world: World, caller: str) -> None:
    a = world.actors
    c = make_cert(world, f"revoke-not-{caller}")
    cid = certificate_id(c)
    issue(world, c)
    sender = getattr(a, caller)
    with reverts("CertificateRegistryNotIssuer", sender.address, a.issuer.address):
        sender.send(fn(world).revoke(cid, REASON))
    with reverts("CertificateRegistryNotIssuer", sender.address, a.issuer.address):
        world.relay(sender, fn(world).revoke(cid, REASON))
    assert status(world, cid) == (VALID, True)
    assert state(world, cid)[3] == 0


def test_revoke_anchored_certificate_issuer_only(world: World) -> None:
    a = world.actors
    c = make_cert(world, "revoke-anchored")
    cid = certificate_id(c)
    deadline = world.chain.now() + 10 * DAY
    a.merchant.send(fn(world).anchor(c.as_tuple(), 1, deadline, offer(world, c, nonce=1, deadline=deadline)))
    with reverts("CertificateRegistryNotIssuer", a.merchant.address, a.issuer.address):
        a.merchant.send(fn(world).revoke(cid, REASON))
    a.issuer.send(fn(world).revoke(cid, REASON))
    assert status(world, cid) == (REVOKED, True)


def test_revoke_unknown(world: World) -> None:
    unknown = certificate_id(make_cert(world, "never-issued"))
    with reverts("CertificateRegistryUnknownCertificate", unknown):
        world.actors.issuer.send(fn(world).revoke(unknown, REASON))
    with reverts("CertificateRegistryUnknownCertificate", bytes(32)):
        world.actors.issuer.send(fn(world).revoke(bytes(32), REASON))


def test_revoke_relayed_by_issuer(world: World) -> None:
    a = world.actors
    c = make_cert(world, "revoke-relayed")
    cid = certificate_id(c)
    issue(world, c)
    r = world.relay(a.issuer, fn(world).revoke(cid, REASON))
    (ev,) = events(world.d.registry, "CertificateRevoked", r)
    assert dict(ev.args) == {"id": cid, "revokedBy": a.issuer.address, "reasonCode": REASON, "actId": 0}
    assert state(world, cid)[3] == block_time(world, r)
    assert status(world, cid) == (REVOKED, True)
    with reverts("CertificateRegistryAlreadyRevoked", cid):
        world.relay(a.issuer, fn(world).revoke(cid, REASON))


# ---------------------------------------------------------------------------------------------- supersede


def test_supersede_happy_path(world: World) -> None:
    a = world.actors
    old = make_cert(world, "supersede-old")
    new = make_cert(world, "supersede-new")
    oid, nid = certificate_id(old), certificate_id(new)
    issue(world, old)
    advance(world, 10)
    call = fn(world).supersede(oid, new.as_tuple(), REASON)
    assert a.issuer.simulate(call) == nid
    r = a.issuer.send(call)
    t = block_time(world, r)
    (sev,) = events(world.d.registry, "CertificateSuperseded", r)
    assert dict(sev.args) == {"id": oid, "replacementId": nid, "reasonCode": REASON}
    assert_issued(world, r, [new], a.issuer.address)
    assert state(world, oid)[4] == t
    assert state(world, oid)[3] == 0
    assert status(world, oid) == (SUPERSEDED, True)
    assert status(world, nid) == (VALID, True)
    assert status_at(world, oid, t - 1) == (VALID, True)
    assert status_at(world, oid, t) == (SUPERSEDED, True)
    # a chain of replacements
    newer = make_cert(world, "supersede-newer")
    a.issuer.send(fn(world).supersede(nid, newer.as_tuple(), REASON))
    assert [status(world, x)[0] for x in (oid, nid, certificate_id(newer))] == [SUPERSEDED, SUPERSEDED, VALID]


def test_supersede_relayed_by_issuer(world: World) -> None:
    a = world.actors
    old, new = make_cert(world, "supersede-r-old"), make_cert(world, "supersede-r-new")
    issue(world, old)
    r = world.relay(a.issuer, fn(world).supersede(certificate_id(old), new.as_tuple(), REASON))
    assert_issued(world, r, [new], a.issuer.address)
    assert status(world, certificate_id(old)) == (SUPERSEDED, True)


@pytest.mark.parametrize("caller", ["issuer2", "merchant", "stranger", "relayer"])
def test_supersede_not_issuer(world: World, caller: str) -> None:
    a = world.actors
    old = make_cert(world, f"supersede-not-{caller}")
    issue(world, old)
    sender = getattr(a, caller)
    # a replacement naming the caller itself does not help
    new = make_cert(world, f"supersede-not-{caller}-new",
                    issuer=sender if caller == "issuer2" else a.issuer)
    with reverts("CertificateRegistryNotIssuer", sender.address, a.issuer.address):
        sender.send(fn(world).supersede(certificate_id(old), new.as_tuple(), REASON))
    with reverts("CertificateRegistryNotIssuer", sender.address, a.issuer.address):
        world.relay(sender, fn(world).supersede(certificate_id(old), new.as_tuple(), REASON))
    assert status(world, certificate_id(old)) == (VALID, True)
    assert_not_recorded(world, new)


def test_supersede_replacement_naming_another_issuer(world: World) -> None:
    a = world.actors
    old = make_cert(world, "supersede-other-issuer")
    issue(world, old)
    new = make_cert(world, "supersede-other-issuer-new", issuer=a.issuer2)
    with reverts("CertificateRegistryNotIssuer", a.issuer.address, a.issuer2.address):
        a.issuer.send(fn(world).supersede(certificate_id(old), new.as_tuple(), REASON))
    assert status(world, certificate_id(old)) == (VALID, True)
    assert_not_recorded(world, new)


def test_supersede_revoked_or_superseded(world: World) -> None:
    a = world.actors
    revoked, superseded = make_cert(world, "ns-revoked"), make_cert(world, "ns-superseded")
    issue(world, revoked)
    issue(world, superseded)
    a.issuer.send(fn(world).revoke(certificate_id(revoked), REASON))
    first = make_cert(world, "ns-first-replacement")
    a.issuer.send(fn(world).supersede(certificate_id(superseded), first.as_tuple(), REASON))
    new = make_cert(world, "ns-new")
    for cid in (certificate_id(revoked), certificate_id(superseded)):
        with reverts("CertificateRegistryNotSupersedable", cid):
            a.issuer.send(fn(world).supersede(cid, new.as_tuple(), REASON))
    assert_not_recorded(world, new)
    assert status(world, certificate_id(revoked)) == (REVOKED, True)
    assert status(world, certificate_id(superseded)) == (SUPERSEDED, True)


def test_supersede_unknown(world: World) -> None:
    unknown = certificate_id(make_cert(world, "supersede-unknown"))
    new = make_cert(world, "supersede-unknown-new")
    with reverts("CertificateRegistryUnknownCertificate", unknown):
        world.actors.issuer.send(fn(world).supersede(unknown, new.as_tuple(), REASON))
    assert_not_recorded(world, new)


def test_supersede_replacement_is_checked_like_an_issue(world: World) -> None:
    a = world.actors
    old = make_cert(world, "supersede-check")
    oid = certificate_id(old)
    issue(world, old)
    now = world.chain.now()
    with reverts("CertificateRegistryAlreadyIssued", oid):
        a.issuer.send(fn(world).supersede(oid, old.as_tuple(), REASON))
    bad_scope = make_cert(world, "sc-scope", standard=OTHER_STANDARD)
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, OTHER_STANDARD):
        a.issuer.send(fn(world).supersede(oid, bad_scope.as_tuple(), REASON))
    bad_merchant = make_cert(world, "sc-merchant", merchant=a.stranger.address)
    with reverts("CertificateRegistryMerchantNotActive", a.stranger.address):
        a.issuer.send(fn(world).supersede(oid, bad_merchant.as_tuple(), REASON))
    bad_validity = make_cert(world, "sc-validity", issued_at=now - 100, valid_until=now - 1)
    with reverts("CertificateRegistryInvalidValidity", now - 100, now - 1):
        a.issuer.send(fn(world).supersede(oid, bad_validity.as_tuple(), REASON))
    future = make_cert(world, "sc-future", issued_at=now + 10 * DAY, valid_until=now + 20 * DAY)
    with reverts("CertificateRegistryIssuedInFuture", now + 10 * DAY):
        a.issuer.send(fn(world).supersede(oid, future.as_tuple(), REASON))
    assert status(world, oid) == (VALID, True)
    assert state(world, oid)[4] == 0


# ---------------------------------------------------------------------------------------------- governance


@pytest.mark.parametrize("caller", ["governor", "admin", "stranger", "issuer", "relayer"])
def test_revoke_by_governance_direct_call_refused(world: World, caller: str) -> None:
    a = world.actors
    c = make_cert(world, f"gov-direct-{caller}")
    cid = certificate_id(c)
    issue(world, c)
    sender = getattr(a, caller)
    with reverts("CertificateRegistryNotGovernance", sender.address):
        sender.send(fn(world).revokeByGovernance(cid, REASON, 1))
    # relayed, msg.sender is the forwarder (not governance) and the error names the signer
    with reverts("CertificateRegistryNotGovernance", sender.address):
        world.relay(sender, fn(world).revokeByGovernance(cid, REASON, 1))
    assert status(world, cid) == (VALID, True)


def test_revoke_by_governance_after_delay(world: World) -> None:
    a = world.actors
    c = make_cert(world, "gov-revoke")
    cid = certificate_id(c)
    issue(world, c)
    g = gov(world)
    with reverts("TrustGovernanceUnauthorized", a.stranger.address, g.GOVERNOR_ROLE().call()):
        a.stranger.send(g.scheduleCertificateRevocation(cid, REASON))
    act_id, eta, _ = schedule(world, g.scheduleCertificateRevocation(cid, REASON))
    assert act_id == g.actCount().call() == 1
    assert tuple(g.act(act_id).call()) == (ACT_REVOKE_CERTIFICATE, ACT_PENDING, eta, 0, ZERO_ADDRESS, cid, REASON)
    with reverts("TrustGovernanceActNotReady", act_id, eta):
        a.stranger.send(g.executeAct(act_id))
    advance(world, ACT_DELAY - 100)
    with reverts("TrustGovernanceActNotReady", act_id, eta):
        a.stranger.send(g.executeAct(act_id))
    # one second before eta (a call runs at the latest block's time)
    advance(world, eta - 1 - world.chain.now())
    with reverts("TrustGovernanceActNotReady", act_id, eta):
        a.stranger.simulate(g.executeAct(act_id))
    assert status(world, cid) == (VALID, True)
    r = send_at(world, a.stranger, g.executeAct(act_id), eta)  # the eta second itself is ready
    (ev,) = events(world.d.registry, "CertificateRevoked", r)
    assert dict(ev.args) == {"id": cid, "revokedBy": world.d.governance.address, "reasonCode": REASON,
                             "actId": act_id}
    (xev,) = events(world.d.governance, "ActExecuted", r)
    assert dict(xev.args) == {"actId": act_id, "kind": ACT_REVOKE_CERTIFICATE}
    assert state(world, cid)[3] == eta
    assert state(world, cid)[6] is True  # revokedByGovernance
    assert status(world, cid) == (REVOKED, True)
    assert g.act(act_id).call()[1] == ACT_EXECUTED
    with reverts("TrustGovernanceActNotPending", act_id):
        a.stranger.send(g.executeAct(act_id))
    with reverts("CertificateRegistryAlreadyRevoked", cid):
        a.issuer.send(fn(world).revoke(cid, REASON))


def test_revoke_by_governance_cancelled(world: World) -> None:
    a = world.actors
    c = make_cert(world, "gov-cancel")
    cid = certificate_id(c)
    issue(world, c)
    g = gov(world)
    act_id, _, _ = schedule(world, g.scheduleCertificateRevocation(cid, REASON))
    r = a.governor.send(g.cancelAct(act_id))
    (ev,) = events(world.d.governance, "ActCancelled", r)
    assert dict(ev.args) == {"actId": act_id, "kind": ACT_REVOKE_CERTIFICATE}
    advance(world, ACT_DELAY + 1)
    with reverts("TrustGovernanceActNotPending", act_id):
        a.stranger.send(g.executeAct(act_id))
    assert g.act(act_id).call()[1] == ACT_CANCELLED
    assert status(world, cid) == (VALID, True)


def test_revoke_by_governance_of_revoked_or_unknown_certificate(world: World) -> None:
    """The registry's error surfaces through executeAct, and the act stays pending."""
    a = world.actors
    c = make_cert(world, "gov-already")
    cid = certificate_id(c)
    unknown = certificate_id(make_cert(world, "gov-unknown"))
    issue(world, c)
    g = gov(world)
    act1, _, _ = schedule(world, g.scheduleCertificateRevocation(cid, REASON))
    act2, _, _ = schedule(world, g.scheduleCertificateRevocation(unknown, REASON))
    a.issuer.send(fn(world).revoke(cid, REASON))
    advance(world, ACT_DELAY + 1)
    with reverts("CertificateRegistryAlreadyRevoked", cid):
        a.stranger.send(g.executeAct(act1))
    with reverts("CertificateRegistryUnknownCertificate", unknown):
        a.stranger.send(g.executeAct(act2))
    assert g.act(act1).call()[1] == ACT_PENDING
    assert g.act(act2).call()[1] == ACT_PENDING


# ---------------------------------------------------------------------------------------------- status timeline


def test_status_unknown(world: World) -> None:
    unknown = certificate_id(make_cert(world, "status-unknown"))
    assert status(world, unknown) == (UNKNOWN, False)
    for t in (0, world.chain.now(), UINT40_MAX):
        assert status_at(world, unknown, t) == (UNKNOWN, False)


def test_status_timeline_anchoring_and_expiry(world: World) -> None:
    """Unknown before anchoring (even after issuedAt), Valid through validUntil, Expired one second later;
    "was it valid when I bought it?" keeps answering Valid for a time before expiry."""
    now = world.chain.now()
    c = make_cert(world, "timeline", issued_at=now - 1000, valid_until=now + 5 * DAY)
    cid = certificate_id(c)
    t = block_time(world, issue(world, c))
    assert status_at(world, cid, c.issued_at) == (UNKNOWN, False)
    assert status_at(world, cid, t - 1) == (UNKNOWN, False)
    assert status_at(world, cid, t) == (VALID, True)
    assert status_at(world, cid, c.valid_until) == (VALID, True)
    assert status_at(world, cid, c.valid_until + 1) == (EXPIRED, True)
    assert status_at(world, cid, UINT40_MAX) == (EXPIRED, True)
    assert status(world, cid) == (VALID, True)
    advance(world, c.valid_until + 1 - world.chain.now())
    assert world.chain.now() == c.valid_until + 1
    assert status(world, cid) == (EXPIRED, True)
    assert status_at(world, cid, t + 100) == (VALID, True)  # bought before expiry: it was valid then
    assert status_at(world, cid, c.valid_until) == (VALID, True)


def test_status_revoked_from_revoked_at(world: World) -> None:
    a = world.actors
    c = make_cert(world, "timeline-revoked", valid_until=world.chain.now() + 2 * DAY)
    cid = certificate_id(c)
    t0 = block_time(world, issue(world, c))
    advance(world, 100)
    rt = block_time(world, a.issuer.send(fn(world).revoke(cid, REASON)))
    assert rt >= t0 + 100
    assert status_at(world, cid, t0) == (VALID, True)
    assert status_at(world, cid, rt - 1) == (VALID, True)
    assert status_at(world, cid, rt) == (REVOKED, True)
    assert status_at(world, cid, c.valid_until + 1) == (REVOKED, True)  # Revoked outranks Expired


def test_status_superseded_then_revoked(world: World) -> None:
    a = world.actors
    c = make_cert(world, "timeline-sup")
    cid = certificate_id(c)
    t0 = block_time(world, issue(world, c))
    advance(world, 100)
    st_ = block_time(world, a.issuer.send(fn(world).supersede(cid, make_cert(world, "timeline-sup-2").as_tuple(),
                                                              REASON)))
    advance(world, 100)
    rt = block_time(world, a.issuer.send(fn(world).revoke(cid, REASON)))
    assert t0 < st_ < rt
    assert status_at(world, cid, st_ - 1) == (VALID, True)
    assert status_at(world, cid, st_) == (SUPERSEDED, True)
    assert status_at(world, cid, rt - 1) == (SUPERSEDED, True)
    assert status_at(world, cid, rt) == (REVOKED, True)  # Revoked outranks Superseded
    assert status(world, cid) == (REVOKED, True)


def test_status_spot_checks(world: World) -> None:
    a = world.actors
    now = world.chain.now()
    passed = make_cert(world, "spot-pass", kind=SPOT_CHECK_PASS, valid_until=now + 5 * DAY)
    failed = make_cert(world, "spot-fail", kind=SPOT_CHECK_FAIL, valid_until=now + 5 * DAY)
    r = a.issuer.send(fn(world).issueBatch([passed.as_tuple(), failed.as_tuple()]))
    t = block_time(world, r)
    pid, fid = certificate_id(passed), certificate_id(failed)
    assert status(world, pid) == (VALID, True)
    assert status(world, fid) == (FAILED, True)
    assert status_at(world, fid, t - 1) == (UNKNOWN, False)
    assert status_at(world, fid, t) == (FAILED, True)
    assert status_at(world, pid, passed.valid_until) == (VALID, True)
    assert status_at(world, pid, passed.valid_until + 1) == (EXPIRED, True)
    assert status_at(world, fid, failed.valid_until + 1) == (FAILED, True)  # Failed outranks Expired
    advance(world, 10)
    rt = block_time(world, a.issuer.send(fn(world).revoke(fid, REASON)))
    assert status_at(world, fid, rt - 1) == (FAILED, True)
    assert status_at(world, fid, rt) == (REVOKED, True)  # Revoked outranks Failed


def test_status_key_compromise_declared_by_issuer(world: World) -> None:
    a = world.actors
    g = gov(world)
    c1, c2, c3, other = (make_cert(world, "kc-1"), make_cert(world, "kc-2"), make_cert(world, "kc-3"),
                         make_cert(world, "kc-other", issuer=a.issuer2))
    id1, id2, id3, oid = (certificate_id(x) for x in (c1, c2, c3, other))
    t1 = block_time(world, issue(world, c1))
    issue(world, other)
    advance(world, 100)
    t2 = block_time(world, issue(world, c2))
    advance(world, 100)
    t3 = block_time(world, issue(world, c3))
    a.issuer.send(fn(world).revoke(id3, REASON))
    assert t1 + 100 <= t2 and t2 + 100 <= t3

    # declared at t2: c2 (anchored at t2) and c3 (after; revoked too) are Compromised, c1 stays Valid
    r = a.issuer.send(g.declareKeyCompromised(t2))
    (ev,) = events(world.d.governance, "IssuerKeyCompromised", r)
    assert dict(ev.args) == {"issuer": a.issuer.address, "compromisedAt": t2, "declaredBy": a.issuer.address}
    assert g.accreditation(a.issuer.address).call()[3] == t2
    assert status(world, id1) == (VALID, True)
    assert status_at(world, id1, t2) == (VALID, True)
    for cid, anchored in ((id2, t2), (id3, t3)):
        assert status(world, cid) == (COMPROMISED, False)
        assert status_at(world, cid, anchored - 1) == (UNKNOWN, False)
        for t in (anchored, anchored + 1, t3 + 1000, 30 * DAY + anchored + 1, UINT40_MAX):
            assert status_at(world, cid, t) == (COMPROMISED, False)
    assert status(world, oid) == (VALID, True)  # another issuer's certificates are untouched

    # a later (or equal) time than the declared one is refused; a future time too
    for later in (t2, t2 + 1, t3):
        with reverts("TrustGovernanceInvalidCompromiseTime", later, t2):
            a.issuer.send(g.declareKeyCompromised(later))
    # moving it earlier is allowed: one second after c1's anchoring leaves c1 valid, c1's second does not
    a.issuer.send(g.declareKeyCompromised(t1 + 1))
    assert status(world, id1) == (VALID, True)
    a.issuer.send(g.declareKeyCompromised(t1))
    assert status(world, id1) == (COMPROMISED, False)
    assert status_at(world, id1, t1) == (COMPROMISED, False)
    assert status(world, oid) == (VALID, True)


def test_key_compromise_in_the_future_refused(world: World) -> None:
    a = world.actors
    g = gov(world)
    future = world.chain.now() + 10 * DAY
    with reverts("TrustGovernanceInvalidCompromiseTime", future, 0):
        a.issuer.send(g.declareKeyCompromised(future))
    with reverts("TrustGovernanceInvalidCompromiseTime", future, 0):
        world.relay(a.issuer, g.declareKeyCompromised(future))
    assert g.accreditation(a.issuer.address).call()[3] == 0
    declared = world.chain.now() - 500
    a.issuer.send(g.declareKeyCompromised(declared))
    assert g.accreditation(a.issuer.address).call()[3] == declared
    with reverts("TrustGovernanceInvalidCompromiseTime", future, declared):
        a.issuer.send(g.declareKeyCompromised(future))
    with reverts("TrustGovernanceUnknownIssuer", a.stranger.address):
        a.stranger.send(g.declareKeyCompromised(world.chain.now() - 10))


def test_key_compromise_relayed_declaration(world: World) -> None:
    a = world.actors
    c = make_cert(world, "kc-relayed")
    t = block_time(world, issue(world, c))
    r = world.relay(a.issuer, gov(world).declareKeyCompromised(t))
    (ev,) = events(world.d.governance, "IssuerKeyCompromised", r)
    assert dict(ev.args) == {"issuer": a.issuer.address, "compromisedAt": t, "declaredBy": a.issuer.address}
    assert status(world, certificate_id(c)) == (COMPROMISED, False)


def test_key_compromise_through_governance(world: World) -> None:
    """Scheduled by the governor, executable by anyone after the delay; certificates anchored during the
    delay, after the declared time, are caught as well."""
    a = world.actors
    g = gov(world)
    before, at = make_cert(world, "kcg-before"), make_cert(world, "kcg-at")
    t_before = block_time(world, issue(world, before))
    advance(world, 100)
    t_at = block_time(world, issue(world, at))
    act_id, eta, _ = schedule(world, g.scheduleKeyCompromise(a.issuer.address, t_at, REASON))
    assert tuple(g.act(act_id).call()) == (ACT_DECLARE_KEY_COMPROMISE, ACT_PENDING, eta, t_at, a.issuer.address,
                                           bytes(32), REASON)
    during = make_cert(world, "kcg-during")
    issue(world, during)  # the issuer is still accredited while the act is pending
    assert status(world, certificate_id(at)) == (VALID, True)
    with reverts("TrustGovernanceActNotReady", act_id, eta):
        a.stranger.send(g.executeAct(act_id))
    advance(world, ACT_DELAY)
    r = a.stranger.send(g.executeAct(act_id))
    (ev,) = events(world.d.governance, "IssuerKeyCompromised", r)
    # declaredBy is governance, not the account that paid for the execution
    assert dict(ev.args) == {"issuer": a.issuer.address, "compromisedAt": t_at,
                             "declaredBy": world.d.governance.address}
    (xev,) = events(world.d.governance, "ActExecuted", r)
    assert dict(xev.args) == {"actId": act_id, "kind": ACT_DECLARE_KEY_COMPROMISE}
    assert status(world, certificate_id(before)) == (VALID, True)
    assert status_at(world, certificate_id(before), t_before) == (VALID, True)
    assert status(world, certificate_id(at)) == (COMPROMISED, False)
    assert status(world, certificate_id(during)) == (COMPROMISED, False)
    late = make_cert(world, "kcg-late")
    with reverts("CertificateRegistryIssuerNotAccredited", a.issuer.address, STANDARD):
        issue(world, late)


def test_key_compromise_scheduled_then_cancelled(world: World) -> None:
    a = world.actors
    g = gov(world)
    c = make_cert(world, "kcg-cancel")
    t = block_time(world, issue(world, c))
    act_id, _, _ = schedule(world, g.scheduleKeyCompromise(a.issuer.address, t, REASON))
    a.governor.send(g.cancelAct(act_id))
    advance(world, ACT_DELAY + 1)
    with reverts("TrustGovernanceActNotPending", act_id):
        a.stranger.send(g.executeAct(act_id))
    assert status(world, certificate_id(c)) == (VALID, True)


def test_key_compromise_at_time_zero_refused(world: World) -> None:
    """0 is the "no compromise" sentinel: declaring it would be a silent no-op (or erase a declaration)."""
    a = world.actors
    g = gov(world)
    c = make_cert(world, "kc-zero")
    t = block_time(world, issue(world, c))
    with reverts("TrustGovernanceInvalidCompromiseTime", 0, 0):
        a.issuer.send(g.declareKeyCompromised(0))
    with reverts("TrustGovernanceInvalidCompromiseTime", 0, 0):
        a.governor.send(g.scheduleKeyCompromise(a.issuer.address, 0, REASON))
    assert g.accreditation(a.issuer.address).call()[3] == 0
    a.issuer.send(g.declareKeyCompromised(t))
    with reverts("TrustGovernanceInvalidCompromiseTime", 0, t):
        a.issuer.send(g.declareKeyCompromised(0))
    with reverts("TrustGovernanceInvalidCompromiseTime", t, t):
        a.governor.send(g.scheduleKeyCompromise(a.issuer.address, t, REASON))
    assert g.accreditation(a.issuer.address).call()[3] == t
    assert status(world, certificate_id(c)) == (COMPROMISED, False)


# ---------------------------------------------------------------------------------------------- property


@dataclasses.dataclass
class Model:
    """Reference model of one certificate's slot."""

    cid: bytes
    kind: int
    anchored_at: int
    valid_until: int
    revoked_at: int = 0
    superseded_at: int = 0

    def status_at(self, t: int) -> int:
        if t < self.anchored_at:
            return UNKNOWN
        if self.revoked_at and self.revoked_at <= t:
            return REVOKED
        if self.superseded_at and self.superseded_at <= t:
            return SUPERSEDED
        if self.kind == SPOT_CHECK_FAIL:
            return FAILED
        if t > self.valid_until:
            return EXPIRED
        return VALID


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("revoke"), st.integers(0, 7)),
        st.tuples(st.just("supersede"), st.integers(0, 7), st.integers(DAY, 20 * DAY)),
        st.tuples(st.just("travel"), st.integers(1, 25 * DAY)),
    ),
    min_size=1, max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, lifetimes=st.tuples(st.integers(DAY, 10 * DAY), st.integers(DAY, 40 * DAY),
                                    st.integers(DAY, 90 * DAY)))
def test_property_revocation_is_permanent_and_expired_is_not_valid(
        world: World, ops: list[tuple[Any, ...]], lifetimes: tuple[int, int, int]) -> None:
    # `world` is reset per test function only: every example takes and reverts its own snapshot.
    snap = world.chain.snapshot()
    try:
        _run_property_example(world, ops, lifetimes)
    finally:
        world.chain.revert(snap)
        world.actors.reset_nonces()


def _run_property_example(world: World, ops: list[tuple[Any, ...]], lifetimes: tuple[int, int, int]) -> None:
    a = world.actors
    now = world.chain.now()
    seed = keccak(text=f"{now}-{ops}-{lifetimes}").hex()[:16]  # distinct records across examples
    certs = [make_cert(world, f"prop-{seed}-{i}", kind=i, valid_until=now + life)
             for i, life in enumerate(lifetimes)]
    r = send_unsimulated(world, a.issuer, fn(world).issueBatch([c.as_tuple() for c in certs]))
    t = block_time(world, r)
    models = [Model(certificate_id(c), c.kind, t, c.valid_until) for c in certs]
    ever_revoked: set[bytes] = set()

    for step, op in enumerate(ops):
        m = models[op[1] % len(models)] if op[0] != "travel" else None
        if op[0] == "travel":
            advance(world, op[1])
        elif op[0] == "revoke":
            assert m is not None
            if m.revoked_at:
                with reverts("CertificateRegistryAlreadyRevoked", m.cid):
                    a.issuer.simulate(fn(world).revoke(m.cid, REASON))
            else:
                r = send_unsimulated(world, a.issuer, fn(world).revoke(m.cid, REASON))
                m.revoked_at = block_time(world, r)
                ever_revoked.add(m.cid)
        else:
            assert m is not None
            now = world.chain.now()
            new = make_cert(world, f"prop-{seed}-s{step}", valid_until=now + op[2])
            if m.revoked_at or m.superseded_at:
                with reverts("CertificateRegistryNotSupersedable", m.cid):
                    a.issuer.simulate(fn(world).supersede(m.cid, new.as_tuple(), REASON))
            else:
                r = send_unsimulated(world, a.issuer, fn(world).supersede(m.cid, new.as_tuple(), REASON))
                m.superseded_at = block_time(world, r)
                models.append(Model(certificate_id(new), CERTIFICATE, m.superseded_at, new.valid_until))
        now = world.chain.now()
        for x in models:
            got = status_at(world, x.cid, now)
            assert got == (x.status_at(now), x.status_at(now) != UNKNOWN)
            if x.cid in ever_revoked:
                assert got[0] == REVOKED
            if now > x.valid_until:
                assert got[0] != VALID

    # the slots hold what the model holds; revocation is permanent at every later time (and for `status`,
    # whatever the time of the block it runs in); expired never reads as valid
    for x in models:
        assert state(world, x.cid)[1:5] == (x.anchored_at, x.valid_until, x.revoked_at, x.superseded_at)
        if x.revoked_at:
            assert status(world, x.cid) == (REVOKED, True)
            for tt in (x.revoked_at, x.valid_until + 1, UINT40_MAX):
                if tt >= x.revoked_at:
                    assert status_at(world, x.cid, tt) == (REVOKED, True)
        assert status_at(world, x.cid, x.valid_until + 1)[0] != VALID
        assert status_at(world, x.cid, UINT40_MAX)[0] != VALID


# ------------------------------------------------------------------- a compromised key no longer speaks


def test_compromised_issuer_cannot_revoke(world: World) -> None:
    a = world.actors
    c = make_cert(world, "compromised-revoke")
    issue(world, c)
    cid = certificate_id(c)
    advance(world, 10)
    t = world.chain.now()  # after the anchoring
    a.issuer.send(gov(world).declareKeyCompromised(t))
    with reverts("CertificateRegistryIssuerCompromised", a.issuer.address, t):
        a.issuer.send(fn(world).revoke(cid, REASON))
    with reverts("CertificateRegistryIssuerCompromised", a.issuer.address, t):
        world.relay(a.issuer, fn(world).revoke(cid, REASON))
    assert status(world, cid) == (VALID, True)  # anchored before the compromise: still valid


def test_revocation_by_a_compromised_key_does_not_count(world: World) -> None:
    """Whoever stole the key revoked good certificates before the theft was declared: those revocations are
    void, revocations before the compromise time still count, and governance can still revoke."""
    a = world.actors
    early, stolen, gov_revoked = (make_cert(world, f"ck-{n}") for n in ("early", "stolen", "gov"))
    for c in (early, stolen, gov_revoked):
        issue(world, c)
    r = a.issuer.send(fn(world).revoke(certificate_id(early), REASON))  # legitimate, before the theft
    t_early = block_time(world, r)
    advance(world, 100)
    compromised_at = world.chain.now()
    advance(world, 100)
    r = a.issuer.send(fn(world).revoke(certificate_id(stolen), REASON))  # by the thief
    t_stolen = block_time(world, r)
    assert status(world, certificate_id(stolen)) == (REVOKED, True)  # before the declaration it looks revoked
    a.issuer.send(gov(world).declareKeyCompromised(compromised_at))
    assert state(world, certificate_id(stolen))[3] == t_stolen  # the record stays, it just does not count
    assert status(world, certificate_id(stolen)) == (VALID, True)
    assert status_at(world, certificate_id(stolen), t_stolen) == (VALID, True)
    assert status(world, certificate_id(early)) == (REVOKED, True)
    assert status_at(world, certificate_id(early), t_early) == (REVOKED, True)
    # governance's delayed revocation counts whatever the compromise
    act_id, eta, _ = schedule(world, gov(world).scheduleCertificateRevocation(certificate_id(gov_revoked), REASON))
    advance(world, eta - world.chain.now())
    a.stranger.send(gov(world).executeAct(act_id))
    assert state(world, certificate_id(gov_revoked))[6] is True
    assert status(world, certificate_id(gov_revoked)) == (REVOKED, True)
