"""Many replicas, one log (issue #8): three service processes over one PostgreSQL database and one local chain
accept reviews at once; one is killed (SIGKILL) mid-load. What must hold afterwards:

* one RFC 6962 history: leaf indices 0..n-1 with no gap, the stored root recomputed from the leaf hashes, no
  purchase twice, and the chain's latest checkpoint is exactly that log (size and root);
* every receipt any replica handed out, the killed one's included, is honoured: validly signed by the log
  operator, its leaf hash at its index, and covered by an anchored checkpoint;
* one anchoring replica at a time: no checkpoint was refused or failed (two checkpointers racing would leave
  failed ``appendCheckpoint`` writes: each proves consistency from the chain's latest size);
* no replica's batch failed for another's appends: each follows the others' leaves under the sequencer's row
  lock (a replica exits non-zero on any refused review).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_utils.crypto import keccak

from ledger.deploy import contract_at
from ledger.devnet import ensure_deployment, identities, start_anvil, stop_anvil
from ledger.merkle import root_from_leaf_hashes
from ledger.receipts import Receipt, verify_receipt
from ledger.storage import Database, scratch_schema
from ledger.storage.schema import log_checkpoints, log_leaves, log_state

from ..conftest import PG_URL, require_pg

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
MMD = 10
PER_REPLICA = 240


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg(_pg_status: str | None) -> Iterator[Database]:
    require_pg(_pg_status)
    with scratch_schema(PG_URL, prefix="replicas") as db:
        db.migrate()
        yield db


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_three_replicas_one_killed_keep_one_log_and_every_receipt(tmp_path: Path, pg: Database) -> None:
    home = tmp_path / "chain"
    proc, w3 = start_anvil(home, _free_port())
    replicas: list[subprocess.Popen[str]] = []
    try:
        manifest = ensure_deployment(w3, home)
        keys = identities(home)
        merchant = Account.from_key(keys["merchant"]).address
        env = {**os.environ,
               "TRUSTLEDGER_RPC_URL": w3.provider.endpoint_uri,  # type: ignore[attr-defined]
               "TRUSTLEDGER_MANIFEST_PATH": str(home / "deployment.json"),
               "TRUSTLEDGER_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{pg.schema}",
               "TRUSTLEDGER_OPERATOR_KEY": keys["operator"], "TRUSTLEDGER_ORDER_SIGNER_KEY": keys["order_signer"],
               "TRUSTLEDGER_CONTENT_KEY": "0x" + keccak(text="replicas:content").hex(),
               "TRUSTLEDGER_PSEUDONYM_KEY": "0x" + keccak(text="replicas:pseudonym").hex(),
               "TRUSTLEDGER_MAX_MERGE_DELAY": str(MMD),
               "TL_MERCHANT": merchant, "TL_PRODUCT": keccak(text="gtin:replicas").hex()}
        outs = [tmp_path / f"receipts-{i}.jsonl" for i in range(3)]
        for i, out in enumerate(outs):
            replicas.append(subprocess.Popen(
                [sys.executable, "-m", "tests.node.replica", f"replica{i}", str(PER_REPLICA), str(out)],
                cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True))
        victim = replicas[1]
        deadline = time.monotonic() + 90
        while len(_lines(outs[1])) < 60:  # mid-load: it has handed out some receipts, not all
            assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
            assert time.monotonic() < deadline, "replica 1 handed out no receipts"
            time.sleep(0.05)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        for i in (0, 2):
            try:
                _, err = replicas[i].communicate(timeout=180)
            except subprocess.TimeoutExpired:
                pytest.fail(f"replica {i} did not finish")
            assert replicas[i].returncode == 0, err

        receipts = [Receipt.from_json(line) for out in outs for line in _lines(out)]
        killed = len(_lines(outs[1]))
        assert len(receipts) == 2 * PER_REPLICA + killed and 60 <= killed < PER_REPLICA
        with pg.read() as conn:
            rows = conn.execute(sa.select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash, log_leaves.c.purchase)
                                .order_by(log_leaves.c.leaf_index)).all()
            size, root = conn.execute(sa.select(log_state.c.tree_size, log_state.c.root)).one()
            statuses = conn.execute(sa.select(log_checkpoints.c.status)).scalars().all()
        hashes = [bytes(r.leaf_hash) for r in rows]
        assert [r.leaf_index for r in rows] == list(range(size))
        assert root_from_leaf_hashes(hashes) == bytes(root)
        assert len({bytes(r.purchase) for r in rows}) == size
        # the killed replica may have committed a batch it did not live to hand out: at most one batch more
        assert len(receipts) <= size <= len(receipts) + 20

        operator = Account.from_key(keys["operator"]).address
        review_log = manifest.address("ReviewLog")
        rl = contract_at(w3, "ReviewLog", review_log)
        for r in receipts:
            verify_receipt(r, operator=operator, chain_id=manifest.chain_id, review_log=review_log)
            assert hashes[r.leaf_index] == r.leaf_hash
        assert len({r.leaf_index for r in receipts}) == len(receipts)

        # the survivors anchored the whole log, the killed replica's leaves included (theirs came last, and each
        # waited for its own last leaf to be anchored before it stopped)
        chain_root, chain_size = rl.functions.latestCheckpoint().call()
        assert (chain_size, bytes(chain_root)) == (size, bytes(root))
        assert "failed" not in statuses, statuses
    finally:
        for p in replicas:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        stop_anvil(proc)
