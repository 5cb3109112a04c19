"""``trustledger mirror``: keep a full, verified copy of the review log, refusing a server that equivocates.

The checkpoints are the chain's (every ``CheckpointAnchored`` event of the manifest's ReviewLog, read as
``audit`` reads them); the service is asked only for leaves (``GET /v1/log/leaves``), and ``ledger.mirror``
stores them in ``--out`` only once they reproduce an anchored root. So the copy outlives the operator: it can
be re-proved against the chain, and re-served, without the service (docs/mirror.md).

Exit 0 when the mirror holds every anchored checkpoint; 1 when the service served leaves that do not
reproduce one (naming the checkpoint and the leaf range; the mirror keeps what it had verified); 2 when the
chain, the service or the mirror file could not be used. With ``--follow`` a service or chain that does not
answer is reported and retried at the next round; an equivocation still ends the command with 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from web3 import Web3
from web3.exceptions import Web3Exception

from ledger.errors import LedgerError
from ledger.manifest import Manifest
from ledger.mirror import Equivocation, HttpLeafSource, LeafSourceError, LogMirror, SyncReport

from . import _common
from ._chainlog import anchored_checkpoints
from ._common import EXIT_FAILED, console, err_console, fail, friendly_errors

__all__ = ["client", "mirror"]

_sleep = time.sleep
"""A seam: the tests end ``--follow`` by making the pause raise KeyboardInterrupt."""


def client(api: str) -> httpx.Client:
    """The HTTP client of the service mirrored (a seam: the tests serve doctored leaves through it)."""
    return httpx.Client(base_url=api.rstrip("/"), timeout=60)


def log_id(manifest: Manifest) -> str:
    """The name a mirror file is bound to (CAIP-10 style), so that one log's file is never extended with
    another's leaves: a mirror opened for another chain or ReviewLog is refused."""
    return f"eip155:{manifest.chain_id}:{manifest.address('ReviewLog')}"


@contextmanager
def _progress() -> Iterator[Progress]:
    """A progress bar on stderr (stdout keeps only the result, for scripts)."""
    with Progress(TextColumn("fetching and verifying leaves"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as progress:
        yield progress


def _round(w3: Web3, deployment: Manifest, copy: LogMirror, http: httpx.Client) -> SyncReport:
    """One sync: the chain's checkpoints now, the leaves they cover beyond what the mirror holds."""
    checkpoints = anchored_checkpoints(w3, deployment)
    with _progress() as progress:
        task = progress.add_task("leaves", total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return copy.sync(HttpLeafSource(http), checkpoints, progress=show)


def _print(out: Path, report: SyncReport, copy: LogMirror) -> None:
    latest = copy.checkpoints()[-1] if report.size else None
    where = f"checkpoint {latest.index}" if latest else "no checkpoint anchored yet"
    console.print(f"[bold green]VERIFIED[/]: {out} holds {report.size} leaves ({where}), root "
                  f"0x{report.root.hex()}; {report.leaves_added} new, {len(report.verified)} checkpoints "
                  f"verified now")


def _refuse(exc: Equivocation, copy: LogMirror) -> None:
    fail(f"EQUIVOCATION: {exc}. The mirror keeps its {copy.size} verified leaves (root "
         f"0x{copy.root.hex()}) and nothing of checkpoint {exc.checkpoint_index}", EXIT_FAILED)


def mirror(rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain (the source of checkpoints)")],
           manifest: Annotated[Path, typer.Option(help="the deployment manifest")],
           api: Annotated[str, typer.Option(help="the service whose leaves are mirrored")],
           out: Annotated[Path, typer.Option(help="the mirror's SQLite file (created, or resumed)")],
           follow: Annotated[float | None, typer.Option(
               min=0.1, metavar="SECONDS", help="keep following: sync again every SECONDS")] = None) -> None:
    """Copy every anchored leaf of the review log into OUT, verified against the chain; exit 1 on
    equivocation."""
    with friendly_errors():
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        with LogMirror(out, log_id=log_id(deployment)) as copy, client(api) as http:
            try:
                _print(out, _round(w3, deployment, copy, http), copy)
            except Equivocation as exc:
                _refuse(exc, copy)
            while follow is not None:
                try:
                    _sleep(follow)
                except KeyboardInterrupt:
                    console.print(f"stopped; {out} holds {copy.size} verified leaves")
                    return
                try:
                    report = _round(w3, deployment, copy, http)
                except Equivocation as exc:
                    _refuse(exc, copy)
                except (LeafSourceError, httpx.HTTPError, Web3Exception, OSError) as exc:
                    if isinstance(exc, LedgerError) and not isinstance(exc, LeafSourceError):
                        raise  # the mirror file itself failed: not something a later round fixes
                    err_console.print(f"[yellow]warning:[/] {type(exc).__name__}: {exc}; retrying in "
                                      f"{follow} s", soft_wrap=True)
                    continue
                if report.verified:  # quiet while nothing new is anchored
                    _print(out, report, copy)
