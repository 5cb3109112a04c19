"""The durable transaction sender: one nonce owner per key, an outbox, exactly-once writes.

Every logical write is first a row in the ``outbox`` table, keyed by an idempotency key chosen by the caller.
The sender then drives each row through a small state machine (``docs/sender.md``)::

    queued --simulate+sign--> signed --broadcast--> sent --receipt--> mined --depth--> confirmed
       |                        ^                     |                 |
       +--revert--> failed      +---fee bump / rollback re-broadcast----+--status 0 at depth--> failed

* A write is simulated (``eth_call`` from the sender's address) before it is signed; a revert fails the row
  with the contract's named error and sends nothing.
* Nonces are handed out under a lock on the key's ``sender_accounts`` row, in the same database transaction
  that stores the signed transaction in ``outbox_attempts``; so a nonce is never handed out twice, not by two
  threads, not by two processes sharing the database.
* The signed raw transaction and its hash are committed before they are sent. Whatever happens afterwards
  (a crash, "already known", "nonce too low", a fee bump, a chain rolled back), the row is settled by looking
  up the hashes of *all* its attempts, which share one nonce and so can be mined at most once.
* A row is re-signed with a new nonce only when its nonce was consumed on chain by a transaction that is none
  of its attempts: then none of them can ever be mined, and the write, re-simulated, is applied once.
* The chain head is recorded; when the chain comes back older (a dev chain restored from a snapshot) or
  forked, every row recorded in a block above the fork point, confirmed ones included, is re-broadcast.

The sender is generic over ``(to, data, value)``: writes on behalf of actors carry their own signatures, e.g.
``TrustForwarder.execute(request)`` with a request signed by the actor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from web3 import Web3
from web3.exceptions import (
    BlockNotFound,
    ProviderConnectionError,
    RequestTimedOut,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxParams, TxReceipt

from .chain import _raise_named
from .errors import ContractError, LedgerError, UnknownRevert
from .storage import Database, now_ms
from .storage.schema import outbox, outbox_attempts, sender_accounts

__all__ = [
    "ChainUnavailable",
    "IdempotencyConflict",
    "OutboxEntry",
    "OutboxStatus",
    "TxSender",
    "WriteFailed",
    "WriteTimeout",
]

log = logging.getLogger(__name__)

PRIORITY_FEE = 10**9
"""The tip offered on a first attempt (1 gwei); a fee bump raises it with the fee cap."""

MIN_BUMP_PERCENT = 13
"""Nodes refuse a replacement that raises the fees by less than 10 % (geth) or 12.5 % (some pools)."""


class OutboxStatus(StrEnum):
    """Where an outbox row stands. ``confirmed`` and ``failed`` are final."""

    QUEUED = "queued"
    """Stored; not signed yet (or its nonce was taken by another transaction: to be signed again)."""
    SIGNED = "signed"
    """A signed transaction is stored in ``outbox_attempts``; not known to be with the node yet."""
    SENT = "sent"
    """Handed to the node; waiting for a receipt."""
    MINED = "mined"
    """A receipt is in a block with fewer than ``confirmation_depth`` blocks on top."""
    CONFIRMED = "confirmed"
    """Mined with status 1, ``confirmation_depth`` blocks deep, in a canonical block."""
    FAILED = "failed"
    """The simulation reverted, or the transaction was mined with status 0; ``error_name`` says why."""


FINAL = frozenset({OutboxStatus.CONFIRMED, OutboxStatus.FAILED})


@dataclass(frozen=True)
class OutboxEntry:
    """One logical write and what became of it."""

    id: int
    key: str
    to: str
    data: bytes
    value: int
    status: OutboxStatus
    nonce: int | None
    tx_hash: bytes | None
    """The attempt that was mined, or the latest one signed."""
    block_number: int | None
    error_name: str | None
    """The contract's custom error name (``TrustGovernanceUnauthorized``) when the write failed with one."""
    error: str | None
    """Why the write failed (or, while pending, the last transient error), for people."""
    applied_count: int
    """How many of this write's transactions were seen mined with status 1 on the canonical chain (0 or 1)."""

    @property
    def final(self) -> bool:
        return self.status in FINAL


class IdempotencyConflict(LedgerError, ValueError):
    """An idempotency key was submitted again with a different target, calldata, value or sender."""


class ChainUnavailable(LedgerError, ConnectionError):
    """The chain's RPC endpoint did not answer. Nothing is lost: pending rows are retried later."""


class WriteFailed(LedgerError):
    """A write ended ``failed``; ``entry`` carries the named error and the reason."""

    def __init__(self, entry: OutboxEntry) -> None:
        self.entry = entry
        super().__init__(f"write {entry.key!r} failed: {entry.error_name or ''} {entry.error or ''}".rstrip())


class WriteTimeout(LedgerError, TimeoutError):
    """A write was not final within the time given; it stays in the outbox and is still processed."""

    def __init__(self, key: str, entry: OutboxEntry | None, last_error: BaseException | None = None) -> None:
        self.key = key
        self.entry = entry
        self.last_error = last_error
        status = entry.status if entry is not None else "unknown"
        extra = f" (last error: {last_error})" if last_error is not None else ""
        super().__init__(f"write {key!r} is still {status}{extra}")


# -- test hook: fault points ----------------------------------------------------------------------------------

FAULT_ENV = "TRUSTLEDGER_FAULT"
_fault_hits: dict[str, int] = {}


def _fault(point: str) -> None:
    """Kill the process (exit status 137, as SIGKILL) the n-th time ``point`` is reached.

    Set ``TRUSTLEDGER_FAULT=<point>:<n>`` to arm it, for crash tests only. Points: ``after_sign`` (the attempt
    is committed, not yet sent) and ``after_send`` (the node has it; no receipt recorded yet).
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, count = spec.partition(":")
    if name != point:
        return
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    if _fault_hits[point] >= int(count or "1"):
        os._exit(137)


# -- node answers -----------------------------------------------------------------------------------------------

_ETH_TESTER_NONCE = re.compile(r"Invalid transaction nonce: Expected (\d+), but got (\d+)")


class _SendOutcome(StrEnum):
    ACCEPTED = "accepted"
    KNOWN = "known"  # the node has this transaction, or one with the same nonce: maybe sent
    NONCE_USED = "nonce-used"  # the nonce is consumed on chain: maybe ours, settle by hashes
    NONCE_AHEAD = "nonce-ahead"  # an earlier nonce is not with the node yet: retry later
    UNDERPRICED = "underpriced"  # fee cap below the base fee: sign again with higher fees
    REJECTED = "rejected"  # anything else: kept signed, retried later


def _classify_send_error(exc: BaseException) -> _SendOutcome:
    text = str(exc).lower()
    m = _ETH_TESTER_NONCE.search(str(exc))
    if m:
        return _SendOutcome.NONCE_USED if int(m.group(2)) < int(m.group(1)) else _SendOutcome.NONCE_AHEAD
    if "nonce too low" in text or "nonce has already been used" in text:
        return _SendOutcome.NONCE_USED
    if ("already known" in text or "already imported" in text or "known transaction" in text
            or "replacement transaction underpriced" in text):
        return _SendOutcome.KNOWN
    if "nonce too high" in text:
        return _SendOutcome.NONCE_AHEAD
    if "base fee" in text or "basefee" in text or "fee cap" in text or "underpriced" in text:
        return _SendOutcome.UNDERPRICED
    return _SendOutcome.REJECTED


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the endpoint did not answer (as opposed to answering with an error)."""
    return isinstance(exc, OSError | ProviderConnectionError | RequestTimedOut | TimeoutError)


def _bump(old: int, percent: int) -> int:
    return old + max(1, -(-old * percent // 100))


@dataclass(frozen=True)
class _Attempt:
    tx_hash: bytes
    nonce: int
    raw_tx: bytes
    max_fee: int
    priority_fee: int
    signed_ms: int
    sent_ms: int | None


@dataclass(frozen=True)
class _Receipt:
    tx_hash: bytes
    status: int
    block_number: int
    block_hash: bytes


class TxSender:
    """Durable, exactly-once sender of transactions from one key, over a :class:`~ledger.storage.Database`.

    Thread-safe; any number of instances (threads, processes, replicas) may share one database and one key.
    ``step`` runs one pass of the state machine; ``start`` runs it in a background thread; ``wait`` drives
    it itself when no worker runs.
    """

    def __init__(
        self,
        w3: Web3,
        db: Database,
        account: LocalAccount,
        *,
        confirmation_depth: int = 0,
        poll_latency: float = 0.002,
        stuck_after: float = 30.0,
        fee_bump_percent: int = 25,
        max_in_flight: int = 64,
        max_poll: float = 0.05,
        idle_interval: float = 1.0,
    ) -> None:
        """``poll_latency`` is the first interval at which the worker looks for receipts after a change; it
        doubles while nothing changes, up to ``max_poll``. With nothing in flight the worker sleeps until a
        :meth:`submit` wakes it, and checks the chain head (rollbacks) every ``idle_interval`` seconds."""
        if confirmation_depth < 0:
            raise ValueError("confirmation_depth must be >= 0")
        if fee_bump_percent < MIN_BUMP_PERCENT:
            raise ValueError(f"fee_bump_percent must be >= {MIN_BUMP_PERCENT} (nodes refuse smaller bumps)")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.w3 = w3
        self.db = db
        self.account = account
        self.address: ChecksumAddress = to_checksum_address(account.address)
        self.confirmation_depth = confirmation_depth
        self.poll_latency = poll_latency
        self.stuck_after = stuck_after
        self.fee_bump_percent = fee_bump_percent
        self.max_in_flight = max_in_flight
        self.max_poll = max(max_poll, poll_latency)
        self.idle_interval = idle_interval
        self._wake = threading.Event()
        self._chain_id: int | None = None
        self._account_ready = False
        self._step_lock = threading.Lock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._last_error: BaseException | None = None

    def __repr__(self) -> str:
        return f"TxSender({self.address}, {self.db!r})"

    # -- public surface ---------------------------------------------------------------------------------------

    def submit(self, key: str, to: str, data: bytes, *, value: int = 0) -> OutboxEntry:
        """Store a write durably and return its row; nothing is sent here.

        The same ``key`` again returns the same row; the same key with another ``to``, ``data``, ``value`` (or
        from another sender) raises :class:`IdempotencyConflict`.
        """
        if not key or len(key) > 200:
            raise ValueError("an idempotency key is 1 to 200 characters")
        if not is_address(to):
            raise ValueError(f"not an address: {to!r}")
        if value < 0:
            raise ValueError("value must be >= 0")
        to = to_checksum_address(to)
        data = bytes(data)
        for _ in range(3):
            existing = self._row_by_key(key)
            if existing is not None:
                return self._same_or_conflict(existing, key, to, data, value)
            now = now_ms()
            try:
                with self.db.write() as conn:
                    conn.execute(sa.insert(outbox).values(
                        idempotency_key=key, sender=self.address, to_address=to, data=data, value=str(value),
                        status=OutboxStatus.QUEUED.value, created_ms=now, updated_ms=now, applied_count=0))
            except IntegrityError:  # another caller inserted the same key first
                continue
            self._wake.set()
        row = self._row_by_key(key)
        if row is None:  # pragma: no cover - the insert committed or a concurrent one did
            raise LedgerError(f"could not store write {key!r}")
        return self._same_or_conflict(row, key, to, data, value)

    def entry(self, key: str) -> OutboxEntry | None:
        """The current state of the write stored under ``key`` (None when there is none)."""
        row = self._row_by_key(key)
        return None if row is None else _entry(row)

    def step(self) -> int:
        """One pass of the state machine; returns how many rows changed.

        Reconciles the chain head (rollback detection), broadcasts signed rows, follows sent and mined rows,
        then simulates, signs and sends queued rows in id order (at most ``max_in_flight`` unsettled).
        Raises :class:`ChainUnavailable` when the RPC endpoint does not answer; rows stay as they are.
        """
        with self._step_lock:
            return self._step()

    def recover(self) -> None:
        """Reconcile the outbox with the chain after a crash or restart.

        Rows recorded in blocks that are no longer canonical (confirmed ones included) and rows that were sent
        are marked for re-broadcast of their stored transaction; the next steps settle each by its hashes.
        """
        with self._step_lock, self._rpc():
            self._ensure_account()
            number, block_hash = self._latest()
            self._rewind(number)
            with self.db.write() as conn:
                conn.execute(sa.update(outbox).where(outbox.c.sender == self.address,
                                                     outbox.c.status == OutboxStatus.SENT.value)
                             .values(status=OutboxStatus.SIGNED.value, updated_ms=now_ms()))
                self._set_head(conn, number, block_hash)

    def wait(self, key: str, timeout: float = 60.0) -> OutboxEntry:
        """Wait until the write is final; return it when confirmed, raise :class:`WriteFailed` when failed.

        Drives :meth:`step` itself when no worker thread runs. Raises :class:`WriteTimeout` after ``timeout``
        seconds (the write stays in the outbox), ``KeyError`` when no write has this key.
        """
        deadline = time.monotonic() + timeout
        while True:
            current = self.entry(key)
            if current is None:
                raise KeyError(key)
            if current.status == OutboxStatus.CONFIRMED:
                return current
            if current.status == OutboxStatus.FAILED:
                raise WriteFailed(current)
            if time.monotonic() > deadline:
                raise WriteTimeout(key, current, self._last_error)
            if self._try_step() == 0:
                time.sleep(self.poll_latency)

    async def asubmit_and_wait(self, key: str, to: str, data: bytes, *, value: int = 0,
                               timeout: float = 60.0) -> OutboxEntry:
        """:meth:`submit` then :meth:`wait`, without blocking the event loop."""
        await asyncio.to_thread(self.submit, key, to, data, value=value)
        deadline = time.monotonic() + timeout
        while True:
            current = await asyncio.to_thread(self.entry, key)
            if current is None:  # pragma: no cover - submitted above
                raise KeyError(key)
            if current.status == OutboxStatus.CONFIRMED:
                return current
            if current.status == OutboxStatus.FAILED:
                raise WriteFailed(current)
            if time.monotonic() > deadline:
                raise WriteTimeout(key, current, self._last_error)
            if await asyncio.to_thread(self._try_step) == 0:
                await asyncio.sleep(self.poll_latency)

    def start(self) -> None:
        """Run :meth:`recover`, then :meth:`step` in a background thread until :meth:`stop`."""
        if self._worker is not None and self._worker.is_alive():
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name=f"TxSender-{self.address[:10]}", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the background worker (pending rows stay in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    # -- the worker -------------------------------------------------------------------------------------------

    def _worker_alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _try_step(self) -> int:
        """One step unless a worker runs or another thread is stepping; chain outages are remembered."""
        if self._worker_alive() or not self._step_lock.acquire(blocking=False):
            return 0
        try:
            return self._step()
        except ChainUnavailable as exc:
            self._last_error = exc
            time.sleep(min(0.05, max(self.poll_latency, 0.001)))
            return 0
        finally:
            self._step_lock.release()

    def _run(self) -> None:
        recovered = False
        backoff = self.poll_latency
        while not self._stop.is_set():
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                self._wake.clear()  # before the pass: a submit during it makes the next wait return at once
                changed = self.step()
            except ChainUnavailable as exc:
                self._last_error = exc
                backoff = min(1.0, max(backoff * 2, 0.01))
                self._stop.wait(backoff)
                continue
            except Exception as exc:  # the worker must outlive any one bad pass
                log.exception("sender step failed")
                self._last_error = exc
                self._stop.wait(0.1)
                continue
            if changed:
                backoff = self.poll_latency
                continue
            if self._open_rows() == 0:  # nothing to follow: sleep until a submit, or the next head check
                backoff = self.poll_latency
                self._wake.wait(self.idle_interval)
            else:  # in flight: look again soon, then less often while nothing changes
                self._wake.wait(backoff)
                backoff = min(self.max_poll, backoff * 2)

    def _open_rows(self) -> int:
        """How many of this key's writes are not final yet."""
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.sender == self.address,
                outbox.c.status.in_([OutboxStatus.QUEUED.value, OutboxStatus.SIGNED.value,
                                     OutboxStatus.SENT.value, OutboxStatus.MINED.value]))).scalar_one())

    # -- one pass ---------------------------------------------------------------------------------------------

    def _step(self) -> int:
        with self._rpc():
            self._ensure_account()
            changed = self._reconcile_head()
            changed += self._broadcast_signed()
            changed += self._follow()
            changed += self._dispatch_queued()
            self._last_error = None
            return changed

    @contextmanager
    def _rpc(self) -> Iterator[None]:
        """Turn "the endpoint did not answer" into :class:`ChainUnavailable`."""
        try:
            yield
        except ChainUnavailable:
            raise
        except Exception as exc:
            if _unavailable(exc):
                raise ChainUnavailable(f"chain RPC unavailable: {type(exc).__name__}: {exc}") from exc
            raise

    def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def _latest(self) -> tuple[int, bytes]:
        block = self.w3.eth.get_block("latest")
        return int(block["number"]), bytes(block["hash"])

    def _block_hash(self, number: int) -> bytes | None:
        try:
            return bytes(self.w3.eth.get_block(number)["hash"])
        except BlockNotFound:
            return None
        except Web3RPCError as exc:
            if _unavailable(exc):
                raise
            return None

    def _ensure_account(self) -> None:
        if self._account_ready:
            return
        chain_id = self._chain()
        pending = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        try:
            with self.db.write() as conn:
                row = conn.execute(self.db.locked(
                    sa.select(sender_accounts).where(sender_accounts.c.address == self.address))).first()
                if row is None:
                    conn.execute(sa.insert(sender_accounts).values(
                        address=self.address, chain_id=chain_id, next_nonce=pending))
                elif int(row.chain_id) != chain_id:
                    raise LedgerError(f"the outbox of {self.address} belongs to chain {row.chain_id}, "
                                      f"not to the connected chain {chain_id}")
        except IntegrityError:  # another instance created the row at the same moment
            pass
        self._account_ready = True

    def _set_head(self, conn: Connection, number: int, block_hash: bytes) -> None:
        conn.execute(sa.update(sender_accounts).where(sender_accounts.c.address == self.address)
                     .values(head_number=number, head_hash=block_hash))

    # -- head and rollbacks -------------------------------------------------------------------------------------

    def _reconcile_head(self) -> int:
        number, block_hash = self._latest()
        with self.db.read() as conn:
            acct = conn.execute(sa.select(sender_accounts.c.head_number, sender_accounts.c.head_hash)
                                .where(sender_accounts.c.address == self.address)).one()
        changed = 0
        if acct.head_number is not None:
            seen_number, seen_hash = int(acct.head_number), bytes(acct.head_hash)
            if number < seen_number:
                rolled = True
            elif number == seen_number:
                rolled = block_hash != seen_hash
            else:
                rolled = self._block_hash(seen_number) != seen_hash
            if rolled:
                log.warning("chain rolled back or forked below block %d (head now %d)", seen_number, number)
                changed = self._rewind(number)
        if acct.head_number != number or acct.head_hash != block_hash:
            with self.db.write() as conn:
                self._set_head(conn, number, block_hash)
        return changed

    def _rewind(self, head: int) -> int:
        """Mark every row recorded in a block above the fork point for re-broadcast; return how many."""
        with self.db.read() as conn:
            recorded = conn.execute(
                sa.select(outbox.c.block_number, outbox.c.block_hash).distinct()
                .where(outbox.c.sender == self.address, outbox.c.block_number.is_not(None))
                .order_by(outbox.c.block_number.desc())).all()
        fork, fork_hash = -1, b""
        for number, block_hash in recorded:  # the highest recorded block still canonical is the fork point
            if int(number) <= head and self._block_hash(int(number)) == bytes(block_hash):
                fork, fork_hash = int(number), bytes(block_hash)
                break
        stale = sa.or_(outbox.c.block_number > fork,
                       sa.and_(outbox.c.block_number == fork, outbox.c.block_hash != fork_hash))
        with self.db.write() as conn:
            result = conn.execute(
                sa.update(outbox).where(outbox.c.sender == self.address, outbox.c.block_number.is_not(None), stale)
                .values(status=OutboxStatus.SIGNED.value, block_number=None, block_hash=None,
                        receipt_status=None, applied_count=0, error_name=None, error=None, updated_ms=now_ms()))
        if result.rowcount:
            log.warning("%d writes were in blocks above %d that are gone: re-sending them", result.rowcount, fork)
        return int(result.rowcount)

    # -- signed rows: broadcast ---------------------------------------------------------------------------------

    def _broadcast_signed(self) -> int:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.sender == self.address,
                                                        outbox.c.status == OutboxStatus.SIGNED.value)
                                .order_by(outbox.c.nonce, outbox.c.id)).all()
        changed = 0
        for row in rows:
            changed += self._broadcast(row)
        return changed

    def _broadcast(self, row: Any) -> int:
        """Send the row's current attempt; settle the node's "maybe sent" answers. Returns rows changed."""
        attempt = self._attempt(bytes(row.tx_hash))
        error_text = ""
        try:
            self.w3.eth.send_raw_transaction(HexBytes(attempt.raw_tx))
            outcome = _SendOutcome.ACCEPTED
        except Exception as exc:
            if _unavailable(exc):
                raise
            outcome = _classify_send_error(exc)
            error_text = f"{type(exc).__name__}: {exc}"
        if outcome in (_SendOutcome.ACCEPTED, _SendOutcome.KNOWN):
            now = now_ms()
            with self.db.write() as conn:
                conn.execute(sa.update(outbox_attempts).where(outbox_attempts.c.tx_hash == attempt.tx_hash)
                             .values(sent_ms=now))
                moved = self._transition(conn, row.id, OutboxStatus.SIGNED, status=OutboxStatus.SENT.value)
            if outcome == _SendOutcome.ACCEPTED:
                _fault("after_send")
            return moved
        if outcome == _SendOutcome.NONCE_USED:
            return self._settle_by_hashes(row, OutboxStatus.SIGNED)
        if outcome == _SendOutcome.UNDERPRICED:
            return self._resign_same_nonce(row, OutboxStatus.SIGNED, attempt)
        with self.db.write() as conn:  # NONCE_AHEAD or REJECTED: keep it signed, try again next pass
            conn.execute(sa.update(outbox).where(outbox.c.id == row.id, outbox.c.error.is_distinct_from(error_text))
                         .values(error=error_text, updated_ms=now_ms()))
        return 0

    # -- sent and mined rows: follow ----------------------------------------------------------------------------

    def _follow(self) -> int:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(outbox).where(
                outbox.c.sender == self.address,
                outbox.c.status.in_([OutboxStatus.SENT.value, OutboxStatus.MINED.value]))
                .order_by(outbox.c.nonce, outbox.c.id)).all()
        if not rows:
            return 0
        changed = 0
        head: int | None = None
        chain_nonce: int | None = None
        canonical: dict[int, bytes | None] = {}
        for row in rows:
            if row.status == OutboxStatus.MINED.value:
                if head is None:
                    head = self._latest()[0]
                number = int(row.block_number)
                if head - number < self.confirmation_depth:
                    continue
                if number not in canonical:
                    canonical[number] = self._block_hash(number)
                with self.db.write() as conn:
                    if canonical[number] == bytes(row.block_hash):
                        final = OutboxStatus.CONFIRMED if row.receipt_status == 1 else OutboxStatus.FAILED
                        changed += self._transition(conn, row.id, OutboxStatus.MINED, status=final.value)
                    else:  # its block left the canonical chain
                        changed += self._transition(conn, row.id, OutboxStatus.MINED,
                                                    status=OutboxStatus.SIGNED.value, block_number=None,
                                                    block_hash=None, receipt_status=None, applied_count=0,
                                                    error_name=None, error=None)
                continue
            # SENT: read the nonce first, then the receipts, so that "nonce used, no receipt of ours" is sound
            if chain_nonce is None:
                chain_nonce = int(self.w3.eth.get_transaction_count(self.address, "latest"))
            receipts = self._receipts(int(row.id))
            if receipts:
                changed += self._record(row, receipts, OutboxStatus.SENT)
            elif row.nonce is not None and int(row.nonce) < chain_nonce:
                changed += self._requeue(row, OutboxStatus.SENT, chain_nonce)
            else:
                latest = self._attempt(bytes(row.tx_hash))
                since = latest.sent_ms if latest.sent_ms is not None else latest.signed_ms
                if now_ms() - since >= self.stuck_after * 1000:
                    changed += self._resign_same_nonce(row, OutboxStatus.SENT, latest)
        return changed

    def _receipts(self, outbox_id: int) -> list[_Receipt]:
        """Receipts of every attempt of a row found on the chain (at most one per nonce)."""
        with self.db.read() as conn:
            hashes = conn.execute(sa.select(outbox_attempts.c.tx_hash)
                                  .where(outbox_attempts.c.outbox_id == outbox_id)
                                  .order_by(outbox_attempts.c.signed_ms.desc())).scalars().all()
        found = []
        for tx_hash in hashes:
            receipt = self._receipt(bytes(tx_hash))
            if receipt is not None:
                found.append(receipt)
        return found

    def _receipt(self, tx_hash: bytes) -> _Receipt | None:
        try:
            r: TxReceipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        if r is None or r.get("blockNumber") is None:
            return None
        return _Receipt(bytes(tx_hash), int(r["status"]), int(r["blockNumber"]), bytes(r["blockHash"]))

    def _record(self, row: Any, receipts: Sequence[_Receipt], expect: OutboxStatus) -> int:
        """Record the receipt of a row's mined attempt (the successful one if several nonces landed)."""
        applied = sum(1 for r in receipts if r.status == 1)
        chosen = next((r for r in receipts if r.status == 1), receipts[0])
        if applied > 1:
            log.error("write %r applied %d times (attempts with different nonces mined)",
                      row.idempotency_key, applied)
        values: dict[str, Any] = {"tx_hash": chosen.tx_hash, "block_number": chosen.block_number,
                                  "block_hash": chosen.block_hash, "receipt_status": chosen.status,
                                  "applied_count": applied, "nonce": self._attempt(chosen.tx_hash).nonce}
        if chosen.status == 1:
            values.update(error_name=None, error=None)
        else:
            failure = self._replay(row, chosen)
            values.update(error_name=failure.name if isinstance(failure, ContractError) else None,
                          error=f"reverted on chain in block {chosen.block_number}: {failure}")
        status = OutboxStatus.MINED
        if self.confirmation_depth == 0:
            status = OutboxStatus.CONFIRMED if chosen.status == 1 else OutboxStatus.FAILED
        with self.db.write() as conn:
            # the head moves up to every block a receipt is recorded in, so that a chain that loses it is noticed
            conn.execute(sa.update(sender_accounts).where(
                sender_accounts.c.address == self.address,
                sa.or_(sender_accounts.c.head_number.is_(None), sender_accounts.c.head_number < chosen.block_number))
                .values(head_number=chosen.block_number, head_hash=chosen.block_hash))
            return self._transition(conn, row.id, expect, status=status.value, **values)

    def _replay(self, row: Any, receipt: _Receipt) -> ContractError | UnknownRevert | str:
        """Why a mined transaction reverted: its call replayed on the state of its block."""
        tx: dict[str, Any] = {"from": self.address, "to": row.to_address, "data": HexBytes(row.data),
                              "value": int(row.value)}
        if row.gas_limit is not None:
            tx["gas"] = int(row.gas_limit)
        try:
            self.w3.eth.call(cast(TxParams, tx), receipt.block_number)
        except Exception as exc:
            if _unavailable(exc):
                raise
            try:
                _raise_named(exc)
            except (ContractError, UnknownRevert) as named:
                return named
            return f"{type(exc).__name__}: {exc}"
        return "status 0 (the replay did not reproduce the revert)"

    def _requeue(self, row: Any, expect: OutboxStatus, chain_nonce: int) -> int:
        """The row's nonce was consumed by a transaction that is none of its attempts: sign it again."""
        log.warning("nonce %s of %s was used by another transaction: write %r is signed again",
                    row.nonce, self.address, row.idempotency_key)
        with self.db.write() as conn:
            return self._transition(conn, row.id, expect, status=OutboxStatus.QUEUED.value, nonce=None,
                                    error=f"nonce {row.nonce} was used by another transaction "
                                          f"(chain nonce {chain_nonce}); signing again")

    def _settle_by_hashes(self, row: Any, expect: OutboxStatus) -> int:
        """The node says the nonce is used: one of our attempts is mined, or something else took the nonce."""
        chain_nonce = int(self.w3.eth.get_transaction_count(self.address, "latest"))
        receipts = self._receipts(int(row.id))
        if receipts:
            return self._record(row, receipts, expect)
        if row.nonce is not None and int(row.nonce) < chain_nonce:
            return self._requeue(row, expect, chain_nonce)
        return 0  # the node's view moved under us: look again next pass

    # -- queued rows: simulate, sign, send ----------------------------------------------------------------------

    def _dispatch_queued(self) -> int:
        with self.db.read() as conn:
            in_flight = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.sender == self.address,
                outbox.c.status.in_([OutboxStatus.SIGNED.value, OutboxStatus.SENT.value]))).scalar_one()
            room = self.max_in_flight - int(in_flight)
            if room <= 0:
                return 0
            rows = conn.execute(sa.select(outbox).where(outbox.c.sender == self.address,
                                                        outbox.c.status == OutboxStatus.QUEUED.value)
                                .order_by(outbox.c.id).limit(room)).all()
        if not rows:
            return 0
        pending = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        changed = 0
        for row in rows:
            gas_or_error = self._simulate(row)
            if isinstance(gas_or_error, str):  # not a revert: keep it queued, note why
                with self.db.write() as conn:
                    conn.execute(sa.update(outbox).where(outbox.c.id == row.id,
                                                         outbox.c.status == OutboxStatus.QUEUED.value)
                                 .values(error=gas_or_error, updated_ms=now_ms()))
                continue
            if not isinstance(gas_or_error, int):
                name = gas_or_error.name if isinstance(gas_or_error, ContractError) else None
                with self.db.write() as conn:
                    changed += self._transition(conn, row.id, OutboxStatus.QUEUED, status=OutboxStatus.FAILED.value,
                                                error_name=name, error=f"simulation reverted: {gas_or_error}")
                continue
            signed = self._sign_new(row, gas_or_error, pending)
            if signed is None:
                continue  # another sender took the row
            changed += 1
            pending = max(pending, signed.nonce + 1)
            _fault("after_sign")
            self._broadcast(self._row(int(row.id)))
            fresh = self._row(int(row.id))
            if fresh.status == OutboxStatus.SENT.value:  # a node that mines at once has the receipt already
                receipt = self._receipt(signed.tx_hash)
                if receipt is not None:
                    self._record(fresh, [receipt], OutboxStatus.SENT)
        return changed

    def _simulate(self, row: Any) -> int | ContractError | UnknownRevert | str:
        """Gas limit for the write, or the named error it reverts with, or (str) another refusal."""
        tx = cast(TxParams, {"from": self.address, "to": row.to_address, "data": HexBytes(row.data),
                             "value": int(row.value)})
        try:
            self.w3.eth.call(tx, "pending")
            estimate = int(self.w3.eth.estimate_gas(tx))
        except Exception as exc:
            if _unavailable(exc):
                raise
            try:
                _raise_named(exc)
            except (ContractError, UnknownRevert) as named:
                return named
            return f"simulation refused: {type(exc).__name__}: {exc}"
        return estimate + estimate // 5 + 10_000 if estimate > 21_000 else estimate

    def _fees(self) -> tuple[int, int]:
        """(max fee per gas, priority fee per gas) for a first attempt."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        return 2 * base + PRIORITY_FEE, PRIORITY_FEE

    def _sign(self, nonce: int, row: Any, gas: int, max_fee: int, priority_fee: int) -> _Attempt:
        tx: dict[str, Any] = {
            "type": 2, "chainId": self._chain(), "nonce": nonce, "to": row.to_address, "value": int(row.value),
            "data": bytes(row.data), "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority_fee,
        }
        signed = self.account.sign_transaction(tx)
        return _Attempt(bytes(signed.hash), nonce, bytes(signed.raw_transaction), max_fee, priority_fee,
                        now_ms(), None)

    def _store_attempt(self, conn: Connection, outbox_id: int, attempt: _Attempt) -> None:
        conn.execute(sa.insert(outbox_attempts).values(
            tx_hash=attempt.tx_hash, outbox_id=outbox_id, nonce=attempt.nonce, raw_tx=attempt.raw_tx,
            max_fee=str(attempt.max_fee), priority_fee=str(attempt.priority_fee), signed_ms=attempt.signed_ms))

    def _lock_account(self, conn: Connection) -> int:
        return int(conn.execute(self.db.locked(
            sa.select(sender_accounts.c.next_nonce).where(sender_accounts.c.address == self.address))).scalar_one())

    def _sign_new(self, row: Any, gas: int, pending: int) -> _Attempt | None:
        """Allocate the next nonce and store the signed transaction, in one transaction under the key's lock."""
        max_fee, priority_fee = self._fees()
        with self.db.write() as conn:
            next_nonce = self._lock_account(conn)
            current = conn.execute(sa.select(outbox.c.status).where(outbox.c.id == row.id)).scalar_one()
            if current != OutboxStatus.QUEUED.value:
                return None
            nonce = max(next_nonce, pending)
            attempt = self._sign(nonce, row, gas, max_fee, priority_fee)
            self._store_attempt(conn, int(row.id), attempt)
            conn.execute(sa.update(sender_accounts).where(sender_accounts.c.address == self.address)
                         .values(next_nonce=nonce + 1))
            self._transition(conn, row.id, OutboxStatus.QUEUED, status=OutboxStatus.SIGNED.value, nonce=nonce,
                             gas_limit=gas, tx_hash=attempt.tx_hash, error=None)
        return attempt

    def _resign_same_nonce(self, row: Any, expect: OutboxStatus, latest: _Attempt) -> int:
        """Replace a stuck or underpriced transaction: the same nonce, fees raised by ``fee_bump_percent``."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        priority_fee = _bump(latest.priority_fee, self.fee_bump_percent)
        max_fee = max(_bump(latest.max_fee, self.fee_bump_percent), 2 * base + priority_fee)
        with self.db.write() as conn:
            self._lock_account(conn)  # one re-signer at a time
            now_row = conn.execute(sa.select(outbox.c.status, outbox.c.tx_hash).where(outbox.c.id == row.id)).one()
            if now_row.status != expect.value or bytes(now_row.tx_hash) != latest.tx_hash:
                return 0  # someone else moved it meanwhile
            attempt = self._sign(latest.nonce, row, int(row.gas_limit), max_fee, priority_fee)
            self._store_attempt(conn, int(row.id), attempt)
            self._transition(conn, row.id, expect, status=OutboxStatus.SIGNED.value, tx_hash=attempt.tx_hash)
        log.info("write %r: nonce %d signed again with fees %d/%d", row.idempotency_key, latest.nonce,
                 max_fee, priority_fee)
        _fault("after_sign")
        self._broadcast(self._row(int(row.id)))
        return 1

    # -- rows -----------------------------------------------------------------------------------------------------

    def _transition(self, conn: Connection, outbox_id: int, expect: OutboxStatus, **values: Any) -> int:
        """Compare-and-set a row's status: changes it only if it still is ``expect``. Returns 1 or 0."""
        values.setdefault("updated_ms", now_ms())
        result = conn.execute(sa.update(outbox).where(outbox.c.id == outbox_id, outbox.c.status == expect.value)
                              .values(**values))
        return int(result.rowcount)

    def _row(self, outbox_id: int) -> Any:
        with self.db.read() as conn:
            return conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).one()

    def _row_by_key(self, key: str) -> Any:
        with self.db.read() as conn:
            return conn.execute(sa.select(outbox).where(outbox.c.idempotency_key == key)).first()

    def _attempt(self, tx_hash: bytes) -> _Attempt:
        with self.db.read() as conn:
            a = conn.execute(sa.select(outbox_attempts).where(outbox_attempts.c.tx_hash == tx_hash)).one()
        return _Attempt(bytes(a.tx_hash), int(a.nonce), bytes(a.raw_tx), int(a.max_fee), int(a.priority_fee),
                        int(a.signed_ms), None if a.sent_ms is None else int(a.sent_ms))

    def _same_or_conflict(self, row: Any, key: str, to: str, data: bytes, value: int) -> OutboxEntry:
        mismatches = [name for name, mine, theirs in (
            ("sender", self.address, row.sender), ("to", to, row.to_address), ("data", data, bytes(row.data)),
            ("value", value, int(row.value))) if mine != theirs]
        if mismatches:
            raise IdempotencyConflict(f"idempotency key {key!r} was used for another write "
                                      f"(different {', '.join(mismatches)})")
        return _entry(row)


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=int(row.id),
        key=str(row.idempotency_key),
        to=str(row.to_address),
        data=bytes(row.data),
        value=int(row.value),
        status=OutboxStatus(row.status),
        nonce=None if row.nonce is None else int(row.nonce),
        tx_hash=None if row.tx_hash is None else bytes(row.tx_hash),
        block_number=None if row.block_number is None else int(row.block_number),
        error_name=row.error_name,
        error=row.error,
        applied_count=int(row.applied_count),
    )
