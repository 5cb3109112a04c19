"""The review log service: admits reviews, sequences them into the durable RFC 6962 log, hands out receipts.

A review gets in only with a purchase attestation signed by the platform's order signer (EIP-712, domain
"TrustLedger Purchase" bound to the chain id and the governance contract, verified off chain by public-key
recovery with coincurve), and only once per purchase (the attestation's order commitment is the leaf's
``purchase``). Admission, in order (docs/review-log.md):

1. the submission is well formed (:class:`InvalidReview`, :class:`RatingOutOfRange`,
   :class:`SubmittedAtOutOfRange`);
2. the attestation's signature is canonical and recovers to the order signer
   (:class:`MalformedAttestationSignature`, :class:`ForgedAttestation`);
3. the attestation is for this review's merchant and product (:class:`AttestationMismatch` naming the field);
4. no other review holds the purchase (:class:`DuplicateReview`). An *exact retry* (same purchase, product,
   merchant, rating, reviewer and text) is not a duplicate: it gets the receipt of the leaf already in the
   log, which is how a crash between the append and the receipt leaves every review in the log once.

Every admitted review becomes a :class:`~ledger.reviews.ReviewLeaf` (RFC 8785 canonical JSON of commitments
only); its text and content salt are sealed with the :class:`~ledger.vault.Vault` (associated data: the leaf
hash) into ``review_content``.

**Group commit.** Submitters (threads, asyncio tasks, :meth:`ReviewLogService.submit_many`) put requests on
a queue. An intake thread takes whatever is queued (up to ``max_batch``) and prepares it on a small thread
pool (validation, attestation recovery, canonicalisation, sealing: coincurve and AES-GCM release the GIL);
the sequencer thread appends each prepared batch in **one** database transaction, and only after it
committed are the receipts signed and handed back: a large batch in the receipt signing process (one per
interpreter, spawned, so that signing holds another GIL than this one's), a small one on the pool. A rejected
review fails alone.

**The sequencer lock.** Appends hold an in-process lock, and the transaction first reads (on PostgreSQL:
locks, ``SELECT ... FOR UPDATE``) the one ``log_state`` row and compares its ``tree_size`` with the size this
process has sequenced, then ends with a compare-and-set ``UPDATE ... WHERE tree_size = :old``. So exactly one
sequencer integrates leaves at a time, across processes. When another replica appended since (several
service processes over one PostgreSQL database), this one first takes those leaves into its tree, in the same
transaction and under the row lock, checked against the stored root, and appends after them. A holder that
died releases the lock with its connection, and its uncommitted batch is rolled back; one whose transaction
stalls holds the lock and keeps the others waiting but cannot fork the log, and its CAS fails if the row moved.
A log shorter than this process's (``tree_size`` below what it sequenced) is :class:`SequencerConflict`: the
batch fails and the service reloads the log before its next batch.

**Durable subtrees.** Leaves go to ``log_leaves`` and every complete subtree above them to ``log_nodes``
(:meth:`ledger.merkle.MerkleTree.nodes_since`), in the same transaction; a restarted service rebuilds its
tree with :meth:`ledger.merkle.MerkleTree.from_levels` (no hashing) and checks it against the stored root.
Roots and proofs for any size then cost O(log n) hashes.

**Fault point** (tests only). When the environment variable ``TRUSTLEDGER_FAULT`` is ``after_append`` at
construction, the process exits with status 137 (as if killed) right after a batch committed and before its
receipts are signed: the crash-safety test drives it from a subprocess.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import operator
import os
import queue
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Self

import coincurve
import sqlalchemy as sa
from sqlalchemy import Connection

from ledger import merkle
from ledger.eip712 import PurchaseAttestation
from ledger.errors import InvalidInput, LedgerError, VerificationError
from ledger.receipts import SECP256K1_HALF_N, SECP256K1_N, Receipt, ReceiptSigner, _keccak
from ledger.reviews import (
    MAX_SUBMITTED_AT,
    SALT_LENGTH,
    ReviewLeaf,
    _canonical_leaf_bytes,
    parse_review_leaf,
    reviewer_pseudonym,
)
from ledger.storage import Database
from ledger.storage.schema import log_leaves, log_nodes, log_state, review_content
from ledger.vault import Vault

__all__ = [
    "FAULT_ENV",
    "MAX_CLOCK_SKEW",
    "MAX_TEXT_BYTES",
    "AttestationError",
    "AttestationMismatch",
    "DuplicateReview",
    "Erasure",
    "ForgedAttestation",
    "InvalidReview",
    "InvalidTakedown",
    "LeafNotFound",
    "LogCorrupted",
    "MalformedAttestationSignature",
    "RatingOutOfRange",
    "ReviewContent",
    "ReviewLogService",
    "ReviewRejected",
    "ReviewSubmission",
    "SequencerConflict",
    "ServiceClosed",
    "StoredReview",
    "SubmittedAtOutOfRange",
    "Takedown",
    "TakedownKind",
    "attestation_digest",
]

_log = logging.getLogger(__name__)

MAX_CLOCK_SKEW = 300
"""Seconds a client's ``submitted_at`` may differ from the service's clock (either way)."""

MAX_TEXT_BYTES = 16_384
"""Largest review text, in UTF-8 bytes."""

FAULT_ENV = "TRUSTLEDGER_FAULT"
"""Environment variable naming a fault point (tests only): ``after_append``. See the module docstring."""

_LOG_ID = 1
_UINT40_MAX = 2**40 - 1
_VISIBLE, _HIDDEN, _REMOVED = 0, 1, 2
_SQL_CHUNK = 500  # bound parameters per IN (...) query

TakedownKind = Literal["ruling", "emergency_hide"]
"""``ruling``: removed by an arbitrator's ruling (final); ``emergency_hide``: hidden by the operator
pending a ruling (may be lifted)."""


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


class ReviewRejected(LedgerError):
    """A submitted review was not admitted. Subclasses say why."""


class InvalidReview(ReviewRejected, InvalidInput):
    """A field of the submission (or of its attestation) is malformed. ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"review {field}: {message}")


class RatingOutOfRange(InvalidReview):
    """The rating is not an integer from 1 to 5."""


class SubmittedAtOutOfRange(InvalidReview):
    """``submitted_at`` is further than the allowed clock skew from now, or before the purchase."""


class AttestationError(ReviewRejected, VerificationError, ValueError):
    """The purchase attestation does not admit this review."""


class MalformedAttestationSignature(AttestationError):
    """The attestation signature is not a canonical 65-byte ``r || s || v`` secp256k1 signature
    (v in {27, 28}, 0 < r < n, 0 < s <= n/2) from which a public key recovers."""


class ForgedAttestation(AttestationError):
    """The attestation signature recovers to an address other than the order signer's: another key, or a
    signature made for another chain or governance contract (the domain is part of what is signed)."""

    def __init__(self, *, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(f"purchase attestation signer: expected the order signer {expected}, found {found}")


class AttestationMismatch(AttestationError):
    """The attestation is genuine but for another merchant or product. ``field`` is ``merchant`` or
    ``productId``."""

    def __init__(self, *, field: str, expected: str, found: str) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(f"purchase attestation {field}: the review names {expected}, the attestation {found}")


class DuplicateReview(ReviewRejected, ValueError):
    """The purchase already has a different review (``leaf_index``). Each attestation admits one review."""

    def __init__(self, *, purchase: bytes, leaf_index: int) -> None:
        self.purchase = purchase
        self.leaf_index = leaf_index
        super().__init__(
            f"purchase 0x{purchase.hex()} already has a different review, leaf {leaf_index}: "
            "one review per purchase"
        )


class SequencerConflict(LedgerError, RuntimeError):
    """Another sequencer extended the log since this one last saw it: nothing was written. The service
    reloads the log before its next batch, so resubmitting is safe."""

    def __init__(self, *, expected: int, found: int) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            f"log_state.tree_size: expected {expected} (this sequencer's log), found {found}: another "
            "sequencer appended; nothing was written"
        )


class ServiceClosed(LedgerError, RuntimeError):
    """The service was closed: it accepts no more submissions."""


class LeafNotFound(LedgerError, LookupError):
    """No leaf at that index (yet)."""


class LogCorrupted(LedgerError, RuntimeError):
    """The stored log does not reproduce its stored root or shape (a lost or altered leaf or node)."""


class InvalidTakedown(LedgerError, ValueError):
    """A takedown that the review's current state does not allow, or a malformed kind or reference."""


# --------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewSubmission:
    """A review as the platform submits it on behalf of a consumer.

    ``product_id`` is 32 bytes, ``merchant`` an address, ``rating`` 1..5, ``text`` the review as the
    consumer wrote it (stored exactly; personal data, sealed), ``user_id`` the platform's user id (only its
    keyed pseudonym is logged), ``attestation`` and ``attestation_signature`` the order signer's purchase
    attestation, ``submitted_at`` unix seconds (default: now).
    """

    product_id: bytes
    merchant: str
    rating: int
    text: str
    user_id: str
    attestation: PurchaseAttestation
    attestation_signature: bytes
    submitted_at: int | None = None


@dataclass(frozen=True)
class ReviewContent:
    """The personal part of a review: its text and the salt of its content commitment."""

    text: str
    salt: bytes

    def __repr__(self) -> str:
        return f"ReviewContent(<{len(self.text)} characters hidden>)"


@dataclass(frozen=True)
class Takedown:
    """Why a review's content is not shown: ``kind`` and the dispute or act ``ref``, since ``at_ms``."""

    kind: TakedownKind
    ref: bytes
    at_ms: int

    def describe(self) -> str:
        """The public tombstone text."""
        if self.kind == "ruling":
            return f"removed by ruling 0x{self.ref.hex()}"
        return f"hidden by the operator pending a ruling (0x{self.ref.hex()})"


@dataclass(frozen=True)
class Erasure:
    """The review text and salt of ``leaf_index`` were deleted at ``erased_ms`` for ``reason``."""

    leaf_index: int
    erased_ms: int
    reason: str


@dataclass(frozen=True)
class StoredReview:
    """One review as the log holds it.

    ``leaf`` and ``leaf_hash`` are always there (the log is append-only); ``content`` only while the review
    is visible and not erased; ``takedown`` says why it is hidden, ``erasure`` when and why it was erased.
    """

    leaf_index: int
    leaf: ReviewLeaf
    leaf_hash: bytes
    accepted_ms: int
    content: ReviewContent | None
    takedown: Takedown | None
    erasure: Erasure | None

    @property
    def visible(self) -> bool:
        """True unless hidden or removed by a takedown (an erased review is visible, with no content)."""
        return self.takedown is None


# --------------------------------------------------------------------------------------------------------
# Purchase attestations (EIP-712, verified by recovery)
# --------------------------------------------------------------------------------------------------------

_PURCHASE_TYPEHASH = _keccak(
    b"PurchaseAttestation(bytes32 orderCommitment,address merchant,bytes32 productId,address buyer,"
    b"uint40 purchasedAt)"
)
_DOMAIN_TYPEHASH = _keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


def _purchase_domain_separator(chain_id: int, governance: bytes) -> bytes:
    return _keccak(
        _DOMAIN_TYPEHASH
        + _keccak(b"TrustLedger Purchase")
        + _keccak(b"1")
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + governance
    )


def _attestation_digest(domain: bytes, order: bytes, merchant: bytes, product: bytes, buyer: bytes,
                        purchased_at: int) -> bytes:
    struct_hash = _keccak(
        _PURCHASE_TYPEHASH + order + bytes(12) + merchant + product + bytes(12) + buyer
        + purchased_at.to_bytes(32, "big")
    )
    return _keccak(b"\x19\x01" + domain + struct_hash)


def attestation_digest(attestation: PurchaseAttestation, *, chain_id: int, governance: str) -> bytes:
    """The EIP-712 digest the order signer signs for ``attestation`` (what ``sign_purchase_attestation``
    signs, and ``DisputeRegistry.attestationDigest`` computes). Raises InvalidReview for a malformed field."""
    fields = _attestation_fields(attestation)
    return _attestation_digest(
        _purchase_domain_separator(_check_chain_id(chain_id), _address_bytes(governance, "governance")), *fields
    )


def _attestation_fields(att: object) -> tuple[bytes, bytes, bytes, bytes, int]:
    if not isinstance(att, PurchaseAttestation):
        raise InvalidReview("attestation", f"expected a PurchaseAttestation, found {type(att).__name__}")
    order = _hash32(att.order_commitment, "attestation.orderCommitment")
    merchant = _address_bytes(att.merchant, "attestation.merchant")
    product = _hash32(att.product_id, "attestation.productId")
    buyer = _address_bytes(att.buyer, "attestation.buyer")
    purchased_at = att.purchased_at
    if isinstance(purchased_at, bool) or not isinstance(purchased_at, int) or not 0 <= purchased_at <= _UINT40_MAX:
        raise InvalidReview("attestation.purchasedAt", f"expected a uint40, found {purchased_at!r}")
    return order, merchant, product, buyer, purchased_at


def _recover_address(signature: object, digest: bytes) -> bytes:
    """The 20-byte address that made ``signature`` (65 bytes r || s || v) over ``digest``."""
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise MalformedAttestationSignature(
            f"attestation signature: expected 65 bytes, found {type(signature).__name__}"
        )
    sig = bytes(signature)
    if len(sig) != 65:
        raise MalformedAttestationSignature(f"attestation signature: expected 65 bytes, found {len(sig)} bytes")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    v = sig[64]
    if v not in (27, 28):
        raise MalformedAttestationSignature(f"attestation signature v: expected 27 or 28, found {v}")
    if not 0 < r < SECP256K1_N:
        raise MalformedAttestationSignature("attestation signature r: expected 0 < r < n, found r out of range")
    if not 0 < s <= SECP256K1_HALF_N:
        found = "s > n/2 (high s)" if s > SECP256K1_HALF_N else "s = 0"
        raise MalformedAttestationSignature(f"attestation signature s: expected 0 < s <= n/2, found {found}")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            sig[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError:
        raise MalformedAttestationSignature(
            "attestation signature: expected one from which a public key recovers, found none"
        ) from None
    return _keccak(public_key.format(compressed=False)[1:])[12:]


# --------------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------------


def _hash32(value: object, field: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidReview(field, f"expected 32 bytes, found {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != 32:
        raise InvalidReview(field, f"expected 32 bytes, found {len(raw)} bytes")
    return raw


def _address_bytes(value: object, field: str) -> bytes:
    if isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
    raise InvalidReview(field, f"expected an address (0x and 40 hex digits), found {shown}")


def _check_chain_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**256:
        raise InvalidInput(f"chain_id must be an int from 1 to 2**256 - 1, found {value!r}")
    return value


def _check_index(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an int, found {type(value).__name__}")
    if value < 0:
        raise InvalidInput(f"{what} must be >= 0, found {value}")
    return value


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


# --------------------------------------------------------------------------------------------------------
# Requests through the pipeline
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    leaf_hash: bytes
    purchase: bytes
    submitted_at: int
    sealed: bytes
    text: str
    row: tuple[Any, ...]  # the log_leaves columns after leaf_index, up to submitted_at (_LEAF_COLUMNS[1:9])

    def identity(self) -> tuple[Any, ...]:
        """Purchase, product, merchant (20 bytes), reviewer and rating: what an exact retry repeats."""
        return self.row[2:7]


class _Group:
    """Completion of the requests of one :meth:`ReviewLogService.submit_many` call: one counter and one event
    for all of them instead of a ``Future`` (two locks and a condition) per review."""

    __slots__ = ("_done", "_lock", "_remaining")

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._remaining = count
        self._done = threading.Event()
        if count == 0:
            self._done.set()

    def resolved(self, count: int) -> None:
        with self._lock:
            self._remaining -= count
            if self._remaining <= 0:
                self._done.set()

    def wait(self) -> None:
        self._done.wait()


class _Request:
    """One review through the pipeline. Resolved once: through its ``future`` (``submit``, ``asubmit``) or,
    for ``submit_many``, by setting ``receipt`` or ``error`` and counting down its ``group``."""

    __slots__ = ("error", "future", "group", "prepared", "receipt", "result", "sub")

    def __init__(self, sub: ReviewSubmission, group: _Group | None = None) -> None:
        self.sub = sub
        self.group = group
        self.future: Future[Receipt] | None = Future() if group is None else None
        self.prepared: _Prepared | None = None
        self.error: BaseException | None = None
        self.receipt: Receipt | None = None
        self.result: tuple[bytes, int, int] | None = None  # an existing leaf's hash, index, submitted_at


@dataclass(slots=True)
class _Existing:
    leaf_index: int
    leaf: ReviewLeaf
    leaf_hash: bytes
    ciphertext: bytes | None


_STOP = object()


# --------------------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------------------


class ReviewLogService:
    """The review log of one operator: admission, group-committed appends, receipts, reads, takedowns.

    ``db`` must be migrated. ``receipt_signer`` signs receipts (its chain id and ReviewLog bind them);
    ``vault`` seals review text; ``pseudonym_key`` (>= 32 bytes) keys reviewer pseudonyms; ``order_signer``,
    ``chain_id`` and ``governance`` say whose purchase attestations, for which deployment, admit reviews.
    ``clock`` returns unix seconds (tests pass their own). ``max_batch`` bounds one group commit;
    ``workers`` sizes the thread pool for attestation recovery, sealing and receipt signing (default: the
    number of CPUs); ``max_clock_skew`` bounds how far ``submitted_at`` may be from the clock;
    ``signing_process`` says whether batches of 256 or more are signed in the receipt signing process
    (default: when there is more than one CPU; docs/review-log.md).

    Construction loads the log from ``db`` (creating its state row on first use) and raises
    :class:`LogCorrupted` when the stored tree does not reproduce the stored root. The sequencer threads
    start on the first submission or on :meth:`start`; :meth:`close` drains and stops them. Reads work
    without them.
    """

    def __init__(
        self,
        db: Database,
        *,
        receipt_signer: ReceiptSigner,
        vault: Vault,
        pseudonym_key: bytes,
        order_signer: str,
        chain_id: int,
        governance: str,
        clock: Callable[[], float] = time.time,
        max_batch: int = 4096,
        workers: int | None = None,
        max_clock_skew: int = MAX_CLOCK_SKEW,
        signing_process: bool | None = None,
    ) -> None:
        if not isinstance(receipt_signer, ReceiptSigner):
            raise InvalidInput(f"receipt_signer must be a ReceiptSigner, found {type(receipt_signer).__name__}")
        if not isinstance(vault, Vault):
            raise InvalidInput(f"vault must be a Vault, found {type(vault).__name__}")
        reviewer_pseudonym("probe", pseudonym_key)  # raises InvalidInput for a short or non-bytes key
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise InvalidInput(f"max_batch must be an int >= 1, found {max_batch!r}")
        if isinstance(max_clock_skew, bool) or not isinstance(max_clock_skew, int) or max_clock_skew < 0:
            raise InvalidInput(f"max_clock_skew must be an int >= 0, found {max_clock_skew!r}")
        self._db = db
        self._signer = receipt_signer
        self._vault = vault
        self._pseudonym_key = bytes(pseudonym_key)
        self._order_signer = _address_bytes(order_signer, "order_signer")
        self._domain = _purchase_domain_separator(_check_chain_id(chain_id), _address_bytes(governance, "governance"))
        self._clock = clock
        self._max_batch = max_batch
        self._workers = workers if workers is not None else max(1, os.cpu_count() or 1)
        self._skew = max_clock_skew
        self._signing_process = (os.cpu_count() or 1) > 1 if signing_process is None else bool(signing_process)
        self._fault = os.environ.get(FAULT_ENV, "")
        self._id = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"

        self._lock = threading.Lock()  # the in-process half of the sequencer lock
        self._tree_lock = threading.RLock()  # guards self._tree for readers while the sequencer extends it
        self._tree = merkle.MerkleTree()
        self._committed = 0
        self._last_accepted_ms = 0
        self._stale = False

        mark = "?" if db.dialect == "sqlite" else "%s"  # the DBAPI paramstyle: sqlite3 qmark, psycopg format
        self._sql_leaves = _insert_sql(log_leaves, _LEAF_COLUMNS, mark)
        self._sql_content = _insert_sql(review_content, _CONTENT_COLUMNS, mark)
        self._sql_nodes = _insert_sql(log_nodes, _NODE_COLUMNS, mark)
        self._multi_sql: dict[tuple[str, int], str] = {}
        self._max_parameters: int | None = None  # SQLite: bound parameters per statement, read on first use
        self._mark = mark
        self._sql_probe = (f"SELECT {log_leaves.c.leaf_index.name} FROM {log_leaves.name} "
                           f"WHERE {log_leaves.c.purchase.name} IN ({{}})")

        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._pool: ThreadPoolExecutor | None = None
        self._signing_thread: ThreadPoolExecutor | None = None  # waits on the signing process, not the pool
        self._threads: list[threading.Thread] = []
        self._state_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._stats_lock = threading.Lock()
        self._stats: dict[str, float] = {"batches": 0, "reviews": 0, "prepare_s": 0.0, "commit_s": 0.0,
                                         "sign_s": 0.0, "followed": 0}

        self._ensure_state_row()
        with self._lock:
            self._load()

    def __repr__(self) -> str:
        return f"ReviewLogService(size={self.size}, db={self._db!r})"

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the intake and sequencer threads and the worker pool (idempotent)."""
        with self._state_lock:
            if self._closed:
                raise ServiceClosed("the review log service is closed")
            if self._started:
                return
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="reviewlog-worker")
            self._signing_thread = ThreadPoolExecutor(1, thread_name_prefix="reviewlog-signer")
            if self._signing_process:
                try:
                    _signing_pool()  # start it now rather than in the first large batch
                except Exception as exc:  # noqa: BLE001 - no process: sign on the worker threads
                    _log.warning("no receipt signing process (%r): signing on the worker threads", exc)
                    _drop_signing_pool()
                    self._signing_process = False
            self._threads = [
                threading.Thread(target=self._intake_loop, name="reviewlog-intake", daemon=True),
                threading.Thread(target=self._sequencer_loop, name="reviewlog-sequencer", daemon=True),
            ]
            for t in self._threads:
                t.start()
            self._started = True

    def close(self) -> None:
        """Refuse new submissions, finish every one already queued, and stop the threads."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        if started:
            self._queue.put(_STOP)
            for t in self._threads:
                t.join()
            assert self._pool is not None
            self._pool.shutdown(wait=True)
            assert self._signing_thread is not None
            self._signing_thread.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting -----------------------------------------------------------------------------------------

    def submit(self, sub: ReviewSubmission) -> Receipt:
        """Admit ``sub`` and return its signed receipt once its batch is committed (blocking).

        Raises a :class:`ReviewRejected` subclass when the review is not admitted, :class:`SequencerConflict`
        when another sequencer moved the log (resubmit), :class:`ServiceClosed` after :meth:`close`, or
        :class:`~ledger.storage.DatabaseUnavailable`. An exact retry of an admitted review returns the
        receipt of its existing leaf.
        """
        future = self._enqueue(sub).future
        assert future is not None
        return future.result()

    def submit_many(self, subs: Iterable[ReviewSubmission]) -> list[Receipt | LedgerError]:
        """Submit every review at once (they share group commits); each gets its receipt or its error.

        Errors that are not :class:`~ledger.errors.LedgerError` (bugs) are raised, not returned.
        """
        items = list(subs)
        group = _Group(len(items))
        requests = [_Request(sub, group) for sub in items]
        if not self._started:
            self.start()
        with self._state_lock:  # all or none: no request may slip in behind the stop marker
            if self._closed:
                raise ServiceClosed("the review log service is closed")
            put = self._queue.put
            for request in requests:
                put(request)
        group.wait()
        out: list[Receipt | LedgerError] = []
        for request in requests:
            if request.error is None and request.receipt is not None:
                out.append(request.receipt)
            elif isinstance(request.error, LedgerError):
                out.append(request.error)
            else:
                raise request.error or RuntimeError("request was not processed")
        return out

    async def asubmit(self, sub: ReviewSubmission) -> Receipt:
        """:meth:`submit` for asyncio: waits for the group commit without blocking the event loop."""
        future = self._enqueue(sub).future
        assert future is not None
        return await asyncio.wrap_future(future)

    def _enqueue(self, sub: ReviewSubmission) -> _Request:
        if not self._started:
            self.start()
        request = _Request(sub)
        with self._state_lock:  # no request may slip in behind the stop marker
            if self._closed:
                raise ServiceClosed("the review log service is closed")
            self._queue.put(request)
        return request

    # -- the pipeline ---------------------------------------------------------------------------------------

    def _intake_loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Request] = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                self._prepare_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - a bug must fail this batch, not hang its callers
                for request in batch:
                    request.error = request.error or exc
            self._ready.put(batch)
        self._ready.put(_STOP)

    def _prepare_batch(self, batch: list[_Request]) -> None:
        started = time.perf_counter()
        now = self._clock()
        chunks = _chunks(batch, self._workers)
        if len(chunks) == 1:
            self._prepare_chunk(chunks[0], now)
        else:
            assert self._pool is not None
            for f in [self._pool.submit(self._prepare_chunk, chunk, now) for chunk in chunks]:
                f.result()
        self._count(prepare_s=time.perf_counter() - started)

    def _prepare_chunk(self, chunk: Sequence[_Request], now: float) -> None:
        for request in chunk:
            try:
                request.prepared = self._prepare(request.sub, now)
            except BaseException as exc:  # noqa: BLE001 - each caller gets its own error
                request.error = exc

    def _sequencer_loop(self) -> None:
        stop = False
        while not stop:
            batch = self._ready.get()
            if batch is _STOP:
                return
            # Group commit across intake batches: under a trickle of single submissions the intake hands over
            # many small batches; everything that queued up while the last commit was syncing goes into the
            # next one, so the commit rate, not the request rate, bounds the fsyncs.
            batch = list(batch)
            while len(batch) < self._max_batch:
                try:
                    more = self._ready.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.extend(more)
            admitted = [r for r in batch if r.error is None]
            started = time.perf_counter()
            fresh: list[_Request] = []
            first = 0
            if admitted:
                try:
                    fresh, first = self._append(admitted)
                except BaseException as exc:  # noqa: BLE001 - the whole batch failed: tell every caller
                    for request in admitted:  # including any DuplicateReview judged in the rolled-back read
                        request.error = exc
            self._count(commit_s=time.perf_counter() - started, batches=1, reviews=len(batch))
            if self._fault == "after_append":
                os._exit(137)  # tests: die after the commit, before any receipt is signed
            # Hand the signing to the pool: the new leaves in runs of consecutive indices, and the rest
            # (exact retries of stored leaves, rejected reviews) with the first run.
            new = {id(r) for r in fresh} if len(fresh) != len(batch) else None
            rest = [] if new is None else [r for r in batch if id(r) not in new]
            in_process = self._signing_process and len(fresh) >= _PROCESS_SIGNING_MIN
            parts = ([fresh] if in_process else _chunks(fresh, self._workers)) or [[]]
            assert self._pool is not None
            offset = first
            for i, part in enumerate(parts):
                args = (part, offset, rest if i == 0 else [])
                offset += len(part)
                # A batch for the signing process is waited on by a thread of its own, so that the pool's
                # threads keep preparing (recovering attestations) meanwhile.
                executor = self._signing_thread if in_process else self._pool
                assert executor is not None
                executor.submit(self._finish_chunk, *args)

    def _finish_chunk(self, fresh: Sequence[_Request], first: int, rest: Sequence[_Request]) -> None:
        """Sign the receipts of ``fresh`` (leaves ``first, first + 1, ...``) and of the exact retries in
        ``rest``, and resolve every request of both with its receipt or its error."""
        started = time.perf_counter()
        receipts: list[Receipt] = []
        if fresh:
            hashes = [r.prepared.leaf_hash for r in fresh]  # type: ignore[union-attr]
            times = [r.prepared.submitted_at for r in fresh]  # type: ignore[union-attr]
            try:
                receipts = self._sign_batch(hashes, first, times)
            except BaseException as exc:  # noqa: BLE001 - a bug must fail these reviews, not hang their callers
                for request in fresh:
                    request.error = exc
                receipts = []
        groups: dict[_Group, int] = {}
        if receipts:
            group = fresh[0].group
            if group is not None and all(r.group is group for r in fresh):  # one submit_many: the usual case
                for request, receipt in zip(fresh, receipts, strict=True):
                    request.receipt = receipt
                groups[group] = len(fresh)
            else:
                for request, receipt in zip(fresh, receipts, strict=True):
                    self._resolve(request, receipt, groups)
        else:
            for request in fresh:
                self._resolve(request, None, groups)
        sign = self._signer.sign
        for request in rest:
            retry_receipt: Receipt | None = None
            if request.error is None and request.result is not None:
                try:
                    retry_receipt = sign(*request.result)
                except BaseException as exc:  # noqa: BLE001
                    request.error = exc
            elif request.error is None:
                request.error = RuntimeError("request was not processed")
            self._resolve(request, retry_receipt, groups)
        for group, count in groups.items():  # after every receipt of the chunk is in place
            group.resolved(count)
        self._count(sign_s=time.perf_counter() - started)

    def _sign_batch(self, hashes: list[bytes], first: int, times: list[int]) -> list[Receipt]:
        """The receipts of leaves ``first, ...``: in the signing process for a large batch (its C work and
        Python wrapper then hold another interpreter's GIL, not this one's), else on this thread. A signing
        process that died or failed is replaced, and this batch is signed here."""
        if not self._signing_process or len(hashes) < _PROCESS_SIGNING_MIN:
            return self._signer.sign_batch(hashes, first, times)
        try:
            return self._signer.sign_batch(hashes, first, times, executor=_signing_pool())
        except (InvalidInput, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, a pickling or OS error: sign here
            _log.warning("receipt signing process failed (%r): signing on the worker threads", exc)
            _drop_signing_pool()
            return self._signer.sign_batch(hashes, first, times)

    @staticmethod
    def _resolve(request: _Request, receipt: Receipt | None, groups: dict[_Group, int]) -> None:
        """Hand ``request`` its ``receipt`` (or its error when None); submit_many groups are counted in
        ``groups`` and released by the caller once the whole chunk is in place."""
        future = request.future
        if future is None:
            request.receipt = receipt
            group = request.group
            assert group is not None
            groups[group] = groups.get(group, 0) + 1
        elif receipt is not None:
            future.set_result(receipt)
        else:
            future.set_exception(request.error or RuntimeError("request was not processed"))

    # -- admission ------------------------------------------------------------------------------------------

    def _prepare(self, sub: ReviewSubmission, now: float) -> _Prepared:
        """Validate, verify the attestation, build the leaf and seal the content. Raises ReviewRejected."""
        if not isinstance(sub, ReviewSubmission):
            raise InvalidReview("submission", f"expected a ReviewSubmission, found {type(sub).__name__}")
        order, att_merchant, att_product, buyer, purchased_at = _attestation_fields(sub.attestation)
        product = _hash32(sub.product_id, "productId")
        merchant = _address_bytes(sub.merchant, "merchant")
        rating = sub.rating
        if isinstance(rating, bool) or not isinstance(rating, int):
            raise RatingOutOfRange("rating", f"expected an integer from 1 to 5, found {type(rating).__name__}")
        if not 1 <= rating <= 5:
            raise RatingOutOfRange("rating", f"expected an integer from 1 to 5, found {rating}")
        text = sub.text
        if not isinstance(text, str):
            raise InvalidReview("text", f"expected a string, found {type(text).__name__}")
        try:
            raw_text = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidReview("text", f"expected text encodable as UTF-8, found {exc.reason}") from None
        if not 1 <= len(raw_text) <= MAX_TEXT_BYTES:
            raise InvalidReview("text", f"expected 1 to {MAX_TEXT_BYTES} UTF-8 bytes, found {len(raw_text)}")
        try:
            reviewer = reviewer_pseudonym(sub.user_id, self._pseudonym_key)
        except InvalidInput as exc:
            raise InvalidReview("user_id", str(exc)) from None
        submitted_at = self._submitted_at(sub.submitted_at, now, purchased_at)

        self._verify_attestation(order, att_merchant, att_product, buyer, purchased_at, sub.attestation_signature)
        if merchant != att_merchant:
            raise AttestationMismatch(field="merchant", expected=_hex(merchant), found=_hex(att_merchant))
        if product != att_product:
            raise AttestationMismatch(field="productId", expected=_hex(product), found=_hex(att_product))

        salt = os.urandom(SALT_LENGTH)
        salted = salt + raw_text
        # Every field was checked above (32-byte hashes, an address, rating 1..5, submitted_at within the
        # skew of the clock and the leaf format's range), so the canonical leaf is formatted directly: no
        # ReviewLeaf that re-checks them, and one object less per review for the garbage collector to track.
        canonical = _canonical_leaf_bytes(product, sub.merchant.lower(), rating, hashlib.sha256(salted).digest(),
                                          reviewer, order, submitted_at)
        leaf_hash = hashlib.sha256(b"\x00" + canonical).digest()
        sealed = self._vault.seal(salted, record=leaf_hash)
        return _Prepared(leaf_hash, order, submitted_at, sealed, text,
                         (leaf_hash, canonical, order, product, merchant, reviewer, rating, submitted_at))

    def _submitted_at(self, value: object, now: float, purchased_at: int) -> int:
        if value is None:
            value = int(now)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise InvalidReview("submitted_at", f"expected unix seconds (int), found {type(value).__name__}")
        if value > now + self._skew:
            raise SubmittedAtOutOfRange(
                "submitted_at", f"expected at most {self._skew} s after now ({int(now)}), found {value} (future)"
            )
        if value < now - self._skew:
            raise SubmittedAtOutOfRange(
                "submitted_at", f"expected at most {self._skew} s before now ({int(now)}), found {value} (stale)"
            )
        if value + self._skew < purchased_at:
            raise SubmittedAtOutOfRange(
                "submitted_at", f"expected no earlier than the purchase ({purchased_at}), found {value}"
            )
        if not 0 <= value <= MAX_SUBMITTED_AT:  # only with a clock far from now
            raise SubmittedAtOutOfRange("submitted_at", f"expected 0 to 2**53 - 1, found {value}")
        return value

    def _verify_attestation(self, order: bytes, merchant: bytes, product: bytes, buyer: bytes,
                            purchased_at: int, signature: object) -> None:
        digest = _attestation_digest(self._domain, order, merchant, product, buyer, purchased_at)
        signer = _recover_address(signature, digest)
        if signer != self._order_signer:
            raise ForgedAttestation(expected=_hex(self._order_signer), found=_hex(signer))

    # -- the sequencer --------------------------------------------------------------------------------------

    def _append(self, batch: list[_Request]) -> tuple[list[_Request], int]:
        """Append the prepared requests of ``batch`` in one transaction guarded by the CAS on tree_size.

        Returns the requests that became new leaves, in order, and the index of the first; sets ``result``
        (the stored leaf to sign for) on exact retries and ``error`` on duplicates. Raises (and writes
        nothing) when the whole batch fails.
        """
        with self._lock:
            if self._stale:
                self._load()
            old = self._committed
            accepted_ms = max(int(self._clock() * 1000), self._last_accepted_ms)
            fresh: list[_Request] = []
            try:
                with self._db.write() as conn:
                    found, found_root = conn.execute(
                        self._db.locked(sa.select(log_state.c.tree_size, log_state.c.root)
                                        .where(log_state.c.log_id == _LOG_ID))
                    ).one()
                    if found < old:  # the log shrank under this process: never extend it
                        raise SequencerConflict(expected=old, found=found)
                    if found > old:  # another replica appended: take its leaves, under the row lock
                        old = self._follow(conn, found, bytes(found_root))
                        accepted_ms = max(accepted_ms, self._last_accepted_ms)
                    prepared: list[_Prepared] = [r.prepared for r in batch]  # type: ignore[misc]
                    fresh, prepared = self._deduplicate(conn, batch, prepared, old)
                    if fresh:
                        with self._tree_lock:
                            self._tree.extend([p.leaf_hash for p in prepared])
                            nodes = self._tree.nodes_since(old)
                            root = self._tree.root()
                        self._insert(conn, prepared, old, nodes, accepted_ms)
                        done = conn.execute(
                            sa.update(log_state)
                            .where(log_state.c.log_id == _LOG_ID, log_state.c.tree_size == old)
                            .values(tree_size=old + len(fresh), root=root, sequencer=self._id)
                        )
                        if done.rowcount != 1:  # unreachable under the row lock; the CAS is the guarantee
                            raise SequencerConflict(expected=old, found=-1)
            except BaseException as exc:
                with self._tree_lock:
                    if self._tree.size != old:
                        self._tree.truncate(old)
                for request in batch:  # nothing was written: no request may keep a result
                    request.result = None
                if isinstance(exc, SequencerConflict):
                    self._stale = True
                raise
            self._committed = old + len(fresh)
            if fresh:
                self._last_accepted_ms = accepted_ms
            return fresh, old

    def _follow(self, conn: Connection, size: int, root: bytes) -> int:
        """Extend this process's tree with leaves ``[committed, size)`` that another replica appended and
        committed, and check the result against ``root``, read with ``size`` from ``log_state`` in one statement
        (leaves below a committed size never change, so reading them later in the transaction is consistent).
        O(new leaves). Returns ``size``. Requires self._lock."""
        current = self._committed
        rows = conn.execute(
            sa.select(log_leaves.c.leaf_hash, log_leaves.c.accepted_ms)
            .where(log_leaves.c.leaf_index >= current, log_leaves.c.leaf_index < size)
            .order_by(log_leaves.c.leaf_index)).all()
        new = [row[0] for row in rows]
        last_ms = max((int(row[1]) for row in rows), default=0)
        if len(new) != size - current:
            raise LogCorrupted(f"log_leaves: expected {size - current} leaves from {current}, found {len(new)}")
        with self._tree_lock:
            self._tree.extend([bytes(h) for h in new])
            if self._tree.root() != bytes(root):
                self._tree.truncate(current)
                raise LogCorrupted(f"the stored log of {size} leaves does not have the root log_state holds "
                                   f"(0x{bytes(root).hex()})")
        self._committed = size
        self._last_accepted_ms = max(self._last_accepted_ms, last_ms)
        self._count(followed=size - current)
        return size

    def _deduplicate(self, conn: Connection, batch: list[_Request], prepared: list[_Prepared],
                     old: int) -> tuple[list[_Request], list[_Prepared]]:
        """Split ``batch`` (with its ``prepared`` reviews) into the new leaves (returned, in order, with their
        prepared reviews; their indices follow ``old``), exact retries (``result`` set to the leaf they
        repeat) and duplicates (``error`` set)."""
        purchases = [p.purchase for p in prepared]
        existing = self._existing(conn, purchases)
        if not existing and len(set(purchases)) == len(purchases):
            return batch, prepared  # the usual case: every review is a new purchase
        first: dict[bytes, tuple[_Request, int]] = {}
        fresh: list[_Request] = []
        new: list[_Prepared] = []
        retries: list[tuple[_Request, _Request, int]] = []
        for request, p in zip(batch, prepared, strict=True):
            purchase = p.purchase
            prior = existing.get(purchase)
            if prior is not None:
                if self._is_retry_of_stored(p, prior):
                    request.result = (prior.leaf_hash, prior.leaf_index, prior.leaf.submitted_at)
                else:
                    request.error = DuplicateReview(purchase=purchase, leaf_index=prior.leaf_index)
                continue
            seen = first.get(purchase)
            if seen is not None:
                retries.append((request, *seen))
                continue
            first[purchase] = (request, old + len(fresh))
            fresh.append(request)
            new.append(p)
        for request, earlier, index in retries:
            mine, e = request.prepared, earlier.prepared
            assert mine is not None and e is not None
            if mine.identity() == e.identity() and mine.text == e.text:
                request.result = (e.leaf_hash, index, e.submitted_at)
            else:
                request.error = DuplicateReview(purchase=mine.purchase, leaf_index=index)
        return fresh, new

    def _existing(self, conn: Connection, purchases: list[bytes]) -> dict[bytes, _Existing]:
        # The probe runs for every review of every batch: plain DBAPI over the unique index on purchase
        # (SQLAlchemy's bind processing of a 500-value IN list cost more than the lookups). Only the rare
        # hits (retries, duplicates) load the stored leaf and sealed text.
        hits: list[int] = []
        for i in range(0, len(purchases), _SQL_CHUNK):
            part = tuple(purchases[i : i + _SQL_CHUNK])
            sql = self._sql_probe.format(", ".join([self._mark] * len(part)))
            hits.extend(int(index) for (index,) in conn.exec_driver_sql(sql, part))
        out: dict[bytes, _Existing] = {}
        if not hits:
            return out
        joined = log_leaves.outerjoin(review_content, review_content.c.leaf_index == log_leaves.c.leaf_index)
        for i in range(0, len(hits), _SQL_CHUNK):
            rows = conn.execute(
                sa.select(log_leaves.c.leaf_index, log_leaves.c.leaf, log_leaves.c.leaf_hash,
                          review_content.c.ciphertext)
                .select_from(joined)
                .where(log_leaves.c.leaf_index.in_(hits[i : i + _SQL_CHUNK]))
            )
            for index, leaf_bytes, leaf_hash, ciphertext in rows:
                leaf = parse_review_leaf(bytes(leaf_bytes))
                out[leaf.purchase] = _Existing(index, leaf, bytes(leaf_hash),
                                               None if ciphertext is None else bytes(ciphertext))
        return out

    def _is_retry_of_stored(self, p: _Prepared, prior: _Existing) -> bool:
        if p.identity() != _identity(prior.leaf) or prior.ciphertext is None:
            return False  # an erased review cannot be compared: treat a resubmission as a new review
        stored = self._vault.open(prior.ciphertext, record=prior.leaf_hash)
        return stored[SALT_LENGTH:] == p.text.encode("utf-8")

    def _insert(self, conn: Connection, prepared: list[_Prepared], old: int,
                nodes: list[tuple[int, int, bytes]], accepted_ms: int) -> None:
        # The hot path of every batch, on the one serial thread: plain DBAPI executemany (SQLAlchemy Core's
        # executemany spends about 15 us per row processing parameters), and rows assembled by map and zip
        # from the column tuples the pool built while preparing, so no Python bytecode runs per row here.
        end = old + len(prepared)
        leaves = list(map(operator.add, map(operator.add, zip(range(old, end)), [p.row for p in prepared]),
                          itertools.repeat((accepted_ms, _VISIBLE))))
        contents = list(zip(range(old, end), [p.sealed for p in prepared]))
        if self._db.dialect != "sqlite":
            conn.exec_driver_sql(self._sql_leaves, leaves)
            conn.exec_driver_sql(self._sql_content, contents)
            if nodes:
                conn.exec_driver_sql(self._sql_nodes, nodes)
            return
        # SQLite: multi-row INSERTs, a few statements per batch instead of one step per row. sqlite3 releases
        # the GIL around every step, and each time this thread wants it back it waits for whichever pool
        # thread holds it: per row, that wait cost more than the insert itself (docs/review-log.md).
        if self._max_parameters is None:  # this build's limit (sqlite3 >= 3.11 reports it), once
            raw = conn.connection.driver_connection
            getlimit = getattr(raw, "getlimit", None)
            self._max_parameters = (min(_SQLITE_MAX_PARAMETERS, getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
                                    if getlimit is not None else 999)
        for table, columns, rows in ((log_leaves, _LEAF_COLUMNS, leaves),
                                     (review_content, _CONTENT_COLUMNS, contents),
                                     (log_nodes, _NODE_COLUMNS, nodes)):
            start = 0
            while start < len(rows):
                count = _rows_per_statement(len(rows) - start, len(columns), self._max_parameters)
                conn.exec_driver_sql(self._multi_row_sql(table, columns, count),
                                     tuple(itertools.chain.from_iterable(rows[start : start + count])))
                start += count

    def _multi_row_sql(self, table: sa.Table, columns: Sequence[str], count: int) -> str:
        """``INSERT INTO table (columns) VALUES (?, ...), ...`` for ``count`` rows (SQLite), cached."""
        key = (table.name, count)
        sql = self._multi_sql.get(key)
        if sql is None:
            row = "(" + ", ".join(["?"] * len(columns)) + ")"
            sql = _insert_sql(table, columns, "?").partition(" VALUES ")[0] + " VALUES " + ", ".join([row] * count)
            self._multi_sql[key] = sql
        return sql

    # -- loading --------------------------------------------------------------------------------------------

    def _ensure_state_row(self) -> None:
        with self._db.read() as conn:
            present = conn.execute(sa.select(log_state.c.log_id).where(log_state.c.log_id == _LOG_ID)).first()
        if present is not None:
            return
        try:
            with self._db.write() as conn:
                conn.execute(sa.insert(log_state).values(log_id=_LOG_ID, tree_size=0, root=merkle.EMPTY_ROOT))
        except sa.exc.IntegrityError:
            pass  # another service created it first

    def _load(self) -> None:
        """(Re)load the committed log: from stored levels when starting, by extending with the new leaves
        when catching up. Requires self._lock. Raises LogCorrupted when the result misses the stored root."""
        with self._db.read() as conn:
            size, root, last_ms = conn.execute(
                sa.select(log_state.c.tree_size, log_state.c.root,
                          sa.select(sa.func.max(log_leaves.c.accepted_ms)).scalar_subquery())
                .where(log_state.c.log_id == _LOG_ID)
            ).one()
            current = self._committed
            if 0 < current <= size:
                new = conn.execute(
                    sa.select(log_leaves.c.leaf_hash)
                    .where(log_leaves.c.leaf_index >= current, log_leaves.c.leaf_index < size)
                    .order_by(log_leaves.c.leaf_index)
                ).scalars().all()
                if len(new) != size - current:
                    raise LogCorrupted(f"log_leaves: expected {size - current} leaves from {current}, found {len(new)}")
                with self._tree_lock:
                    tree = self._tree
                    tree.truncate(current)
                    tree.extend([bytes(h) for h in new])
            else:
                tree = self._read_tree(conn, size)
        if tree.root() != bytes(root):
            raise LogCorrupted(
                f"the stored log of {size} leaves has root 0x{tree.root().hex()}, but log_state holds "
                f"0x{bytes(root).hex()}"
            )
        with self._tree_lock:
            self._tree = tree
        self._committed = size
        self._last_accepted_ms = int(last_ms or 0)
        self._stale = False

    def _read_tree(self, conn: Connection, size: int) -> merkle.MerkleTree:
        leaf_hashes = conn.execute(
            sa.select(log_leaves.c.leaf_hash).where(log_leaves.c.leaf_index < size).order_by(log_leaves.c.leaf_index)
        ).scalars().all()
        if len(leaf_hashes) != size:
            raise LogCorrupted(f"log_leaves: expected {size} leaves, found {len(leaf_hashes)}")
        height = max(1, size.bit_length())
        levels = [bytearray(b"".join(bytes(h) for h in leaf_hashes))] + [bytearray() for _ in range(1, height)]
        counts = [size] + [0] * (height - 1)
        rows = conn.execute(
            sa.select(log_nodes.c.level, log_nodes.c.node_index, log_nodes.c.hash)
            .order_by(log_nodes.c.level, log_nodes.c.node_index)
        )
        for level, index, digest in rows:
            if not 1 <= level < height or index >= size >> level:
                continue  # beyond the committed size: cannot be (same transaction), ignore if it is
            if index != counts[level]:
                raise LogCorrupted(f"log_nodes: level {level} expected node {counts[level]}, found {index}")
            levels[level] += bytes(digest)
            counts[level] += 1
        try:
            return merkle.MerkleTree.from_levels(levels)
        except InvalidInput as exc:
            raise LogCorrupted(f"log_nodes: {exc}") from None

    def refresh(self) -> int:
        """Catch up with appends made by another replica (or process) and return the new size: one primary-key
        read when nothing changed, the new leaves' hashes when the log grew, a full reload when it is not the
        log this process holds."""
        with self._lock:
            if not self._stale:
                with self._db.read() as conn:
                    size, root = conn.execute(sa.select(log_state.c.tree_size, log_state.c.root)
                                              .where(log_state.c.log_id == _LOG_ID)).one()
                    if size == self._committed:
                        return int(size)
                    if size > self._committed:
                        return self._follow(conn, int(size), bytes(root))
            self._load()
            return self._committed

    # -- public reads ---------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The number of committed leaves."""
        return self._committed

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` committed leaves (default: all). O(log n)."""
        self._reach(size)
        with self._tree_lock:
            return self._tree.root(self._size_arg(size, "size"))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 audit path of leaf ``index`` in the tree of ``size`` leaves. Requires
        ``0 <= index < size <= self.size`` (InvalidInput otherwise)."""
        self._reach(size)
        with self._tree_lock:
            return self._tree.inclusion_proof(index, self._size_arg(size, "size"))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from ``old_size`` to ``new_size`` (default: all). Requires
        ``0 <= old_size <= new_size <= self.size``."""
        self._reach(new_size)
        with self._tree_lock:
            return self._tree.consistency_proof(old_size, self._size_arg(new_size, "new_size"))

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)``. Requires ``0 <= start <= end <= self.size``."""
        start, end = self._range(start, end)
        with self._tree_lock:
            return [self._tree.leaf_hash(i) for i in range(start, end)]

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The canonical leaf bytes ``[start, end)``. Requires ``0 <= start <= end <= self.size``."""
        start, end = self._range(start, end)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(log_leaves.c.leaf)
                .where(log_leaves.c.leaf_index >= start, log_leaves.c.leaf_index < end)
                .order_by(log_leaves.c.leaf_index)
            ).scalars().all()
        return [bytes(b) for b in rows]

    def leaf_indices(self, *, product: bytes | None = None, merchant: str | None = None,
                     start: int = 0) -> list[int]:
        """Indexes from ``start`` on of the committed leaves of ``product`` (32 bytes) and/or ``merchant`` (an
        address), in log order, read through the ``log_leaves`` indexes on ``product_id`` and ``merchant``.

        What the stored columns say, not a verification: a caller that must trust the leaves checks each one's
        bytes by an inclusion proof against an anchored checkpoint (:mod:`ledger.product`, :mod:`ledger.trust`).
        Requires at least one filter (InvalidInput otherwise); both given: leaves matching both.
        """
        conditions = [log_leaves.c.leaf_index < self._committed]
        if _check_index(start, "start"):
            conditions.append(log_leaves.c.leaf_index >= start)
        if product is not None:
            conditions.append(log_leaves.c.product_id == _hash32(product, "product"))
        if merchant is not None:
            conditions.append(log_leaves.c.merchant == _address_bytes(merchant, "merchant"))
        if product is None and merchant is None:
            raise InvalidInput("leaf_indices needs a product or a merchant")
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(log_leaves.c.leaf_index).where(*conditions).order_by(log_leaves.c.leaf_index)
            ).scalars().all()
        return [int(i) for i in rows]

    def leaf_rows(self, start: int, end: int) -> list[tuple[int, bytes, bytes, bytes]]:
        """``(index, leaf bytes, merchant column (20 bytes), purchase column (32 bytes))`` of leaves
        ``[start, end)``: what :class:`ledger.tally.ReviewTally` reads to check that the stored columns say what
        the bytes say. Requires ``0 <= start <= end <= self.size``."""
        start, end = self._range(start, end)
        c = log_leaves.c
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(c.leaf_index, c.leaf, c.merchant, c.purchase)
                .where(c.leaf_index >= start, c.leaf_index < end).order_by(c.leaf_index)).all()
        return [(int(i), bytes(leaf), bytes(m), bytes(p)) for i, leaf, m, p in rows]

    def leaves_at(self, indices: Sequence[int]) -> list[bytes]:
        """The canonical leaf bytes at each of ``indices``, in the order given, in one query per 500
        (where :meth:`leaves` reads a range). Requires ``0 <= index < self.size`` for each (InvalidInput)."""
        wanted = [_check_index(i, "index") for i in indices]
        committed = self._committed
        beyond = [i for i in wanted if i >= committed]
        if beyond:
            raise InvalidInput(f"expected indexes < size {committed}, found {beyond[0]}")
        found: dict[int, bytes] = {}
        unique = sorted(set(wanted))
        with self._db.read() as conn:
            for i in range(0, len(unique), _SQL_CHUNK):
                for index, leaf in conn.execute(
                        sa.select(log_leaves.c.leaf_index, log_leaves.c.leaf)
                        .where(log_leaves.c.leaf_index.in_(unique[i : i + _SQL_CHUNK]))):
                    found[int(index)] = bytes(leaf)
        return [found[i] for i in wanted]

    def accepted_ms(self, index: int) -> int | None:
        """When leaf ``index`` was appended (unix ms), or None when there is no such leaf yet.

        Accepted times never decrease with the index, so ``accepted_ms(size)`` is the oldest accepted time
        of the leaves after the first ``size``: what the checkpointer compares with the merge delay.
        """
        index = _check_index(index, "index")
        if index >= self._committed:
            return None
        with self._db.read() as conn:
            value = conn.execute(
                sa.select(log_leaves.c.accepted_ms).where(log_leaves.c.leaf_index == index)
            ).scalar_one_or_none()
        return None if value is None else int(value)

    def oldest_accepted_ms(self, after_size: int) -> int | None:
        """The accepted time of the oldest leaf not covered by a tree of ``after_size`` leaves, or None."""
        return self.accepted_ms(after_size)

    def review(self, index: int) -> StoredReview:
        """Leaf ``index`` with its content (if visible and not erased), takedown and erasure state.

        Raises :class:`LeafNotFound` for an index not in the log.
        """
        index = _check_index(index, "index")
        if index >= self._committed:
            raise LeafNotFound(f"no leaf {index}: the log has {self._committed} leaves")
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(log_leaves.c.leaf, log_leaves.c.leaf_hash, log_leaves.c.accepted_ms,
                          log_leaves.c.takedown, log_leaves.c.takedown_ref, log_leaves.c.takedown_ms,
                          review_content.c.ciphertext, review_content.c.erased_ms,
                          review_content.c.erasure_reason)
                .select_from(log_leaves.outerjoin(review_content,
                                                  review_content.c.leaf_index == log_leaves.c.leaf_index))
                .where(log_leaves.c.leaf_index == index)
            ).one()
        leaf_hash = bytes(row.leaf_hash)
        takedown = _takedown(row.takedown, row.takedown_ref, row.takedown_ms)
        erasure = None if row.erased_ms is None else Erasure(index, int(row.erased_ms), str(row.erasure_reason))
        content = None
        if takedown is None and row.ciphertext is not None:
            plain = self._vault.open(bytes(row.ciphertext), record=leaf_hash)
            content = ReviewContent(text=plain[SALT_LENGTH:].decode("utf-8"), salt=plain[:SALT_LENGTH])
        return StoredReview(
            leaf_index=index,
            leaf=parse_review_leaf(bytes(row.leaf)),
            leaf_hash=leaf_hash,
            accepted_ms=int(row.accepted_ms),
            content=content,
            takedown=takedown,
            erasure=erasure,
        )

    def stats(self) -> dict[str, float]:
        """Counters since construction: batches, reviews, and seconds spent preparing (summed over the
        pool's threads when it ran in parallel: wall time of each batch's preparation), committing, and
        signing (summed over the chunks signed in parallel), and leaves ``followed``: appended by other
        replicas and taken into this process's tree before its own appends."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, **amounts: float) -> None:
        with self._stats_lock:
            for key, amount in amounts.items():
                self._stats[key] += amount

    # -- erasure and takedowns ------------------------------------------------------------------------------

    def erase(self, leaf_index: int, reason: str) -> Erasure:
        """Delete the text and salt of ``leaf_index`` for ``reason`` (1..200 characters); the leaf and its
        hash stay, so every root and proof is unchanged. Erasing again returns the first erasure."""
        index = self._existing_index(leaf_index)
        if not isinstance(reason, str) or not 1 <= len(reason) <= 200:
            raise InvalidInput(f"reason must be a string of 1 to 200 characters, found {reason!r:.60}")
        at_ms = int(self._clock() * 1000)
        with self._db.write() as conn:
            row = conn.execute(
                self._db.locked(sa.select(review_content.c.erased_ms, review_content.c.erasure_reason)
                                .where(review_content.c.leaf_index == index))
            ).one()
            if row.erased_ms is not None:
                return Erasure(index, int(row.erased_ms), str(row.erasure_reason))
            conn.execute(
                sa.update(review_content).where(review_content.c.leaf_index == index)
                .values(ciphertext=None, erased_ms=at_ms, erasure_reason=reason)
            )
        try:  # the old ciphertext must not live on in the write-ahead log
            self._db.purge()
        except Exception as exc:  # noqa: BLE001 - the erasure itself is committed; a busy WAL is purged later
            _log.warning("could not purge the database after erasing leaf %d: %r", index, exc)
        return Erasure(index, at_ms, reason)

    def take_down(self, leaf_index: int, *, kind: TakedownKind, ref: bytes) -> Takedown:
        """Hide the content of ``leaf_index``: ``kind="ruling"`` (removed by the ruling of dispute ``ref``,
        final) or ``"emergency_hide"`` (hidden by the operator pending a ruling, act or dispute ``ref``).

        The leaf stays in the log as a tombstone naming the reason. A ruling may follow a hide; a hide may
        not follow a hide or a ruling, nor a ruling another ruling (:class:`InvalidTakedown`); repeating the
        current takedown exactly returns it unchanged.
        """
        index = self._existing_index(leaf_index)
        if kind not in ("ruling", "emergency_hide"):
            raise InvalidTakedown(f"takedown kind: expected 'ruling' or 'emergency_hide', found {kind!r:.40}")
        if not isinstance(ref, (bytes, bytearray)) or len(ref) != 32:
            raise InvalidTakedown(f"takedown ref: expected a 32-byte dispute or act id, found {ref!r:.40}")
        ref = bytes(ref)
        code = _REMOVED if kind == "ruling" else _HIDDEN
        at_ms = int(self._clock() * 1000)
        with self._db.write() as conn:
            row = conn.execute(
                self._db.locked(sa.select(log_leaves.c.takedown, log_leaves.c.takedown_ref, log_leaves.c.takedown_ms)
                                .where(log_leaves.c.leaf_index == index))
            ).one()
            current = _takedown(row.takedown, row.takedown_ref, row.takedown_ms)
            if current is not None:
                if current.kind == kind and current.ref == ref:
                    return current
                if not (current.kind == "emergency_hide" and kind == "ruling"):
                    raise InvalidTakedown(
                        f"leaf {index} is already {current.describe()}: cannot apply {kind} 0x{ref.hex()}"
                    )
            conn.execute(
                sa.update(log_leaves).where(log_leaves.c.leaf_index == index)
                .values(takedown=code, takedown_ref=ref, takedown_ms=at_ms)
            )
        return Takedown(kind, ref, at_ms)

    def lift_hide(self, leaf_index: int) -> None:
        """Show ``leaf_index`` again after an emergency hide that no ruling confirmed. Raises
        :class:`InvalidTakedown` unless it is hidden by an emergency hide (a ruling is final)."""
        index = self._existing_index(leaf_index)
        at_ms = int(self._clock() * 1000)
        with self._db.write() as conn:
            state = conn.execute(
                self._db.locked(sa.select(log_leaves.c.takedown).where(log_leaves.c.leaf_index == index))
            ).scalar_one()
            if state != _HIDDEN:
                what = "removed by a ruling (final)" if state == _REMOVED else "not hidden"
                raise InvalidTakedown(f"leaf {index} is {what}: there is no emergency hide to lift")
            conn.execute(
                sa.update(log_leaves).where(log_leaves.c.leaf_index == index)
                .values(takedown=_VISIBLE, takedown_ref=None, takedown_ms=at_ms)
            )

    # -- helpers --------------------------------------------------------------------------------------------

    def _existing_index(self, leaf_index: int) -> int:
        index = _check_index(leaf_index, "leaf_index")
        if index >= self._committed:
            raise LeafNotFound(f"no leaf {index}: the log has {self._committed} leaves")
        return index

    def _size_arg(self, size: int | None, what: str) -> int:
        committed = self._committed
        if size is None:
            return committed
        size = _check_index(size, what)
        if size > committed:
            raise InvalidInput(f"{what} must be <= log size {committed}, found {size}")
        return size

    def _reach(self, size: object) -> None:
        """Before a read that names a size beyond this process's log: catch up with other replicas' appends
        first (a request may reach a replica that has not followed the log that far yet); the read's own
        bounds check then answers."""
        if isinstance(size, int) and not isinstance(size, bool) and size > self._committed:
            try:
                self.refresh()
            except LedgerError as exc:  # the read then refuses the size, as before
                _log.warning("could not catch up with the stored log before a read: %r", exc)

    def _range(self, start: int, end: int) -> tuple[int, int]:
        self._reach(end)
        start = _check_index(start, "start")
        end = _check_index(end, "end")
        if not start <= end <= self._committed:
            raise InvalidInput(f"expected 0 <= start <= end <= size {self._committed}, found [{start}, {end})")
        return start, end


_LEAF_COLUMNS = ("leaf_index", "leaf_hash", "leaf", "purchase", "product_id", "merchant", "reviewer", "rating",
                 "submitted_at", "accepted_ms", "takedown")
_CONTENT_COLUMNS = ("leaf_index", "ciphertext")
_NODE_COLUMNS = ("level", "node_index", "hash")
_PROCESS_SIGNING_MIN = 256  # smaller batches sign on the thread pool: the round trip would cost more
_signing_lock = threading.Lock()
_signing_executor: ProcessPoolExecutor | None = None


def _signing_pool() -> ProcessPoolExecutor:
    """The receipt signing process, one per interpreter, shared by its services (started on first use with
    ``spawn``: forking a process that runs threads could copy a held lock). Each call carries its signer's
    key, so services with different keys can share it; it exits with this interpreter."""
    global _signing_executor
    with _signing_lock:
        if _signing_executor is None:
            _signing_executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_watch_parent)
            _signing_executor.submit(int).result()  # wait until it runs: the first batch should not
        return _signing_executor


def _watch_parent() -> None:
    """In the signing process: exit as soon as the parent is gone. A parent killed outright (kill -9, or
    the fault point's ``os._exit``) cannot shut the pool down, and the worker would otherwise wait forever on
    a queue whose write end it holds itself (and keep the parent's stdout open).

    It also ignores SIGINT: Ctrl-C in a terminal signals the whole foreground process group, and the parent
    shuts the pool down in order; the worker would otherwise die mid-task with a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="reviewlog-signer-watch", daemon=True).start()


def _drop_signing_pool() -> None:
    global _signing_executor
    with _signing_lock:
        broken, _signing_executor = _signing_executor, None
    if broken is not None:
        broken.shutdown(wait=False, cancel_futures=True)


_SQLITE_MAX_PARAMETERS = 32_766  # SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32 (999 before)


def _rows_per_statement(remaining: int, columns: int, max_parameters: int) -> int:
    """Rows for the next multi-row INSERT: the largest power of two that fits ``max_parameters`` and
    ``remaining`` (powers of two keep the number of distinct statements, and so of compilations, small)."""
    fit = max(1, min(remaining, max_parameters // columns))
    return 1 << (fit.bit_length() - 1)


def _insert_sql(table: sa.Table, columns: Sequence[str], mark: str) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``, with names checked against the schema."""
    names = [table.c[name].name for name in columns]  # KeyError here means the schema changed
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"


def _identity(leaf: ReviewLeaf) -> tuple[Any, ...]:
    """:meth:`_Prepared.identity` of a stored leaf: purchase, product, merchant (20 bytes), reviewer, rating
    (the text is compared by the caller)."""
    return (leaf.purchase, leaf.product_id, bytes.fromhex(leaf.merchant[2:]), leaf.reviewer, leaf.rating)


def _takedown(code: int, ref: bytes | None, at_ms: int | None) -> Takedown | None:
    if code == _VISIBLE:
        return None
    kind: TakedownKind = "ruling" if code == _REMOVED else "emergency_hide"
    return Takedown(kind, bytes(ref or b""), int(at_ms or 0))


def _chunks(items: list[_Request], workers: int, minimum: int = 64) -> list[list[_Request]]:
    """Split ``items`` into at most ``workers`` runs of at least ``minimum`` (fewer for small batches)."""
    n = max(1, min(workers, len(items) // minimum))
    size = -(-len(items) // n)
    it = iter(items)
    return [chunk for chunk in (list(itertools.islice(it, size)) for _ in range(n)) if chunk]
