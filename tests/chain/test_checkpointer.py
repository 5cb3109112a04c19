"""The checkpointer anchors the log's checkpoints through the operator's own durable sender.

Most tests drive it over a small in-memory log (``MemoryLog``, a plain MerkleTree plus acceptance times: the
checkpointer only reads size, roots, consistency proofs and acceptance times); the last one runs it over the
real review log service. Every test runs on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.checkpointer import Checkpointer, CheckpointStatus, LogDiverged
from ledger.merkle import MerkleTree, verify_consistency
from ledger.sender import OutboxStatus, TxSender
from ledger.storage import Database
from ledger.storage.schema import log_checkpoints

from ..conftest import World

pytestmark = pytest.mark.chain

MMD = 60


class MemoryLog:
    """A log view: leaves appended with their acceptance time (ms)."""

    def __init__(self) -> None:
        self.tree = MerkleTree()
        self.accepted: list[int] = []

    def add(self, n: int, at_ms: int | None = None) -> None:
        for _ in range(n):
            i = self.tree.size
            self.tree.append(hashlib.sha256(b"leaf %d" % i).digest())
            self.accepted.append(at_ms if at_ms is not None else int(time.time() * 1000))

    @property
    def size(self) -> int:
        return self.tree.size

    def root(self, size: int | None = None) -> bytes:
        return self.tree.root(size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self.tree.consistency_proof(old_size, new_size)

    def accepted_ms(self, index: int) -> int:
        return self.accepted[index]


def _make(world: World, database: Database, log: Any, *, actor: str = "operator", **kwargs: Any) -> Checkpointer:
    sender = TxSender(world.w3, database, world.actors.by_name[actor].account)
    return Checkpointer(log, sender, world.d.review_log, database, max_merge_delay=MMD, **kwargs)


def _anchor(cp: Checkpointer) -> Any:
    """Tick until the checkpoint in flight settles."""
    result = cp.tick()
    for _ in range(200):
        if result.action in ("anchored", "failed", "idle"):
            return result
        cp.sender.step()
        result = cp.tick()
    raise AssertionError(f"checkpoint did not settle: {result}")


def _chain(world: World) -> tuple[int, bytes, int]:
    root, size = world.d.review_log.functions.latestCheckpoint().call()
    return int(size), bytes(root), int(world.d.review_log.functions.checkpointCount().call())


def test_idle_on_an_empty_log(world: World, database: Database) -> None:
    cp = _make(world, database, MemoryLog())
    assert cp.tick().action == "idle"
    assert cp.checkpoints() == []


def test_anchors_each_extension_with_a_proof_the_chain_accepts(world: World, database: Database) -> None:
    log = MemoryLog()
    cp = _make(world, database, log)
    previous = (0, b"")
    for count in (5, 12, 47, 1, 191):
        log.add(count)
        assert cp.tick().action == "submitted"
        result = _anchor(cp)
        assert result.action == "anchored", result
        size, root, _ = _chain(world)
        assert (size, root) == (log.size, log.root())
        if previous[0]:
            verify_consistency(previous[0], size, previous[1], root, log.consistency_proof(previous[0], size))
        previous = (size, root)
        stored = cp.checkpoint(size)
        assert stored is not None and stored.status is CheckpointStatus.ANCHORED
        assert stored.tx_hash is not None and stored.block_number is not None and stored.anchored_ms
    assert _chain(world)[2] == 5
    assert cp.tick().action == "idle"  # nothing new


def test_a_restarted_checkpointer_never_anchors_twice(world: World, database: Database) -> None:
    log = MemoryLog()
    log.add(9)
    first = _make(world, database, log)
    assert first.tick().action == "submitted"
    # the process dies here; a new one over the same database takes over
    second = _make(world, database, log)
    result = _anchor(second)
    assert result.action == "anchored"
    assert _chain(world)[0::2] == (9, 1)
    assert second.tick().action == "idle"
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(log_checkpoints)).scalar_one() == 1


def test_a_key_without_the_operator_role_fails_with_the_named_error(world: World, database: Database) -> None:
    log = MemoryLog()
    log.add(3)
    cp = _make(world, database, log, actor="relayer")  # the relayer holds no role
    cp.tick()
    result = _anchor(cp)
    assert result.action == "failed"
    assert result.checkpoint.status is CheckpointStatus.FAILED
    assert "ReviewLogUnauthorized" in (result.checkpoint.error or "")
    entry = cp.sender.entry(result.checkpoint.outbox_key)
    assert entry is not None and entry.status is OutboxStatus.FAILED
    assert _chain(world)[2] == 0
    # the operator's own checkpointer then anchors the same size under a fresh key
    good = _make(world, database, log)
    assert good.tick().action == "submitted"
    assert _anchor(good).action == "anchored"
    assert _chain(world)[0::2] == (3, 1)


def test_a_chain_checkpoint_the_log_does_not_reproduce_stops_it(world: World, database: Database) -> None:
    log = MemoryLog()
    log.add(4)
    other = MerkleTree([hashlib.sha256(b"other %d" % i).digest() for i in range(4)])
    world.actors.operator.send(world.d.review_log.functions.appendCheckpoint(4, other.root(), []))
    cp = _make(world, database, log)
    with pytest.raises(LogDiverged, match="size 4"):
        cp.tick()
    # a local log shorter than what the chain vouches for is the same alarm
    with pytest.raises(LogDiverged, match="only 2 leaves"):
        short = MemoryLog()
        short.add(2)
        _make(world, database, short).tick()


def test_run_loop_stops_on_divergence(world: World, database: Database) -> None:
    log = MemoryLog()
    log.add(2)
    world.actors.operator.send(world.d.review_log.functions.appendCheckpoint(3, b"\x07" * 32, []))
    cp = _make(world, database, log, interval=0.01)
    cp.run()  # returns by itself
    assert isinstance(cp.last_error, LogDiverged)


def test_min_batch_waits_for_company_until_half_the_mmd(world: World, database: Database) -> None:
    log = MemoryLog()
    now = [1_000_000.0]
    log.add(2, at_ms=int(now[0] * 1000))
    cp = _make(world, database, log, min_batch=10, clock=lambda: now[0])
    assert cp.tick().action == "idle"
    now[0] += MMD / 2
    assert cp.tick().action == "submitted"


def test_overdue_lists_broken_promises_until_anchored(world: World, database: Database) -> None:
    log = MemoryLog()
    t0 = 2_000_000
    log.add(3, at_ms=t0 * 1000)
    log.add(2, at_ms=(t0 + 50) * 1000)
    cp = _make(world, database, log)
    assert cp.overdue(now=t0 + MMD) == (0, 0)  # exactly at the deadline: still kept
    assert cp.overdue(now=t0 + MMD + 1) == (0, 3)
    assert cp.overdue(now=t0 + 50 + MMD + 1) == (0, 5)
    cp.tick()
    _anchor(cp)
    assert cp.overdue(now=t0 + 10 * MMD) == (5, 5)


def test_background_loop_anchors(world: World, database: Database) -> None:
    log = MemoryLog()
    log.add(6)
    cp = _make(world, database, log, interval=0.01)
    cp.sender.start()
    cp.start()
    try:
        deadline = time.monotonic() + 60
        while _chain(world)[0] != 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        cp.stop()
        cp.sender.stop()
    assert _chain(world)[0] == 6


def test_over_the_review_log_service_every_receipt_is_provable_on_chain(world: World, database: Database) -> None:
    """Reviews admitted by the real service, anchored by the checkpointer: each receipt's leaf has an
    inclusion proof that the ReviewLog contract itself accepts against the anchored checkpoint."""
    from ..storage.reviewlog_helpers import make_service, submission

    service = make_service(database)
    try:
        receipts = service.submit_many([submission(f"order-{i}", rating=1 + i % 5) for i in range(40)])
        assert all(not isinstance(r, Exception) for r in receipts), receipts
        cp = _make(world, database, service)
        cp.tick()
        assert _anchor(cp).action == "anchored"
        size, root, index = _chain(world)
        assert size == 40
        rl = world.d.review_log.functions
        for r in receipts:
            assert not isinstance(r, Exception)
            proof = service.inclusion_proof(r.leaf_index, size)
            assert rl.verifyInclusion(index - 1, size, root, r.leaf_index, r.leaf_hash, proof).call()
        more = service.submit_many([submission(f"order-{i}") for i in range(40, 45)])
        assert all(not isinstance(r, Exception) for r in more)
        cp.tick()
        assert _anchor(cp).action == "anchored"
        assert _chain(world)[0::2] == (45, 2)
    finally:
        service.close()


def test_replicas_anchor_through_one_lease_holder_and_take_over(world: World, database: Database) -> None:
    """Two replicas of the service over one database and one chain: both append reviews; only the lease
    holder's checkpointer anchors, and it anchors the other's leaves too (each tick first follows the log);
    the other stands by. When the holder dies (stops renewing) the other takes over after the lease expires,
    follows the checkpoint left in flight, and anchors the rest. Nothing is anchored twice or refused."""
    from ledger.storage.lease import Lease

    from ..storage.reviewlog_helpers import make_service, submission

    now = [1_000_000]
    a_log, b_log = make_service(database), make_service(database)
    try:
        a = _make(world, database, a_log, lease=Lease(database, "checkpointer", ttl=20, holder="a",
                                                      clock=lambda: now[0]))
        b = _make(world, database, b_log, lease=Lease(database, "checkpointer", ttl=20, holder="b",
                                                      clock=lambda: now[0]))
        assert a.tick().action == "idle"  # a takes the lease
        a_log.submit_many([submission(f"replica-a-{i}") for i in range(5)])
        b_log.submit_many([submission(f"replica-b-{i}") for i in range(7)])
        standby = b.tick()
        assert (standby.action, standby.local_size) == ("standby", 12)  # b follows the log, anchors nothing
        assert _anchor(a).action == "anchored" and _chain(world)[0::2] == (12, 1)

        b_log.submit_many([submission(f"replica-b-{i}") for i in range(7, 10)])
        assert a.tick().action == "submitted"  # a's checkpoint of 15 is in flight ... and a dies here
        now[0] += 10_000
        assert b.tick().action == "standby"  # the lease has not expired yet
        now[0] += 10_001
        assert _anchor(b).action == "anchored"  # b took over and followed a's checkpoint to its anchoring
        assert _chain(world)[0::2] == (15, 2)
        b_log.submit_many([submission("replica-b-late")])
        assert _anchor(b).action == "anchored" and _chain(world)[0::2] == (16, 3)
        assert a.tick().action == "standby"
        assert [c.status for c in b.checkpoints()] == [CheckpointStatus.ANCHORED] * 3
    finally:
        a_log.close()
        b_log.close()
