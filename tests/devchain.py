"""Test chains: the in-process py-evm chain (eth-tester) and a live Hardhat 2 or Anvil node.

Both are driven through one small interface so that every chain-backed suite runs unchanged on either:
``pytest`` uses py-evm; ``pytest --chain=hardhat`` (or ``anvil``) starts a node on a free loopback port
for the session and stops it at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from web3 import Web3

REPO = Path(__file__).resolve().parent.parent
HARDHAT_LOCAL = REPO / "hardhat-local"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevChain:
    """A local development chain with time travel and snapshots."""

    kind: str
    w3: Web3

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def next_time(self) -> int:
        """Timestamp the next block would carry now: after a snapshot revert, the wall clock, which may be far
        past the latest block's."""
        return int(self.w3.eth.get_block("pending")["timestamp"])

    def mine(self) -> None:
        """Mine one empty block."""
        raise NotImplementedError

    def catch_up(self, slack: int = 30) -> None:
        """Mine an empty block when the next one would be stamped more than ``slack`` seconds after the latest.

        A test that reads ``now()`` and signs a deadline or a validity window relative to it assumes the next
        block is close to the latest; after a revert to a snapshot taken minutes earlier (a long session, a
        slow CI machine) it is not, and a deadline of ``now() + 600`` would already be past.
        """
        if self.next_time() - self.now() > slack:
            self.mine()

    def fund(self, address: str, wei: int) -> None:
        tx = self.w3.eth.send_transaction({"from": self.w3.eth.accounts[0], "to": address, "value": wei})
        self.w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.002)

    def increase_time(self, seconds: int) -> None:
        """Mine one block `seconds` after the latest one."""
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def revert(self, snapshot_id: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class EthTesterChain(DevChain):
    """In-process py-evm chain."""

    kind = "eth-tester"

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider

        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))

    def increase_time(self, seconds: int) -> None:
        # py-evm stamps the pending block with the wall clock when that is later than the latest block, and
        # refuses to travel back: never aim below the pending block's time.
        pending = int(self.tester.get_block_by_number("pending")["timestamp"])
        self.tester.time_travel(max(self.now() + seconds, pending))
        self.tester.mine_blocks(1)

    def mine(self) -> None:
        self.tester.mine_blocks(1)

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self.tester.revert_to_snapshot(snapshot_id)


class NodeChain(DevChain):
    """A Hardhat 2 node or Anvil, started on a free loopback port for the test session."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        port = _free_port()
        if kind == "hardhat":
            cmd = [str(HARDHAT_LOCAL / "node_modules" / ".bin" / "hardhat"), "node", "--hostname", "127.0.0.1",
                   "--port", str(port)]
        elif kind == "anvil":
            cmd = [str(HARDHAT_LOCAL / "node_modules" / ".bin" / "anvil"), "--host", "127.0.0.1", "--port",
                   str(port), "--silent", "--hardfork", "cancun"]
        else:
            raise ValueError(kind)
        self.process = subprocess.Popen(
            cmd, cwd=HARDHAT_LOCAL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"},
            start_new_session=True,  # its own process group: npm's anvil wrapper spawns the real binary
        )
        self.w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 60}))
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"{kind} node exited with {self.process.returncode}: {err[-2000:]}")
            try:
                if self.w3.eth.chain_id == 31337:
                    break
            except (OSError, ValueError):  # not listening yet (connection refused), or not answering JSON-RPC
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{kind} node did not answer on port {port} within 60 s")
            time.sleep(0.1)

    def increase_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [self.now() + seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def mine(self) -> None:
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def snapshot(self) -> Any:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot_id: Any) -> None:
        result = self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        if result.get("result") is not True:
            raise RuntimeError(f"evm_revert({snapshot_id}) failed: {result}")

    def close(self) -> None:
        """Stop the node and every process it spawned."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start(kind: str) -> DevChain:
    if kind == "eth-tester":
        return EthTesterChain()
    return NodeChain(kind)
