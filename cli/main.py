"""The ``trustledger`` command (see cli/__init__.py)."""

from __future__ import annotations

import typer

app = typer.Typer(name="trustledger", help="TrustLedger: certificates, an append-only review log, disputes.",
                  no_args_is_help=True)


@app.callback()
def main() -> None:
    """TrustLedger's command line."""
