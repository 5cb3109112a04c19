"""The CLI against real nodes: `trustledger up` (Anvil, the deployment, the API and its workers) and then the
other commands against that chain and service; `trustledger chain` keeping Anvil's state across Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from ..node.test_live_service import _issue_certificate, _review
from .conftest import invoke, no_traceback

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *map(str, args)], cwd=REPO, text=True,
                            env={**os.environ, "COLUMNS": "200", **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def _interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out, err


def _wait(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.2)


def test_up_then_every_command_against_its_chain_and_service(tmp_path: Path) -> None:
    home, port, chain_port = tmp_path / "home", _free_port(), _free_port()
    api, rpc = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{chain_port}"
    proc = _cli("up", "--home", home, "--port", str(port), "--chain-port", str(chain_port),
                env={"TRUSTLEDGER_MAX_MERGE_DELAY": "3", "TRUSTLEDGER_INDEX_INTERVAL": "0.2"})
    try:
        _wait(lambda: proc.poll() is None and httpx.get(f"{api}/v1/health", timeout=2).status_code == 200,
              "trustledger up answers", 90)
        manifest = home / "deployment.json"
        accepted = _review(home, api, "order-cli-1")
        certificate = _issue_certificate(home, api)
        _wait(lambda: httpx.get(f"{api}/v1/reviews/{accepted['leafIndex']}").json()["inclusion"]["status"]
              == "anchored", "the review is anchored")

        audit = invoke("audit", "--rpc", rpc, "--manifest", manifest, "--api", api)
        assert audit.code == 0 and "CONSISTENT" in audit, audit.output

        for source in (["--api", api], ["--database", f"sqlite:///{home}/trustledger.db"]):
            out = tmp_path / f"review-{source[0][2:]}.json"
            export = invoke("export", "review", str(accepted["leafIndex"]), "--rpc", rpc, "--manifest", manifest,
                            *source, "-o", out)
            assert export.code == 0, export.output
            checked = invoke("verify", out, "--rpc", rpc, "--manifest", manifest)
            assert checked.code == 0 and "VALID review" in checked and "review.included" in checked, checked.output
        cert_out = tmp_path / "certificate.json"
        assert invoke("export", "certificate", certificate, "--rpc", rpc, "--manifest", manifest, "--api", api,
                      "-o", cert_out).code == 0
        assert invoke("verify", cert_out, "--rpc", rpc).code == 0

        reindexed = invoke("reindex", "--rpc", rpc, "--manifest", manifest, "--database",
                           f"sqlite:///{tmp_path}/re.db")
        assert reindexed.code == 0 and "checkpoints in the index" in reindexed, reindexed.output
        again = invoke("deploy", "--rpc", rpc, "--out", manifest, "--home", home)
        assert again.code == 0 and "already deployed" in again, again.output

        doc = json.loads(manifest.read_text())
        doc["deployBlockHash"] = "0x" + "00" * 32
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps(doc))
        refused = invoke("up", "--rpc", rpc, "--manifest", wrong, "--port", str(_free_port()))
        assert refused.code == 2 and "hash of deploy block" in refused, refused.output
        no_traceback(refused)
    finally:
        out, err = _interrupt(proc)
    assert api in out and f"{api}/docs" in out and rpc in out, out
    # not checked: a traceback on stderr from the service's receipt-signing process, which gets the Ctrl-C too
    # (ledger.reviewlog's pool worker does not ignore SIGINT); the CLI's own messages are checked here
    assert "error:" not in err, err
    assert "Demo identities" in out and "merchant" in out
    for role, key in json.loads((home / "dev-keys.json").read_text()).items():
        from eth_account import Account
        assert Account.from_key(key).address in out, role


def test_chain_keeps_anvils_state_across_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    rpc = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": 5}))
    for attempt in range(2):
        proc = _cli("chain", "--engine", "anvil", "--port", str(port), "--home", tmp_path)
        try:
            _wait(lambda: w3.eth.chain_id == 31337, "anvil answers", 30)
            if attempt == 0:
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                mined = w3.eth.block_number
            else:
                assert w3.eth.block_number == mined
        finally:
            out, _ = _interrupt(proc)
        assert "kept across restarts" in " ".join(out.split()), out
        assert (tmp_path / "anvil-state.json").exists()
