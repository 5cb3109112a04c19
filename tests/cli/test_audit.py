"""audit: the checkpoints come from the chain, the leaf hashes from the service, the roots are recomputed here.

The service is a fake (an httpx transport serving leaf hashes by range exactly as GET /v1/log/leaf-hashes
does), so that it can lie: one altered leaf hash must make the audit fail, naming every checkpoint it breaks
and none that it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cli import audit as audit_module
from cli._chainlog import AnchoredCheckpoint
from ledger import merkle

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
