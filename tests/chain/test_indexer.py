"""The event indexer against the contracts it indexes: projections equal the contracts' views, an incremental
index equals a rebuild, and nothing is missed or doubled through idempotent re-syncs, crashes, confirmation
depth and reorgs.

Every test runs on SQLite and PostgreSQL (``database`` fixture) and on py-evm or a live node (``--chain``).
Providers that refuse ranges or time out are in ``test_indexer_faults.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.eip712 import Certificate, certificate_id, sign_certificate_offer
from ledger.indexer import BoundedCache, CertificateStatus, Indexer, IndexPosition, IndexView
from ledger.manifest import Manifest
from ledger.merkle import consistency_proof_from_leaf_hashes, leaf_hash, root_from_leaf_hashes
from ledger.storage import Database
from ledger.storage.schema import idx_events, idx_state

from ..conftest import ACT_DELAY, OTHER_STANDARD, STANDARD, World
from .test_certificates import SPOT_CHECK_FAIL, make_cert
from .test_disputes import EVIDENCE, URI, Outcome, Phase, T
from .test_governance import SUSPENSION

pytestmark = pytest.mark.chain

REASON = keccak(text="reason:indexer-test")
RULING = keccak(text="ruling:indexer-test")
LEAVES = [leaf_hash(f"review {i}".encode()) for i in range(64)]


# ---------------------------------------------------------------------------------------------- fixtures
# extras, t, manifest and ix: tests/chain/conftest.py


# ---------------------------------------------------------------------------------------------- helpers


def rebuilt_equals(ix: Indexer) -> None:
    """The index as it stands equals a rebuild from the deploy block, and a replay of its own events."""
    incremental = ix.snapshot()
    ix.reproject()
    assert ix.snapshot() == incremental
    ix.rebuild()
    assert ix.snapshot() == incremental


def checkpoint(t: T, size: int, previous: int) -> None:
    proof = consistency_proof_from_leaf_hashes(previous, LEAVES[:size]) if previous else []
    t.do(t.a.operator, t.world.d.review_log.functions.appendCheckpoint(size, root_from_leaf_hashes(LEAVES[:size]),
                                                                         proof))


def issue(t: T, c: Certificate) -> bytes:
    by = t.a.issuer if c.issuer == t.a.issuer.address else t.a.issuer2
    t.do(by, t.world.d.registry.functions.issue(c.as_tuple()))
    return certificate_id(c)


class Scenario:
    """Every kind of event of the five contracts, step by step; ``after_each`` runs after every step."""

    def __init__(self, t: T, after_each: Callable[[], None]) -> None:
        self.t, self.after = t, after_each
        self.certificates: list[bytes] = []
        self.disputes: list[bytes] = []
        self.leaves: list[int] = []
        self.issuers = [t.a.issuer.address, t.a.issuer2.address]
        self.merchants = [t.a.merchant.address, t.a.merchant2.address]

    def step(self, action: Callable[[], Any]) -> Any:
        result = action()
        self.after()
        return result

    def run(self) -> None:
        t, a, w = self.t, self.t.a, self.t.world
        g, reg, dr = t.g, w.d.registry.functions, t.dr
        step = self.step
        # governance
        step(lambda: t.do(a.governor, g.setIssuerScope(a.issuer.address, OTHER_STANDARD, True)))
        step(lambda: t.do(a.governor, g.setIssuerScope(a.issuer2.address, OTHER_STANDARD, False)))
        step(lambda: t.do(a.governor, g.suspendIssuer(a.issuer2.address, REASON)))
        step(lambda: t.do(a.governor, g.restoreIssuer(a.issuer2.address)))
        step(lambda: t.do(a.governor, g.sanctionMerchant(a.merchant2.address, SUSPENSION, REASON, RULING)))
        step(lambda: t.do(a.governor, g.appointArbitrator(t.x.arbs[0].address)))
        step(lambda: t.do(a.governor, g.appointArbitrator(t.x.arbs[1].address)))
        step(lambda: t.do(a.governor, g.removeArbitrator(a.arbitrator.address)))  # swap-and-pop
        step(lambda: t.do(a.governor, g.scheduleLogOperatorReplacement(a.stranger.address)))
        step(lambda: t.do(a.governor, g.cancelAct(1)))
        # certificates: valid, revoked by its issuer (relayed), superseded, short-lived, failed spot check,
        # anchored from an offer, revoked by governance, compromised
        valid = make_cert(w, "valid")
        self.certificates.append(step(lambda: issue(t, valid)))
        revoked = make_cert(w, "revoked")
        rid = step(lambda: issue(t, revoked))
        step(lambda: w.relay(a.issuer, reg.revoke(rid, REASON)))
        old, new = make_cert(w, "old"), make_cert(w, "new")
        oid = step(lambda: issue(t, old))
        step(lambda: t.do(a.issuer, reg.supersede(oid, new.as_tuple(), REASON)))
        short = make_cert(w, "short", valid_until=w.chain.now() + 3600)
        failed = make_cert(w, "failed", kind=SPOT_CHECK_FAIL)
        self.certificates += [rid, oid, certificate_id(new), step(lambda: issue(t, short)),
                              step(lambda: issue(t, failed))]
        offered = make_cert(w, "offered")
        deadline = w.chain.now() + 86400
        signature = sign_certificate_offer(a.issuer.account.key, offered, nonce=7, deadline=deadline,
                                           chain_id=w.d.chain_id, registry=w.d.registry.address)
        step(lambda: t.do(a.merchant, reg.anchor(offered.as_tuple(), 7, deadline, signature)))
        by_governance = make_cert(w, "by-governance")
        gid = step(lambda: issue(t, by_governance))
        step(lambda: t.do(a.governor, g.scheduleCertificateRevocation(gid, REASON)))
        compromised = make_cert(w, "compromised", issuer=a.issuer2)
        cid = step(lambda: issue(t, compromised))
        self.certificates += [certificate_id(offered), gid, cid]
        step(lambda: t.do(a.issuer2, g.declareKeyCompromised(w.chain.now())))
        # checkpoints
        step(lambda: checkpoint(t, 10, 0))
        step(lambda: checkpoint(t, 16, 10))
        # a purchase dispute through ruling, appeal, remedy contested, reported again and confirmed
        did, _ = step(lambda: t.open("order-1"))
        self.disputes.append(did)
        step(lambda: t.do(a.merchant, dr.respond(did, EVIDENCE, URI)))
        step(lambda: t.rule(did, Outcome.REFUND))
        step(lambda: t.do(a.merchant, dr.appeal(did, EVIDENCE, URI)))
        step(lambda: t.rule(did, Outcome.PARTIAL_REFUND))
        step(lambda: t.do(a.merchant, dr.reportRemedy(did, EVIDENCE)))
        step(lambda: t.do(t.x.buyer, dr.contestRemedy(did, EVIDENCE)))
        step(lambda: t.do(t.arbitrator_of(did), dr.ruleOnRemedy(did, False, EVIDENCE)))
        step(lambda: t.do(a.merchant, dr.reportRemedy(did, EVIDENCE)))
        step(lambda: t.do(t.x.buyer, dr.confirmRemedy(did)))
        # a dispute whose arbitrators both recuse: escalated, then a panel
        did2, _ = step(lambda: t.open("order-2", buyer=t.x.buyer2))
        self.disputes.append(did2)
        step(lambda: t.do(t.arbitrator_of(did2), dr.recuse(did2)))
        step(lambda: t.do(t.arbitrator_of(did2), dr.recuse(did2)))
        assert t.get(did2).phase == Phase.ESCALATED
        step(lambda: t.do(a.governor, dr.appointPanel(did2, t.x.panel.address)))
        step(lambda: t.do(a.merchant, dr.respond(did2, EVIDENCE, URI)))
        # takedowns: hidden then taken down by a ruling; hidden then restored by the operator's own referral
        step(lambda: t.do(a.operator, dr.emergencyHide(3, REASON)))
        step(lambda: t.do(a.operator, dr.emergencyHide(5, REASON)))
        self.disputes.append(step(lambda: t.review_final(Outcome.REVIEW_REMOVED, leaf=3)[0]))
        self.disputes.append(step(lambda: t.review_final(Outcome.REVIEW_UPHELD, by=a.operator, leaf=5)[0]))
        self.leaves += [3, 5]
        # governance's revocation after its delay (the short-lived certificate expires on the way)
        step(lambda: w.chain.increase_time(ACT_DELAY + 1))
        step(lambda: t.do(a.stranger, g.executeAct(2)))


def assert_matches_views(t: T, ix: Indexer, s: Scenario) -> None:
    """Every projection the scenario touched equals what the contracts' views say."""
    w, g, reg = t.world, t.g, t.world.d.registry.functions
    for issuer in s.issuers:
        acc = ix.accreditation(issuer)
        assert acc is not None
        assert (acc.issuer_id, acc.valid_from, acc.valid_until, acc.compromised_at, acc.suspended) == \
            tuple(g.accreditation(issuer).call())
        for scope in (STANDARD, OTHER_STANDARD):
            assert (scope in acc.scopes) == g.isInScope(issuer, scope).call()
    assert ix.accreditation(t.a.stranger.address) is None
    for merchant in s.merchants:
        m = ix.merchant(merchant)
        assert m is not None
        assert (m.status, m.admitted_at, m.licence_hash) == tuple(g.merchant(merchant).call())
    assert ix.merchant(t.a.merchant2.address).ruling_ref == RULING  # type: ignore[union-attr]
    assert ix.arbitrators() == t.arbitrators()
    acts = ix.acts()
    assert len(acts) == g.actCount().call()
    for act in acts:
        assert (act.kind, act.state, act.eta, act.time, act.account, act.ref, act.reason_code) == \
            tuple(g.act(act.act_id).call())
    assert ix.parameter("log_operator") == w.d.review_log.functions.logOperator().call()
    assert ix.parameter("order_signer") == g.orderSigner().call()
    now = w.chain.now()
    statuses = set()
    for cid in s.certificates:
        c = ix.certificate(cid)
        assert c is not None
        state = reg.certificateState(cid).call()
        assert (c.issuer_id, c.anchored_at, c.valid_until, c.revoked_at or 0, c.superseded_at or 0, c.kind,
                c.revocation_act is not None) == tuple(state)
        for when in (c.anchored_at - 1, c.anchored_at, (c.anchored_at + now) // 2, now, now + 400 * 86400):
            expected = tuple(reg.statusAt(cid, when).call())
            assert c.status_at(when) == expected, (cid.hex(), when)
            statuses.add(expected[0])
    assert statuses >= set(CertificateStatus), "the scenario reaches every certificate status"
    assert ix.certificate(keccak(text="no such certificate")) is None
    anchored = ix.certificates(merchant=t.a.merchant.address, issuer=t.a.issuer.address)
    assert {c.certificate_id for c in anchored} <= set(s.certificates) and len(anchored) >= 7
    log = w.d.review_log.functions
    checkpoints = ix.checkpoints()
    assert [(c.index, c.size) for c in checkpoints] == [(0, 10), (1, 16)] == \
        [(i, c.size) for i, c in enumerate(checkpoints)]
    for c in checkpoints:
        assert log.isCheckpoint(c.index, c.size, c.root).call()
    assert len(checkpoints) == log.checkpointCount().call()
    for did in s.disputes:
        d = ix.dispute(did)
        assert d is not None
        assert (d.kind, d.phase, d.resume, d.outcome, d.round, d.by_default, d.panel, d.cursor, d.opened_at,
                d.response_deadline, d.ruling_deadline, d.appeal_deadline, d.claimant, d.remedy_deadline,
                d.respondent, d.remedy_amount, d.merchant, d.arbitrator, d.first_arbitrator, d.subject) == \
            tuple(t.get(did))
        chain_events = [e.event for e in ix.events(contract="DisputeRegistry")
                        if e.args.get("id") == "0x" + did.hex() or e.args.get("disputeId") == "0x" + did.hex()]
        assert [h.event for h in d.history] == chain_events
    for leaf in s.leaves:
        assert ix.takedown(leaf) == tuple(t.dr.takedown(leaf).call())


# ---------------------------------------------------------------------------------------------- tests


def test_projections_equal_the_contract_views(t: T, ix: Indexer) -> None:
    s = Scenario(t, lambda: None)
    s.run()
    result = ix.sync()
    assert result.cursor == t.world.w3.eth.block_number and result.events > 0
    assert_matches_views(t, ix, s)
    first = ix.dispute(s.disputes[0])
    assert first is not None
    assert [h.event for h in first.history] == [
        "PurchaseDisputeOpened", "Evidence", "ArbitratorAssigned", "DisputeResponded", "Evidence", "DisputeRuled",
        "DisputeAppealed", "Evidence", "ArbitratorAssigned", "DisputeRuled", "DisputeFinal", "RemedyReported",
        "RemedyContested", "RemedyRuled", "RemedyReported", "RemedyConfirmed", "DisputeClosed"]
    assert first.phase == Phase.CLOSED and first.round == 1
    rebuilt_equals(ix)
    assert_matches_views(t, ix, s)


def test_incremental_sync_after_every_step_equals_a_rebuild(t: T, ix: Indexer) -> None:
    s = Scenario(t, lambda: ix.sync())
    s.run()
    assert ix.cursor() == t.world.w3.eth.block_number
    assert_matches_views(t, ix, s)
    rebuilt_equals(ix)


OPS = st.sampled_from(["issue", "revoke", "supersede", "sanction", "arbitrator", "checkpoint", "dispute", "empty",
                       "sync", "sync-partial"])


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=10))
def test_random_interleavings_of_writes_and_syncs_equal_a_rebuild(t: T, ix: Indexer, ops: list[str]) -> None:
    chain, w = t.chain, t.world
    snap = chain.snapshot()
    ix.reset()
    try:
        live: list[bytes] = []
        size, appointed, disputes = 0, 0, 0
        for n, op in enumerate(ops):
            if op == "issue":
                live.append(issue(t, make_cert(w, f"h-{n}")))
            elif op == "revoke" and live:
                t.do(t.a.issuer, w.d.registry.functions.revoke(live.pop(0), REASON))
            elif op == "supersede" and live:
                replacement = make_cert(w, f"h-{n}-replacement")
                t.do(t.a.issuer, w.d.registry.functions.supersede(live.pop(), replacement.as_tuple(), REASON))
                live.append(certificate_id(replacement))
            elif op == "sanction":
                status = t.g.merchant(t.a.merchant2.address).call()[0]
                t.do(t.a.governor, t.g.sanctionMerchant(t.a.merchant2.address, SUSPENSION, REASON, RULING)
                     if status == 1 else t.g.restoreMerchant(t.a.merchant2.address, REASON, RULING))
            elif op == "arbitrator" and appointed < len(t.x.arbs):
                t.do(t.a.governor, t.g.appointArbitrator(t.x.arbs[appointed].address))
                appointed += 1
            elif op == "checkpoint" and size < 48:
                checkpoint(t, size + 8, size)
                size += 8
            elif op == "dispute":
                disputes += 1
                t.open(f"h-order-{n}-{disputes}")
            elif op == "empty":
                chain.increase_time(1)
            elif op == "sync":
                ix.sync()
            elif op == "sync-partial":
                cursor = ix.cursor()
                ix.sync(to_block=cursor + (w.w3.eth.block_number - cursor) // 2)
        ix.sync()
        assert ix.cursor() == w.w3.eth.block_number
        rebuilt_equals(ix)
    finally:
        chain.revert(snap)
        t.reset_nonces()


def test_syncing_the_same_blocks_again_doubles_nothing(t: T, ix: Indexer, database: Database) -> None:
    t.do(t.a.issuer, t.world.d.registry.functions.issue(make_cert(t.world, "once").as_tuple()))
    t.open("order-once")
    ix.sync()
    before = ix.snapshot()
    deploy = ix.manifest.deploy_block
    # the cursor moved back (as if the commit had happened but its caller never learnt it), to the start and
    # to a block in the middle
    for number in (deploy - 1, deploy + 3):
        block_hash = None if number < deploy else bytes(t.world.w3.eth.get_block(number)["hash"])
        with database.write() as conn:
            conn.execute(sa.update(idx_state).values(cursor_number=number, cursor_hash=block_hash))
        again = ix.sync()
        assert again.events == 0 and again.reorgs == 0
        assert ix.snapshot() == before
    with database.read() as conn:
        counted = conn.execute(sa.select(sa.func.count()).select_from(idx_events)
                               .where(idx_events.c.event == "CertificateIssued")).scalar_one()
    assert counted == 1


def test_a_crash_while_projecting_leaves_nothing_half_applied(t: T, ix: Indexer, database: Database,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ix.sync()
    before, cursor = ix.snapshot(), ix.cursor()
    t.open("order-crash")
    t.do(t.a.issuer, t.world.d.registry.functions.issue(make_cert(t.world, "crash").as_tuple()))
    projector = ix._projector
    calls = {"n": 0}
    real = projector.apply

    def crash_on_the_third(conn: Any, event: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        real(conn, event)

    monkeypatch.setattr(projector, "apply", crash_on_the_third)
    with pytest.raises(RuntimeError, match="power cut"):
        ix.sync()
    monkeypatch.undo()
    assert ix.snapshot() == before and ix.cursor() == cursor  # neither events nor projections nor cursor moved
    assert ix.sync().events >= 4
    rebuilt_equals(ix)


def test_confirmation_depth_holds_back_the_last_blocks(t: T, world: World, database: Database,
                                                       manifest: Manifest) -> None:
    ix = Indexer(world.w3, database, manifest, confirmation_depth=2, retry_delay=0)
    reg = world.d.registry.functions
    ids = [issue(t, make_cert(world, f"depth-{i}")) for i in range(3)]
    result = ix.sync()
    head = world.w3.eth.block_number
    assert (result.head, result.target, result.cursor) == (head, head - 2, head - 2)
    assert ix.certificate(ids[0]) is not None
    assert ix.certificate(ids[1]) is None and ix.certificate(ids[2]) is None
    t.do(t.a.issuer, reg.revoke(ids[0], REASON))
    world.chain.increase_time(1)
    ix.sync()
    assert ix.certificate(ids[2]) is not None and ix.certificate(ids[0]).revoked_at is None  # type: ignore[union-attr]
    world.chain.increase_time(1)
    ix.sync()
    assert ix.certificate(ids[0]).revoked_at is not None  # type: ignore[union-attr]
    rebuilt_equals(ix)


@pytest.mark.parametrize("new_fork", ["longer", "shorter"])
def test_reorg_rolls_back_the_orphaned_events(t: T, ix: Indexer, database: Database, new_fork: str) -> None:
    world = t.world
    issue(t, make_cert(world, "before-fork"))
    ix.sync()
    fork = world.chain.snapshot()
    fork_block = world.w3.eth.block_number
    orphaned = [issue(t, make_cert(world, f"orphan-{i}")) for i in range(3)]
    t.open("order-orphan")
    ix.sync()
    assert all(ix.certificate(c) is not None for c in orphaned)
    merchant = world.actors.merchant.address

    def held(view: IndexView) -> set[bytes]:
        return {c.certificate_id for tag in [*(f"orphan-{i}" for i in range(3)), *(f"fork-{i}" for i in range(2))]
                for c in view.product(keccak(text=f"gtin:{tag}")).certificates}

    assert held(ix.view()) == set(orphaned)
    count = sum(c.records for c in ix.view().merchant_trust(merchant).certificates)
    before_reorg = ix.position()
    old_head = world.w3.eth.block_number
    with database.read() as conn:
        orphan_txs = {bytes(h) for h in conn.execute(
            sa.select(idx_events.c.tx_hash).where(idx_events.c.block_number > fork_block)).scalars()}
    assert orphan_txs

    world.chain.revert(fork)
    t.reset_nonces()
    # different transactions at the same heights: different block hashes
    survivors = [issue(t, make_cert(world, f"fork-{i}")) for i in range(1 if new_fork == "shorter" else 2)]
    if new_fork == "longer":
        t.open("order-fork")
        while world.w3.eth.block_number <= old_head:
            world.chain.increase_time(1)
    assert (world.w3.eth.block_number < old_head) == (new_fork == "shorter")
    result = ix.sync()
    assert result.reorgs == 1 and result.removed > 0
    assert all(ix.certificate(c) is None for c in orphaned)
    assert all(ix.certificate(c) is not None for c in survivors)
    # the memoized view went with the orphaned blocks (a shorter fork may even end at the old height: the hash differs)
    assert ix.position() != before_reorg
    assert held(ix.view()) == set(survivors)
    assert sum(c.records for c in ix.view().merchant_trust(merchant).certificates) == count - 3 + len(survivors)
    with database.read() as conn:
        held = {bytes(h) for h in conn.execute(sa.select(idx_events.c.tx_hash)).scalars()}
    assert not held & orphan_txs
    assert ix.cursor() == world.w3.eth.block_number
    rebuilt_equals(ix)


def test_a_database_of_another_deployment_is_refused(world: World, database: Database,
                                                     manifest: Manifest) -> None:
    from ledger.indexer import IndexerError

    Indexer(world.w3, database, manifest).sync()
    other = Manifest.from_json({**manifest.to_json(), "deployBlock": manifest.deploy_block + 1})
    with pytest.raises(IndexerError, match="indexes chain"):
        Indexer(world.w3, database, other).sync()


# ---------------------------------------------------------------------------------------------- memoized views


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``database`` inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def test_views_are_memoized_until_the_index_moves(t: T, ix: Indexer, database: Database, manifest: Manifest) -> None:
    """A view's reads are kept while the cursor stays put (a second view costs one query), and never served once
    it moved: a new certificate is in the next view's reads, whichever indexer moved the cursor; a view made
    before the move reads the newer index (and keeps nothing under its old position)."""
    world = t.world
    m = world.actors.merchant.address
    empty = ix.position()
    assert empty == IndexPosition(manifest.deploy_block - 1, None, None)
    assert ix.view().merchant_trust(m).certificates == ()

    first = issue(t, make_cert(world, "view-first"))
    ix.sync()
    view = ix.view()
    assert view.position == ix.position() and view.position.block_number == ix.cursor()
    assert view.position.block_time == world.w3.eth.get_block(ix.cursor())["timestamp"]
    data = view.merchant_trust(m)
    product = view.product(keccak(text="gtin:view-first"))
    assert sum(c.records for c in data.certificates) == len(ix.certificates(merchant=m)) >= 1
    assert [c.certificate_id for c in product.certificates] == [first]
    assert list(product.certificates) == ix.certificates(product=keccak(text="gtin:view-first"))
    with statements(database) as seen:
        again = ix.view()
        assert again.merchant_trust(m) is data and again.product(keccak(text="gtin:view-first")) is product
    assert [q for q in seen if q.lstrip().upper().startswith("SELECT")] == seen[-1:]  # one: the position
    assert "idx_state" in seen[-1]

    def certificates(v: IndexView) -> int:
        return sum(c.records for c in v.merchant_trust(m).certificates)

    before = certificates(view)
    second = issue(t, make_cert(world, "view-second"))
    assert ix.view().merchant_trust(m) is data  # not indexed yet: the index has not moved
    ix.sync()
    moved = ix.view()
    assert moved.position != view.position
    assert certificates(moved) == before + 1
    # a view from before the move serves what it read at its position, and reads anything else from the newer
    # index, keeping none of that under its own position
    assert view.merchant_trust(m) is data and view.product(keccak(text="gtin:view-first")) is product
    assert [c.certificate_id for c in view.product(keccak(text="gtin:view-second")).certificates] == [second]
    assert ix._view_cache.get(view.position, ("product", keccak(text="gtin:view-second"), ())) is None

    other = Indexer(world.w3, database, manifest, retry_delay=0)  # another process moves the shared cursor
    third = issue(t, make_cert(world, "view-third"))
    other.sync()
    assert ix.view().position == other.position() != moved.position
    assert certificates(ix.view()) == before + 2
    assert [c.certificate_id for c in ix.view().product(keccak(text="gtin:view-third")).certificates] == [third]


def test_bounded_cache_drops_the_least_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("b"), cache.get("a"), cache.get("c"), len(cache)) == (None, 1, 3, 2)
    assert (cache.hits, cache.misses) == (3, 1)
    cache.clear()
    assert cache.get("a") is None and len(cache) == 0
