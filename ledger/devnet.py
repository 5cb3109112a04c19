"""The embedded default: a local Anvil chain with its state on disk, and TrustLedger deployed on it.

``python -m ledger.devnet up`` starts Anvil from ``hardhat-local/`` on 127.0.0.1 with ``--state`` (the chain
survives Ctrl-C and restarts; ``--state-interval`` bounds what a kill can lose), deploys the contract set on
first start, writes the deployment manifest, prints the addresses and the demo identities, and runs until
interrupted. On a restart it finds the manifest, verifies it against the chain (chain id, deploy block hash,
the code at each address and the shipped bytecode: :func:`ledger.manifest.verify_against_chain`), and deploys
nothing.

The demo identities are keys generated on first start and kept in the state folder (never in the
repository); they are funded from Anvil's unlocked development account, which never leaves the node.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import Wei

from .chain import Transactor
from .deploy import Deployment, deploy
from .errors import LedgerError
from .manifest import InvalidManifest, Manifest, ManifestMismatch, verify_against_chain

REPO = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO / ".trustledger"
ROLES = ("admin", "governor", "operator", "relayer", "issuer", "merchant", "order_signer", "arbitrator")


class DevnetError(LedgerError):
    """The local chain could not be started or does not match its manifest."""


def _anvil_binary() -> Path:
    """The platform's Anvil binary inside ``@foundry-rs/anvil``, else npm's wrapper script, which spawns it as a
    child: stopping the wrapper returns before that child has written its state file, so the binary is preferred."""
    modules = REPO / "hardhat-local" / "node_modules"
    for binary in sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")):
        if os.access(binary, os.X_OK):
            return binary
    path = modules / ".bin" / "anvil"
    if not path.exists():
        raise DevnetError(f"Anvil not found at {path}: run `make deps` (npm ci in hardhat-local/)")
    return path


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_anvil(home: Path, port: int, state_interval: int = 1) -> tuple[subprocess.Popen[bytes], Web3]:
    """Start Anvil with its state in ``home``; return the process and a connected Web3."""
    if not _port_free("127.0.0.1", port):
        raise DevnetError(f"port {port} on 127.0.0.1 is taken: stop what uses it or pass --port")
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "anvil.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(_anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "31337",
         "--hardfork", "cancun", "--state", str(home / "anvil-state.json"),
         "--state-interval", str(state_interval)],
        stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: npm's wrapper spawns the real anvil binary
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise DevnetError(f"anvil exited with {proc.returncode}; see {home / 'anvil.log'}")
        try:
            if w3.eth.chain_id:
                return proc, w3
        except (OSError, Web3Exception):
            if time.monotonic() > deadline:
                proc.terminate()
                raise DevnetError(f"anvil did not answer on port {port} within 30 s") from None
            time.sleep(0.1)


def stop_anvil(proc: subprocess.Popen[bytes]) -> None:
    """Stop an Anvil started by :func:`start_anvil`: SIGINT (it writes its state), SIGKILL after 15 s."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    wait_group_exit(proc.pid)


def wait_group_exit(pgid: int, timeout: float = 15) -> None:
    """Wait until no process of group ``pgid`` is left (a child still writing its state, say); SIGKILL the
    group after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() > deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
        time.sleep(0.02)


def identities(home: Path) -> dict[str, str]:
    path = home / "dev-keys.json"
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        return keys
    keys = {role: "0x" + secrets.token_hex(32) for role in ROLES}
    path.write_text(json.dumps(keys, indent=2) + "\n")
    os.chmod(path, 0o600)
    return keys


def ensure_deployment(w3: Web3, home: Path) -> Manifest:
    """Reuse the deployment recorded in ``home/deployment.json`` if the chain has it; else deploy."""
    manifest_path = home / "deployment.json"
    keys = identities(home)
    if manifest_path.exists():
        try:
            manifest = Manifest.load(manifest_path)
            verify_against_chain(manifest, w3)
            return manifest
        except (InvalidManifest, ManifestMismatch) as exc:
            print(f"{manifest_path} does not fit this chain ({exc}): deploying anew", file=sys.stderr)
    funder = w3.eth.accounts[0]
    for key in keys.values():
        address = Account.from_key(key).address
        if w3.eth.get_balance(address) < 10**18:
            w3.eth.wait_for_transaction_receipt(
                w3.eth.send_transaction({"from": funder, "to": address, "value": Wei(100 * 10**18)}),
                poll_latency=0.002,
            )
    tx = {role: Transactor(w3, key) for role, key in keys.items()}
    d: Deployment = deploy(w3, tx["admin"], governor=tx["governor"].address, log_operator=tx["operator"].address)
    g = d.governance.functions
    now = int(w3.eth.get_block("latest")["timestamp"])
    tx["governor"].send(g.accreditIssuer(tx["issuer"].address, now - 60, now + 365 * 86400,
                                         [Web3.keccak(text="std:GB/T 19001-2016")]))
    tx["governor"].send(g.admitMerchant(tx["merchant"].address, Web3.keccak(text="licence:demo-merchant")))
    tx["governor"].send(g.appointArbitrator(tx["arbitrator"].address))
    tx["governor"].send(g.setOrderSigner(tx["order_signer"].address))
    manifest = Manifest.from_deployment(w3, d)
    manifest.write(manifest_path)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.devnet", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "reset"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="state folder (default .trustledger/)")
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--once", action="store_true", help="deploy, print, and stop (for scripts and tests)")
    args = parser.parse_args(argv)
    if args.command == "reset":
        shutil.rmtree(args.home, ignore_errors=True)
        print(f"removed {args.home}")
        return 0
    try:
        proc, w3 = start_anvil(args.home, args.port)
    except DevnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        manifest = ensure_deployment(w3, args.home)
        print(f"TrustLedger on a local Anvil chain (chain id {manifest.chain_id}), state in {args.home}")
        print(f"  RPC                  http://127.0.0.1:{args.port}")
        for name, address in manifest.addresses.items():
            print(f"  {name:20} {address}")
        keys = identities(args.home)
        print("  demo identities (keys in " + str(args.home / "dev-keys.json") + "):")
        for role, key in keys.items():
            print(f"    {role:18} {Account.from_key(key).address}")
        if args.once:
            return 0
        print("Ctrl-C stops the chain; its state is kept for the next `make up`.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except DevnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_anvil(proc)


if __name__ == "__main__":
    raise SystemExit(main())
