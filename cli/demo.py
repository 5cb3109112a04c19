"""``trustledger demo``: the trust-crisis story, played by its actors against a running service.

Why it exists: a newcomer who has just run ``trustledger up`` sees an empty ledger. The demo fills it the way
the real actors would, so that what a consumer and an auditor then see is what the system shows in use, not a
fixture. Every write goes through the HTTP API exactly as an actor's own client would send it: the governor,
the inspection body, the merchant, the log operator (answering for an anonymous reviewer), the arbitrators and
a buyer each sign their own ERC-2771 forward request (``POST /v1/relay/prepare`` answers the EIP-712 typed
data; the actor signs it with its key here; the route relays it), and the platform's order system uses the
operator token for purchase attestations. Nothing is written to the chain or the database directly, so the
demo also exercises every route a deployment depends on.

The story (issue #7): an inspection body accredited and a merchant admitted (both done by the local deployment
already; the demo only checks, so it can run again on the same chain), certificates anchored for a product
and one of them revoked (a recalled lot), ``--reviews`` reviews of it, each authorised by a purchase
attestation, one of them a paid review that the merchant challenges and an arbitrator takes down, and a buyer's
purchase dispute that goes from opening through an appeal to a final ruling and a confirmed remedy. Then it
waits until the reviews are anchored and indexed, and prints what a consumer sees (``GET /v1/products/{id}``)
and what an auditor sees (the checks of ``trustledger audit``, and ``GET /v1/health``).

Every run uses fresh product and order ids (a run tag), so the demo can run any number of times on one chain.
Appeals go to a second arbitrator: the demo appoints one whose key it derives from the dev arbitrator's key, so
a rerun finds the same arbitrator (and holds its key) instead of appointing a new one each time.

Exit codes (docs/cli.md): 0 the story ran and the audit holds; 1 the audit found an inconsistent log; 2 the
demo could not run: the service is not running, the token or keys are missing, or a step was refused (its
problem+json ``type`` and ``detail`` are printed).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.devnet import DEFAULT_HOME
from ledger.reviews import order_commitment

from . import _common
from ._chainlog import anchored_checkpoints
from ._common import EXIT_FAILED, CliError, console, friendly_errors, short_hex
from .audit import audit_checkpoints, fetch_leaf_hashes

__all__ = ["DemoResult", "demo", "run_demo"]

DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_RPC = "http://127.0.0.1:8545"
ROLES = ("governor", "operator", "issuer", "merchant", "arbitrator")
"""The dev identities the demo signs as (``<home>/dev-keys.json``); the others stay with the service."""
STANDARD = "std:GB/T 19001-2016"
"""The standard the local deployment accredits the demo issuer for (ledger/devnet.py)."""
PROBLEM = "urn:trustledger:problem:"
REFUND, PARTIAL_REFUND, REVIEW_REMOVED = 1, 3, 5
"""``IDisputeRegistry.Outcome`` values (contracts/interfaces/IDisputeRegistry.sol)."""
ZERO32 = "0x" + "00" * 32
KINDS = {0: "certificate", 1: "spot check (passed)", 2: "spot check (failed)"}
WRITE_WAIT = 30
"""Seconds a relayed write is asked to wait for its receipt (the service caps it at its ``max_wait``)."""
MAX_BATCH = 1000
"""Reviews per ``POST /v1/reviews/batch`` (the service's default ``TRUSTLEDGER_MAX_BATCH``)."""
MAX_BATCH_BYTES = 900_000
"""Under the service's default 1 MiB body limit: a batch over it is split."""
PURCHASE_THREADS = 8
FAKE_REVIEW = "Best kettle ever!!! Changed my life, five stars, everyone must buy two!!!"
TEXTS = {1: "Stopped working after a week; the lid does not close.", 2: "Slow to boil and the handle gets hot.",
         3: "Does the job, nothing special.", 4: "Boils fast and quietly; the cable could be longer.",
         5: "Excellent: fast, quiet, and the auto shut-off works every time."}
STARS = (1, 2, 3, 4, 5)
STAR_WEIGHTS = (4, 4, 10, 32, 50)
FIRST_RULING = "The parcel arrived crushed and the kettle leaks: a full refund is due."
APPEAL_RULING = ("On appeal: the kettle works once the lid seal is reseated; the damage is cosmetic. A partial "
                 "refund of 1000 is due.")
REMOVAL_RULING = "The order logs show this review was paid for by a competitor's agency: it is removed."
REMOVAL_APPEAL_RULING = "On appeal: the payment records stand; the review stays removed."

T = TypeVar("T")
Home = Annotated[Path, typer.Option(help="state folder of `trustledger up`: dev-secrets.json (API token) and "
                                         "dev-keys.json (demo identities)")]


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def h(text: str) -> str:
    """keccak256 of a label as 0x-hex: the demo's reason codes, categories, evidence and rationale hashes."""
    return hx(keccak(text=text))


class Refused(CliError):
    """A step the service (or the contract behind it) refused: the problem+json type and detail, in one line."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "type" in body:
            kind = str(body["type"]).removeprefix(PROBLEM)
            detail = body.get("detail") or body.get("title") or ""
            error = f" ({body['errorName']})" if body.get("errorName") else ""
            message = f"{what}: refused ({response.status_code} {kind}{error}): {detail}"
        else:
            message = f"{what}: the service answered {response.status_code}: {response.text[:200]}"
        super().__init__(message)


# -- the service, as the actors reach it ------------------------------------------------------------------------


class Service:
    """The HTTP API of the running service: calls with one-line errors, relayed writes signed by their actor."""

    def __init__(self, api: str, token: str) -> None:
        self.api = api.rstrip("/")
        self.token = token
        self.http = httpx.Client(base_url=self.api, timeout=60)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, what: str, *, body: Any = None, params: dict[str, Any] | None = None,
             token: bool = False, accept: Sequence[int] = (200, 201)) -> Any:
        """``method path`` answered as JSON; a refusal raises :class:`Refused`. A 429 is waited out (the write
        rate is a limit the demo should respect, not a failure), a connection refused means no service."""
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        for _ in range(30):
            try:
                response = self.http.request(method, path, json=body, params=params, headers=headers)
            except httpx.ConnectError:
                raise CliError(f"the service at {self.api} is not running: start it with `trustledger up` "
                               "(or pass --api URL)") from None
            except httpx.TimeoutException:
                raise CliError(f"{what}: the service at {self.api} did not answer within 60 s") from None
            if response.status_code == 429:
                time.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))
                continue
            if response.status_code not in accept:
                raise Refused(what, response)
            return response.json()
        raise CliError(f"{what}: still rate limited after 30 tries")

    def write(self, what: str, actor: LocalAccount, path: str, contract: str, function: str,
              args: dict[str, Any]) -> dict[str, Any]:
        """Prepare ``contract.function(args)`` for ``actor``, sign the EIP-712 typed data with its key, post it to
        ``path`` and follow it until it is confirmed: the answer with the transaction and its events."""
        prepared = self.call("POST", "/v1/relay/prepare", what,
                             body={"from": actor.address, "contract": contract, "function": function, "args": args})
        signed = Account.sign_typed_data(actor.key, full_message=prepared["typedData"])
        out: dict[str, Any] = self.call("POST", path, what, params={"wait": WRITE_WAIT},
                                        body={"request": prepared["request"], "signature": hx(bytes(signed.signature))},
                                        accept=(200, 202))
        deadline = time.monotonic() + 120
        while out["status"] != "confirmed":
            if out["status"] == "failed":
                raise CliError(f"{what}: failed on chain ({out.get('errorName')}): {out.get('error')}")
            if time.monotonic() > deadline:
                raise CliError(f"{what}: not confirmed within 120 s (follow {self.api}{out['location']})")
            time.sleep(0.5)
            out.update(self.call("GET", out["location"], what))
        return out

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float) -> T:
        """Poll ``check`` until it answers something (not None): the service's workers anchor and index on
        their own schedule, so the demo waits for what it needs instead of sleeping a guessed time."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise CliError(f"gave up waiting {timeout:.0f} s for {what}; is the service's checkpointer or "
                               "indexer stuck? (GET /v1/health)")
            time.sleep(0.5)


# -- the actors ---------------------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        value: Any = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"no {what}: {path} is missing (`trustledger up` writes it; pass --home)") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {what} from {path}: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{path} is not a JSON object")
    return value


def load_home(home: Path) -> tuple[str, dict[str, LocalAccount]]:
    """The API token and the demo identities' keys from ``home``, or a CliError naming what is missing."""
    token = _read_json(home / "dev-secrets.json", "API token").get("api_token")
    if not isinstance(token, str) or not token:
        raise CliError(f"no api_token in {home / 'dev-secrets.json'}")
    keys = _read_json(home / "dev-keys.json", "demo identities' keys")
    actors: dict[str, LocalAccount] = {}
    for role in ROLES:
        try:
            actors[role] = Account.from_key(keys[role])
        except KeyError:
            raise CliError(f"no {role} key in {home / 'dev-keys.json'}") from None
        except (ValueError, TypeError):
            raise CliError(f"the {role} key in {home / 'dev-keys.json'} is not a private key") from None
    # the appeal arbitrator: derived from the dev arbitrator's key, so every run finds the same one
    actors["appeal_arbitrator"] = Account.from_key(keccak(b"trustledger-demo/appeal-arbitrator" +
                                                          bytes(actors["arbitrator"].key)))
    return token, actors


# -- the story ----------------------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What the story left on the ledger, for the views printed at the end (and the tests)."""

    tag: str
    product_id: str
    certificates: list[str]
    revoked: str
    leaves: tuple[int, int]
    """The first and last leaf index of the run's reviews."""
    challenged_leaf: int
    challenge_id: str
    purchase_dispute_id: str


def _done(message: str) -> None:
    console.print(f"[green]✓[/] {message}")


def _arbitrator_of(write: dict[str, Any], actors: dict[str, LocalAccount], what: str) -> LocalAccount:
    """The arbitrator the public rule assigned (the write's ``ArbitratorAssigned`` event), if the demo holds its
    key: an arbitrator someone else appointed on this chain cannot be played here."""
    assigned = [e["args"]["arbitrator"] for e in write.get("events") or [] if e["event"] == "ArbitratorAssigned"]
    if not assigned:
        raise CliError(f"{what}: no arbitrator was assigned (the dispute awaits a governor's panel)")
    for role in ("arbitrator", "appeal_arbitrator"):
        if actors[role].address == assigned[-1]:
            return actors[role]
    raise CliError(f"{what}: the public rule assigned arbitrator {assigned[-1]}, whose key the demo does not "
                   "hold (an arbitrator appointed by someone else on this chain)")


def _governance(s: Service, a: dict[str, LocalAccount]) -> int:
    """The inspection body accredited, the merchant admitted, a second arbitrator for appeals: each only if the
    chain does not have it yet (the local deployment does the first two). Answers the start of the inspection
    body's accreditation: a certificate dated before it would be refused as issued by an unaccredited body."""
    issuer, merchant, second = a["issuer"].address, a["merchant"].address, a["appeal_arbitrator"].address
    got = s.call("GET", f"/v1/governance/issuers/{issuer}", "read the inspection body's accreditation",
                 accept=(200, 404))
    now = int(time.time())
    if got.get("accreditedNow") and h(STANDARD) in got.get("scopes", []):
        valid_from = int(got["validFrom"])
        _done(f"inspection body {short_hex(issuer)} already accredited for {STANDARD}")
    else:
        valid_from = now - 60
        s.write("accredit the inspection body", a["governor"], f"/v1/governance/issuers/{issuer}/accreditation",
                "TrustGovernance", "accreditIssuer",
                {"issuer": issuer, "validFrom": valid_from, "validUntil": now + 365 * 86400, "scopes": [h(STANDARD)]})
        _done(f"inspection body {short_hex(issuer)} accredited for {STANDARD} by the governor")
    got = s.call("GET", f"/v1/governance/merchants/{merchant}", "read the merchant's admission", accept=(200, 404))
    if got.get("status") == "active":
        _done(f"merchant {short_hex(merchant)} already admitted")
    elif got.get("status") in ("suspended", "banned"):
        raise CliError(f"the merchant {merchant} is {got['status']}: it cannot challenge reviews")
    else:
        s.write("admit the merchant", a["governor"], f"/v1/governance/merchants/{merchant}/admission",
                "TrustGovernance", "admitMerchant", {"account": merchant, "licenceHash": h("licence:demo-merchant")})
        _done(f"merchant {short_hex(merchant)} admitted by the governor")
    arbitrators = s.call("GET", "/v1/governance/arbitrators", "read the arbitrators")
    if a["arbitrator"].address not in arbitrators:
        raise CliError(f"the dev arbitrator {a['arbitrator'].address} is not appointed on this chain")
    if second in arbitrators:
        _done(f"appeal arbitrator {short_hex(second)} already appointed")
        return valid_from
    try:
        s.write("appoint an appeal arbitrator", a["governor"], f"/v1/governance/arbitrators/{second}/appointment",
                "TrustGovernance", "appointArbitrator", {"arbitrator": second})
    except Refused as exc:  # appointed, but the index has not caught up yet
        if "ArbitratorAlreadyAppointed" not in str(exc):
            raise
    _done(f"appeal arbitrator {short_hex(second)} appointed by the governor")
    return valid_from


def _certificates(s: Service, a: dict[str, LocalAccount], tag: str, product: str, accredited_from: int) -> tuple[
        list[str], str]:
    """Two lots certified and a spot check passed, in one batch by the inspection body; lot B then revoked."""
    issuer, merchant = a["issuer"].address, a["merchant"].address
    now = int(time.time())
    issued_at = max(accredited_from, now - 60)

    def record(lot: str, kind: int) -> dict[str, Any]:
        return {"productId": product, "lot": h(f"lot:{tag}-{lot}"), "merchant": merchant, "issuer": issuer,
                "kind": kind, "documentHash": h(f"doc:{tag}-{lot}-{kind}"), "standard": h(STANDARD),
                "issuedAt": issued_at, "validUntil": now + 180 * 86400}

    out = s.write("anchor the certificates", a["issuer"], "/v1/certificates/batch", "CertificateRegistry",
                  "issueBatch", {"certificates": [record("A", 0), record("B", 0), record("A", 1)]})
    ids: list[str] = out["certificateIds"]
    _done(f"inspection body anchored {len(ids)} records for the product: lot A and lot B certified, lot A "
          "spot-checked (passed)")
    s.write("revoke lot B's certificate", a["issuer"], f"/v1/certificates/{ids[1]}/revocation",
            "CertificateRegistry", "revoke", {"id": ids[1], "reasonCode": h("reason:lot-recalled")})
    _done(f"inspection body revoked lot B's certificate {short_hex(ids[1])} (lot recalled)")
    return ids, ids[1]


def _attestation(s: Service, merchant: str, product: str, order: str, buyer: str) -> dict[str, Any]:
    """The platform's order system asks for a purchase attestation (operator token); the order id stays with
    the platform, only its salted commitment is sent."""
    commitment = hx(order_commitment(order, merchant, keccak(text=f"salt:{order}")))
    body = {"orderCommitment": commitment, "merchant": merchant, "productId": product, "buyer": buyer,
            "purchasedAt": int(time.time()) - 86400}
    answer: dict[str, Any] = s.call("POST", "/v1/purchases", f"attest order {order}", body=body, token=True)
    return answer


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Batches of at most :data:`MAX_BATCH` reviews and :data:`MAX_BATCH_BYTES` of JSON."""
    start = 0
    while start < len(items):
        size = min(MAX_BATCH, len(items) - start)
        while size > 1 and len(json.dumps(items[start:start + size])) > MAX_BATCH_BYTES:
            size //= 2
        yield items[start:start + size]
        start += size


def _reviews(s: Service, a: dict[str, LocalAccount], tag: str, product: str, count: int) -> tuple[int, int]:
    """``count`` purchases attested and reviewed; the first review is the paid one the merchant will challenge."""
    merchant = a["merchant"].address
    rng = random.Random(tag)
    ratings = [5] + rng.choices(STARS, STAR_WEIGHTS, k=count - 1)

    def one(i: int) -> dict[str, Any]:
        order = f"demo-{tag}-order-{i}"
        att = _attestation(s, merchant, product, order, to_checksum_address(keccak(text=f"buyer:{order}")[-20:]))
        return {"productId": product, "merchant": merchant, "rating": ratings[i],
                "text": FAKE_REVIEW if i == 0 else TEXTS[ratings[i]], "userId": f"demo-{tag}-shopper-{i}",
                "attestation": att["attestation"], "attestationSignature": att["signature"]}

    bodies: list[dict[str, Any]] = []
    first = last = -1
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        attesting = progress.add_task("purchases attested", total=count)
        with ThreadPoolExecutor(PURCHASE_THREADS) as pool:
            for body in pool.map(one, range(count)):
                bodies.append(body)
                progress.advance(attesting)
        posting = progress.add_task("reviews posted", total=count)
        for batch in _chunks(bodies):
            out = s.call("POST", "/v1/reviews/batch", "post a batch of reviews", body={"reviews": batch})
            for result in out["results"]:
                if result.get("accepted") is None:
                    problem = result.get("problem") or {}
                    raise CliError(f"a review was refused ({result['status']} "
                                   f"{str(problem.get('type', '')).removeprefix(PROBLEM)}): {problem.get('detail')}")
                index = int(result["accepted"]["leafIndex"])
                first = index if first < 0 else min(first, index)
                last = max(last, index)
            progress.advance(posting, len(batch))
    _done(f"{count} purchases attested by the platform and {count} reviews accepted with signed receipts "
          f"(leaves {first}..{last})")
    return first, last


def _purchase_dispute(s: Service, a: dict[str, LocalAccount], tag: str, product: str) -> str:
    """A buyer with its own key disputes an order: refund at first instance, the merchant appeals, the appeal
    arbitrator orders a partial refund (final), the merchant pays and the buyer confirms."""
    merchant = a["merchant"]
    buyer: LocalAccount = Account.create()
    att = _attestation(s, merchant.address, product, f"demo-{tag}-disputed-order", buyer.address)
    what = "open the purchase dispute"
    opened = s.write(what, buyer, "/v1/disputes", "DisputeRegistry", "openPurchaseDispute",
                     {"attestation": att["attestation"], "orderSignerSignature": att["signature"],
                      "claimantCommitment": h(f"platform-user:demo-{tag}:salted"),
                      "category": h("category:defective"), "evidenceHash": h(f"evidence:{tag}:photo"),
                      "evidenceUri": f"ipfs://demo-{tag}-photo"})
    did: str = opened["disputeId"]
    first = _arbitrator_of(opened, a, what)
    base = f"/v1/disputes/{did}"
    _done(f"buyer {short_hex(buyer.address)} opened purchase dispute {short_hex(did)} (arbitrator "
          f"{short_hex(first.address)})")
    s.write("the merchant answers", merchant, f"{base}/response", "DisputeRegistry", "respond",
            {"id": did, "evidenceHash": h(f"evidence:{tag}:shipping"), "uri": f"ipfs://demo-{tag}-shipping"})
    s.write("the first ruling", first, f"{base}/rulings", "DisputeRegistry", "rule",
            {"id": did, "outcome": REFUND, "remedyAmount": 1999, "rationaleHash": h(FIRST_RULING)})
    _done("merchant answered; first-instance ruling: refund of 1999")
    appealed = s.write("the merchant appeals", merchant, f"{base}/appeal", "DisputeRegistry", "appeal",
                       {"id": did, "evidenceHash": h(f"evidence:{tag}:repair"), "uri": f"ipfs://demo-{tag}-repair"})
    second = _arbitrator_of(appealed, a, "the appeal")
    s.write("the appeal ruling", second, f"{base}/rulings", "DisputeRegistry", "rule",
            {"id": did, "outcome": PARTIAL_REFUND, "remedyAmount": 1000, "rationaleHash": h(APPEAL_RULING)})
    _done(f"merchant appealed; appeal arbitrator {short_hex(second.address)} ruled a partial refund of 1000 (final)")
    s.write("the merchant reports the remedy", merchant, f"{base}/remedy/report", "DisputeRegistry", "reportRemedy",
            {"id": did, "evidenceHash": h(f"evidence:{tag}:refund-receipt")})
    s.write("the buyer confirms the remedy", buyer, f"{base}/remedy/confirmation", "DisputeRegistry",
            "confirmRemedy", {"id": did})
    _done("merchant reported the refund paid; the buyer confirmed it: dispute closed")
    return did


def _wait_anchored(s: Service, last: int, timeout: float) -> int:
    """Wait until an anchored, indexed checkpoint covers leaf ``last`` (``GET /v1/log``)."""

    def anchored() -> int | None:
        cp = s.call("GET", "/v1/log", "read the log").get("latestCheckpoint")
        return int(cp["treeSize"]) if cp and int(cp["treeSize"]) > last else None

    with console.status("waiting for the checkpointer to anchor the reviews (within the MMD)"):
        size = s.wait_for("the reviews to be anchored", anchored, timeout)
    _done(f"reviews anchored on chain: checkpoint of size {size}")
    return size


def _challenge(s: Service, a: dict[str, LocalAccount], tag: str, leaf: int) -> str:
    """The merchant challenges the paid review; the log operator answers for the anonymous reviewer; the
    arbitrator removes it; the operator appeals for the reviewer and the appeal arbitrator confirms, which makes
    the ruling final at once (without the appeal, it would be final only after the 3-day appeal window)."""
    merchant, operator = a["merchant"], a["operator"]
    what = "challenge the paid review"
    opened = s.write(what, merchant, "/v1/disputes/challenges", "DisputeRegistry", "challengeReview",
                     {"leafIndex": leaf, "merchant": merchant.address, "category": h("category:fake-review"),
                      "evidenceHash": h(f"evidence:{tag}:agency-invoice"), "evidenceUri": f"ipfs://demo-{tag}-inv"})
    did: str = opened["disputeId"]
    base = f"/v1/disputes/{did}"
    first = _arbitrator_of(opened, a, what)
    _done(f"merchant challenged review {leaf} as paid for: dispute {short_hex(did)}")
    s.write("the log operator answers for the reviewer", operator, f"{base}/response", "DisputeRegistry", "respond",
            {"id": did, "evidenceHash": ZERO32, "uri": ""})
    s.write("the ruling on the review", first, f"{base}/rulings", "DisputeRegistry", "rule",
            {"id": did, "outcome": REVIEW_REMOVED, "remedyAmount": 0, "rationaleHash": h(REMOVAL_RULING)})
    appealed = s.write("the reviewer's appeal", operator, f"{base}/appeal", "DisputeRegistry", "appeal",
                       {"id": did, "evidenceHash": ZERO32, "uri": ""})
    second = _arbitrator_of(appealed, a, "the reviewer's appeal")
    final = s.write("the appeal ruling on the review", second, f"{base}/rulings", "DisputeRegistry", "rule",
                    {"id": did, "outcome": REVIEW_REMOVED, "remedyAmount": 0,
                     "rationaleHash": h(REMOVAL_APPEAL_RULING)})
    if "ReviewTakenDown" not in [e["event"] for e in final.get("events") or []]:
        raise CliError("the final ruling did not take the review down (no ReviewTakenDown event)")
    _done(f"arbitrator ruled ReviewRemoved; the appeal confirmed it: review {leaf} taken down on chain")
    return did


def _settle(s: Service, r: DemoResult, count: int, timeout: float) -> dict[str, Any]:
    """Wait until the index has it all (the takedown applied to the log, both disputes closed, every review
    counted or excluded), publish the rulings' reasons, and answer the product record."""

    def settled() -> dict[str, Any] | None:
        review = s.call("GET", f"/v1/reviews/{r.challenged_leaf}", "read the challenged review")
        if review["visible"]:
            return None
        for did in (r.challenge_id, r.purchase_dispute_id):
            d = s.call("GET", f"/v1/disputes/{did}", "read a dispute", accept=(200, 404))
            if d.get("phase") != "closed":
                return None
        record: dict[str, Any] = s.call("GET", f"/v1/products/{r.product_id}", "read the product record")
        reviews = record["reviews"]
        if reviews.get("pending") or reviews.get("counted", 0) + 1 < count:
            return None
        return record

    with console.status("waiting for the indexer: the takedown, the disputes and the reviews"):
        record = s.wait_for("the index to show the takedown, the closed disputes and the counted reviews",
                            settled, timeout)
    for did, texts in ((r.purchase_dispute_id, (FIRST_RULING, APPEAL_RULING)),
                       (r.challenge_id, (REMOVAL_RULING, REMOVAL_APPEAL_RULING))):
        for text in texts:
            s.call("POST", f"/v1/disputes/{did}/rationales", "publish a ruling's reasons", body={"text": text})
    _done("indexed: review taken down in the log (tombstone), both disputes closed, rulings' reasons published")
    return record


def run_demo(s: Service, actors: dict[str, LocalAccount], *, reviews: int, tag: str, timeout: float) -> tuple[
        DemoResult, dict[str, Any]]:
    """The whole story; answers what it left on the ledger and the product record once it is all indexed."""
    product = h(f"gtin:demo-{tag}")
    console.rule(f"[bold]The trust-crisis story[/] (run {tag}, product {short_hex(product)})")
    accredited_from = _governance(s, actors)
    certificates, revoked = _certificates(s, actors, tag, product, accredited_from)
    first, last = _reviews(s, actors, tag, product, reviews)
    purchase = _purchase_dispute(s, actors, tag, product)
    _wait_anchored(s, last, timeout)
    challenge = _challenge(s, actors, tag, first)
    result = DemoResult(tag, product, certificates, revoked, (first, last), first, challenge, purchase)
    return result, _settle(s, result, reviews, timeout)


# -- what a consumer and an auditor see ---------------------------------------------------------------------------


def _consumer(s: Service, r: DemoResult, record: dict[str, Any]) -> None:
    console.rule("[bold]What a consumer sees[/] (GET /v1/products/{id})")
    lots = {h(f"lot:{r.tag}-{lot}"): lot for lot in ("A", "B")}
    certs = Table(title="Certificates", title_justify="left")
    for column in ("certificate", "kind", "lot", "status", "issuer accredited at issue", "valid until"):
        certs.add_column(column, no_wrap=column in ("certificate", "status", "valid until"))
    for c in record["certificates"]:
        now = c.get("now") or {}
        status = str(now.get("status", "?"))
        tone = "green" if status == "valid" else "red"
        certs.add_row(short_hex(c["id"], 8), KINDS.get(c.get("kind"), str(c.get("kind"))),
                      lots.get(c.get("lot"), short_hex(str(c.get("lot")))), f"[{tone}]{status}[/]",
                      "yes" if now.get("issuerAccreditedAtIssue") else "[red]no[/]",
                      time.strftime("%Y-%m-%d", time.gmtime(int(c.get("validUntil", 0)))))
    console.print(certs)

    rv = record["reviews"]
    excluded = rv.get("excluded") or {}
    stars = rv.get("stars") or {}
    mean = rv.get("mean")
    if isinstance(mean, str) and "/" in mean:
        numerator, denominator = mean.split("/")
        mean = f"{int(numerator) / int(denominator):.2f} ({mean})"
    summary = Table(title="Reviews (each proved against the anchored checkpoint)", title_justify="left",
                    show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("counted", str(rv.get("counted")))
    summary.add_row("mean rating", str(mean))
    summary.add_row("stars", "  ".join(f"{k}★ {stars.get(k, 0)}" for k in ("5", "4", "3", "2", "1")))
    summary.add_row("pending", str(rv.get("pending")))
    summary.add_row("excluded", ", ".join(f"{k} {len(v) if isinstance(v, list) else v}"
                                          for k, v in excluded.items()) or "none")
    summary.add_row("taken down", ", ".join(f"leaf {t.get('leafIndex')} by ruling {short_hex(str(t.get('disputeId')))}"
                                            for t in rv.get("tombstones") or []) or "none")
    checkpoint = rv.get("checkpoint") or {}
    summary.add_row("checkpoint", f"size {checkpoint.get('size')}, root {short_hex(str(checkpoint.get('root')))}")
    console.print(summary)

    disputes = Table(title="Disputes", title_justify="left")
    for column in ("dispute", "kind", "review", "answered", "final outcome", "remedy"):
        disputes.add_column(column, no_wrap=column in ("dispute", "final outcome", "remedy"))
    for d in record["disputes"]:
        disputes.add_row(short_hex(str(d.get("id")), 8), "review challenge" if d.get("kind") == "reviewChallenge"
                         else str(d.get("kind")), "" if d.get("leafIndex") is None else f"leaf {d['leafIndex']}",
                         "yes" if d.get("responded") else "no", str(d.get("outcome") or "open"),
                         str(d.get("remedy") or "-"))
    console.print(disputes)

    for m in record["merchants"]:
        trust = Table(title=f"Merchant {m.get('merchant')}: trust score {m.get('score')}/100 "
                            f"(exact {m.get('scoreExact')}, {m.get('formula')})", title_justify="left")
        for column in ("term", "favourable", "unfavourable", "priors", "weight", "value"):
            trust.add_column(column, no_wrap=column in ("term", "value"))
        for name, term in (m.get("terms") or {}).items():
            trust.add_row(name, str(term.get("favourable")), str(term.get("unfavourable")),
                          f"{term.get('priorFavourable')}/{term.get('priorUnfavourable')}", str(term.get("weight")),
                          str(term.get("value")))
        console.print(trust)
        factors = m.get("factors") or {}
        if factors:
            console.print("factors: " + ", ".join(f"{k} {v}" for k, v in factors.items()))
    page = s.http.get(f"/p/{r.product_id}")
    if page.status_code == 200:
        console.print(f"Consumer page: [bold]{s.api}/p/{r.product_id}[/]", soft_wrap=True)


def _auditor(s: Service, rpc: str, manifest_path: Path) -> bool:
    """The checks of ``trustledger audit`` (every anchored root recomputed from the service's leaf hashes, each
    checkpoint consistent with the one before), and the service's health; True when the log holds."""
    console.rule("[bold]What an auditor sees[/] (the checks of `trustledger audit`, GET /v1/health)")
    w3 = _common.connect(rpc)
    deployment = _common.load_manifest(manifest_path, w3)
    checkpoints = anchored_checkpoints(w3, deployment)
    size = max((c.size for c in checkpoints), default=0)
    results = audit_checkpoints(checkpoints, fetch_leaf_hashes(s.http, size))
    bad = [x for x in results if x.problems]
    for x in bad:
        for problem in x.problems:
            console.print(f"[bold red]checkpoint {x.checkpoint.index}[/] (size {x.checkpoint.size}): {problem}")
    if bad:
        console.print(f"[bold red]INCONSISTENT[/]: {len(bad)} of {len(results)} checkpoints not reproduced from the "
                      "service's leaf hashes")
    else:
        console.print(f"[bold green]CONSISTENT[/]: {len(results)} checkpoints read from the chain, each root "
                      f"recomputed from {size} leaf hashes and each consistent with the one before")
    health = s.call("GET", "/v1/health", "read the service's health", accept=(200, 503))
    log = health.get("log") or {}
    tone = "green" if health.get("status") == "ok" else "red"
    console.print(f"health: [{tone}]{health.get('status')}[/]; log size {log.get('size')}, anchored "
                  f"{log.get('anchoredSize')}, overdue {log.get('overdue')}; index lag "
                  f"{(health.get('index') or {}).get('lagBlocks')} blocks"
                  + ("; problems: " + "; ".join(map(str, health["problems"])) if health.get("problems") else ""))
    return not bad


def demo(home: Home = DEFAULT_HOME,
         api: Annotated[str, typer.Option(help="the running service (`trustledger up`)")] = DEFAULT_API,
         rpc: Annotated[str, typer.Option(help="the chain's JSON-RPC, which the auditor's checks read")] = DEFAULT_RPC,
         reviews: Annotated[int, typer.Option(min=2, max=100_000, help="reviews of the product")] = 1000,
         timeout: Annotated[float | None, typer.Option(min=1, help="seconds to wait for anchoring and indexing "
                                                                   "(default: twice the service's MMD + 30, at "
                                                                   "least 90)")] = None) -> None:
    """Play the trust-crisis story against a running service, then show what a consumer and an auditor see.

    Certificates anchored and one revoked, --reviews reviews with one taken down by a ruling, a purchase dispute
    through an appeal to its final ruling: every write signed by its actor and sent through the HTTP API.
    """
    with friendly_errors():
        token, actors = load_home(home)
        s = Service(api, token)
        try:
            health = s.call("GET", "/v1/health", "ask the service's health", accept=(200, 503))
            if health.get("status") == "down":
                raise CliError(f"the service at {s.api} is up but its chain is unreachable (GET /v1/health: down)")
            info = s.call("GET", "/v1/deployment", "read the service's deployment")
            manifest = _common.load_manifest(home / "deployment.json", _common.connect(rpc))
            if info["chainId"] != manifest.chain_id or info["contracts"] != dict(manifest.addresses):
                raise CliError(f"the service at {s.api} serves another deployment than {home / 'deployment.json'} "
                               f"(chain {info['chainId']}); pass the --home, --api and --rpc of one `trustledger up`")
            wait = timeout or max(90.0, 2.0 * float(info["maxMergeDelay"]) + 30)
            tag = f"{time.strftime('%Y%m%d%H%M%S')}-{random.randrange(16**4):04x}"
            result, record = run_demo(s, actors, reviews=reviews, tag=tag, timeout=wait)
            _consumer(s, result, record)
            consistent = _auditor(s, rpc, home / "deployment.json")
        finally:
            s.close()
    if not consistent:
        raise typer.Exit(EXIT_FAILED)
