"""The review tally: each merchant's star counts under every anchored checkpoint, counted once.

A trust profile counts a merchant's reviews under the latest anchored checkpoint (:mod:`ledger.trust`). Read
leaf by leaf, that is O(k) leaves read, hashed and proved per profile for a merchant with k reviews: seconds
for a merchant with 10^5. The tally does the counting once per checkpoint instead. For each anchored
checkpoint beyond what it has counted, in size order, :meth:`ReviewTally.catch_up` reads the new leaves
``[counted, size)`` from the review log's store, parses each with the strict parser, checks that the store's
``merchant`` and ``purchase`` columns say what the bytes say, extends its compact range
(:class:`~ledger.merkle.CompactRange`) with each leaf's hash, and commits the new counts only when the range's
root equals the checkpoint's anchored root. So a row of the tally is a sum over leaves that were shown to be
exactly the anchored leaves, the same fact an inclusion proof per leaf would establish.

It stops (``stalled_at``, ``stall_reason``) at the first leaf it cannot count: bytes the strict parser
rejects, columns that disagree with the bytes, or a range whose root is not the anchored one. Everything
counted before stays usable; profiles for later checkpoints are then read leaf by leaf, as without a tally,
and name each failing leaf. :meth:`ReviewTally.reset` starts again from the empty log.

Duplicates: ``log_leaves.purchase`` is unique, and the tally only counts leaves whose bytes name the purchase
their column holds, so no purchase is counted twice.

What it trusts: the database it lives in, as the index does. The product record's ``source=chain`` and a proof
bundle re-check everything against the chain alone; the tally is the service's own arithmetic, verified when
written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from . import merkle
from .errors import InvalidInput
from .indexer import CheckpointRecord
from .merkle import CompactRange
from .reviews import parse_review_leaf
from .storage import Database
from .storage.db import now_ms
from .storage.schema import tally_checkpoints, tally_merchants, tally_state

__all__ = ["ReviewTally", "TallyState", "TallyStore"]

Stars = tuple[int, int, int, int, int]
_STAR_COLUMNS = tuple(tally_merchants.c[f"stars_{n}"] for n in range(1, 6))
_CHUNK = 5000  # leaves read per query
_SQL_CHUNK = 500  # bound parameters per IN (...)


class TallyStore(Protocol):
    """What the tally reads of the review log (:class:`~ledger.reviewlog.ReviewLogService`)."""

    @property
    def size(self) -> int: ...

    def leaf_rows(self, start: int, end: int) -> list[tuple[int, bytes, bytes, bytes]]: ...


@dataclass(frozen=True)
class TallyState:
    """Where the tally stands: ``size`` leaves counted (the last verified checkpoint's size), and the first
    leaf it could not count, with why (None while it has met none)."""

    size: int
    stalled_at: int | None
    stall_reason: str | None


class ReviewTally:
    """Per-merchant star counts under each verified anchored checkpoint, kept in ``db`` (migration 0005).

    Thread-safe; several processes may share one database (each range is committed by a compare-and-set of the
    counted size, so two workers never count it twice).
    """

    def __init__(self, db: Database, store: TallyStore) -> None:
        self._db = db
        self._store = store
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------------------

    def state(self) -> TallyState:
        with self._db.read() as conn:
            row = conn.execute(sa.select(tally_state.c.tree_size, tally_state.c.stalled_at,
                                         tally_state.c.stall_reason)).one_or_none()
        if row is None:
            return TallyState(0, None, None)
        return TallyState(int(row.tree_size), None if row.stalled_at is None else int(row.stalled_at),
                          row.stall_reason)

    def stars(self, merchant: str, size: int, root: bytes) -> Stars | None:
        """Counts of ``merchant``'s 1- to 5-star leaves among the first ``size``, when the tally verified
        exactly that anchored (size, root); None when it did not (not yet, or stalled before it), and the
        caller counts leaf by leaf. Every leaf counted names ``merchant`` in its bytes; none is counted twice.
        """
        address = _address(merchant)
        with self._db.read() as conn:
            verified = conn.execute(sa.select(tally_checkpoints.c.root)
                                    .where(tally_checkpoints.c.tree_size == size)).scalar_one_or_none()
            if verified is None or bytes(verified) != bytes(root):
                return None
            row = conn.execute(
                sa.select(*_STAR_COLUMNS)
                .where(tally_merchants.c.merchant == address, tally_merchants.c.tree_size <= size)
                .order_by(tally_merchants.c.tree_size.desc()).limit(1)).one_or_none()
        if row is None:
            return (0, 0, 0, 0, 0)
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))

    # -- counting --------------------------------------------------------------------------------------------

    def catch_up(self, checkpoints: Iterable[CheckpointRecord]) -> TallyState:
        """Count the leaves of every anchored checkpoint in ``checkpoints`` beyond the counted size that the
        store holds, one checkpoint at a time in size order; stop at the first that fails (recorded in the
        state). Returns the state after."""
        with self._lock:
            targets: dict[int, bytes] = {}
            races = 0
            for c in checkpoints:
                targets.setdefault(int(c.size), bytes(c.root))
            while True:
                state, frontier = self._load()
                if state.stalled_at is not None:
                    return state
                ahead = sorted(s for s in targets if state.size < s <= self._store.size)
                if not ahead:
                    return state
                size = ahead[0]
                try:
                    self._count(state.size, frontier, size, targets[size])
                except sa.exc.IntegrityError:
                    # another process counted the same range first: read where it left the state
                    races += 1
                    if races > 3:
                        raise

    def reset(self) -> None:
        """Forget every count (and a stall): the next :meth:`catch_up` counts from leaf 0."""
        with self._lock, self._db.write() as conn:
            conn.execute(tally_merchants.delete())
            conn.execute(tally_checkpoints.delete())
            conn.execute(tally_state.delete())

    def _load(self) -> tuple[TallyState, CompactRange]:
        with self._db.read() as conn:
            row = conn.execute(sa.select(tally_state)).one_or_none()
        if row is None:
            return TallyState(0, None, None), CompactRange()
        state = TallyState(int(row.tree_size), None if row.stalled_at is None else int(row.stalled_at),
                           row.stall_reason)
        return state, CompactRange.from_bytes(state.size, bytes(row.frontier))

    def _count(self, start: int, frontier: CompactRange, size: int, root: bytes) -> None:
        deltas: dict[bytes, list[int]] = {}
        for lo in range(start, size, _CHUNK):
            for index, raw, merchant, purchase in self._store.leaf_rows(lo, min(lo + _CHUNK, size)):
                try:
                    leaf = parse_review_leaf(raw)
                except InvalidInput as exc:
                    self._stall(start, index, f"leaf {index} is not a canonical review leaf: {exc}")
                    return
                if bytes.fromhex(leaf.merchant[2:]) != merchant or leaf.purchase != purchase:
                    self._stall(start, index, f"leaf {index}: the stored merchant and purchase columns "
                                              f"(0x{merchant.hex()}, 0x{purchase.hex()}) are not the leaf's")
                    return
                frontier.append(merkle.leaf_hash(raw))
                deltas.setdefault(merchant, [0, 0, 0, 0, 0])[leaf.rating - 1] += 1
        if frontier.size != size:
            self._stall(start, frontier.size, f"the store returned {frontier.size - start} leaves of "
                                              f"[{start}, {size})")
            return
        if frontier.root() != root:
            self._stall(start, start, f"leaves [{start}, {size}) do not reproduce the anchored root 0x{root.hex()} "
                                      f"of size {size} (found 0x{frontier.root().hex()})")
            return
        with self._db.write() as conn:
            if not self._advance(conn, start, size, frontier.to_bytes(), None, None):
                return  # another worker counted this range first
            conn.execute(tally_checkpoints.insert().values(tree_size=size, root=root))
            before = _latest(conn, sorted(deltas))
            rows = []
            for merchant, delta in deltas.items():
                prior = before.get(merchant, (0, 0, 0, 0, 0))
                rows.append({"merchant": merchant, "tree_size": size,
                             **{f"stars_{n + 1}": prior[n] + delta[n] for n in range(5)}})
            for i in range(0, len(rows), _SQL_CHUNK):
                conn.execute(tally_merchants.insert(), rows[i : i + _SQL_CHUNK])

    def _stall(self, start: int, index: int, reason: str) -> None:
        with self._db.write() as conn:
            row = conn.execute(sa.select(tally_state.c.frontier)).scalar_one_or_none()
            frontier = b"" if row is None else bytes(row)
            self._advance(conn, start, start, frontier, index, reason)

    @staticmethod
    def _advance(conn: sa.Connection, start: int, size: int, frontier: bytes, stalled_at: int | None,
                 reason: str | None) -> bool:
        """Move the state from ``start`` to ``size`` (compare-and-set); False when it is no longer at
        ``start``."""
        values = {"tree_size": size, "frontier": frontier, "stalled_at": stalled_at, "stall_reason": reason,
                  "updated_ms": now_ms()}
        if start == 0 and conn.execute(sa.select(tally_state.c.state_id)).one_or_none() is None:
            # the first row; a worker inserting it at the same moment fails on the key (catch_up retries)
            conn.execute(tally_state.insert().values(state_id=1, **values))
            return True
        done = conn.execute(tally_state.update().where(tally_state.c.state_id == 1,
                                                       tally_state.c.tree_size == start,
                                                       tally_state.c.stalled_at.is_(None)).values(**values))
        return done.rowcount == 1


def _latest(conn: sa.Connection, merchants: Sequence[bytes]) -> dict[bytes, Stars]:
    """Each of ``merchants``' latest cumulative counts."""
    out: dict[bytes, Stars] = {}
    for i in range(0, len(merchants), _SQL_CHUNK):
        chunk = merchants[i : i + _SQL_CHUNK]
        last = (sa.select(tally_merchants.c.merchant, sa.func.max(tally_merchants.c.tree_size).label("size"))
                .where(tally_merchants.c.merchant.in_(chunk)).group_by(tally_merchants.c.merchant).subquery())
        for row in conn.execute(sa.select(tally_merchants.c.merchant, *_STAR_COLUMNS).join(
                last, sa.and_(tally_merchants.c.merchant == last.c.merchant,
                              tally_merchants.c.tree_size == last.c.size))):
            out[bytes(row[0])] = (int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]))
    return out


def _address(merchant: str) -> bytes:
    if not isinstance(merchant, str) or len(merchant) != 42 or merchant[:2] not in ("0x", "0X"):
        raise InvalidInput(f"not an address: {merchant!r}")
    try:
        return bytes.fromhex(merchant[2:])
    except ValueError:
        raise InvalidInput(f"not an address: {merchant!r}") from None
