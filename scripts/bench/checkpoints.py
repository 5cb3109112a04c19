#!/usr/bin/env python
"""Checkpoint anchoring: gas and time against batch size, and the MMD held while appending at full speed.

    python scripts/bench/checkpoints.py [--chain anvil|hardhat] [--seconds 20] [--mmd 10] [--json] [--no-write]

Everything runs through the production path on a live local node (Anvil by default, which mines each
transaction as it arrives, asynchronously, like a real node): ``ReviewLogService`` on a SQLite file (WAL,
``synchronous=FULL``) admits reviews with purchase attestations and signs receipts; ``Checkpointer`` builds
``appendCheckpoint(size, root, consistencyProof)``; the operator's ``TxSender`` simulates, signs, records and
sends it through its durable outbox and follows the receipt (2 ms polling, confirmation depth 0).

1. **Batch size.** For each batch size b (1, 16, 256, 4,096, 65,536 new leaves on top of the previous
   checkpoint), append b reviews, then time one checkpoint from ``tick()`` to ``anchored`` and read its
   ``gasUsed`` from the receipt. Gas per review is gas / b.
2. **MMD at full speed.** Four producer threads hand reviews to the service as fast as it admits them for
   ``--seconds`` while the checkpointer and the sender run in their own threads with their default interval
   (a quarter of the MMD). Then: for every leaf, delay = (block time of the first checkpoint that covers it)
   - (its submitted-at, the time its receipt counts from), which is exactly what the receipt promises to
   keep under the MMD; and, at millisecond resolution, (when the sender saw that checkpoint confirmed) -
   (when the leaf was accepted). Reports p50 / p99 / max and how many promises were broken.

``--json`` prints one JSON object on the last line; unless ``--no-write``, the section between
``<!-- checkpoints:begin -->`` and ``<!-- checkpoints:end -->`` of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import _report
import coincurve
import sqlalchemy as sa
from eth_account import Account
from eth_utils import keccak

from ledger.chain import Transactor
from ledger.checkpointer import Checkpointer, CheckpointStatus
from ledger.deploy import deploy
from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation
from ledger.receipts import ReceiptSigner
from ledger.reviewlog import ReviewLogService, ReviewSubmission, attestation_digest
from ledger.reviews import order_commitment
from ledger.sender import TxSender
from ledger.storage import Database
from ledger.storage.schema import log_checkpoints, log_leaves, outbox
from ledger.vault import Vault
from tests import devchain

BENCHMARKS = REPO / "BENCHMARKS.md"
BEGIN, END = _report.markers("checkpoints")
BATCHES = (1, 16, 256, 4_096, 65_536)
PRODUCERS = 4
KEYS = {name: keccak(text=f"trustledger-bench:{name}") for name in ("admin", "governor", "operator", "order_signer")}
PSEUDONYM_KEY = keccak(text="trustledger-bench:pseudonym")
CONTENT_KEY = keccak(text="trustledger-bench:content")
ORDER_SALT = keccak(text="trustledger-bench:order-salt")
MERCHANT = Account.from_key(keccak(text="trustledger-bench:merchant")).address
BUYER = Account.from_key(keccak(text="trustledger-bench:buyer")).address
PRODUCT = keccak(text="gtin:06901234567892")


def log(msg: str) -> None:
    print(f"[checkpoints] {msg}", file=sys.stderr, flush=True)


class Rig:
    """A deployed TrustLedger on a live node, a review log service and the operator's checkpointer."""

    def __init__(self, chain: Any, home: Path, mmd: int) -> None:
        self.chain = chain
        w3 = chain.w3
        self.actors = {name: Transactor(w3, Account.from_key(key)) for name, key in KEYS.items()}
        for t in self.actors.values():
            chain.fund(t.address, 10**21)
        self.d = deploy(w3, self.actors["admin"], governor=self.actors["governor"].address,
                        log_operator=self.actors["operator"].address)
        self.db = Database(f"sqlite:///{home}/bench.db")
        self.db.migrate()
        self.mmd = mmd
        self.service = ReviewLogService(
            self.db,
            receipt_signer=ReceiptSigner(KEYS["operator"], chain_id=self.d.chain_id,
                                         review_log=self.d.review_log.address, max_merge_delay=mmd),
            vault=Vault(CONTENT_KEY), pseudonym_key=PSEUDONYM_KEY,
            order_signer=self.actors["order_signer"].address, chain_id=self.d.chain_id,
            governance=self.d.governance.address,
        )
        self.sender = TxSender(w3, self.db, self.actors["operator"].account)
        self.checkpointer = Checkpointer(self.service, self.sender, self.d.review_log, self.db, max_merge_delay=mmd)
        self.next_order = 0
        self.purchased_at = int(time.time()) - 3600

    def submissions(self, n: int) -> list[ReviewSubmission]:
        """n reviews of distinct purchases. Attestations are signed with coincurve over the service's own
        ``attestation_digest`` (eth-account takes a millisecond each); the first one of a run is checked byte
        for byte against eth-account's ``sign_purchase_attestation``."""
        out = []
        key = coincurve.PrivateKey(KEYS["order_signer"])
        for _ in range(n):
            i = self.next_order
            self.next_order += 1
            att = PurchaseAttestation(order_commitment(f"order-{i}", MERCHANT, ORDER_SALT), MERCHANT, PRODUCT,
                                      BUYER, self.purchased_at)
            rsv = key.sign_recoverable(attestation_digest(att, chain_id=self.d.chain_id,
                                                          governance=self.d.governance.address), hasher=None)
            sig = rsv[:64] + bytes((rsv[64] + 27,))
            if i == 0:
                assert sig == sign_purchase_attestation(KEYS["order_signer"], att, chain_id=self.d.chain_id,
                                                        governance=self.d.governance.address)
            out.append(ReviewSubmission(product_id=PRODUCT, merchant=MERCHANT, rating=1 + i % 5,
                                        text=f"review {i}: works as described", user_id=f"user-{i % 997}",
                                        attestation=att, attestation_signature=sig))
        return out

    def append(self, subs: list[ReviewSubmission]) -> None:
        for r in self.service.submit_many(subs):
            if isinstance(r, Exception):
                raise r

    def close(self) -> None:
        self.checkpointer.stop()
        self.sender.stop()
        self.service.close()
        self.db.dispose()


def anchor_once(rig: Rig) -> dict[str, Any]:
    """One checkpoint from tick() to anchored: gas, proof length, wall time."""
    chain_size, _ = rig.checkpointer.chain_checkpoint()
    start = time.perf_counter()
    result = rig.checkpointer.tick()
    assert result.action == "submitted", result
    while result.action not in ("anchored", "failed"):
        rig.sender.step()
        result = rig.checkpointer.tick()
    elapsed = time.perf_counter() - start
    cp = result.checkpoint
    assert cp is not None and cp.status is CheckpointStatus.ANCHORED, cp
    receipt = rig.chain.w3.eth.get_transaction_receipt(cp.tx_hash)
    return {"from": chain_size, "to": cp.tree_size, "new_leaves": cp.tree_size - chain_size,
            "proof_hashes": len(rig.service.consistency_proof(chain_size, cp.tree_size)) if chain_size else 0,
            "gas": int(receipt["gasUsed"]), "ms": elapsed * 1000}


def run_batches(rig: Rig) -> list[dict[str, Any]]:
    rows = []
    rig.append(rig.submissions(1))
    anchor_once(rig)  # the first checkpoint carries no proof: measure extensions only
    for b in BATCHES:
        t = time.perf_counter()
        rig.append(rig.submissions(b))
        append_s = time.perf_counter() - t
        row = anchor_once(rig)
        row["append_per_s"] = b / append_s
        row["gas_per_review"] = row["gas"] / b
        log(f"batch {b:>6}: {row['gas']:,} gas ({row['gas_per_review']:,.1f}/review), "
            f"{row['proof_hashes']} proof hashes, {row['ms']:.1f} ms")
        rows.append(row)
    return rows


def run_full_speed(rig: Rig, seconds: float) -> dict[str, Any]:
    size0 = rig.service.size
    # signed up front (not part of the load), more than the service can take in ``seconds``
    pre = [rig.submissions(512) for _ in range(int(seconds * 80))]
    stop = threading.Event()

    feed = iter(pre)
    feed_lock = threading.Lock()

    def produce() -> None:
        while not stop.is_set():
            with feed_lock:
                chunk = next(feed, None)
            if chunk is None:
                return
            rig.append(chunk)

    rig.sender.start()
    rig.checkpointer.start()
    producers = [threading.Thread(target=produce, name=f"producer-{i}") for i in range(PRODUCERS)]
    start = time.perf_counter()
    for p in producers:
        p.start()
    stop.wait(seconds)
    stop.set()
    for p in producers:
        p.join()
    load_s = time.perf_counter() - start
    if next(feed, None) is None:
        log("the producers ran out of input before the time was up: the rate is a lower bound")
    appended = rig.service.size - size0
    deadline = time.monotonic() + 3 * rig.mmd
    def settled() -> bool:  # the chain has every leaf and the checkpointer has recorded it
        last = rig.checkpointer.checkpoint(rig.service.size)
        return last is not None and last.status is CheckpointStatus.ANCHORED

    while not settled() and time.monotonic() < deadline:
        time.sleep(0.05)
    rig.checkpointer.stop()
    rig.sender.stop()
    if rig.checkpointer.last_error is not None:
        log(f"checkpointer's last error: {rig.checkpointer.last_error!r}")

    with rig.db.read() as conn:
        leaves = conn.execute(sa.select(log_leaves.c.leaf_index, log_leaves.c.submitted_at, log_leaves.c.accepted_ms)
                              .where(log_leaves.c.leaf_index >= size0).order_by(log_leaves.c.leaf_index)).all()
        cps = conn.execute(sa.select(log_checkpoints.c.tree_size, log_checkpoints.c.anchored_ms,
                                     outbox.c.updated_ms)
                           .join(outbox, outbox.c.idempotency_key == log_checkpoints.c.outbox_key)
                           .where(log_checkpoints.c.status == CheckpointStatus.ANCHORED.value,
                                  log_checkpoints.c.tree_size > size0)
                           .order_by(log_checkpoints.c.tree_size)).all()
    chain_delays, wall_delays, broken, uncovered = [], [], 0, 0
    j = 0
    for leaf in leaves:
        while j < len(cps) and cps[j].tree_size <= leaf.leaf_index:
            j += 1
        if j == len(cps):
            uncovered += 1
            continue
        d = cps[j].anchored_ms / 1000 - leaf.submitted_at
        chain_delays.append(d)
        wall_delays.append((cps[j].updated_ms - leaf.accepted_ms) / 1000)
        broken += d > rig.mmd
    return {
        "seconds": load_s, "appended": appended, "per_s": appended / load_s, "checkpoints": len(cps),
        "leaves_per_checkpoint": appended / max(1, len(cps)), "interval_s": rig.checkpointer.interval,
        "chain_delay_s": _pcts(chain_delays), "wall_delay_s": _pcts(wall_delays),
        "broken_promises": broken, "uncovered": uncovered,
    }


def _pcts(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p99": q[98], "max": max(values)}


# ------------------------------------------------------------------------------------------ output




def render(batches: list[dict[str, Any]], full: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## Checkpoints: gas and time against batch size; the MMD at full speed",
        "",
        (f"Generated by `{meta['command']}` on {meta['date']} ({meta['wall_s']:.1f} s wall). Do not edit by hand: "
        "rerun the script."),
        "",
        f"Machine: {meta['machine']}; chain: {meta['client']} (confirmation depth 0, receipts polled every 2 ms).",
        "",
        "### Gas and time per checkpoint against the leaves it adds",
        "",
        "| new leaves | log size | proof hashes | gas | gas per review | vs 1 new leaf (gas) | tick → anchored, ms |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    base = batches[0]["gas"]
    for r in batches:
        lines.append(f"| {r['new_leaves']:,} | {r['to']:,} | {r['proof_hashes']} | {r['gas']:,} | "
                     f"{r['gas_per_review']:,.2f} | {r['gas'] / base:.2f} | {r['ms']:.1f} |")
    f = full
    cd, wd = f["chain_delay_s"], f["wall_delay_s"]
    uncovered = f" ({f['uncovered']} never covered)" if f["uncovered"] else ""
    lines += [
        "",
        ("Each row is one `appendCheckpoint` on top of the previous row's checkpoint, through the whole production "
        "path: `Checkpointer.tick` builds it, the operator's `TxSender` simulates, signs, records it in the outbox, "
        "sends it and follows the receipt. Gas grows with the consistency proof (about log2 of the log size), not "
        "with the leaves a checkpoint covers, so gas per review falls in proportion to the batch."),
        "",
        f"### The MMD while appending at full speed (MMD {meta['mmd']} s)",
        "",
        ("| appended | for | reviews/s | checkpoints | leaves per checkpoint | checkpoint interval | "
        "delay (chain time) p50 / p99 / max | delay (wall, ms resolution) p50 / p99 / max | broken promises |"),
        "|--:|--:|--:|--:|--:|--:|---|---|--:|",
        (f"| {f['appended']:,} | {f['seconds']:.1f} s | {f['per_s']:,.0f} | {f['checkpoints']} | "
        f"{f['leaves_per_checkpoint']:,.0f} | {f['interval_s']:.1f} s | "
        f"{cd['p50']:.1f} / {cd['p99']:.1f} / {cd['max']:.1f} s | "
        f"{wd['p50']:.2f} / {wd['p99']:.2f} / {wd['max']:.2f} s | "
        f"{f['broken_promises']} of {f['appended'] - f['uncovered']:,}{uncovered} |"),
        "",
        (f"{PRODUCERS} producer threads hand pre-signed reviews (512 at a time each) to `ReviewLogService.submit_many` as fast as "
        "it admits them, while the checkpointer and the sender run in their own threads, as in the service. "
        "Delay (chain time) = block timestamp of the first anchored checkpoint covering the leaf − the leaf's "
        "submitted-at: exactly what a receipt promises to keep under the MMD (block timestamps are whole "
        "seconds, so this is coarse). Delay (wall) = when the sender saw that checkpoint confirmed − when the "
        "service accepted the leaf. The append rate here is lower than in the review-log section above because "
        "the same two cores also run the node, the checkpointer and the sender."),
        END,
    ]
    return "\n".join(lines)




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chain", choices=["anvil", "hardhat"], default="anvil")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the full-speed run")
    ap.add_argument("--mmd", type=int, default=10, help="maximum merge delay, seconds")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    wall = time.perf_counter()
    chain = devchain.start(args.chain)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rig = Rig(chain, Path(tmp), args.mmd)
            try:
                log(f"chain: {chain.w3.client_version}")
                batches = run_batches(rig)
                log(f"full speed for {args.seconds} s")
                full = run_full_speed(rig, args.seconds)
                log(json.dumps(full))
            finally:
                rig.close()
        client = chain.w3.client_version
    finally:
        chain.close()
    meta = {
        "command": "python scripts/bench/checkpoints.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": time.perf_counter() - wall,
        "machine": _report.machine(),
        "client": client, "mmd": args.mmd,
    }
    meta["command"] = meta["command"].strip()
    section = render(batches, full, meta)
    print(section)
    if not args.no_write:
        _report.write_section("checkpoints", section)
    if args.json:
        print(json.dumps({"batches": batches, "full_speed": full, "meta": meta}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
