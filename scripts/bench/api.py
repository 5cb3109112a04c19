#!/usr/bin/env python
"""The HTTP API under load: reviews per second (single and batched), the MMD under that load, product reads.

    python scripts/bench/api.py [--single N] [--batches N] [--batch-size N] [--concurrency N] [--mmd S]
                                [--json] [--no-write]

Set-up, all on loopback: an Anvil node; the contracts deployed with bench keys (derived from fixed strings:
never funded anywhere else), the merchant admitted, the order signer set; then the service exactly as it is
deployed — ``uvicorn api.app:app`` in its own process with one worker, configured by ``TRUSTLEDGER_*``
variables (SQLite file, WAL, ``synchronous=FULL``), its review log, checkpointer, relayer, outboxes and
indexer all running. This script is the load generator, a separate process: aiohttp over keep-alive HTTP/1.1
connections (httpx's pool could not drive more than about a hundred requests a second here, even against
a trivial app). Attestations are signed before the clock starts (coincurve), so the load generator measures
the service, not its own signing.

1. **Single reviews**: ``--single`` POST /v1/reviews from ``--concurrency`` concurrent connections; rate =
   accepted / wall time; latency p50/p99 per request.
2. **Batches**: ``--batches`` POST /v1/reviews/batch of ``--batch-size`` reviews from 4 connections.
3. **MMD under that load**: after the run, every leaf's delay = (block time of the first anchored checkpoint
   covering it, from GET /v1/log/checkpoints) - (its submittedAt, from GET /v1/log/leaves): what its receipt
   promises to keep under the MMD. p50 / p99 / max and broken promises.
4. **Product record**: GET /v1/products/{id} for one of the 500 products the reviews are spread over (one
   merchant sells them all, so its trust profile covers every review), p50/p99 over up to 200 requests (at
   most a minute; when the route exists).

Two cores serve the node, the service (with its signing process) and this load generator at once: the figures
are for that whole machine. ``--json`` prints one JSON object on the last line; unless ``--no-write`` the
``api`` section of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import os
import socket
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

import _report
import aiohttp
import coincurve
import httpx
from eth_account import Account
from eth_utils import keccak

from ledger.chain import Transactor
from ledger.deploy import deploy
from ledger.eip712 import PurchaseAttestation
from ledger.manifest import Manifest
from ledger.reviewlog import attestation_digest
from ledger.reviews import order_commitment
from tests import devchain

ROLES = ("admin", "governor", "operator", "relayer", "order_signer", "merchant")
KEYS = {name: keccak(text=f"trustledger-bench-api:{name}") for name in ROLES}
PRODUCTS = [keccak(text=f"gtin:0401234567{i:04d}") for i in range(500)]
PRODUCT = PRODUCTS[0]
ORDER_SALT = keccak(text="trustledger-bench-api:order-salt")
BUYER = Account.from_key(keccak(text="trustledger-bench-api:buyer")).address
TOKEN = keccak(text="trustledger-bench-api:token").hex()


def log(msg: str) -> None:
    print(f"[api] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hx(b: bytes) -> str:
    return "0x" + b.hex()


class Bodies:
    """Review bodies of distinct purchases, attestations signed ahead of time."""

    def __init__(self, chain_id: int, governance: str, merchant: str) -> None:
        self.chain_id, self.governance, self.merchant = chain_id, governance, merchant
        self.key = coincurve.PrivateKey(KEYS["order_signer"])
        self.next = 0
        self.purchased_at = int(time.time()) - 3600

    def make(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            i = self.next
            self.next += 1
            product = PRODUCTS[i % len(PRODUCTS)]
            att = PurchaseAttestation(order_commitment(f"order-{i}", self.merchant, ORDER_SALT), self.merchant,
                                      product, BUYER, self.purchased_at)
            rsv = self.key.sign_recoverable(attestation_digest(att, chain_id=self.chain_id,
                                                               governance=self.governance), hasher=None)
            out.append({"productId": hx(product), "merchant": self.merchant, "rating": 1 + i % 5,
                        "text": f"review {i}: works as described", "userId": f"user-{i % 997}",
                        "attestation": {"orderCommitment": hx(att.order_commitment), "merchant": self.merchant,
                                        "productId": hx(product), "buyer": BUYER, "purchasedAt": self.purchased_at},
                        "attestationSignature": hx(rsv[:64] + bytes((rsv[64] + 27,)))})
        return out


def _pcts(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": ordered[-1]}


class _Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.content = status, body

    def json(self) -> Any:
        return json.loads(self.content)


async def _post_all(client: aiohttp.ClientSession, path: str, bodies: list[Any], concurrency: int,
                    accepted: Any) -> tuple[float, list[float], int]:
    payloads = [json.dumps(b).encode() for b in bodies]
    payloads.reverse()
    latencies: list[float] = []
    errors = 0
    headers = {"content-type": "application/json"}

    async def worker() -> None:
        nonlocal errors
        while payloads:
            payload = payloads.pop()
            t0 = time.perf_counter()
            async with client.post(path, data=payload, headers=headers) as r:
                answer = _Answer(r.status, await r.read())
            latencies.append(time.perf_counter() - t0)
            if not accepted(answer):
                errors += 1
                if errors <= 3:
                    log(f"refused: {answer.status_code} {answer.content[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, errors


async def _get(client: aiohttp.ClientSession, path: str, params: dict[str, Any] | None = None) -> _Answer:
    async with client.get(path, params=params) as r:
        return _Answer(r.status, await r.read())


async def run_load(base: str, bodies: Bodies, args: argparse.Namespace) -> dict[str, Any]:
    warm = bodies.make(200)
    single = bodies.make(args.single)
    batches = [{"reviews": bodies.make(args.batch_size)} for _ in range(args.batches)]
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        await _post_all(client, "/v1/reviews", warm, args.concurrency, lambda r: r.status_code == 201)
        log(f"{len(single)} single submissions, {args.concurrency} connections")
        wall, lat, errors = await _post_all(client, "/v1/reviews", single, args.concurrency,
                                            lambda r: r.status_code == 201)
        single_out = {"reviews": len(single) - errors, "seconds": wall, "per_s": (len(single) - errors) / wall,
                      "latency_ms": {k: v * 1000 for k, v in _pcts(lat).items()}, "refused": errors,
                      "concurrency": args.concurrency}
        log(json.dumps(single_out))
        log(f"{args.batches} batches of {args.batch_size}")
        wall, lat, errors = await _post_all(client, "/v1/reviews/batch", batches, 4,
                                            lambda r: r.status_code == 200 and r.json()["refused"] == 0)
        n = args.batches * args.batch_size
        batch_out = {"reviews": n, "batch_size": args.batch_size, "seconds": wall, "per_s": n / wall,
                     "latency_ms": {k: v * 1000 for k, v in _pcts(lat).items()}, "refused_batches": errors}
        log(json.dumps(batch_out))
        total = bodies.next
        # wait for everything to be anchored and indexed
        deadline = time.monotonic() + 4 * args.mmd + 60
        while time.monotonic() < deadline:
            info = (await _get(client, "/v1/log")).json()
            cp = info.get("latestCheckpoint")
            if cp and cp["treeSize"] >= total:
                break
            await asyncio.sleep(0.5)
        checkpoints: list[dict[str, Any]] = []
        start = 0
        while True:
            page = (await _get(client, "/v1/log/checkpoints", {"start": start, "limit": 1000})).json()
            checkpoints += page
            if len(page) < 1000:
                break
            start = page[-1]["index"] + 1
        submitted: list[int] = []
        for lo in range(0, total, 10_000):
            page = (await _get(client, "/v1/log/leaves", {"start": lo, "end": min(total, lo + 10_000)})).json()
            submitted += [json.loads(leaf)["submittedAt"] for leaf in page["leaves"]]
        delays: list[float] = []
        broken = unanchored = 0
        ci = 0
        for index, at in enumerate(submitted):
            while ci < len(checkpoints) and checkpoints[ci]["treeSize"] <= index:
                ci += 1
            if ci == len(checkpoints):
                unanchored += 1
                continue
            delay = checkpoints[ci]["anchoredAt"] - int(at)
            delays.append(delay)
            if delay > args.mmd:
                broken += 1
        mmd_out = {"leaves": total, "checkpoints": len(checkpoints), "delay_s": _pcts(delays), "broken": broken,
                   "unanchored": unanchored, "mmd": args.mmd}
        log(json.dumps(mmd_out))
        product_out: dict[str, Any] | None = None
        probe = await _get(client, f"/v1/products/{hx(PRODUCT)}")
        if probe.status_code == 200:
            lat = []
            budget = time.monotonic() + 60
            while len(lat) < 200 and (len(lat) < 5 or time.monotonic() < budget):
                t0 = time.perf_counter()
                r = await _get(client, f"/v1/products/{hx(PRODUCT)}")
                lat.append(time.perf_counter() - t0)
                assert r.status_code == 200
            product_out = {"requests": len(lat), "reviews": -(-total // len(PRODUCTS)), "merchant_reviews": total,
                           "latency_ms": {k: v * 1000 for k, v in _pcts(lat).items()}}
        else:
            log(f"GET /v1/products: {probe.status_code}: not measured")
        health = (await _get(client, "/v1/health")).json()
    return {"single": single_out, "batch": batch_out, "mmd": mmd_out, "product": product_out, "health": health}


def setup(chain: Any, home: Path) -> tuple[Manifest, dict[str, str]]:
    w3 = chain.w3
    actors = {name: Transactor(w3, Account.from_key(key)) for name, key in KEYS.items()}
    for t in actors.values():
        chain.fund(t.address, 10**21)
    d = deploy(w3, actors["admin"], governor=actors["governor"].address, log_operator=actors["operator"].address)
    g = d.governance.functions
    actors["governor"].send(g.admitMerchant(actors["merchant"].address, keccak(text="licence:bench")))
    actors["governor"].send(g.setOrderSigner(actors["order_signer"].address))
    manifest = Manifest.from_deployment(w3, d)
    manifest.write(home / "deployment.json")
    return manifest, {n: t.address for n, t in actors.items()}


def render(out: dict[str, Any], meta: dict[str, Any]) -> str:
    s, b, m, p = out["single"], out["batch"], out["mmd"], out["product"]
    rows = [
        ("single reviews per second (POST /v1/reviews)", ">= 1,000/s", f"{s['per_s']:,.0f}/s",
         "met" if s["per_s"] >= 1000 else "NOT met",
         (f"{s['reviews']:,} reviews, {s['concurrency']} connections; latency p50 {s['latency_ms']['p50']:.1f} ms, "
         f"p99 {s['latency_ms']['p99']:.1f} ms")),
        ("reviews per second through batches (POST /v1/reviews/batch)", ">= 5,000/s", f"{b['per_s']:,.0f}/s",
         "met" if b["per_s"] >= 5000 else "NOT met",
         (f"{b['reviews']:,} reviews in batches of {b['batch_size']}, 4 connections; "
         f"batch latency p50 {b['latency_ms']['p50']:.0f} ms")),
        ("MMD p99 under that load (anchored block time - submittedAt)", "<= 5 s", f"{m['delay_s']['p99']:.0f} s",
         "met" if m["delay_s"]["p99"] <= 5 and m["broken"] == 0 and m["unanchored"] == 0 else "NOT met",
         (f"MMD {m['mmd']} s; {m['leaves']:,} leaves in {m['checkpoints']} checkpoints; p50 "
         f"{m['delay_s']['p50']:.0f} s, max {m['delay_s']['max']:.0f} s; broken promises {m['broken']}, "
         f"unanchored {m['unanchored']}")),
    ]
    if p is not None:
        rows.append(("product record p50 (GET /v1/products/{id})", "<= 10 ms", f"{p['latency_ms']['p50']:.1f} ms",
                     "met" if p["latency_ms"]["p50"] <= 10 else "NOT met",
                     (f"{p['requests']} requests; {p['reviews']:,} reviews of that product, {p['merchant_reviews']:,} of its "
                     f"merchant (trust profile computed in the call); p99 {p['latency_ms']['p99']:.1f} ms")))
    else:
        rows.append(("product record p50 (GET /v1/products/{id})", "<= 10 ms", "not measured", "-",
                     "the route was not available"))
    begin, end = _report.markers("api")
    lines = [
        begin,
        "## HTTP API under load (`scripts/bench/api.py`)",
        "",
        (f"Measured {meta['date']} on {meta['machine']} with `{meta['command']}` ({meta['wall_s']:.0f} s). "
        "Method: Anvil on loopback; the service as deployed (`uvicorn api.app:app`, one worker, SQLite WAL with "
        "`synchronous=FULL`, review log + checkpointer + relayer + indexer running, JSON access log on); this "
        "script as the load generator in its own process (aiohttp, keep-alive HTTP/1.1), attestations signed "
        "before timing. The node, the service and the load generator share the two cores; load average (1 min) "
        f"{meta['load'][0]} at the start, {meta['load'][1]} at the end."),
        "",
        "| what | target | measured | | detail |",
        "|---|---|---|---|---|",
        *(f"| {a} | {t} | {v} | {ok} | {d} |" for a, t, v, ok, d in rows),
        end,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--single", type=int, default=20_000, help="single submissions")
    ap.add_argument("--batches", type=int, default=100, help="batch requests")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--mmd", type=int, default=10, help="maximum merge delay, seconds")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    wall = time.perf_counter()
    load_before = os.getloadavg()[0]
    chain = devchain.start("anvil")
    server: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            manifest, addresses = setup(chain, home)
            port = _free_port()
            env = dict(os.environ)
            env.update({
                "TRUSTLEDGER_RPC_URL": chain.w3.provider.endpoint_uri, "TRUSTLEDGER_MANIFEST_PATH": str(home / "deployment.json"),
                "TRUSTLEDGER_DATABASE_URL": f"sqlite:///{home}/service.db",
                "TRUSTLEDGER_MAX_MERGE_DELAY": str(args.mmd),
                "TRUSTLEDGER_OPERATOR_KEY": hx(KEYS["operator"]), "TRUSTLEDGER_RELAYER_KEY": hx(KEYS["relayer"]),
                "TRUSTLEDGER_ORDER_SIGNER_KEY": hx(KEYS["order_signer"]),
                "TRUSTLEDGER_CONTENT_KEY": hx(keccak(text="bench-api:content")),
                "TRUSTLEDGER_PSEUDONYM_KEY": hx(keccak(text="bench-api:pseudonym")),
                "TRUSTLEDGER_API_TOKEN": TOKEN, "TRUSTLEDGER_WRITE_RATE": "1000000",
                "TRUSTLEDGER_WRITE_BURST": "1000000", "TRUSTLEDGER_MAX_BODY_BYTES": str(8 * 1024 * 1024),
            })
            errlog = open(home / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
                 "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "60"], cwd=REPO, env=env, stdout=errlog, stderr=errlog)
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    errlog.flush()
                    raise SystemExit("the service did not start:\n" + (home / "server.log").read_text()[-3000:])
                time.sleep(0.2)
            log(f"service up at {base}; chain {chain.w3.client_version}")
            bodies = Bodies(manifest.chain_id, manifest.address("TrustGovernance"), addresses["merchant"])
            try:
                out = asyncio.run(run_load(base, bodies, args))
            except BaseException:
                errlog.flush()
                kept = Path(tempfile.gettempdir()) / "trustledger-bench-api-server.log"
                kept.write_bytes((home / "server.log").read_bytes())
                log(f"the load failed; the service's log is kept in {kept}")
                raise
            server.terminate()
            server.wait(timeout=60)
            server = None
            errlog.close()
    finally:
        if server is not None:
            server.kill()
        chain.close()
    meta = {"command": ("python scripts/bench/api.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip(),
            "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "wall_s": time.perf_counter() - wall,
            "machine": _report.machine(), "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    section = render(out, meta)
    print(section)
    if not args.no_write:
        _report.write_section("api", section)
    if args.json:
        print(json.dumps({**out, "meta": meta}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
