"""``trustledger reindex``: rebuild the SQL index from the deploy block, with a progress bar.

:meth:`ledger.indexer.Indexer.sync` takes an upper block; the rebuild calls it for successive slices of the
chain so that the bar can move (blocks done out of blocks to index). Each slice is the indexer's own atomic,
reorg-checked sync, so an interrupted reindex resumes where it stopped with ``--resume``, and the result
equals :meth:`~ledger.indexer.Indexer.rebuild` (the tests compare the two).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.indexer import Indexer
from ledger.storage import Database

from . import _common
from ._common import CliError, console, friendly_errors

__all__ = ["reindex"]


def _open_database(url: str) -> Database:
    try:
        db = Database(url)
        db.migrate()
    except Exception as exc:  # noqa: BLE001 - a URL SQLAlchemy refuses, a server that does not answer
        raise CliError(f"cannot open the database {_masked(url)}: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return db


def _masked(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def reindex(rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain")],
            manifest: Annotated[Path, typer.Option(help="the deployment manifest")],
            database: Annotated[str, typer.Option(help="SQLAlchemy URL: sqlite:///file.db or postgresql://...")],
            resume: Annotated[bool, typer.Option(help="keep what is indexed and continue from its cursor")] = False,
            step: Annotated[int, typer.Option(min=1, help="blocks per progress step")] = 2000,
            confirmations: Annotated[int, typer.Option(min=0, help="index only blocks this deep")] = 0) -> None:
    """Rebuild the index (events and every projection) from the deploy block up to the chain's head."""
    with friendly_errors():
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        db = _open_database(database)
        try:
            indexer = Indexer(w3, db, deployment, confirmation_depth=confirmations)
            if not resume:
                indexer.reset()
            start = indexer.cursor()
            target = int(w3.eth.block_number) - confirmations
            first = deployment.deploy_block - 1
            total = max(0, target - first)
            events = reorgs = 0
            with Progress(TextColumn("[bold]indexing blocks"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=False) as progress:
                task = progress.add_task("index", total=total, completed=max(0, start - first))
                cursor = start
                while cursor < target:
                    result = indexer.sync(to_block=min(target, cursor + step))
                    events += result.events
                    reorgs += result.reorgs
                    if result.cursor <= cursor and result.reorgs == 0:
                        raise CliError(f"the index did not move past block {cursor} (head {result.head})")
                    cursor = result.cursor
                    progress.update(task, completed=max(0, min(cursor, target) - first))
            console.print(f"indexed blocks {deployment.deploy_block}..{cursor}: {events} events"
                          + (f", {reorgs} reorgs rolled back" if reorgs else ""))
            console.print(f"{len(indexer.checkpoints())} checkpoints in the index")
        finally:
            db.dispose()
