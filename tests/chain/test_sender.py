"""The durable transaction sender (ledger.sender) against a chain: py-evm by default, a live node with --chain.

Exactly-once is checked against the chain itself: value transfers to fresh addresses must leave each
recipient with exactly the amount of its write, and the sender's nonces must be contiguous.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.logs import DISCARD

from ledger.sender import (
    ChainUnavailable,
    IdempotencyConflict,
    OutboxEntry,
    OutboxStatus,
    TxSender,
    WriteFailed,
    WriteTimeout,
)
from ledger.storage import Database
from ledger.storage.schema import outbox_attempts

from .. import devchain
from ..conftest import World

pytestmark = pytest.mark.chain


# ---------------------------------------------------------------- helpers


class Faults:
    """Switches of a provider wrapper: the endpoint down, a send lost on the way or its answer lost."""

    def __init__(self) -> None:
        self.down = False
        self.drop_sends = 0  # sends that never reach the node
        self.lose_replies = 0  # sends the node executes but whose answer is lost
        self.lock = threading.RLock()


def connect(chain: devchain.DevChain, faults: Faults | None = None) -> Web3:
    """A second connection to the test chain, serialised (py-evm is not thread-safe), with fault switches."""
    faults = faults or Faults()
    provider: Any
    if isinstance(chain, devchain.EthTesterChain):
        provider = EthereumTesterProvider(chain.tester)
    else:
        provider = HTTPProvider(chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
                                exception_retry_configuration=None)
    inner = provider.make_request

    def make_request(method: str, params: Any) -> Any:
        with faults.lock:
            if faults.down:
                raise ConnectionError("connection refused (test: endpoint down)")
            if method == "eth_sendRawTransaction" and faults.drop_sends:
                faults.drop_sends -= 1
                raise ConnectionError("connection reset before the request was sent (test)")
            response = inner(method, params)
            if method == "eth_sendRawTransaction" and faults.lose_replies:
                faults.lose_replies -= 1
                raise ConnectionError("connection reset before the answer arrived (test)")
            return response

    provider.make_request = make_request
    return Web3(provider)


def fresh_key(world: World, wei: int = 10**20) -> LocalAccount:
    account: LocalAccount = Account.create()
    world.chain.fund(account.address, wei)
    return account


def recipients(n: int) -> list[ChecksumAddress]:
    return [Account.create().address for _ in range(n)]


def second_database(db: Database) -> Database:
    """Another engine on the same database, as a second process would open it."""
    return Database(db.url, schema=db.schema)


def set_automine(chain: devchain.DevChain, on: bool) -> None:
    if isinstance(chain, devchain.EthTesterChain):
        if on:
            chain.tester.enable_auto_mine_transactions()
        else:
            chain.tester.disable_auto_mine_transactions()
    else:
        chain.w3.provider.make_request("evm_setAutomine", [on])  # type: ignore[arg-type]


@contextlib.contextmanager
def manual_mining(chain: devchain.DevChain) -> Iterator[None]:
    set_automine(chain, False)
    try:
        yield
    finally:
        set_automine(chain, True)


def attempts_of(db: Database, entry: OutboxEntry) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(sa.select(outbox_attempts).where(outbox_attempts.c.outbox_id == entry.id)
                                 .order_by(outbox_attempts.c.signed_ms)).all())


def step_until(sender: TxSender, done: Callable[[], bool], limit: int = 2000) -> None:
    for _ in range(limit):
        if done():
            return
        sender.step()
    raise AssertionError("the sender did not get there")


def forwarded(world: World, signer: Any, call: Any, **kw: Any) -> bytes:
    """Calldata of TrustForwarder.execute for ``call`` signed by ``signer``."""
    request = world.forward_request(signer, call, **kw)
    return bytes.fromhex(world.d.forwarder.functions.execute(request)._encode_transaction_data()[2:])


# ---------------------------------------------------------------- idempotency


def test_same_key_is_the_same_write_and_a_different_write_is_a_conflict(world: World, database: Database) -> None:
    sender = TxSender(world.w3, database, fresh_key(world))
    [to, other] = recipients(2)
    first = sender.submit("pay:1", to, b"", value=1234)
    assert first.status == OutboxStatus.QUEUED
    assert sender.submit("pay:1", to.lower(), b"", value=1234) == first
    for other_to, data, value in ((other, b"", 1234), (to, b"\x01", 1234), (to, b"", 1235)):
        with pytest.raises(IdempotencyConflict) as info:
            sender.submit("pay:1", other_to, data, value=value)
        assert isinstance(info.value, ValueError)
    done = sender.wait("pay:1")
    assert done.status == OutboxStatus.CONFIRMED and done.applied_count == 1
    again = sender.submit("pay:1", to, b"", value=1234)
    assert again.status == OutboxStatus.CONFIRMED and again.tx_hash == done.tx_hash
    assert sender.step() == 0
    assert world.w3.eth.get_balance(to) == 1234
    # the same key from another key's sender is a conflict too
    with pytest.raises(IdempotencyConflict):
        TxSender(world.w3, database, fresh_key(world)).submit("pay:1", to, b"", value=1234)


# ---------------------------------------------------------------- simulation, forwarded writes


def test_a_write_that_would_revert_fails_with_the_named_error_and_sends_nothing(
        world: World, database: Database) -> None:
    a = world.actors
    relayer = fresh_key(world)
    sender = TxSender(world.w3, database, relayer)
    data = forwarded(world, a.stranger, world.d.governance.functions.appointArbitrator(recipients(1)[0]))
    sender.submit("appoint:by-stranger", world.d.forwarder.address, data)
    with pytest.raises(WriteFailed) as info:
        sender.wait("appoint:by-stranger")
    entry = info.value.entry
    assert entry.status == OutboxStatus.FAILED
    assert entry.error_name == "TrustGovernanceUnauthorized"
    assert entry.nonce is None and entry.tx_hash is None and attempts_of(database, entry) == []
    assert world.w3.eth.get_transaction_count(relayer.address) == 0


def test_a_forwarded_write_is_recorded_as_its_signer(world: World, database: Database) -> None:
    a = world.actors
    sender = TxSender(world.w3, database, a.relayer.account)
    [newcomer] = recipients(1)
    g = world.d.governance.functions
    sender.submit("appoint:newcomer", world.d.forwarder.address, forwarded(world, a.governor, g.appointArbitrator(newcomer)))
    entry = sender.wait("appoint:newcomer")
    assert g.isArbitrator(newcomer).call() is True
    receipt = world.w3.eth.get_transaction_receipt(entry.tx_hash)
    assert receipt["from"] == a.relayer.address
    [executed] = world.d.forwarder.events.ExecutedForwardRequest().process_receipt(receipt, errors=DISCARD)
    assert executed["args"]["signer"] == a.governor.address and executed["args"]["success"] is True


# ---------------------------------------------------------------- exactly once


def test_value_transfers_land_exactly_once_with_contiguous_nonces(world: World, database: Database) -> None:
    key = fresh_key(world)
    sender = TxSender(world.w3, database, key)
    tos = recipients(12)
    for i, to in enumerate(tos):
        sender.submit(f"pay:{i}", to, b"", value=10**9 + i)
    entries = [sender.wait(f"pay:{i}") for i in range(len(tos))]
    assert [world.w3.eth.get_balance(to) for to in tos] == [10**9 + i for i in range(len(tos))]
    assert [e.nonce for e in entries] == list(range(len(tos)))
    assert world.w3.eth.get_transaction_count(key.address) == len(tos)
    assert all(e.applied_count == 1 for e in entries)


def test_confirmation_depth_keeps_a_write_mined_until_blocks_are_on_top(world: World, database: Database) -> None:
    sender = TxSender(world.w3, database, fresh_key(world), confirmation_depth=2)
    [to] = recipients(1)
    sender.submit("pay:deep", to, b"", value=7)
    step_until(sender, lambda: sender.entry("pay:deep").status == OutboxStatus.MINED)  # type: ignore[union-attr]
    mined = sender.entry("pay:deep")
    assert mined is not None and mined.block_number is not None
    for blocks_on_top in (0, 1):
        assert world.w3.eth.block_number - mined.block_number == blocks_on_top
        sender.step()
        assert sender.entry("pay:deep").status == OutboxStatus.MINED  # type: ignore[union-attr]
        world.chain.increase_time(1)
    sender.step()
    confirmed = sender.entry("pay:deep")
    assert confirmed is not None and confirmed.status == OutboxStatus.CONFIRMED
    assert confirmed.block_number == mined.block_number
    assert world.w3.eth.get_balance(to) == 7


def test_a_request_expiring_before_inclusion_fails_with_the_replayed_error(
        world: World, database: Database) -> None:
    """Simulated while valid, mined after its deadline: status 0, and the replay names the reason."""
    a = world.actors
    sender = TxSender(world.w3, database, a.relayer.account)
    [newcomer] = recipients(1)
    deadline = world.chain.now() + 600
    data = forwarded(world, a.governor, world.d.governance.functions.appointArbitrator(newcomer), deadline=deadline)
    sender.submit("appoint:late", world.d.forwarder.address, data)
    with manual_mining(world.chain):
        step_until(sender, lambda: sender.entry("appoint:late").status == OutboxStatus.SENT)  # type: ignore[union-attr]
        world.chain.increase_time(3600)  # the next block, which includes the transaction, is past the deadline
    with pytest.raises(WriteFailed) as info:
        sender.wait("appoint:late", timeout=30)
    entry = info.value.entry
    assert entry.error_name == "ERC2771ForwarderExpiredRequest"
    assert entry.block_number is not None and entry.applied_count == 0
    receipt = world.w3.eth.get_transaction_receipt(entry.tx_hash)
    assert receipt["status"] == 0
    assert world.d.governance.functions.isArbitrator(newcomer).call() is False


# ---------------------------------------------------------------- concurrency


def test_threads_and_tasks_share_one_key_without_a_nonce_error(world: World, database: Database) -> None:
    key = fresh_key(world)
    w3 = connect(world.chain)
    sender = TxSender(w3, database, key)
    n_threads, per_thread, n_tasks = 8, 2, 50
    thread_tos = [recipients(per_thread) for _ in range(n_threads)]
    task_tos = recipients(n_tasks)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i, to in enumerate(thread_tos[t]):
                sender.submit(f"thread:{t}:{i}", to, b"", value=1000 + t * 10 + i)
                sender.wait(f"thread:{t}:{i}", timeout=120)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty below
            errors.append(exc)

    async def tasks() -> list[OutboxEntry]:
        return await asyncio.gather(*(sender.asubmit_and_wait(f"task:{i}", to, b"", value=5000 + i, timeout=120)
                                      for i, to in enumerate(task_tos)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    task_entries = asyncio.run(tasks())
    for th in threads:
        th.join()
    assert errors == []
    assert all(e.status == OutboxStatus.CONFIRMED for e in task_entries)
    for t in range(n_threads):
        assert [w3.eth.get_balance(to) for to in thread_tos[t]] == [1000 + t * 10 + i for i in range(per_thread)]
    assert [w3.eth.get_balance(to) for to in task_tos] == [5000 + i for i in range(n_tasks)]
    total = n_threads * per_thread + n_tasks
    entries = [sender.entry(f"thread:{t}:{i}") for t in range(n_threads) for i in range(per_thread)]
    nonces = sorted(e.nonce for e in entries + task_entries if e is not None and e.nonce is not None)
    assert nonces == list(range(total))
    assert w3.eth.get_transaction_count(key.address) == total


def test_two_replicas_over_one_database_never_hand_out_a_nonce_twice(world: World, database: Database) -> None:
    key = fresh_key(world)
    w3 = connect(world.chain)
    other_db = second_database(database)
    replicas = [TxSender(w3, database, key), TxSender(w3, other_db, key)]
    tos = recipients(24)
    try:
        for r in replicas:
            r.start()
        for i, to in enumerate(tos):  # both replicas see every write: each is a candidate for both
            replicas[i % 2].submit(f"pay:{i}", to, b"", value=300 + i)
        entries = [replicas[(i + 1) % 2].wait(f"pay:{i}", timeout=120) for i in range(len(tos))]
    finally:
        for r in replicas:
            r.stop()
        other_db.dispose()
    assert sorted(e.nonce for e in entries if e.nonce is not None) == list(range(len(tos)))
    assert [w3.eth.get_balance(to) for to in tos] == [300 + i for i in range(len(tos))]
    assert w3.eth.get_transaction_count(key.address) == len(tos)
    with database.read() as conn:
        used = conn.execute(sa.select(outbox_attempts.c.nonce, sa.func.count(sa.distinct(outbox_attempts.c.outbox_id)))
                            .group_by(outbox_attempts.c.nonce)).all()
    assert all(rows == 1 for _, rows in used), "a nonce was signed for two different writes"


# ---------------------------------------------------------------- the chain misbehaves


def test_rpc_down_is_a_typed_error_and_nothing_is_lost(world: World, database: Database) -> None:
    faults = Faults()
    w3 = connect(world.chain, faults)
    key = fresh_key(world)
    sender = TxSender(w3, database, key)
    tos = recipients(4)
    faults.down = True
    for i, to in enumerate(tos):
        sender.submit(f"pay:{i}", to, b"", value=40 + i)
    with pytest.raises(ChainUnavailable) as info:
        sender.step()
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(WriteTimeout) as timeout:
        sender.wait("pay:0", timeout=0.05)
    assert isinstance(timeout.value.last_error, ChainUnavailable)
    assert all(sender.entry(f"pay:{i}").status == OutboxStatus.QUEUED for i in range(4))  # type: ignore[union-attr]
    faults.down = False
    faults.drop_sends = 1  # pay:0 signed, then the connection fails before the node has it
    with pytest.raises(ChainUnavailable):
        sender.step()
    assert sender.entry("pay:0").status == OutboxStatus.SIGNED  # type: ignore[union-attr]
    faults.lose_replies = 1  # pay:0 or pay:1 reaches the node, the answer does not come back
    with pytest.raises(ChainUnavailable):
        sender.step()
    entries = [sender.wait(f"pay:{i}") for i in range(4)]
    assert [w3.eth.get_balance(to) for to in tos] == [40 + i for i in range(4)]
    assert [e.nonce for e in entries] == [0, 1, 2, 3]
    assert w3.eth.get_transaction_count(key.address) == 4


def test_a_stuck_write_is_bumped_and_settled_by_whichever_attempt_is_mined(
        world: World, database: Database) -> None:
    """The bump is signed but never reaches the node; the first attempt is mined: the row settles on it."""
    faults = Faults()
    w3 = connect(world.chain, faults)
    key = fresh_key(world)
    sender = TxSender(w3, database, key, stuck_after=0.0)
    [to] = recipients(1)
    sender.submit("pay:stuck", to, b"", value=99)
    with manual_mining(world.chain):
        step_until(sender, lambda: sender.entry("pay:stuck").status == OutboxStatus.SENT)  # type: ignore[union-attr]
        first = sender.entry("pay:stuck")
        assert first is not None
        faults.drop_sends = 1
        with pytest.raises(ChainUnavailable):
            sender.step()  # stuck: signed again with higher fees, the send is lost
        bumped = sorted(attempts_of(database, first), key=lambda a: bytes(a.tx_hash) != first.tx_hash)
        assert len(bumped) == 2 and {a.nonce for a in bumped} == {first.nonce}
        assert int(bumped[1].max_fee) >= int(bumped[0].max_fee) * 1125 // 1000
        assert int(bumped[1].priority_fee) >= int(bumped[0].priority_fee) * 1125 // 1000
        with faults.lock:
            world.chain.increase_time(1)  # mines the first attempt, the only one the node has
    entry = sender.wait("pay:stuck", timeout=30)
    assert entry.tx_hash == first.tx_hash and entry.applied_count == 1
    assert w3.eth.get_balance(to) == 99
    assert w3.eth.get_transaction_count(key.address) == 1


def test_a_nonce_taken_by_another_transaction_is_signed_again(world: World, database: Database) -> None:
    """The same key used outside the sender after the outbox signed: the write is re-simulated, applied once."""
    faults = Faults()
    w3 = connect(world.chain, faults)
    key = fresh_key(world)
    sender = TxSender(w3, database, key)
    [to, elsewhere] = recipients(2)
    sender.submit("pay:late", to, b"", value=55)
    faults.drop_sends = 1
    with pytest.raises(ChainUnavailable):
        sender.step()
    signed = sender.entry("pay:late")
    assert signed is not None and signed.status == OutboxStatus.SIGNED and signed.nonce == 0
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    intruder = key.sign_transaction(cast(Any, {"type": 2, "chainId": w3.eth.chain_id, "nonce": 0, "to": elsewhere,
                                     "value": 1, "gas": 21000, "maxFeePerGas": 2 * base + 1,
                                     "maxPriorityFeePerGas": 1}))
    w3.eth.send_raw_transaction(intruder.raw_transaction)
    w3.eth.get_transaction_receipt(intruder.hash)
    entry = sender.wait("pay:late")
    assert entry.nonce == 1 and entry.tx_hash != signed.tx_hash
    assert w3.eth.get_balance(to) == 55 and w3.eth.get_balance(elsewhere) == 1
    assert len(attempts_of(database, entry)) == 2


def test_an_idle_worker_sleeps_until_a_submit_wakes_it(world: World, database: Database) -> None:
    """With nothing in flight the worker makes about one pass per idle interval, not one per poll, and a
    submit wakes it at once."""
    calls: list[str] = []
    w3 = connect(world.chain)
    inner = w3.provider.make_request

    def counting(method: Any, params: Any) -> Any:
        calls.append(str(method))
        return inner(method, params)

    w3.provider.make_request = counting  # type: ignore[method-assign]
    key = fresh_key(world)
    sender = TxSender(w3, database, key, idle_interval=30.0)
    sender.start()
    try:
        [to] = recipients(1)
        sender.submit("idle:0", to, b"", value=5)
        done = threading.Event()
        threading.Thread(target=lambda: (sender.wait("idle:0", timeout=60), done.set()), daemon=True).start()
        assert done.wait(60)
        settled = len(calls)
        for _ in range(50):  # give a busy-polling worker every chance to show itself
            threading.Event().wait(0.01)
        assert len(calls) - settled <= 2, calls[settled:]
        sender.submit("idle:1", recipients(2)[1], b"", value=6)  # woken at once, not after 30 s
        assert sender.wait("idle:1", timeout=20).status is OutboxStatus.CONFIRMED
    finally:
        sender.stop()
    assert world.w3.eth.get_balance(to) == 5
