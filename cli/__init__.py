"""``trustledger``: the command line (Typer + Rich): the embedded default, the dev chain, deployment,
reindexing, export, offline verification and the audit."""
