"""The event indexer: every event of the five TrustLedger contracts, in SQL, reorg-safe and resumable.

:class:`Indexer` reads the contracts' logs with ``eth_getLogs`` from a cursor stored in the database
(``idx_state``), decodes them with the shipped ABIs into ``idx_events`` (keyed by block hash, transaction hash
and log index), and derives from those events alone the projections the API reads: accreditations, merchants,
arbitrators, delayed acts, certificates and their history, checkpoints, disputes and their history, review
takedowns. A block range's events, their projections and the cursor move in one database transaction, so a
crash leaves either all of a range or none of it.

Confirmation depth: a sync indexes only blocks with ``confirmation_depth`` blocks on top of them. Reorgs
deeper than that are still handled: the hashes of indexed blocks are kept (``idx_blocks``); before each
range the cursor block must still be the parent of the range's first block, and when it is not, the index
rolls back to the newest kept block the chain still holds and replays the projections from the remaining
events. An incremental index therefore always equals a rebuild from the deploy block (:meth:`Indexer.rebuild`);
:meth:`Indexer.snapshot` dumps what both must agree on.

Providers that refuse a range (too many results, range too large, a timeout) get the range halved, down to a
single block, and the range grows back after each success. See docs/indexer.md.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, NamedTuple, TypeVar, cast

import sqlalchemy as sa
from eth_abi.abi import decode
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlalchemy import Connection, Table
from web3 import Web3
from web3.exceptions import BlockNotFound, RequestTimedOut, Web3RPCError
from web3.types import RPCEndpoint

from .artifacts import CONTRACT_NAMES, load
from .errors import InvalidInput, LedgerError
from .manifest import Manifest
from .storage import Database, now_ms
from .storage.schema import (
    INDEX_TABLES,
    idx_accreditations,
    idx_acts,
    idx_arbitrators,
    idx_blocks,
    idx_certificate_history,
    idx_certificates,
    idx_checkpoints,
    idx_dispute_history,
    idx_disputes,
    idx_events,
    idx_issuer_scopes,
    idx_merchants,
    idx_parameters,
    idx_state,
    idx_takedowns,
)

__all__ = [
    "Accreditation",
    "ActRecord",
    "BoundedCache",
    "CertificateRecord",
    "CertificateState",
    "CertificateStatus",
    "CheckpointRecord",
    "DeploymentNotFound",
    "DisputeRecord",
    "HistoryEntry",
    "IndexPosition",
    "IndexView",
    "Indexer",
    "IndexerError",
    "MerchantRecord",
    "MerchantTrustData",
    "ProductData",
    "ProviderRangeRefused",
    "SyncResult",
    "TakedownRecord",
    "UndecodableLog",
    "certificate_status",
]

ZERO_ADDRESS = "0x" + "00" * 20
_MERCHANT_EVENTS = ("MerchantAdmitted", "MerchantSanctioned", "MerchantRestored")
_TAKEDOWN_EVENTS = ("ReviewTakenDown", "ReviewRestored")
_ID_CHUNK = 500  # ids per IN list (SQLite builds before 3.32 take at most 999 parameters)
_ZERO32 = bytes(32)
_STATE_ID = 1


# --- errors -----------------------------------------------------------------------------------------------

class IndexerError(LedgerError):
    """The indexer cannot go on: a provider keeps failing, the database belongs to another deployment, …"""


class ProviderRangeRefused(IndexerError):
    """A provider refused an ``eth_getLogs`` range (too many results, range too large, timed out).

    Internal: the indexer halves the range and retries; it escapes only when a single block is refused
    more often than the retry budget allows (then as the ``__cause__`` of an :class:`IndexerError`).
    ``suggested_end`` is the last block of a range the provider said it would serve, when it said one.
    """

    def __init__(self, message: str, *, from_block: int, to_block: int, timeout: bool = False,
                 suggested_end: int | None = None) -> None:
        self.from_block = from_block
        self.to_block = to_block
        self.timeout = timeout
        self.suggested_end = suggested_end
        super().__init__(f"eth_getLogs [{from_block}, {to_block}] refused: {message}")


class DeploymentNotFound(IndexerError):
    """The chain's deploy block is not the manifest's (another chain, or one that was reset)."""


class UndecodableLog(IndexerError, ValueError):
    """A log of a TrustLedger contract matches no event of its ABI."""


class _Reorged(Exception):
    """The chain changed under a range being read; start the range again."""


class _Raced(Exception):
    """Another indexer moved the cursor first; start again from the cursor it left."""


# --- results and records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncResult:
    """What one :meth:`Indexer.sync` did. ``cursor`` is the last indexed block afterwards."""

    head: int
    target: int
    cursor: int
    events: int
    """Events written (an event already held is not counted again)."""
    removed: int
    """Events removed because their blocks left the canonical chain."""
    reorgs: int
    refusals: int
    """``eth_getLogs`` calls refused or timed out (each led to a smaller range)."""
    requests: int
    """``eth_getLogs`` calls made."""


class CertificateStatus(IntEnum):
    """``ICertificateRegistry.CertificateStatus``."""

    UNKNOWN = 0
    VALID = 1
    REVOKED = 2
    EXPIRED = 3
    SUPERSEDED = 4
    FAILED = 5
    COMPROMISED = 6


SPOT_CHECK_FAIL = 2  # ICertificateRegistry.CertificateKind


@dataclass(frozen=True)
class HistoryEntry:
    """One event in the life of a certificate or a dispute."""

    block_number: int
    log_index: int
    block_time: int
    tx_hash: bytes
    event: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Accreditation:
    """An issuer's accreditation as the events left it (``TrustGovernance.accreditation`` plus scopes)."""

    issuer: str
    issuer_id: int
    valid_from: int
    valid_until: int
    compromised_at: int
    suspended: bool
    scopes: frozenset[bytes]


@dataclass(frozen=True)
class MerchantRecord:
    """A merchant's standing: status (1 Active, 2 Suspended, 3 Banned), and the last sanction's reason."""

    merchant: str
    status: int
    admitted_at: int
    licence_hash: bytes
    sanction_kind: int | None
    reason_code: bytes | None
    ruling_ref: bytes | None


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate as recorded, with what happened to it since."""

    certificate_id: bytes
    product_id: bytes
    lot: bytes
    merchant: str
    issuer: str
    issuer_id: int
    kind: int
    document_hash: bytes
    standard: bytes
    issued_at: int
    valid_until: int
    anchored_by: str
    anchored_at: int
    block_number: int
    tx_hash: bytes
    revoked_at: int | None
    revoked_by: str | None
    revocation_act: int | None
    superseded_at: int | None
    superseded_by: bytes | None
    replaces: bytes | None
    issuer_compromised_at: int
    history: tuple[HistoryEntry, ...]

    def status_at(self, time: int) -> tuple[CertificateStatus, bool]:
        """(status, issuer accredited at issue) at ``time``, by the precedence of ``CertificateRegistry.statusAt``."""
        return certificate_status(self, time, self.issuer_compromised_at)


class CertificateState(NamedTuple):
    """What a certificate's status depends on, and nothing else (no id, no history), and how many of a
    merchant's certificates share it: what a trust profile counts. A named tuple: a merchant's hundreds of
    certificates are read again whenever the index moves."""

    issuer: bytes
    """The issuer's 20 address bytes."""
    kind: int
    valid_until: int
    anchored_at: int
    revoked_at: int | None
    revocation_act: int | None
    superseded_at: int | None
    records: int
    """How many of the merchant's certificates are in this state."""


def certificate_status(c: CertificateRecord | CertificateState, time: int,
                       compromised_at: int) -> tuple[CertificateStatus, bool]:
    """(status, issuer accredited at issue) of ``c`` at ``time`` when its issuer's key is known compromised since
    ``compromised_at`` (0: not), by the precedence of ``CertificateRegistry.statusAt``."""
    if time < c.anchored_at:
        return CertificateStatus.UNKNOWN, False
    compromised = compromised_at
    if compromised != 0 and c.anchored_at >= compromised:
        return CertificateStatus.COMPROMISED, False
    revoked = c.revoked_at or 0
    counts = c.revocation_act is not None or compromised == 0 or revoked < compromised
    if revoked != 0 and revoked <= time and counts:
        return CertificateStatus.REVOKED, True
    if c.superseded_at is not None and c.superseded_at <= time:
        return CertificateStatus.SUPERSEDED, True
    if c.kind == SPOT_CHECK_FAIL:
        return CertificateStatus.FAILED, True
    if time > c.valid_until:
        return CertificateStatus.EXPIRED, True
    return CertificateStatus.VALID, True


@dataclass(frozen=True)
class ActRecord:
    """A delayed act as ``TrustGovernance.act(id)`` reports it (state 1 Pending, 2 Executed, 3 Cancelled)."""

    act_id: int
    kind: int
    state: int
    eta: int
    time: int
    account: str
    ref: bytes
    reason_code: bytes


@dataclass(frozen=True)
class CheckpointRecord:
    """An anchored checkpoint of the review log."""

    index: int
    size: int
    root: bytes
    anchored_at: int
    block_number: int
    tx_hash: bytes


@dataclass(frozen=True)
class TakedownRecord:
    """``DisputeRegistry.takedown(leafIndex)`` as the events left it, and the block of the last of them."""

    leaf_index: int
    state: int
    """1 EmergencyHidden, 2 TakenDown, 3 Restored."""
    hidden_at: int
    lapse_at: int
    reason_code: bytes
    dispute_id: bytes
    block_number: int


@dataclass(frozen=True)
class DisputeRecord:
    """A dispute as ``DisputeRegistry.dispute(id)`` reports it, plus its opening data and whole history."""

    dispute_id: bytes
    kind: int
    phase: int
    resume: int
    outcome: int
    round: int
    by_default: bool
    panel: bool
    cursor: int
    opened_at: int
    response_deadline: int
    ruling_deadline: int
    appeal_deadline: int
    claimant: str
    remedy_deadline: int
    respondent: str
    remedy_amount: int
    merchant: str
    arbitrator: str
    first_arbitrator: str
    subject: bytes
    product_id: bytes | None
    category: bytes
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class IndexPosition:
    """Where the index stands: its cursor (the last indexed block's number and hash) and that block's time.

    The index holds exactly what the events of the chain up to the cursor block leave behind (a block's hash
    commits to every block before it; an incremental index equals a rebuild), so two reads made at one position
    read the same index: the key of :class:`IndexView`'s memo.
    """

    block_number: int
    block_hash: bytes | None
    """None before any block is indexed."""
    block_time: int | None
    """The cursor block's time; None before any block is indexed."""


@dataclass(frozen=True)
class MerchantTrustData:
    """What the index holds of one merchant for its trust profile (:func:`ledger.trust.trust_profile`)."""

    merchant: str
    certificates: tuple[CertificateState, ...]
    """Every certificate record naming the merchant, grouped by everything its status depends on (issuer, kind,
    validity, anchoring time, revocation and the act behind it, supersession), in no particular order."""
    disputes: tuple[DisputeRecord, ...]
    """Every purchase dispute naming the merchant, in opening order, each with its whole history."""
    governance: tuple[HistoryEntry, ...]
    """Its ``MerchantAdmitted``, ``MerchantSanctioned`` and ``MerchantRestored`` events, in chain order."""


@dataclass(frozen=True)
class ProductData:
    """What the index holds of one product for its record (:func:`ledger.product.product_record`)."""

    certificates: tuple[CertificateRecord, ...]
    """Every certificate of the product, in anchoring order (block, then id), each with its history."""
    disputes: tuple[DisputeRecord, ...]
    """Purchase disputes about the product and challenges of the review leaves asked about, in the order of
    their opening blocks (then id), each with its whole history."""


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe mapping of at most ``maxsize`` entries: the least recently used goes first.

    ``hits`` and ``misses`` count the lookups (what a benchmark reports)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise InvalidInput(f"maxsize must be >= 1, not {maxsize}")
        self.maxsize = maxsize
        self.hits = self.misses = 0
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def get_many(self, keys: Iterable[K]) -> list[V | None]:
        """:meth:`get` of each key, under one acquisition of the lock."""
        out: list[V | None] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                value = entries.get(key)
                if value is None:
                    self.misses += 1
                else:
                    entries.move_to_end(key)
                    self.hits += 1
                out.append(value)
        return out

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class _Globals:
    """The reads every profile and record needs, whatever the merchant or product."""

    governance: tuple[HistoryEntry, ...]
    """Every TrustGovernance event, in chain order."""
    takedowns: tuple[HistoryEntry, ...]
    """Every ReviewTakenDown and ReviewRestored, in chain order."""
    checkpoints: tuple[CheckpointRecord, ...]


class IndexView:
    """The index as of one :class:`IndexPosition` (:meth:`Indexer.view`): reads through it are memoized for
    that position and dropped once the index has moved.

    Correct by construction: every memoized read runs in one read transaction (a snapshot: REPEATABLE READ on
    PostgreSQL, WAL snapshot isolation on SQLite) that reads the position too, and its result is kept only under
    the position that same snapshot showed. A new indexed block (a new event, a rollback, a reset) moves the
    cursor, and with it the key, so nothing read before can be served after. A view serves again what it read at
    its position; when the index moves while a view is in use, a read it has not made yet returns the newer
    index, uncached, as a separate :class:`Indexer` read would.
    """

    def __init__(self, indexer: Indexer, position: IndexPosition, globals_: _Globals,
                 read: Mapping[Hashable, Any] | None = None) -> None:
        self.indexer = indexer
        self.position = position
        self._globals = globals_
        self._read = dict(read or {})  # what it read at its position: served again whatever the cache evicts

    @property
    def manifest(self) -> Manifest:
        return self.indexer.manifest

    def governance_events(self) -> tuple[HistoryEntry, ...]:
        """Every TrustGovernance event indexed, in chain order."""
        return self._globals.governance

    def takedown_events(self) -> tuple[HistoryEntry, ...]:
        """Every ``ReviewTakenDown`` and ``ReviewRestored`` indexed, in chain order."""
        return self._globals.takedowns

    def checkpoints(self) -> tuple[CheckpointRecord, ...]:
        """Every anchored checkpoint, by index."""
        return self._globals.checkpoints

    def merchant_trust(self, merchant: str) -> MerchantTrustData:
        """The merchant's certificates (states), purchase disputes (with histories) and governance events:
        one transaction when neither memoized nor read with the view (:meth:`Indexer.view`)."""
        key = _address_bytes(merchant)
        return self._memo(_merchant_key(key), lambda conn: _read_merchant_trust(conn, key, self._globals))

    def product(self, product: bytes, review_leaves: Iterable[int] = ()) -> ProductData:
        """The product's certificates (with histories), its purchase disputes and the challenges of
        ``review_leaves`` (with histories): one transaction when neither memoized nor read with the view."""
        pid, subjects = bytes(product), _subjects(review_leaves)
        return self._memo(_product_key(pid, subjects), lambda conn: _read_product(conn, pid, subjects))

    def _memo(self, key: Hashable, read: Callable[[Connection], V]) -> V:
        if key in self._read:
            return cast(V, self._read[key])
        cache = self.indexer._view_cache
        found = cache.get(self.position, key)
        if found is not None:
            self._read[key] = found
            return cast(V, found)
        with self.indexer._db.read() as conn:
            self.indexer._snapshot(conn)
            position = self.indexer._position(conn)
            value = read(conn)
        if position == self.position:
            self._read[key] = value
            cache.put(position, key, value)
        return value


def _merchant_key(key: bytes) -> tuple[str, bytes]:
    return ("merchant-trust", key)


def _product_key(pid: bytes, subjects: tuple[bytes, ...]) -> tuple[str, bytes, tuple[bytes, ...]]:
    return ("product", pid, subjects)


def _subjects(review_leaves: Iterable[int]) -> tuple[bytes, ...]:
    return tuple(sorted({int(i).to_bytes(32, "big") for i in review_leaves}))


def _read_globals(conn: Connection) -> _Globals:
    events, checkpoints = _global_queries()
    found = _entries(conn.execute(events).all())  # TrustGovernance's, then the takedowns (contract, chain order)
    split = next((i for i, e in enumerate(found) if e.event in _TAKEDOWN_EVENTS), len(found))
    return _Globals(governance=found[:split], takedowns=found[split:],
                    checkpoints=tuple(CheckpointRecord(r[0], r[1], bytes(r[2]), r[3], r[4], bytes(r[5]))
                                      for r in conn.execute(checkpoints).all()))


def _read_merchant_trust(conn: Connection, key: bytes, globals_: _Globals) -> MerchantTrustData:
    checksum = _checksum_of("0x" + key.hex())
    grouped = Counter((bytes(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])
                      for r in conn.execute(_merchant_certificates_query(), {"key": key}).all())
    states = tuple(CertificateState(*state, records) for state, records in grouped.items())
    records, histories = _dispute_queries("merchant-purchases")
    return MerchantTrustData(
        checksum, states, _dispute_records(conn, conn.execute(records, {"key": key}).all(), histories),
        tuple(e for e in globals_.governance if e.event in _MERCHANT_EVENTS and e.args.get("merchant") == checksum))


def _read_product(conn: Connection, pid: bytes, subjects: tuple[bytes, ...]) -> ProductData:
    records, histories = _certificate_queries("product_id")
    certificates = _certificate_records(conn, conn.execute(records, {"key": pid}).all(), histories)
    params: dict[str, Any] = {"key": pid, "subjects": list(subjects)} if subjects else {"key": pid}
    records, histories = _dispute_queries("product-or-challenges" if subjects else "product")
    return ProductData(certificates, _dispute_records(conn, conn.execute(records, params).all(), histories))


# The view's statements, built once (SQLAlchemy then reuses their compiled form; building a select costs more
# than running it on a small index).

@functools.cache
def _position_query() -> Any:
    s, b = idx_state.c, idx_blocks.c
    return sa.select(s.cursor_number, s.cursor_hash, b.timestamp).select_from(
        idx_state.outerjoin(idx_blocks, sa.and_(b.number == s.cursor_number, b.hash == s.cursor_hash)))


@functools.cache
def _global_queries() -> tuple[Any, Any]:
    e, k = idx_events.c, idx_checkpoints.c
    takedowns = sa.and_(e.contract == "DisputeRegistry", e.event.in_(_TAKEDOWN_EVENTS))
    return (sa.select(e.block_number, e.log_index, e.block_time, e.tx_hash, e.event, e.args)
            .where(sa.or_(e.contract == "TrustGovernance", takedowns))
            .order_by(sa.case((e.contract == "TrustGovernance", 0), else_=1), e.block_number, e.log_index),
            sa.select(k.checkpoint_index, k.size, k.root, k.anchored_at, k.block_number, k.tx_hash)
            .order_by(k.checkpoint_index))


@functools.cache
def _merchant_certificates_query() -> Any:
    c = idx_certificates.c
    group = (c.issuer, c.kind, c.valid_until, c.anchored_at, c.revoked_at, c.revocation_act, c.superseded_at)
    return sa.select(*group).where(c.merchant == sa.bindparam("key"))  # grouped here: cheaper than in SQL


@functools.cache
def _certificate_queries(column: str) -> tuple[Any, Any]:
    """(records, histories) of the certificates whose ``column`` is ``:key``."""
    return _certificate_statements(idx_certificates.c[column] == sa.bindparam("key"))


@functools.cache
def _dispute_queries(shape: str) -> tuple[Any, Any]:
    """(records, histories) of the disputes of a merchant's purchases, of a product, or of a product and the
    challenges of some leaves (``:key``, ``:subjects``)."""
    d = idx_disputes.c
    condition: Any = {
        "merchant-purchases": sa.and_(d.merchant == sa.bindparam("key"), d.kind == 0),
        "product": d.product_id == sa.bindparam("key"),
        "product-or-challenges": sa.or_(d.product_id == sa.bindparam("key"),
                                        sa.and_(d.kind == 1, d.subject.in_(sa.bindparam("subjects", expanding=True)))),
    }[shape]
    return _dispute_statements(condition)


class _ViewCache:
    """Memoized reads of the latest position seen (older ones are dropped when it moves): the globals, and at
    most ``maxsize`` merchants' and products' reads, least recently used out first."""

    def __init__(self, maxsize: int) -> None:
        self._lock = threading.Lock()
        self.position: IndexPosition | None = None
        self.globals: _Globals | None = None
        self.entries: BoundedCache[Hashable, Any] = BoundedCache(maxsize)

    def current(self, position: IndexPosition) -> _Globals | None:
        with self._lock:
            return self.globals if position == self.position else None

    def install(self, position: IndexPosition, globals_: _Globals) -> None:
        """Make ``position`` the current one. Two threads holding different positions may take turns here:
        each drops the other's entries (fewer hits), never serves them."""
        with self._lock:
            if position != self.position:
                self.entries.clear()
                self.position, self.globals = position, globals_

    def get(self, position: IndexPosition, key: Hashable) -> Any:
        with self._lock:
            if position != self.position:
                return None
            return self.entries.get(key)

    def put(self, position: IndexPosition, key: Hashable, value: Any) -> None:
        with self._lock:
            if position == self.position:
                self.entries.put(key, value)


# --- decoding ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _EventSpec:
    contract: str
    name: str
    inputs: tuple[tuple[str, str, bool], ...]  # (name, canonical type, indexed)


def _canonical_type(param: Mapping[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){t[len('tuple'):]}"
    return t


def _event_specs(name: str) -> dict[bytes, _EventSpec]:
    specs: dict[bytes, _EventSpec] = {}
    for item in load(name).abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        inputs = tuple((str(p["name"]), _canonical_type(p), bool(p.get("indexed"))) for p in item["inputs"])
        signature = f"{item['name']}({','.join(t for _, t, _ in inputs)})"
        specs[keccak(text=signature)] = _EventSpec(name, str(item["name"]), inputs)
    return specs


_INT = re.compile(r"u?int(\d*)")


@functools.lru_cache(maxsize=65536)
def _checksum_of(value: str) -> str:
    """EIP-55 spelling of an address (cached: the same few issuers, merchants and parties recur)."""
    return str(to_checksum_address(value))


def _to_json(abi_type: str, value: Any) -> Any:
    """A decoded ABI value as JSON: addresses checksummed, bytes as 0x hex, ints wider than 53 bits as text."""
    if abi_type.endswith("]"):
        base = abi_type[: abi_type.rindex("[")]
        return [_to_json(base, v) for v in value]
    if abi_type == "address":
        return _checksum_of(value)
    if abi_type.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if abi_type in ("bool", "string"):
        return value
    m = _INT.fullmatch(abi_type)
    if m:
        bits = int(m.group(1) or 256)
        return int(value) if bits <= 53 else str(int(value))
    raise UndecodableLog(f"event argument of unsupported type {abi_type}")


_NOT_STATIC: Any = object()
_UINT = re.compile(r"uint(\d*)")
_BYTES_N = re.compile(r"bytes(\d+)")


def _static_word_json(abi_type: str, word: bytes) -> Any:
    """The JSON value of one ABI word of a simple static type (address, bool, uintN, bytesN), decoded by hand
    and strictly (padding must be zero, as eth_abi requires); ``_NOT_STATIC`` for any other type or a word
    that is not canonical, which then goes through eth_abi (and its errors)."""
    if abi_type == "address":
        if word[:12] != bytes(12):
            return _NOT_STATIC
        return _checksum_of("0x" + word[12:].hex())
    if abi_type == "bool":
        if word[:31] != bytes(31) or word[31] > 1:
            return _NOT_STATIC
        return word[31] == 1
    m = _UINT.fullmatch(abi_type)
    if m:
        bits = int(m.group(1) or 256)
        value = int.from_bytes(word, "big")
        if value >> bits:
            return _NOT_STATIC
        return value if bits <= 53 else str(value)
    m = _BYTES_N.fullmatch(abi_type)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 32 or word[n:] != bytes(32 - n):
            return _NOT_STATIC
        return "0x" + word[:n].hex()
    return _NOT_STATIC


class _RawLog:
    """One log of a raw ``eth_getLogs`` answer (hex strings over HTTP; ints and bytes from eth-tester)."""

    __slots__ = ("address", "block_hash", "block_number", "data", "log_index", "removed", "topics", "tx_hash",
                 "tx_index")

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.address = _raw_bytes(entry["address"])
        self.topics = [_raw_bytes(t) for t in entry["topics"]]
        self.data = _raw_bytes(entry["data"])
        self.block_number = _raw_int(entry["blockNumber"])
        self.block_hash = _raw_bytes(entry["blockHash"])
        self.tx_hash = _raw_bytes(entry["transactionHash"])
        self.tx_index = _raw_int(entry["transactionIndex"])
        self.log_index = _raw_int(entry["logIndex"])
        self.removed = bool(entry.get("removed", False))


def _raw_int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _raw_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith(("0x", "0X")) else text)


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("(")


@dataclass(frozen=True)
class _Event:
    """One decoded event, in the form stored in ``idx_events`` (``args`` as JSON values)."""

    block_number: int
    block_hash: bytes
    block_time: int
    tx_hash: bytes
    tx_index: int
    log_index: int
    address: bytes
    contract: str
    name: str
    args: Mapping[str, Any]
    topics: bytes
    data: bytes

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)

    def row(self) -> dict[str, Any]:
        return {"block_hash": self.block_hash, "tx_hash": self.tx_hash, "log_index": self.log_index,
                "block_number": self.block_number, "block_time": self.block_time, "tx_index": self.tx_index,
                "address": self.address, "contract": self.contract, "event": self.name,
                "args": _dumps(self.args), "topics": self.topics, "data": self.data,
                **{column: _subject(self.args.get(argument), size) for column, argument, size in EVENT_SUBJECTS}}

    @classmethod
    def from_row(cls, r: Any) -> _Event:
        return cls(block_number=r.block_number, block_hash=bytes(r.block_hash), block_time=r.block_time,
                   tx_hash=bytes(r.tx_hash), tx_index=r.tx_index, log_index=r.log_index,
                   address=bytes(r.address), contract=r.contract, name=r.event, args=json.loads(r.args),
                   topics=bytes(r.topics), data=bytes(r.data))


EVENT_SUBJECTS: tuple[tuple[str, str, int], ...] = (("merchant", "merchant", 20), ("product_id", "productId", 32),
                                                    ("issuer", "issuer", 20))
"""(``idx_events`` column, event argument, bytes): the subjects an auditor filters events by, kept as indexed
columns beside the decoded arguments (NULL for an event without that argument)."""


def _subject(value: Any, size: int) -> bytes | None:
    """An address or 32-byte id argument (0x hex in the decoded JSON) as raw bytes; None for anything else."""
    if isinstance(value, str) and len(value) == 2 + 2 * size and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    return None


def _dumps(args: Mapping[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class _Header:
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int


@dataclass(frozen=True)
class _Range:
    first: int
    last: int
    tip: _Header
    headers: Mapping[int, _Header]
    events: tuple[_Event, ...]


# --- provider errors --------------------------------------------------------------------------------------

# Texts real providers send when they refuse an eth_getLogs range (Infura, Alchemy, QuickNode, Ankr, geth,
# Erigon, Besu, Nethermind, public gateways); matched case-insensitively.
_REFUSAL = re.compile(
    r"more than \d+ results|too many (results|logs|blocks)|response size|size exceed|"
    r"(block )?range (is )?too (large|wide|big)|exceed(s|ed)? (the )?(max(imum)?|limit)|max(imum)? (block )?range|"
    r"range limit|limited to|max results|result(s)? limit|limit exceeded|query returned more", re.IGNORECASE)
_TIMEOUT = re.compile(r"time(d)? ?out|timeout|deadline exceeded", re.IGNORECASE)
_SUGGESTED = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]|range (\d+)\s*-\s*(\d+)")


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response
    if isinstance(response, Mapping):
        error = response.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(exc.message)


def _refusal(exc: BaseException, first: int, last: int) -> ProviderRangeRefused | None:
    """The refusal ``exc`` stands for, or None when it is not one (then it is an error of its own)."""
    if isinstance(exc, RequestTimedOut | TimeoutError):
        return ProviderRangeRefused(f"timed out ({type(exc).__name__})", from_block=first, to_block=last,
                                    timeout=True)
    if isinstance(exc, Web3RPCError):
        message = _rpc_message(exc)
        if _REFUSAL.search(message):
            suggested = None
            m = _SUGGESTED.search(message)
            if m:
                suggested = int(m.group(2), 16) if m.group(2) else int(m.group(4))
            return ProviderRangeRefused(message, from_block=first, to_block=last, suggested_end=suggested)
        if _TIMEOUT.search(message):
            return ProviderRangeRefused(message, from_block=first, to_block=last, timeout=True)
        return None
    if isinstance(exc, OSError):  # requests' Timeout and ConnectionError are OSErrors: transient
        return ProviderRangeRefused(f"{type(exc).__name__}: {exc}", from_block=first, to_block=last, timeout=True)
    return None


# --- the indexer ------------------------------------------------------------------------------------------

class Indexer:
    """Indexes the TrustLedger contracts of ``manifest`` from ``w3`` into ``db``.

    ``confirmation_depth``: index only blocks with that many blocks on top (0: up to the head).
    ``max_range``: the largest ``eth_getLogs`` range asked for. ``max_retries``: how many times in a row a
    single-block range may be refused or time out before :meth:`sync` gives up with :class:`IndexerError`.
    ``retry_delay``: seconds slept after a refusal, doubling while refusals continue (at most 5 s).
    ``view_cache_size``: how many merchants' and products' reads :meth:`view` keeps while the index stays put.

    One indexer per database is the expected shape; two running at once are safe (the cursor is
    compared-and-set under a row lock) but duplicate the chain reads.
    """

    def __init__(self, w3: Web3, db: Database, manifest: Manifest, *, confirmation_depth: int = 0,
                 max_range: int = 2000, max_retries: int = 8, retry_delay: float = 0.25,
                 view_cache_size: int = 1024) -> None:
        if confirmation_depth < 0:
            raise InvalidInput(f"confirmation_depth must be >= 0, not {confirmation_depth}")
        if max_range < 1:
            raise InvalidInput(f"max_range must be >= 1, not {max_range}")
        self._w3 = w3
        self._db = db
        self.manifest = manifest
        self.confirmation_depth = confirmation_depth
        self.max_range = max_range
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self._span = max_range
        self._addresses: list[ChecksumAddress] = [Web3.to_checksum_address(manifest.address(n))
                                                  for n in CONTRACT_NAMES]
        self._specs: dict[tuple[bytes, bytes], _EventSpec] = {}
        for name in CONTRACT_NAMES:
            address = bytes.fromhex(manifest.address(name)[2:])
            for topic, spec in _event_specs(name).items():
                self._specs[(address, topic)] = spec
        self._projector = _Projector(ruling_period=self._setting("rulingPeriod", 1),
                                     appeal_window=self._setting("appealWindow", 2))
        self._view_cache = _ViewCache(view_cache_size)

    def _setting(self, key: str, position: int) -> int:
        """A dispute period: from the manifest, or read from the deployed DisputeRegistry."""
        if key in self.manifest.settings:
            return int(self.manifest.settings[key])
        contract = self._w3.eth.contract(address=self._addresses[CONTRACT_NAMES.index("DisputeRegistry")],
                                         abi=load("DisputeRegistry").abi)
        return int(contract.functions.periods().call()[position])

    # -- syncing -----------------------------------------------------------------------------------------

    def sync(self, to_block: int | None = None) -> SyncResult:
        """Index every block up to ``min(head - confirmation_depth, to_block)``; roll back reorged blocks first.

        Returns what was done. Raises :class:`IndexerError` when a provider keeps refusing a single block,
        :class:`DeploymentNotFound` when the chain does not hold the manifest's deploy block.
        """
        events = removed = reorgs = refusals = requests = 0
        failures = 0
        self._ensure_state()
        while True:
            head = int(self._w3.eth.block_number)
            target = head - self.confirmation_depth
            if to_block is not None:
                target = min(target, to_block)
            cursor, cursor_hash = self._cursor()
            if cursor_hash is not None and self._hash_at(cursor) != cursor_hash:
                removed += self._roll_back(cursor, cursor_hash)
                reorgs += 1
                if reorgs > 64:
                    raise IndexerError("the chain keeps reorganising under the indexer (64 rollbacks in one sync)")
                continue
            if cursor >= target:
                return SyncResult(head=head, target=target, cursor=cursor, events=events, removed=removed,
                                  reorgs=reorgs, refusals=refusals, requests=requests)
            first = cursor + 1
            last = min(target, first + self._span - 1)
            try:
                requests += 1
                fetched = self._fetch(first, last, cursor_hash)
            except ProviderRangeRefused as refused:
                refusals += 1
                if last == first:
                    failures += 1
                    if failures > self.max_retries:
                        raise IndexerError(f"block {first}: eth_getLogs failed {failures} times in a row") \
                            from refused
                self._shrink(first, last, refused)
                if self.retry_delay > 0:
                    time.sleep(min(self.retry_delay * 2 ** min(failures, 5), 5.0))
                continue
            except _Reorged:
                continue
            failures = 0
            try:
                events += self._commit(fetched, cursor, cursor_hash)
            except _Raced:
                continue
            self._span = min(self.max_range, self._span * 2)

    def reset(self) -> None:
        """Forget the whole index: events, blocks, projections and the cursor."""
        with self._db.write() as conn:
            for table in INDEX_TABLES:
                conn.execute(sa.delete(table))
            conn.execute(sa.delete(idx_state))

    def rebuild(self) -> SyncResult:
        """Forget the whole index and index again from the deploy block, up to where :meth:`sync` would."""
        self.reset()
        return self.sync()

    def reproject(self) -> None:
        """Rebuild every projection from the stored events alone, without the chain (what an auditor does)."""
        with self._db.write() as conn:
            self._projector.replay(conn)

    def cursor(self) -> int:
        """The last indexed block (the deploy block - 1 before any)."""
        self._ensure_state()
        return self._cursor()[0]

    def _shrink(self, first: int, last: int, refused: ProviderRangeRefused) -> None:
        span = last - first + 1
        suggested = refused.suggested_end
        if suggested is not None and first <= suggested < last:
            self._span = suggested - first + 1
        else:
            self._span = max(1, span // 2)

    def _ensure_state(self) -> None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(idx_state)).one_or_none()
        if row is None:
            with self._db.write() as conn:
                if conn.execute(self._db.locked(sa.select(idx_state.c.state_id))).one_or_none() is None:
                    conn.execute(sa.insert(idx_state), {
                        "state_id": _STATE_ID, "chain_id": self.manifest.chain_id,
                        "deploy_block": self.manifest.deploy_block, "cursor_number": self.manifest.deploy_block - 1,
                        "cursor_hash": None, "updated_ms": now_ms()})
            return
        if (row.chain_id, row.deploy_block) != (self.manifest.chain_id, self.manifest.deploy_block):
            raise IndexerError(f"this database indexes chain {row.chain_id} from block {row.deploy_block}, not "
                               f"chain {self.manifest.chain_id} from block {self.manifest.deploy_block}")

    def _cursor(self) -> tuple[int, bytes | None]:
        with self._db.read() as conn:
            row = conn.execute(sa.select(idx_state.c.cursor_number, idx_state.c.cursor_hash)).one()
        return int(row.cursor_number), None if row.cursor_hash is None else bytes(row.cursor_hash)

    # -- the chain ---------------------------------------------------------------------------------------

    def _header(self, number: int) -> _Header | None:
        try:
            block = self._w3.eth.get_block(number)
        except BlockNotFound:
            return None
        if block is None:
            return None
        return _Header(number, bytes(block["hash"]), bytes(block["parentHash"]), int(block["timestamp"]))

    def _hash_at(self, number: int) -> bytes | None:
        header = self._header(number)
        return None if header is None else header.hash

    def _fetch(self, first: int, last: int, cursor_hash: bytes | None) -> _Range:
        """The decoded events of blocks [first, last], read so that a reorg in between is noticed.

        Order matters: the last block's header is read first, the logs next, the headers of the blocks with
        logs last. A reorg before the logs changes the last block's hash (seen at the next sync); a reorg
        after them changes a header read afterwards (seen here).
        """
        tip = self._header(last)
        start = tip if first == last else self._header(first)
        if tip is None or start is None:
            raise _Reorged
        if cursor_hash is not None and start.parent_hash != cursor_hash:
            raise _Reorged  # the block after the cursor does not descend from it: the next round rolls back
        if first == self.manifest.deploy_block and start.hash != self.manifest.deploy_block_hash:
            raise DeploymentNotFound(
                f"block {first} is 0x{start.hash.hex()}, the manifest's deploy block is "
                f"0x{self.manifest.deploy_block_hash.hex()}: another chain, or one that was reset")
        # straight through the request manager (its middleware included): web3's result formatters cost more
        # than the rest of the indexing; _RawLog reads the JSON-RPC fields itself
        params = {"fromBlock": hex(first), "toBlock": hex(last), "address": self._addresses}
        try:
            logs = [_RawLog(entry) for entry in
                    self._w3.manager.request_blocking(RPCEndpoint("eth_getLogs"), [params]) or []]
        except Exception as exc:
            refused = _refusal(exc, first, last)
            if refused is None:
                raise IndexerError(f"eth_getLogs [{first}, {last}] failed: {type(exc).__name__}: {exc}") from exc
            raise refused from exc
        headers: dict[int, _Header] = {tip.number: tip, start.number: start}
        events: list[_Event] = []
        for log in sorted(logs, key=lambda entry: (entry.block_number, entry.log_index)):
            number = log.block_number
            if log.removed or not first <= number <= last:
                raise _Reorged
            if number not in headers or number in (first, last):
                header = self._header(number)
                if header is None:
                    raise _Reorged
                headers[number] = header
            if headers[number].hash != log.block_hash:
                raise _Reorged
            events.append(self._decode(log, headers[number].timestamp))
        return _Range(first, last, tip, headers, tuple(events))

    def _decode(self, log: _RawLog, block_time: int) -> _Event:
        address = log.address
        topics = log.topics
        spec = self._specs.get((address, topics[0])) if topics else None
        if spec is None:
            raise UndecodableLog(f"log {log.log_index} of block {log.block_number} from "
                                 f"0x{address.hex()} matches no event of its contract")
        data = log.data
        indexed = [(n, t) for n, t, i in spec.inputs if i]
        plain = [(n, t) for n, t, i in spec.inputs if not i]
        if len(indexed) != len(topics) - 1:
            raise UndecodableLog(f"{spec.contract}.{spec.name}: {len(topics) - 1} topics for {len(indexed)} "
                                 "indexed arguments")
        args: dict[str, Any] = {}
        for (name, abi_type), topic in zip(indexed, topics[1:], strict=True):
            # an indexed dynamic value is only its hash
            if _is_dynamic(abi_type):
                args[name] = "0x" + topic.hex()
            else:
                word = _static_word_json(abi_type, topic)
                args[name] = word if word is not _NOT_STATIC else _to_json(abi_type, decode([abi_type], topic)[0])
        fast = len(data) == 32 * len(plain)
        if fast:
            words = [_static_word_json(t, data[32 * i: 32 * i + 32]) for i, (_, t) in enumerate(plain)]
            fast = all(w is not _NOT_STATIC for w in words)
        if fast:
            for (name, _), word in zip(plain, words, strict=True):
                args[name] = word
        else:
            try:
                values = decode([t for _, t in plain], data)
            except Exception as exc:
                raise UndecodableLog(f"{spec.contract}.{spec.name}: data does not decode: {exc}") from exc
            for (name, abi_type), value in zip(plain, values, strict=True):
                args[name] = _to_json(abi_type, value)
        return _Event(block_number=log.block_number, block_hash=log.block_hash,
                      block_time=block_time, tx_hash=log.tx_hash,
                      tx_index=log.tx_index, log_index=log.log_index, address=address,
                      contract=spec.contract, name=spec.name, args=args, topics=b"".join(topics), data=data)

    # -- writing -----------------------------------------------------------------------------------------

    def _lock_cursor(self, conn: Connection, cursor: int, cursor_hash: bytes | None) -> None:
        row = conn.execute(self._db.locked(sa.select(idx_state.c.cursor_number, idx_state.c.cursor_hash))).one()
        found = None if row.cursor_hash is None else bytes(row.cursor_hash)
        if (int(row.cursor_number), found) != (cursor, cursor_hash):
            raise _Raced

    def _commit(self, fetched: _Range, cursor: int, cursor_hash: bytes | None) -> int:
        """Write a range's blocks and events, apply them to the projections, move the cursor: one transaction."""
        first, last = fetched.first, fetched.last
        with self._db.write() as conn:
            self._lock_cursor(conn, cursor, cursor_hash)
            conn.execute(sa.delete(idx_blocks).where(idx_blocks.c.number.between(first, last)))
            with_events = {e.block_number for e in fetched.events}
            kept = {n: h for n, h in fetched.headers.items() if n == last or n in with_events}
            if kept:
                conn.execute(sa.insert(idx_blocks), [
                    {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash, "timestamp": h.timestamp}
                    for h in kept.values()])
            # Events already held for these blocks (the cursor was moved back, or a crash came after a commit
            # the caller did not see): keep those of the canonical blocks, drop the others.
            held = conn.execute(sa.select(idx_events.c.block_number, idx_events.c.block_hash, idx_events.c.tx_hash,
                                          idx_events.c.log_index)
                                .where(idx_events.c.block_number.between(first, last))).all()
            canonical = {(h.number, h.hash) for h in fetched.headers.values()}
            stale = [r for r in held if (r.block_number, bytes(r.block_hash)) not in canonical]
            for r in stale:
                conn.execute(sa.delete(idx_events).where(idx_events.c.block_hash == r.block_hash,
                                                         idx_events.c.tx_hash == r.tx_hash,
                                                         idx_events.c.log_index == r.log_index))
            held_keys = {(bytes(r.block_hash), bytes(r.tx_hash), r.log_index) for r in held}
            new = [e for e in fetched.events if (e.block_hash, e.tx_hash, e.log_index) not in held_keys]
            latest = conn.execute(sa.select(idx_events.c.block_number, idx_events.c.log_index)
                                  .order_by(idx_events.c.block_number.desc(), idx_events.c.log_index.desc())
                                  .limit(1)).one_or_none()
            if new:
                conn.execute(sa.insert(idx_events), [e.row() for e in new])
            in_order = latest is None or not new or new[0].position > (latest.block_number, latest.log_index)
            if stale or not in_order:
                self._projector.replay(conn)  # the projections must follow block/log order: start over
            else:
                self._projector.begin()
                for event in new:
                    self._projector.apply(conn, event)
                self._projector.flush(conn)
            conn.execute(sa.update(idx_state).values(cursor_number=last, cursor_hash=fetched.tip.hash,
                                                     updated_ms=now_ms()))
        return len(new)

    def _roll_back(self, cursor: int, cursor_hash: bytes) -> int:
        """Drop every block the chain no longer holds (the newest kept block it still holds stays)."""
        with self._db.read() as conn:
            kept = [(int(r.number), bytes(r.hash)) for r in conn.execute(
                sa.select(idx_blocks.c.number, idx_blocks.c.hash).where(idx_blocks.c.number <= cursor)
                .order_by(idx_blocks.c.number))]
        # canonical-ness is monotone along the kept blocks (a block's hash commits to its ancestors): bisect
        lo, hi = 0, len(kept)  # kept[:lo] known canonical, kept[hi:] known orphaned
        while lo < hi:
            mid = (lo + hi) // 2
            number, block_hash = kept[mid]
            if self._hash_at(number) == block_hash:
                lo = mid + 1
            else:
                hi = mid
        keep_number, keep_hash = kept[lo - 1] if lo > 0 else (self.manifest.deploy_block - 1, None)
        with self._db.write() as conn:
            try:
                self._lock_cursor(conn, cursor, cursor_hash)
            except _Raced:
                return 0
            removed = conn.execute(sa.delete(idx_events).where(idx_events.c.block_number > keep_number)).rowcount
            conn.execute(sa.delete(idx_blocks).where(idx_blocks.c.number > keep_number))
            conn.execute(sa.update(idx_state).values(cursor_number=keep_number, cursor_hash=keep_hash,
                                                     updated_ms=now_ms()))
            self._projector.replay(conn)
        return int(removed or 0)

    # -- reading -----------------------------------------------------------------------------------------

    def position(self) -> IndexPosition:
        """Where the index stands: the cursor block's number, hash and time (one query)."""
        with self._db.read() as conn:
            return self._position(conn)

    def view(self, *, product: bytes | None = None, review_leaves: Iterable[int] = (),
             merchants: Iterable[str] = ()) -> IndexView:
        """The index as it stands now, its reads memoized until the index moves (:class:`IndexView`).

        One read transaction, a snapshot: the position; when that is new, the governance events, takedowns and
        checkpoints every profile and record needs; and what is not memoized yet of ``product`` (with the
        challenges of ``review_leaves``, and the trust data of each merchant its certificates and purchase
        disputes name) and of ``merchants`` (:meth:`IndexView.product`, :meth:`IndexView.merchant_trust`). When
        the index has not moved and everything asked is memoized, that is one query.
        """
        cache = self._view_cache
        read: dict[Hashable, Any] = {}
        with self._db.read() as conn:
            self._snapshot(conn)
            position = self._position(conn)
            globals_ = cache.current(position)
            new = globals_ is None
            if globals_ is None:
                globals_ = _read_globals(conn)

            def fetch(key: Hashable, reader: Callable[[], V]) -> V:
                found = None if new else cache.get(position, key)
                if found is None:
                    found = read[key] = reader()
                return cast(V, found)

            wanted = {_address_bytes(m) for m in merchants}
            if product is not None:
                pid, subjects = bytes(product), _subjects(review_leaves)
                data = fetch(_product_key(pid, subjects), lambda: _read_product(conn, pid, subjects))
                wanted |= {_address_bytes(c.merchant) for c in data.certificates}
                wanted |= {_address_bytes(r.merchant) for r in data.disputes if r.kind == 0}
            g = globals_
            for key in sorted(wanted):
                fetch(_merchant_key(key), functools.partial(_read_merchant_trust, conn, key, g))
        if new:
            cache.install(position, globals_)
        for k, v in read.items():
            cache.put(position, k, v)
        return IndexView(self, position, globals_, read)

    def _position(self, conn: Connection) -> IndexPosition:
        row = conn.execute(_position_query()).one_or_none()
        if row is None:
            return IndexPosition(self.manifest.deploy_block - 1, None, None)
        return IndexPosition(int(row[0]), None if row[1] is None else bytes(row[1]), None if row[2] is None else int(row[2]))

    def _snapshot(self, conn: Connection) -> None:
        """Make ``conn``'s read transaction one snapshot (its first statement). SQLite's read transactions in WAL
        mode already are; PostgreSQL's default (READ COMMITTED) gives each statement its own."""
        if self._db.dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the events table and of every projection, sorted: equal for equal indexes.

        ``idx_blocks`` and the cursor are left out (an incremental index keeps more range ends than a rebuild).
        """
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self._db.read() as conn:
            for table in INDEX_TABLES:
                if table is idx_blocks:
                    continue
                rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                        for r in conn.execute(sa.select(table))]
                out[table.name] = sorted(rows, key=_sort_key)
        return out

    def events(self, *, contract: str | None = None, event: str | None = None) -> list[HistoryEntry]:
        """Indexed events in chain order, optionally of one contract and one event name."""
        conditions = [cond for cond, given in ((idx_events.c.contract == contract, contract is not None),
                                               (idx_events.c.event == event, event is not None)) if given]
        with self._db.read() as conn:
            return list(_event_entries(conn, *conditions))

    def accreditation(self, issuer: str) -> Accreditation | None:
        """The accreditation of ``issuer``, or None when it was never accredited."""
        key = _address_bytes(issuer)
        with self._db.read() as conn:
            r = conn.execute(sa.select(idx_accreditations).where(idx_accreditations.c.issuer == key)).one_or_none()
            if r is None:
                return None
            scopes = frozenset(bytes(s) for s in conn.execute(
                sa.select(idx_issuer_scopes.c.scope).where(idx_issuer_scopes.c.issuer == key)).scalars())
        return Accreditation(_checksum(r.issuer), r.issuer_id, r.valid_from, r.valid_until, r.compromised_at,
                             bool(r.suspended), scopes)

    def merchant(self, merchant: str) -> MerchantRecord | None:
        """A merchant's standing, or None when it was never admitted."""
        with self._db.read() as conn:
            r = conn.execute(sa.select(idx_merchants).where(
                idx_merchants.c.merchant == _address_bytes(merchant))).one_or_none()
        if r is None:
            return None
        return MerchantRecord(_checksum(r.merchant), r.status, r.admitted_at, bytes(r.licence_hash),
                              r.sanction_kind, _opt_bytes(r.reason_code), _opt_bytes(r.ruling_ref))

    def arbitrators(self) -> list[str]:
        """The appointed arbitrators in governance's order (``arbitratorAt(0..n-1)``)."""
        with self._db.read() as conn:
            return [_checksum(a) for a in conn.execute(
                sa.select(idx_arbitrators.c.arbitrator).order_by(idx_arbitrators.c.position)).scalars()]

    def acts(self) -> list[ActRecord]:
        """Every delayed act, by id."""
        with self._db.read() as conn:
            return [ActRecord(int(r.act_id), r.kind, r.state, r.eta, r.time, _checksum(r.account), bytes(r.ref),
                              bytes(r.reason_code))
                    for r in conn.execute(sa.select(idx_acts).order_by(idx_acts.c.act_id))]

    def parameter(self, name: str) -> str | None:
        """A contract-wide setting as last set: ``log_operator``, ``order_signer``, ``certificate_registry``,
        ``review_log`` (checksummed addresses)."""
        with self._db.read() as conn:
            value = conn.execute(sa.select(idx_parameters.c.value).where(idx_parameters.c.name == name)).scalar()
        return None if value is None else _checksum(value)

    def certificate(self, certificate_id: bytes) -> CertificateRecord | None:
        """A certificate with its history, or None when the index holds no such certificate."""
        found = self._certificates(idx_certificates.c.certificate_id == bytes(certificate_id))
        return found[0] if found else None

    def certificates(self, *, product: bytes | None = None, merchant: str | None = None,
                     issuer: str | None = None, lot: bytes | None = None) -> list[CertificateRecord]:
        """Certificates matching every filter given, in anchoring order."""
        c = idx_certificates.c
        conditions = [cond for cond, given in (
            (c.product_id == (product or b""), product is not None),
            (c.merchant == (_address_bytes(merchant) if merchant else b""), merchant is not None),
            (c.issuer == (_address_bytes(issuer) if issuer else b""), issuer is not None),
            (c.lot == (lot or b""), lot is not None)) if given]
        return self._certificates(*conditions)

    def certificate_ids(self, *, product: bytes) -> list[tuple[int, int, bytes]]:
        """(anchoring block, block time, id) of every certificate of ``product``, in anchoring order; no
        history is read (:meth:`certificates` for the records)."""
        c = idx_certificates.c
        with self._db.read() as conn:
            return [(int(r.block_number), int(r.anchored_at), bytes(r.certificate_id)) for r in conn.execute(
                sa.select(c.block_number, c.anchored_at, c.certificate_id).where(c.product_id == bytes(product))
                .order_by(c.block_number, c.certificate_id))]

    def merchant_certificates(self, merchant: str) -> list[CertificateRecord]:
        """The same records as ``certificates(merchant=merchant)``, by name: what a caller reading one merchant's
        certificates with their histories calls (two queries: the records, then all their histories)."""
        return self._certificates(idx_certificates.c.merchant == _address_bytes(merchant))

    def _certificates(self, *conditions: Any) -> list[CertificateRecord]:
        with self._db.read() as conn:
            return list(_certificates_with_histories(conn, sa.and_(sa.true(), *conditions)))

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every anchored checkpoint, by index."""
        with self._db.read() as conn:
            return list(_checkpoint_records(conn))

    def dispute(self, dispute_id: bytes) -> DisputeRecord | None:
        """A dispute with its whole history in chain order, or None when the index holds no such dispute."""
        with self._db.read() as conn:
            found = _disputes_with_histories(conn, idx_disputes.c.dispute_id == bytes(dispute_id))
        return found[0] if found else None

    def disputes(self, *, product: bytes | None = None, merchant: str | None = None,
                 review_leaves: Iterable[int] | None = None) -> list[DisputeRecord]:
        """Disputes matching every filter given, each with its whole history, in opening order (two queries).

        ``product``: purchase disputes about that product. ``merchant``: disputes naming that merchant (purchase
        disputes and review challenges). ``review_leaves``: review challenges of any of those leaf indexes.
        """
        d = idx_disputes.c
        conditions: list[Any] = [sa.true()]
        if product is not None:
            conditions.append(d.product_id == bytes(product))
        if merchant is not None:
            conditions.append(d.merchant == _address_bytes(merchant))
        if review_leaves is not None:
            subjects = sorted({int(i).to_bytes(32, "big") for i in review_leaves})
            if not subjects:
                return []
            conditions += [d.kind == 1, d.subject.in_(subjects)]
        with self._db.read() as conn:
            return list(_disputes_with_histories(conn, sa.and_(*conditions)))

    def takedown_record(self, leaf_index: int) -> TakedownRecord | None:
        """``DisputeRegistry.takedown(leafIndex)`` as indexed, with the block of the event that last changed it
        (where the view returns exactly this), or None when no hide or takedown of the leaf is indexed."""
        with self._db.read() as conn:
            r = conn.execute(sa.select(idx_takedowns).where(idx_takedowns.c.leaf_index == leaf_index)).one_or_none()
        if r is None:
            return None
        return TakedownRecord(int(r.leaf_index), r.state, r.hidden_at, r.lapse_at, bytes(r.reason_code),
                              bytes(r.dispute_id), int(r.block_number))

    def takedown(self, leaf_index: int) -> tuple[int, int, int, bytes, bytes] | None:
        """``DisputeRegistry.takedown(leafIndex)`` as indexed: (state, hiddenAt, lapseAt, reasonCode, disputeId)."""
        with self._db.read() as conn:
            r = conn.execute(sa.select(idx_takedowns).where(idx_takedowns.c.leaf_index == leaf_index)).one_or_none()
        if r is None:
            return None
        return (r.state, r.hidden_at, r.lapse_at, bytes(r.reason_code), bytes(r.dispute_id))


def _certificate_record(r: Any, history: tuple[HistoryEntry, ...]) -> CertificateRecord:
    def checksum(raw: bytes) -> str:  # the same few merchants and issuers recur: the cached spelling
        return _checksum_of("0x" + bytes(raw).hex())

    return CertificateRecord(
        certificate_id=bytes(r.certificate_id), product_id=bytes(r.product_id), lot=bytes(r.lot),
        merchant=checksum(r.merchant), issuer=checksum(r.issuer), issuer_id=r.issuer_id, kind=r.kind,
        document_hash=bytes(r.document_hash), standard=bytes(r.standard), issued_at=r.issued_at,
        valid_until=r.valid_until, anchored_by=checksum(r.anchored_by), anchored_at=r.anchored_at,
        block_number=r.block_number, tx_hash=bytes(r.tx_hash), revoked_at=r.revoked_at,
        revoked_by=None if r.revoked_by is None else checksum(r.revoked_by),
        revocation_act=r.revocation_act, superseded_at=r.superseded_at,
        superseded_by=_opt_bytes(r.superseded_by), replaces=_opt_bytes(r.replaces),
        issuer_compromised_at=int(r.issuer_compromised_at or 0), history=history)


def _certificates_with_histories(conn: Connection, condition: Any) -> tuple[CertificateRecord, ...]:
    """The certificates matching ``condition`` (over ``idx_certificates``), in anchoring order, with their issuers'
    compromise times and their histories: two queries, whatever their number."""
    records, histories = _certificate_statements(condition)
    return _certificate_records(conn, conn.execute(records).all(), histories)


def _certificate_statements(condition: Any) -> tuple[Any, Any]:
    """(records, histories): the histories of the records found, by their ids (``:ids``)."""
    c, h = idx_certificates.c, idx_certificate_history.c
    return (sa.select(idx_certificates, idx_accreditations.c.compromised_at.label("issuer_compromised_at"))
            .select_from(idx_certificates.outerjoin(idx_accreditations, idx_accreditations.c.issuer == c.issuer))
            .where(condition).order_by(c.block_number, c.certificate_id),
            sa.select(idx_certificate_history).where(h.certificate_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(h.certificate_id, h.block_number, h.log_index))


def _certificate_records(conn: Connection, rows: Sequence[Any], histories_query: Any,
                         ) -> tuple[CertificateRecord, ...]:
    """The records of ``rows`` with their histories, read by ``histories_query`` for their ids (in chunks)."""
    if not rows:
        return ()
    histories: dict[bytes, list[HistoryEntry]] = {}
    ids = [bytes(r.certificate_id) for r in rows]
    for i in range(0, len(ids), _ID_CHUNK):
        for r in conn.execute(histories_query, {"ids": ids[i:i + _ID_CHUNK]}).all():
            histories.setdefault(bytes(r.certificate_id), []).append(_entry(r))
    return tuple(_certificate_record(r, tuple(histories.get(i, ()))) for r, i in zip(rows, ids, strict=True))


def _disputes_with_histories(conn: Connection, condition: Any) -> tuple[DisputeRecord, ...]:
    """The disputes matching ``condition`` (over ``idx_disputes``), in opening order (block, then id), each with
    its whole history in chain order: two queries, whatever their number."""
    records, histories = _dispute_statements(condition)
    return _dispute_records(conn, conn.execute(records).all(), histories)


def _dispute_statements(condition: Any) -> tuple[Any, Any]:
    """(records, histories): the histories of the records found, by their ids (``:ids``)."""
    d, h = idx_disputes.c, idx_dispute_history.c
    return (sa.select(idx_disputes).where(condition).order_by(d.block_number, d.dispute_id),
            sa.select(idx_dispute_history).where(h.dispute_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(h.dispute_id, h.block_number, h.log_index))


def _dispute_records(conn: Connection, rows: Sequence[Any], histories_query: Any) -> tuple[DisputeRecord, ...]:
    """The records of ``rows`` with their histories, read by ``histories_query`` for their ids (in chunks)."""
    if not rows:
        return ()
    histories: dict[bytes, list[HistoryEntry]] = {}
    ids = [bytes(r.dispute_id) for r in rows]
    for i in range(0, len(ids), _ID_CHUNK):
        for r in conn.execute(histories_query, {"ids": ids[i:i + _ID_CHUNK]}).all():
            histories.setdefault(bytes(r.dispute_id), []).append(_entry(r))
    return tuple(_dispute_record(r, tuple(histories.get(i, ()))) for r, i in zip(rows, ids, strict=True))


def _dispute_record(r: Any, history: tuple[HistoryEntry, ...]) -> DisputeRecord:
    return DisputeRecord(
        dispute_id=bytes(r.dispute_id), kind=r.kind, phase=r.phase, resume=r.resume, outcome=r.outcome,
        round=r.round, by_default=bool(r.by_default), panel=bool(r.panel), cursor=r.cursor,
        opened_at=r.opened_at, response_deadline=r.response_deadline, ruling_deadline=r.ruling_deadline,
        appeal_deadline=r.appeal_deadline, claimant=_checksum(r.claimant), remedy_deadline=r.remedy_deadline,
        respondent=_checksum(r.respondent), remedy_amount=int(r.remedy_amount), merchant=_checksum(r.merchant),
        arbitrator=_checksum(r.arbitrator), first_arbitrator=_checksum(r.first_arbitrator),
        subject=bytes(r.subject), product_id=_opt_bytes(r.product_id), category=bytes(r.category),
        history=history)


def _event_entries(conn: Connection, *conditions: Any) -> tuple[HistoryEntry, ...]:
    """Indexed events matching every condition, in chain order."""
    c = idx_events.c
    return _entries(conn.execute(sa.select(c.block_number, c.log_index, c.block_time, c.tx_hash, c.event, c.args)
                                 .where(*conditions).order_by(c.block_number, c.log_index)).all())


def _entries(rows: Iterable[Any]) -> tuple[HistoryEntry, ...]:
    """History entries of rows (block_number, log_index, block_time, tx_hash, event, args), in their order."""
    return tuple(HistoryEntry(r[0], r[1], r[2], bytes(r[3]), r[4], json.loads(r[5])) for r in rows)


def _checkpoint_records(conn: Connection) -> tuple[CheckpointRecord, ...]:
    return tuple(CheckpointRecord(r.checkpoint_index, r.size, bytes(r.root), r.anchored_at, r.block_number,
                                  bytes(r.tx_hash))
                 for r in conn.execute(sa.select(idx_checkpoints).order_by(idx_checkpoints.c.checkpoint_index)))


def _entry(r: Any) -> HistoryEntry:
    return HistoryEntry(r.block_number, r.log_index, r.block_time, bytes(r.tx_hash), r.event, json.loads(r.args))


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((1, 0) if v is None else (0, v) for v in row)


def _address_bytes(address: str) -> bytes:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
        raise InvalidInput(f"not an address: {address!r}")
    return bytes.fromhex(address[2:])


def _checksum(raw: bytes) -> str:
    return str(to_checksum_address(bytes(raw)))


def _opt_bytes(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


# --- projections ------------------------------------------------------------------------------------------

def _b(value: Any) -> bytes:
    """A JSON ``0x`` hex argument (bytesN or address) as bytes."""
    return bytes.fromhex(str(value)[2:])


# IDisputeRegistry.Phase / Outcome
_AWAITING_RESPONSE, _AWAITING_RULING, _RULED, _APPEALED, _ESCALATED = 1, 2, 3, 4, 5
_REMEDY_DUE, _REMEDY_REPORTED, _REMEDY_CONTESTED, _CLOSED = 6, 7, 8, 9
_REMEDY_OUTCOMES = (1, 2, 3)
# ITrustGovernance.ActState, IDisputeRegistry.TakedownState
_ACT_PENDING, _ACT_EXECUTED, _ACT_CANCELLED = 1, 2, 3
_EMERGENCY_HIDDEN, _TAKEN_DOWN, _RESTORED = 1, 2, 3

_Handler = Callable[["_Projector", Connection, _Event], None]
_PROJECTION_TABLES = tuple(t for t in INDEX_TABLES if t not in (idx_events, idx_blocks))


class _Projector:
    """Applies events, one at a time and in chain order, to the projection tables.

    Each handler mirrors the state change of the contract function that emitted the event; where an event
    leaves a value implicit it is recomputed as the contract computes it (a deadline from the block time and
    the deployment's periods; the assignment cursor from the arbitrator count).
    """

    def __init__(self, *, ruling_period: int, appeal_window: int) -> None:
        self.ruling_period = ruling_period
        self.appeal_window = appeal_window
        self._handlers: dict[str, _Handler] = {
            name.removeprefix("_on_"): cast(_Handler, getattr(type(self), name))
            for name in dir(type(self)) if name.startswith("_on_")}
        # issuer -> issuer id, for runs of CertificateIssued only: any other event (an accreditation among
        # them) empties it, and so does every new transaction (begin), so it never outlives what it read
        self._issuer_ids: dict[bytes, int] = {}
        # rows of a run of CertificateIssued events, written with one executemany per table when the run ends
        self._new_certificates: list[dict[str, Any]] = []
        self._new_history: list[dict[str, Any]] = []

    def begin(self) -> None:
        self._issuer_ids.clear()
        self._new_certificates.clear()
        self._new_history.clear()

    def flush(self, conn: Connection) -> None:
        """Write the rows held back for a run of CertificateIssued events."""
        if self._new_certificates:
            conn.execute(sa.insert(idx_certificates), self._new_certificates)
            self._new_certificates = []
        if self._new_history:
            conn.execute(sa.insert(idx_certificate_history), self._new_history)
            self._new_history = []

    def replay(self, conn: Connection) -> None:
        self.begin()
        for table in _PROJECTION_TABLES:
            conn.execute(sa.delete(table))
        c = idx_events.c
        after = (-1, -1)
        while True:  # in pages (keyset), so that no cursor stays open while the projections are written
            page = conn.execute(sa.select(idx_events).where(sa.tuple_(c.block_number, c.log_index) > after)
                                .order_by(c.block_number, c.log_index).limit(2000)).all()
            for row in page:
                self.apply(conn, _Event.from_row(row))
            if len(page) < 2000:
                self.flush(conn)
                return
            after = (page[-1].block_number, page[-1].log_index)

    def apply(self, conn: Connection, e: _Event) -> None:
        if e.name != "CertificateIssued":  # the run ends: write it before anything may read or change it
            self.flush(conn)
            self._issuer_ids.clear()
        handler = self._handlers.get(e.name)
        if handler is not None:
            handler(self, conn, e)

    # -- helpers
    @staticmethod
    def _set_parameter(conn: Connection, name: str, value: bytes, block: int) -> None:
        conn.execute(sa.delete(idx_parameters).where(idx_parameters.c.name == name))
        conn.execute(sa.insert(idx_parameters), {"name": name, "value": value, "block_number": block})

    @staticmethod
    def _history(conn: Connection, table: Table, key: str, value: bytes, e: _Event) -> None:
        conn.execute(sa.insert(table), _Projector._history_row(key, value, e))

    @staticmethod
    def _history_row(key: str, value: bytes, e: _Event) -> dict[str, Any]:
        return {key: value, "block_number": e.block_number, "log_index": e.log_index, "block_time": e.block_time,
                "tx_hash": e.tx_hash, "event": e.name, "args": _dumps(e.args)}

    @staticmethod
    def _update(conn: Connection, table: Table, where: Any, **values: Any) -> None:
        conn.execute(sa.update(table).where(where).values(**values))

    # -- TrustGovernance
    def _on_ContractsBound(self, conn: Connection, e: _Event) -> None:
        self._set_parameter(conn, "certificate_registry", _b(e.args["certificateRegistry"]), e.block_number)
        self._set_parameter(conn, "review_log", _b(e.args["reviewLog"]), e.block_number)

    def _on_IssuerAccredited(self, conn: Connection, e: _Event) -> None:
        issuer = _b(e.args["issuer"])
        a = idx_accreditations.c
        window = {"valid_from": e.args["validFrom"], "valid_until": e.args["validUntil"],
                  "updated_block": e.block_number}
        if conn.execute(sa.select(a.issuer).where(a.issuer == issuer)).first() is None:
            conn.execute(sa.insert(idx_accreditations), dict(
                issuer=issuer, issuer_id=e.args["issuerId"], suspended=False, compromised_at=0,
                accredited_block=e.block_number, **window))
        else:
            self._update(conn, idx_accreditations, a.issuer == issuer, **window)

    def _on_IssuerScopeSet(self, conn: Connection, e: _Event) -> None:
        issuer, scope = _b(e.args["issuer"]), _b(e.args["scope"])
        s = idx_issuer_scopes.c
        conn.execute(sa.delete(idx_issuer_scopes).where(s.issuer == issuer, s.scope == scope))
        if e.args["inScope"]:
            conn.execute(sa.insert(idx_issuer_scopes), {"issuer": issuer, "scope": scope, "block_number": e.block_number})

    def _on_IssuerSuspended(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_accreditations, idx_accreditations.c.issuer == _b(e.args["issuer"]), suspended=True,
                     suspension_reason=_b(e.args["reasonCode"]), updated_block=e.block_number)

    def _on_IssuerRestored(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_accreditations, idx_accreditations.c.issuer == _b(e.args["issuer"]), suspended=False,
                     suspension_reason=None, updated_block=e.block_number)

    def _on_IssuerKeyCompromised(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_accreditations, idx_accreditations.c.issuer == _b(e.args["issuer"]),
                     compromised_at=e.args["compromisedAt"], compromise_declared_by=_b(e.args["declaredBy"]),
                     updated_block=e.block_number)

    def _on_MerchantAdmitted(self, conn: Connection, e: _Event) -> None:
        conn.execute(sa.insert(idx_merchants), {
            "merchant": _b(e.args["merchant"]), "status": 1, "admitted_at": e.block_time,
            "licence_hash": _b(e.args["licenceHash"]), "updated_block": e.block_number})

    def _on_MerchantSanctioned(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_merchants, idx_merchants.c.merchant == _b(e.args["merchant"]),
                     status=e.args["status"], sanction_kind=e.args["kind"], reason_code=_b(e.args["reasonCode"]),
                     ruling_ref=_b(e.args["rulingRef"]), updated_block=e.block_number)

    def _on_MerchantRestored(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_merchants, idx_merchants.c.merchant == _b(e.args["merchant"]), status=1,
                     reason_code=_b(e.args["reasonCode"]), ruling_ref=_b(e.args["rulingRef"]),
                     updated_block=e.block_number)

    def _on_ArbitratorAppointed(self, conn: Connection, e: _Event) -> None:
        count = conn.execute(sa.select(sa.func.count()).select_from(idx_arbitrators)).scalar_one()
        conn.execute(sa.insert(idx_arbitrators), {"arbitrator": _b(e.args["arbitrator"]), "position": count,
                                                       "appointed_block": e.block_number})

    def _on_ArbitratorRemoved(self, conn: Connection, e: _Event) -> None:
        """Swap-and-pop, as governance's list does: the last arbitrator takes the removed one's place."""
        a = idx_arbitrators.c
        removed = _b(e.args["arbitrator"])
        position = conn.execute(sa.select(a.position).where(a.arbitrator == removed)).scalar_one()
        conn.execute(sa.delete(idx_arbitrators).where(a.arbitrator == removed))
        last = conn.execute(sa.select(sa.func.max(a.position))).scalar()
        if last is not None and last > position:
            self._update(conn, idx_arbitrators, a.position == last, position=position)

    def _on_OrderSignerSet(self, conn: Connection, e: _Event) -> None:
        self._set_parameter(conn, "order_signer", _b(e.args["current"]), e.block_number)

    def _on_ActScheduled(self, conn: Connection, e: _Event) -> None:
        conn.execute(sa.insert(idx_acts), {
            "act_id": int(e.args["actId"]), "kind": e.args["kind"], "state": _ACT_PENDING, "eta": e.args["eta"],
            "time": e.args["time"], "account": _b(e.args["account"]), "ref": _b(e.args["ref"]),
            "reason_code": _b(e.args["reasonCode"]), "scheduled_block": e.block_number, "scheduled_tx": e.tx_hash})

    def _on_ActExecuted(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_acts, idx_acts.c.act_id == int(e.args["actId"]), state=_ACT_EXECUTED,
                     closed_block=e.block_number)

    def _on_ActCancelled(self, conn: Connection, e: _Event) -> None:
        self._update(conn, idx_acts, idx_acts.c.act_id == int(e.args["actId"]), state=_ACT_CANCELLED,
                     closed_block=e.block_number)

    # -- CertificateRegistry
    def _on_CertificateIssued(self, conn: Connection, e: _Event) -> None:
        cid, issuer = _b(e.args["id"]), _b(e.args["issuer"])
        issuer_id = self._issuer_ids.get(issuer)
        if issuer_id is None:
            issuer_id = conn.execute(sa.select(idx_accreditations.c.issuer_id)
                                     .where(idx_accreditations.c.issuer == issuer)).scalar() or 0
            self._issuer_ids[issuer] = issuer_id
        self._new_certificates.append({
            "certificate_id": cid, "product_id": _b(e.args["productId"]), "lot": _b(e.args["lot"]),
            "merchant": _b(e.args["merchant"]), "issuer": issuer, "issuer_id": issuer_id or 0, "kind": e.args["kind"],
            "document_hash": _b(e.args["documentHash"]), "standard": _b(e.args["standard"]),
            "issued_at": e.args["issuedAt"], "valid_until": e.args["validUntil"], "anchored_by": _b(e.args["anchoredBy"]),
            "anchored_at": e.block_time, "block_number": e.block_number, "tx_hash": e.tx_hash})
        self._new_history.append(self._history_row("certificate_id", cid, e))

    def _on_CertificateRevoked(self, conn: Connection, e: _Event) -> None:
        cid = _b(e.args["id"])
        act = int(e.args["actId"])
        self._update(conn, idx_certificates, idx_certificates.c.certificate_id == cid, revoked_at=e.block_time,
                     revoked_by=_b(e.args["revokedBy"]), revocation_reason=_b(e.args["reasonCode"]),
                     revocation_act=act if act != 0 else None)
        self._history(conn, idx_certificate_history, "certificate_id", cid, e)

    def _on_CertificateSuperseded(self, conn: Connection, e: _Event) -> None:
        cid, replacement = _b(e.args["id"]), _b(e.args["replacementId"])
        c = idx_certificates.c
        self._update(conn, idx_certificates, c.certificate_id == cid, superseded_at=e.block_time,
                     superseded_by=replacement, supersession_reason=_b(e.args["reasonCode"]))
        self._update(conn, idx_certificates, c.certificate_id == replacement, replaces=cid)
        self._history(conn, idx_certificate_history, "certificate_id", cid, e)
        self._history(conn, idx_certificate_history, "certificate_id", replacement, e)

    # -- ReviewLog
    def _on_CheckpointAnchored(self, conn: Connection, e: _Event) -> None:
        conn.execute(sa.insert(idx_checkpoints), {
            "checkpoint_index": int(e.args["index"]), "size": e.args["size"], "root": _b(e.args["root"]),
            "anchored_at": e.args["timestamp"], "block_number": e.block_number, "tx_hash": e.tx_hash})

    def _on_LogOperatorSet(self, conn: Connection, e: _Event) -> None:
        self._set_parameter(conn, "log_operator", _b(e.args["current"]), e.block_number)

    # -- DisputeRegistry
    def _dispute(self, conn: Connection, e: _Event, **values: Any) -> None:
        self._update(conn, idx_disputes, idx_disputes.c.dispute_id == _b(e.args["id"]), **values)

    def _get(self, conn: Connection, e: _Event) -> Any:
        return conn.execute(sa.select(idx_disputes).where(idx_disputes.c.dispute_id == _b(e.args["id"]))).one()

    def _open(self, conn: Connection, e: _Event, **values: Any) -> None:
        zero = _b(ZERO_ADDRESS)
        conn.execute(sa.insert(idx_disputes), dict(
            dispute_id=_b(e.args["id"]), resume=0, outcome=0, round=0, by_default=False, panel=False, cursor=0,
            opened_at=e.block_time, appeal_deadline=0, remedy_deadline=0, arbitrator=zero, first_arbitrator=zero,
            remedy_amount="0", merchant=_b(e.args["merchant"]), claimant=_b(e.args["claimant"]),
            category=_b(e.args["category"]), block_number=e.block_number, tx_hash=e.tx_hash, **values))
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_PurchaseDisputeOpened(self, conn: Connection, e: _Event) -> None:
        response = int(e.args["responseDeadline"])
        self._open(conn, e, kind=0, phase=_AWAITING_RESPONSE, response_deadline=response,
                   ruling_deadline=response + self.ruling_period, respondent=_b(e.args["merchant"]),
                   subject=_b(e.args["orderCommitment"]), product_id=_b(e.args["productId"]),
                   claimant_commitment=_b(e.args["claimantCommitment"]))

    def _on_ReviewChallenged(self, conn: Connection, e: _Event) -> None:
        response = int(e.args["responseDeadline"])
        nobody = e.args["respondent"] == ZERO_ADDRESS  # the operator's own referral goes straight to a ruling
        self._open(conn, e, kind=1, phase=_AWAITING_RULING if nobody else _AWAITING_RESPONSE,
                   response_deadline=response, ruling_deadline=response + self.ruling_period,
                   respondent=_b(e.args["respondent"]), subject=int(e.args["leafIndex"]).to_bytes(32, "big"),
                   product_id=None, claimant_commitment=None)

    def _on_Evidence(self, conn: Connection, e: _Event) -> None:
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeResponded(self, conn: Connection, e: _Event) -> None:
        d = self._get(conn, e)
        if d.phase == _ESCALATED and d.resume == _AWAITING_RESPONSE:
            self._dispute(conn, e, resume=_AWAITING_RULING)
        else:
            self._dispute(conn, e, phase=_AWAITING_RULING, ruling_deadline=e.block_time + self.ruling_period)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_ArbitratorAssigned(self, conn: Connection, e: _Event) -> None:
        values: dict[str, Any] = {"arbitrator": _b(e.args["arbitrator"]), "cursor": e.args["cursor"],
                                  "panel": bool(e.args["panel"]), "ruling_deadline": e.args["rulingDeadline"]}
        if e.args["panel"]:  # appointPanel: the escalated dispute resumes where it stood
            values["phase"] = self._get(conn, e).resume
        self._dispute(conn, e, **values)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_ArbitratorRecused(self, conn: Connection, e: _Event) -> None:
        self._dispute(conn, e, panel=False)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeEscalated(self, conn: Connection, e: _Event) -> None:
        if e.args["to"] == ZERO_ADDRESS:  # nobody left under the public rule: awaiting a panel
            d = self._get(conn, e)
            n = conn.execute(sa.select(sa.func.count()).select_from(idx_arbitrators)).scalar_one()
            self._dispute(conn, e, resume=d.phase, phase=_ESCALATED, arbitrator=_b(ZERO_ADDRESS), panel=False,
                          cursor=max(d.cursor, n))
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeRuled(self, conn: Connection, e: _Event) -> None:
        values: dict[str, Any] = {"outcome": e.args["outcome"], "remedy_amount": str(int(e.args["remedyAmount"])),
                                  "by_default": bool(e.args["byDefault"])}
        if e.args["round"] == 0:
            values.update(first_arbitrator=_b(e.args["arbitrator"]), phase=_RULED,
                          appeal_deadline=e.block_time + self.appeal_window)
        self._dispute(conn, e, **values)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeAppealed(self, conn: Connection, e: _Event) -> None:
        self._dispute(conn, e, round=1, phase=_APPEALED, panel=False)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeFinal(self, conn: Connection, e: _Event) -> None:
        if e.args["outcome"] in _REMEDY_OUTCOMES:
            self._dispute(conn, e, phase=_REMEDY_DUE)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_RemedyReported(self, conn: Connection, e: _Event) -> None:
        self._dispute(conn, e, phase=_REMEDY_REPORTED, remedy_deadline=e.args["confirmDeadline"])
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_RemedyConfirmed(self, conn: Connection, e: _Event) -> None:
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_RemedyContested(self, conn: Connection, e: _Event) -> None:
        self._dispute(conn, e, phase=_REMEDY_CONTESTED, ruling_deadline=e.block_time + self.ruling_period)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_RemedyRuled(self, conn: Connection, e: _Event) -> None:
        if not e.args["fulfilled"]:
            self._dispute(conn, e, phase=_REMEDY_DUE)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _on_DisputeClosed(self, conn: Connection, e: _Event) -> None:
        self._dispute(conn, e, phase=_CLOSED)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["id"]), e)

    def _takedown(self, conn: Connection, e: _Event, **values: Any) -> None:
        leaf = int(e.args["leafIndex"])
        t = idx_takedowns.c
        if conn.execute(sa.select(t.leaf_index).where(t.leaf_index == leaf)).first() is None:
            row = {"hidden_at": 0, "lapse_at": 0, "reason_code": _ZERO32, "dispute_id": _ZERO32, **values}
            conn.execute(sa.insert(idx_takedowns), dict(leaf_index=leaf, block_number=e.block_number, **row))
        else:
            self._update(conn, idx_takedowns, t.leaf_index == leaf, block_number=e.block_number, **values)

    def _on_ReviewEmergencyHidden(self, conn: Connection, e: _Event) -> None:
        self._takedown(conn, e, state=_EMERGENCY_HIDDEN, hidden_at=e.block_time, lapse_at=e.args["lapseAt"],
                       reason_code=_b(e.args["reasonCode"]), dispute_id=_ZERO32)

    def _on_ReviewTakenDown(self, conn: Connection, e: _Event) -> None:
        leaf = int(e.args["leafIndex"])
        hidden = conn.execute(sa.select(idx_takedowns.c.hidden_at)
                              .where(idx_takedowns.c.leaf_index == leaf)).scalar()
        self._takedown(conn, e, state=_TAKEN_DOWN, dispute_id=_b(e.args["disputeId"]),
                       hidden_at=hidden if hidden else e.block_time)
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["disputeId"]), e)

    def _on_ReviewRestored(self, conn: Connection, e: _Event) -> None:
        self._takedown(conn, e, state=_RESTORED, dispute_id=_b(e.args["disputeId"]))
        self._history(conn, idx_dispute_history, "dispute_id", _b(e.args["disputeId"]), e)
