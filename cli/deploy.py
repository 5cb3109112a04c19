"""``trustledger deploy``: put the contract set on a chain and write its manifest, once.

Two ways, chosen by what the chain is and what the environment holds:

* ``TRUSTLEDGER_DEPLOYER_KEY`` set: a real deployment. The key deploys and becomes the default admin;
  ``--governor`` and ``--operator`` name the governor and the log operator (addresses, not keys: they are
  other parties). A well-known development key is refused off a local development chain.
* no deployer key, on a local development chain (Anvil, Hardhat): the demo deployment of ``make up``
  (:func:`ledger.devnet.ensure_deployment`): demo identities generated into ``--home`` and funded from the
  node's unlocked account, an issuer accredited, a merchant admitted, an arbitrator appointed.

Either way an existing manifest at ``--out`` is never deployed over: it is checked against the chain and
reported, and a mismatch is an error (remove the file, or write elsewhere), so that a mistyped RPC URL cannot
silently replace the addresses everyone reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from web3 import Web3

from ledger.chain import Transactor
from ledger.devnet import DEFAULT_HOME, ensure_deployment
from ledger.manifest import Manifest, deploy_or_verify
from ledger.settings import is_local_dev_chain, is_well_known_key

from . import _common
from ._common import CliError, console, friendly_errors

__all__ = ["deploy"]

DEPLOYER_KEY_ENV = "TRUSTLEDGER_DEPLOYER_KEY"


def _show(manifest: Manifest, out: Path, deployed: bool) -> None:
    verb = "deployed" if deployed else "already deployed (manifest checked against the chain)"
    table = Table(title=f"TrustLedger {verb} on chain {manifest.chain_id} from block {manifest.deploy_block}",
                  title_justify="left")
    table.add_column("contract", style="bold")
    table.add_column("address")
    for name, address in manifest.addresses.items():
        table.add_row(name, address)
    console.print(table)
    console.print(f"manifest: {out}")


def _address(value: str | None, option: str) -> str:
    if value is None:
        raise CliError(f"with {DEPLOYER_KEY_ENV} set, {option} ADDRESS is required")
    if not Web3.is_address(value):
        raise CliError(f"{option}: {value!r} is not an address")
    return Web3.to_checksum_address(value)


def deploy(rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain")],
           out: Annotated[Path, typer.Option("--out", "-o", help="where to write the manifest")]
           = Path("manifest.json"),
           home: Annotated[Path, typer.Option(help="dev chain only: folder of the demo identities")] = DEFAULT_HOME,
           governor: Annotated[str | None, typer.Option(help="with a deployer key: the governor's address")] = None,
           operator: Annotated[str | None, typer.Option(help="with a deployer key: the log operator's address")]
           = None) -> None:
    """Deploy the contracts and write the deployment manifest (nothing is deployed over an existing one)."""
    with friendly_errors():
        w3 = _common.connect(rpc)
        if out.exists():
            manifest = _common.load_manifest(out, w3)
            _show(manifest, out, deployed=False)
            return
        key = os.environ.get(DEPLOYER_KEY_ENV)
        if key:
            governor_address = _address(governor, "--governor")
            operator_address = _address(operator, "--operator")
            try:
                deployer = Transactor(w3, key)
            except (ValueError, TypeError):
                raise CliError(f"{DEPLOYER_KEY_ENV} is not a private key (64 hex digits)") from None
            if is_well_known_key(deployer.account) and not is_local_dev_chain(w3, started_by_cli=False):
                raise CliError(f"{DEPLOYER_KEY_ENV} is a well-known development key; this chain is not a local "
                               "development chain, where anyone could take over what it deploys")
            manifest, deployed = deploy_or_verify(w3, deployer, out, governor=governor_address,
                                                  log_operator=operator_address)
            _show(manifest, out, deployed)
            return
        if governor is not None or operator is not None:
            raise CliError(f"--governor and --operator go with {DEPLOYER_KEY_ENV} (a real deployment)")
        if not is_local_dev_chain(w3, started_by_cli=False):
            raise CliError(f"{rpc} is not a local development chain: set {DEPLOYER_KEY_ENV} and pass --governor "
                           "and --operator for a real deployment")
        home.mkdir(parents=True, exist_ok=True)
        kept = home / "deployment.json"
        before = kept.read_bytes() if kept.exists() else None
        manifest = ensure_deployment(w3, home)  # reuses the demo deployment of --home if this chain has it
        if out.resolve() != kept.resolve():
            manifest.write(out)
        _show(manifest, out, deployed=before != kept.read_bytes())
        console.print(f"demo identities: {home / 'dev-keys.json'}")
