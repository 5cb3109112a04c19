"""The review tally (ledger/tally.py): per-merchant star counts kept per verified anchored checkpoint.

A profile or product record computed with the tally is byte for byte the one computed leaf by leaf (and the
one from the whole sequence of leaves), for every merchant, now and at earlier moments, with takedowns and
pending leaves; it reads only the leaves past the checkpoint and the taken-down ones. The tally counts a range
only when its leaves reproduce the anchored root, and stops, naming the leaf, on an altered leaf, a malformed
one, or columns that disagree with the bytes; profiles then fall back to leaf by leaf. Two tallies over one
database never count a range twice.

Runs on SQLite and PostgreSQL (``database``) and on py-evm or a live node (``--chain``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.product import product_record
from ledger.reviewlog import ReviewLogService
from ledger.reviews import parse_review_leaf
from ledger.storage import Database
from ledger.storage.schema import log_leaves
from ledger.tally import ReviewTally
from ledger.trust import clear_leaf_caches, trust_profile

from ..storage.reviewlog_helpers import attestation, make_service, submission
from .test_disputes import Outcome, T
from .test_trust import anchor

pytestmark = pytest.mark.chain

PRODUCT = keccak(text="gtin:tally-test")
OTHER_PRODUCT = keccak(text="gtin:tally-other")


class Counting:
    """A leaf store that counts the leaves read through it."""

    def __init__(self, service: ReviewLogService) -> None:
        self.service = service
        self.read = 0

    @property
    def size(self) -> int:
        return self.service.size

    def leaf_indices(self, **kw: Any) -> list[int]:
        return self.service.leaf_indices(**kw)

    def leaves_at(self, indices: list[int]) -> list[bytes]:
        self.read += len(indices)
        return self.service.leaves_at(indices)

    def leaves(self, start: int, end: int) -> list[bytes]:
        return self.service.leaves(start, end)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self.service.leaf_hashes(start, end)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self.service.inclusion_proof(index, size)


@pytest.fixture
def service(database: Database) -> Iterator[ReviewLogService]:
    s = make_service(database)
    try:
        yield s
    finally:
        s.close()


def fill(service: ReviewLogService, t: T, n: int, tag: str) -> None:
    m, other = t.a.merchant.address, t.a.merchant2.address
    for i in range(n):
        merchant = other if i % 3 == 0 else m
        product = OTHER_PRODUCT if i % 4 == 0 else PRODUCT
        order = f"tally-{tag}-{i}"
        service.submit(submission(order, rating=1 + (i * 7) % 5, merchant=merchant, product=product,
                                  att=attestation(order, merchant=merchant, product=product)))


def rewrite(database: Database, index: int, **values: Any) -> None:
    with database.write() as conn:
        conn.execute(sa.update(log_leaves).where(log_leaves.c.leaf_index == index).values(**values))


def test_profiles_and_records_from_the_tally_equal_leaf_by_leaf(t: T, ix: Indexer, manifest: Manifest,
                                                                database: Database,
                                                                service: ReviewLogService) -> None:
    m, other = t.a.merchant.address, t.a.merchant2.address
    fill(service, t, 40, "equal")
    leaves = service.leaves(0, service.size)
    first = anchor(t, leaves, 9, 0)
    t.chain.increase_time(60)
    second = anchor(t, leaves, 25, 9)
    t.chain.increase_time(60)
    anchor(t, leaves, 33, 25)  # leaves 33..39 pending
    t.review_final(Outcome.REVIEW_REMOVED, leaf=4)  # a leaf of m below every later checkpoint
    ix.sync()
    tally = ReviewTally(database, service)
    state = tally.catch_up(ix.checkpoints())
    assert (state.size, state.stalled_at) == (33, None)
    now = t.now()
    for who in (m, other):
        for when in (first, second, now):
            plain = trust_profile(who, indexer=ix, leaves=service, as_of=when)
            fast = trust_profile(who, indexer=ix, leaves=service, as_of=when, tally=tally)
            assert fast.to_json() == plain.to_json()
            assert fast.to_json() == trust_profile(who, indexer=ix, leaves=leaves, as_of=when).to_json()
    counted = trust_profile(m, indexer=ix, leaves=service, as_of=now, tally=tally).reviews
    assert (counted.taken_down, counted.beyond_checkpoint, counted.verified_size) == (1, 4, 33)  # 34, 35, 37, 38
    for product in (PRODUCT, OTHER_PRODUCT):
        assert product_record(product, indexer=ix, leaves=service, tally=tally).to_json() == \
            product_record(product, indexer=ix, leaves=service).to_json()

    clear_leaf_caches()
    slow, fast_store = Counting(service), Counting(service)
    trust_profile(m, indexer=ix, leaves=slow, as_of=now)
    trust_profile(m, indexer=ix, leaves=fast_store, as_of=now, tally=tally)
    mine = service.leaf_indices(merchant=m)
    assert slow.read == len(mine)  # every leaf of the merchant
    assert fast_store.read == 1 + len([i for i in mine if i >= 33])  # the taken-down leaf and the pending ones


def test_a_checkpoint_not_yet_tallied_is_counted_leaf_by_leaf(t: T, ix: Indexer, database: Database,
                                                              service: ReviewLogService) -> None:
    m = t.a.merchant.address
    fill(service, t, 12, "behind")
    leaves = service.leaves(0, service.size)
    anchor(t, leaves, 6, 0)
    ix.sync()
    tally = ReviewTally(database, service)
    assert tally.catch_up(ix.checkpoints()).size == 6
    t.chain.increase_time(60)
    anchor(t, leaves, 12, 6)
    ix.sync()  # indexed, not tallied: the tally has no counts for size 12
    checkpoint = ix.checkpoints()[-1]
    assert tally.stars(m, checkpoint.size, checkpoint.root) is None
    assert trust_profile(m, indexer=ix, leaves=service, as_of=t.now(), tally=tally).to_json() == \
        trust_profile(m, indexer=ix, leaves=service, as_of=t.now()).to_json()
    assert tally.catch_up(ix.checkpoints()).size == 12
    assert tally.stars(m, checkpoint.size, b"\x00" * 32) is None  # another root of that size: not verified


@pytest.mark.parametrize("fault", ["altered", "malformed", "columns"])
def test_the_tally_stops_at_a_leaf_it_cannot_count(t: T, ix: Indexer, database: Database,
                                                   service: ReviewLogService, fault: str) -> None:
    """Counted checkpoints stay usable; from the bad one on, the profile is the leaf-by-leaf one, which names
    the leaf."""
    m = t.a.merchant.address
    fill(service, t, 16, f"stall-{fault}")
    leaves = service.leaves(0, service.size)
    anchor(t, leaves, 8, 0)
    t.chain.increase_time(60)
    anchor(t, leaves, 16, 8)
    ix.sync()
    bad = 10  # a leaf of m (10 % 3 != 0) in the second checkpoint
    if fault == "altered":
        leaf = parse_review_leaf(leaves[bad])
        rewrite(database, bad, leaf=dataclasses.replace(leaf, rating=leaf.rating % 5 + 1).canonical_bytes())
    elif fault == "malformed":
        rewrite(database, bad, leaf=b'{"not":"a review"}')
    else:
        rewrite(database, bad, merchant=bytes.fromhex(t.a.merchant2.address[2:]))
    tally = ReviewTally(database, service)
    state = tally.catch_up(ix.checkpoints())
    expected = {"altered": (8, "do not reproduce the anchored root"), "malformed": (bad, "not a canonical review"),
                "columns": (bad, "columns")}[fault]
    assert (state.size, state.stalled_at) == (8, expected[0])
    assert state.stall_reason is not None and expected[1] in state.stall_reason
    assert tally.catch_up(ix.checkpoints()) == state  # it stays stopped
    first, second = ix.checkpoints()
    assert tally.stars(m, first.size, first.root) is not None
    assert tally.stars(m, second.size, second.root) is None
    now = t.now()
    with_tally = trust_profile(m, indexer=ix, leaves=service, as_of=now, tally=tally)
    assert with_tally.to_json() == trust_profile(m, indexer=ix, leaves=service, as_of=now).to_json()
    if fault != "columns":
        assert any(r.message.startswith(f"leaf {bad}") for r in with_tally.reviews.exclusions)
    rewrite(database, bad, leaf=leaves[bad], merchant=bytes.fromhex(m[2:]))  # repaired
    assert tally.catch_up(ix.checkpoints()) == state  # still stopped until reset
    tally.reset()
    assert tally.catch_up(ix.checkpoints()) == type(state)(16, None, None)


def test_two_tallies_on_one_database_count_each_range_once(t: T, ix: Indexer, database: Database,
                                                           service: ReviewLogService) -> None:
    m, other = t.a.merchant.address, t.a.merchant2.address
    fill(service, t, 30, "race")
    leaves = service.leaves(0, service.size)
    previous = 0
    for size in (5, 11, 18, 30):
        anchor(t, leaves, size, previous)
        t.chain.increase_time(60)
        previous = size
    ix.sync()
    checkpoints = ix.checkpoints()
    tallies = [ReviewTally(database, service) for _ in range(3)]
    errors: list[BaseException] = []

    def run(tally: ReviewTally) -> None:
        try:
            tally.catch_up(checkpoints)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(tally,)) for tally in tallies]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    last = checkpoints[-1]
    for who in (m, other):
        stars = [0, 0, 0, 0, 0]
        for raw in leaves:
            leaf = parse_review_leaf(raw)
            if leaf.merchant == who.lower():
                stars[leaf.rating - 1] += 1
        assert tallies[0].stars(who, last.size, last.root) == tuple(stars)
    assert tallies[1].state().size == 30
