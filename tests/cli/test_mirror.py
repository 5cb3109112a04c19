"""trustledger mirror: checkpoints from the (py-evm) chain, leaves from a fake service, exit codes 0, 1 and 2.

The service is an httpx transport answering ``GET /v1/log/leaves`` as api/routes/log.py does, so that it can
lie; the checkpoints are really anchored on chain by the operator, as in test_audit.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cli import mirror as mirror_module
from ledger import merkle
from ledger.mirror import LogMirror

from ..chain.test_verify import anchor, leaf_store, review_leaf
from ..conftest import World
from .conftest import RPC, invoke, no_traceback

pytestmark = pytest.mark.chain

SIZES = (3, 7, 12)
API = "http://service.test"


class Service:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.requests: list[tuple[int, int]] = []
        self.status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/log/leaves"
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        self.requests.append((start, end))
        if self.status != 200:
            return httpx.Response(self.status, text="unavailable")
        if not 0 <= start <= end <= len(self.leaves):
            return httpx.Response(422, json={"type": "range-out-of-log"})
        return httpx.Response(200, json={"start": start, "end": end,
                                         "leaves": [b.decode() for b in self.leaves[start:end]]})

    def client(self) -> Callable[[str], httpx.Client]:
        return lambda api: httpx.Client(base_url=api, transport=httpx.MockTransport(self.handle))


@pytest.fixture
def honest(on_world: World) -> list[bytes]:
    """Checkpoints of sizes 3, 7 and 12 anchored on chain; the honest leaves (14: two not anchored yet)."""
    store = leaf_store(14)
    previous = 0
    for size in SIZES:
        anchor(on_world, store, size, previous)
        previous = size
    return store.leaves(0, 14)


def run(monkeypatch: pytest.MonkeyPatch, manifest: Path, out: Path, service: Service,
        *extra: str) -> tuple[int, str]:
    monkeypatch.setattr(mirror_module, "client", service.client())
    result = invoke("mirror", "--rpc", RPC, "--manifest", manifest, "--api", API, "--out", out, *extra)
    no_traceback(result)
    return result.code, result.output


def root(leaves: list[bytes], size: int) -> str:
    return "0x" + merkle.MerkleTree([merkle.leaf_hash(b) for b in leaves]).root(size).hex()


def test_an_honest_service_is_mirrored_then_resumed(on_world: World, honest: list[bytes], manifest_file: Path,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "mirror.db"
    service = Service(honest)
    code, output = run(monkeypatch, manifest_file, out, service)
    assert code == 0, output
    assert f"VERIFIED: {out} holds 12 leaves (checkpoint 2), root {root(honest, 12)}; 12 new, 3 checkpoints" \
        in output
    with LogMirror(out) as m:
        assert m.leaves(0, 12) == honest[:12]
        assert m.log_id == f"eip155:{on_world.d.chain_id}:{on_world.d.review_log.address}"
    anchor(on_world, leaf_store(14), 14, 12)
    service.requests.clear()
    code, output = run(monkeypatch, manifest_file, out, service)
    assert code == 0 and "holds 14 leaves (checkpoint 3)" in output, output
    assert "2 new, 1 checkpoints" in output
    assert service.requests == [(12, 14)]


def test_an_equivocating_service_is_exit_1_naming_the_checkpoint_and_range(
        honest: list[bytes], manifest_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lying = list(honest)
    lying[5] = review_leaf(99).canonical_bytes()
    out = tmp_path / "mirror.db"
    code, output = run(monkeypatch, manifest_file, out, Service(lying))
    assert code == 1, output
    assert f"error: EQUIVOCATION: checkpoint 1 (size 7, anchored root {root(honest, 7)}) is not reproduced " \
           f"by the server's leaves [3, 7): they give root {root(lying, 7)}" in output
    assert "The mirror keeps its 3 verified leaves" in output
    with LogMirror(out) as m:
        assert m.size == 3 and m.leaves(0, 3) == honest[:3]


def test_follow_syncs_each_new_checkpoint_and_rides_out_a_service_outage(
        on_world: World, honest: list[bytes], manifest_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    service = Service(honest)
    rounds: list[float] = []

    def pause(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 1:  # the service goes down while a new checkpoint is anchored
            service.status = 503
            anchor(on_world, leaf_store(14), 14, 12)
        elif len(rounds) == 2:
            service.status = 200
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(mirror_module, "_sleep", pause)
    code, output = run(monkeypatch, manifest_file, tmp_path / "m.db", service, "--follow", "5")
    assert code == 0, output
    assert "holds 12 leaves (checkpoint 2)" in output and "holds 14 leaves (checkpoint 3)" in output
    assert "warning: LeafSourceError: the server answered 503 for leaves [12, 14)" in output
    assert "stopped; " in output and rounds == [5.0, 5.0, 5.0]


def test_what_cannot_be_done_is_exit_2(on_world: World, honest: list[bytes], manifest_file: Path,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = Service(honest)
    out = tmp_path / "m.db"
    code, output = run(monkeypatch, manifest_file, out, Service(honest[:10]))  # short of checkpoint 2
    assert code == 2 and "answered 422 for leaves [7, 12)" in output and "checkpoint 2" in output, output
    code, output = run(monkeypatch, tmp_path / "none.json", out, service)
    assert code == 2 and "no manifest at" in output, output
    code, output = run(monkeypatch, manifest_file, tmp_path / "no" / "such" / "dir" / "m.db", service)
    assert code == 2 and "cannot be used" in output, output
    with LogMirror(tmp_path / "other.db", log_id="eip155:1:0x0000000000000000000000000000000000000001"):
        pass
    code, output = run(monkeypatch, manifest_file, tmp_path / "other.db", service)
    assert code == 2 and "mirrors the log eip155:1:0x0000000000000000000000000000000000000001, not" in output
    result = invoke("mirror", "--rpc", "http://127.0.0.1:9", "--manifest", manifest_file, "--api", API,
                    "--out", out)
    assert result.code == 2 and "unreachable" in result.output, result.output
    result = invoke("mirror", "--rpc", RPC, "--manifest", manifest_file, "--api", API, "--out", out,
                    "--follow", "0")
    assert result.code == 2, result.output
