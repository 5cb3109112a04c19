"""``trustledger audit``: re-check the whole review log from the chain alone.

The checkpoints are what the chain says: every ``CheckpointAnchored`` event of the manifest's ReviewLog
(its index, size and root). The service is asked for one thing only, the leaf hashes (``GET
/v1/log/leaf-hashes``, in ranges); from them every anchored root is recomputed here (``ledger.merkle``), and
each checkpoint is checked consistent with the one before by a consistency proof computed here from the same
hashes (``merkle.verify_consistency``). So a service that rewrote, dropped or reordered a single anchored
review cannot pass: the root of its leaves would differ from the root the chain holds.

Exit 0 when every checkpoint is reproduced, 1 naming each checkpoint that is not, 2 when the chain or the
service could not be read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from ledger import merkle
from ledger.errors import InvalidInput, InvalidProof, RootMismatch

from . import _common
from ._chainlog import AnchoredCheckpoint, anchored_checkpoints
from ._common import EXIT_FAILED, CliError, console, friendly_errors, short_hex

__all__ = ["CheckpointAudit", "audit", "audit_checkpoints", "fetch_leaf_hashes"]

PAGE = 10_000  # the service's MAX_RANGE for /v1/log/leaf-hashes
_HASH = re.compile(r"0x[0-9a-f]{64}")


@dataclass(frozen=True)
class CheckpointAudit:
    """One anchored checkpoint as audited: ``problems`` is empty when it holds."""

    checkpoint: AnchoredCheckpoint
    root_ok: bool
    consistent: bool | None
    """Consistent with the checkpoint before (None for the first: nothing to compare with)."""
    problems: tuple[str, ...]


def client(api: str) -> httpx.Client:
    """The HTTP client of the service under audit (a seam: the tests serve doctored hashes through it)."""
    return httpx.Client(base_url=api.rstrip("/"), timeout=60)


def _page(http: httpx.Client, start: int, end: int) -> list[bytes]:
    """Leaf hashes [start, end) as the service states them, parsed strictly: the audit must not guess."""
    response = http.get("/v1/log/leaf-hashes", params={"start": start, "end": end})
    if response.status_code != 200:
        raise CliError(f"the service answered {response.status_code} for leaf hashes [{start}, {end}): "
                       f"{response.text[:300]}")
    try:
        body: Any = response.json()
    except ValueError:
        raise CliError(f"the service's leaf hashes [{start}, {end}) are not JSON") from None
    hashes = body.get("leafHashes") if isinstance(body, dict) else None
    if not isinstance(hashes, list) or body.get("start") != start or body.get("end") != end \
            or len(hashes) != end - start:
        raise CliError(f"the service answered leaf hashes [{start}, {end}) with another range or count")
    out = []
    for i, h in enumerate(hashes):
        if not isinstance(h, str) or not _HASH.fullmatch(h):
            raise CliError(f"the service's leaf hash {start + i} is not 0x + 64 lower-case hex digits")
        out.append(bytes.fromhex(h[2:]))
    return out


def fetch_leaf_hashes(http: httpx.Client, size: int) -> list[bytes]:
    """The first ``size`` leaf hashes, in pages of at most :data:`PAGE`."""
    out: list[bytes] = []
    while len(out) < size:
        end = min(size, len(out) + PAGE)
        out.extend(_page(http, len(out), end))
    return out


def audit_checkpoints(checkpoints: list[AnchoredCheckpoint], leaf_hashes: list[bytes]) -> list[CheckpointAudit]:
    """Recompute every anchored root from ``leaf_hashes`` and check each checkpoint extends the one before."""
    tree = merkle.MerkleTree(leaf_hashes)
    out: list[CheckpointAudit] = []
    previous: AnchoredCheckpoint | None = None
    for position, cp in enumerate(checkpoints):
        problems: list[str] = []
        if cp.index != position:
            problems.append(f"expected checkpoint {position} next on chain, found checkpoint {cp.index}")
        root_ok = False
        consistent: bool | None = None
        if cp.size > tree.size:
            problems.append(f"covers {cp.size} leaves, the service serves {tree.size}")
        else:
            calculated = tree.root(cp.size)
            root_ok = calculated == cp.root
            if not root_ok:
                problems.append(f"the chain anchored root 0x{cp.root.hex()}, the service's leaves give "
                                f"0x{calculated.hex()}")
            if previous is not None:
                try:
                    if previous.size > cp.size:
                        raise InvalidInput(f"size shrank from {previous.size} to {cp.size}")
                    merkle.verify_consistency(previous.size, cp.size, previous.root, cp.root,
                                              tree.consistency_proof(previous.size, cp.size))
                    consistent = True
                except (RootMismatch, InvalidProof, InvalidInput) as exc:
                    consistent = False
                    problems.append(f"not consistent with checkpoint {previous.index} (size {previous.size}): {exc}")
        out.append(CheckpointAudit(cp, root_ok, consistent, tuple(problems)))
        previous = cp
    return out


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else "[green]yes[/]" if ok else "[bold red]NO[/]"


def audit(rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain (the source of truth)")],
          manifest: Annotated[Path, typer.Option(help="the deployment manifest")],
          api: Annotated[str, typer.Option(help="the service whose leaf hashes are audited")],
          show: Annotated[int, typer.Option(min=0, help="rows of good checkpoints to list (the latest); "
                                                        "bad ones are always listed")] = 20) -> None:
    """Re-check every anchored checkpoint and the whole log from the chain alone; exit 1 on any inconsistency."""
    with friendly_errors():
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        checkpoints = anchored_checkpoints(w3, deployment)
        size = max((c.size for c in checkpoints), default=0)
        with client(api) as http:
            leaf_hashes = fetch_leaf_hashes(http, size)
        results = audit_checkpoints(checkpoints, leaf_hashes)
    bad = [r for r in results if r.problems]
    table = Table(title=f"ReviewLog {deployment.address('ReviewLog')} on chain {deployment.chain_id}",
                  title_justify="left")
    for column in ("checkpoint", "size", "root (on chain)", "block", "root reproduced", "extends previous"):
        table.add_column(column)
    listed = {id(r) for r in results[-show:]} if show else set()
    for r in results:
        if r.problems or id(r) in listed:
            cp = r.checkpoint
            table.add_row(str(cp.index), str(cp.size), short_hex(cp.root), str(cp.block_number), _mark(r.root_ok),
                          _mark(r.consistent))
    console.print(table)
    for r in bad:
        for problem in r.problems:
            console.print(f"[bold red]checkpoint {r.checkpoint.index}[/] (size {r.checkpoint.size}, block "
                          f"{r.checkpoint.block_number}): {problem}")
    if bad:
        console.print(f"[bold red]INCONSISTENT[/]: {len(bad)} of {len(results)} checkpoints not reproduced from "
                      f"the service's leaf hashes")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[bold green]CONSISTENT[/]: {len(results)} checkpoints read from the chain, each root "
                  f"recomputed from {size} leaf hashes and each consistent with the one before")
