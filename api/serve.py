"""``make up``: the embedded default — a local chain with its state on disk, the contracts, and the API.

    python -m api.serve [--home .trustledger] [--port 8000] [--chain-port 8545] [--rpc URL --manifest FILE]

Without ``--rpc``: starts Anvil from ``hardhat-local/`` with ``--state`` (see :mod:`ledger.devnet`), deploys
on first start, and serves the API on 127.0.0.1 with the review log, checkpointer, relayer and indexer
running. The service's secrets for this local run (content and pseudonym keys, the API token) are generated
on first start into ``<home>/dev-secrets.json`` (mode 0600), never into the repository. With ``--rpc`` and
``--manifest`` it serves an existing chain, with settings from ``TRUSTLEDGER_*`` as in production.

Ctrl-C stops the API (writes already accepted stay in the database and are anchored on the next start), then
the chain, which writes its state for the next ``make up``.

The steps are functions so that ``trustledger up`` (:mod:`cli.up`) runs exactly what this module runs and
only prints differently: :func:`start_local` or :func:`attach` prepare a :class:`Stack`, :func:`open_ledger`
opens the service in the foreground (so that a bad manifest, key or database is one clear line, not a
traceback from inside the server's lifespan), :func:`run` serves until Ctrl-C, :func:`stop` releases it all.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3Exception

from ledger.devnet import DEFAULT_HOME, DevnetError, ensure_deployment, identities, start_anvil, stop_anvil
from ledger.errors import LedgerError
from ledger.manifest import Manifest, verify_against_chain
from ledger.service import Ledger

from .app import create_app
from .config import ApiSettings

__all__ = ["ChainUnreachable", "PortTaken", "ServeError", "Stack", "attach", "check_port", "dev_secrets",
           "main", "open_ledger", "run", "start_local", "stop"]

HOST = "127.0.0.1"


class ServeError(LedgerError):
    """The service cannot start for a reason its operator can fix; the message is the whole story."""


class PortTaken(ServeError):
    """The API's port on 127.0.0.1 is already bound by another process."""

    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(f"port {port} on {HOST} is taken: stop what uses it or pass --port")


class ChainUnreachable(ServeError):
    """The JSON-RPC endpoint did not answer ``eth_chainId``."""

    def __init__(self, rpc_url: str, problem: str) -> None:
        self.rpc_url = rpc_url
        super().__init__(f"the chain at {rpc_url} is unreachable ({problem})")


@dataclass
class Stack:
    """What ``up`` runs besides the HTTP server: what to print about it, and what to stop afterwards."""

    settings: ApiSettings
    rpc_url: str
    manifest: Manifest
    port: int
    home: Path | None = None
    """The state folder of a local chain started here; None when serving an existing chain."""
    identities: dict[str, str] = field(default_factory=dict)
    """Demo role -> private key (local chain only; the keys live in ``<home>/dev-keys.json``)."""
    chain: subprocess.Popen[bytes] | None = None
    ledger: Ledger | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def docs_url(self) -> str:
        return f"{self.api_url}/docs"

    def addresses(self) -> dict[str, str]:
        """Demo role -> address (no keys: those stay in the state folder)."""
        return {role: Account.from_key(key).address for role, key in self.identities.items()}


def check_port(port: int) -> None:
    """Raise :class:`PortTaken` when ``port`` on 127.0.0.1 cannot be bound; checked before anything starts, so
    that a second ``make up`` says so at once instead of after starting a chain it then has to stop."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise PortTaken(port) from None


def dev_secrets(home: Path) -> dict[str, str]:
    """The local run's content, pseudonym and custody keys and API token: generated once into ``home`` (mode
    0600); a secret added since (the custody key) is generated into an existing file."""
    path = home / "dev-secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {"content_key": lambda: "0x" + secrets.token_hex(32), "pseudonym_key": lambda: "0x" + secrets.token_hex(32),
              "custody_key": lambda: "0x" + secrets.token_hex(32), "api_token": lambda: secrets.token_urlsafe(32)}
    missing = [name for name in wanted if name not in values]
    if not missing:
        return values
    values.update({name: wanted[name]() for name in missing})
    path.write_text(json.dumps(values, indent=2) + "\n")
    os.chmod(path, 0o600)
    return values


def set_aside_stale_database(home: Path, manifest_before: bytes | None) -> Path | None:
    """After deploying in ``home``: when the deployment is not the one recorded before (``manifest_before``, the
    old ``deployment.json`` bytes; None: there was none), a ``trustledger.db`` left there belongs to other
    contracts (its index refuses to start, its reviews' receipts name another ReviewLog). Move it, with its
    ``-wal`` and ``-shm``, aside as ``trustledger.db.replaced-<unix time>`` and say so; returns where, or None
    when nothing was moved."""
    database = home / "trustledger.db"
    recorded = home / "deployment.json"
    now = recorded.read_bytes() if recorded.exists() else None
    if not database.exists() or (manifest_before is not None and manifest_before == now):
        return None
    target = home / f"trustledger.db.replaced-{int(time.time())}"
    for suffix in ("", "-wal", "-shm"):
        part = home / f"trustledger.db{suffix}"
        if part.exists():
            part.rename(Path(f"{target}{suffix}"))
    print(f"{home}: the contracts were deployed anew, so the database of the earlier deployment was moved to "
          f"{target.name}", file=sys.stderr)
    return target


def start_local(home: Path, port: int, chain_port: int) -> Stack:
    """Start Anvil with its state in ``home``, deploy on first start, and settle the local run's settings."""
    check_port(port)
    proc, w3 = start_anvil(home, chain_port)
    try:
        recorded = home / "deployment.json"
        before = recorded.read_bytes() if recorded.exists() else None
        manifest = ensure_deployment(w3, home)
        set_aside_stale_database(home, before)
        keys = identities(home)
        dev = dev_secrets(home)
        rpc_url = f"http://{HOST}:{chain_port}"
        settings = ApiSettings(
            rpc_url=rpc_url, manifest_path=home / "deployment.json",
            database_url=f"sqlite:///{home}/trustledger.db", operator_key=keys["operator"],
            relayer_key=keys["relayer"], order_signer_key=keys["order_signer"], content_key=dev["content_key"],
            pseudonym_key=dev["pseudonym_key"], custody_key=dev["custody_key"], api_token=dev["api_token"])
    except BaseException:
        stop_anvil(proc)
        raise
    return Stack(settings, rpc_url, manifest, port, home=home, identities=keys, chain=proc)


def attach(rpc_url: str, manifest_path: Path | None, port: int) -> Stack:
    """Serve an existing chain: settings from ``TRUSTLEDGER_*``, the manifest checked against the chain first.

    Raises :class:`PortTaken`, :class:`ChainUnreachable`, :class:`~ledger.manifest.InvalidManifest` or a
    :class:`~ledger.manifest.ManifestMismatch` naming what differs, before anything is started.
    """
    check_port(port)
    settings = ApiSettings(rpc_url=rpc_url) if manifest_path is None else \
        ApiSettings(rpc_url=rpc_url, manifest_path=manifest_path)
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    try:
        w3.eth.chain_id  # noqa: B018 - the probe
    except (OSError, Web3Exception, ValueError) as exc:
        raise ChainUnreachable(rpc_url, type(exc).__name__) from None
    try:
        manifest = Manifest.load(settings.manifest_path)
    except FileNotFoundError:
        raise ServeError(f"no manifest at {settings.manifest_path} (pass --manifest FILE)") from None
    verify_against_chain(manifest, w3)
    return Stack(settings, rpc_url, manifest, port)


def open_ledger(stack: Stack) -> Ledger:
    """Open the service (chain, manifest check, database, keys) before the server starts."""
    stack.ledger = Ledger.open(stack.settings, started_by_cli=stack.chain is not None)
    return stack.ledger


def run(stack: Stack) -> int:
    """Serve the API with every worker until Ctrl-C; 0 when it served, 1 when it never started."""
    ledger = stack.ledger if stack.ledger is not None else open_ledger(stack)
    app = create_app(stack.settings, ledger=ledger)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=stack.port, log_level="warning",
                                           access_log=False, lifespan="on"))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
        pass
    return 0 if server.started else 1


def stop(stack: Stack) -> None:
    """Close the service, then stop the chain started here (it writes its state for the next start)."""
    try:
        if stack.ledger is not None:
            stack.ledger.close()
            stack.ledger = None
    finally:
        if stack.chain is not None:
            stop_anvil(stack.chain)
            stack.chain = None


def _print(stack: Stack) -> None:
    if stack.home is not None:
        print(f"TrustLedger on a local Anvil chain (chain id {stack.manifest.chain_id}), state in {stack.home}")
    else:
        print(f"TrustLedger on chain {stack.manifest.chain_id}")
    print(f"  RPC                  {stack.rpc_url}")
    for name, address in stack.manifest.addresses.items():
        print(f"  {name:20} {address}")
    if stack.home is not None:
        print(f"  demo identities (keys in {stack.home / 'dev-keys.json'}):")
        for role, address in stack.addresses().items():
            print(f"    {role:18} {address}")
        print(f"  API token in {stack.home / 'dev-secrets.json'}")
    print(f"  API                  {stack.api_url}/v1/health   docs: {stack.docs_url}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m api.serve", description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=DEFAULT_HOME, help="state folder (default .trustledger/)")
    ap.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1")
    ap.add_argument("--chain-port", type=int, default=8545)
    ap.add_argument("--rpc", help="serve an existing chain instead (settings from TRUSTLEDGER_*)")
    ap.add_argument("--manifest", type=Path, help="with --rpc: the deployment manifest (else TRUSTLEDGER_MANIFEST_PATH)")
    args = ap.parse_args(argv)
    stack: Stack | None = None
    try:
        stack = attach(args.rpc, args.manifest, args.port) if args.rpc else \
            start_local(args.home, args.port, args.chain_port)
        open_ledger(stack)
        _print(stack)
        return run(stack)
    except (DevnetError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if stack is not None:
            stop(stack)


if __name__ == "__main__":
    raise SystemExit(main())
