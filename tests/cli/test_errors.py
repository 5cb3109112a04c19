"""Every way a command cannot do its work ends in one line and exit code 2, never a traceback: a taken port, an
unreachable chain, a missing or malformed manifest, a manifest of another deployment, a missing file, wrong
usage. (Bad bundles and bad logs are verification failures, exit 1: test_verify.py, test_audit.py.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import World
from .conftest import RPC, invoke, no_traceback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_up_on_a_taken_port_says_so(taken_port: int, tmp_path: Path) -> None:
    run = invoke("up", "--home", tmp_path, "--port", str(taken_port))
    assert run.code == 2, run.output
    assert f"error: port {taken_port} on 127.0.0.1 is taken" in run
    no_traceback(run)
    assert not (tmp_path / "anvil-state.json").exists()  # refused before any chain was started


def test_chain_on_a_taken_port_says_so(taken_port: int, tmp_path: Path) -> None:
    for engine in ("anvil", "hardhat"):
        run = invoke("chain", "--engine", engine, "--port", str(taken_port), "--home", tmp_path)
        assert run.code == 2, run.output
        assert f"port {taken_port} on 127.0.0.1 is taken" in run
        no_traceback(run)


@pytest.mark.parametrize("command", [
    ["deploy", "--out", "{tmp}/m.json"],
    ["reindex", "--manifest", "{tmp}/m.json", "--database", "sqlite:///{tmp}/x.db"],
    ["export", "certificate", "0x" + "11" * 32, "--manifest", "{tmp}/m.json", "-o", "{tmp}/b.json"],
    ["audit", "--manifest", "{tmp}/m.json", "--api", "http://127.0.0.1:9"],
    ["up", "--port", "{port}", "--manifest", "{tmp}/m.json"],
])
def test_an_unreachable_chain_is_one_line(command: list[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    args = [a.format(tmp=tmp_path, port=_free_port()) for a in command]
    run = invoke(*args, "--rpc", url)
    assert run.code == 2, run.output
    assert f"the chain at {url} is unreachable" in run
    no_traceback(run)


def test_verify_against_an_unreachable_chain_is_exit_2(tmp_path: Path) -> None:
    bundle = tmp_path / "b.json"
    bundle.write_text("{}")
    url = f"http://127.0.0.1:{_free_port()}"
    run = invoke("verify", bundle, "--rpc", url)
    assert run.code == 2 and f"the chain at {url} is unreachable" in run, run.output


@pytest.mark.chain
def test_missing_files_and_malformed_manifests(on_world: World, tmp_path: Path) -> None:
    run = invoke("verify", tmp_path / "nope.json")
    assert run.code == 2 and f"no such file: {tmp_path / 'nope.json'}" in run, run.output
    run = invoke("reindex", "--rpc", RPC, "--manifest", tmp_path / "nope.json", "--database", "sqlite://")
    assert run.code == 2 and f"no manifest at {tmp_path / 'nope.json'}" in run, run.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1}')
    run = invoke("audit", "--rpc", RPC, "--manifest", bad, "--api", "http://127.0.0.1:9")
    assert run.code == 2 and "invalid manifest field" in run, run.output
    no_traceback(run)


@pytest.mark.chain
def test_a_manifest_of_another_deployment_is_refused(on_world: World, manifest_file: Path, tmp_path: Path) -> None:
    doc = json.loads(manifest_file.read_text())
    doc["chainId"] = 999
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    for args in (["reindex", "--database", f"sqlite:///{tmp_path}/i.db"], ["audit", "--api", "http://127.0.0.1:9"],
                 ["export", "certificate", "0x" + "11" * 32, "-o", tmp_path / "b.json"]):
        run = invoke(*args, "--rpc", RPC, "--manifest", other)
        assert run.code == 2, run.output
        assert f"the manifest {other} does not match the chain: chain id" in run
        assert "999" in run.output
        no_traceback(run)
    assert not (tmp_path / "b.json").exists()


def test_usage_errors(tmp_path: Path) -> None:
    run = invoke("up", "--manifest", tmp_path / "m.json")
    assert run.code == 2 and "--manifest goes with --rpc" in run, run.output
    run = invoke("export", "review", "3", "--rpc", "http://127.0.0.1:9", "--manifest", tmp_path / "m.json",
                 "-o", tmp_path / "b.json")
    assert run.code == 2 and "pass exactly one of --database URL or --api URL" in run, run.output
    run = invoke("export", "certificate", "0x1234", "--rpc", "http://127.0.0.1:9", "--manifest",
                 tmp_path / "m.json", "-o", tmp_path / "b.json")
    assert run.code == 2 and "certificate ID must be 0x followed by 64 hex digits" in run, run.output
    run = invoke("chain", "--engine", "geth")
    assert run.code == 2, run.output
