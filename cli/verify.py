"""``trustledger verify BUNDLE``: a proof bundle checked with no server, or also against the chain.

The verdict is the first line and the exit code (0 valid, 1 invalid, 2 could not check); the reasons follow,
each with its stable code (``ledger.verify.ReasonCode``) so that a script can match on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ledger.bundle import BundleVerification, InvalidBundle, verify_bundle
from ledger.verify import Verdict

from . import _common
from ._common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, console, friendly_errors, read_json_file

__all__ = ["exit_code", "render", "verify"]

_STYLE = {Verdict.VALID: "bold green", Verdict.INVALID: "bold red", Verdict.PENDING: "bold yellow",
          Verdict.UNKNOWN: "bold yellow"}


def exit_code(result: BundleVerification) -> int:
    """0 valid, 1 invalid; 2 when the chain could not be asked (nothing was found wrong, nothing confirmed)."""
    if result.verdict is Verdict.VALID:
        return EXIT_OK
    if result.verdict is Verdict.INVALID:
        return EXIT_FAILED
    return EXIT_UNUSABLE


def render(result: BundleVerification, source: str) -> None:
    """The verdict line, what was checked, and the reasons as a table."""
    where = "offline and against the chain" if result.online else "offline (no chain asked)"
    console.print(f"[{_STYLE[result.verdict]}]{result.verdict.value.upper()}[/]  {result.kind} "
                  f"0x{result.subject.hex()}  ({source}, checked {where})")
    e = result.evidence
    console.print(f"anchored by {e.event} of {e.contract} in tx 0x{e.tx_hash.hex()}, block {e.block_number}"
                  + (f", log {e.log_index}" if e.log_index is not None else ""))
    if result.status_now is not None:
        console.print(f"status at the chain's latest block: {result.status_now.name.lower()}")
    table = Table("reason", "detail", show_lines=False)
    for reason in result.reasons:
        table.add_row(str(reason.code), reason.message)
    console.print(table)


def verify(bundle: Annotated[Path, typer.Argument(help="the proof bundle file (JSON)")],
           rpc: Annotated[str | None, typer.Option(help="also check against the chain at this JSON-RPC URL")]
           = None,
           manifest: Annotated[Path | None, typer.Option(
               help="the deployment you trust: the bundle's chain id and addresses must be its")] = None) -> None:
    """Verify a proof bundle: exit 0 valid, 1 invalid (reasons printed), 2 when it could not be checked."""
    with friendly_errors():
        data = read_json_file(bundle)
        trusted = _common.load_manifest(manifest) if manifest is not None else None
        w3 = _common.connect(rpc) if rpc is not None else None
        try:
            result = verify_bundle(data, w3=w3, trusted=trusted)
        except InvalidBundle as exc:
            console.print(f"[{_STYLE[Verdict.INVALID]}]INVALID[/]  {bundle} is not a well-formed proof bundle")
            table = Table("reason", "detail")
            table.add_row(type(exc).__name__, str(exc))
            console.print(table)
            raise typer.Exit(EXIT_FAILED) from None
        render(result, str(bundle))
    raise typer.Exit(exit_code(result))
