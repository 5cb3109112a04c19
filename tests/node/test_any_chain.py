"""Any EVM chain over plain JSON-RPC (issue #8, docs/deploy.md): the service attached with ``--rpc`` and a
manifest to a node that mines on an interval, as a production network does (Besu QBFT, an L2), with a
confirmation depth above zero. Anvil and a Hardhat 2 node stand in for the network.

A review's receipt comes back at once and the review is anchored by the checkpointer within the MMD; a relayed
write is answered confirmed only once ``confirmation_depth`` blocks sit on top of it; the indexer never reads
past the head minus that depth, and a certificate appears in the index only then.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from api.serve import dev_secrets
from ledger.devnet import ensure_deployment, identities, start_anvil, stop_anvil
from ledger.merkle import verify_inclusion

from ..devchain import NodeChain
from .test_live_service import _free_port, _review, issue_certificate, serve

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
DEPTH = 2
MMD = 12


def _node(kind: str, home: Path) -> tuple[Any, Web3, str]:
    """A node of ``kind`` with TrustLedger deployed on it, from then on mining one block a second (no
    automine); (handle, web3, rpc url). The deployment itself is mined at once: it is not what is tested."""
    if kind == "anvil":
        proc, w3 = start_anvil(home, _free_port())
        handle: Any = proc
    else:
        handle = NodeChain("hardhat")
        w3 = handle.w3
    try:
        ensure_deployment(w3, home)
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        # the interval: Anvil takes seconds, Hardhat milliseconds
        w3.provider.make_request("evm_setIntervalMining", [1 if kind == "anvil" else 1000])  # type: ignore[arg-type]
    except BaseException:
        _close(kind, handle)
        raise
    return handle, w3, str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]


def _close(kind: str, handle: Any) -> None:
    if kind == "anvil":
        stop_anvil(handle)
    else:
        handle.close()


def _serve(home: Path, rpc: str, port: int) -> subprocess.Popen[str]:
    keys, secrets = identities(home), dev_secrets(home)
    env = {**os.environ, "TRUSTLEDGER_CONFIRMATION_DEPTH": str(DEPTH), "TRUSTLEDGER_MAX_MERGE_DELAY": str(MMD),
           "TRUSTLEDGER_INDEX_INTERVAL": "0.2", "TRUSTLEDGER_DATABASE_URL": f"sqlite:///{home}/service.db",
           "TRUSTLEDGER_OPERATOR_KEY": keys["operator"], "TRUSTLEDGER_RELAYER_KEY": keys["relayer"],
           "TRUSTLEDGER_ORDER_SIGNER_KEY": keys["order_signer"], "TRUSTLEDGER_CONTENT_KEY": secrets["content_key"],
           "TRUSTLEDGER_PSEUDONYM_KEY": secrets["pseudonym_key"], "TRUSTLEDGER_API_TOKEN": secrets["api_token"]}
    return serve(["--rpc", rpc, "--manifest", str(home / "deployment.json"), "--port", str(port)], env, port)


@pytest.mark.parametrize("kind", ["anvil", "hardhat"])
def test_interval_mining_and_confirmation_depth(tmp_path: Path, kind: str) -> None:
    home = tmp_path / "network"
    home.mkdir()
    handle, w3, rpc = _node(kind, home)
    service = None
    try:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        service = _serve(home, rpc, port)

        receipt = _review(home, base, f"any-chain-{kind}")
        index = int(receipt["leafIndex"])
        deadline = time.monotonic() + MMD + 10
        while True:
            review = httpx.get(f"{base}/v1/reviews/{index}").json()
            if review["inclusion"]["status"] == "anchored" or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        inclusion = review["inclusion"]
        assert inclusion["status"] == "anchored", review
        checkpoint = inclusion["checkpoint"]
        verify_inclusion(index, checkpoint["treeSize"], bytes.fromhex(review["leafHash"][2:]),
                         [bytes.fromhex(p[2:]) for p in inclusion["proof"]], bytes.fromhex(checkpoint["rootHash"][2:]))
        assert review["leafHash"] == receipt["leafHash"]

        written = issue_certificate(home, base, wait=30)  # answered 200 only once DEPTH blocks are on top
        head = int(w3.eth.block_number)
        assert written["status"] == "confirmed" and head - int(written["blockNumber"]) >= DEPTH, (written, head)
        cid = written["certificateIds"][0]
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/v1/certificates/{cid}").status_code != 200:
            assert time.monotonic() < deadline, "the certificate was never indexed"
            time.sleep(0.2)
        cursor = httpx.get(f"{base}/v1/health").json()["index"]["cursor"]
        assert cursor <= int(w3.eth.block_number) - DEPTH  # the indexer never reads past head - depth
    finally:
        if service is not None:
            os.killpg(service.pid, signal.SIGINT)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
        _close(kind, handle)
