"""``trustledger up`` (the embedded default) and ``trustledger chain`` (a dev chain alone).

``api.serve`` is imported where it is used: ``verify`` and ``audit`` should start fast and not need the web
stack at all.

``up`` runs exactly the steps of :mod:`api.serve` (``make up``); only the printing differs: Rich tables of the
URLs, the contracts and the demo identities.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer
from rich.table import Table
from web3 import Web3
from web3.exceptions import Web3Exception

from ledger.devnet import DEFAULT_HOME, REPO, start_anvil, stop_anvil

from ._common import CliError, console, fail, friendly_errors

if TYPE_CHECKING:
    from api import serve

__all__ = ["Engine", "chain", "up"]

Home = Annotated[Path, typer.Option(help="state folder: chain state, manifest, database, dev keys")]


def _show(stack: serve.Stack) -> None:
    where = f"local Anvil chain, state in {stack.home}" if stack.home is not None else f"chain at {stack.rpc_url}"
    table = Table(title=f"TrustLedger on chain {stack.manifest.chain_id} ({where})", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("API", stack.api_url)
    table.add_row("API docs", stack.docs_url)
    table.add_row("health", f"{stack.api_url}/v1/health")
    table.add_row("chain RPC", stack.rpc_url)
    for name, address in stack.manifest.addresses.items():
        table.add_row(name, address)
    if stack.home is not None:
        table.add_row("API token", f"in {stack.home / 'dev-secrets.json'}")
    console.print(table)
    if stack.identities:
        ids = Table(title=f"Demo identities (keys in {stack.home / 'dev-keys.json' if stack.home else '-'})",
                    title_justify="left")
        ids.add_column("role", style="bold")
        ids.add_column("address")
        for role, address in stack.addresses().items():
            ids.add_row(role, address)
        console.print(ids)
    console.print("Ctrl-C stops the API, then the chain (its state is kept for the next start).")
    console.file.flush()


def up(home: Home = DEFAULT_HOME,
       port: Annotated[int, typer.Option(help="API port on 127.0.0.1")] = 8000,
       chain_port: Annotated[int, typer.Option(help="port of the local chain started here")] = 8545,
       rpc: Annotated[str | None, typer.Option(help="serve an existing chain instead (no chain started)")] = None,
       manifest: Annotated[Path | None, typer.Option(help="with --rpc: its deployment manifest")] = None) -> None:
    """Start the local chain (state on disk), deploy on first start, and serve the API with its workers.

    With --rpc URL --manifest FILE, serve an existing chain (settings from TRUSTLEDGER_*) instead.
    """
    if manifest is not None and rpc is None:
        fail("--manifest goes with --rpc (a local chain uses the manifest in --home)")
    from api import serve  # here, not at the top: the other commands need neither FastAPI nor the routes
    stack: serve.Stack | None = None
    code = 0
    with friendly_errors():
        try:
            stack = serve.attach(rpc, manifest, port) if rpc else serve.start_local(home, port, chain_port)
            serve.open_ledger(stack)
            _show(stack)
            code = serve.run(stack)
        finally:
            if stack is not None:
                serve.stop(stack)
    if code:
        fail(f"the API did not start on port {port}", code)


class Engine(StrEnum):
    anvil = "anvil"
    hardhat = "hardhat"


class _Interrupts:
    """Ctrl-C and SIGTERM as a flag instead of an exception while a node runs: a KeyboardInterrupt raised
    while the node is starting (or while printing) would skip stopping it, and leave it running."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def wait(self, proc: subprocess.Popen[bytes]) -> None:
        """Block until interrupted; raise CliError when the node exits by itself."""
        while not self.event.wait(0.2):
            if proc.poll() is not None:
                raise CliError(f"the chain exited by itself with code {proc.returncode}")


def _start_hardhat(home: Path, port: int) -> tuple[subprocess.Popen[bytes], Web3]:
    from api.serve import check_port

    binary = REPO / "hardhat-local" / "node_modules" / ".bin" / "hardhat"
    if not binary.exists():
        raise CliError(f"Hardhat not found at {binary}: run `make deps` (npm ci in hardhat-local/)")
    check_port(port)
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "hardhat.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)],
                            cwd=REPO / "hardhat-local", stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"},
                            start_new_session=True)
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise CliError(f"hardhat exited with {proc.returncode}; see {home / 'hardhat.log'}")
        try:
            if w3.eth.chain_id:
                return proc, w3
        except (OSError, Web3Exception):
            if time.monotonic() > deadline:
                _stop_hardhat(proc)
                raise CliError(f"hardhat did not answer on port {port} within 60 s") from None
            time.sleep(0.2)


def _stop_hardhat(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def chain(engine: Annotated[Engine, typer.Option(help="anvil keeps its state on disk; hardhat keeps none")]
          = Engine.anvil,
          port: Annotated[int, typer.Option(help="JSON-RPC port on 127.0.0.1")] = 8545,
          home: Home = DEFAULT_HOME) -> None:
    """Run a local development chain in the foreground until Ctrl-C (deploy onto it with `trustledger deploy`).

    Anvil keeps its state in --home (--state, written every second and on Ctrl-C), so the chain survives a
    restart. Hardhat 2 has no such option: its chain starts empty every time.
    """
    with friendly_errors(), _Interrupts() as interrupts:
        if engine is Engine.anvil:
            proc, w3 = start_anvil(home, port)
            note = f"state in {home / 'anvil-state.json'} (kept across restarts; a kill loses at most 1 s)"
        else:
            proc, w3 = _start_hardhat(home, port)
            note = "Hardhat keeps no state: this chain starts empty and is gone when it stops"
        try:
            console.print(f"[bold]{engine.value}[/] chain {w3.eth.chain_id} at http://127.0.0.1:{port}, block "
                          f"{w3.eth.block_number}")
            console.print(note)
            console.print("Ctrl-C stops it.")
            console.file.flush()
            interrupts.wait(proc)
        finally:
            if engine is Engine.hardhat:
                _stop_hardhat(proc)
            elif proc.poll() is None:
                stop_anvil(proc)
