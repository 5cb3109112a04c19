"""What every command shares: the consoles, the exit codes, and one-line errors instead of tracebacks.

Exit codes (docs/cli.md): 0 success; 1 a verification failed (``verify``: the bundle is invalid; ``audit``: the
log is inconsistent); 2 the command could not do its work — bad usage, a file missing or malformed, a port
taken, the chain or the service unreachable, a manifest that does not match the chain. A script can thus tell
"checked, and it is bad" (1) from "could not check" (2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import typer
from rich.console import Console
from web3 import Web3
from web3.exceptions import Web3Exception

from ledger.errors import LedgerError
from ledger.manifest import InvalidManifest, Manifest, ManifestMismatch, verify_against_chain

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNUSABLE", "CliError", "connect", "console", "err_console", "fail",
           "friendly_errors", "load_manifest", "read_json_file", "short_hex", "write_file"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(LedgerError):
    """A command cannot do its work; the message is the one line the user sees, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_UNUSABLE) -> None:
        self.code = code
        super().__init__(message)


def fail(message: str, code: int = EXIT_UNUSABLE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line and exit code 2 (or the error's own code).

    Anything else is a bug and keeps its traceback, which is what a bug report needs.
    """
    try:
        yield
    except CliError as exc:
        fail(str(exc), exc.code)
    except ManifestMismatch as exc:
        fail(f"the manifest does not match the chain: {exc}")
    except LedgerError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"the service did not answer: {type(exc).__name__}: {exc}")
    except (OSError, Web3Exception) as exc:  # requests' ConnectionError and Timeout are OSErrors
        fail(f"{type(exc).__name__}: {exc}")


def connect(rpc_url: str, *, timeout: float = 30) -> Web3:
    """A Web3 on ``rpc_url`` that has answered ``eth_chainId``: an unreachable chain is a clear CliError here,
    not a ``ConnectionError`` traceback from deep inside the first real call."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - the probe
    except (OSError, Web3Exception, ValueError) as exc:
        raise CliError(f"the chain at {rpc_url} is unreachable ({type(exc).__name__})") from None
    return w3


def load_manifest(path: Path, w3: Web3 | None = None) -> Manifest:
    """The manifest at ``path``, checked against the chain behind ``w3`` when given (every command that reads
    contracts does, so that addresses from another chain or a reset one are refused up front)."""
    try:
        manifest = Manifest.load(path)
    except FileNotFoundError:
        raise CliError(f"no manifest at {path}") from None
    except InvalidManifest as exc:
        raise CliError(str(exc)) from None
    if w3 is not None:
        try:
            verify_against_chain(manifest, w3)
        except ManifestMismatch as exc:
            raise CliError(f"the manifest {path} does not match the chain: {exc}") from None
    return manifest


def read_json_file(path: Path) -> bytes:
    """The bytes of ``path`` (a bundle), or a CliError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (``-`` is stdout), or raise a CliError saying why not."""
    if str(path) == "-":
        console.file.write(data.decode())
        return
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def short_hex(value: bytes | str, keep: int = 10) -> str:
    """``0x1234abcd…9f`` for tables; full values go to files and JSON output."""
    text = value if isinstance(value, str) else "0x" + value.hex()
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep + 2:]}"
