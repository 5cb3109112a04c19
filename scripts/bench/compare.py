#!/usr/bin/env python
"""Side by side: TrustLedger against EAS and OpenAttestation's DocumentStore, its API with 1 and 2 workers,
and how its costs grow with the log. One command, a few minutes on two cores.

    python scripts/bench/compare.py [--json] [--no-write] [--no-api] [--api-single N] [--api-batches N]

Why one script: the question a reader brings is "what would this cost me instead of X", and the answer is only
fair when every system is measured on the same chain, with the same inputs, in the same run. So:

1. **Gas per record.** One Anvil chain (cancun) holds TrustLedger (``ledger.deploy``), EAS (its published
   Hardhat artifacts, ``_eas.py``) and OpenAttestation's DocumentStore (the bytecode
   ``@govtechsg/document-store`` publishes, ``_docstore.py``). Certificates and revocations reuse
   ``gas.py``'s measurement (issue, anchor, issueBatch at 1/10/100, revoke against attest,
   attestByDelegation, multiAttest, revoke: same code, same inputs, so the figures match the gas section),
   beside DocumentStore's ``issue``, ``bulkIssue`` and
   ``revoke``. Anchored reviews: ``appendCheckpoint`` of n new leaves on a ~1M-leaf RFC 6962 log, over
   several random starting sizes, divided by n (n = 1 ... 10,000), beside EAS ``multiTimestamp`` of n hashes,
   EAS ``timestamp(root)`` / n and DocumentStore ``issue(root)`` / n. Ratios are TrustLedger / peer.
2. **API, 1 and 2 workers.** ``uvicorn api.app:app --workers N`` over one PostgreSQL scratch schema (the
   replicas share it: docs/review-log.md, "Several replicas"), a fresh Anvil each, loaded by ``api.py``'s
   own client code (pre-signed attestations, aiohttp) with a smaller load; reviews per second and the MMD p99.
3. **Growth with the log.** Proof sizes (hashes, bytes), Python verification time (``ledger.merkle``), the
   contract's ``verifyInclusion`` gas (``eth_estimateGas``) and ``appendCheckpoint`` gas for +1,024 leaves at
   10^3 ... 10^9 leaves: a real tree up to 10^6, beyond that proofs of random hashes with the exact RFC 9162
   lengths whose roots are computed from them, so the chain verifies them like real ones.
4. **Plot.** Gas per record against batch size, log-log, ``docs/bench/gas-per-record.png``.

``--json`` prints one JSON object on the last line. Unless ``--no-write``, the ``compare`` section of
BENCHMARKS.md is replaced and the plot rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import hashlib
import importlib.util
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:  # after the repository: scripts/bench/api.py must never shadow the api package
    sys.path.append(str(HERE))

import _docstore
import _eas
import _report
import gas
from eth_utils import keccak

from ledger.merkle import (
    MerkleTree,
    _consistency_proof_length,
    _inclusion_proof_length,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests import devchain

PLOT = REPO / "docs" / "bench" / "gas-per-record.png"
CERT_BATCHES = (1, 10, 100)
REVIEW_BATCHES = (1, 10, 100, 1_000, 10_000)
MULTI_TIMESTAMP_MAX = 1_000  # 10,000 EAS timestamps would be ~220M gas: no block holds it
CHECKPOINT_STARTS = 6
CHECKPOINT_LO, CHECKPOINT_HI = 1_000_000, 1_048_576
TREE_LEAVES = CHECKPOINT_HI + max(REVIEW_BATCHES)
GROWTH_SIZES = tuple(10**k for k in range(3, 10))
REAL_TREE_MAX = 10**6
EXTENSION = 1_024
SEED = 6962
PG_URL = os.environ.get("TRUSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
HASH_BYTES = 32

_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[compare {time.monotonic() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- pure: proofs and sizes


def proof_sizes(n: int, extension: int = EXTENSION) -> dict[str, int]:
    """Hash counts of the proofs a log of ``n`` leaves asks for, from the RFC 9162 lengths alone.

    Proofs are O(log n) hashes whatever the tree holds, so sizes at 10^9 leaves need no such tree: the
    oldest leaf's inclusion proof is the full path (``ceil(log2 n)`` hashes), the newest leaf's is as long as
    ``n - 1`` has one bits, and a checkpoint of ``extension`` new leaves carries the consistency proof
    ``n -> n + extension``.
    """
    if n < 2:
        raise ValueError("a log of fewer than 2 leaves has no proof worth measuring")
    oldest = _inclusion_proof_length(0, n)
    newest = _inclusion_proof_length(n - 1, n)
    consistency = _consistency_proof_length(n, n + extension)
    return {"leaves": n, "inclusion_oldest": oldest, "inclusion_newest": newest,
            "inclusion_max": (n - 1).bit_length(), "consistency": consistency,
            "inclusion_oldest_bytes": HASH_BYTES * oldest, "consistency_bytes": HASH_BYTES * consistency}


def _random_hash(rng: random.Random) -> bytes:
    """32 random bytes with no zero byte: calldata gas (16 per non-zero byte) is then the same every run."""
    return bytes(rng.randrange(1, 256) for _ in range(HASH_BYTES))


def simulated_inclusion(index: int, size: int, rng: random.Random) -> tuple[bytes, list[bytes], bytes]:
    """(leaf hash, proof, root) for a tree too large to build: random hashes of the exact RFC 9162 length,
    and the root they imply, so that the proof verifies exactly as a real one of that shape would."""
    leaf = _random_hash(rng)
    proof = [_random_hash(rng) for _ in range(_inclusion_proof_length(index, size))]
    return leaf, proof, root_from_inclusion_proof(index, size, leaf, proof)


def simulated_consistency(old: int, new: int, rng: random.Random) -> tuple[bytes, bytes, list[bytes]]:
    """(old root, new root, proof) of random hashes that verify as the consistency proof ``old -> new``.

    Walks RFC 9162 §2.1.4.2 forwards: the roots are whatever the random proof hashes to, the way
    ``verify_consistency`` recomputes them. When ``old`` is a power of two the old root is itself the seed of
    the walk (and not part of the proof), so it is drawn at random too.
    """
    if not 0 < old < new:
        raise ValueError("need 0 < old < new")
    proof = [_random_hash(rng) for _ in range(_consistency_proof_length(old, new))]
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, _random_hash(rng))
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    verify_consistency(old, new, fr, sr, proof)  # raises if the walk above is not the RFC's
    return fr, sr, proof


def time_call(fn: Any, *, calls: int = 2_000, repeats: int = 5) -> float:
    """Best over ``repeats`` of the mean µs of one call (``calls`` in a row).

    The best, not the median: the machine is shared, and other work can only make a repeat slower, so the
    fastest one is the closest to what the verification itself costs.
    """
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return min(samples)


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` for a table cell: two decimals, or two significant digits below 0.1; "—" when missing."""
    if a is None or not b:
        return "—"
    x = a / b
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def num(v: float | None) -> str:
    """Gas for a table cell: whole numbers with separators, one decimal below 1,000 (per-record figures)."""
    if v is None:
        return "—"
    return f"{v:,.1f}" if abs(v) < 1_000 else f"{v:,.0f}"


# ----------------------------------------------------------------------------------- 1. gas on one chain


def measure_docstore(w: Any, ds: _docstore.DocumentStore) -> dict[str, Any]:
    """DocumentStore's issue, bulkIssue and revoke, with ``gas.lower_bound`` floors for the single-slot ones.

    Every document hash and root is drawn with no zero byte, so calldata is the same on every run.
    """
    f = ds.contract.functions
    rng = random.Random(SEED + 1)
    out: dict[str, Any] = {"deploy_gas": ds.deploy_gas, "root": {}, "bulk": {}}
    m = w.measure("documentstore issue(root)", w.issuer, f.issue(_random_hash(rng)))
    out["issue"] = m.gas
    out["issue_floor"] = gas.lower_bound(m, new_slots=1)["value"]
    for n in REVIEW_BATCHES:  # a root's gas does not depend on the batch behind it; measured per n anyway
        root = _random_hash(rng)
        out["root"][n] = w.measure(f"documentstore issue(root of {n})", w.issuer, f.issue(root)).gas
    for n in CERT_BATCHES:
        documents = [_random_hash(rng) for _ in range(n)]
        m = w.measure(f"documentstore bulkIssue {n}", w.issuer, f.bulkIssue(documents))
        out["bulk"][n] = {"total": m.gas, "per": m.gas / n,
                          "floor": gas.lower_bound(m, new_slots=n, per=n)["value"]}
    target = _random_hash(rng)
    w.issuer.send(f.issue(target))
    m = w.measure("documentstore revoke", w.issuer, f.revoke(target))
    out["revoke"] = m.gas
    out["revoke_floor"] = gas.lower_bound(m, new_slots=1)["value"]  # revocation writes a new slot here
    if not f.isRevoked(target).call():
        raise RuntimeError("DocumentStore: the revoked document does not read as revoked")
    return out


def measure_eas_timestamps(w: Any, rng: random.Random) -> dict[str, Any]:
    """EAS ``timestamp(root)`` once and ``multiTimestamp`` of n hashes (n up to MULTI_TIMESTAMP_MAX)."""
    eas = w.eas.eas.functions
    root = w.measure("eas timestamp(root)", w.operator, eas.timestamp(_random_hash(rng))).gas
    out: dict[str, Any] = {"root": root, "multi": {}}
    for n in REVIEW_BATCHES:
        if n > MULTI_TIMESTAMP_MAX:
            continue
        out["multi"][n] = w.measure(f"eas multiTimestamp {n}", w.operator,
                                    eas.multiTimestamp([_random_hash(rng) for _ in range(n)])).gas
    return out


def checkpoint_gas(w: Any, old: int, old_root: bytes, new: int, new_root: bytes, proof: list[bytes]) -> int:
    """Gas of ``appendCheckpoint(new)`` as the second checkpoint of a fresh log (first at ``old``, no proof),
    inside a snapshot that is reverted: each figure is independent of the others' order."""
    review_log = w.d.review_log.functions
    snap = w.chain.snapshot()
    try:
        w.operator.send(review_log.appendCheckpoint(old, old_root, []))
        return w.measure(f"appendCheckpoint {old} -> {new}", w.operator,
                         review_log.appendCheckpoint(new, new_root, proof)).gas
    finally:
        w.chain.revert(snap)
        w.reset_nonces()


def inclusion_gas(w: Any, size: int, root: bytes, leaf_index: int, leaf: bytes,
                  proof: list[bytes]) -> dict[str, int]:
    """``eth_estimateGas`` of ``verifyInclusion`` against checkpoint 0 of a log anchored at ``size`` (what a
    contract or a transaction that checks a review on chain would pay, 21,000 and calldata included), and
    its execution part alone (what a contract calling it pays, give or take the call's own overhead)."""
    review_log = w.d.review_log.functions
    snap = w.chain.snapshot()
    try:
        w.operator.send(review_log.appendCheckpoint(size, root, []))
        call = review_log.verifyInclusion(0, size, root, leaf_index, leaf, proof)
        if not call.call():
            raise RuntimeError(f"verifyInclusion refused the proof of leaf {leaf_index} in {size}")
        total = int(call.estimate_gas({"from": w.operator.address}))
        calldata = gas.calldata_gas(bytes.fromhex(call._encode_transaction_data()[2:]))
        return {"total": total, "execution": total - gas.G_TX - calldata}
    finally:
        w.chain.revert(snap)
        w.reset_nonces()


def synthetic_tree(leaves: int) -> MerkleTree:
    t0 = time.monotonic()
    blob = b"".join(hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(leaves))
    tree = MerkleTree(blob[i : i + 32] for i in range(0, len(blob), 32))
    log(f"tree of {leaves:,} synthetic leaf hashes in {time.monotonic() - t0:.1f} s")
    return tree


def measure_reviews(w: Any, tree: MerkleTree) -> dict[str, Any]:
    """appendCheckpoint of n new leaves at CHECKPOINT_STARTS random log sizes in [1,000,000, 1,048,576)."""
    rng = random.Random(SEED)
    starts = sorted(rng.randrange(CHECKPOINT_LO, CHECKPOINT_HI) for _ in range(CHECKPOINT_STARTS))
    out: dict[str, Any] = {"starts": starts, "by_batch": {}}
    for n in REVIEW_BATCHES:
        gases = [checkpoint_gas(w, s, tree.root(s), s + n, tree.root(s + n), tree.consistency_proof(s, s + n))
                 for s in starts]
        out["by_batch"][n] = {"mean": statistics.fmean(gases), "max": max(gases), "min": min(gases),
                              "per_mean": statistics.fmean(gases) / n, "per_max": max(gases) / n}
        log(f"checkpoint +{n:,}: mean {statistics.fmean(gases):,.0f}, max {max(gases):,}")
    return out


def measure_growth(w: Any, tree: MerkleTree) -> list[dict[str, Any]]:
    """Per log size: proof sizes, Python verification µs, verifyInclusion and appendCheckpoint(+1,024) gas."""
    rng = random.Random(SEED + 2)
    rows = []
    for n in GROWTH_SIZES:
        row: dict[str, Any] = proof_sizes(n)
        if n <= REAL_TREE_MAX:
            row["source"] = "real tree"
            leaf, proof, root = tree.leaf_hash(0), tree.inclusion_proof(0, n), tree.root(n)
            old_root, new_root = root, tree.root(n + EXTENSION)
            cproof = tree.consistency_proof(n, n + EXTENSION)
        else:
            row["source"] = "simulated"
            leaf, proof, root = simulated_inclusion(0, n, rng)
            old_root, new_root, cproof = simulated_consistency(n, n + EXTENSION, rng)
        if len(proof) != row["inclusion_oldest"] or len(cproof) != row["consistency"]:
            raise AssertionError(f"proof lengths at {n} differ from proof_sizes()")
        row["py_inclusion_us"] = time_call(lambda: verify_inclusion(0, n, leaf, proof, root))  # noqa: B023
        row["py_consistency_us"] = time_call(
            lambda: verify_consistency(n, n + EXTENSION, old_root, new_root, cproof))  # noqa: B023
        vi = inclusion_gas(w, n, root, 0, leaf, proof)
        row["verify_inclusion_gas"], row["verify_inclusion_execution_gas"] = vi["total"], vi["execution"]
        row["checkpoint_gas"] = checkpoint_gas(w, n, old_root, n + EXTENSION, new_root, cproof)
        log(f"growth {n:,}: {row['inclusion_oldest']} / {row['consistency']} hashes, "
            f"verifyInclusion {row['verify_inclusion_gas']:,}, checkpoint {row['checkpoint_gas']:,}")
        rows.append(row)
    return rows


def run_gas() -> dict[str, Any]:
    """Everything that needs the chain, on one Anvil, in one run."""
    tree = synthetic_tree(TREE_LEAVES)
    chain = devchain.start("anvil")
    try:
        log(f"chain: {chain.w3.client_version}")
        w = gas.setup(chain)
        gas.ensure_block_gas_limit(chain, 60_000_000)
        ds = _docstore.DocumentStore.deploy(chain.w3, w.issuer)
        log("certificates: TrustLedger and EAS (gas.run_certificates)")
        certs = gas.run_certificates(w)
        log("DocumentStore")
        docstore = measure_docstore(w, ds)
        eas_ts = measure_eas_timestamps(w, random.Random(SEED + 3))
        reviews = measure_reviews(w, tree)
        growth = measure_growth(w, tree)
        info = gas.chain_info(chain)
        ds_info = {"package": f"@govtechsg/document-store {_docstore.package_version()}",
                   "contract_version": ds.version(), **_docstore.compiler_info(ds.runtime()),
                   "deploy_gas": ds.deploy_gas}
        eas_info = {"package": f"@ethereum-attestation-service/eas-contracts {_eas.package_version()}",
                    "contract_version": w.eas.version(), "solc": _eas.compiler_info("EAS")["solc"]}
    finally:
        chain.close()
    return {"certificates": certs, "docstore": docstore, "eas_timestamps": eas_ts, "reviews": reviews,
            "growth": growth, "chain": info, "docstore_info": ds_info, "eas_info": eas_info}


def gas_rows(g: dict[str, Any]) -> list[dict[str, Any]]:
    """Certificate and revocation rows: one dict per row (what the table and --json show)."""
    c, d = g["certificates"], g["docstore"]
    rows = [
        {"what": "certificate, one per transaction", "tl_op": "issue", "tl": c["issue"]["tl"],
         "eas_op": "attest", "eas": c["issue"]["eas"], "ds_op": "issue(document hash)", "ds": d["issue"]},
        {"what": "certificate signed by the issuer, sent by someone else", "tl_op": "anchor (EIP-712 offer)",
         "tl": c["anchor"]["tl"], "eas_op": "attestByDelegation", "eas": c["anchor"]["eas"],
         "ds_op": "— (issuer role must send)", "ds": None},
    ]
    for n in CERT_BATCHES:
        b = _by(c["batch"], n)
        rows.append({"what": f"certificate in a batch of {n:,}, per record", "tl_op": "issueBatch / n",
                     "tl": b["tl"], "eas_op": "multiAttest / n", "eas": b["eas"], "ds_op": "bulkIssue / n",
                     "ds": _by(d["bulk"], n)["per"]})
    for n in CERT_BATCHES[1:]:  # OpenAttestation's usual way: the documents' Merkle root, one slot for all
        b = _by(c["batch"], n)
        rows.append({"what": f"certificate in a batch of {n:,}, per record, DocumentStore by batch root",
                     "tl_op": "issueBatch / n", "tl": b["tl"], "eas_op": "multiAttest / n", "eas": b["eas"],
                     "ds_op": "issue(batch root) / n", "ds": _by(d["root"], n) / n})
    rows.append({"what": "revocation", "tl_op": "revoke", "tl": c["revoke"]["tl"], "eas_op": "revoke",
                 "eas": c["revoke"]["eas"], "ds_op": "revoke", "ds": d["revoke"]})
    return rows


def review_rows(g: dict[str, Any]) -> list[dict[str, Any]]:
    """Anchored-review rows per batch size: TrustLedger's checkpoint / n beside every one-root-for-n peer."""
    out = []
    for n in REVIEW_BATCHES:
        r = _by(g["reviews"]["by_batch"], n)
        multi = _by(g["eas_timestamps"]["multi"], n, None)
        out.append({"n": n, "tl": r["per_mean"], "tl_max": r["per_max"],
                     "eas_multi_timestamp": None if multi is None else multi / n,
                     "eas_timestamp_root": g["eas_timestamps"]["root"] / n,
                     "ds_root": _by(g["docstore"]["root"], n) / n})
    return out


def _by(d: dict[Any, Any], n: int, default: Any = KeyError) -> Any:
    """``d[n]`` whether the keys are ints (this run) or strings (results read back from JSON)."""
    if n in d:
        return d[n]
    if str(n) in d:
        return d[str(n)]
    if default is KeyError:
        raise KeyError(n)
    return default


# ----------------------------------------------------------------------------------- 2. API, 1 and 2 workers


def _bench_api() -> Any:
    """scripts/bench/api.py as module ``bench_api``, loaded by path: under its own name ``api`` it would
    shadow (or be shadowed by) the project's ``api`` package in whatever process imports this script."""
    if "bench_api" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_api", HERE / "api.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_api"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_api"]


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


async def _load(base: str, bodies: Any, single: int, batches: int, batch_size: int,
                mmd: int) -> dict[str, Any]:
    """api.py's client code with a smaller load: singles, batches, then every leaf's delay to its anchor."""
    import aiohttp

    api_bench = _bench_api()
    warm = bodies.make(100)
    singles = bodies.make(single)
    batch_bodies = [{"reviews": bodies.make(batch_size)} for _ in range(batches)]
    connector = aiohttp.TCPConnector(limit=72)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        await api_bench._post_all(client, "/v1/reviews", warm, 16, lambda r: r.status_code == 201)
        busy0 = _cpu_busy()
        wall_s, lat_s, err_s = await api_bench._post_all(client, "/v1/reviews", singles, 64,
                                                         lambda r: r.status_code == 201)
        wall_b, lat_b, err_b = await api_bench._post_all(
            client, "/v1/reviews/batch", batch_bodies, 4,
            lambda r: r.status_code == 200 and r.json()["refused"] == 0)
        busy1 = _cpu_busy()
        total = bodies.next
        deadline = time.monotonic() + 4 * mmd + 60
        while time.monotonic() < deadline:
            cp = (await api_bench._get(client, "/v1/log")).json().get("latestCheckpoint")
            if cp and cp["treeSize"] >= total:
                break
            await asyncio.sleep(0.5)
        checkpoints: list[dict[str, Any]] = []
        start = 0
        while True:
            params = {"start": start, "limit": 1000}
            page = (await api_bench._get(client, "/v1/log/checkpoints", params)).json()
            checkpoints += page
            if len(page) < 1000:
                break
            start = page[-1]["index"] + 1
        submitted: list[int] = []
        lagging = 0
        for lo in range(0, total, 10_000):
            params = {"start": lo, "end": min(total, lo + 10_000)}
            answer = await api_bench._get(client, "/v1/log/leaves", params)
            # With several workers, the one that answers may not have caught up with the others' appends yet
            # (each refreshes its view of the shared log on its checkpointer's tick): it refuses a range past
            # the size it knows. Ask again until one answers; how often that happened is reported.
            while answer.status_code != 200 and time.monotonic() < deadline:
                if lagging == 0:
                    log(f"GET /v1/log/leaves {params}: {answer.status_code} {answer.content[:200]!r}; "
                        "retrying")
                lagging += 1
                await asyncio.sleep(0.2)
                answer = await api_bench._get(client, "/v1/log/leaves", params)
            submitted += [json.loads(leaf)["submittedAt"] for leaf in answer.json()["leaves"]]
    delays: list[float] = []
    broken = unanchored = 0
    ci = 0
    for index, at in enumerate(submitted):
        while ci < len(checkpoints) and checkpoints[ci]["treeSize"] <= index:
            ci += 1
        if ci == len(checkpoints):
            unanchored += 1
            continue
        delays.append(checkpoints[ci]["anchoredAt"] - int(at))
        broken += delays[-1] > mmd
    n_batch = batches * batch_size
    busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    return {
        "single": {"reviews": single - err_s, "per_s": (single - err_s) / wall_s, "refused": err_s,
                   "latency_ms": {k: v * 1000 for k, v in api_bench._pcts(lat_s).items()}},
        "batch": {"reviews": n_batch, "batch_size": batch_size, "per_s": n_batch / wall_b,
                  "refused_batches": err_b,
                  "latency_ms": {k: v * 1000 for k, v in api_bench._pcts(lat_b).items()}},
        "mmd": {"mmd": mmd, "leaves": total, "checkpoints": len(checkpoints),
                "delay_s": api_bench._pcts(delays), "broken": broken, "unanchored": unanchored},
        "machine_busy": busy,
        "leaf_reads_refused_by_a_lagging_worker": lagging,
    }


def _wait_healthy(base: str, server: subprocess.Popen[bytes], logfile: Path, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the service did not start:\n" + logfile.read_text()[-3000:])
        time.sleep(0.3)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the uvicorn supervisor's process group (it stops its workers), SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def run_api_once(workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One uvicorn with ``workers`` processes over a fresh PostgreSQL schema and a fresh Anvil."""
    from ledger.storage import scratch_schema

    api_bench = _bench_api()
    load_before = round(os.getloadavg()[0], 2)
    chain = devchain.start("anvil")
    server: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp, scratch_schema(PG_URL, prefix="bench_compare") as db:
            db.migrate()  # once, before the workers start, instead of two of them racing to
            home = Path(tmp)
            manifest, addresses = api_bench.setup(chain, home)
            port = api_bench._free_port()
            env = dict(os.environ)
            hx = api_bench.hx
            env.update({
                "TRUSTLEDGER_RPC_URL": chain.w3.provider.endpoint_uri,
                "TRUSTLEDGER_MANIFEST_PATH": str(home / "deployment.json"),
                "TRUSTLEDGER_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{db.schema}",
                "TRUSTLEDGER_MAX_MERGE_DELAY": str(args.mmd),
                "TRUSTLEDGER_OPERATOR_KEY": hx(api_bench.KEYS["operator"]),
                "TRUSTLEDGER_RELAYER_KEY": hx(api_bench.KEYS["relayer"]),
                "TRUSTLEDGER_ORDER_SIGNER_KEY": hx(api_bench.KEYS["order_signer"]),
                "TRUSTLEDGER_CONTENT_KEY": hx(keccak(text="bench-compare:content")),
                "TRUSTLEDGER_PSEUDONYM_KEY": hx(keccak(text="bench-compare:pseudonym")),
                "TRUSTLEDGER_API_TOKEN": api_bench.TOKEN, "TRUSTLEDGER_WRITE_RATE": "1000000",
                "TRUSTLEDGER_WRITE_BURST": "1000000", "TRUSTLEDGER_MAX_BODY_BYTES": str(8 * 1024 * 1024),
            })
            logfile = home / "server.log"
            with open(logfile, "wb") as errlog:
                server = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", str(workers), "--no-access-log",
                     "--log-level", "warning", "--timeout-keep-alive", "60"],
                    cwd=REPO, env=env, stdout=errlog, stderr=errlog, start_new_session=True)
                base = f"http://127.0.0.1:{port}"
                _wait_healthy(base, server, logfile)
                time.sleep(1.0 if workers > 1 else 0.0)  # the second worker's health is not the first's
                log(f"{workers} worker(s) up at {base} over PostgreSQL schema {db.schema}")
                bodies = api_bench.Bodies(manifest.chain_id, manifest.address("TrustGovernance"),
                                          addresses["merchant"])
                try:
                    out = asyncio.run(_load(base, bodies, args.api_single, args.api_batches,
                                            args.api_batch_size, args.mmd))
                except BaseException:
                    kept = Path(tempfile.gettempdir()) / f"trustledger-bench-compare-{workers}w.log"
                    kept.write_bytes(logfile.read_bytes())
                    log(f"the load failed; the service's log is kept in {kept}")
                    raise
                _stop(server)
                server = None
    finally:
        if server is not None:
            _stop(server)
        chain.close()
    out["workers"] = workers
    out["load_before"] = load_before
    log(f"{workers} worker(s): {out['batch']['per_s']:,.0f} reviews/s in batches, "
        f"{out['single']['per_s']:,.0f}/s single, MMD p99 {out['mmd']['delay_s']['p99']:.0f} s")
    return out


def api_summary(runs: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Median rates per worker count over the rounds, and each one's ratio to one worker's median.

    The median, because the machine is shared: a round that another process slowed down moves a mean by as
    much as the effect being measured, and the median of three not at all.
    """
    out: dict[int, dict[str, float]] = {}
    for w in sorted({r["workers"] for r in runs}):
        mine = [r for r in runs if r["workers"] == w]
        out[w] = {"rounds": len(mine),
                  "batch_per_s": statistics.median(r["batch"]["per_s"] for r in mine),
                  "single_per_s": statistics.median(r["single"]["per_s"] for r in mine),
                  "mmd_p99_s": max(r["mmd"]["delay_s"]["p99"] for r in mine)}
    if 1 in out:
        for v in out.values():
            v["batch_vs_1"] = v["batch_per_s"] / out[1]["batch_per_s"]
            v["single_vs_1"] = v["single_per_s"] / out[1]["single_per_s"]
    return out


def api_lines(api: dict[str, Any] | None) -> list[str]:
    """The API table (one row per run, then the medians) and what it does and does not show."""
    if not api or not api.get("runs"):
        return ["Not measured in this run (`--no-api`)."]
    runs = api["runs"]
    summary = {int(k): v for k, v in api_summary(runs).items()}
    one = summary.get(1)
    lines = [
        ("| workers | round | reviews/s, batches | vs 1 worker (median) | reviews/s, single | "
         "vs 1 worker (median) | single p99 ms | MMD p99 (s) | MMD max (s) | broken promises | unanchored | "
         "machine busy | load avg |"),
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for a in runs:
        lines.append(
            f"| {a['workers']} | {a['round']} | {a['batch']['per_s']:,.0f} | "
            f"{ratio(a['batch']['per_s'], one['batch_per_s'] if one else None)} | "
            f"{a['single']['per_s']:,.0f} | "
            f"{ratio(a['single']['per_s'], one['single_per_s'] if one else None)} | "
            f"{a['single']['latency_ms']['p99']:.0f} | {a['mmd']['delay_s']['p99']:.0f} | "
            f"{a['mmd']['delay_s']['max']:.0f} | {a['mmd']['broken']} of {a['mmd']['leaves']:,} | "
            f"{a['mmd']['unanchored']} | {a['machine_busy']:.0%} | {a.get('load_before', '?')} |")
    for w, v in summary.items():
        lines.append(f"| **{w}** | median of {v['rounds']} | **{v['batch_per_s']:,.0f}** | "
                     f"**{ratio(v['batch_per_s'], one['batch_per_s'] if one else None)}** | "
                     f"**{v['single_per_s']:,.0f}** | "
                     f"**{ratio(v['single_per_s'], one['single_per_s'] if one else None)}** | | "
                     f"worst {v['mmd_p99_s']:.0f} | | | | | |")
    a0 = runs[0]
    two = summary.get(2)
    observed = ""
    if one and two:
        lo, hi = min(r["machine_busy"] for r in runs), max(r["machine_busy"] for r in runs)
        observed = (
            f" Measured here: two workers accepted {ratio(two['batch_per_s'], one['batch_per_s'])}× one "
            f"worker's rate in batches and {ratio(two['single_per_s'], one['single_per_s'])}× in single "
            f"requests, with both cores {lo:.0%}–{hi:.0%} busy during the loads. The two cores are shared by "
            "the node, PostgreSQL, the load generator and the worker(s), and every batch of either replica "
            "goes through one sequencer (the row lock): the ratio is what a second process costs or gains on "
            "this machine, not how replicas scale with cores of their own.")
    lines += [
        "",
        ("Rounds alternate 1 and 2 workers, so that load from elsewhere on the machine falls on both alike; "
         "`load avg` is the 1-minute load average when the run started (above 2, other work was queued for "
         "the two cores). Each run: a fresh Anvil and a fresh PostgreSQL schema "
         "(`ledger.storage.scratch_schema`, migrated once before the workers start), `uvicorn "
         "api.app:app --workers N` where every worker is a full replica (review log with its sequencer, "
         "checkpointer with its lease, relayer, indexer), then "
         f"{a0['single']['reviews'] + a0['single']['refused']:,} single "
         f"POST /v1/reviews from 64 connections and {a0['batch']['reviews'] // a0['batch']['batch_size']} "
         f"POST /v1/reviews/batch of {a0['batch']['batch_size']:,} from 4, sent by `api.py`'s client code "
         f"(aiohttp, keep-alive, attestations signed before timing), MMD {a0['mmd']['mmd']} s. MMD delay = "
         "block time of the first anchored checkpoint covering a leaf − its submittedAt (what the receipt "
         "promises to keep under the MMD), over every leaf of the run. `machine busy`: share of both cores "
         "in use during the load, from /proc/stat (everything on the machine)." + observed),
    ]
    return lines


# ----------------------------------------------------------------------------------- 4. plot


def plot(g: dict[str, Any], path: Path = PLOT) -> None:
    """Gas per record against batch size, log-log, one colour per system and one line style per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, d, e = g["certificates"], g["docstore"], g["eas_timestamps"]
    tl, eas, ds = "#1f5fa8", "#d9822b", "#2e8b57"
    series = [
        ("TrustLedger issueBatch (certificate)", tl, "-", "o",
         [(n, _by(c["batch"], n)["tl"]) for n in CERT_BATCHES]),
        ("TrustLedger appendCheckpoint / n (review)", tl, "--", "s",
         [(n, _by(g["reviews"]["by_batch"], n)["per_mean"]) for n in REVIEW_BATCHES]),
        ("EAS multiAttest (attestation)", eas, "-", "o",
         [(n, _by(c["batch"], n)["eas"]) for n in CERT_BATCHES]),
        ("EAS multiTimestamp (hash)", eas, ":", "^",
         [(n, _by(e["multi"], n) / n) for n in REVIEW_BATCHES if _by(e["multi"], n, None) is not None]),
        ("EAS timestamp(root) / n", eas, "--", "s", [(n, e["root"] / n) for n in REVIEW_BATCHES]),
        ("DocumentStore bulkIssue (document)", ds, "-", "o",
         [(n, _by(d["bulk"], n)["per"]) for n in CERT_BATCHES]),
        ("DocumentStore issue(batch root) / n", ds, "--", "s",
         [(n, _by(d["root"], n) / n) for n in REVIEW_BATCHES]),
    ]
    fig, ax = plt.subplots(figsize=(8, 5.2), dpi=120)
    for label, colour, style, marker, points in series:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, linestyle=style, marker=marker, color=colour, label=label, markersize=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("records per transaction (batch size)")
    ax.set_ylabel("gas per record")
    ax.set_title("Gas per record: TrustLedger, EAS, OpenAttestation DocumentStore (one Anvil chain, cancun)",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})  # no version stamp: a rerun with equal figures is equal
    plt.close(fig)


# ----------------------------------------------------------------------------------- report


def render(results: dict[str, Any], meta: dict[str, Any]) -> str:
    """The ``compare`` section of BENCHMARKS.md from the results (pure: a unit test renders a fixed dict)."""
    g = results["gas"]
    load = meta.get("load", ["?", "?"])
    begin, end = _report.markers("compare")
    lines = [
        begin,
        "## Side by side: TrustLedger, EAS and OpenAttestation's DocumentStore; 1 and 2 workers; log growth",
        "",
        (f"Generated by `{meta['command']}` on {meta['date']} ({meta['wall_s']:.0f} s wall). Machine: "
         f"{meta['machine']}; load average (1 min) {load[0]} at the start, {load[1]} at the end (other work "
         "shares the cores). Do not edit by hand: rerun the script (`make bench-compare`)."),
        "",
        "![gas per record against batch size](docs/bench/gas-per-record.png)",
        "",
        "### Certificates and revocations (gas per record)",
        "",
        "| record | TrustLedger | gas | EAS | gas | DocumentStore | gas | TL / EAS | TL / DS |",
        "|---|---|--:|---|--:|---|--:|--:|--:|",
    ]
    for r in gas_rows(g):
        lines.append(f"| {r['what']} | {r['tl_op']} | {num(r['tl'])} | {r['eas_op']} | {num(r['eas'])} | "
                     f"{r['ds_op']} | {num(r['ds'])} | {ratio(r['tl'], r['eas'])} | "
                     f"{ratio(r['tl'], r['ds'])} |")
    lines += [
        "",
        "### Anchored reviews: one root for n records (gas per record)",
        "",
        ("| n | TrustLedger appendCheckpoint / n (mean; max) | EAS multiTimestamp / n | EAS timestamp(root) "
         "/ n | "
        "DocumentStore issue(root) / n | TL / multiTimestamp | TL / timestamp(root) | TL / DS root |"),
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in review_rows(g):
        lines.append(f"| {r['n']:,} | {num(r['tl'])}; {num(r['tl_max'])} | {num(r['eas_multi_timestamp'])} | "
                     f"{num(r['eas_timestamp_root'])} | {num(r['ds_root'])} | "
                     f"{ratio(r['tl'], r['eas_multi_timestamp'])} | "
                     f"{ratio(r['tl'], r['eas_timestamp_root'])} | "
                     f"{ratio(r['tl'], r['ds_root'])} |")
    d = g["docstore"]
    c = g["certificates"]
    lines += [
        "",
        ("Ratios are TrustLedger / peer: below 1, TrustLedger is cheaper. Gas is `gasUsed` of the whole "
         "transaction "
        "(21,000, calldata and execution); per-record rows divide it by n. What each buys differs, and that "
        "is "
        "most of the ratios:"),
        "",
        ("- **EAS** stores every attestation in full (about 14 slots for the certificate record) and answers "
        "`getAttestation(uid)` from state; TrustLedger keeps one packed slot per certificate and the record "
        "in "
        "the event. `multiTimestamp` stores one slot per hash."),
        ("- **DocumentStore** stores one slot per document hash or batch root (`documentIssued[hash] = "
        "block.number`) and nothing about what was issued: no product, merchant, validity window or "
        "standard, "
        "no accreditation by a governance (only the store's own issuer and revoker roles), and revocation is "
        "a second new slot. Its "
        "`issue(root)` is the cheapest way here to commit to many records, and TrustLedger's certificate "
        "path "
        "has no batch-root equivalent. "
        f"Above the EVM floor of `gas.py` (intrinsic, calldata, new slots, logs): DocumentStore issue "
        f"{num(d['issue'] - d['issue_floor'])}, revoke {num(d['revoke'] - d['revoke_floor'])}, bulkIssue of "
        "100 "
        f"{num(_by(d['bulk'], 100)['per'] - _by(d['bulk'], 100)['floor'])} per document; TrustLedger issue "
        f"{num(c['issue']['tl'] - c['issue']['lb']['value'])}, revoke "
        f"{num(c['revoke']['tl'] - c['revoke']['lb']['value'])}, issueBatch of 100 "
        f"{num(_by(c['batch'], 100)['tl'] - _by(c['batch'], 100)['lb']['value'])} per certificate "
        "(TrustLedger "
        "also checks the issuer's accreditation and the merchant's standing in governance)."),
        ("- **A review checkpoint** verifies an RFC 6962 consistency proof from the last anchored root, so "
         "the "
        "log cannot drop or rewrite a review once anchored; `timestamp(root)` and `issue(root)` accept any "
        "root. That check is what TrustLedger pays over them per root; per review it falls as 1/n, and the "
        "mean "
        f"is over {len(g['reviews']['starts'])} random log sizes in [1,000,000, 1,048,576) (the proof's "
        "shape, "
        f"so its gas, depends on the size). EAS `multiTimestamp` of {max(REVIEW_BATCHES):,} would need about "
        "220M gas, more than a block: not measured."),
        "",
        "### How cost grows with the log",
        "",
        ("| leaves | proof source | inclusion proof, oldest leaf: hashes (bytes) | newest leaf | "
         "consistency +1,024: hashes (bytes) | verify_inclusion, Python µs (best of 5) | "
         "verify_consistency, Python µs (best of 5) | verifyInclusion gas (eth_estimateGas; execution) | "
         "appendCheckpoint +1,024 gas |"),
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in g["growth"]:
        lines.append(
            f"| 10^{len(str(r['leaves'])) - 1} | {r['source']} | {r['inclusion_oldest']} "
            f"({r['inclusion_oldest_bytes']:,} B) | {r['inclusion_newest']} | {r['consistency']} "
            f"({r['consistency_bytes']:,} B) | {r['py_inclusion_us']:.1f} | {r['py_consistency_us']:.1f} | "
            f"{r['verify_inclusion_gas']:,}; {r['verify_inclusion_execution_gas']:,} | "
            f"{r['checkpoint_gas']:,} |")
    growth = g["growth"]
    if len(growth) >= 2:
        first, last = growth[0], growth[-1]
        lines += [
            "",
            (f"From {first['leaves']:,} to {last['leaves']:,} leaves "
             f"({last['leaves'] // first['leaves']:,}×), the "
            f"oldest leaf's inclusion proof grows from {first['inclusion_oldest']} to "
            f"{last['inclusion_oldest']} "
            f"hashes ({ratio(last['inclusion_oldest'], first['inclusion_oldest'])}×), Python verification "
            f"{ratio(last['py_inclusion_us'], first['py_inclusion_us'])}×, on-chain verifyInclusion "
            f"{ratio(last['verify_inclusion_gas'], first['verify_inclusion_gas'])}× and a checkpoint of "
            "1,024 "
            f"reviews {ratio(last['checkpoint_gas'], first['checkpoint_gas'])}×: O(log n), as RFC 6962 "
            "promises. "
            "Up to 10^6 leaves the proofs come from a real tree of synthetic leaf hashes (`ledger.merkle`); "
            "beyond, a tree cannot be built here, so each proof is random hashes of exactly the length RFC "
            "9162 "
            "gives for that size, and the roots are the ones those hashes imply (checked with "
            "`ledger.merkle.verify_*`). The contract verifies them exactly as real ones: its work depends on "
            "the "
            "proof's shape, not on the hashes (calldata gas only on their zero bytes: 12 less each; the "
            "simulated "
            "hashes have none). Each figure is "
            "anchored in a chain snapshot that is reverted (first checkpoint at the size with no proof, then "
            "the measured one)."),
        ]
    lines += ["", "### The API with 1 and 2 workers (PostgreSQL)", ""]
    lines += api_lines(results.get("api"))
    info = g["docstore_info"]
    ch = g["chain"]
    lines += [
        "",
        "### Method",
        "",
        (f"- Chain: {ch.get('version', ch.get('client'))}, hardfork {ch.get('hardfork')}, chain id "
        f"{ch.get('chain_id')}, block gas limit raised to 60,000,000 (EAS multiAttest of 100 and "
        "multiTimestamp "
        "of 1,000 fit). All three systems are deployed on it in the same run."),
        ("- TrustLedger: `ledger/artifacts` (solc 0.8.28, optimizer 10,000 runs, cancun). Certificate and "
        "revocation figures come from `gas.py`'s own measurement function, run here: same inputs (signatures "
        "and "
        "ids ground to have no zero byte), same figures as the gas section."),
        (f"- EAS: {g['eas_info']['package']} (contracts {g['eas_info']['contract_version']}, solc "
        f"{g['eas_info']['solc']}), deployed from its published artifacts (`_eas.py`); schemas as in the gas "
        "section."),
        (f"- DocumentStore: {info['package']} (contract version {info['contract_version']}). The package "
         "ships no "
        "Solidity sources, only the TypeChain factories its build generated, with ABI and creation bytecode: "
        "what OpenAttestation's own tooling deploys. Deployed byte for byte from "
        "`dist/contracts/factories/contracts/DocumentStore__factory.js` (`_docstore.py`), nothing "
        "recompiled: "
        f"solc {info['solc']} by its metadata, optimizer settings not recorded, {info['runtime_bytes']:,} "
        "bytes "
        f"of runtime code, deployment {info['deploy_gas']:,} gas. Recompiling with our 0.8.28 was not "
        "possible "
        "(no sources) nor needed: the `solc` package cannot load 0.8.2 offline, and published bytecode is "
        "what "
        "users run. Its floors above show how much of its gas is storage, calldata and logs rather than the "
        "compiler's code. Document hashes and roots are random with no zero byte."),
        ("- Machine and method details as in the other sections; gas is deterministic for a given bytecode, "
        "input and hardfork (one run suffices); API figures vary with what else the machine is doing."),
    ]
    lines.append(end)
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The few ratios a closing note quotes."""
    g = results["gas"]
    rows = {r["what"]: r for r in gas_rows(g)}
    cert = rows["certificate, one per transaction"]
    rev = rows["revocation"]
    by_root = rows["certificate in a batch of 100, per record, DocumentStore by batch root"]
    rr = {r["n"]: r for r in review_rows(g)}
    out: dict[str, Any] = {
        "certificate_tl_eas": cert["tl"] / cert["eas"], "certificate_tl_ds": cert["tl"] / cert["ds"],
        "batch100_tl_eas": rows["certificate in a batch of 100, per record"]["tl"]
        / rows["certificate in a batch of 100, per record"]["eas"],
        "batch100_tl_ds": rows["certificate in a batch of 100, per record"]["tl"]
        / rows["certificate in a batch of 100, per record"]["ds"],
        "batch100_tl_ds_root": by_root["tl"] / by_root["ds"],
        "revoke_tl_eas": rev["tl"] / rev["eas"], "revoke_tl_ds": rev["tl"] / rev["ds"],
        "review_per_record_1000": rr[1000]["tl"],
        "review_tl_multi_timestamp_1000": rr[1000]["tl"] / rr[1000]["eas_multi_timestamp"],
        "review_tl_ds_root_1000": rr[1000]["tl"] / rr[1000]["ds_root"],
        "proof_hashes_1e9": {"inclusion": g["growth"][-1]["inclusion_oldest"],
                             "consistency": g["growth"][-1]["consistency"]},
    }
    api = results.get("api")
    if api and api.get("runs"):
        summary = api_summary(api["runs"])
        out["api"] = {str(k): v for k, v in summary.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print every figure as one JSON object (last line)")
    ap.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md and the plot alone")
    ap.add_argument("--no-api", action="store_true", help="skip the 1 / 2 worker API runs")
    ap.add_argument("--api-rounds", type=int, default=3, help="rounds of (1 worker, 2 workers)")
    ap.add_argument("--api-single", type=int, default=4_000, help="single POST /v1/reviews per worker count")
    ap.add_argument("--api-batches", type=int, default=30, help="POST /v1/reviews/batch per worker count")
    ap.add_argument("--api-batch-size", type=int, default=1_000)
    ap.add_argument("--mmd", type=int, default=10, help="maximum merge delay of the API runs, seconds")
    args = ap.parse_args(argv)
    wall = time.perf_counter()
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"gas": run_gas()}
    if not args.no_api:
        runs = []
        for r in range(args.api_rounds):
            for w in (1, 2):
                runs.append({**run_api_once(w, args), "round": r + 1})
        results["api"] = {"runs": runs, "summary": {str(k): v for k, v in api_summary(runs).items()}}
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in
                                            [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
            "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_s": time.perf_counter() - wall, "machine": _report.machine(),
            "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    section = render(results, meta)
    print(section)
    if not args.no_write:
        plot(results["gas"])
        _report.write_section("compare", section)
        log(f"wrote the compare section of BENCHMARKS.md and {PLOT.relative_to(REPO)}")
    if args.json:
        results["gas"]["certificates"].pop("transactions", None)
        print(json.dumps({**results, "headline": headline(results), "meta": meta}, default=str,
                         separators=(",", ":")))
    log(f"done in {time.perf_counter() - wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
