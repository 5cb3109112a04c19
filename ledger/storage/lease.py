"""Leases: work that exactly one of several replicas sharing a database may do at a time.

A lease is one row of ``leases``: its holder and the time until which it holds it. :meth:`Lease.acquire`
takes or renews it in one transaction (the row locked on PostgreSQL; SQLite's write transaction is the lock):
the holder renews it; anyone else takes it only after it expired, and then ``epoch`` goes up. A holder that
dies simply stops renewing, and another replica takes over ``ttl`` later at the most. A holder that stalls past
its lease may act once more before it sees it lost the lease, so a lease is for work that is safe, if wasteful,
to do twice (anchoring a checkpoint: the chain refuses the second one that proves consistency from a stale
size), not for work that must never be done twice (the review log's compare-and-set guards that).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from .db import Database, now_ms
from .schema import leases

__all__ = ["Lease", "process_id"]


def process_id() -> str:
    """An id for this process: host, pid and a random part (a restarted process is another holder)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease ``name`` in ``db``, held for ``ttl`` seconds at a time by ``holder``."""

    def __init__(self, db: Database, name: str, *, ttl: float, holder: str | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.db = db
        self.name = name
        self.ttl_ms = int(ttl * 1000)
        self.holder = holder or process_id()
        self.clock = clock
        self.epoch: int | None = None
        """The epoch under which this holder last held the lease (None: never)."""

    def acquire(self) -> bool:
        """Take or renew the lease; True when this holder holds it now, until ``now + ttl``."""
        now = self.clock()
        with self.db.write() as conn:
            row = conn.execute(self.db.locked(sa.select(leases).where(leases.c.name == self.name))).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(leases.insert().values(name=self.name, holder=self.holder,
                                                            until_ms=now + self.ttl_ms, epoch=1))
                except sa.exc.IntegrityError:
                    return False  # another replica created it at the same moment: it holds it
                self.epoch = 1
                return True
            if row.holder != self.holder and row.until_ms > now:
                return False
            epoch = int(row.epoch) if row.holder == self.holder else int(row.epoch) + 1
            conn.execute(leases.update().where(leases.c.name == self.name)
                         .values(holder=self.holder, until_ms=now + self.ttl_ms, epoch=epoch))
        self.epoch = epoch
        return True

    def release(self) -> None:
        """Give the lease up now (a clean stop), if this holder holds it."""
        with self.db.write() as conn:
            conn.execute(leases.update().where(leases.c.name == self.name, leases.c.holder == self.holder)
                         .values(until_ms=0))

    def current(self) -> tuple[str, int, int] | None:
        """(holder, until_ms, epoch) of the lease, or None when nobody ever took it."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == self.name)).first()
        return None if row is None else (str(row.holder), int(row.until_ms), int(row.epoch))
