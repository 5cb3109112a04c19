"""Fixtures shared by the suites that index the chain (indexer, verification, trust profile, product record).

``extras`` and ``t`` are the dispute-driving helpers of test_disputes (which keeps fixtures of its own under the
same names); ``manifest`` describes the session's deployment; ``ix`` is a fresh indexer over the test's
``database`` (SQLite or PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.storage import Database

from ..conftest import World
from .test_disputes import Extras, T, _key


@pytest.fixture(scope="module")
def extras(_world: World) -> Iterator[Extras]:
    """The consumer, spare arbitrator and panel keys of test_disputes, funded for the module."""
    snap = _world.chain.snapshot()
    x = Extras(_key(_world.w3, "buyer"), _key(_world.w3, "buyer2"),
               [_key(_world.w3, f"arbitrator{i}") for i in range(2, 6)], _key(_world.w3, "panel"))
    for k in (x.buyer, x.buyer2, *x.arbs, x.panel):
        _world.chain.fund(k.address, 10**20)
    try:
        yield x
    finally:
        _world.chain.revert(snap)
        _world.actors.reset_nonces()


@pytest.fixture
def t(world: World, extras: Extras) -> Iterator[T]:
    helper = T(world, extras)
    try:
        yield helper
    finally:
        helper.reset_nonces()


@pytest.fixture(scope="module")
def manifest(_world: World) -> Manifest:
    return Manifest.from_deployment(_world.w3, _world.d)


@pytest.fixture
def ix(world: World, database: Database, manifest: Manifest) -> Indexer:
    return Indexer(world.w3, database, manifest, retry_delay=0)
