"""``trustledger export certificate ID`` / ``export review INDEX``: write a proof bundle (docs/proof-bundle.md).

Sources: a certificate is read from the chain alone (its ``CertificateIssued`` log; ``--database`` looks the
transaction up in an index instead of scanning logs). A review needs its leaf and the leaves under its
checkpoint, which only the operator holds: from the service's database (``--database``) or from the running
service (``--api``, its ``/v1/bundles`` export). Whatever the source, the bundle is verified against the
manifest and the chain before it is written, and the verdict printed, so that a bundle from a service that
serves another deployment, or a bad one, is seen at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import httpx
import sqlalchemy as sa
import typer
from web3 import Web3

from ledger.bundle import (
    Bundle,
    InvalidBundle,
    dumps_bundle,
    export_certificate_bundle,
    export_review_bundle,
    parse_bundle,
    verify_bundle,
)
from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.storage.schema import log_leaves
from ledger.verify import LeafList

from . import _common
from ._chainlog import anchored_checkpoints
from ._common import CliError, console, friendly_errors, write_file
from .reindex import _open_database
from .verify import render

__all__ = ["app"]

app = typer.Typer(name="export", help="Write a proof bundle of a certificate or a review.", no_args_is_help=True)

_ID = re.compile(r"0x[0-9a-fA-F]{64}")

Rpc = Annotated[str, typer.Option(help="JSON-RPC URL of the chain")]
ManifestOpt = Annotated[Path, typer.Option(help="the deployment manifest")]
DatabaseOpt = Annotated[str | None, typer.Option(help="the service's database URL (index and review log)")]
ApiOpt = Annotated[str | None, typer.Option(help="the service's base URL, e.g. http://127.0.0.1:8000")]
Out = Annotated[Path, typer.Option("--out", "-o", help="the bundle file to write (- for stdout)")]


def _from_api(api: str, path: str, params: dict[str, int] | None = None) -> bytes:
    url = api.rstrip("/") + path
    response = httpx.get(url, params=params, timeout=60)
    if response.status_code != 200:
        detail = response.text
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            detail = str(response.json().get("detail", detail))
        raise CliError(f"{url} answered {response.status_code}: {detail}")
    return response.content


def _check_and_write(bundle: Bundle | bytes, w3: Web3, manifest: Manifest, out: Path) -> None:
    try:
        parsed = bundle if not isinstance(bundle, bytes) else parse_bundle(bundle)
    except InvalidBundle as exc:
        raise CliError(f"the service sent something that is not a proof bundle: {exc}") from None
    result = verify_bundle(parsed, w3=w3, trusted=manifest)
    write_file(out, bundle if isinstance(bundle, bytes) else dumps_bundle(bundle))
    if str(out) != "-":
        render(result, f"written to {out}")


@app.command()
def certificate(certificate_id: Annotated[str, typer.Argument(metavar="ID", help="0x + 64 hex digits")],
                rpc: Rpc, manifest: ManifestOpt, out: Out, database: DatabaseOpt = None, api: ApiOpt = None) -> None:
    """The proof bundle of one certificate."""
    with friendly_errors():
        if not _ID.fullmatch(certificate_id):
            raise CliError(f"certificate ID must be 0x followed by 64 hex digits, not {certificate_id!r}")
        cid = bytes.fromhex(certificate_id[2:])
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        if api is not None:
            _check_and_write(_from_api(api, f"/v1/bundles/certificates/0x{cid.hex()}"), w3, deployment, out)
            return
        if database is None:
            _check_and_write(export_certificate_bundle(cid, w3=w3, manifest=deployment), w3, deployment, out)
            return
        db = _open_database(database)
        try:
            indexer = Indexer(w3, db, deployment)
            _check_and_write(export_certificate_bundle(cid, w3=w3, manifest=deployment, indexer=indexer), w3,
                             deployment, out)
        finally:
            db.dispose()


@app.command()
def review(index: Annotated[int, typer.Argument(metavar="INDEX", min=0, help="the review's leaf index")],
           rpc: Rpc, manifest: ManifestOpt, out: Out, database: DatabaseOpt = None, api: ApiOpt = None,
           checkpoint: Annotated[int | None, typer.Option(min=0, help="prove against this checkpoint "
                                                           "(default: the first that covers the review)")]
           = None) -> None:
    """The proof bundle of one review: its leaf, inclusion proof and anchored checkpoint."""
    with friendly_errors():
        if (database is None) == (api is None):
            raise CliError("a review's bundle needs its leaves: pass exactly one of --database URL or --api URL")
        w3 = _common.connect(rpc)
        deployment = _common.load_manifest(manifest, w3)
        if api is not None:
            params = {} if checkpoint is None else {"checkpoint": checkpoint}
            _check_and_write(_from_api(api, f"/v1/bundles/reviews/{index}", params), w3, deployment, out)
            return
        assert database is not None
        covering = [c for c in anchored_checkpoints(w3, deployment)
                    if c.size > index and (checkpoint is None or c.index == checkpoint)]
        if not covering:
            raise CliError(f"no anchored checkpoint covers review {index}"
                           + (f" as checkpoint {checkpoint}" if checkpoint is not None else " yet"))
        chosen = covering[0]
        db = _open_database(database)
        try:
            with db.read() as conn:
                leaves = [bytes(b) for b in conn.execute(
                    sa.select(log_leaves.c.leaf).where(log_leaves.c.leaf_index < chosen.size)
                    .order_by(log_leaves.c.leaf_index)).scalars()]
        finally:
            db.dispose()
        if len(leaves) < chosen.size:
            raise CliError(f"checkpoint {chosen.index} covers {chosen.size} leaves; the database holds "
                           f"{len(leaves)}")
        bundle = export_review_bundle(index, store=LeafList(leaves), w3=w3, manifest=deployment,
                                      checkpoint_index=chosen.index)
        _check_and_write(bundle, w3, deployment, out)
    console.file.flush()
