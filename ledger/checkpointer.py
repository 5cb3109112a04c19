"""The checkpointer: anchors the review log's new checkpoints on chain, often enough to keep the MMD.

Each :meth:`Checkpointer.tick`:

1. reads what the chain holds (``ReviewLog.latestCheckpoint()``: size and root) and checks it against the
   local log: the local log must be at least that long and reproduce that root, or the log has diverged
   from its anchored history (:class:`LogDiverged`) — the checkpointer then stops anchoring, because any
   checkpoint it could build would be refused by the chain and, worse, the local log no longer holds the
   leaves the chain vouches for;
2. follows the checkpoint in flight, if any (one at a time: each proves consistency from the chain's
   latest, so a second one built before the first lands would be refused); when its outbox write is
   confirmed the checkpoint is recorded as anchored (transaction, block, time), when it failed it is
   recorded as failed with the reason and the next tick builds a fresh one from the chain's state;
3. when the local log is longer than the chain's checkpoint and nothing is in flight, builds
   ``appendCheckpoint(size, root, consistencyProof(chainSize, size))`` and hands it to the operator's
   :class:`~ledger.sender.TxSender` under the idempotency key ``checkpoint:<size>:<root>``, so a restarted
   checkpointer never anchors the same checkpoint twice.

The log operator is an actor acting for itself: it signs and pays for its own ``appendCheckpoint`` (the
contract checks ``_msgSender()`` against the operator). The relayer, which holds no role, is not involved.

A receipt promises inclusion within the maximum merge delay (MMD). :meth:`Checkpointer.overdue` lists the
promises that are broken now (leaves accepted more than the MMD ago and not covered by an anchored
checkpoint), so an operator is alerted before an auditor proves it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from web3.contract import Contract

from .errors import LedgerError, VerificationError
from .sender import OutboxStatus, TxSender
from .storage import Database, now_ms
from .storage.lease import Lease
from .storage.schema import log_checkpoints

__all__ = [
    "AnchoredCheckpoint",
    "CheckpointStatus",
    "Checkpointer",
    "LogDiverged",
    "LogView",
    "TickResult",
]

_log = logging.getLogger(__name__)


class LogView(Protocol):
    """What the checkpointer reads of the review log (``ledger.reviewlog.ReviewLogService`` provides it)."""

    @property
    def size(self) -> int: ...

    def root(self, size: int | None = None) -> bytes: ...

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]: ...


class LogDiverged(VerificationError):
    """The local log does not reproduce the checkpoint the chain holds: it is shorter, or its root differs."""

    def __init__(self, *, chain_size: int, chain_root: bytes, local_size: int, local_root: bytes | None) -> None:
        self.chain_size = chain_size
        self.chain_root = chain_root
        self.local_size = local_size
        self.local_root = local_root
        if local_root is None:
            found = f"a local log of only {local_size} leaves"
        else:
            found = f"local root 0x{local_root.hex()} at that size"
        super().__init__(f"the chain's latest checkpoint is size {chain_size}, root 0x{chain_root.hex()}; "
                         f"found {found}")


class CheckpointStatus(StrEnum):
    PENDING = "pending"
    ANCHORED = "anchored"
    FAILED = "failed"


@dataclass(frozen=True)
class AnchoredCheckpoint:
    """A checkpoint this service asked the chain to anchor, and what became of it."""

    tree_size: int
    root: bytes
    status: CheckpointStatus
    outbox_key: str
    created_ms: int
    anchored_ms: int | None
    tx_hash: bytes | None
    block_number: int | None
    error: str | None


@dataclass(frozen=True)
class TickResult:
    """What one tick did: ``action`` is one of idle, submitted, waiting, anchored, failed, or standby (another
    replica holds the lease)."""

    action: str
    chain_size: int
    local_size: int
    checkpoint: AnchoredCheckpoint | None = None


class Checkpointer:
    """Anchors checkpoints of ``log`` through ``sender`` (the operator's own key) on ``review_log``."""

    def __init__(
        self,
        log: LogView,
        sender: TxSender,
        review_log: Contract,
        db: Database,
        *,
        max_merge_delay: int,
        interval: float | None = None,
        min_batch: int = 1,
        clock: Callable[[], float] = time.time,
        lease: Lease | None = None,
    ) -> None:
        """``interval`` defaults to a quarter of the MMD (at most 5 s): a checkpoint's own confirmation must
        fit in the MMD with room to spare. ``min_batch`` leaves wait for company until half the MMD has
        passed since the oldest unanchored one was accepted. ``lease``: with several replicas over one
        database, only the holder anchors (the others' ticks answer ``standby``); it should outlast a few
        intervals and stay well inside the MMD, so that a dead holder's successor still keeps the promise."""
        if max_merge_delay < 1:
            raise ValueError("max_merge_delay must be at least 1 second")
        self.log = log
        self.sender = sender
        self.review_log = review_log
        self.db = db
        self.max_merge_delay = max_merge_delay
        self.interval = interval if interval is not None else min(5.0, max_merge_delay / 4)
        self.min_batch = max(1, min_batch)
        self.clock = clock
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    # -- one step ---------------------------------------------------------------------------------------

    def chain_checkpoint(self) -> tuple[int, bytes]:
        """The chain's latest checkpoint as (size, root)."""
        root, size = self.review_log.functions.latestCheckpoint().call()
        return int(size), bytes(root)

    def tick(self) -> TickResult:
        """One round: catch the log up with other replicas' appends, check the chain against it, and, holding
        the lease (if any), follow the checkpoint in flight or anchor a new one."""
        refresh = getattr(self.log, "refresh", None)
        if callable(refresh):
            refresh()
        chain_size, chain_root = self.chain_checkpoint()
        local_size = self.log.size
        if self.lease is not None and not self.lease.acquire():
            return TickResult("standby", chain_size, local_size)
        self._check_agrees(chain_size, chain_root, local_size)

        in_flight = self._in_flight()
        if in_flight is not None:
            settled = self._settle(in_flight)
            if settled.status is CheckpointStatus.PENDING:
                return TickResult("waiting", chain_size, local_size, settled)
            action = "anchored" if settled.status is CheckpointStatus.ANCHORED else "failed"
            return TickResult(action, chain_size, local_size, settled)

        if local_size <= chain_size:
            return TickResult("idle", chain_size, local_size)
        if local_size - chain_size < self.min_batch and not self._oldest_waited_half_mmd(chain_size):
            return TickResult("idle", chain_size, local_size)
        return TickResult("submitted", chain_size, local_size, self._submit(chain_size, local_size))

    def _check_agrees(self, chain_size: int, chain_root: bytes, local_size: int) -> None:
        if chain_size == 0:
            return
        if local_size < chain_size:
            raise LogDiverged(chain_size=chain_size, chain_root=chain_root, local_size=local_size, local_root=None)
        local_root = self.log.root(chain_size)
        if local_root != chain_root:
            raise LogDiverged(chain_size=chain_size, chain_root=chain_root, local_size=local_size,
                              local_root=local_root)

    def _submit(self, chain_size: int, size: int) -> AnchoredCheckpoint:
        root = self.log.root(size)
        proof = self.log.consistency_proof(chain_size, size) if chain_size else []
        key = f"checkpoint:{size}:{root.hex()}"
        call = self.review_log.functions.appendCheckpoint(size, root, proof)
        data = bytes.fromhex(call._encode_transaction_data()[2:])
        created = now_ms()
        with self.db.write() as conn:
            existing = conn.execute(sa.select(log_checkpoints).where(log_checkpoints.c.tree_size == size)).first()
            if existing is None:
                conn.execute(sa.insert(log_checkpoints).values(
                    tree_size=size, root=root, outbox_key=key, status=CheckpointStatus.PENDING.value,
                    created_ms=created))
            elif existing.status == CheckpointStatus.FAILED.value:
                # a fresh attempt for a size that failed before (the chain has moved, or a rollback):
                # it gets its own outbox key, since the failed write stays failed
                key = f"{key}:retry{created}"
                conn.execute(sa.update(log_checkpoints).where(log_checkpoints.c.tree_size == size).values(
                    root=root, outbox_key=key, status=CheckpointStatus.PENDING.value, created_ms=created,
                    error=None, anchored_ms=None, tx_hash=None, block_number=None))
            else:
                key = existing.outbox_key
                if existing.status == CheckpointStatus.ANCHORED.value:
                    # anchored once, but the chain no longer has it (a dev chain restored from an older
                    # state): the sender re-applies the same write; follow it again
                    conn.execute(sa.update(log_checkpoints).where(log_checkpoints.c.tree_size == size)
                                 .values(status=CheckpointStatus.PENDING.value))
        self.sender.submit(key, self.review_log.address, data)
        _log.info("checkpoint %d submitted (chain at %d, %d new leaves)", size, chain_size, size - chain_size)
        return self.checkpoint(size)  # type: ignore[return-value]  # just written

    def _in_flight(self) -> AnchoredCheckpoint | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(log_checkpoints)
                               .where(log_checkpoints.c.status == CheckpointStatus.PENDING.value)
                               .order_by(log_checkpoints.c.tree_size).limit(1)).first()
        return None if row is None else _checkpoint(row)

    def _settle(self, cp: AnchoredCheckpoint) -> AnchoredCheckpoint:
        entry = self.sender.entry(cp.outbox_key)
        if entry is None:  # crashed between recording the checkpoint and handing it to the sender
            self.sender.submit(cp.outbox_key, self.review_log.address, self._calldata(cp))
            return cp
        if entry.status is OutboxStatus.CONFIRMED:
            anchored_ms = None
            if entry.block_number is not None:
                block = self.sender.w3.eth.get_block(entry.block_number)
                anchored_ms = int(block["timestamp"]) * 1000
            values: dict[str, Any] = {"status": CheckpointStatus.ANCHORED.value, "anchored_ms": anchored_ms,
                                      "tx_hash": entry.tx_hash, "block_number": entry.block_number}
        elif entry.status is OutboxStatus.FAILED:
            values = {"status": CheckpointStatus.FAILED.value,
                      "error": f"{entry.error_name or 'failed'}: {entry.error or ''}".strip()}
            _log.warning("checkpoint %d failed: %s", cp.tree_size, values["error"])
        else:
            return cp
        with self.db.write() as conn:
            conn.execute(sa.update(log_checkpoints).where(log_checkpoints.c.tree_size == cp.tree_size)
                         .values(**values))
        return self.checkpoint(cp.tree_size)  # type: ignore[return-value]  # it exists

    def _calldata(self, cp: AnchoredCheckpoint) -> bytes:
        chain_size, _ = self.chain_checkpoint()
        proof = self.log.consistency_proof(chain_size, cp.tree_size) if chain_size else []
        call = self.review_log.functions.appendCheckpoint(cp.tree_size, cp.root, proof)
        return bytes.fromhex(call._encode_transaction_data()[2:])

    def _oldest_waited_half_mmd(self, chain_size: int) -> bool:
        oldest = self._oldest_unanchored_ms(chain_size)
        return oldest is not None and self.clock() * 1000 - oldest >= self.max_merge_delay * 500

    def _oldest_unanchored_ms(self, chain_size: int) -> int | None:
        accepted = getattr(self.log, "accepted_ms", None)
        if accepted is None or chain_size >= self.log.size:
            return None
        value = accepted(chain_size)
        return None if value is None else int(value)

    # -- reading ----------------------------------------------------------------------------------------

    def checkpoint(self, tree_size: int) -> AnchoredCheckpoint | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(log_checkpoints).where(log_checkpoints.c.tree_size == tree_size)).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> Sequence[AnchoredCheckpoint]:
        """Every checkpoint this service submitted, by size."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(log_checkpoints).order_by(log_checkpoints.c.tree_size)).all()
        return [_checkpoint(r) for r in rows]

    def overdue(self, *, now: float | None = None) -> tuple[int, int]:
        """Broken promises now: ``(first, end)`` leaf indices accepted more than the MMD ago that no
        anchored checkpoint covers (``first == end`` when none)."""
        chain_size, _ = self.chain_checkpoint()
        size = self.log.size
        accepted = getattr(self.log, "accepted_ms", None)
        if accepted is None or chain_size >= size:
            return (chain_size, chain_size)
        limit = ((self.clock() if now is None else now) - self.max_merge_delay) * 1000
        lo, hi = chain_size, size  # accepted_ms is non-decreasing in the index: bisect the last overdue leaf
        while lo < hi:
            mid = (lo + hi) // 2
            if accepted(mid) < limit:
                lo = mid + 1
            else:
                hi = mid
        return (chain_size, lo)

    # -- running ----------------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set. Errors are logged, kept in ``last_error``
        and retried, except :class:`LogDiverged`, which stops the loop (anchoring must not go on)."""
        stop = stop or self._stop
        while not stop.is_set():
            try:
                result = self.tick()
                self.last_error = None
                wait = 0.0 if result.action in ("anchored", "failed") else self.interval
                if result.action == "waiting":
                    wait = min(self.interval, 0.05)
            except LogDiverged as exc:
                self.last_error = exc
                _log.error("checkpointer stopped: %s", exc)
                return
            except LedgerError as exc:
                self.last_error = exc
                _log.warning("checkpointer: %s", exc)
                wait = self.interval
            except Exception as exc:  # noqa: BLE001 - a node hiccup must not kill the loop
                self.last_error = exc
                _log.warning("checkpointer: %s: %s", type(exc).__name__, exc)
                wait = self.interval
            stop.wait(wait)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, and give the lease up so that another replica takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self.lease is not None:
            try:
                self.lease.release()
            except Exception as exc:  # noqa: BLE001 - the lease then simply expires
                _log.warning("could not release the checkpointer lease: %r", exc)


def _checkpoint(row: Any) -> AnchoredCheckpoint:
    return AnchoredCheckpoint(
        tree_size=int(row.tree_size),
        root=bytes(row.root),
        status=CheckpointStatus(row.status),
        outbox_key=str(row.outbox_key),
        created_ms=int(row.created_ms),
        anchored_ms=None if row.anchored_ms is None else int(row.anchored_ms),
        tx_hash=None if row.tx_hash is None else bytes(row.tx_hash),
        block_number=None if row.block_number is None else int(row.block_number),
        error=row.error,
    )
