#!/usr/bin/env python
"""Indexer catch-up: events indexed per second from the deploy block, on SQLite and PostgreSQL.

    python scripts/bench/indexer.py [--chain anvil|hardhat] [--certificates 20000] [--json] [--no-write]

On a live local node (Anvil by default), deploys TrustLedger, accredits an issuer, admits a merchant, then
issues ``--certificates`` certificates with ``issueBatch`` (100 per transaction: one
``CertificateIssued`` event each) and anchors a checkpoint after every 20 batches, so the chain holds a
realistic mix of events in a few hundred blocks. Then, for each database, a fresh ``Indexer`` catches up
from the deploy block with ``sync()`` (eth_getLogs from the SQL cursor, block headers for the blocks with
logs, decoded events and every projection, one DB transaction per range) and the rate is
events / wall seconds. The node runs on the same two cores, so its own work on ``eth_getLogs`` is part of the
figure, as it would be for an operator catching up against a local node.

``--json`` prints one JSON object on the last line; unless ``--no-write``, the section between
``<!-- indexer:begin -->`` and ``<!-- indexer:end -->`` of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sqlalchemy as sa
from eth_account import Account
from eth_utils import keccak

from ledger.chain import Transactor
from ledger.deploy import deploy
from ledger.eip712 import Certificate
from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.merkle import MerkleTree
from ledger.storage import Database
from tests import devchain

BENCHMARKS = REPO / "BENCHMARKS.md"
BEGIN, END = "<!-- indexer:begin -->", "<!-- indexer:end -->"
PG_URL = os.environ.get("TRUSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TARGET = 5_000
BATCH = 100
KEYS = {name: keccak(text=f"trustledger-bench-indexer:{name}")
        for name in ("admin", "governor", "operator", "issuer", "merchant")}
STANDARD = keccak(text="std:GB/T 19001-2016")


def log(msg: str) -> None:
    print(f"[indexer] {msg}", file=sys.stderr, flush=True)


def populate(chain: Any, certificates: int) -> tuple[Manifest, int]:
    w3 = chain.w3
    a = {name: Transactor(w3, Account.from_key(key)) for name, key in KEYS.items()}
    for t in a.values():
        chain.fund(t.address, 10**21)
    d = deploy(w3, a["admin"], governor=a["governor"].address, log_operator=a["operator"].address)
    g = d.governance.functions
    now = int(w3.eth.get_block("latest")["timestamp"])
    a["governor"].send(g.accreditIssuer(a["issuer"].address, now - 3600, now + 365 * 86400, [STANDARD]))
    a["governor"].send(g.admitMerchant(a["merchant"].address, keccak(text="licence:bench")))
    tree = MerkleTree()
    anchored = 0
    for b in range(0, certificates, BATCH):
        batch = [Certificate(product_id=keccak(text=f"gtin:{i}"), lot=keccak(text=f"lot:{i}"),
                             merchant=a["merchant"].address, issuer=a["issuer"].address, kind=0,
                             document_hash=keccak(text=f"doc:{i}"), standard=STANDARD, issued_at=now - 60,
                             valid_until=now + 30 * 86400).as_tuple()
                 for i in range(b, min(b + BATCH, certificates))]
        a["issuer"].send(d.registry.functions.issueBatch(batch), gas=15_000_000)
        if (b // BATCH) % 20 == 19:  # a checkpoint now and then, with its consistency proof
            old = tree.size
            tree.extend(keccak(text=f"leaf:{j}") for j in range(old, old + 1000))
            proof = tree.consistency_proof(old) if old else []
            a["operator"].send(d.review_log.functions.appendCheckpoint(tree.size, tree.root(), proof))
            anchored += 1
    return Manifest.from_deployment(w3, d), anchored


def run(w3: Any, manifest: Manifest, db: Database) -> dict[str, Any]:
    db.migrate()
    indexer = Indexer(w3, db, manifest)
    start = time.perf_counter()
    result = indexer.sync()
    seconds = time.perf_counter() - start
    with db.read() as conn:
        certs = conn.execute(sa.text("select count(*) from idx_certificates")).scalar_one()
    return {"events": result.events, "seconds": seconds, "per_s": result.events / seconds,
            "requests": result.requests, "blocks": result.target - manifest.deploy_block + 1,
            "certificates_projected": int(certs)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## Indexer: catch-up from the deploy block",
        "",
        (f"Generated by `{meta['command']}` on {meta['date']} ({meta['wall_s']:.1f} s wall). Do not edit by "
         "hand: rerun the script."),
        "",
        f"Machine: {meta['machine']}; chain: {meta['client']}.",
        "",
        "| database | events | blocks | eth_getLogs requests | seconds | events/s | vs SQLite | target 5,000/s |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    base = results["sqlite"]["per_s"]
    for name, r in results.items():
        verdict = "met" if r["per_s"] >= TARGET else f"not met ({r['per_s'] / TARGET:.0%})"
        lines.append(f"| {name} | {r['events']:,} | {r['blocks']:,} | {r['requests']} | {r['seconds']:.2f} | "
                     f"{r['per_s']:,.0f} | {r['per_s'] / base:.2f} | {verdict} |")
    lines += [
        "",
        (f"The chain holds {meta['certificates']:,} certificates issued with `issueBatch` ({BATCH} per "
         f"transaction) and {meta['checkpoints']} checkpoints, plus the deployment's own events. Each row is a "
         "fresh database and a fresh `Indexer` catching up with one `sync()`: eth_getLogs over the five contracts "
         "from the SQL cursor (ranges of up to 2,000 blocks), the header of each block with logs (hashes kept "
         "for reorg detection), decoded events and every projection (certificates with status and history, "
         "checkpoints, ...), one DB transaction per range. The node answers on the same two cores."),
        END,
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end != -1:
        text = text[:start] + section + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--chain", choices=["anvil", "hardhat"], default="anvil")
    ap.add_argument("--certificates", type=int, default=20_000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    wall = time.perf_counter()
    chain = devchain.start(args.chain)
    results: dict[str, dict[str, Any]] = {}
    try:
        log(f"chain: {chain.w3.client_version}; issuing {args.certificates:,} certificates")
        manifest, checkpoints = populate(chain, args.certificates)
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/index.db")
            results["sqlite"] = run(chain.w3, manifest, db)
            db.dispose()
        log(f"sqlite: {results['sqlite']}")
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = Database(PG_URL)
        with admin.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            db = Database(PG_URL, schema=schema)
            results["postgresql"] = run(chain.w3, manifest, db)
            db.dispose()
        finally:
            with admin.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        log(f"postgresql: {results['postgresql']}")
        client = chain.w3.client_version
    finally:
        chain.close()
    uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True, check=False).stdout.strip()
    meta = {
        "command": ("python scripts/bench/indexer.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": time.perf_counter() - wall,
        "machine": f"{uname}, {_cpu_model()}, {len(os.sched_getaffinity(0))} cores",
        "client": client, "certificates": args.certificates, "checkpoints": checkpoints,
    }
    section = render(results, meta)
    print(section)
    if not args.no_write:
        write_section(section)
    if args.json:
        print(json.dumps({"results": results, "meta": meta, "target_per_second": TARGET}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
