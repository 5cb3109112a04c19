#!/usr/bin/env python
"""The hammer: many clients doing random operations at once, then proof that every promise held (issue #9).

    python scripts/hammer.py [--clients 16] [--seconds 60] [--ops N] [--mmd 5] [--seed N] [--json]
                             [--api URL --rpc URL --home DIR [--db-url URL]]

Why: a transparency log is trusted because it is hammered and then checked, not because its tests pass one
write at a time. This script writes the way the real actors do, all at once, through the HTTP API only (the
actors' own EIP-712 signatures, relayed by the service; the platform's token for purchase attestations), and
then checks what the service promised from the chain alone.

Loopback only and bounded: without ``--api`` it starts its own service exactly as ``make up`` does
(``python -m api.serve`` with a fresh state folder, free ports and a short MMD, ``TRUSTLEDGER_MAX_MERGE_DELAY``),
and stops it (and its Anvil) at the end; it runs ``--seconds`` or ``--ops``, whichever comes first. With
``--api --rpc --home`` it attaches to a running ``trustledger up`` instead (keys and token from the home).

What the clients do (``--clients`` asyncio tasks over one httpx pool, random weighted operations):

* reviews, single and in small batches, each authorised by a purchase attestation (``POST /v1/purchases``);
  exact retries (must answer the same receipt) and second reviews of one purchase (must be refused);
* certificates: issue, spot checks, batches, revoke, supersede (by the dev issuer and fresh issuers the
  governor accredits), offers signed by the issuer and anchored by the merchant;
* disputes: purchase disputes opened by fresh buyer keys named in attestations, then responses, rulings,
  appeals, remedies reported, confirmed or contested, and remedy rulings, as far as no deadline must pass;
  review challenges of anchored reviews, answered by the log operator and ruled;
* governance: arbitrators appointed (fresh keys), a second merchant admitted, sanctioned and restored.

A few operations are refused on purpose (a revoked certificate revoked again, a second review of one purchase,
a challenge opened twice, an active merchant restored): those count as "refused as expected" only when the
answer's problem type or contract error name is the one that refusal must give. ``nonce-not-current`` (409)
and ``rate-limited`` (429) are waited out and retried, not counted. Anything else is a failure, by type.

The promises checked, from the chain (web3), not from the service's word:

* every receipt: its signature verifies (``ledger.receipts.verify_receipt``, signer = the ReviewLog's
  operator on chain); after its deadline (submittedAt + maxMergeDelay) the first ``CheckpointAnchored``
  covering its leaf has a block time within the deadline; ``GET /v1/reviews/{leafIndex}`` serves the
  receipt's leaf hash and an inclusion proof that verifies against a checkpoint ``ReviewLog.isCheckpoint``
  confirms;
* between random pairs of anchored checkpoints, ``GET /v1/log/consistency`` verifies;
* at the end: every anchored root recomputed from ``GET /v1/log/leaf-hashes`` (``trustledger audit``'s
  functions), every leaf's canonical JSON hashed to its leaf hash, duplicates counted (two leaves of one
  purchase, a certificate issued twice, a receipt handed out twice), and the index rebuilt from the deploy
  block into a fresh SQLite file and compared with the live service's (``Indexer.snapshot``).

Exit 0 when nothing was broken, duplicated, unexpectedly refused, and the rebuilt index equals the live one;
1 otherwise; 2 when the hammer could not run. ``--json`` prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import heapq
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from rich.console import Console
from rich.table import Table
from web3 import Web3
from web3.contract import Contract
from web3.types import FilterParams

from cli._chainlog import anchored_checkpoints
from cli.audit import audit_checkpoints, fetch_leaf_hashes
from ledger import merkle
from ledger.deploy import contract_at
from ledger.eip712 import CERTIFICATE_KINDS, Certificate, sign_certificate_offer
from ledger.errors import InvalidInput, VerificationError
from ledger.indexer import Indexer
from ledger.manifest import Manifest
from ledger.receipts import Receipt, verify_receipt
from ledger.reviews import order_commitment
from ledger.storage import Database

PROBLEM = "urn:trustledger:problem:"
STANDARD = "std:GB/T 19001-2016"
"""The standard the local deployment accredits the dev issuer for (ledger/devnet.py)."""
WAIT = 30
"""Seconds a relayed write asks to wait for its receipt (the service caps it at its max_wait)."""
GRACE = 20.0
"""Seconds past a receipt's deadline the hammer waits for the index to serve its proof before calling the
promise broken (the chain's own anchoring time is judged exactly: block time <= deadline)."""
FRESH_ISSUERS = 3
MAX_ARBITRATORS = 6
PRODUCTS = [keccak(text=f"gtin:hammer-{i:03d}") for i in range(24)]
PURCHASE, CHALLENGE = 0, 1
(AWAITING_RESPONSE, AWAITING_RULING, RULED, APPEALED, ESCALATED, REMEDY_DUE, REMEDY_REPORTED, REMEDY_CONTESTED,
 CLOSED) = range(1, 10)
"""``IDisputeRegistry.Phase`` values (contracts/interfaces/IDisputeRegistry.sol)."""
REFUND, REPLACEMENT, PARTIAL_REFUND, REJECTED, REVIEW_REMOVED, REVIEW_UPHELD = range(1, 7)
WARNING, SUSPENSION = 0, 1
_CHECKPOINT_TOPIC = "0x" + keccak(text="CheckpointAnchored(uint256,uint64,bytes32,uint40)").hex()

err = Console(stderr=True, width=120)


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def h(text: str) -> str:
    """keccak256 of a label as 0x-hex: reason codes, evidence, document and rationale hashes."""
    return hx(keccak(text=text))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- answers -------------------------------------------------------------------------------------------------


class Refused(Exception):
    """A non-2xx answer (or a write that failed on chain), reduced to what the counters switch on."""

    def __init__(self, status: int, kind: str, error_name: str | None, detail: str) -> None:
        self.status, self.kind, self.error_name, self.detail = status, kind, error_name, detail
        super().__init__(f"{status} {self.label}: {detail}")

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.error_name})" if self.error_name else self.kind

    @classmethod
    def of(cls, response: httpx.Response) -> Refused:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "type" in body:
            return cls(response.status_code, str(body["type"]).removeprefix(PROBLEM), body.get("errorName"),
                       str(body.get("detail") or body.get("title") or ""))
        return cls(response.status_code, f"http-{response.status_code}", None, response.text[:200])


@dataclass
class Actor:
    """A key the hammer signs with, and the lock that keeps one of its requests in flight at a time (the
    forwarder's nonces are sequential: a second request prepared meanwhile would carry a used nonce)."""

    name: str
    account: LocalAccount
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def address(self) -> str:
        return str(self.account.address)


@dataclass
class Stats:
    """Every counter the report prints."""

    ops: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    expected_by: Counter[str] = field(default_factory=Counter)
    failed_by: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    receipts: int = 0
    promises_checked: int = 0
    promises_broken: int = 0
    broken: list[str] = field(default_factory=list)
    anchor_delays: list[int] = field(default_factory=list)
    consistency_checks: int = 0
    consistency_broken: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)

    def break_promise(self, what: str) -> None:
        self.promises_broken += 1
        if len(self.broken) < 50:
            self.broken.append(what)


@dataclass
class ReceiptRecord:
    leaf_index: int
    leaf_hash: str
    receipt: dict[str, Any]
    deadline: int
    purchase: str


@dataclass
class CertState:
    id: str
    issuer: Actor
    record: dict[str, Any]
    status: str = "valid"


@dataclass
class DisputeState:
    id: str
    kind: int
    claimant: Actor
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: bool = False


@dataclass(frozen=True)
class ChainCheckpoint:
    index: int
    size: int
    root: bytes
    timestamp: int


# -- the service, as the actors reach it ---------------------------------------------------------------------


class Api:
    """The HTTP API: JSON calls that raise :class:`Refused`, and relayed writes signed by their actor."""

    def __init__(self, base: str, token: str, stats: Stats, clients: int) -> None:
        self.stats = stats
        self.token = token
        self.http = httpx.AsyncClient(base_url=base.rstrip("/"), timeout=90,
                                      limits=httpx.Limits(max_connections=clients * 2 + 16,
                                                          max_keepalive_connections=clients * 2 + 16))

    async def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                   token: bool = False, ok: Collection[int] = (200, 201)) -> Any:
        """``method path`` answered as JSON; a 429 is waited out (the write rate is the service's limit, not a
        failure of the hammer's operation), anything else not in ``ok`` raises :class:`Refused`."""
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        for _ in range(120):
            r = await self.http.request(method, path, json=body, params=params, headers=headers)
            if r.status_code == 429:
                self.stats.retries["rate-limited"] += 1
                await asyncio.sleep(min(2.0, float(r.headers.get("retry-after", "1"))))
                continue
            if r.status_code not in ok:
                raise Refused.of(r)
            return r.json()
        raise Refused(429, "rate-limited", None, "still rate limited after 120 tries")

    async def write(self, actor: Actor, path: str, contract: str, function: str,
                    args: dict[str, Any] | list[Any]) -> dict[str, Any]:
        """Prepare, sign with ``actor``'s key, post to ``path`` and follow it until confirmed. The caller holds
        ``actor.lock``. A 409 ``nonce-not-current`` (the previous request of this key not mined yet) is signed
        again after a pause."""
        for _ in range(60):
            prepared = await self.call("POST", "/v1/relay/prepare", body={
                "from": actor.address, "contract": contract, "function": function, "args": args})
            signed = Account.sign_typed_data(actor.account.key, full_message=prepared["typedData"])
            try:
                out: dict[str, Any] = await self.call(
                    "POST", path, params={"wait": WAIT}, ok=(200, 202),
                    body={"request": prepared["request"], "signature": hx(bytes(signed.signature))})
            except Refused as exc:
                if exc.kind == "nonce-not-current":
                    self.stats.retries["nonce-not-current"] += 1
                    await asyncio.sleep(0.25)
                    continue
                raise
            break
        else:
            raise Refused(409, "nonce-not-current", None, "the signer's nonce never became current")
        deadline = time.monotonic() + 120
        while out["status"] != "confirmed":
            if out["status"] == "failed":
                raise Refused(422, "write-failed", out.get("errorName"), str(out.get("error")))
            if time.monotonic() > deadline:
                raise Refused(0, "not-confirmed", None, f"{out['location']} not confirmed within 120 s")
            await asyncio.sleep(0.3)
            out.update(await self.call("GET", out["location"]))
        return out


# -- the hammer ----------------------------------------------------------------------------------------------


class Hammer:
    """The shared state of one run: actors, what was written, the receipts to check, and the counters."""

    def __init__(self, api: Api, w3: Web3, manifest: Manifest, keys: dict[str, str], rng: random.Random,
                 stats: Stats) -> None:
        self.api, self.w3, self.manifest, self.rng, self.stats = api, w3, manifest, rng, stats
        self.tag = f"{int(time.time())}-{rng.randrange(16**6):06x}"
        self.actors = {role: Actor(role, Account.from_key(keys[role]))
                       for role in ("governor", "operator", "issuer", "merchant", "arbitrator")}
        self.by_address: dict[str, Actor] = {a.address: a for a in self.actors.values()}
        self.issuers: list[Actor] = [self.actors["issuer"]]
        self.merchant = self.actors["merchant"]
        self.merchant2: Actor | None = None
        self.merchant2_status = "none"
        self.arbitrators: list[Actor] = [self.actors["arbitrator"]]
        self.registry = contract_at(w3, "DisputeRegistry", manifest.address("DisputeRegistry"))
        self.review_log: Contract = contract_at(w3, "ReviewLog", manifest.address("ReviewLog"))
        self.operator_address = str(self.review_log.functions.logOperator().call())
        self.certs: dict[str, CertState] = {}
        self.disputes: dict[str, DisputeState] = {}
        self.dispute_candidates: list[tuple[dict[str, Any], str, Actor]] = []
        self.challenged: dict[str, list[int]] = {}
        self.receipts: list[ReceiptRecord] = []
        self.accepted_bodies: list[tuple[dict[str, Any], ReceiptRecord]] = []
        self.by_purchase: dict[str, int] = {}
        self.by_leaf: dict[int, str] = {}
        self.due: list[tuple[int, int, ReceiptRecord]] = []
        self.anchored_leaves: list[int] = []
        self.chain_cps: list[ChainCheckpoint] = []
        self._cp_block = manifest.deploy_block - 1
        self._confirmed: dict[tuple[int, int, bytes], bool] = {}
        self.seq = 0
        self.started = 0
        self.stop = asyncio.Event()
        self.max_ops: int | None = None
        self.chain_mmd = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    # -- counting -------------------------------------------------------------------------------------------

    async def run(self, kind: str, action: Callable[[], Awaitable[Any]], expected: Collection[str] = ()) -> Any:
        """Run one operation and count it: succeeded, refused as expected (its problem type or contract error
        name is in ``expected``), or failed unexpectedly (by type). Answers the action's result, or None."""
        self.stats.ops[kind] += 1
        try:
            result = await action()
        except Refused as exc:
            if exc.kind in expected or (exc.error_name is not None and exc.error_name in expected):
                self.stats.expected[kind] += 1
                self.stats.expected_by[f"{kind}: {exc.label}"] += 1
            else:
                self._fail(kind, exc.label, str(exc))
            return None
        except (httpx.HTTPError, OSError) as exc:
            self._fail(kind, f"transport ({type(exc).__name__})", repr(exc))
            return None
        self.stats.ok[kind] += 1
        return result if result is not None else True

    def _fail(self, kind: str, label: str, detail: str) -> None:
        self.stats.failed[kind] += 1
        self.stats.failed_by[f"{kind}: {label}"] += 1
        if len(self.stats.failure_samples) < 20:
            self.stats.failure_samples.append(f"{kind}: {detail[:300]}")

    async def chain(self, fn: Callable[[], Any]) -> Any:
        """A blocking web3 call, off the event loop."""
        return await asyncio.to_thread(fn)

    # -- setup ----------------------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Fresh issuers accredited, a second merchant admitted and an arbitrator appointed, before the clients
        start: so that certificate writes are spread over several signers and appeals have a second
        arbitrator. Setup failures count like any operation's."""
        gov = self.actors["governor"]
        now = int(time.time())
        for i in range(FRESH_ISSUERS):
            issuer = Actor(f"issuer-{i + 1}", Account.create())
            args = {"issuer": issuer.address, "validFrom": now - 600, "validUntil": now + 365 * 86400,
                    "scopes": [h(STANDARD)]}
            async with gov.lock:
                done = await self.run("governance:accredit-issuer", functools.partial(
                    self.api.write, gov, f"/v1/governance/issuers/{issuer.address}/accreditation",
                    "TrustGovernance", "accreditIssuer", args))
            if done:
                self.issuers.append(issuer)
                self.by_address[issuer.address] = issuer
        second = Actor("merchant-2", Account.create())
        async with gov.lock:
            done = await self.run("governance:admit-merchant", lambda: self.api.write(
                gov, f"/v1/governance/merchants/{second.address}/admission", "TrustGovernance", "admitMerchant",
                {"account": second.address, "licenceHash": h(f"licence:hammer-{self.tag}")}))
        if done:
            self.merchant2, self.merchant2_status = second, "active"
            self.by_address[second.address] = second
        await self.appoint()
        known = await self.chain(lambda: self._arbitrators_on_chain())
        for address in known:
            if address not in {a.address for a in self.arbitrators}:
                err.print(f"[yellow]arbitrator {address} is not one the hammer holds a key of: its disputes stall")

    def _arbitrators_on_chain(self) -> list[str]:
        gov = contract_at(self.w3, "TrustGovernance", self.manifest.address("TrustGovernance"))
        return [str(gov.functions.arbitratorAt(i).call()) for i in range(int(gov.functions.arbitratorCount().call()))]

    # -- the clients ----------------------------------------------------------------------------------------

    OPS: tuple[tuple[str, int], ...] = (
        ("review", 30), ("review_batch", 12), ("review_retry", 3), ("review_duplicate", 2),
        ("cert_issue", 6), ("cert_spot_check", 3), ("cert_batch", 3), ("cert_revoke", 4), ("cert_supersede", 3),
        ("cert_offer", 3), ("dispute_open", 5), ("dispute_step", 14), ("challenge", 3), ("governance", 3),
    )

    async def client(self, n: int) -> None:
        names = [name for name, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        while not self.stop.is_set():
            if self.max_ops is not None and self.started >= self.max_ops:
                self.stop.set()
                break
            self.started += 1
            op = self.rng.choices(names, weights)[0]
            try:
                await getattr(self, op)()
            except Exception as exc:  # noqa: BLE001 - a bug in the hammer must not hide the rest of the run
                self._fail(f"hammer:{op}", f"exception ({type(exc).__name__})", repr(exc))

    # -- reviews --------------------------------------------------------------------------------------------

    async def _attest(self, merchant: str, product: bytes, buyer: str) -> tuple[dict[str, Any], str]:
        order = f"hammer-{self.tag}-order-{self._next()}"
        att = {"orderCommitment": hx(order_commitment(order, merchant, keccak(text=f"salt:{order}"))),
               "merchant": merchant, "productId": hx(product), "buyer": buyer,
               "purchasedAt": int(time.time()) - 3600}
        answer = await self.api.call("POST", "/v1/purchases", body=att, token=True)
        return att, str(answer["signature"])

    async def _review_body(self) -> dict[str, Any]:
        merchant = self.merchant.address
        if self.merchant2 is not None and self.rng.random() < 0.2:
            merchant = self.merchant2.address
        product = self.rng.choice(PRODUCTS)
        if self.rng.random() < 0.3:  # a buyer key the hammer keeps, to dispute this purchase later
            buyer = Actor(f"buyer-{self.seq}", Account.create())
            att, sig = await self._attest(merchant, product, buyer.address)
            self.dispute_candidates.append((att, sig, buyer))
        else:
            att, sig = await self._attest(merchant, product, Web3.to_checksum_address(keccak(
                text=f"buyer:{self.tag}:{self._next()}")[-20:]))
        rating = self.rng.choice((1, 2, 3, 4, 5))
        return {"productId": hx(product), "merchant": merchant, "rating": rating,
                "text": f"hammer review {self._next()}: {rating} stars", "userId": f"hammer-user-{self.rng.randrange(500)}",
                "attestation": att, "attestationSignature": sig}

    def _accepted(self, body: dict[str, Any], accepted: dict[str, Any]) -> None:
        """Keep a new receipt for its promise check; a leaf index or purchase seen before is a duplicate."""
        index = int(accepted["leafIndex"])
        purchase = str(body["attestation"]["orderCommitment"])
        receipt = accepted["receipt"]
        if purchase in self.by_purchase and self.by_purchase[purchase] != index:
            self.stats.duplicates["receipts (a purchase accepted twice)"] += 1
        if index in self.by_leaf and self.by_leaf[index] != purchase:
            self.stats.duplicates["receipts (a leaf index handed out twice)"] += 1
        if purchase in self.by_purchase:
            return
        self.by_purchase[purchase] = index
        self.by_leaf[index] = purchase
        record = ReceiptRecord(index, str(accepted["leafHash"]), receipt,
                               int(receipt["submittedAt"]) + int(receipt["maxMergeDelay"]), purchase)
        self.receipts.append(record)
        self.accepted_bodies.append((body, record))
        self.stats.receipts += 1
        heapq.heappush(self.due, (record.deadline, index, record))

    async def review(self) -> None:
        async def go() -> None:
            body = await self._review_body()
            self._accepted(body, await self.api.call("POST", "/v1/reviews", body=body, ok=(201,)))
        await self.run("review", go)

    async def review_batch(self) -> None:
        async def go() -> None:
            bodies = [await self._review_body() for _ in range(self.rng.randint(2, 8))]
            out = await self.api.call("POST", "/v1/reviews/batch", body={"reviews": bodies})
            for body, result in zip(bodies, out["results"], strict=True):
                if result.get("accepted") is None:
                    problem = result.get("problem") or {}
                    raise Refused(int(result.get("status", 0)), str(problem.get("type", "")).removeprefix(PROBLEM),
                                  problem.get("errorName"), str(problem.get("detail")))
                self._accepted(body, result["accepted"])
        await self.run("review:batch", go)

    async def review_retry(self) -> None:
        """An exact retry must be answered with the same receipt, never a second leaf."""
        if not self.accepted_bodies:
            return await self.review()
        body, record = self.rng.choice(self.accepted_bodies)

        async def go() -> None:
            out = await self.api.call("POST", "/v1/reviews", body=body, ok=(200, 201))
            if int(out["leafIndex"]) != record.leaf_index or out["leafHash"] != record.leaf_hash:
                self.stats.duplicates["receipts (a retry got another leaf)"] += 1
        await self.run("review:retry", go)

    async def review_duplicate(self) -> None:
        """A second review of one purchase (other text) must be refused as ``duplicate-review``."""
        if not self.accepted_bodies:
            return await self.review()
        body, record = self.rng.choice(self.accepted_bodies)
        other = {**body, "text": f"{body['text']} (changed my mind)", "rating": 1 + body["rating"] % 5}

        async def go() -> None:
            out = await self.api.call("POST", "/v1/reviews", body=other, ok=(200, 201))
            self.stats.duplicates["receipts (a second review of one purchase accepted)"] += 1
            raise Refused(201, "accepted-twice", None, f"leaf {out['leafIndex']} for the purchase of leaf "
                                                       f"{record.leaf_index}")
        await self.run("review:duplicate", go, expected={"duplicate-review"})

    # -- certificates ---------------------------------------------------------------------------------------

    def _record(self, issuer: Actor, kind: int, lot: str | None = None, product: str | None = None) -> dict[str, Any]:
        now = int(time.time())
        return {"productId": product or hx(self.rng.choice(PRODUCTS)),
                "lot": lot or h(f"lot:{self.tag}-{self._next()}"), "merchant": self.merchant.address,
                "issuer": issuer.address, "kind": kind, "documentHash": h(f"doc:{self.tag}-{self._next()}"),
                "standard": h(STANDARD), "issuedAt": now - 30, "validUntil": now + 180 * 86400}

    def _keep(self, issuer: Actor, ids: list[str], records: list[dict[str, Any]]) -> None:
        for cid, record in zip(ids, records, strict=True):
            if cid in self.certs:
                self.stats.duplicates["certificates (an id answered twice)"] += 1
            self.certs[cid] = CertState(cid, issuer, record)

    async def cert_issue(self) -> None:
        issuer = self.rng.choice(self.issuers)
        record = self._record(issuer, CERTIFICATE_KINDS["certificate"])
        async with issuer.lock:
            out = await self.run("certificate:issue", lambda: self.api.write(
                issuer, "/v1/certificates", "CertificateRegistry", "issue", {"certificate": record}))
            if out:
                self._keep(issuer, out["certificateIds"], [record])

    async def cert_spot_check(self) -> None:
        issuer = self.rng.choice(self.issuers)
        kind = self.rng.choice((CERTIFICATE_KINDS["spot_check_pass"], CERTIFICATE_KINDS["spot_check_fail"]))
        record = self._record(issuer, kind)
        async with issuer.lock:
            out = await self.run("certificate:spot-check", lambda: self.api.write(
                issuer, "/v1/certificates/spot-checks", "CertificateRegistry", "issue", {"certificate": record}))
            if out:
                self._keep(issuer, out["certificateIds"], [record])

    async def cert_batch(self) -> None:
        issuer = self.rng.choice(self.issuers)
        records = [self._record(issuer, self.rng.choice((0, 0, 1, 2))) for _ in range(self.rng.randint(2, 4))]
        async with issuer.lock:
            out = await self.run("certificate:batch", lambda: self.api.write(
                issuer, "/v1/certificates/batch", "CertificateRegistry", "issueBatch", {"certificates": records}))
            if out:
                self._keep(issuer, out["certificateIds"], records)

    def _mine(self, issuer: Actor, status: str) -> list[CertState]:
        return [c for c in self.certs.values() if c.issuer is issuer and c.status == status]

    async def cert_revoke(self) -> None:
        """Revoke a valid certificate; one time in five, one already revoked (refused: AlreadyRevoked). The
        target is chosen under the issuer's lock, where the hammer's view of its certificates is exact."""
        issuer = self.rng.choice(self.issuers)
        async with issuer.lock:
            again = self.rng.random() < 0.2 and self._mine(issuer, "revoked")
            pool = self._mine(issuer, "revoked") if again else self._mine(issuer, "valid")
            if not pool:
                return
            target = self.rng.choice(pool)
            out = await self.run("certificate:revoke" + (" (again)" if again else ""), lambda: self.api.write(
                issuer, f"/v1/certificates/{target.id}/revocation", "CertificateRegistry", "revoke",
                {"id": target.id, "reasonCode": h("reason:hammer")}),
                expected={"CertificateRegistryAlreadyRevoked"} if again else ())
            if out and not again:
                target.status = "revoked"

    async def cert_supersede(self) -> None:
        issuer = self.rng.choice(self.issuers)
        async with issuer.lock:
            pool = [c for c in self._mine(issuer, "valid") if c.record["kind"] == 0]
            if not pool:
                return
            target = self.rng.choice(pool)
            replacement = self._record(issuer, 0, lot=target.record["lot"], product=target.record["productId"])
            out = await self.run("certificate:supersede", lambda: self.api.write(
                issuer, f"/v1/certificates/{target.id}/supersession", "CertificateRegistry", "supersede",
                {"id": target.id, "replacement": replacement, "reasonCode": h("reason:hammer-corrected")}))
            if out:
                target.status = "superseded"
                self._keep(issuer, out["certificateIds"], [replacement])

    async def cert_offer(self) -> None:
        """The issuer signs an offer off chain; the merchant anchors it with its own signed request."""
        issuer = self.rng.choice(self.issuers)
        record = self._record(issuer, 0)
        nonce, deadline = self.rng.randrange(2**63), int(time.time()) + 3600
        cert = Certificate(bytes.fromhex(record["productId"][2:]), bytes.fromhex(record["lot"][2:]),
                           record["merchant"], record["issuer"], 0, bytes.fromhex(record["documentHash"][2:]),
                           bytes.fromhex(record["standard"][2:]), record["issuedAt"], record["validUntil"])
        signature = sign_certificate_offer(issuer.account.key, cert, nonce=nonce, deadline=deadline,
                                           chain_id=self.manifest.chain_id,
                                           registry=self.manifest.address("CertificateRegistry"))
        offer = await self.run("certificate:offer", lambda: self.api.call("POST", "/v1/certificates/offers", body={
            "certificate": {**record, "kind": "certificate"}, "nonce": nonce, "deadline": deadline,
            "signature": hx(signature)}, ok=(201,)))
        if not offer:
            return
        async with self.merchant.lock:
            out = await self.run("certificate:anchor-offer", lambda: self.api.write(
                self.merchant, f"/v1/certificates/offers/{offer['id']}/anchor", "CertificateRegistry", "anchor",
                offer["anchorArgs"]))
        if out:
            self._keep(issuer, out["certificateIds"], [record])

    # -- disputes -------------------------------------------------------------------------------------------

    async def dispute_open(self) -> None:
        """A buyer key named in an attestation opens a purchase dispute (its review may or may not exist)."""
        if not self.dispute_candidates:
            return await self.review()
        att, sig, buyer = self.dispute_candidates.pop(self.rng.randrange(len(self.dispute_candidates)))
        merchant2 = self.merchant2 is not None and att["merchant"] == self.merchant2.address
        async with buyer.lock:
            out = await self.run("dispute:open", lambda: self.api.write(
                buyer, "/v1/disputes", "DisputeRegistry", "openPurchaseDispute",
                {"attestation": att, "orderSignerSignature": sig,
                 "claimantCommitment": h(f"claimant:{self.tag}:{self._next()}"), "category": h("category:defective"),
                 "evidenceHash": h(f"evidence:{self._next()}"), "evidenceUri": f"ipfs://hammer-{self._next()}"}),
                expected={"DisputeRegistryMerchantNotActive"} if merchant2 else ())
        if out:
            self.by_address[buyer.address] = buyer
            self.disputes[out["disputeId"]] = DisputeState(out["disputeId"], PURCHASE, buyer)

    async def challenge(self) -> None:
        """A merchant challenges an anchored review; one time in ten a review it already challenged (refused:
        AlreadyOpened). The second merchant may be suspended meanwhile (refused: MerchantNotActive)."""
        if not self.anchored_leaves:
            return await self.review()
        merchant = self.merchant2 if self.merchant2 is not None and self.rng.random() < 0.3 else self.merchant
        done = self.challenged.setdefault(merchant.address, [])
        again = bool(done) and self.rng.random() < 0.1
        leaf = self.rng.choice(done) if again else self.rng.choice(self.anchored_leaves)
        if not again and leaf in done:
            return
        expected = {"DisputeRegistryAlreadyOpened"} if again else set()
        if merchant is self.merchant2:
            expected.add("DisputeRegistryMerchantNotActive")
        async with merchant.lock:
            if not again and leaf in done:  # another client challenged it while this one waited for the key
                return
            out = await self.run("dispute:challenge" + (" (again)" if again else ""), lambda: self.api.write(
                merchant, "/v1/disputes/challenges", "DisputeRegistry", "challengeReview",
                {"leafIndex": leaf, "merchant": merchant.address, "category": h("category:fake-review"),
                 "evidenceHash": h(f"evidence:{self._next()}"), "evidenceUri": f"ipfs://hammer-{self._next()}"}),
                expected=expected)
            if out and not again:  # recorded before the key is released, so the check above sees it
                done.append(leaf)
                self.disputes[out["disputeId"]] = DisputeState(out["disputeId"], CHALLENGE, merchant)

    def _dispute(self, did: str) -> dict[str, Any]:
        d = self.registry.functions.dispute(bytes.fromhex(did[2:])).call()
        if isinstance(d, dict):
            return d
        names = ("kind", "phase", "resume", "outcome", "round", "byDefault", "panel", "cursor", "openedAt",
                 "responseDeadline", "rulingDeadline", "appealDeadline", "claimant", "remedyDeadline", "respondent",
                 "remedyAmount", "merchant", "arbitrator", "firstArbitrator", "subject")
        return dict(zip(names, d, strict=True))

    async def dispute_step(self) -> None:
        """Advance a random open dispute by the step its phase allows, signed by the party whose step it is;
        now and then a step out of turn (refused: WrongPhase)."""
        open_ = [d for d in self.disputes.values() if not d.done and not d.lock.locked()]
        if not open_:
            return await self.dispute_open()
        ds = self.rng.choice(open_)
        async with ds.lock:
            d = await self.chain(lambda: self._dispute(ds.id))
            await self._step(ds, d)

    async def _step(self, ds: DisputeState, d: dict[str, Any]) -> None:
        phase, did = int(d["phase"]), ds.id
        base = f"/v1/disputes/{did}"
        reg = "DisputeRegistry"
        respondent = self.by_address.get(str(d["respondent"]))
        arbitrator = self.by_address.get(str(d["arbitrator"]))
        if phase in (ESCALATED, CLOSED) or (phase in (AWAITING_RULING, APPEALED, REMEDY_CONTESTED)
                                             and arbitrator is None):
            ds.done = True  # closed, or waiting for someone whose key the hammer does not hold
            return
        if self.rng.random() < 0.05 and phase != REMEDY_REPORTED:
            async with ds.claimant.lock:
                await self.run("dispute:out-of-turn", lambda: self.api.write(
                    ds.claimant, f"{base}/remedy/confirmation", reg, "confirmRemedy", {"id": did}),
                    expected={"DisputeRegistryWrongPhase", "DisputeRegistryUnauthorized"})
            return
        if self.rng.random() < 0.08:
            async with ds.claimant.lock:
                await self.run("dispute:evidence", lambda: self.api.write(
                    ds.claimant, f"{base}/evidence", reg, "submitEvidence",
                    {"id": did, "evidenceHash": h(f"evidence:{self._next()}"), "uri": f"ipfs://hammer-{self._next()}"}))
            return
        if phase == AWAITING_RESPONSE and respondent is not None:
            async with respondent.lock:
                await self.run("dispute:respond", lambda: self.api.write(
                    respondent, f"{base}/response", reg, "respond",
                    {"id": did, "evidenceHash": h(f"evidence:{self._next()}"), "uri": ""}))
        elif phase in (AWAITING_RULING, APPEALED) and arbitrator is not None:
            if ds.kind == CHALLENGE:
                outcome, amount = self.rng.choice(((REVIEW_REMOVED, 0), (REVIEW_UPHELD, 0)))
            else:
                outcome = self.rng.choice((REFUND, REPLACEMENT, PARTIAL_REFUND, REJECTED))
                amount = self.rng.randint(1, 5000) if outcome in (REFUND, PARTIAL_REFUND) else 0
            async with arbitrator.lock:
                await self.run("dispute:rule" + (" (appeal)" if phase == APPEALED else ""), lambda: self.api.write(
                    arbitrator, f"{base}/rulings", reg, "rule",
                    {"id": did, "outcome": outcome, "remedyAmount": amount,
                     "rationaleHash": h(f"rationale:{self._next()}")}))
        elif phase == RULED:
            if self.rng.random() < 0.4:
                ds.done = True  # left to its appeal window (days): final only after it
                return
            party = ds.claimant if respondent is None or self.rng.random() < 0.5 else respondent
            async with party.lock:
                await self.run("dispute:appeal", lambda: self.api.write(
                    party, f"{base}/appeal", reg, "appeal",
                    {"id": did, "evidenceHash": h(f"evidence:{self._next()}"), "uri": ""}))
        elif phase == REMEDY_DUE:
            merchant = self.by_address.get(str(d["merchant"]))
            if merchant is None:
                ds.done = True
                return
            async with merchant.lock:
                await self.run("dispute:report-remedy", lambda: self.api.write(
                    merchant, f"{base}/remedy/report", reg, "reportRemedy",
                    {"id": did, "evidenceHash": h(f"evidence:{self._next()}")}))
        elif phase == REMEDY_REPORTED:
            contest = self.rng.random() < 0.3
            async with ds.claimant.lock:
                if contest:
                    await self.run("dispute:contest-remedy", lambda: self.api.write(
                        ds.claimant, f"{base}/remedy/contest", reg, "contestRemedy",
                        {"id": did, "evidenceHash": h(f"evidence:{self._next()}")}))
                else:
                    await self.run("dispute:confirm-remedy", lambda: self.api.write(
                        ds.claimant, f"{base}/remedy/confirmation", reg, "confirmRemedy", {"id": did}))
        elif phase == REMEDY_CONTESTED and arbitrator is not None:
            async with arbitrator.lock:
                await self.run("dispute:rule-on-remedy", lambda: self.api.write(
                    arbitrator, f"{base}/remedy/rulings", reg, "ruleOnRemedy",
                    {"id": did, "fulfilled": self.rng.random() < 0.5, "rationaleHash": h(f"rationale:{self._next()}")}))
        else:
            ds.done = True

    # -- governance -----------------------------------------------------------------------------------------

    async def appoint(self) -> None:
        """Appoint a fresh arbitrator (up to a few), or, one time in five, one already appointed (refused)."""
        gov = self.actors["governor"]
        again = self.rng.random() < 0.2 or len(self.arbitrators) >= MAX_ARBITRATORS
        target = self.rng.choice(self.arbitrators) if again else Actor(f"arbitrator-{len(self.arbitrators)}",
                                                                         Account.create())
        async with gov.lock:
            out = await self.run("governance:appoint" + (" (again)" if again else ""), lambda: self.api.write(
                gov, f"/v1/governance/arbitrators/{target.address}/appointment", "TrustGovernance",
                "appointArbitrator", {"arbitrator": target.address}),
                expected={"TrustGovernanceArbitratorAlreadyAppointed"} if again else ())
            if out and not again:
                self.arbitrators.append(target)
                self.by_address[target.address] = target

    async def governance(self) -> None:
        """Appoint an arbitrator, or sanction / restore the second merchant. Its status is changed only here,
        under the governor's lock, so the hammer knows it when it chooses; restoring an active merchant is
        done on purpose now and then (refused: MerchantAlreadyActive)."""
        m = self.merchant2
        if m is None or self.rng.random() < 0.3:
            return await self.appoint()
        gov = self.actors["governor"]
        async with gov.lock:
            if self.merchant2_status == "active" and self.rng.random() < 0.15:
                await self.run("governance:restore (active)", lambda: self.api.write(
                    gov, f"/v1/governance/merchants/{m.address}/restoration", "TrustGovernance", "restoreMerchant",
                    [m.address, h("reason:hammer"), h("ruling:none")]),
                    expected={"TrustGovernanceMerchantAlreadyActive"})
            elif self.merchant2_status == "active":
                kind = self.rng.choice((WARNING, SUSPENSION))
                out = await self.run("governance:sanction", lambda: self.api.write(
                    gov, f"/v1/governance/merchants/{m.address}/sanctions", "TrustGovernance", "sanctionMerchant",
                    [m.address, kind, h("reason:hammer"), h(f"ruling:{self._next()}")]))
                if out and kind == SUSPENSION:
                    self.merchant2_status = "suspended"
            else:
                out = await self.run("governance:restore", lambda: self.api.write(
                    gov, f"/v1/governance/merchants/{m.address}/restoration", "TrustGovernance", "restoreMerchant",
                    [m.address, h("reason:hammer-cured"), h("ruling:none")]))
                if out:
                    self.merchant2_status = "active"

    # -- the promises ---------------------------------------------------------------------------------------

    def _new_checkpoints(self) -> list[ChainCheckpoint]:
        """``CheckpointAnchored`` events since the last call, from the chain (never from the service)."""
        head = int(self.w3.eth.block_number)
        if head <= self._cp_block:
            return []
        params: FilterParams = {"address": self.review_log.address, "fromBlock": self._cp_block + 1,
                                "toBlock": head, "topics": [_CHECKPOINT_TOPIC]}
        event = self.review_log.events.CheckpointAnchored()
        out = []
        for log in self.w3.eth.get_logs(params):
            a = event.process_log(log)["args"]
            out.append(ChainCheckpoint(int(a["index"]), int(a["size"]), bytes(a["root"]), int(a["timestamp"])))
        self._cp_block = head
        return out

    async def follow_checkpoints(self, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                self.chain_cps.extend(await self.chain(self._new_checkpoints))
            except Exception as exc:  # noqa: BLE001 - counted, and tried again
                self._fail("check:chain-read", type(exc).__name__, repr(exc))
            await asyncio.sleep(0.4)

    def _covering(self, leaf: int) -> ChainCheckpoint | None:
        for cp in self.chain_cps:  # in chain order; sizes only grow
            if cp.size > leaf:
                return cp
        return None

    async def _is_checkpoint(self, index: int, size: int, root: bytes) -> bool:
        key = (index, size, root)
        if key not in self._confirmed:
            self._confirmed[key] = bool(await self.chain(
                lambda: self.review_log.functions.isCheckpoint(index, size, root).call()))
        return self._confirmed[key]

    async def check_promise(self, r: ReceiptRecord) -> None:
        """The receipt's whole promise: signed by the operator the chain names, anchored on chain by its
        deadline, and served with an inclusion proof of its leaf hash against a checkpoint the chain holds."""
        problems: list[str] = []
        try:
            receipt = Receipt.from_json(r.receipt)
            verify_receipt(receipt, operator=self.operator_address, chain_id=self.manifest.chain_id,
                           review_log=self.manifest.address("ReviewLog"))
            if receipt.leaf_index != r.leaf_index or hx(receipt.leaf_hash) != r.leaf_hash:
                problems.append("the receipt names another leaf than the answer")
        except (InvalidInput, VerificationError) as exc:
            problems.append(f"receipt: {exc}")
        give_up = r.deadline + GRACE
        cp = self._covering(r.leaf_index)
        while cp is None and time.time() < give_up:
            await asyncio.sleep(0.5)
            cp = self._covering(r.leaf_index)
        if cp is None:
            problems.append(f"not anchored on chain {GRACE:.0f} s after its deadline")
        else:
            self.stats.anchor_delays.append(cp.timestamp - (r.deadline - int(r.receipt["maxMergeDelay"])))
            if cp.timestamp > r.deadline:
                problems.append(f"first anchored at block time {cp.timestamp}, {cp.timestamp - r.deadline} s after "
                                f"its deadline {r.deadline}")
        served: dict[str, Any] | None = None
        while True:
            try:
                served = await self.api.call("GET", f"/v1/reviews/{r.leaf_index}")
            except (Refused, httpx.HTTPError) as exc:
                problems.append(f"GET /v1/reviews/{r.leaf_index}: {exc}")
                break
            if served["inclusion"]["status"] == "anchored" or time.time() > give_up:
                break
            await asyncio.sleep(0.5)
        if served is not None and served["inclusion"]["status"] != "anchored":
            problems.append("the service serves no inclusion proof past the deadline")
        elif served is not None:
            inc = served["inclusion"]
            c = inc["checkpoint"]
            root = bytes.fromhex(c["rootHash"][2:])
            if served["leafHash"] != r.leaf_hash:
                problems.append(f"served leaf hash {served['leafHash']} is not the receipt's {r.leaf_hash}")
            try:
                merkle.verify_inclusion(r.leaf_index, int(c["treeSize"]), bytes.fromhex(r.leaf_hash[2:]),
                                        [bytes.fromhex(p[2:]) for p in inc["proof"]], root)
            except (InvalidInput, VerificationError) as exc:
                problems.append(f"inclusion proof against checkpoint {c['index']}: {exc}")
            if not await self._is_checkpoint(int(c["index"]), int(c["treeSize"]), root):
                problems.append(f"the chain does not hold checkpoint {c['index']} (size {c['treeSize']}, root "
                                f"{c['rootHash']}) the proof is against")
        self.stats.promises_checked += 1
        if problems:
            self.stats.break_promise(f"leaf {r.leaf_index}: " + "; ".join(problems))
        else:
            self.anchored_leaves.append(r.leaf_index)

    async def check_promises(self, done: asyncio.Event) -> None:
        """Check each receipt once its deadline has passed (a second after it: block times are whole seconds
        and the follower polls), a few at a time; returns once the clients stopped and every receipt is checked."""
        running: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(8)

        async def one(r: ReceiptRecord) -> None:
            async with limit:
                await self.check_promise(r)

        while True:
            now = time.time()
            while self.due and self.due[0][0] + 1 <= now:
                _, _, r = heapq.heappop(self.due)
                task = asyncio.create_task(one(r))
                running.add(task)
                task.add_done_callback(running.discard)
            if done.is_set() and not self.due and not running:
                return
            await asyncio.sleep(0.2)

    async def check_consistency(self, done: asyncio.Event) -> None:
        """Between random pairs of checkpoints anchored on chain, the service's consistency proof verifies."""
        while not done.is_set():
            await asyncio.sleep(0.7)
            await self._one_consistency()

    async def _one_consistency(self) -> None:
        cps = [c for c in self.chain_cps if c.size > 0]
        if len(cps) < 2:
            return
        a, b = sorted(self.rng.sample(cps, 2), key=lambda c: c.index)
        try:
            out = await self.api.call("GET", "/v1/log/consistency", params={"first": a.size, "second": b.size})
            merkle.verify_consistency(a.size, b.size, a.root, b.root, [bytes.fromhex(p[2:]) for p in out["proof"]])
        except (Refused, httpx.HTTPError, InvalidInput, VerificationError) as exc:
            self.stats.consistency_broken += 1
            self.stats.break_promise(f"consistency {a.index} (size {a.size}) -> {b.index} (size {b.size}): {exc}")
        self.stats.consistency_checks += 1


# -- the end: the log audited, duplicates, the index rebuilt ----------------------------------------------------


def audit_log(api: str, w3: Web3, manifest: Manifest) -> dict[str, Any]:
    """Every anchored root recomputed from the served leaf hashes (``trustledger audit``), every served leaf's
    canonical JSON hashed to its leaf hash, and purchases logged twice counted."""
    checkpoints = anchored_checkpoints(w3, manifest)
    with httpx.Client(base_url=api, timeout=60) as http:
        size = int(http.get("/v1/log").json()["treeSize"])
        hashes = fetch_leaf_hashes(http, max(size, max((c.size for c in checkpoints), default=0)))
        leaves: list[str] = []
        while len(leaves) < size:
            r = http.get("/v1/log/leaves", params={"start": len(leaves), "end": min(size, len(leaves) + 10_000)})
            r.raise_for_status()
            leaves.extend(r.json()["leaves"])
    results = audit_checkpoints(checkpoints, hashes)
    bad_leaves = sum(1 for leaf, lh in zip(leaves, hashes, strict=False) if merkle.leaf_hash(leaf.encode()) != lh)
    purchases = Counter(json.loads(leaf)["purchase"] for leaf in leaves)
    return {"checkpoints": len(results), "inconsistent": [p for x in results for p in x.problems],
            "logSize": size, "leavesNotHashingToTheirHash": bad_leaves,
            "purchasesLoggedTwice": sum(n - 1 for n in purchases.values() if n > 1)}


def compare_index(w3: Web3, manifest: Manifest, live_url: str, scratch: Path) -> dict[str, Any]:
    """Rebuild the index from the deploy block into a fresh SQLite file, up to the block the live index has
    reached, and compare every projection row (``Indexer.snapshot``) with the live service's index. Answers
    also the certificate ids issued more than once, from the rebuilt events."""
    live_db = Database(live_url)
    fresh_db = Database(f"sqlite:///{scratch}")
    try:
        live = Indexer(w3, live_db, manifest)
        head = int(w3.eth.block_number)
        deadline = time.monotonic() + 60
        while True:  # the live indexer runs on its own: wait until it reached the head, and holds still
            before = live.cursor()
            snap = live.snapshot()
            if live.cursor() == before and (before >= head or time.monotonic() > deadline):
                break
            time.sleep(0.5)
        fresh_db.migrate()
        rebuilt = Indexer(w3, fresh_db, manifest, retry_delay=0)
        rebuilt.sync(to_block=before)
        mine = rebuilt.snapshot()
        issued = Counter(hx(bytes(e.args["id"])) if isinstance(e.args["id"], (bytes, bytearray))
                         else str(e.args["id"]) for e in rebuilt.events(event="CertificateIssued"))
    finally:
        live_db.dispose()
        fresh_db.dispose()
    diff = {}
    for table in sorted(set(snap) | set(mine)):
        a, b = set(snap.get(table, [])), set(mine.get(table, []))
        if a != b:
            diff[table] = {"onlyLive": len(a - b), "onlyRebuilt": len(b - a)}
    return {"equal": not diff and snap == mine, "atBlock": before, "head": head, "differs": diff,
            "rows": sum(len(v) for v in mine.values()),
            "certificatesIssuedTwice": sum(n - 1 for n in issued.values() if n > 1),
            "certificatesIssued": len(issued)}


# -- the service started here ---------------------------------------------------------------------------------


class LocalService:
    """``make up`` in a fresh state folder on free ports: started as a child process in its own session, so
    that it (and the Anvil it starts) is stopped by its process id at the end whatever happened."""

    def __init__(self, home: Path, mmd: int) -> None:
        self.home, self.mmd = home, mmd
        self.port, self.chain_port = _free_port(), _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TRUSTLEDGER_MAX_MERGE_DELAY": str(self.mmd), "TRUSTLEDGER_INDEX_INTERVAL": "0.5"}
        log = open(self.home / "service.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "api.serve", "--home", str(self.home),
                                      "--port", str(self.port), "--chain-port", str(self.chain_port)],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.home / "service.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the service exited with {self.proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.api}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the service did not answer /v1/health within 120 s")

    def stop(self) -> None:
        """Ctrl-C (the service stops, then its Anvil writes its state and stops); SIGKILL after 60 s, and any
        Anvil of this state folder left behind is killed by its process id."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        marker = str(self.home / "anvil-state.json")
        for pid in _pids_with_argument(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pids_with_argument(argument: str) -> list[int]:
    """Processes whose command line contains ``argument`` exactly (this run's state folder: nobody else's)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in args:
            out.append(int(entry.name))
    return out


# -- the run ------------------------------------------------------------------------------------------------


async def hammer(args: argparse.Namespace, api_url: str, rpc: str, home: Path) -> tuple[Hammer, float]:
    keys: dict[str, str] = json.loads((home / "dev-keys.json").read_text())
    token = str(json.loads((home / "dev-secrets.json").read_text())["api_token"])
    manifest = Manifest.load(home / "deployment.json")
    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": 30}))
    stats = Stats()
    api = Api(api_url, token, stats, args.clients)
    ham = Hammer(api, w3, manifest, keys, random.Random(args.seed), stats)
    ham.max_ops = args.ops
    follow_done, checks_done = asyncio.Event(), asyncio.Event()
    follower = asyncio.create_task(ham.follow_checkpoints(follow_done))
    promises = asyncio.create_task(ham.check_promises(checks_done))
    consistency = asyncio.create_task(ham.check_consistency(checks_done))
    try:
        err.print(f"hammer: setting up (fresh issuers, a second merchant, an arbitrator) against {api_url}")
        await ham.setup()
        err.print(f"hammer: {args.clients} clients for {args.seconds} s" +
                  (f" or {args.ops} operations" if args.ops else ""))
        started = time.monotonic()
        clients = [asyncio.create_task(ham.client(i)) for i in range(args.clients)]
        try:
            await asyncio.wait_for(ham.stop.wait(), timeout=args.seconds)
        except TimeoutError:
            ham.stop.set()
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started
        err.print(f"hammer: {sum(stats.ops.values())} operations in {elapsed:.1f} s; checking the last receipts "
                  f"after their deadline")
        checks_done.set()
        await promises
        await consistency
        await ham._one_consistency()
    finally:
        checks_done.set()
        follow_done.set()
        for task in (promises, consistency, follower):
            if not task.done():
                task.cancel()
        await asyncio.gather(promises, consistency, follower, return_exceptions=True)
        await api.http.aclose()
    return ham, elapsed


def report(ham: Hammer, elapsed: float, audit: dict[str, Any], index: dict[str, Any] | None,
           args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    s = ham.stats
    duplicates = {"receipts (a purchase accepted twice)": 0, "receipts (a leaf index handed out twice)": 0,
                  "receipts (a retry got another leaf)": 0, "receipts (a second review of one purchase accepted)": 0,
                  "certificates (an id answered twice)": 0, **s.duplicates}
    duplicates["leaves of one purchase"] = audit["purchasesLoggedTwice"]
    if index is not None:
        duplicates["certificates issued twice"] = index["certificatesIssuedTwice"]
    dup_total = sum(duplicates.values())
    delays = sorted(s.anchor_delays)
    out: dict[str, Any] = {
        "seconds": round(elapsed, 1), "clients": args.clients, "mmd": ham.chain_mmd,
        "ops": sum(s.ops.values()), "succeeded": sum(s.ok.values()), "refusedAsExpected": sum(s.expected.values()),
        "failedUnexpectedly": sum(s.failed.values()),
        "byKind": {k: {"ops": s.ops[k], "succeeded": s.ok[k], "refusedAsExpected": s.expected[k],
                       "failed": s.failed[k]} for k in sorted(s.ops)},
        "expectedRefusals": dict(s.expected_by), "failures": dict(s.failed_by), "failureSamples": s.failure_samples,
        "retried": dict(s.retries),
        "receipts": s.receipts, "promisesChecked": s.promises_checked, "promisesBroken": s.promises_broken,
        "brokenDetails": s.broken,
        "anchorDelay": {"p50": delays[len(delays) // 2], "max": delays[-1]} if delays else None,
        "consistencyChecks": s.consistency_checks, "consistencyBroken": s.consistency_broken,
        "checkpointsAudited": audit["checkpoints"], "checkpointsInconsistent": len(audit["inconsistent"]),
        "auditProblems": audit["inconsistent"][:20], "logSize": audit["logSize"],
        "leavesNotHashingToTheirHash": audit["leavesNotHashingToTheirHash"],
        "duplicates": duplicates, "duplicatesTotal": dup_total,
        "index": index,
    }
    ok = (s.promises_broken == 0 and dup_total == 0 and out["failedUnexpectedly"] == 0
          and not audit["inconsistent"] and audit["leavesNotHashingToTheirHash"] == 0
          and (index is None or index["equal"]))
    out["ok"] = ok
    return out, ok


def print_tables(out: dict[str, Any]) -> None:
    console = Console(width=120)
    ops = Table(title=f"Operations ({out['clients']} clients, {out['seconds']} s, MMD {out['mmd']} s)",
                title_justify="left")
    for column in ("kind", "ops", "succeeded", "refused as expected", "failed unexpectedly"):
        ops.add_column(column, justify="left" if column == "kind" else "right")
    for kind, c in out["byKind"].items():
        ops.add_row(kind, str(c["ops"]), str(c["succeeded"]), str(c["refusedAsExpected"]),
                    f"[red]{c['failed']}[/]" if c["failed"] else "0")
    ops.add_row("[bold]total", f"[bold]{out['ops']}", f"[bold]{out['succeeded']}", f"[bold]{out['refusedAsExpected']}",
                f"[bold]{out['failedUnexpectedly']}")
    console.print(ops)
    checks = Table(title="Promises and checks", title_justify="left", show_header=False)
    checks.add_column(style="bold")
    checks.add_column(justify="right")
    index = out["index"]
    rows = [
        ("receipts handed out", out["receipts"]),
        ("promises checked (signature, anchored by the deadline on chain, proof vs chain checkpoint)",
         out["promisesChecked"]),
        ("promises broken (must be 0)", out["promisesBroken"]),
        ("anchoring delay p50 / max (block time - submittedAt, s)",
         f"{out['anchorDelay']['p50']} / {out['anchorDelay']['max']}" if out["anchorDelay"] else "-"),
        ("consistency checks between chain checkpoints", out["consistencyChecks"]),
        ("checkpoints re-audited from the leaf hashes (inconsistent)",
         f"{out['checkpointsAudited']} ({out['checkpointsInconsistent']})"),
        ("log size (leaves not hashing to their hash)", f"{out['logSize']} ({out['leavesNotHashingToTheirHash']})"),
        ("duplicates (must be 0)", out["duplicatesTotal"]),
        ("rebuilt index equals the live one",
         "not compared" if index is None else f"{index['equal']} ({index['rows']} rows at block {index['atBlock']})"),
        ("retried (nonce-not-current, rate-limited)",
         f"{out['retried'].get('nonce-not-current', 0)}, {out['retried'].get('rate-limited', 0)}"),
    ]
    for name, value in rows:
        checks.add_row(name, str(value))
    console.print(checks)
    for title, items in (("refused as expected", out["expectedRefusals"]), ("failed unexpectedly", out["failures"])):
        if items:
            console.print(f"[bold]{title}[/]: " + "; ".join(f"{k} x{v}" for k, v in sorted(items.items())))
    for line in out["brokenDetails"][:10] + out["failureSamples"][:10]:
        console.print(f"[red]{line}")
    if index is not None and index["differs"]:
        console.print(f"[red]index differs: {index['differs']}")
    console.print("[bold green]HELD[/]: every promise kept, nothing duplicated" if out["ok"] else "[bold red]BROKEN")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/hammer.py", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ops", type=int, default=None, help="stop after this many operations (cap)")
    ap.add_argument("--mmd", type=int, default=5, help="the MMD of the service started here (seconds)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--api", help="attach to this running service instead of starting one")
    ap.add_argument("--rpc", help="with --api: the chain's JSON-RPC")
    ap.add_argument("--home", type=Path, help="with --api: the state folder (dev-keys.json, dev-secrets.json, "
                                              "deployment.json)")
    ap.add_argument("--db-url", help="the live service's database, for the index comparison (default: "
                                     "<home>/trustledger.db)")
    ap.add_argument("--keep", action="store_true", help="keep the state folder of the service started here")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    if args.api and not (args.rpc and args.home):
        ap.error("--api goes with --rpc and --home")
    for url in filter(None, (args.api, args.rpc)):
        host = httpx.URL(url).host
        if host not in ("127.0.0.1", "localhost", "::1"):
            ap.error(f"loopback only: {url}")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    scratch = Path(tempfile.mkdtemp(prefix="trustledger-hammer-"))
    service: LocalService | None = None
    try:
        if args.api:
            api_url, rpc, home = args.api.rstrip("/"), args.rpc, args.home
        else:
            service = LocalService(scratch / "home", args.mmd)
            err.print(f"hammer: starting the service (state in {service.home}, MMD {args.mmd} s)")
            service.start()
            api_url, rpc, home = service.api, service.rpc, service.home
        ham, elapsed = asyncio.run(hammer(args, api_url, rpc, home))
        ham.chain_mmd = int(httpx.get(f"{api_url}/v1/log", timeout=30).json()["maxMergeDelay"])
        err.print("hammer: auditing the log from the chain, and rebuilding the index")
        audit = audit_log(api_url, ham.w3, ham.manifest)
        live_url = args.db_url or (f"sqlite:///{home / 'trustledger.db'}" if (home / "trustledger.db").exists()
                                   else None)
        index = compare_index(ham.w3, ham.manifest, live_url, scratch / "rebuilt.db") if live_url else None
        out, ok = report(ham, elapsed, audit, index, args)
        out["seed"] = args.seed
        print_tables(out)
        if args.json:
            print(json.dumps(out, separators=(",", ":")), flush=True)
        return 0 if ok else 1
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        err.print(f"[red]hammer could not run: {exc}")
        return 2
    finally:
        if service is not None:
            service.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            err.print(f"hammer: state kept in {scratch}")


if __name__ == "__main__":
    raise SystemExit(main())
