"""The ``trustledger`` command (see cli/__init__.py and docs/cli.md).

Each command lives in its own module; this one only assembles them, so that ``trustledger --help`` lists
them in the order a newcomer meets them.
"""

from __future__ import annotations

import typer

from . import audit, demo, deploy, export, mirror, reindex, up, verify

app = typer.Typer(name="trustledger", help="TrustLedger: certificates, an append-only review log, disputes.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def main() -> None:
    """TrustLedger's command line. Exit codes: 0 success, 1 a verification failed, 2 could not do the work."""


app.command("up")(up.up)
app.command("chain")(up.chain)
app.command("deploy")(deploy.deploy)
app.command("reindex")(reindex.reindex)
app.add_typer(export.app, name="export")
app.command("verify")(verify.verify)
app.command("audit")(audit.audit)
app.command("mirror")(mirror.mirror)
app.command("demo")(demo.demo)


if __name__ == "__main__":
    app()
