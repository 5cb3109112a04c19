"""``trustledger audit``: re-check the whole review log from the chain alone.

The checkpoints are what the chain says: every ``CheckpointAnchored`` event of the manifest's ReviewLog
(its index, size and root). The service is asked for one thing only, the leaf hashes (``GET
/v1/log/leaf-hashes``, in ranges); from them every anchored root is recomputed here (``ledger.merkle``), and
each checkpoint is checked consistent with the one before by a consistency proof computed here from the same
hashes (``merkle.verify_consistency``). So a service that rewrote, dropped or reordered a single anchored
review cannot pass: the root of its leaves would differ from the root the chain holds.

With ``--receipts FILE`` (JSON lines, one receipt each, as the API hands it out in ``receipt``) it also checks
the operator's promises: each receipt must be signed by the ReviewLog's ``logOperator()`` for this log and chain,
and its leaf must be at its index in the first checkpoint that covers it, anchored at a block time no later than
``submittedAt + maxMergeDelay``. This is what a receipt is for: a holder proves a broken promise from the chain
and the receipt alone, so the audit reads the anchoring times from the chain's ``CheckpointAnchored`` events and
nothing from the service but the leaf hashes the chain's roots vouch for. "Now" is the chain's latest block
time, not the auditor's clock: a receipt not anchored yet is broken only once a block later than its deadline
exists (no later block can carry an earlier time), else it is "not yet due".

Exit 0 when every checkpoint is reproduced (and every receipt's promise kept or not yet due), 1 naming each
checkpoint that is not and each broken promise or receipt that does not verify, 2 when the chain, the service or
the receipts file could not be read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.table import Table

from ledger import merkle
from ledger.deploy import contract_at
from ledger.errors import InvalidInput, InvalidProof, RootMismatch
from ledger.receipts import Receipt, ReceiptVerificationError, verify_receipt

from . import _common
from ._chainlog import AnchoredCheckpoint, anchored_checkpoints
from ._common import EXIT_FAILED, CliError, console, friendly_errors, short_hex

__all__ = ["CheckpointAudit", "ReceiptAudit", "audit", "audit_checkpoints", "audit_receipts", "fetch_leaf_hashes",
           "read_receipts"]

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


@dataclass(frozen=True)
class ReceiptAudit:
    """One receipt as audited. ``status``: ``kept`` (anchored by its deadline), ``broken`` (anchored late, not
    anchored although the chain is past the deadline, or another leaf at its index), ``pending`` (not anchored,
    deadline not passed on chain yet) or ``invalid`` (the signature is not the log operator's for this log:
    it promises nothing). ``anchored_at``: block time of the first checkpoint covering the leaf (None: none)."""

    line: int
    receipt: Receipt
    status: Literal["kept", "broken", "pending", "invalid"]
    anchored_at: int | None
    checkpoint: int | None
    problem: str | None


def read_receipts(path: Path) -> list[tuple[int, Receipt]]:
    """The receipts of a JSON-lines file with their line numbers (blank lines skipped), parsed strictly: a
    malformed line is a :class:`CliError` naming it (exit 2), since an audit of guessed receipts proves nothing."""
    text = _common.read_json_file(path).decode("utf-8", errors="replace")
    out: list[tuple[int, Receipt]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, Receipt.from_json(line)))
        except InvalidInput as exc:
            raise CliError(f"{path} line {number}: {exc}") from None
    return out


def audit_receipts(receipts: Sequence[tuple[int, Receipt]], checkpoints: Sequence[AnchoredCheckpoint],
                   leaf_hashes: Sequence[bytes], *, operator: str, chain_id: int, review_log: str,
                   now: int) -> list[ReceiptAudit]:
    """Judge each receipt's promise from the chain's checkpoints (in chain order) and the leaf hashes their roots
    vouch for (:func:`audit_checkpoints` checks that); ``now`` is the chain's latest block time."""
    reach: list[int] = []  # the largest size anchored so far, per checkpoint: the first covering leaf i is
    for cp in checkpoints:  # the first position whose reach exceeds i
        reach.append(max(cp.size, reach[-1] if reach else 0))
    out: list[ReceiptAudit] = []
    for line, r in receipts:
        try:
            verify_receipt(r, operator=operator, chain_id=chain_id, review_log=review_log)
        except ReceiptVerificationError as exc:
            out.append(ReceiptAudit(line, r, "invalid", None, None, str(exc)))
            continue
        position = bisect.bisect_right(reach, r.leaf_index)
        if position == len(checkpoints):
            if now > r.deadline:
                out.append(ReceiptAudit(line, r, "broken", None, None,
                                        f"not anchored, and the chain is {now - r.deadline} s past the deadline"))
            else:
                out.append(ReceiptAudit(line, r, "pending", None, None, None))
            continue
        cp = checkpoints[position]
        if r.leaf_index < len(leaf_hashes) and leaf_hashes[r.leaf_index] != r.leaf_hash:
            out.append(ReceiptAudit(line, r, "broken", cp.timestamp, cp.index,
                                    f"checkpoint {cp.index} anchored another leaf at index {r.leaf_index} "
                                    f"(0x{leaf_hashes[r.leaf_index].hex()})"))
        elif cp.timestamp > r.deadline:
            out.append(ReceiptAudit(line, r, "broken", cp.timestamp, cp.index,
                                    f"anchored {cp.timestamp - r.deadline} s late (checkpoint {cp.index})"))
        else:
            out.append(ReceiptAudit(line, r, "kept", cp.timestamp, cp.index, None))
    return out


def _time(unix: int) -> str:
    return f"{unix} ({datetime.fromtimestamp(unix, UTC):%Y-%m-%d %H:%M:%SZ})"


def _report_receipts(results: list[ReceiptAudit], source: Path) -> bool:
    """Print the broken promises and the receipts that do not verify; True when there is any."""
    broken = [r for r in results if r.status == "broken"]
    invalid = [r for r in results if r.status == "invalid"]
    pending = sum(1 for r in results if r.status == "pending")
    if broken:
        table = Table(title=f"Broken promises ({source})", title_justify="left")
        for column in ("leaf index", "submittedAt", "deadline", "anchored at", "why"):
            table.add_column(column)
        for r in sorted(broken, key=lambda b: b.receipt.leaf_index):
            table.add_row(str(r.receipt.leaf_index), _time(r.receipt.submitted_at), _time(r.receipt.deadline),
                          "not anchored" if r.anchored_at is None else _time(r.anchored_at), r.problem or "")
        console.print(table)
    for r in invalid:
        console.print(f"[bold red]receipt on line {r.line}[/] (leaf {r.receipt.leaf_index}) does not verify, "
                      f"so it promises nothing: {r.problem}")
    if broken or invalid:
        console.print(f"[bold red]BROKEN PROMISES[/]: {len(broken)} of {len(results)} receipts not kept, "
                      f"{len(invalid)} not signed by the log operator for this log, {pending} not yet due")
        return True
    console.print(f"[bold green]PROMISES KEPT[/]: {len(results)} receipts verified, "
                  f"{len(results) - pending} anchored within their maximum merge delay, {pending} not yet due")
    return False


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else "[green]yes[/]" if ok else "[bold red]NO[/]"


def audit(rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain (the source of truth)")],
          manifest: Annotated[Path, typer.Option(help="the deployment manifest")],
          api: Annotated[str, typer.Option(help="the service whose leaf hashes are audited")],
          show: Annotated[int, typer.Option(min=0, help="rows of good checkpoints to list (the latest); "
                                                        "bad ones are always listed")] = 20,
          receipts: Annotated[Path | None, typer.Option(
              help="JSON lines of review receipts (as the API returns them in `receipt`): check each was "
                   "signed by the log operator and its leaf anchored within submittedAt + maxMergeDelay")] = None,
          ) -> None:
    """Re-check every anchored checkpoint and the whole log from the chain alone, and with --receipts every
    receipt's promise; exit 1 on any inconsistency or broken promise."""
    receipt_results: list[ReceiptAudit] | None = None
    with friendly_errors():
        held = read_receipts(receipts) if receipts is not None else None  # a bad file fails before any work
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        checkpoints = anchored_checkpoints(w3, deployment)
        size = max((c.size for c in checkpoints), default=0)
        with client(api) as http:
            leaf_hashes = fetch_leaf_hashes(http, size)
        results = audit_checkpoints(checkpoints, leaf_hashes)
        if held is not None:
            review_log = deployment.address("ReviewLog")
            operator = str(contract_at(w3, "ReviewLog", review_log).functions.logOperator().call())
            now = int(w3.eth.get_block("latest")["timestamp"])
            receipt_results = audit_receipts(held, checkpoints, leaf_hashes, operator=operator,
                                             chain_id=deployment.chain_id, review_log=review_log, now=now)
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
    else:
        console.print(f"[bold green]CONSISTENT[/]: {len(results)} checkpoints read from the chain, each root "
                      f"recomputed from {size} leaf hashes and each consistent with the one before")
    broken = receipts is not None and receipt_results is not None and _report_receipts(receipt_results, receipts)
    if bad or broken:
        raise typer.Exit(EXIT_FAILED)
