"""Faults of the running service (issue #9, deliverable 2): what a receipt promises must survive them.

A receipt is the operator's signed promise that its leaf is in a checkpoint anchored by ``submittedAt +
maxMergeDelay``. These tests break the service the ways production breaks it, under load, and then check
every promise handed out from the chain alone:

* ``kill -9`` of the service during 10,000 review submissions, restarted well inside the MMD: every receipt
  verifies, its leaf is at its index with its hash, a checkpoint anchored by its deadline (the chain's
  ``CheckpointAnchored`` block time) covers it, no purchase has two leaves; and the reviews whose answer the
  kill swallowed, retried, come back as the same receipt (exact retry) or a new leaf, never a second one.
  Then an outage longer than the MMD with receipts outstanding: ``trustledger audit --receipts`` must name
  exactly those receipts as broken promises (exit 1);
* the database connections terminated under load (PostgreSQL ``pg_terminate_backend``, repeatedly): no
  accepted write lost, the service recovers.

The chain is Anvil started here exactly as ``make up`` starts it (``ledger.devnet.start_anvil``: its own
session, ``--state`` every second) and deployed by the same code; the service is ``python -m api.serve --rpc
... --manifest ...`` attached to it, in its own session too. So ``kill -9`` of the service's process group
kills the service alone and the chain keeps running, as a crashed API server would leave it in production
(``make up`` itself also starts Anvil in its own session, so killing its group would likewise spare the chain,
but a restarted ``make up`` would then find the chain's port taken).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coincurve
import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3

from api.serve import dev_secrets
from cli._chainlog import AnchoredCheckpoint, anchored_checkpoints
from ledger import merkle
from ledger.deploy import contract_at
from ledger.devnet import ensure_deployment, identities, start_anvil, stop_anvil
from ledger.eip712 import PurchaseAttestation
from ledger.manifest import Manifest
from ledger.receipts import Receipt, verify_receipt
from ledger.reviewlog import attestation_digest
from ledger.reviews import order_commitment
from ledger.storage.db import scratch_schema

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
MMD = 20
"""Seconds: long enough for a restart (a few seconds) plus the checkpointer's lease expiring (MMD/2 at most)
and its next tick (MMD/4) to fit well inside it, short enough for the long outage to last a test."""
BATCH = 500
PG_URL = os.environ.get("TRUSTLEDGER_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hx(b: bytes) -> str:
    return "0x" + b.hex()


# -- the chain and the service ------------------------------------------------------------------------------


class Chain:
    """Anvil with its state in ``home``, TrustLedger deployed on it (what ``make up`` does before serving)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.proc, self.w3 = start_anvil(home, self.port)
        try:
            self.manifest: Manifest = ensure_deployment(self.w3, home)
        except BaseException:
            stop_anvil(self.proc)
            raise
        self.review_log = contract_at(self.w3, "ReviewLog", self.manifest.address("ReviewLog"))

    @property
    def rpc(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def checkpoints(self) -> list[AnchoredCheckpoint]:
        return anchored_checkpoints(self.w3, self.manifest)

    def anchored_size(self) -> int:
        return int(self.review_log.functions.latestCheckpoint().call()[1])

    def automine(self, on: bool) -> None:
        self.w3.provider.make_request("evm_setAutomine", [on])  # type: ignore[arg-type]

    def mine(self) -> None:
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def close(self) -> None:
        stop_anvil(self.proc)


class Service:
    """``python -m api.serve`` attached to ``chain``, in its own session (so its process group is itself and its
    threads, never the chain); the settings a local ``make up`` would use, from the state folder's files."""

    def __init__(self, chain: Chain, *, database_url: str | None = None) -> None:
        self.chain = chain
        self.home = chain.home
        self.port = _free_port()
        keys, dev = identities(self.home), dev_secrets(self.home)
        self.env = {**os.environ,
                    "TRUSTLEDGER_DATABASE_URL": database_url or f"sqlite:///{self.home}/trustledger.db",
                    "TRUSTLEDGER_OPERATOR_KEY": keys["operator"], "TRUSTLEDGER_RELAYER_KEY": keys["relayer"],
                    "TRUSTLEDGER_ORDER_SIGNER_KEY": keys["order_signer"],
                    "TRUSTLEDGER_CONTENT_KEY": dev["content_key"], "TRUSTLEDGER_PSEUDONYM_KEY": dev["pseudonym_key"],
                    "TRUSTLEDGER_CUSTODY_KEY": dev["custody_key"], "TRUSTLEDGER_API_TOKEN": dev["api_token"],
                    "TRUSTLEDGER_MAX_MERGE_DELAY": str(MMD), "TRUSTLEDGER_INDEX_INTERVAL": "0.5",
                    # the load generator is one client: the per-client write limit is not what is tested here
                    "TRUSTLEDGER_WRITE_RATE": "1000000", "TRUSTLEDGER_WRITE_BURST": "1000000"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for ``/v1/health`` to answer; the seconds it took."""
        began = time.monotonic()
        self.starts += 1
        log = open(self.home / f"service-{self.starts}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.serve", "--rpc", self.chain.rpc, "--manifest",
             str(self.home / "deployment.json"), "--port", str(self.port)],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = began + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"api.serve exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=2).status_code in (200, 503):
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"api.serve did not answer within 60 s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.home / f"service-{self.starts}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """``kill -9`` of the service's process group: the service alone (the chain is in its own session)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.proc = None


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path / "home")
    try:
        yield c
    finally:
        c.close()


# -- the load -----------------------------------------------------------------------------------------------


@dataclass
class Load:
    """The platform: attests purchases and submits their reviews in batches, keeping every receipt it is handed.
    A review whose answer never came is no promise: it is retried, with the very same body (an exact retry),
    until it is answered.

    Attestations come from ``POST /v1/purchases`` (the platform's token) around the faults, and are otherwise
    signed here with the order signer's key from the state folder, byte for byte what the service signs
    (checked: :meth:`fresh` with ``via_api`` compares one): the service signs about 200 a second (eth-account's
    typed-data encoding), so 10,000 of them through HTTP alone would take the whole time budget of the test."""

    home: Path
    base: str
    chain_id: int
    governance: str
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """orderCommitment -> the accepted answer (leafIndex, leafHash, receipt)."""
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    retried: set[str] = field(default_factory=set)
    """The purchases whose review went unanswered at least once and was retried."""
    transport_errors: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)
    """5xx answers by what and problem type: refusals of a failing service (nothing promised, retried)."""
    via_api: int = 0
    seq: int = 0

    def __post_init__(self) -> None:
        keys = json.loads((self.home / "dev-keys.json").read_text())
        self.token = json.loads((self.home / "dev-secrets.json").read_text())["api_token"]
        self.merchant = Account.from_key(keys["merchant"]).address
        self.order_signer = coincurve.PrivateKey(bytes.fromhex(keys["order_signer"][2:]))
        self.product = hx(keccak(text="gtin:06901234567892"))

    def _attestation(self) -> dict[str, Any]:
        self.seq += 1
        order = f"fault-order-{self.seq}"
        return {"orderCommitment": hx(order_commitment(order, self.merchant, keccak(text=f"salt:{order}"))),
                "merchant": self.merchant, "productId": self.product,
                "buyer": Web3.to_checksum_address(keccak(text=f"buyer:{order}")[-20:]),
                "purchasedAt": int(time.time()) - 3600}

    def _sign(self, att: dict[str, Any]) -> str:
        digest = attestation_digest(PurchaseAttestation(
            bytes.fromhex(att["orderCommitment"][2:]), att["merchant"], bytes.fromhex(att["productId"][2:]),
            att["buyer"], att["purchasedAt"]), chain_id=self.chain_id, governance=self.governance)
        rsv = self.order_signer.sign_recoverable(digest, hasher=None)
        return hx(rsv[:64] + bytes((rsv[64] + 27,)))

    def _body(self, att: dict[str, Any], signature: str) -> dict[str, Any]:
        rating = 1 + self.seq % 5
        return {"productId": self.product, "merchant": self.merchant, "rating": rating,
                "text": f"fault review {self.seq}: {rating} stars", "userId": f"user-{self.seq % 700}",
                "attestation": att, "attestationSignature": signature}

    async def _attest(self, http: httpx.AsyncClient, gate: asyncio.Semaphore) -> dict[str, Any] | None:
        att = self._attestation()
        async with gate:
            try:
                r = await http.post("/v1/purchases", json=att, headers={"Authorization": f"Bearer {self.token}"})
            except httpx.TransportError:
                self.transport_errors += 1
                return None  # no attestation, no review: nothing was promised
        if r.status_code >= 500:
            self.server_errors[f"purchase {r.status_code} {r.json().get('type', '?').rsplit(':', 1)[-1]}"] += 1
            return None
        assert r.status_code == 201, r.text
        assert r.json()["signature"] == self._sign(att)  # what the local signer signs is what the service signs
        self.via_api += 1
        return self._body(att, r.json()["signature"])

    async def _fresh_via_api(self, n: int) -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=self.base, timeout=30,
                                     limits=httpx.Limits(max_connections=32)) as http:
            got = await asyncio.gather(*(self._attest(http, gate) for _ in range(n)))
        return [b for b in got if b is not None]

    def fresh(self, n: int, *, via_api: bool = False) -> list[dict[str, Any]]:
        """``n`` new reviews, each with its own purchase attestation: from ``POST /v1/purchases`` (fewer if the
        service died meanwhile) or signed here (one of them also asked of the service, and compared)."""
        if via_api:
            return asyncio.run(self._fresh_via_api(n))
        out = asyncio.run(self._fresh_via_api(1))
        while len(out) < n:
            att = self._attestation()
            out.append(self._body(att, self._sign(att)))
        return out

    def submit(self, bodies: list[dict[str, Any]]) -> httpx.Response | None:
        """One batch; every review of it answered is recorded; None (and all kept for a retry) when the answer
        never came, as when the service was killed meanwhile."""
        for b in bodies:
            self.bodies[b["attestation"]["orderCommitment"]] = b
        try:
            r = httpx.post(f"{self.base}/v1/reviews/batch", json={"reviews": bodies}, timeout=60)
        except httpx.TransportError:
            self.transport_errors += 1
            self.unanswered.extend(bodies)
            return None
        if r.status_code >= 500:  # the whole batch refused by a failing service: nothing promised, retried
            self.server_errors[f"batch {r.status_code} {r.json().get('type', '?').rsplit(':', 1)[-1]}"] += 1
            self.unanswered.extend(bodies)
            return r
        assert r.status_code == 200, r.text
        for body, item in zip(bodies, r.json()["results"], strict=True):
            purchase = body["attestation"]["orderCommitment"]
            if item["status"] == 201:
                self._record(purchase, item["accepted"])
            else:
                assert item["status"] >= 500, item  # a review refused for what it is would be a bug of the load
                self.server_errors[f"review {item['status']} {item['problem']['type'].rsplit(':', 1)[-1]}"] += 1
                self.unanswered.append(body)
        return r

    def _record(self, purchase: str, accepted: dict[str, Any]) -> None:
        prior = self.receipts.get(purchase)
        assert prior is None or prior == accepted, ("a second receipt for one purchase", prior, accepted)
        self.receipts[purchase] = accepted

    def retry_unanswered(self) -> None:
        """Resubmit every unanswered review as it was: each comes back as the receipt of the leaf it already
        has (exact retry: same index, hash and submittedAt) or as a new leaf if it never got in, never twice."""
        while self.unanswered:
            todo, self.unanswered = self.unanswered, []
            self.retried.update(b["attestation"]["orderCommitment"] for b in todo)
            self.submit(todo)

    def accepted(self) -> int:
        return len(self.receipts)


def _load_to(load: Load, total: int, *, on_batch: Any = None) -> None:
    """Submit fresh reviews in batches until ``total`` are accepted; ``on_batch(load)`` runs before each."""
    while load.accepted() < total:
        if on_batch is not None:
            on_batch(load)
        load.retry_unanswered()
        want = min(BATCH, total - load.accepted() - len(load.unanswered))
        if want <= 0:
            continue
        load.submit(load.fresh(want))


# -- the checks ---------------------------------------------------------------------------------------------


@dataclass
class Checked:
    receipts: int
    kept: int
    broken: list[int]
    leaves: int


def _fetch_all(base: str, path: str, key: str, size: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < size:
        end = min(size, len(out) + 10_000)
        r = httpx.get(f"{base}{path}", params={"start": len(out), "end": end}, timeout=60)
        assert r.status_code == 200, r.text
        out.extend(r.json()[key])
    return out


def _check_promises(chain: Chain, base: str, load: Load, *, sample: int = 150) -> Checked:
    """Every receipt against the chain: signed by the ReviewLog's operator, its leaf (and purchase) at its index
    in the log, covered by the first checkpoint anchored after it, whose block time is compared with the
    deadline; no purchase with two leaves and no leaf without a receipt. ``GET /v1/reviews/{i}`` is asked for
    ``sample`` random reviews and as many of the retried ones (every leaf hash is checked, from the leaf-hash
    ranges), and its inclusion proof verified against the root the chain holds."""
    operator = chain.review_log.functions.logOperator().call()
    review_log, chain_id = chain.manifest.address("ReviewLog"), chain.manifest.chain_id
    checkpoints = chain.checkpoints()
    size = max(int(a["leafIndex"]) for a in load.receipts.values()) + 1
    hashes = [bytes.fromhex(h[2:]) for h in _fetch_all(base, "/v1/log/leaf-hashes", "leafHashes", size)]
    leaves = [json.loads(leaf) for leaf in _fetch_all(base, "/v1/log/leaves", "leaves", size)]
    tree = merkle.MerkleTree(hashes)
    for cp in checkpoints:  # the service's leaves reproduce every root the chain holds
        if cp.size <= size:
            assert tree.root(cp.size) == cp.root, f"checkpoint {cp.index} not reproduced"
    broken: list[int] = []
    indices: set[int] = set()
    for purchase, accepted in load.receipts.items():
        receipt = Receipt.from_json(accepted["receipt"])
        verify_receipt(receipt, operator=operator, chain_id=chain_id, review_log=review_log)
        i = receipt.leaf_index
        assert i == accepted["leafIndex"] and hx(receipt.leaf_hash) == accepted["leafHash"]
        assert i not in indices, f"leaf {i} handed out twice"
        indices.add(i)
        assert hashes[i] == receipt.leaf_hash, f"leaf {i}: the log holds another hash"
        assert leaves[i]["purchase"] == purchase and merkle.leaf_hash(
            json.dumps(leaves[i], separators=(",", ":"), sort_keys=True).encode()) == receipt.leaf_hash
        covering = next((cp for cp in checkpoints if cp.size > i), None)
        if covering is None or covering.timestamp > receipt.deadline:
            broken.append(i)
    twice = [p for p, n in Counter(leaf["purchase"] for leaf in leaves).items() if n > 1]
    assert not twice, f"purchases with two leaves: {twice[:5]}"
    assert indices == set(range(size)), "a leaf of the log has no receipt, or a receipt no leaf"
    rng = random.Random(9)
    retried = sorted(int(load.receipts[p]["leafIndex"]) for p in load.retried if p in load.receipts)
    asked = sorted(set(rng.sample(sorted(indices), min(sample, len(indices))))
                   | set(rng.sample(retried, min(sample, len(retried)))))
    roots = {cp.size: cp.root for cp in checkpoints}
    with httpx.Client(base_url=base, timeout=30) as http:
        answers = [http.get(f"/v1/reviews/{i}").json() for i in asked]
    for i, got in zip(asked, answers, strict=True):
        assert got["leafHash"] == hx(hashes[i]), (i, got)
        if got["inclusion"]["status"] == "anchored":
            cp = got["inclusion"]["checkpoint"]
            assert roots[cp["treeSize"]] == bytes.fromhex(cp["rootHash"][2:])  # a root the chain holds
            merkle.verify_inclusion(i, cp["treeSize"], hashes[i], [bytes.fromhex(p[2:]) for p in
                                                                   got["inclusion"]["proof"]], roots[cp["treeSize"]])
    return Checked(len(load.receipts), len(load.receipts) - len(broken), sorted(broken), size)


def _wait_anchored(chain: Chain, size: int, until: float) -> None:
    while chain.anchored_size() < size:
        assert time.time() < until, f"only {chain.anchored_size()} of {size} leaves anchored in time"
        time.sleep(0.25)


def _audit(chain: Chain, base: str, load: Load, path: Path) -> tuple[int, str, set[int]]:
    """``trustledger audit --receipts`` over every receipt handed out: its exit code, output, and the leaf
    indices of its broken-promises table."""
    path.write_text("".join(json.dumps(a["receipt"]) + "\n" for a in load.receipts.values()))
    run = subprocess.run([sys.executable, "-m", "cli.main", "audit", "--rpc", chain.rpc, "--manifest",
                          str(chain.home / "deployment.json"), "--api", base, "--receipts", str(path), "--show", "0"],
                         cwd=REPO, env={**os.environ, "COLUMNS": "400"}, capture_output=True, text=True, timeout=120,
                         check=False)
    out = run.stdout + run.stderr
    return run.returncode, out, {int(m) for m in re.findall(r"│ (\d+) +│ \d+ \(", out)}


# -- the tests ----------------------------------------------------------------------------------------------


TOTAL = 10_000
KILL_AFTER = 4_000
OUTSTANDING = 200
PG_TOTAL = 10_000


def test_kill_9_under_load_keeps_every_promise_and_a_long_outage_is_audited(chain: Chain, tmp_path: Path) -> None:
    started = time.monotonic()
    service = Service(chain)
    service.start()
    load = Load(chain.home, service.base, chain.manifest.chain_id, chain.manifest.address("TrustGovernance"))
    figures: dict[str, Any] = {}
    try:
        figures["start s"] = round(time.monotonic() - started, 1)
        _load_to(load, KILL_AFTER)
        figures["first 4000 s"] = round(time.monotonic() - started, 1)
        last = [load.bodies[p] for p in list(load.receipts)[-50:]]  # answered before the kill
        # kill -9 while a batch is in flight (and its purchases' attestations just obtained)
        bodies = load.fresh(BATCH, via_api=True)
        killed_at: list[float] = []

        def kill() -> None:
            service.kill()
            killed_at.append(time.monotonic())
            killed_wall.append(time.time())

        killed_wall: list[float] = []
        killer = threading.Timer(random.uniform(0.02, 0.08), kill)  # a batch of 500 takes 0.1-0.2 s
        killer.start()
        answer = load.submit(bodies)
        killer.join()
        figures["batch in flight answered"] = answer is not None
        figures["unanswered at the kill"] = len(load.unanswered)
        service.start()
        figures["outage s"] = round(time.monotonic() - killed_at[0], 2)
        assert figures["outage s"] < MMD / 2, "the restart must come well inside the MMD for this test"
        assert chain.proc.poll() is None  # the chain was not touched

        # exact retries of reviews answered before the kill: the same receipts; a changed one: refused
        again = load.submit(last)
        assert again is not None and again.json()["accepted"] == len(last)
        changed = [{**b, "text": b["text"] + " (edited)"} for b in last[:10]]
        r = httpx.post(f"{service.base}/v1/reviews/batch", json={"reviews": changed}, timeout=60).json()
        assert [i["status"] for i in r["results"]] == [409] * 10, r
        assert all(i["problem"]["type"].endswith(":duplicate-review") for i in r["results"]), r

        _load_to(load, TOTAL)  # the unanswered ones are retried first, as they are
        figures["retried after the kill"] = len(load.retried)
        # a retried review the service had committed before it died comes back as its stored receipt (exact
        # retry: submitted before the kill); the others were never in and became new leaves after the restart
        figures["of which exact retries"] = sum(
            1 for p in load.retried if int(load.receipts[p]["receipt"]["submittedAt"]) <= killed_wall[0])
        figures["10000 accepted s"] = round(time.monotonic() - started, 1)
        figures["5xx answers"] = dict(load.server_errors)
        deadline = max(int(a["receipt"]["submittedAt"]) for a in load.receipts.values()) + MMD
        _wait_anchored(chain, TOTAL, until=deadline + 5)
        figures["anchored s"] = round(time.monotonic() - started, 1)
        checked = _check_promises(chain, service.base, load)
        assert checked.receipts == checked.leaves == TOTAL
        assert checked.broken == [], f"receipts anchored late or not at all: {checked.broken[:20]}"
        figures["phase 1 s"] = round(time.monotonic() - started, 1)

        # an outage longer than the MMD with receipts outstanding: the chain mines nothing while the batch is
        # accepted (no checkpoint can slip in before the kill), the service is killed right after its answer,
        # and comes back only after the last deadline has passed
        chain.automine(False)
        outstanding = load.fresh(OUTSTANDING, via_api=True)
        answer = load.submit(outstanding)
        service.kill()
        assert answer is not None and answer.json()["accepted"] == OUTSTANDING
        promised = {int(load.receipts[b["attestation"]["orderCommitment"]]["leafIndex"]) for b in outstanding}
        last_deadline = max(int(load.receipts[b["attestation"]["orderCommitment"]]["receipt"]["submittedAt"])
                            for b in outstanding) + MMD
        while time.time() < last_deadline + 2:
            time.sleep(0.2)
        chain.automine(True)
        chain.mine()  # whatever the killed service had sent is mined now, late
        figures["outage over s"] = round(time.monotonic() - started, 1)
        service.start()
        figures["restarted s"] = round(time.monotonic() - started, 1)
        _wait_anchored(chain, TOTAL + OUTSTANDING, until=time.time() + MMD + 10)
        figures["late anchored s"] = round(time.monotonic() - started, 1)
        code, output, rows = _audit(chain, service.base, load, tmp_path / "receipts.jsonl")
        figures["audited s"] = round(time.monotonic() - started, 1)
        assert code == 1, output
        assert rows == promised, (sorted(rows - promised)[:10], sorted(promised - rows)[:10], output[-3000:])
        assert f"BROKEN PROMISES: {OUTSTANDING} of {TOTAL + OUTSTANDING} receipts not kept, 0 not signed" in output
        assert "CONSISTENT:" in output  # the log itself is sound: only its promises were late
        late = _check_promises(chain, service.base, load, sample=0)
        assert late.broken == sorted(promised)  # the test's own reading of the chain agrees with the audit
        health = httpx.get(f"{service.base}/v1/health").json()
        assert health["log"]["overdue"] == 0, health
        figures["broken promises found by audit"] = len(rows)
        figures["receipts checked"] = late.receipts
        figures["total s"] = round(time.monotonic() - started, 1)
        print(f"\nfaults (kill -9): {figures}")
    finally:
        service.stop()


def test_database_connections_terminated_under_load_lose_no_accepted_write(chain: Chain) -> None:
    """PostgreSQL cannot be restarted here (other tests share it), so its side of a restart is what the service
    sees: every connection of the service terminated (``pg_terminate_backend``), again and again, while reviews
    pour in. Each receipt handed out must still be in the log and anchored by its deadline, a refused write must
    be a typed 5xx (retried, no promise), and the service must be healthy afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    started = time.monotonic()
    figures: dict[str, Any] = {}
    with scratch_schema(PG_URL, prefix="faults") as scratch:
        app = f"tl_faults_{scratch.schema.rsplit('_', 1)[-1]}"
        service = Service(chain, database_url=f"{PG_URL}?options=-csearch_path%3D{scratch.schema}"
                                              f"&application_name={app}")
        service.start()
        load = Load(chain.home, service.base, chain.manifest.chain_id, chain.manifest.address("TrustGovernance"))
        stop = threading.Event()
        terminated: list[int] = []

        def terminate() -> None:  # only this service's connections: the application_name set in its URL
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                while not stop.wait(random.uniform(0.05, 0.2)):
                    rows = conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'test' AND "
                        "pid <> pg_backend_pid() AND query NOT ILIKE '%%pg_stat_activity%%' AND application_name = %s",
                        (app,)).fetchall()
                    terminated.append(sum(1 for (done,) in rows if done))

        killer = threading.Thread(target=terminate, daemon=True)
        try:
            killer.start()
            _load_to(load, PG_TOTAL)
            stop.set()
            killer.join(timeout=10)
            figures["rounds"], figures["connections terminated"] = len(terminated), sum(terminated)
            figures["5xx answers"] = dict(load.server_errors)
            figures["transport errors"] = load.transport_errors
            assert sum(terminated) > 0, "no connection of the service was terminated: the fault never happened"
            deadline = max(int(a["receipt"]["submittedAt"]) for a in load.receipts.values()) + MMD
            _wait_anchored(chain, PG_TOTAL, until=deadline + 5)
            checked = _check_promises(chain, service.base, load, sample=100)
            assert checked.receipts == checked.leaves == PG_TOTAL and checked.broken == []
            health = httpx.get(f"{service.base}/v1/health", timeout=10)
            assert health.status_code == 200 and health.json()["status"] == "ok", health.text
            figures["receipts checked"] = checked.receipts
            figures["total s"] = round(time.monotonic() - started, 1)
            print(f"\nfaults (database connections terminated): {figures}")
        finally:
            stop.set()
            service.stop()
