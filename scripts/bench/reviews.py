#!/usr/bin/env python
"""Review log benchmark: reviews appended per second, in process, durable, each with its signed receipt.

    python scripts/bench/reviews.py [--reviews N] [--batches 256,1024,4096] [--backends sqlite,postgresql]
                                    [--pg-url URL] [--json] [--no-write]

Drives ``ledger.reviewlog.ReviewLogService.submit_many`` (no HTTP) with N distinct reviews, each carrying a
purchase attestation signed by the order signer, and times from the first submission to the last receipt:
every review is validated, its attestation recovered (coincurve), canonicalised (RFC 8785), hashed, sealed
(AES-256-GCM), appended in a committed group transaction with its Merkle subtrees, and its receipt signed.
Side by side in one run, on a fresh database each time:

* SQLite (a file in a temporary directory; WAL, synchronous=FULL, as ``ledger.storage.Database`` opens it)
  and PostgreSQL (a fresh schema in the test server; its fsync and synchronous_commit are reported);
* the **append path** (the 20,000/s target: validated review -> leaf -> durable commit -> signed receipt;
  the service's ``_verify_attestation`` replaced by a no-op in a subclass) at group commits of at most 256,
  1,024 and 4,096 reviews (``max_batch``), and the **full admission** as shipped (attestation recovered) at
  the largest batch, with the CPU per review of each and the cores other processes kept busy meanwhile;
* a per-stage cost breakdown in microseconds per review, one thread, measured on the same inputs with the
  functions the service calls (canonicalise, hash, seal, verify attestation, sign receipt, sign a batch of
  receipts here and in the service's signing process), and the DB commit per review as the sequencer measured
  it during the runs. CPU per review includes the signing process's.

``--json`` prints one JSON object with every figure on the last line of stdout. Unless ``--no-write``, the
table, the method and notes replace the section between ``<!-- reviews:begin -->`` and ``<!-- reviews:end -->``
of BENCHMARKS.md (nothing else in the file is touched).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
from eth_utils.crypto import keccak

from ledger import reviewlog
from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation
from ledger.receipts import ReceiptSigner
from ledger.reviewlog import ReviewLogService, ReviewSubmission, attestation_digest
from ledger.reviews import (
    ReviewLeaf,
    _canonical_leaf_bytes,
    content_commitment,
    order_commitment,
    reviewer_pseudonym,
)
from ledger.storage import Database, scratch_schema
from ledger.vault import Vault

BENCHMARKS = REPO / "BENCHMARKS.md"
BEGIN, END = _report.markers("reviews")
TARGET = 20_000
DEFAULT_PG = os.environ.get("TRUSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# Test keys derived from names (never real ones), the same as the tests use.
CHAIN_ID = 31337
GOVERNANCE = "0x" + keccak(text="trustledger-test-governance")[12:].hex()
REVIEW_LOG = "0x" + keccak(text="trustledger-test-review-log")[12:].hex()
OPERATOR_KEY = keccak(text="trustledger-test-receipt-key")
ORDER_SIGNER_KEY = keccak(text="trustledger-test-actor:order_signer")
ORDER_SIGNER = Account.from_key(ORDER_SIGNER_KEY).address
MERCHANT = Account.from_key(keccak(text="trustledger-test-merchant")).address
BUYER = Account.from_key(keccak(text="trustledger-test-buyer")).address
PRODUCT = keccak(text="gtin:06901234567892")
PSEUDONYM_KEY = keccak(text="trustledger-test-pseudonym-key")
CONTENT_KEY = keccak(text="trustledger-test-content-key")
ORDER_SALT = keccak(text="trustledger-test-order-salt")
TEXT = "質量很好，物流很快。The kettle boils in 3 minutes, and the lid closes properly."


def log(msg: str) -> None:
    print(f"[reviews] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ inputs


def make_submissions(n: int) -> list[ReviewSubmission]:
    """n reviews of distinct purchases. Attestations are signed with coincurve over ``attestation_digest``
    (eth-account takes milliseconds each); the first is checked against eth-account's signature."""
    key = coincurve.PrivateKey(ORDER_SIGNER_KEY)
    now = int(time.time())
    subs = []
    for i in range(n):
        att = PurchaseAttestation(
            order_commitment=order_commitment(f"ORD-{i}", MERCHANT, ORDER_SALT),
            merchant=MERCHANT,
            product_id=PRODUCT,
            buyer=BUYER,
            purchased_at=now - 86_400,
        )
        rsv = key.sign_recoverable(attestation_digest(att, chain_id=CHAIN_ID, governance=GOVERNANCE), hasher=None)
        signature = rsv[:64] + bytes((rsv[64] + 27,))
        if i == 0:
            reference = sign_purchase_attestation(ORDER_SIGNER_KEY, att, chain_id=CHAIN_ID, governance=GOVERNANCE)
            assert signature == reference, "coincurve and eth-account disagree on the attestation signature"
        subs.append(ReviewSubmission(product_id=PRODUCT, merchant=MERCHANT, rating=1 + i % 5, text=f"{TEXT} #{i}",
                                     user_id=f"user-{i % 5000}", attestation=att, attestation_signature=signature))
    return subs


class _Unverified(ReviewLogService):
    """The service with the attestation check switched off: only to measure what the check costs."""

    def _verify_attestation(self, *args: Any) -> None:
        return None


def service_for(db: Database, max_batch: int, verify: bool) -> ReviewLogService:
    cls = ReviewLogService if verify else _Unverified
    return cls(db, receipt_signer=ReceiptSigner(OPERATOR_KEY, chain_id=CHAIN_ID, review_log=REVIEW_LOG,
                                                max_merge_delay=86_400),
               vault=Vault(CONTENT_KEY), pseudonym_key=PSEUDONYM_KEY, order_signer=ORDER_SIGNER,
               chain_id=CHAIN_ID, governance=GOVERNANCE, max_batch=max_batch)


# ------------------------------------------------------------------------------------------ databases


@contextlib.contextmanager
def fresh(backend: str, pg_url: str) -> Iterator[Database]:
    """A fresh, migrated database for one run: a SQLite file in a temporary directory or a PostgreSQL schema."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="trustledger-bench-") as tmp:
            db = Database(f"sqlite:///{tmp}/reviews.db")
            try:
                db.migrate()
                yield db
            finally:
                db.dispose()
    else:
        with scratch_schema(pg_url, prefix="bench") as db:
            db.migrate()
            yield db


def pg_settings(pg_url: str) -> dict[str, str]:
    db = Database(pg_url)
    try:
        with db.engine.connect() as conn:
            return {name: str(conn.execute(sa.text(f"SHOW {name}")).scalar_one())
                    for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method")}
    finally:
        db.dispose()


# ------------------------------------------------------------------------------------------ runs


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot (all cores, every process), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _signer_cpu_seconds() -> float:
    """CPU seconds of the service's receipt signing process (``ledger.reviewlog``'s one per interpreter), from
    /proc/<pid>/stat: its work is the service's, so it is counted with this process and not as another's."""
    pool = reviewlog._signing_executor
    total = 0.0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def run(backend: str, pg_url: str, subs: list[ReviewSubmission], max_batch: int, verify: bool) -> dict[str, Any]:
    with fresh(backend, pg_url) as db:
        service = service_for(db, max_batch, verify)
        service.start()
        busy0, cpu0, child0 = _busy_seconds(), time.process_time(), _signer_cpu_seconds()
        started = time.perf_counter()
        results = service.submit_many(subs)
        wall = time.perf_counter() - started
        child = _signer_cpu_seconds() - child0
        cpu, busy1 = time.process_time() - cpu0 + child, _busy_seconds()
        service.close()
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise SystemExit(f"{len(errors)} reviews failed, first: {errors[0]!r}")
        with db.read() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM log_leaves")).scalar_one()
        if stored != len(subs) or service.size != len(subs):
            raise SystemExit(f"expected {len(subs)} leaves, found {stored}")
        stats = service.stats()
    n = len(subs)
    out = {
        "backend": backend, "max_batch": max_batch, "verify": verify, "reviews": n,
        "seconds": round(wall, 3), "per_second": round(n / wall), "us_per_review": round(wall / n * 1e6, 1),
        "batches": int(stats["batches"]), "commit_us_per_review": round(stats["commit_s"] / n * 1e6, 1),
        "prepare_us_per_review": round(stats["prepare_s"] / n * 1e6, 1),
        "sign_us_per_review": round(stats["sign_s"] / n * 1e6, 1),
        # CPU of this process (every thread) and of the signing process per review, and the cores they kept
        # busy on average
        "cpu_us_per_review": round(cpu / n * 1e6, 1), "cores_used": round(cpu / wall, 2),
        "signing_process_cpu_us_per_review": round(child / n * 1e6, 1),
        # cores busy with other processes meanwhile (the machine is shared): what was left for this run
        "other_cores_busy": (round(max(0.0, busy1 - busy0 - cpu) / wall, 2)
                             if busy0 is not None and busy1 is not None else None),
    }
    log(f"{backend:10s} batch {max_batch:5d} verify {verify!s:5s}: {out['per_second']:>7,}/s "
        f"({out['batches']} batches, {out['cpu_us_per_review']} us CPU/review, {out['cores_used']} cores, "
        f"others {out['other_cores_busy']} cores)")
    return out


def best_us(fn: Callable[[], object], n: int, repeat: int = 5) -> float:
    """Best of ``repeat`` runs of ``n`` calls, in microseconds per call: the run least disturbed by load."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def best_cpu_us(fn: Callable[[], object], repeat: int = 3) -> float:
    """Least CPU time of this process (every thread) over ``repeat`` calls of ``fn``, in microseconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best * 1e6


def stages(subs: list[ReviewSubmission]) -> dict[str, float]:
    """Per-review cost of each stage, one thread, on the benchmark's own inputs."""
    with fresh("sqlite", "") as db:
        service = service_for(db, 4096, True)
        unverified = service_for(db, 4096, False)
        sub = subs[0]
        salt = os.urandom(32)
        reviewer = reviewer_pseudonym(sub.user_id, PSEUDONYM_KEY)
        content = content_commitment(sub.text, salt)
        leaf = ReviewLeaf(product_id=PRODUCT, merchant=MERCHANT, rating=4, content=content, reviewer=reviewer,
                          purchase=sub.attestation.order_commitment, submitted_at=int(time.time()))
        canonical = leaf.canonical_bytes()
        leaf_hash = hashlib.sha256(b"\x00" + canonical).digest()
        vault = Vault(CONTENT_KEY)
        plain = salt + sub.text.encode()
        signer = ReceiptSigner(OPERATOR_KEY, chain_id=CHAIN_ID, review_log=REVIEW_LOG, max_merge_delay=86_400)
        att = sub.attestation
        fields = (att.order_commitment, bytes.fromhex(att.merchant[2:]), att.product_id,
                  bytes.fromhex(att.buyer[2:]), att.purchased_at)
        now = time.time()
        hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(4096)]
        times = [1_800_000_000] * len(hashes)
        pool = reviewlog._signing_pool()
        result = {
            "validate + commitments (pseudonym, content hash)": best_us(
                lambda: (reviewer_pseudonym(sub.user_id, PSEUDONYM_KEY), content_commitment(sub.text, salt)), 5000),
            "leaf (RFC 8785 canonical bytes formatted from the checked fields, as the service does)": best_us(
                lambda: _canonical_leaf_bytes(PRODUCT, MERCHANT.lower(), 4, content, reviewer, att.order_commitment,
                                              1_800_000_000), 5000),
            "hash (SHA-256 leaf hash)": best_us(lambda: hashlib.sha256(b"\x00" + canonical).digest(), 20000),
            "seal (AES-256-GCM)": best_us(lambda: vault.seal(plain, record=leaf_hash), 20000),
            "verify attestation (EIP-712 digest + coincurve recovery)": best_us(
                lambda: service._verify_attestation(*fields, sub.attestation_signature), 3000),
            "sign receipt (coincurve)": best_us(lambda: signer.sign(leaf_hash, 7, 1_800_000_000), 3000),
            SIGN_BATCH_STAGE: best_us(lambda: signer.sign_batch(hashes, 7, times), 1, repeat=3) / len(hashes),
            SIGN_PROCESS_STAGE: best_us(lambda: signer.sign_batch(hashes, 7, times, executor=pool), 1,
                                        repeat=3) / len(hashes),
            SIGN_PARENT_STAGE: best_cpu_us(lambda: signer.sign_batch(hashes, 7, times, executor=pool),
                                           repeat=3) / len(hashes),
            "whole preparation (service._prepare)": best_us(lambda: service._prepare(sub, now), 3000),
            "whole preparation, append path (no attestation recovery)": best_us(
                lambda: unverified._prepare(sub, now), 3000),
        }
        service.close()
        unverified.close()
    return {k: round(v, 1) for k, v in result.items()}


# ------------------------------------------------------------------------------------------ report




def method(args: argparse.Namespace, wall: float, pg: dict[str, str] | None, load: tuple[float, ...]) -> dict[str, Any]:
    import sqlite3
    from importlib.metadata import version

    u = os.uname()
    return {
        "machine": {"uname": f"{u.sysname} {u.release} {u.machine}", "cpu": _report.cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average_at_start": [round(x, 2) for x in load]},
        "versions": {"sqlite": sqlite3.sqlite_version, "coincurve": version("coincurve"),
                     "cryptography": version("cryptography"), "sqlalchemy": version("sqlalchemy"),
                     "psycopg": version("psycopg")},
        "postgresql": pg,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
        "wall_seconds": round(wall, 1),
        "reviews_per_run": args.reviews,
    }


APPEND = "append path"
ADMISSION = "full admission"
VERIFY_STAGE = "verify attestation (EIP-712 digest + coincurve recovery)"
SIGN_STAGE = "sign receipt (coincurve)"
SIGN_BATCH_STAGE = "sign receipts, batch of 4,096 (ReceiptSigner.sign_batch, on this thread)"
SIGN_PROCESS_STAGE = ("sign receipts, batch of 4,096, in the service's signing process (wall: digests and "
                      "signatures there, IPC, receipts built here)")
SIGN_PARENT_STAGE = ("  of which CPU of the service's process (IPC: pickling 32-byte hashes, unpickling 65-byte "
                     "signatures, building the receipts)")


def _path(r: dict[str, Any]) -> str:
    return ADMISSION if r["verify"] else APPEND


def markdown_runs(runs: list[dict[str, Any]]) -> str:
    best = max(r["per_second"] for r in runs)
    sqlite_ref = {(r["max_batch"], r["verify"]): r["per_second"] for r in runs if r["backend"] == "sqlite"}
    lines = [("| database | path | max batch | reviews/s | vs best | vs SQLite, same path and batch "
              "| µs/review (wall) | CPU µs/review | cores used | other processes, cores | batches "
              "| DB commit µs/review | target 20,000/s |"),
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in runs:
        same = sqlite_ref.get((r["max_batch"], r["verify"]))
        vs_sqlite = f"{r['per_second'] / same:.2f}" if same else "—"
        met = "met" if r["per_second"] >= TARGET else f"not met ({r['per_second'] / TARGET:.0%})"
        if r["verify"]:
            met = f"— ({r['per_second'] / TARGET:.0%}; the target names the append path)"
        others = "—" if r["other_cores_busy"] is None else f"{r['other_cores_busy']:.2f}"
        lines.append(f"| {r['backend']} | {_path(r)} | {r['max_batch']:,} | {r['per_second']:,} "
                     f"| {r['per_second'] / best:.2f} | {vs_sqlite} | {r['us_per_review']:.1f} "
                     f"| {r['cpu_us_per_review']:.1f} | {r['cores_used']:.2f} | {others} | {r['batches']} "
                     f"| {r['commit_us_per_review']:.1f} | {met} |")
    return "\n".join(lines)


def markdown_stages(st: dict[str, float], runs: list[dict[str, Any]]) -> str:
    lines = ["| stage (one thread) | µs/review |", "|---|--:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in st.items()]
    for backend in ("sqlite", "postgresql"):
        rs = [r for r in runs if r["backend"] == backend and not r["verify"]]
        if rs:
            big = max(rs, key=lambda r: r["max_batch"])
            lines.append(f"| DB commit, {backend} (sequencer thread, batch {big['max_batch']:,}: purchase probe, "
                         f"inserts, subtrees, CAS, commit; wall time in the pipeline) | "
                         f"{big['commit_us_per_review']:.1f} |")
    return "\n".join(lines)


def render(runs: list[dict[str, Any]], st: dict[str, float], meth: dict[str, Any]) -> str:
    m = meth["machine"]
    appends = [r for r in runs if not r["verify"]]
    full = [r for r in runs if r["verify"]]
    best = max(appends or runs, key=lambda r: r["per_second"])
    best_full = max(full, key=lambda r: r["per_second"]) if full else None
    verify_us = st[VERIFY_STAGE]
    pg = meth["postgresql"]
    cores = m["cores"] or 1
    if best["per_second"] >= TARGET:
        verdict = (f"The {TARGET:,}/s target (append path: validated review → leaf → durable commit → signed "
                   f"receipt) is **met**: {best['per_second']:,}/s ({best['backend']}, batch {best['max_batch']:,}).")
    else:
        verdict = (f"The {TARGET:,}/s target (append path: validated review → leaf → durable commit → signed "
                   f"receipt) is **not met** in this run: {best['per_second']:,}/s ({best['backend']}, batch "
                   f"{best['max_batch']:,}), {best['per_second'] / TARGET:.0%} of it.")
    full_line = ""
    if best_full is not None:
        per_core = 1e6 / verify_us
        full_line = (
            f" Full admission, with the attestation recovered in the service as production does: "
            f"{best_full['per_second']:,}/s ({best_full['backend']}, batch {best_full['max_batch']:,}), "
            f"{best_full['cpu_us_per_review']:.0f} µs of CPU per review against "
            f"{next((r['cpu_us_per_review'] for r in appends if r['backend'] == best_full['backend'] and r['max_batch'] == best_full['max_batch']), float('nan')):.0f} "
            f"on the append path. The check itself is {verify_us:.0f} µs of C per review (GIL released): one core "
            f"verifies about {per_core:,.0f} attestations/s, so each further core, or an API replica checking "
            "attestations before they reach the sequencer, adds that much admission capacity.")
    big = max(appends or runs, key=lambda r: (r["backend"] == best["backend"], r["max_batch"]))
    cpu_us = big["cpu_us_per_review"]
    others = big["other_cores_busy"]
    left = cores - (others or 0.0)
    budget = cores * 1e6 / TARGET
    why = (
        f"Where the append path stands: {cpu_us:.0f} µs of CPU per review in all (batch {big['max_batch']:,}, "
        f"{big['backend']}): at {TARGET:,}/s that is {cpu_us * TARGET / 1e6:.2f} cores of the machine's {cores}. "
        + (f"During that run other processes kept {others:.2f} cores busy, leaving this one {left:.2f}: "
           f"at most {1e6 * left / cpu_us:,.0f}/s for its {cpu_us:.0f} µs/review, and it reached "
           f"{big['per_second']:,}/s using {big['cores_used']:.2f} cores. "
           if others is not None else "")
        + f"Of its CPU, {big.get('signing_process_cpu_us_per_review', 0.0):.0f} µs per review was the receipt "
        f"signing process's (digests and signatures, {st[SIGN_BATCH_STAGE]:.0f} µs per review on one thread), "
        f"which runs beside the service on the other core for {st[SIGN_PARENT_STAGE]:.1f} µs of the service's "
        f"own CPU per review (IPC and building the receipts). On {cores} free cores the budget is {budget:.0f} µs "
        "of CPU per review, but within the service's process only the C parts (SQLite's own work, AES-GCM, "
        "SHA-256) run beside the Python parts, which hold the GIL (validation, leaf, sequencer loop, receipt "
        "objects, completion).")
    lines = [
        BEGIN,
        "## Review log: appends per second",
        "",
        (f"Generated by `{meth['command']}` on {meth['date']} ({meth['wall_seconds']} s wall). "
         "Do not edit by hand: rerun the script."),
        "",
        verdict + full_line,
        "",
        markdown_runs(runs),
        "",
        ("Each row: a fresh database, "
         f"{meth['reviews_per_run']:,} distinct reviews handed to `ReviewLogService.submit_many` at once, timed from "
         "the first submission to the last receipt. A review counts when its batch has committed and its receipt "
         "is signed. **append path**: every check but the attestation's signature recovery (the service's "
         "`_verify_attestation` replaced by a no-op in a subclass: a measurement, not a mode of the service); "
         "**full admission**: the service as shipped. `CPU µs/review` is the CPU time of this process (all "
         "threads) and of the service's receipt signing process over the run, divided by the reviews; `cores used` is that CPU time over the wall time; `other "
         "processes` is how many cores the rest of the machine kept busy meanwhile (from /proc/stat): the machine "
         "is shared, so compare rows of one run, and read throughput against the cores that were left (on "
         "PostgreSQL it includes the server's backend, which does the database's share of the work). "
         "`vs best` and `vs SQLite` are ratios within this run; `batches` is how many group commits the sequencer "
         "made (it takes whatever is queued, up to the max batch)."),
        "",
        why,
        "",
        "### Where the time goes",
        "",
        markdown_stages(st, runs),
        "",
        "### Method",
        "",
        ("- The service as shipped: an intake thread batches queued submissions and prepares them on a pool of "
         f"{m['cores']} threads (validation, attestation recovery, leaf and its row, sealing), the sequencer thread "
         "appends each batch in one transaction (purchase probe on the unique index, leaves, sealed content, "
         "completed subtrees, compare-and-set of `log_state.tree_size`, commit; on SQLite as multi-row INSERTs), "
         "and after the commit the receipts are signed: a batch of 256 or more in the service's receipt signing "
         "process (spawned once per interpreter), a smaller one on the pool. `submit_many` waits on one "
         "completion for the whole call. `CPU µs/review` and `cores used` include the signing process's CPU "
         "(from /proc/<pid>/stat), and `other processes` excludes it."),
        ("- SQLite: a file in a temporary directory, WAL, `synchronous=FULL`, `BEGIN IMMEDIATE` (as "
         f"`ledger.storage.Database` opens it), SQLite {meth['versions']['sqlite']}. "
         + (f"PostgreSQL {pg['server_version']} on 127.0.0.1 over TCP, a fresh schema per run, fsync "
            f"{pg['fsync']}, synchronous_commit {pg['synchronous_commit']}, wal_sync_method "
            f"{pg['wal_sync_method']}, psycopg {meth['versions']['psycopg']}." if pg else "PostgreSQL not run.")),
        ("- Attestations are signed with coincurve over `ledger.reviewlog.attestation_digest` to build the inputs "
         "quickly (the first one is checked byte for byte against eth-account's `sign_purchase_attestation`)."),
        ("- Stage costs: best of 5 repetitions of a few thousand calls on one thread (batch signing: best of 3 "
         "batches of 4,096), same inputs, the very functions the service calls; DB commit per review is the sequencer's own timer (time inside `_append`) "
         "divided by the reviews."),
        (f"- Machine: `{m['uname']}`, {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average at start "
         f"{', '.join(str(x) for x in m['load_average_at_start'])}. coincurve "
         f"{meth['versions']['coincurve']}, cryptography {meth['versions']['cryptography']}, SQLAlchemy "
         f"{meth['versions']['sqlalchemy']}."),
        END,
    ]
    return "\n".join(lines) + "\n"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=20_000, help="reviews per run (default 20,000)")
    parser.add_argument("--batches", default="256,1024,4096", help="max batch sizes to compare")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"PostgreSQL server (default {DEFAULT_PG})")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON object (last line)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    load = os.getloadavg()
    started = time.perf_counter()
    pg = pg_settings(args.pg_url) if "postgresql" in backends else None
    log(f"signing {args.reviews:,} attestations")
    subs = make_submissions(args.reviews)
    log("warm-up run (not reported)")
    run("sqlite", args.pg_url, subs[: min(2000, len(subs))], 1024, True)
    run("sqlite", args.pg_url, subs[: min(2000, len(subs))], 1024, False)
    runs = []
    for backend in backends:
        for batch in batches:  # the target's path: validated review -> leaf -> durable commit -> receipt
            runs.append(run(backend, args.pg_url, subs, batch, False))
        runs.append(run(backend, args.pg_url, subs, max(batches), True))  # as shipped: with the attestation
    log("stage costs")
    st = stages(subs)
    meth = method(args, time.perf_counter() - started, pg, load)
    section = render(runs, st, meth)
    print(section)
    if not args.no_write:
        _report.write_section("reviews", section)
        log(f"wrote {BENCHMARKS.relative_to(REPO)}")
    if args.json:
        print(json.dumps({"runs": runs, "stages_us": st, "method": meth, "target_per_second": TARGET}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
