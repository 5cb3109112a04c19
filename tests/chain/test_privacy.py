"""Privacy check: no personal data on chain, none in clear in the database, no salt out of the API, and an
erased review leaves only its hash.

A representative scene is driven through the HTTP API, as a platform would drive it: two certificates (one
issued, one offered and anchored by the merchant), 56 reviews by named consumers whose texts carry names,
e-mail addresses, phone numbers and street addresses (user ids are e-mail addresses or platform ids; order ids
stay with the platform, which sends only their commitments), a purchase dispute opened with the buyer's own
key and another through a custodial key, evidence from both sides, a ruling and a remedy, a merchant's review
challenge ruled ``ReviewRemoved`` (a takedown), an operator's emergency hide, and an erasure on request.

Then everything the scene left is read back and scanned:

* the chain, all of it: the calldata of every transaction of every block from 0 to the head (forwarded
  requests unwrapped) and the topics and data of every log. No personal string appears, as UTF-8 or as its
  hex spelling. And each call and event decodes by the artifacts' ABIs into only hashes, commitments,
  addresses, enums, numbers, 32-byte values, signatures and evidence URIs: every ``string`` is empty or an
  ``ipfs://``/``ar://``/``https://`` URI, every dynamic ``bytes`` is 32 bytes or a signature, and no
  ``bytes32`` is short text padded with zeros;
* every row of every table of the service's database (SQLite and PostgreSQL): no review text, user id, order
  id, name, e-mail, phone or address in clear, and no content salt outside the sealed column;
* the API's answers (reviews, leaves, bundles, the product record and page, disputes, takedowns, the audit
  events, and the write answers of the scene): no ``salt`` member and no stored salt in any spelling, no user
  or order id, and no text of a review that is erased, taken down or hidden;
* the erased review: its sealed content is gone (the ciphertext, with the salt inside it), its leaf row is
  byte for byte what it was, and the API shows the leaf, its hash and a proof against the anchored checkpoint,
  and nothing else;
* what the service logged while the scene ran.

Each check is a function that returns its findings; the test asserts each list is empty, then plants a
plaintext of the scene where each check looks (a transaction's calldata, an event, a database row, an API
answer, a log line) and asserts that the same function now reports it, so no check can pass by being blind. The scans themselves are in
tests/privacy_scan.py, which the demo's and the hammer's tests run on the chains and databases they leave.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak

from api.takedowns import apply_takedowns
from ledger.chain import Transactor
from ledger.eip712 import certificate_id
from ledger.merkle import verify_inclusion
from ledger.reviews import SALT_LENGTH, order_commitment
from ledger.storage import Database
from ledger.vault import Vault

from ..api.conftest import CONTENT_KEY, PRODUCT, Api, hx, open_api
from ..api.test_certificates import cert, issue, offer_body
from ..conftest import PG_URL, World
from ..privacy_scan import Chain, find_plaintexts, scan_answers, scan_chain, scan_database

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

CUSTODY_KEY = "0x" + "6b" * 32
PLATFORM_SALT = b"\x5e" * 32  # the platform's order-commitment salt: it never leaves the platform
DAY = 24 * 3600
APPEAL = 3 * DAY  # ledger.deploy.DisputePeriods default
ZERO32 = b"\x00" * 32
REFUND, REVIEW_REMOVED = 1, 5
ERASURE_REASON = "erasure request ER-2026-0042"  # a reference, never the requester: it is stored and shown
RATIONALE = "The review describes a different product and no purchase of this one."

# -- the people of the scene ----------------------------------------------------------------------------------

FIRST = ("Alice", "Mei-Ling", "José", "Priya", "Olumide", "Sofia", "Hiroshi", "Anna", "Zhang", "Fatima", "Lars")
LAST = ("Wong", "Chen", "Álvarez", "Raghunathan", "Adeyemi", "Rossi", "Tanaka", "Kowalska", "Wei")
CJK = ("王小明", "李娜", "陈静怡", "刘洋")
STREETS = ("Nanjing Road, Shanghai", "Baker Street, London", "Calle de Alcalá, Madrid", "Rua Augusta, Lisboa")


@dataclasses.dataclass(frozen=True)
class Consumer:
    """A shopper of the scene: everything here is personal and must stay off the chain and out of the clear."""

    name: str
    email: str
    phone: str
    address: str
    user_id: str
    order_id: str
    text: str
    rating: int

    def strings(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email, "phone": self.phone, "address": self.address,
                "userId": self.user_id, "orderId": self.order_id, "text": self.text}


def consumers(n: int = 56) -> list[Consumer]:
    people = []
    for i in range(n):
        if i % 7 == 3:
            name = CJK[i % len(CJK)] + f"{i:02d}"
        else:
            name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 5) % len(LAST)]}-{i:02d}"
        ascii_name = re.sub(r"[^a-z0-9]+", ".", name.lower().encode("ascii", "ignore").decode()).strip(".")
        email = f"{ascii_name or 'shopper'}.{i:02d}@mail-example.test"
        phone = f"+86 138 {1000 + 37 * i:04d} {2000 + 53 * i:04d}"
        address = f"{10 + i} {STREETS[i % len(STREETS)]}"
        user_id = email if i % 2 == 0 else f"shopper-{100000 + 7919 * i}"
        order_id = f"TLO-2026-11-{4711 + i:06d}"
        if i % 7 == 3:
            text = f"质量很好，物流很快。我是{name}，电话{phone}，地址{address}。推荐！"
        else:
            text = (f"{name} here, call me on {phone}. The kettle reached {address} two days late, "
                    "but it boils fast and the lid seals well.")
        people.append(Consumer(name, email, phone, address, user_id, order_id, text, 1 + (i * 3) % 5))
    return people


BUYER_NAME, BUYER_EMAIL = "Olumide Adeyemi-Buyer", "olumide.buyer@mail-example.test"
EVIDENCE_DOC = f"Photo of the crushed parcel addressed to {BUYER_NAME}, {BUYER_EMAIL}, 22 Rua Augusta, Lisboa"
CLAIMANT_ID = "shopper-4242424"


def needles(people: list[Consumer]) -> dict[str, str]:
    """Every personal string of the scene, labelled (the label, never the value, goes into a finding)."""
    out: dict[str, str] = {}
    for i, c in enumerate(people):
        for kind, value in c.strings().items():
            out[f"consumer {i} {kind}"] = value
    out |= {"buyer name": BUYER_NAME, "buyer e-mail": BUYER_EMAIL, "evidence document": EVIDENCE_DOC,
            "claimant id": CLAIMANT_ID}
    return out


def sealed_contents(db: Database) -> dict[int, tuple[bytes, bytes, bytes, bytes]]:
    """(leaf hash, ciphertext, salt, text) of every review with content, opened with the content key: the only
    way to the salts, which the service keeps inside the sealed value."""
    vault = Vault(bytes.fromhex(CONTENT_KEY[2:]))
    out = {}
    with db.engine.connect() as conn:
        for index, leaf_hash, sealed in conn.execute(sa.text(
                "SELECT c.leaf_index, l.leaf_hash, c.ciphertext FROM review_content c "
                "JOIN log_leaves l ON l.leaf_index = c.leaf_index WHERE c.ciphertext IS NOT NULL")):
            plain = vault.open(bytes(sealed), record=bytes(leaf_hash))
            out[int(index)] = (bytes(leaf_hash), bytes(sealed), plain[:SALT_LENGTH], plain[SALT_LENGTH:])
    return out


class Captured(logging.Handler):
    """Every record logged while the scene runs, message and extra fields together."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[bytes] = []

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in record.__dict__.items() if k not in logging.LogRecord("", 0, "", 0, "", (), None)
                 .__dict__}
        self.lines.append(f"{record.name} {record.getMessage()} {extra!r} {record.exc_text or ''}".encode())


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(), logging.getLogger("trustledger.api")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.removeHandler(handler)
            log.setLevel(level)


@pytest_asyncio.fixture
async def service(world: World, database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    """The API over the test chain, its ledger on the ``database`` fixture's SQLite file or PostgreSQL schema,
    with a custody key so that a consumer without a wallet can dispute."""
    url = f"sqlite:///{tmp_path}/trustledger.db"
    if database.dialect == "postgresql":
        url = f"{PG_URL}?options=-csearch_path%3D{database.schema}"
    async for a in open_api(world, tmp_path, database_url=url, custody_key=CUSTODY_KEY):
        yield a


# -- the scene ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Scene:
    people: list[Consumer]
    answers: dict[str, bytes]
    strict_from: int
    erased: int
    removed: int
    hidden: int
    disputes: list[bytes]


async def ok(api: Api, answers: dict[str, bytes], label: str, method: str, path: str, *,
             status: tuple[int, ...] = (200, 201), **kw: Any) -> dict[str, Any]:
    r = await api.client.request(method, path, **kw)
    assert r.status_code in status, f"{label}: {r.status_code} {r.text}"
    answers[label] = r.content
    return dict(r.json())


async def relayed(api: Api, answers: dict[str, bytes], label: str, path: str, signer: Transactor,
                  call: Any) -> dict[str, Any]:
    return await ok(api, answers, label, "POST", path, params={"wait": 10}, json=api.signed(signer, call))


def key(w3: Any, label: str) -> Transactor:
    """A key that needs no gas: every write it signs is relayed."""
    return Transactor(w3, Account.from_key(keccak(text=f"privacy:{label}")))


async def play(api: Api) -> Scene:
    """The scene, through the API; the answers of its writes are kept for the API scan."""
    w, a = api.world, api.world.actors
    dr, people, answers = w.d.disputes.functions, consumers(), {}
    strict_from = w.w3.eth.block_number + 1

    # certificates: one issued by the inspection body, one offered by it and anchored by the merchant
    c = cert(api, "privacy-issued")
    r = await issue(api, c)
    assert r.status_code == 200, r.text
    offered = cert(api, "privacy-offered")
    await ok(api, answers, "offer", "POST", "/v1/certificates/offers", json=offer_body(api, offered, nonce=11))
    prepared = await ok(api, answers, "prepare", "POST", "/v1/relay/prepare", json={
        "from": a.merchant.address, "contract": "CertificateRegistry", "function": "anchor",
        "args": (await ok(api, answers, "offer read", "GET",
                          f"/v1/certificates/offers/{hx(certificate_id(offered))}"))["anchorArgs"]})
    sig = Account.sign_typed_data(a.merchant.account.key, full_message=prepared["typedData"]).signature
    await ok(api, answers, "anchor", "POST", f"/v1/certificates/offers/{hx(certificate_id(offered))}/anchor",
             params={"wait": 5}, json={"request": prepared["request"], "signature": hx(sig)})

    # reviews: the platform attests each order by its commitment (the order id stays with it), then submits
    bodies = []
    for i, p in enumerate(people):
        att = {"orderCommitment": hx(order_commitment(p.order_id, a.merchant.address, PLATFORM_SALT)),
               "merchant": a.merchant.address, "productId": hx(PRODUCT), "buyer": key(w.w3, f"buyer-{i}").address,
               "purchasedAt": w.chain.now() - 3600}
        signed = await ok(api, answers, f"purchase {i}", "POST", "/v1/purchases", json=att, headers=api.auth)
        bodies.append({"productId": hx(PRODUCT), "merchant": a.merchant.address, "rating": p.rating,
                       "text": p.text, "userId": p.user_id, "attestation": signed["attestation"],
                       "attestationSignature": signed["signature"]})
    for i, body in enumerate(bodies[:40]):
        headers = {"Idempotency-Key": f"review-{i}"} if i % 3 == 0 else {}
        await ok(api, answers, f"review {i}", "POST", "/v1/reviews", json=body, headers=headers)
    batch = await ok(api, answers, "batch", "POST", "/v1/reviews/batch", json={"reviews": bodies[40:]})
    assert batch["accepted"] == len(people) - 40
    api.anchor()

    # a purchase dispute, with the buyer's own key: evidence by hash and URI, the claimant by a commitment
    buyer = key(w.w3, "buyer-dispute")
    order = "TLO-2026-11-DISPUTE-1"
    att = {"orderCommitment": hx(order_commitment(order, a.merchant.address, PLATFORM_SALT)),
           "merchant": a.merchant.address, "productId": hx(PRODUCT), "buyer": buyer.address,
           "purchasedAt": w.chain.now() - 3600}
    signed = await ok(api, answers, "dispute purchase", "POST", "/v1/purchases", json=att, headers=api.auth)
    attestation = (bytes.fromhex(att["orderCommitment"][2:]), a.merchant.address, PRODUCT, buyer.address,
                   att["purchasedAt"])
    claimant = keccak(CLAIMANT_ID.encode() + keccak(text="platform claimant salt"))
    evidence = keccak(text=EVIDENCE_DOC)
    opened = await relayed(api, answers, "dispute open", "/v1/disputes", buyer, dr.openPurchaseDispute(
        attestation, bytes.fromhex(signed["signature"][2:]), claimant, keccak(text="category:damaged"), evidence,
        "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"))
    did = bytes.fromhex(opened["disputeId"][2:])
    base = f"/v1/disputes/{hx(did)}"
    await relayed(api, answers, "dispute response", f"{base}/response", a.merchant,
                  dr.respond(did, keccak(text="merchant courier log"), "https://evidence.merchant.example/c/8812"))
    await relayed(api, answers, "dispute evidence", f"{base}/evidence", buyer,
                  dr.submitEvidence(did, keccak(text="second photo"), "ar://x9Yk2bT0oPq1"))
    await relayed(api, answers, "dispute ruling", f"{base}/rulings", a.arbitrator,
                  dr.rule(did, REFUND, 1999, keccak(text=RATIONALE)))

    # a second purchase dispute, by a consumer without a wallet (the service's per-order custodial key)
    custodial = {"orderCommitment": hx(order_commitment("TLO-2026-11-CUSTODY-1", a.merchant.address,
                                                         PLATFORM_SALT)),
                 "merchant": a.merchant.address, "productId": hx(PRODUCT), "purchasedAt": w.chain.now() - 3600}
    catt = await ok(api, answers, "custodial purchase", "POST", "/v1/purchases/custodial", json=custodial,
                    headers=api.auth)
    copen = await ok(api, answers, "custodial open", "POST", f"/v1/custody/{custodial['orderCommitment']}/writes",
                     params={"wait": 10}, headers=api.auth, json={"function": "openPurchaseDispute", "args": [
                         catt["attestation"], catt["signature"], hx(claimant), hx(keccak(text="category:late")),
                         hx(ZERO32), ""]})
    cdid = bytes(dr.purchaseDisputeId(bytes.fromhex(custodial["orderCommitment"][2:])).call())
    assert copen["status"] == "confirmed"

    # the merchant challenges review 7 as fake; the arbitrator removes it
    removed = 7
    ch = await relayed(api, answers, "challenge", "/v1/disputes/challenges", a.merchant, dr.challengeReview(
        removed, a.merchant.address, keccak(text="category:fake-review"), keccak(text="order logs"),
        "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"))
    cid = bytes.fromhex(ch["disputeId"][2:])
    await relayed(api, answers, "challenge response", f"/v1/disputes/{hx(cid)}/response", a.operator,
                  dr.respond(cid, ZERO32, ""))
    await relayed(api, answers, "challenge ruling", f"/v1/disputes/{hx(cid)}/rulings", a.arbitrator,
                  dr.rule(cid, REVIEW_REMOVED, 0, keccak(text=RATIONALE)))

    # the operator hides review 12 at once (illegal content), pending a ruling
    hidden = 12
    await ok(api, answers, "hide", "POST", "/v1/takedowns/hides", params={"wait": 10}, headers=api.auth,
             json={"leafIndex": hidden, "reasonCode": hx(keccak(text="reason:doxxing"))})

    w.chain.increase_time(APPEAL + 1)
    await relayed(api, answers, "dispute final", f"{base}/finalization", a.stranger, dr.finalize(did))
    await relayed(api, answers, "remedy report", f"{base}/remedy/report", a.merchant,
                  dr.reportRemedy(did, keccak(text="refund transfer receipt")))
    await relayed(api, answers, "remedy confirmation", f"{base}/remedy/confirmation", buyer, dr.confirmRemedy(did))
    await relayed(api, answers, "challenge final", f"/v1/disputes/{hx(cid)}/finalization", a.stranger,
                  dr.finalize(cid))
    api.index()
    await ok(api, answers, "rationale", "POST", f"/v1/disputes/{hx(did)}/rationales", json={"text": RATIONALE})
    done = apply_takedowns(api.services)
    assert (done.removed, done.hidden) == ([removed], [hidden])
    return Scene(people, answers, strict_from, erased=3, removed=removed, hidden=hidden, disputes=[did, cid, cdid])


async def read_everything(api: Api, scene: Scene, answers: dict[str, bytes]) -> None:
    """Every read a consumer, an auditor or a page would make of the scene."""
    n = len(scene.people)
    for i in range(n):
        await ok(api, answers, f"GET review {i}", "GET", f"/v1/reviews/{i}")
    for i in (0, scene.erased, scene.removed, scene.hidden):
        await ok(api, answers, f"GET bundle {i}", "GET", f"/v1/bundles/reviews/{i}")
    await ok(api, answers, "GET leaves", "GET", "/v1/log/leaves", params={"start": 0, "end": n})
    await ok(api, answers, "GET product", "GET", f"/v1/products/{hx(PRODUCT)}")
    await ok(api, answers, "GET trust", "GET", f"/v1/merchants/{api.world.actors.merchant.address}/trust")
    for did in scene.disputes:
        await ok(api, answers, f"GET dispute {hx(did)[:10]}", "GET", f"/v1/disputes/{hx(did)}")
    await ok(api, answers, "GET takedowns", "GET", "/v1/takedowns")
    await ok(api, answers, "GET audit events", "GET", "/v1/audit/events", params={"limit": 1000})
    page = await api.client.get(f"/p/{hx(PRODUCT)}", params={"all": 1})
    assert page.status_code == 200, page.text
    answers["consumer page"] = page.content


# -- the test -------------------------------------------------------------------------------------------------


async def test_nothing_personal_on_chain_nor_in_clear_and_no_salt_leaves_the_service(
        service: Api, captured: Captured) -> None:
    api, w = service, service.world
    scene = await play(api)
    people, db = scene.people, api.ledger.db
    everyone = needles(people)
    chain = Chain(w.d.addresses)

    # -- the sealed content opens to exactly what was submitted; its salts are what the leaves commit to
    sealed = sealed_contents(db)
    assert sorted(sealed) == list(range(len(people)))
    for i, (leaf_hash, _, salt, text) in sealed.items():
        assert text.decode() == people[i].text
        leaf = json.loads(api.ledger.reviews.leaves(i, i + 1)[0])
        assert leaf["content"] == hx(hashlib.sha256(salt + text).digest())
        assert hashlib.sha256(b"\x00" + api.ledger.reviews.leaves(i, i + 1)[0]).digest() == leaf_hash
    salts = {f"review {i}": s for i, (_, _, s, _) in sealed.items()}
    assert len(set(salts.values())) == len(people)  # one fresh salt per review

    # -- erasure: the sealed content goes, the leaf row stays byte for byte, the API shows the hash only
    e = scene.erased
    with db.engine.connect() as conn:
        leaf_row = dict(conn.execute(sa.text("SELECT * FROM log_leaves WHERE leaf_index = :i"), {"i": e})
                        .mappings().one())
    before = await ok(api, scene.answers, "before erasure", "GET", f"/v1/reviews/{e}")
    assert before["text"] == people[e].text
    erased = await ok(api, scene.answers, "erasure", "POST", f"/v1/reviews/{e}/erasure", headers=api.auth,
                      json={"reason": ERASURE_REASON})
    with db.engine.connect() as conn:
        content_row = dict(conn.execute(sa.text("SELECT * FROM review_content WHERE leaf_index = :i"), {"i": e})
                           .mappings().one())
        assert dict(conn.execute(sa.text("SELECT * FROM log_leaves WHERE leaf_index = :i"), {"i": e})
                    .mappings().one()) == leaf_row
    assert content_row["ciphertext"] is None and content_row["erasure_reason"] == ERASURE_REASON
    assert content_row["erased_ms"] is not None
    assert e not in sealed_contents(db)
    assert (erased["text"], erased["leafHash"], erased["leaf"]) == (None, before["leafHash"], before["leaf"])
    assert erased["erasure"]["reason"] == ERASURE_REASON
    assert set(erased) == {"leafIndex", "leafHash", "leaf", "acceptedAt", "visible", "text", "takedown",
                           "erasure", "inclusion"}
    assert set(erased["leaf"]) == {"v", "productId", "merchant", "rating", "content", "reviewer", "purchase",
                                   "submittedAt"}
    inc = erased["inclusion"]
    verify_inclusion(e, inc["checkpoint"]["treeSize"], bytes.fromhex(erased["leafHash"][2:]),
                     [bytes.fromhex(p[2:]) for p in inc["proof"]], bytes.fromhex(inc["checkpoint"]["rootHash"][2:]))
    _, erased_ciphertext, _, _ = sealed[e]

    # -- the chain: every transaction and log from block 0, plaintexts searched and every call decoded
    found, txs, logs = scan_chain(w.w3, chain, everyone, strict_from=scene.strict_from)
    assert found == []
    assert txs >= 20 and logs >= 40  # the scene's writes were read, not an empty range
    # ... and decoded, forwarded requests unwrapped: the checks above looked into each kind of write
    assert {"TrustForwarder.execute", "CertificateRegistry.issue", "CertificateRegistry.anchor",
            "ReviewLog.appendCheckpoint", "DisputeRegistry.openPurchaseDispute", "DisputeRegistry.respond",
            "DisputeRegistry.submitEvidence", "DisputeRegistry.challengeReview", "DisputeRegistry.rule",
            "DisputeRegistry.emergencyHide", "DisputeRegistry.confirmRemedy", "DisputeRegistry.Evidence",
            "DisputeRegistry.PurchaseDisputeOpened", "DisputeRegistry.ReviewTakenDown", "ReviewLog.CheckpointAnchored",
            "CertificateRegistry.CertificateIssued", "TrustForwarder.ExecutedForwardRequest"} <= chain.decoded

    # -- the database: every row of every table; the erased review's ciphertext is nowhere either
    found, rows = scan_database(db, everyone, salts)
    assert found == [] and rows > 200
    erased_blob = {"the erased ciphertext": erased_ciphertext}
    assert scan_database(db, {}, erased_blob)[0] == []

    # -- the API: what everyone can read, plus the answers of the scene's writes
    answers = dict(scene.answers)
    await read_everything(api, scene, answers)
    answers.pop("before erasure")  # shown before the erasure, as it should have been
    # A visible review shows its text, and with it whatever its author chose to write there (a name, a phone,
    # an address). Nothing else personal may show: no user id, e-mail or order id of anyone, nothing of the
    # evidence, and nothing at all of the reviews that are erased, taken down or hidden.
    withheld = (e, scene.removed, scene.hidden)
    hidden_texts = {label: value for label, value in everyone.items()
                    if not label.startswith("consumer ") or label.split()[2] in ("email", "userId", "orderId")
                    or int(label.split()[1]) in withheld}
    shown = [f"consumer {i} text" for i in range(len(people)) if i not in withheld]
    assert scan_answers(answers, hidden_texts, salts) == []
    # the visible texts are shown (so the text search above looks where texts would be)
    assert all(people[int(label.split()[1])].text.encode() in answers[f"GET review {label.split()[1]}"]
               for label in shown)

    # -- the service's own logs while the scene ran
    assert [f for line in captured.lines for f in find_plaintexts("log", line, everyone | {
        f"salt {k}": v.hex() for k, v in salts.items()})] == []
    assert captured.lines  # the capture saw the service log (e.g. the erasure)

    # -- and none of the checks above is blind: each finds a plaintext planted where it looks
    person = people[5]
    s = w.actors.stranger
    raw = s.account.sign_transaction({
        "to": s.address, "data": person.email.encode(), "value": 0, "gas": 100_000, "chainId": w.d.chain_id,
        "gasPrice": w.w3.eth.gas_price * 2, "nonce": w.w3.eth.get_transaction_count(s.address)})
    s.wait(w.w3.eth.send_raw_transaction(raw.raw_transaction))
    found, _, _ = scan_chain(w.w3, chain, everyone, strict_from=scene.strict_from)
    assert [re.sub(r"^block \d+ tx \S+ ", "", f) for f in found] == [
        "calldata: consumer 5 email",
        f"{len(person.email.encode())} bytes of calldata to {s.address}, not a TrustLedger contract"]
    assert find_plaintexts("calldata", abi_encode(["string"], [person.name.encode().hex()]), everyone) == [
        "calldata: consumer 5 name"]
    planted = bytes.fromhex(w.d.disputes.encode_abi(
        "submitEvidence", [scene.disputes[0], ZERO32, f"mailto:{person.email}"])[2:])
    assert chain.call(w.d.disputes.address, planted, "") == [
        f"DisputeRegistry.submitEvidence.uri: a string that is not an evidence URI ({7 + len(person.email)} characters)"]
    planted_log = {"address": w.d.disputes.address,
                   "data": abi_encode(["bytes32", "string"], [b"Alice".ljust(32, b"\0"), person.address]),
                   "topics": [keccak(text="Evidence(bytes32,address,bytes32,string)"), scene.disputes[0],
                              b"\x00" * 12 + bytes.fromhex(w.actors.merchant.address[2:])]}
    assert chain.event(planted_log, "") == [
        "DisputeRegistry.Evidence.evidenceHash: text in a bytes32",
        f"DisputeRegistry.Evidence.uri: a string that is not an evidence URI ({len(person.address)} characters)"]
    with db.write() as conn:
        conn.execute(sa.text("INSERT INTO api_rationales (dispute_id, rationale_hash, text, published_ms) "
                             "VALUES (:d, :h, :t, 0)"), {"d": ZERO32, "h": ZERO32, "t": f"per {person.user_id}"})
    assert scan_database(db, everyone, salts)[0] == ["api_rationales.text: consumer 5 userId"]
    leaked = json.dumps({"review": {"contentSalt": hx(salts["review 9"])}}).encode()
    assert scan_answers({"planted": leaked}, {}, salts) == ["planted: the salt of review 9",
                                                          "planted.review.contentSalt: a salt member"]
    assert scan_answers({"planted": base64.b64encode(salts["review 2"])}, {}, salts) == [
        "planted: the salt of review 2"]
    assert find_plaintexts("log", f"user {person.order_id} erased".encode(), everyone) == [
        "log: consumer 5 orderId"]
    cjk = people[3]
    assert not cjk.name.isascii()  # json.dumps escapes it: the escaped spelling is searched too
    assert find_plaintexts("json", json.dumps({"name": cjk.name}).encode(), everyone) == ["json: consumer 3 name"]
