"""A full, verified copy of the review log that outlives its operator (docs/mirror.md).

An auditor who keeps only proofs depends on the operator to keep serving the leaves; a mirror keeps the
leaves themselves, so that the log can still be read, re-proved and re-served if the operator disappears or
turns hostile. The mirror trusts exactly one thing: the checkpoints anchored on chain (index, size, root),
which the caller reads from the chain's ``CheckpointAnchored`` events, never from the server. The server is
only a source of bytes, and its bytes are kept only once they reproduce an anchored root.

What a :class:`LogMirror` holds, in a SQLite file whose schema it creates itself (SQLAlchemy Core; nothing
of the service's Alembic migrations):

* ``mirror_leaves``: every leaf's canonical bytes by index, for ``[0, size)`` where ``size`` is the size of
  the latest checkpoint it verified. Leaves the server holds beyond that checkpoint are **not** stored: they
  are unverifiable until anchored, and a mirror that kept them would have to tell verified from unverified
  bytes forever after.
* ``mirror_state``: that size, the RFC 6962 compact range of ``[0, size)`` (``merkle.CompactRange``: one
  perfect-subtree root per set bit of ``size``) and its root, and the log the mirror belongs to.
* ``mirror_checkpoints``: the anchored checkpoints it verified (index, size, root).

:meth:`LogMirror.sync` takes each anchored checkpoint beyond the verified size, fetches the leaves
``[size, checkpoint.size)``, checks each is a canonical review leaf, extends a *copy* of the compact range
with their leaf hashes, and commits the leaves, the new range and the checkpoint in one transaction only
if the range's root is the anchored root. Otherwise it raises :class:`Equivocation` (or its subclass
:class:`InvalidLeafServed`) and the transaction rolls back: the mirror stays at the last checkpoint it
verified. Consistency of each new checkpoint with the previous one is not proved separately: the new root
is computed by extending the very range whose root *is* the previous anchored root, so a match proves the
previous tree is a prefix of the new one (an RFC 6962 consistency proof would only re-derive the same
subtree roots). Leaves ``[0, size)`` are never asked for again, so a sync is resumable and fetches only
what is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from ledger.errors import InvalidInput, LedgerError, VerificationError
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, Checkpoint, CompactRange, leaf_hash
from ledger.reviews import InvalidReviewLeaf, parse_review_leaf

__all__ = [
    "FORMAT",
    "PAGE",
    "Anchored",
    "CheckpointConflict",
    "Equivocation",
    "HttpLeafSource",
    "InvalidLeafServed",
    "LeafSource",
    "LeafSourceError",
    "LogMirror",
    "MirrorCorrupt",
    "MirrorMismatch",
    "MirrorUnavailable",
    "MirroredCheckpoint",
    "SyncReport",
]

PAGE = 10_000
"""Leaves asked for per request: the service's ``MAX_RANGE`` for ``GET /v1/log/leaves`` (api/routes/log)."""

FORMAT = 1
"""The mirror file's schema version, stored in it, so that a later layout is refused rather than misread."""


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


class Equivocation(VerificationError):
    """The server's leaves for an anchored checkpoint are not the anchored log: they do not reproduce the
    anchored root, or they are not the number of leaves asked for. Nothing of the checkpoint was stored.

    ``start``/``end`` is the leaf range that was being verified (the mirror's size before, the checkpoint's
    size); ``served_root`` is None when no root could be computed from the answer.
    """

    def __init__(self, *, checkpoint_index: int, size: int, expected_root: bytes, served_root: bytes | None,
                 start: int, end: int, reason: str) -> None:
        self.checkpoint_index = checkpoint_index
        self.size = size
        self.expected_root = expected_root
        self.served_root = served_root
        self.start = start
        self.end = end
        self.reason = reason
        super().__init__(f"checkpoint {checkpoint_index} (size {size}, anchored root "
                         f"0x{expected_root.hex()}) "
                         f"is not reproduced by the server's leaves [{start}, {end}): {reason}")


class InvalidLeafServed(Equivocation):
    """The server served, within an anchored range, a leaf that is not a canonical review leaf. Refused even
    if the anchored root was computed over it: a mirror must hold only leaves every verifier can parse."""

    def __init__(self, *, checkpoint_index: int, size: int, expected_root: bytes, start: int, end: int,
                 leaf_index: int, cause: InvalidReviewLeaf) -> None:
        self.leaf_index = leaf_index
        self.cause = cause
        super().__init__(checkpoint_index=checkpoint_index, size=size, expected_root=expected_root,
                         served_root=None, start=start, end=end,
                         reason=f"leaf {leaf_index} is not a canonical review leaf ({cause})")


class CheckpointConflict(VerificationError):
    """The checkpoints given disagree with those the mirror verified (same index, another size or root), or
    with the leaves it holds. Not the server's fault: the checkpoints come from the chain, so the mirror is
    being fed another log's (or a reset chain's) checkpoints."""


class MirrorMismatch(LedgerError):
    """The mirror file belongs to another log (its stored log id differs), or has an unknown format."""


class MirrorCorrupt(VerificationError):
    """The mirror file does not verify against itself (range, root, leaf count or stored checkpoints)."""


class MirrorUnavailable(LedgerError, OSError):
    """The mirror file cannot be opened, read or written (path, permissions, not SQLite, locked)."""


class LeafSourceError(LedgerError):
    """The server did not answer a leaf range usably (unreachable, an HTTP error, a body not of the
    documented shape). "Could not check", as opposed to :class:`Equivocation`, "checked, and it lies"."""


# --------------------------------------------------------------------------------------------------------
# What the mirror reads
# --------------------------------------------------------------------------------------------------------


Anchored = Checkpoint
"""An anchored checkpoint as read from the chain (``cli._chainlog.AnchoredCheckpoint`` and
``ledger.indexer.CheckpointRecord`` both fit)."""


class LeafSource(Protocol):
    """Where leaves come from: the service over HTTP (:class:`HttpLeafSource`), or another mirror."""

    def leaves(self, start: int, end: int) -> Sequence[bytes]:
        """The leaves ``[start, end)`` as stored in the log (canonical bytes); the mirror checks the count."""
        ...


class HttpLeafSource:
    """``GET /v1/log/leaves?start=&end=`` of a TrustLedger service (api/routes/log.py), one page per call.

    Answers are parsed strictly (an object with ``start``, ``end`` echoing the request and ``leaves`` a list
    of strings); the number of leaves is left for the mirror to check, since a wrong count is the server
    serving another log, which the mirror reports against the checkpoint it was verifying.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def leaves(self, start: int, end: int) -> list[bytes]:
        what = f"leaves [{start}, {end})"
        try:
            response = self._client.get("/v1/log/leaves", params={"start": start, "end": end})
        except httpx.HTTPError as exc:
            raise LeafSourceError(f"the server did not answer for {what}: {type(exc).__name__}: {exc}") \
                from exc
        if response.status_code != 200:
            raise LeafSourceError(f"the server answered {response.status_code} for {what}: "
                                  f"{response.text[:300]}")
        try:
            body: Any = response.json()
        except ValueError:
            raise LeafSourceError(f"the server's answer for {what} is not JSON") from None
        if not isinstance(body, dict) or body.get("start") != start or body.get("end") != end:
            raise LeafSourceError(f"the server answered {what} with another range")
        served = body.get("leaves")
        if not isinstance(served, list) or not all(isinstance(s, str) for s in served):
            raise LeafSourceError(f"the server's {what} are not a list of strings")
        # surrogatepass: a lone surrogate becomes invalid UTF-8, refused by the leaf parser, naming the leaf
        return [s.encode("utf-8", "surrogatepass") for s in served]


# --------------------------------------------------------------------------------------------------------
# What the mirror answers
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MirroredCheckpoint:
    """An anchored checkpoint whose root the mirror reproduced from the leaves it holds."""

    index: int
    size: int
    root: bytes


@dataclass(frozen=True)
class SyncReport:
    """What one :meth:`LogMirror.sync` did: the verified size and root after it, the checkpoints it verified
    (indices, in order) and the leaves it fetched and stored."""

    size: int
    root: bytes
    verified: tuple[int, ...]
    leaves_added: int


Progress = Callable[[int, int], None]
"""``progress(done, total)``: leaves fetched and verified so far in this sync, out of those it must fetch."""


# --------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------

_metadata = sa.MetaData()

_state = sa.Table(
    "mirror_state", _metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1: one log per file
    sa.Column("format", sa.Integer, nullable=False),
    sa.Column("log_id", sa.Text, nullable=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("compact_range", sa.LargeBinary, nullable=False),
    sa.Column("root", sa.LargeBinary, nullable=False),
)

_leaves = sa.Table(
    "mirror_leaves", _metadata,
    sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

_checkpoints = sa.Table(
    "mirror_checkpoints", _metadata,
    sa.Column("checkpoint_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False, unique=True),
    sa.Column("root", sa.LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class _State:
    size: int
    compact_range: CompactRange
    root: bytes


# --------------------------------------------------------------------------------------------------------
# The mirror
# --------------------------------------------------------------------------------------------------------


class LogMirror:
    """A verified copy of the review log in a SQLite file (created on first use).

    ``log_id`` names the log the file mirrors (the CLI uses ``eip155:<chainId>:<ReviewLog address>``): stored
    on first use, and a file stored for another log is refused with :class:`MirrorMismatch`, so that one
    log's leaves are never extended with another's. A mirror is itself a :class:`LeafSource`, so a mirror
    can be mirrored.
    """

    def __init__(self, path: str | Path, *, log_id: str | None = None) -> None:
        self.path = Path(path)
        self._engine: Engine = sa.create_engine(f"sqlite+pysqlite:///{self.path}",
                                                connect_args={"timeout": 30})
        _sqlite_hooks(self._engine)
        try:
            with self._write() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                if tables and _state.name not in tables:
                    raise MirrorMismatch(f"{self.path} is a database but not a mirror (it has the tables "
                                         f"{', '.join(sorted(tables)[:5])}): refusing to write into it")
                _metadata.create_all(conn)
                row = conn.execute(sa.select(_state).where(_state.c.id == 1)).first()
                if row is None:
                    conn.execute(sa.insert(_state).values(id=1, format=FORMAT, log_id=log_id, size=0,
                                                          compact_range=b"", root=EMPTY_ROOT))
                else:
                    if row.format != FORMAT:
                        raise MirrorMismatch(f"{self.path} is a mirror of format {row.format}; this version "
                                             f"reads format {FORMAT}")
                    if log_id is not None and row.log_id is not None and row.log_id != log_id:
                        raise MirrorMismatch(f"{self.path} mirrors the log {row.log_id}, not {log_id}")
                    if log_id is not None and row.log_id is None:
                        conn.execute(sa.update(_state).where(_state.c.id == 1).values(log_id=log_id))
        except BaseException:
            self._engine.dispose()
            raise

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the file (every connection of the engine)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------------------

    @property
    def log_id(self) -> str | None:
        with self._read() as conn:
            value = conn.execute(sa.select(_state.c.log_id).where(_state.c.id == 1)).scalar_one()
        return None if value is None else str(value)

    @property
    def size(self) -> int:
        """The number of verified leaves: the size of the latest checkpoint verified (0 before any)."""
        with self._read() as conn:
            return self._load(conn).size

    @property
    def root(self) -> bytes:
        """MTH of the verified leaves: the latest verified checkpoint's root (``EMPTY_ROOT`` before any)."""
        with self._read() as conn:
            return self._load(conn).root

    def compact_range(self) -> CompactRange:
        """The compact range of the verified leaves ``[0, size)`` (a fresh copy)."""
        with self._read() as conn:
            return self._load(conn).compact_range

    def checkpoints(self) -> list[MirroredCheckpoint]:
        """The anchored checkpoints verified, by index."""
        with self._read() as conn:
            rows = conn.execute(sa.select(_checkpoints).order_by(_checkpoints.c.checkpoint_index)).all()
        return [MirroredCheckpoint(int(r.checkpoint_index), int(r.size), bytes(r.root)) for r in rows]

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Verified leaves ``[start, end)``, canonical bytes. Requires ``0 <= start <= end <= size``."""
        with self._read() as conn:
            size = self._load(conn).size
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= size):
                raise InvalidInput(f"requires 0 <= start <= end <= {size} (the verified size); "
                                   f"found start={start}, end={end}")
            rows = conn.execute(sa.select(_leaves.c.data).where(_leaves.c.leaf_index >= start,
                                                                _leaves.c.leaf_index < end)
                                .order_by(_leaves.c.leaf_index)).scalars().all()
        return [bytes(r) for r in rows]

    def verify_stored(self) -> None:
        """Recompute, from the stored leaves alone, every stored checkpoint's root and the compact range;
        raise :class:`MirrorCorrupt` on any difference. O(size): for an auditor who doubts the file, not
        something a sync needs."""
        with self._read() as conn:
            state = self._load(conn)
            wanted = {int(r.size): bytes(r.root) for r in conn.execute(sa.select(_checkpoints)).all()}
            computed = CompactRange()
            for index, data in enumerate(self._stream(conn, 0, state.size)):
                try:
                    parse_review_leaf(data)
                except InvalidReviewLeaf as exc:
                    raise MirrorCorrupt(f"{self.path}: stored leaf {index} is not a canonical review leaf: "
                                        f"{exc}") from None
                computed.append(leaf_hash(data))
                root = wanted.get(computed.size)
                if root is not None and computed.root() != root:
                    raise MirrorCorrupt(f"{self.path}: the stored leaves [0, {computed.size}) do not give "
                                        f"the "
                                        f"stored checkpoint's root 0x{root.hex()}")
            if computed.size != state.size or computed.to_bytes() != state.compact_range.to_bytes():
                raise MirrorCorrupt(f"{self.path}: the stored leaves do not give the stored compact range")
            if any(size > state.size for size in wanted):
                raise MirrorCorrupt(f"{self.path}: a stored checkpoint is beyond the verified size")

    # -- syncing -----------------------------------------------------------------------------------------

    def sync(self, source: LeafSource, checkpoints: Iterable[Anchored], *, page: int = PAGE,
             progress: Progress | None = None) -> SyncReport:
        """Verify and store the leaves of every anchored checkpoint beyond what the mirror holds.

        ``checkpoints`` must come from the chain (the server is not asked for them). Each checkpoint is its
        own transaction: a refusal (:class:`Equivocation`, :class:`InvalidLeafServed`) or a failure to fetch
        (:class:`LeafSourceError`) leaves the mirror at the last checkpoint verified, earlier ones in the
        same call included. A checkpoint already verified must match the stored one, and one at or below the
        verified size must be reproduced by the stored leaves (:class:`CheckpointConflict` otherwise).
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise InvalidInput(f"page must be an int >= 1, found {page!r}")
        ordered = _ordered(checkpoints)
        held = self.size
        total = max(0, max((c.size for c in ordered), default=0) - held)
        done = 0
        verified: list[int] = []
        if progress is not None:
            progress(0, total)
        for cp in ordered:
            with self._write() as conn:
                state = self._load(conn)
                known = conn.execute(sa.select(_checkpoints)
                                     .where(_checkpoints.c.checkpoint_index == cp.index)).first()
                if known is not None:
                    if int(known.size) != cp.size or bytes(known.root) != cp.root:
                        raise CheckpointConflict(
                            f"checkpoint {cp.index} is (size {cp.size}, root 0x{cp.root.hex()}) on chain but "
                            f"the "
                            f"mirror verified it as (size {known.size}, root 0x{bytes(known.root).hex()}): "
                            f"is this mirror of another log or of a chain since reset?")
                    continue
                if cp.size <= state.size:
                    other = conn.execute(sa.select(_checkpoints.c.checkpoint_index)
                                         .where(_checkpoints.c.size == cp.size)).scalar()
                    if other is not None:
                        raise CheckpointConflict(f"checkpoint {cp.index} has size {cp.size}, which the "
                                                 f"mirror verified as checkpoint {other}: not one log's "
                                                 f"checkpoints")
                    self._check_held(conn, state, cp)
                else:
                    for fetched in self._extend(conn, state, cp, source, page):
                        done += fetched
                        if progress is not None:
                            progress(min(done, total), total)
                conn.execute(sa.insert(_checkpoints).values(checkpoint_index=cp.index, size=cp.size,
                                                            root=cp.root))
            verified.append(cp.index)
        with self._read() as conn:
            state = self._load(conn)
        return SyncReport(size=state.size, root=state.root, verified=tuple(verified),
                          leaves_added=state.size - held)

    def _extend(self, conn: Connection, state: _State, cp: Anchored, source: LeafSource,
                page: int) -> Iterator[int]:
        """Fetch, check and insert the leaves ``[state.size, cp.size)``, then commit the new range if its root
        is the anchored one. Runs inside the checkpoint's write transaction, so a raise rolls every row back.
        Yields the number of leaves fetched per page, for progress."""
        start = state.size
        rng = CompactRange.from_bytes(state.size, state.compact_range.to_bytes())  # a copy, the original kept

        def refuse(reason: str, served_root: bytes | None = None) -> Equivocation:
            return Equivocation(checkpoint_index=cp.index, size=cp.size, expected_root=cp.root,
                                served_root=served_root, start=start, end=cp.size, reason=reason)

        for lo in range(start, cp.size, page):
            hi = min(cp.size, lo + page)
            try:
                served = source.leaves(lo, hi)
            except LeafSourceError as exc:
                raise LeafSourceError(f"{exc} (fetching for checkpoint {cp.index}, size {cp.size})") from exc
            if len(served) != hi - lo:
                raise refuse(f"asked for leaves [{lo}, {hi}), the server served {len(served)}")
            rows = []
            for offset, data in enumerate(served):
                index = lo + offset
                raw = bytes(data)
                try:
                    parse_review_leaf(raw)
                except InvalidReviewLeaf as exc:
                    raise InvalidLeafServed(checkpoint_index=cp.index, size=cp.size, expected_root=cp.root,
                                            start=start, end=cp.size, leaf_index=index, cause=exc) from None
                rng.append(leaf_hash(raw))
                rows.append({"leaf_index": index, "data": raw})
            conn.execute(sa.insert(_leaves), rows)
            yield hi - lo
        served_root = rng.root()
        if served_root != cp.root:
            raise refuse(f"they give root 0x{served_root.hex()}", served_root)
        conn.execute(sa.update(_state).where(_state.c.id == 1)
                     .values(size=rng.size, compact_range=rng.to_bytes(), root=served_root))

    def _check_held(self, conn: Connection, state: _State, cp: Anchored) -> None:
        """A checkpoint at or below the verified size, not yet recorded (the caller skipped it before): its
        root must be the stored leaves' (recomputed, O(size), which happens at most once per checkpoint)."""
        if cp.size == state.size:
            root = state.root
        else:
            rng = CompactRange()
            for data in self._stream(conn, 0, cp.size):
                rng.append(leaf_hash(data))
            root = rng.root()
        if root != cp.root:
            raise CheckpointConflict(f"checkpoint {cp.index} anchors root 0x{cp.root.hex()} for size "
                                     f"{cp.size}, but the leaves the mirror verified give 0x{root.hex()}: "
                                     f"the checkpoints "
                                     f"given are not one log's")

    # -- internals ---------------------------------------------------------------------------------------

    def _load(self, conn: Connection) -> _State:
        """The state row, checked against itself and the latest stored checkpoint (cheap: no leaf is read),
        so that a damaged file is refused before anything is appended to it."""
        row = conn.execute(sa.select(_state).where(_state.c.id == 1)).first()
        if row is None:
            raise MirrorCorrupt(f"{self.path}: the mirror's state row is missing")
        size = int(row.size)
        try:
            rng = CompactRange.from_bytes(size, bytes(row.compact_range))
        except InvalidInput as exc:
            raise MirrorCorrupt(f"{self.path}: the stored compact range is malformed: {exc}") from None
        root = bytes(row.root)
        if rng.root() != root:
            raise MirrorCorrupt(f"{self.path}: the stored compact range does not give the stored root")
        last = conn.execute(sa.select(sa.func.max(_leaves.c.leaf_index))).scalar_one()
        if (-1 if last is None else int(last)) != size - 1:
            raise MirrorCorrupt(f"{self.path}: {size} leaves verified, but the last stored leaf is {last}")
        latest = conn.execute(sa.select(_checkpoints).order_by(_checkpoints.c.size.desc()).limit(1)).first()
        latest_size = 0 if latest is None else int(latest.size)
        if latest_size != size or (latest is not None and bytes(latest.root) != root):
            raise MirrorCorrupt(f"{self.path}: the verified size and root are not the latest stored "
                                f"checkpoint's")
        return _State(size, rng, root)

    def _stream(self, conn: Connection, start: int, end: int) -> Iterator[bytes]:
        for lo in range(start, end, PAGE):
            rows = conn.execute(sa.select(_leaves.c.data)
                                .where(_leaves.c.leaf_index >= lo, _leaves.c.leaf_index < min(end, lo + PAGE))
                                .order_by(_leaves.c.leaf_index)).scalars().all()
            for r in rows:
                yield bytes(r)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: two syncs of one file queue rather than interleave, and
        each re-reads the state inside its transaction)."""
        try:
            with self._engine.connect() as conn:
                conn = conn.execution_options(mirror_write=True)
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            raise MirrorUnavailable(f"the mirror {self.path} cannot be used: {exc.orig}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise MirrorUnavailable(f"the mirror {self.path} cannot be read: {exc.orig}") from exc


def _sqlite_hooks(engine: Engine) -> None:
    """WAL with ``synchronous=FULL`` (a verified checkpoint, once committed, survives a power cut), and our
    own BEGIN, as ledger/storage/db.py does (pysqlite's implicit transactions are unreliable)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("mirror_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _ordered(checkpoints: Iterable[Anchored]) -> list[Anchored]:
    """The checkpoints by index, checked well formed; sizes must grow with the index, as ReviewLog enforces
    (``ReviewLogNotExtended``), so anything else did not come from the chain."""
    ordered = sorted(checkpoints, key=lambda c: c.index)
    previous: Anchored | None = None
    for cp in ordered:
        for name in ("index", "size"):
            value = getattr(cp, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"checkpoint {name} must be an int >= 0, found {value!r}")
        if not isinstance(cp.root, bytes) or len(cp.root) != HASH_SIZE:
            raise InvalidInput(f"checkpoint {cp.index}'s root must be {HASH_SIZE} bytes")
        if previous is not None and (cp.index == previous.index or cp.size <= previous.size):
            raise CheckpointConflict(f"checkpoint {cp.index} (size {cp.size}) does not extend checkpoint "
                                     f"{previous.index} (size {previous.size}): not the chain's checkpoints")
        previous = cp
    return ordered
