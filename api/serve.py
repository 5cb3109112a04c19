"""``make up``: the embedded default — a local chain with its state on disk, the contracts, and the API.

    python -m api.serve [--home .trustledger] [--port 8000] [--chain-port 8545] [--rpc URL --manifest FILE]

Without ``--rpc``: starts Anvil from ``hardhat-local/`` with ``--state`` (see :mod:`ledger.devnet`), deploys
on first start, and serves the API on 127.0.0.1 with the review log, checkpointer, relayer and indexer
running. The service's secrets for this local run (content and pseudonym keys, the API token) are generated
on first start into ``<home>/dev-secrets.json`` (mode 0600), never into the repository. With ``--rpc`` and
``--manifest`` it serves an existing chain, with settings from ``TRUSTLEDGER_*`` as in production.

Ctrl-C stops the API (writes already accepted stay in the database and are anchored on the next start), then
the chain, which writes its state for the next ``make up``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import uvicorn
from eth_account import Account

from ledger.devnet import DEFAULT_HOME, DevnetError, ensure_deployment, identities, start_anvil, stop_anvil
from ledger.errors import LedgerError

from .app import create_app
from .config import ApiSettings

__all__ = ["main"]


def _secrets(home: Path) -> dict[str, str]:
    path = home / "dev-secrets.json"
    if path.exists():
        values: dict[str, str] = json.loads(path.read_text())
        return values
    values = {"content_key": "0x" + secrets.token_hex(32), "pseudonym_key": "0x" + secrets.token_hex(32),
              "api_token": secrets.token_urlsafe(32)}
    path.write_text(json.dumps(values, indent=2) + "\n")
    os.chmod(path, 0o600)
    return values


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m api.serve", description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=DEFAULT_HOME, help="state folder (default .trustledger/)")
    ap.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1")
    ap.add_argument("--chain-port", type=int, default=8545)
    ap.add_argument("--rpc", help="serve an existing chain instead (settings from TRUSTLEDGER_*)")
    args = ap.parse_args(argv)
    if _port_taken(args.port):
        print(f"error: port {args.port} on 127.0.0.1 is taken: stop what uses it or pass --port", file=sys.stderr)
        return 1
    proc: subprocess.Popen[bytes] | None = None
    try:
        if args.rpc:
            settings = ApiSettings(rpc_url=args.rpc)
        else:
            proc, w3 = start_anvil(args.home, args.chain_port)
            manifest = ensure_deployment(w3, args.home)
            keys = identities(args.home)
            dev = _secrets(args.home)
            settings = ApiSettings(
                rpc_url=f"http://127.0.0.1:{args.chain_port}", manifest_path=args.home / "deployment.json",
                database_url=f"sqlite:///{args.home}/trustledger.db", operator_key=keys["operator"],
                relayer_key=keys["relayer"], order_signer_key=keys["order_signer"], content_key=dev["content_key"],
                pseudonym_key=dev["pseudonym_key"], api_token=dev["api_token"])
            print(f"TrustLedger on a local Anvil chain (chain id {manifest.chain_id}), state in {args.home}")
            print(f"  RPC                  http://127.0.0.1:{args.chain_port}")
            for name, address in manifest.addresses.items():
                print(f"  {name:20} {address}")
            print(f"  demo identities (keys in {args.home / 'dev-keys.json'}):")
            for role, key in keys.items():
                print(f"    {role:18} {Account.from_key(key).address}")
            print(f"  API token in {args.home / 'dev-secrets.json'}")
        print(f"  API                  http://127.0.0.1:{args.port}/v1/health   docs: http://127.0.0.1:{args.port}/docs",
              flush=True)
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning",
                                               access_log=False, lifespan="on"))
        try:
            server.run()
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
            pass
        return 0 if server.started else 1
    except (DevnetError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            stop_anvil(proc)


if __name__ == "__main__":
    raise SystemExit(main())
