"""The sender against a live Anvil it starts itself: crashes, maybe-sent transactions, fee bumps, rollbacks.

Each test starts Anvil (``ledger.devnet.start_anvil``) with its state in ``tmp_path`` on a free port and kills
it in a ``finally``. Exactly-once is read from the chain: each write pays a fresh address a distinct amount,
so a balance is the count of applications, and the sender's nonce count is the number of its transactions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger.devnet import _port_free, start_anvil, wait_group_exit
from ledger.sender import FAULT_ENV, ChainUnavailable, OutboxStatus, TxSender
from ledger.storage import Database
from ledger.storage.schema import outbox_attempts

from ..devchain import _free_port
from .sender_worker import recipient

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    home: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        deadline = time.monotonic() + 10
        while not _port_free("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.proc, _ = start_anvil(self.home, self.port, state_interval=3600)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the node and its process group (SIGTERM: Anvil writes its state first)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        wait_group_exit(self.proc.pid)  # every process of its group gone: the state file is written
        self.proc = None

    def rpc(self, method: str, *params: Any) -> Any:
        return web3(self).provider.make_request(method, list(params))  # type: ignore[arg-type]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "anvil", _free_port())
    n.start()
    try:
        yield n
    finally:
        n.stop(signal.SIGKILL)


def web3(node: Node, lost_sends: list[int] | None = None) -> Web3:
    """A connection without retries; ``lost_sends[0] > 0`` loses that many sends before they reach the node."""
    provider = HTTPProvider(node.url, exception_retry_configuration=None, request_kwargs={"timeout": 10})
    if lost_sends is not None:
        inner = provider.make_request

        def make_request(method: Any, params: Any) -> Any:
            if method == "eth_sendRawTransaction" and lost_sends[0] > 0:
                lost_sends[0] -= 1
                raise ConnectionError("connection reset before the request was sent (test)")
            return inner(method, params)

        provider.make_request = make_request  # type: ignore[method-assign]
    return Web3(provider)


def funded_key(w3: Web3) -> LocalAccount:
    account: LocalAccount = Account.create()
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**20})  # type: ignore[typeddict-item]
    w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.002)
    return account


def attempts(db: Database, outbox_id: int) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(sa.select(outbox_attempts).where(outbox_attempts.c.outbox_id == outbox_id)).all())


def assert_exactly_once(w3: Web3, sender: TxSender, seed: str, n: int) -> list[int]:
    """Every write ``seed:i`` confirmed, its recipient paid exactly once; returns the nonces used."""
    nonces = []
    for i in range(n):
        entry = sender.entry(f"{seed}:{i}")
        assert entry is not None and entry.status == OutboxStatus.CONFIRMED, entry
        assert w3.eth.get_balance(recipient(seed, i)) == 1000 + i  # type: ignore[arg-type]
        assert entry.nonce is not None
        nonces.append(entry.nonce)
    return nonces


def submit(sender: TxSender, seed: str, n: int) -> None:
    for i in range(n):
        sender.submit(f"{seed}:{i}", recipient(seed, i), b"", value=1000 + i)


# ---------------------------------------------------------------- (1) crashes


def test_killed_between_sign_and_send_and_between_send_and_receipt(node: Node, database: Database) -> None:
    w3 = web3(node)
    key = funded_key(w3)
    n = 5
    for fault in ("after_sign:3", "after_send:3"):
        worker = subprocess.run(
            [sys.executable, "-m", "tests.node.sender_worker", str(database.url.render_as_string(hide_password=False)),
             database.schema or "-", node.url, key.key.hex(), fault, str(n)],
            cwd=REPO, env={**os.environ, FAULT_ENV: fault}, capture_output=True, text=True, timeout=60, check=False)
        assert worker.returncode == 137, worker.stderr[-2000:]
        assert "submitted" in worker.stdout and "confirmed 4" not in worker.stdout
        # the process died with a write in flight (the second one works on the first one's leftovers first)
        reader = TxSender(w3, database, key)
        statuses = {e.status for f in ("after_sign:3", "after_send:3") for i in range(n)
                    if (e := reader.entry(f"{f}:{i}")) is not None}
        assert (OutboxStatus.SIGNED if fault.startswith("after_sign") else OutboxStatus.SENT) in statuses
    sender = TxSender(w3, database, key)  # the restarted service
    sender.recover()
    for fault in ("after_sign:3", "after_send:3"):
        submit(sender, fault, n)  # the caller retries its writes: same keys, the same rows
        for i in range(n):
            sender.wait(f"{fault}:{i}", timeout=60)
    nonces = assert_exactly_once(w3, sender, "after_sign:3", n) + assert_exactly_once(w3, sender, "after_send:3", n)
    assert sorted(nonces) == list(range(2 * n))
    assert w3.eth.get_transaction_count(key.address) == 2 * n


# ---------------------------------------------------------------- (2) maybe sent


def test_a_transaction_already_broadcast_is_settled_by_its_hash(node: Node, database: Database) -> None:
    lost = [0]
    w3 = web3(node, lost)
    key = funded_key(w3)
    sender = TxSender(w3, database, key)
    for i, automine in ((0, False), (1, True)):  # in the pool: "already imported"; mined: "nonce too low"
        node.rpc("evm_setAutomine", automine)
        sender.submit(f"known:{i}", recipient("known", i), b"", value=1000 + i)
        lost[0] = 1
        with pytest.raises(ChainUnavailable):
            sender.step()  # the send of this write is lost on the way
        entry = sender.entry(f"known:{i}")
        assert entry is not None and entry.status == OutboxStatus.SIGNED
        [attempt] = attempts(database, entry.id)
        w3.eth.send_raw_transaction(attempt.raw_tx)  # someone else broadcast the stored transaction first
        sender.step()
        if not automine:
            assert sender.entry(f"known:{i}").status == OutboxStatus.SENT  # type: ignore[union-attr]
            node.rpc("evm_mine")
        done = sender.wait(f"known:{i}", timeout=30)
        assert done.tx_hash == bytes(attempt.tx_hash) and len(attempts(database, entry.id)) == 1
    assert sorted(assert_exactly_once(w3, sender, "known", 2)) == [0, 1]
    assert w3.eth.get_transaction_count(key.address) == 2


# ---------------------------------------------------------------- (3) fee bump


def test_a_stuck_transaction_is_replaced_with_higher_fees_and_applied_once(node: Node, database: Database) -> None:
    w3 = web3(node)
    key = funded_key(w3)
    sender = TxSender(w3, database, key, stuck_after=0.2)
    node.rpc("evm_setAutomine", False)
    submit(sender, "bump", 1)
    while sender.entry("bump:0").status != OutboxStatus.SENT:  # type: ignore[union-attr]
        sender.step()
    first = sender.entry("bump:0")
    assert first is not None
    time.sleep(0.25)  # no block: the transaction is stuck
    while len(attempts(database, first.id)) < 2:
        sender.step()
    [old, new] = sorted(attempts(database, first.id), key=lambda a: bytes(a.tx_hash) != first.tx_hash)
    assert old.nonce == new.nonce == first.nonce
    assert int(new.max_fee) >= int(old.max_fee) * 1125 // 1000
    assert int(new.priority_fee) >= int(old.priority_fee) * 1125 // 1000
    assert sender.entry("bump:0").status == OutboxStatus.SENT  # type: ignore[union-attr]  # the node took it
    node.rpc("evm_mine")
    done = sender.wait("bump:0", timeout=30)
    assert done.tx_hash == bytes(new.tx_hash) and done.applied_count == 1
    assert_exactly_once(w3, sender, "bump", 1)
    assert w3.eth.get_transaction_count(key.address) == 1


# ---------------------------------------------------------------- (4) the chain comes back older


@pytest.mark.parametrize("blocks_after_restore", [0, 12], ids=["head-lower", "head-higher-other-hash"])
def test_a_chain_restored_from_an_older_state_gets_every_lost_write_again(
        node: Node, database: Database, blocks_after_restore: int) -> None:
    w3 = web3(node)
    key = funded_key(w3)
    sender = TxSender(w3, database, key)
    submit(sender, "A", 3)
    for i in range(3):
        sender.wait(f"A:{i}")
    node.stop(signal.SIGTERM)  # Anvil writes its state
    state = node.home / "anvil-state.json"
    saved = node.home.parent / "saved-state.json"
    shutil.copy(state, saved)
    node.start()
    submit(sender, "B", 4)
    confirmed_b = [sender.wait(f"B:{i}") for i in range(4)]
    assert_exactly_once(w3, sender, "B", 4)
    node.stop(signal.SIGKILL)
    shutil.copy(saved, state)  # the chain comes back as it was before B
    node.start()
    for _ in range(blocks_after_restore):
        node.rpc("evm_mine")
    assert w3.eth.get_balance(recipient("B", 0)) == 0  # type: ignore[arg-type]  # B is gone
    assert sender.step() >= 4  # the next pass notices: every B write is re-sent
    for i in range(4):
        sender.wait(f"B:{i}")
    nonces = assert_exactly_once(w3, sender, "A", 3) + assert_exactly_once(w3, sender, "B", 4)
    assert sorted(nonces) == list(range(7))
    assert w3.eth.get_transaction_count(key.address) == 7
    for before in confirmed_b:  # re-broadcast as signed: the same transactions, now in new blocks
        receipt = w3.eth.get_transaction_receipt(before.tx_hash)  # type: ignore[arg-type]
        assert receipt["status"] == 1


def test_a_restarted_sender_rechecks_confirmed_writes_against_an_older_chain(
        node: Node, database: Database) -> None:
    """The sender was down while the chain was restored: ``recover`` finds the confirmed writes that are gone."""
    w3 = web3(node)
    key = funded_key(w3)
    first = TxSender(w3, database, key)
    node.stop(signal.SIGTERM)
    saved = node.home.parent / "saved-state.json"
    shutil.copy(node.home / "anvil-state.json", saved)
    node.start()
    submit(first, "C", 3)
    for i in range(3):
        first.wait(f"C:{i}")
    node.stop(signal.SIGKILL)
    shutil.copy(saved, node.home / "anvil-state.json")
    node.start()
    for _ in range(10):
        node.rpc("evm_mine")  # the head is past the one the sender recorded
    restarted = TxSender(w3, database, key)
    restarted.start()
    try:
        done = threading.Event()

        def waiter() -> None:
            for i in range(3):
                restarted.wait(f"C:{i}", timeout=60)
            done.set()

        t = threading.Thread(target=waiter)
        t.start()
        t.join(timeout=90)
        assert done.is_set()
    finally:
        restarted.stop()
    assert sorted(assert_exactly_once(w3, restarted, "C", 3)) == [0, 1, 2]
    assert w3.eth.get_transaction_count(key.address) == 3
