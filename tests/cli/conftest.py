"""Fixtures of the CLI tests: a runner with wide consoles, and the commands' chain pointed at the test chain.

The commands take ``--rpc URL``; on the in-process py-evm chain there is no URL, so :func:`on_world` replaces
``cli._common.connect`` (the one place every command turns a URL into a Web3) with one that answers the
session chain's Web3 for :data:`RPC` and refuses any other URL, as an unreachable chain would be refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from web3 import Web3

from cli import _common
from cli.main import app
from ledger.manifest import Manifest

from ..conftest import World

RPC = "http://test-chain.invalid:8545"


@dataclass
class Run:
    """The result of one command: its exit code and its output (stdout and stderr, whitespace collapsed)."""

    code: int
    output: str
    raw: Any

    def __contains__(self, text: str) -> bool:
        return " ".join(text.split()) in self.output


def invoke(*args: str | Path) -> Run:
    result = CliRunner().invoke(app, [str(a) for a in args])
    output = " ".join(result.output.split())
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"trustledger {' '.join(map(str, args))} raised {result.exception!r}\n{result.output}") \
            from result.exception
    return Run(result.exit_code, output, result)


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Wide consoles, so that messages are not wrapped mid-word (the assertions match phrases)."""
    saved = (_common.console.width, _common.err_console.width)
    _common.console.width = _common.err_console.width = 400
    try:
        yield
    finally:
        _common.console.width, _common.err_console.width = saved


@pytest.fixture
def on_world(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    real = _common.connect

    def connect(rpc_url: str, *, timeout: float = 30) -> Web3:
        if rpc_url == RPC:
            return world.w3  # type: ignore[no-any-return]
        return real(rpc_url, timeout=timeout)

    monkeypatch.setattr(_common, "connect", connect)
    return world


@pytest.fixture
def manifest_file(on_world: World, tmp_path: Path) -> Path:
    """The world's deployment manifest, as the deployer would have written it."""
    path = tmp_path / "manifest.json"
    Manifest.from_deployment(on_world.w3, on_world.d).write(path)
    return path


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.output and not re.search(r"\bFile \"", run.output), run.output
