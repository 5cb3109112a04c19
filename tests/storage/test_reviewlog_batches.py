"""Large group commits: the multi-row inserts (SQLite), the receipt signing process and its fallback.

The other review log tests submit a few reviews at a time, which the service signs on its worker threads and
inserts in statements of a few rows. These submit batches above ``_PROCESS_SIGNING_MIN`` (256), as the
benchmark does, on SQLite and PostgreSQL, and check that what is stored is exactly the log the receipts
promise.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import reviewlog
from ledger.merkle import MerkleTree, leaf_hash
from ledger.receipts import Receipt, verify_receipt
from ledger.reviewlog import DuplicateReview, ReviewLogService
from ledger.storage import Database
from ledger.storage.schema import log_leaves, log_nodes, log_state, review_content

from .reviewlog_helpers import (
    CHAIN_ID,
    MERCHANT,
    PRODUCT,
    REVIEW_LOG,
    make_service,
    receipt_signer,
    submission,
)

N = 600  # above the signing process threshold; 600 rows need inserts of 512, 64, 16 and 8 rows


def check_stored_log(db: Database, service: ReviewLogService, receipts: list[Receipt]) -> None:
    """Every receipt is the signer's own for a leaf stored at its index; the stored leaves, nodes and state
    are exactly the log of those leaves; a restarted service reproduces it."""
    signer = receipt_signer()
    with db.read() as conn:
        rows = conn.execute(sa.select(log_leaves).order_by(log_leaves.c.leaf_index)).all()
        nodes = conn.execute(sa.select(sa.func.count()).select_from(log_nodes)).scalar_one()
        contents = conn.execute(sa.select(sa.func.count()).select_from(review_content)).scalar_one()
        state = conn.execute(sa.select(log_state)).one()
    size = len(rows)
    assert [row.leaf_index for row in rows] == list(range(size)) and service.size == size == state.tree_size
    assert contents == size and nodes == size - size.bit_count()
    tree = MerkleTree(bytes(row.leaf_hash) for row in rows)
    assert bytes(state.root) == tree.root() == service.root()
    for row in rows:
        assert bytes(row.leaf_hash) == leaf_hash(bytes(row.leaf))
        assert (bytes(row.product_id), bytes(row.merchant), row.takedown) == (PRODUCT, bytes.fromhex(MERCHANT[2:]), 0)
    for receipt in receipts:
        assert receipt == signer.sign(receipt.leaf_hash, receipt.leaf_index, receipt.submitted_at)
        assert receipt.leaf_hash == bytes(rows[receipt.leaf_index].leaf_hash)
        verify_receipt(receipt, operator=signer.address, chain_id=CHAIN_ID, review_log=REVIEW_LOG)
    again = make_service(db)
    try:
        assert again.size == size and again.root() == tree.root()
    finally:
        again.close()


@pytest.mark.parametrize("signing_process", [True, False], ids=["signing-process", "worker-threads"])
def test_large_batches_store_exactly_the_leaves_the_receipts_name(database: Database,
                                                                   signing_process: bool) -> None:
    subs = [submission(f"ORD-{i}", user_id=f"u{i % 7}", rating=1 + i % 5) for i in range(N)]
    service = make_service(database, max_batch=1024, signing_process=signing_process)
    try:
        first = service.submit_many(subs[:N // 2])
        # The second batch repeats one review exactly, rivals another, and repeats itself within the batch.
        rival = submission("ORD-3", text="a different review of the same purchase", user_id="u3")
        second = service.submit_many(subs[N // 2 :] + [subs[5], rival, subs[-1]])
    finally:
        service.close()
    receipts = [r for r in first + second if isinstance(r, Receipt)]
    assert len(receipts) == N + 2 and [r.leaf_index for r in receipts[:N]] == list(range(N))
    assert second[-3] == first[5] and second[-1] == second[N // 2 - 1]  # exact retries: the same receipt
    assert isinstance(second[-2], DuplicateReview) and second[-2].leaf_index == 3
    check_stored_log(database, service, receipts)


def test_a_dead_signing_process_is_replaced_and_no_receipt_is_lost(database: Database) -> None:
    service = make_service(database, max_batch=1024, signing_process=True)
    try:
        service.start()
        pool = reviewlog._signing_executor
        assert pool is not None
        for pid in list(pool._processes):  # what a kill -9 or the OOM killer would do
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        receipts = service.submit_many([submission(f"ORD-{i}", user_id=f"u{i}") for i in range(300)])
        assert all(isinstance(r, Receipt) for r in receipts)  # signed on the worker threads instead
        more = service.submit_many([submission(f"ORD-b{i}", user_id=f"u{i}") for i in range(300)])
        assert all(isinstance(r, Receipt) for r in more)
        assert reviewlog._signing_executor is not None and reviewlog._signing_executor is not pool
    finally:
        service.close()
    check_stored_log(database, service, [r for r in receipts + more if isinstance(r, Receipt)])


def test_sqlite_statements_fit_a_small_parameter_limit(tmp_path: Path) -> None:
    """A SQLite built with a lower SQLITE_MAX_VARIABLE_NUMBER (999 before 3.32) gets smaller multi-row
    INSERTs, not a failed batch: here 40 parameters, so leaves go 2 rows to a statement. (Multi-row INSERTs
    are the SQLite path only, so this runs on SQLite alone.)"""
    database = Database(f"sqlite:///{tmp_path}/trustledger.db")
    database.migrate()
    service = make_service(database, max_batch=1024)
    service._max_parameters = 40
    try:
        receipts = service.submit_many([submission(f"ORD-{i}", user_id=f"u{i}") for i in range(300)])
    finally:
        service.close()
    assert all(isinstance(r, Receipt) for r in receipts)
    check_stored_log(database, service, [r for r in receipts if isinstance(r, Receipt)])
    database.dispose()
