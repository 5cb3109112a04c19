"""audit: the checkpoints come from the chain, the leaf hashes from the service, the roots are recomputed here.

The service is a fake (an httpx transport serving leaf hashes by range exactly as GET /v1/log/leaf-hashes
does), so that it can lie: one altered leaf hash must make the audit fail, naming every checkpoint it breaks
and none that it does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from cli import audit as audit_module
from cli._chainlog import AnchoredCheckpoint, anchored_checkpoints
from ledger import merkle
from ledger.manifest import Manifest
from ledger.receipts import Receipt, ReceiptSigner

from ..chain.test_verify import anchor, leaf_store
from ..conftest import World
from .conftest import RPC, invoke, no_traceback

SIZES = (3, 7, 12)


def fake_service(hashes: list[bytes], requests: list[tuple[int, int]]) -> Callable[[str], httpx.Client]:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/log/leaf-hashes"
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        requests.append((start, end))
        if not 0 <= start <= end <= len(hashes):
            return httpx.Response(422, json={"detail": "range-out-of-log"})
        return httpx.Response(200, json={"start": start, "end": end,
                                         "leafHashes": ["0x" + h.hex() for h in hashes[start:end]]})

    return lambda api: httpx.Client(base_url=api, transport=httpx.MockTransport(handle))


@pytest.fixture
def anchored(on_world: World) -> list[bytes]:
    """Checkpoints of sizes 3, 7 and 12 anchored on chain; the honest leaf hashes (14: two not anchored yet)."""
    store = leaf_store(14)
    previous = 0
    for size in SIZES:
        anchor(on_world, store, size, previous)
        previous = size
    return store.leaf_hashes(0, 14)


def _audit(monkeypatch: pytest.MonkeyPatch, manifest: Path, hashes: list[bytes],
           requests: list[tuple[int, int]] | None = None) -> tuple[int, str]:
    monkeypatch.setattr(audit_module, "client", fake_service(hashes, [] if requests is None else requests))
    run = invoke("audit", "--rpc", RPC, "--manifest", manifest, "--api", "http://service.test")
    no_traceback(run)
    return run.code, run.output


@pytest.mark.chain
def test_an_honest_log_passes(anchored: list[bytes], manifest_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[tuple[int, int]] = []
    monkeypatch.setattr(audit_module, "PAGE", 5)
    code, output = _audit(monkeypatch, manifest_file, anchored, requests)
    assert code == 0, output
    assert "CONSISTENT: 3 checkpoints read from the chain, each root recomputed from 12 leaf hashes" in output
    assert requests == [(0, 5), (5, 10), (10, 12)]  # paged, and only up to the largest anchored size


@pytest.mark.chain
@pytest.mark.parametrize(("altered", "broken"), [(0, (0, 1, 2)), (5, (1, 2)), (11, (2,))])
def test_one_altered_leaf_hash_fails_naming_each_checkpoint_it_breaks(
        anchored: list[bytes], manifest_file: Path, monkeypatch: pytest.MonkeyPatch, altered: int,
        broken: tuple[int, ...]) -> None:
    lying = list(anchored)
    lying[altered] = bytes(31) + b"\x01"
    code, output = _audit(monkeypatch, manifest_file, lying)
    assert code == 1, output
    for cp, size in enumerate(SIZES):
        named = f"checkpoint {cp} (size {size}, block" in output
        assert named == (cp in broken), (cp, output)
    assert f"INCONSISTENT: {len(broken)} of 3 checkpoints" in output
    assert "the chain anchored root 0x" in output


@pytest.mark.chain
def test_a_service_with_fewer_leaves_than_anchored_fails(anchored: list[bytes], manifest_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _audit(monkeypatch, manifest_file, anchored[:9])
    assert code == 2 and "the service answered 422 for leaf hashes [0, 12)" in output, output


@pytest.mark.chain
def test_a_malformed_answer_is_exit_2(anchored: list[bytes], manifest_file: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"start": 0, "end": 12, "leafHashes": ["0xAB"] * 12})

    monkeypatch.setattr(audit_module, "client",
                        lambda api: httpx.Client(base_url=api, transport=httpx.MockTransport(handle)))
    run = invoke("audit", "--rpc", RPC, "--manifest", manifest_file, "--api", "http://service.test")
    assert run.code == 2 and "leaf hash 0 is not 0x + 64 lower-case hex digits" in run, run.output


@pytest.mark.chain
def test_no_checkpoint_yet_is_consistent_and_asks_for_nothing(on_world: World, manifest_file: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[tuple[int, int]] = []
    code, output = _audit(monkeypatch, manifest_file, [], requests)
    assert code == 0 and "CONSISTENT: 0 checkpoints" in output, output
    assert requests == []


def _cp(index: int, size: int, root: bytes) -> AnchoredCheckpoint:
    return AnchoredCheckpoint(index, size, root, 0, 0, b"")


def test_checkpoints_out_of_order_or_shrinking_are_named() -> None:
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(8)]
    tree = merkle.MerkleTree(hashes)
    results = audit_module.audit_checkpoints([_cp(0, 6, tree.root(6)), _cp(1, 4, tree.root(4)),
                                              _cp(3, 8, tree.root(8))], hashes)
    assert [r.root_ok for r in results] == [True, True, True]
    assert [r.consistent for r in results] == [None, False, True]
    assert "size shrank from 6 to 4" in results[1].problems[0]
    assert results[2].problems == ("expected checkpoint 2 next on chain, found checkpoint 3",)


# ------------------------------------------------------------------------------------------------ --receipts

OPERATOR_KEY = keccak(text="trustledger-test-audit-operator")
LOG = "0x" + "1f" * 20


def _signer(key: bytes, *, mmd: int, chain_id: int = 31337, review_log: str = LOG) -> ReceiptSigner:
    return ReceiptSigner(key, chain_id=chain_id, review_log=review_log, max_merge_delay=mmd)


def _judge(receipts: list[Receipt], checkpoints: list[AnchoredCheckpoint], hashes: list[bytes],
           now: int) -> list[audit_module.ReceiptAudit]:
    operator = Account.from_key(OPERATOR_KEY).address
    return audit_module.audit_receipts(list(enumerate(receipts, start=1)), checkpoints, hashes, operator=operator,
                                       chain_id=31337, review_log=LOG, now=now)


def _cp_at(index: int, size: int, timestamp: int) -> AnchoredCheckpoint:
    return AnchoredCheckpoint(index, size, b"\0" * 32, timestamp, 100 + index, b"")


def test_a_promise_is_kept_at_its_deadline_and_broken_a_second_later() -> None:
    """The boundaries: a block time equal to the deadline keeps the promise; a leaf not anchored while the chain
    is at its deadline is not due yet (a later block may still carry that time), one second past is broken."""
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(6)]
    sign = _signer(OPERATOR_KEY, mmd=10).sign
    checkpoints = [_cp_at(0, 2, 1_000), _cp_at(1, 4, 1_020)]
    receipts = [sign(hashes[1], 1, 990),   # anchored by checkpoint 0 at exactly its deadline: kept
                sign(hashes[2], 2, 1_009),  # checkpoint 1 at 1020, deadline 1019: a second late
                sign(hashes[4], 4, 1_010),  # not anchored, deadline 1020
                sign(hashes[5], 5, 1_009)]  # not anchored, deadline 1019
    results = _judge(receipts, checkpoints, hashes, now=1_020)
    assert [r.status for r in results] == ["kept", "broken", "pending", "broken"]
    assert results[1].problem == "anchored 1 s late (checkpoint 1)" and results[1].anchored_at == 1_020
    assert results[3].problem == "not anchored, and the chain is 1 s past the deadline"
    assert results[3].anchored_at is None


def test_another_leaf_at_the_index_or_another_signer_is_no_kept_promise() -> None:
    hashes = [merkle.leaf_hash(b"%d" % i) for i in range(4)]
    checkpoints = [_cp_at(0, 4, 1_000)]
    swapped = _signer(OPERATOR_KEY, mmd=60).sign(hashes[3], 2, 990)  # the leaf of index 3 promised at 2
    forged = _signer(keccak(text="not the operator"), mmd=60).sign(hashes[1], 1, 990)
    other_log = _signer(OPERATOR_KEY, mmd=60, review_log="0x" + "2e" * 20).sign(hashes[0], 0, 990)
    results = _judge([swapped, forged, other_log], checkpoints, hashes, now=2_000)
    assert [r.status for r in results] == ["broken", "invalid", "invalid"]
    assert results[0].problem is not None and "anchored another leaf at index 2" in results[0].problem
    assert results[1].problem is not None and results[1].problem.startswith("receipt signer: expected")
    assert results[2].problem is not None and results[2].problem.startswith("receipt verifyingContract")


def _receipts_file(tmp_path: Path, receipts: list[Receipt]) -> Path:
    path = tmp_path / "receipts.jsonl"
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in receipts))
    return path


@pytest.mark.chain
def test_receipts_broken_by_the_chain_are_listed_and_exit_1(anchored: list[bytes], manifest_file: Path,
                                                            on_world: World, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Receipts fabricated against the chain's own checkpoints (sizes 3, 7, 12) and block times: a kept one, one
    anchored late, one whose index holds another leaf, one never anchored and overdue, one not yet due, and one
    not signed by the operator. The table lists exactly the three broken ones; the forgery is named apart."""
    deployment = Manifest.load(manifest_file)
    checkpoints = anchored_checkpoints(on_world.w3, deployment)
    assert [c.size for c in checkpoints] == list(SIZES)
    now = on_world.chain.now()
    log, chain_id = deployment.address("ReviewLog"), deployment.chain_id
    operator = bytes(on_world.actors.operator.account.key)
    sign = ReceiptSigner(operator, chain_id=chain_id, review_log=log, max_merge_delay=60).sign
    stranger = ReceiptSigner(bytes(on_world.actors.stranger.account.key), chain_id=chain_id, review_log=log,
                             max_merge_delay=60).sign
    receipts = [sign(anchored[1], 1, checkpoints[0].timestamp - 5),
                sign(anchored[5], 5, checkpoints[1].timestamp - 100),
                sign(anchored[9], 8, checkpoints[2].timestamp - 5),
                sign(anchored[12], 12, now - 1000),
                sign(anchored[13], 13, now),
                stranger(anchored[2], 2, checkpoints[0].timestamp - 5)]
    monkeypatch.setattr(audit_module, "client", fake_service(anchored, []))
    run = invoke("audit", "--rpc", RPC, "--manifest", manifest_file, "--api", "http://service.test",
                 "--receipts", _receipts_file(tmp_path, receipts))
    no_traceback(run)
    assert run.code == 1, run.output
    assert "CONSISTENT: 3 checkpoints" in run  # the log itself is sound: the receipts are what fails
    rows = {int(m) for m in re.findall(r"│ (\d+) +│ \d{10} \(", run.raw.output)}
    assert rows == {5, 8, 12}, run.raw.output
    assert "anchored 40 s late (checkpoint 1)" in run
    assert "checkpoint 2 anchored another leaf at index 8" in run
    assert re.search(r"│ 12 +│.*│ not anchored +│ not anchored, and the chain is \d+ s past the deadline",
                     run.raw.output), run.raw.output
    assert "receipt on line 6 (leaf 2) does not verify, so it promises nothing: receipt signer: expected" in run
    assert "BROKEN PROMISES: 3 of 6 receipts not kept, 1 not signed by the log operator for this log, " \
           "1 not yet due" in run


@pytest.mark.chain
def test_kept_receipts_pass(anchored: list[bytes], manifest_file: Path, on_world: World, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = Manifest.load(manifest_file)
    checkpoints = anchored_checkpoints(on_world.w3, deployment)
    sign = ReceiptSigner(bytes(on_world.actors.operator.account.key), chain_id=deployment.chain_id,
                         review_log=deployment.address("ReviewLog"), max_merge_delay=60).sign
    receipts = [sign(anchored[i], i, checkpoints[0 if i < 3 else 1 if i < 7 else 2].timestamp - 1)
                for i in range(12)]
    monkeypatch.setattr(audit_module, "client", fake_service(anchored, []))
    run = invoke("audit", "--rpc", RPC, "--manifest", manifest_file, "--api", "http://service.test",
                 "--receipts", _receipts_file(tmp_path, receipts))
    assert run.code == 0, run.output
    assert "PROMISES KEPT: 12 receipts verified, 12 anchored within their maximum merge delay, 0 not yet due" in run


def test_a_malformed_receipts_line_is_exit_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    good = _signer(OPERATOR_KEY, mmd=60).sign(b"\1" * 32, 0, 1_000).to_json()
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "leafIndex": 3}) + "\n")
    run = invoke("audit", "--rpc", RPC, "--manifest", tmp_path / "none.json", "--api", "http://service.test",
                 "--receipts", path)
    no_traceback(run)
    assert run.code == 2 and f"{path} line 3: receipt member" in run and "leafIndex" in run, run.output
