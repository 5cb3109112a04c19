"""Leases (ledger/storage/lease.py): one holder at a time, renewal, takeover after expiry, release, and a
race to create the row won by exactly one. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from ledger.storage import Database
from ledger.storage.lease import Lease


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_one_holder_renews_and_another_takes_over_only_after_expiry(database: Database) -> None:
    clock = Clock()
    a = Lease(database, "checkpointer", ttl=10, holder="a", clock=clock)
    b = Lease(database, "checkpointer", ttl=10, holder="b", clock=clock)
    assert a.acquire() and a.epoch == 1
    assert not b.acquire() and b.epoch is None
    clock.ms += 9_000
    assert a.acquire() and a.epoch == 1  # renewed: held until +10 s from now
    clock.ms += 9_000
    assert not b.acquire()
    assert a.current() == ("a", clock.ms + 1_000, 1)
    clock.ms += 1_001  # a stopped renewing: expired
    assert b.acquire() and b.epoch == 2
    assert not a.acquire()
    b.release()
    assert a.acquire() and a.epoch == 3  # a clean stop hands over at once
    assert Lease(database, "another-job", ttl=1, holder="b", clock=clock).acquire()  # leases are per name


def test_a_race_to_create_the_lease_has_one_winner(database: Database) -> None:
    leases = [Lease(database, "race", ttl=60, holder=f"h{i}") for i in range(6)]
    won: list[str] = []
    barrier = threading.Barrier(len(leases))

    def take(lease: Lease) -> None:
        barrier.wait()
        if lease.acquire():
            won.append(lease.holder)

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    current = leases[0].current()
    assert current is not None and current[0] == won[0]


def test_a_lease_needs_a_positive_ttl(database: Database) -> None:
    with pytest.raises(ValueError):
        Lease(database, "x", ttl=0)
