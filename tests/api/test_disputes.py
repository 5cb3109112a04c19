"""Disputes through the API: every step relayed with its actor's signature, the full history read back, rulings'
rationales published against their on-chain hashes; wrong roles and wrong ids refused with their types."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction

from ledger.chain import Transactor

from .conftest import PRODUCT, Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

DAY = 24 * 3600
APPEAL, CONFIRM = 3 * DAY, 7 * DAY  # ledger.deploy.DisputePeriods defaults
ZERO32 = b"\x00" * 32
CATEGORY = keccak(text="category:defective")
EVIDENCE = keccak(text="evidence:photo")
URI = "ipfs://bafy-evidence"
COMMITMENT = keccak(b"platform-user:4711" + keccak(text="salt"))
REFUND, PARTIAL_REFUND, REJECTED = 1, 3, 4
FIRST_REASONS = "The parcel arrived crushed; the merchant's photos show the same box. Refund in full."
APPEAL_REASONS = "On appeal: the item works; the box was damaged in transit. Partial refund of 1000."


def urn(slug: str) -> str:
    return f"urn:trustledger:problem:{slug}"


def key(label: str, api: Api) -> Transactor:
    """A key that needs no gas: every write it signs is relayed."""
    return Transactor(api.world.w3, Account.from_key(keccak(text=f"api-disputes:{label}")))


class Flow:
    """The API, the registry's functions and the actors of a purchase dispute."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.a = api.world.actors
        self.dr = api.world.d.disputes.functions
        self.buyer = key("buyer", api)

    async def post(self, path: str, signer: Transactor, call: ContractFunction, *, wait: float = 10,
                   status: int = 200) -> dict[str, Any]:
        r = await self.api.client.post(path, params={"wait": wait}, json=self.api.signed(signer, call))
        assert r.status_code == status, r.text
        return dict(r.json())

    async def open(self, order: str) -> tuple[bytes, dict[str, Any]]:
        att, sig = self.api.attestation(order, buyer=self.buyer.address)
        call = self.dr.openPurchaseDispute(att.as_tuple(), sig, COMMITMENT, CATEGORY, EVIDENCE, URI)
        out = await self.post("/v1/disputes", self.buyer, call)
        did = bytes(self.dr.purchaseDisputeId(att.order_commitment).call())
        assert out["disputeId"] == hx(did) and out["dispute"] == f"/v1/disputes/{hx(did)}"
        return did, out

    async def step(self, did: bytes, suffix: str, signer: Transactor, call: ContractFunction,
                   **kw: Any) -> dict[str, Any]:
        return await self.post(f"/v1/disputes/{hx(did)}/{suffix}", signer, call, **kw)

    async def get(self, did: bytes) -> dict[str, Any]:
        self.api.index()
        r = await self.api.client.get(f"/v1/disputes/{hx(did)}")
        assert r.status_code == 200, r.text
        return dict(r.json())


def events_of(*writes: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(event, tx hash, log index) of every registry event the writes emitted, in order."""
    return [(e["event"], w["txHash"], e["logIndex"]) for w in writes for e in w["events"]
            if e["contract"] == "DisputeRegistry"]


async def test_purchase_dispute_from_opening_to_confirmed_remedy_with_appeal(api: Api) -> None:
    f = Flow(api)
    # two arbitrators: the public rule assigns one, and the appeal to the other
    second = key("arbitrator-2", api)
    api.world.actors.governor.send(api.world.d.governance.functions.appointArbitrator(second.address))
    did, opened = await f.open("order-appeal")
    assigned = (await f.get(did))["arbitrator"]
    arbitrator, appeal_arbitrator = (f.a.arbitrator, second) if assigned == f.a.arbitrator.address \
        else (second, f.a.arbitrator)
    assert opened["status"] == "confirmed" and opened["actor"] == f.buyer.address
    assert opened["function"] == "openPurchaseDispute"
    d = await f.get(did)
    assert (d["kind"], d["phase"], d["claimant"]) == ("purchase", "awaitingResponse", f.buyer.address)
    assert (d["merchant"], d["respondent"], d["arbitrator"]) == (f.a.merchant.address, f.a.merchant.address,
                                                                 arbitrator.address)
    assert d["productId"] == hx(PRODUCT) and d["claimantCommitment"] == hx(COMMITMENT)

    responded = await f.step(did, "response", f.a.merchant, f.dr.respond(did, ZERO32, ""))
    first = await f.step(did, "rulings", arbitrator,
                         f.dr.rule(did, REFUND, 1999, keccak(text=FIRST_REASONS)))
    assert (await f.get(did))["phase"] == "ruled"

    appealed = await f.step(did, "appeal", f.buyer, f.dr.appeal(did, EVIDENCE, URI))
    d = await f.get(did)
    assert (d["phase"], d["round"], d["arbitrator"]) == ("appealed", 1, appeal_arbitrator.address)
    assert d["firstArbitrator"] == arbitrator.address
    final = await f.step(did, "rulings", appeal_arbitrator,
                         f.dr.rule(did, PARTIAL_REFUND, 1000, keccak(text=APPEAL_REASONS)))
    assert [e["event"] for e in final["events"]] == ["DisputeRuled", "DisputeFinal"]
    assert (await f.get(did))["phase"] == "remedyDue"

    reported = await f.step(did, "remedy/report", f.a.merchant, f.dr.reportRemedy(did, EVIDENCE))
    confirmed = await f.step(did, "remedy/confirmation", f.buyer, f.dr.confirmRemedy(did))
    d = await f.get(did)
    assert (d["phase"], d["outcome"], d["remedyAmount"]) == ("closed", "partialRefund", "1000")

    # the full history: every event every write emitted, each with its transaction, block and time
    writes = (opened, responded, first, appealed, final, reported, confirmed)
    assert [(h["event"], h["txHash"], h["logIndex"]) for h in d["history"]] == events_of(*writes)
    assert [h["event"] for h in d["history"]][-3:] == ["RemedyReported", "RemedyConfirmed", "DisputeClosed"]
    blocks = {w["txHash"]: w["blockNumber"] for w in writes}
    for h in d["history"]:
        assert h["blockNumber"] == blocks[h["txHash"]] and h["blockTime"] >= d["openedAt"]
    assert [(r["round"], r["outcome"], r["arbitrator"], r["rationale"]) for r in d["rulings"]] == [
        (0, "refund", arbitrator.address, None), (1, "partialRefund", appeal_arbitrator.address, None)]

    # the rationale texts: accepted against the on-chain hashes, shown with their rulings
    path = f"/v1/disputes/{hx(did)}/rationales"
    r = await api.client.post(path, json={"text": FIRST_REASONS})
    assert r.status_code == 201, r.text
    assert r.json()["rationaleHash"] == hx(keccak(text=FIRST_REASONS))
    again = await api.client.post(path, json={"text": FIRST_REASONS})
    assert again.status_code == 200 and again.json() == r.json()
    r = await api.client.post(path, json={"text": APPEAL_REASONS + " "})
    assert (r.status_code, r.json()["type"]) == (422, urn("rationale-mismatch"))
    assert (await api.client.post(path, json={"text": APPEAL_REASONS})).status_code == 201
    d = (await api.client.get(f"/v1/disputes/{hx(did)}")).json()
    assert [r["rationale"] for r in d["rulings"]] == [FIRST_REASONS, APPEAL_REASONS]


async def test_finalize_waits_for_the_appeal_window_and_an_unconfirmed_remedy_closes_after_its_own(api: Api) -> None:
    f = Flow(api)
    did, _ = await f.open("order-deadlines")
    await f.step(did, "response", f.a.merchant, f.dr.respond(did, EVIDENCE, URI))
    await f.step(did, "rulings", f.a.arbitrator, f.dr.rule(did, REFUND, 1999, keccak(text="reasons")))
    r = await api.client.post(f"/v1/disputes/{hx(did)}/finalization",
                              json=api.signed(f.a.stranger, f.dr.finalize(did)))
    assert (r.status_code, r.json()["type"], r.json()["errorName"]) == (
        422, urn("contract-rejected"), "DisputeRegistryDeadlineNotPassed")

    api.world.chain.increase_time(APPEAL + 1)
    finalized = await f.step(did, "finalization", f.a.stranger, f.dr.finalize(did))  # anyone, once it passed
    assert [e["event"] for e in finalized["events"]] == ["DisputeFinal"]
    await f.step(did, "remedy/report", f.a.merchant, f.dr.reportRemedy(did, EVIDENCE))
    d = await f.get(did)
    assert d["phase"] == "remedyReported" and d["remedyDeadline"] > 0
    api.world.chain.increase_time(CONFIRM + 1)
    closed = await f.step(did, "remedy/closure", f.a.stranger, f.dr.closeRemedy(did))
    assert [(e["event"], e["args"].get("deemed")) for e in closed["events"]] == [
        ("RemedyConfirmed", True), ("DisputeClosed", None)]
    assert (await f.get(did))["phase"] == "closed"


async def test_wrong_role_wrong_id_and_wrong_function_are_refused_with_their_types(api: Api) -> None:
    f = Flow(api)
    did, _ = await f.open("order-refused")
    await f.step(did, "response", f.a.merchant, f.dr.respond(did, ZERO32, ""))
    rule = f.dr.rule(did, REFUND, 1999, keccak(text="reasons"))

    r = await api.client.post(f"/v1/disputes/{hx(did)}/rulings", json=api.signed(f.a.stranger, rule))
    body = r.json()
    assert (r.status_code, body["type"], body["errorName"]) == (403, urn("forbidden"), "DisputeRegistryUnauthorized")
    assert body["errorArgs"] == [f.a.stranger.address]

    other = keccak(text="another dispute")
    r = await api.client.post(f"/v1/disputes/{hx(other)}/rulings", json=api.signed(f.a.arbitrator, rule))
    assert (r.status_code, r.json()["type"]) == (422, urn("wrong-action"))
    assert "id" in r.json()["detail"]

    r = await api.client.post(f"/v1/disputes/{hx(did)}/appeal", json=api.signed(f.a.arbitrator, rule))
    assert (r.status_code, r.json()["type"]) == (422, urn("wrong-action"))
    assert "DisputeRegistry.appeal" in r.json()["detail"]

    unsigned = api.signed(f.a.arbitrator, rule)
    del unsigned["signature"]
    r = await api.client.post(f"/v1/disputes/{hx(did)}/rulings", json=unsigned)
    assert (r.status_code, r.json()["type"]) == (401, urn("signature-required"))

    # nothing was relayed by the refusals: the arbitrator's ruling still goes through, once
    await f.step(did, "rulings", f.a.arbitrator, rule)
    assert (await f.get(did))["phase"] == "ruled"
    r = await api.client.get(f"/v1/disputes/{hx(other)}")
    assert (r.status_code, r.json()["type"]) == (404, urn("unknown-dispute"))
    r = await api.client.post(f"/v1/disputes/{hx(other)}/rationales", json={"text": "x"})
    assert (r.status_code, r.json()["type"]) == (404, urn("unknown-dispute"))


async def test_open_answers_202_without_waiting_and_lists_filter_and_page(api: Api) -> None:
    f = Flow(api)
    att, sig = api.attestation("order-queued", buyer=f.buyer.address)
    call = f.dr.openPurchaseDispute(att.as_tuple(), sig, COMMITMENT, CATEGORY, ZERO32, "")
    queued = await f.post("/v1/disputes", f.buyer, call, wait=0, status=202)
    assert queued["status"] == "queued" and queued["events"] is None
    did = bytes(f.dr.purchaseDisputeId(att.order_commitment).call())
    assert queued["disputeId"] == hx(did)
    api.services.ledger.relayer_sender.wait(queued["key"], timeout=10)
    second, _ = await f.open("order-listed")
    third, _ = await f.open("order-rejected")
    await f.step(third, "response", f.a.merchant, f.dr.respond(third, ZERO32, ""))
    api.index()

    async def ids(**params: Any) -> list[str]:
        r = await api.client.get("/v1/disputes", params=params)
        assert r.status_code == 200, r.text
        return [d["id"] for d in r.json()["items"]]

    everything = await ids()
    assert everything == await ids(product=hx(PRODUCT)) == await ids(merchant=f.a.merchant.address)
    assert sorted(everything) == sorted(hx(i) for i in (did, second, third))
    assert await ids(merchant=f.a.merchant2.address) == []
    assert await ids(phase="awaitingRuling") == [hx(third)]
    assert sorted(await ids(phase="awaitingResponse")) == sorted([hx(did), hx(second)])
    assert len(await ids(phase="open")) == 3 and await ids(phase="closed") == []
    assert await ids(kind="reviewChallenge") == []
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = (await api.client.get("/v1/disputes", params=params)).json()
        pages.append([d["id"] for d in page["items"]])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 1] and [i for p in pages for i in p] == everything
    r = await api.client.get("/v1/disputes", params={"cursor": "nonsense"})
    assert (r.status_code, r.json()["type"]) == (422, urn("invalid-cursor"))
    r = await api.client.get("/v1/disputes", params={"phase": "pending"})
    assert (r.status_code, r.json()["type"]) == (422, urn("validation-error"))


async def test_an_appeal_with_no_arbitrator_left_waits_for_the_governors_panel(api: Api) -> None:
    f = Flow(api)
    did, _ = await f.open("order-panel")
    await f.step(did, "response", f.a.merchant, f.dr.respond(did, ZERO32, ""))
    await f.step(did, "rulings", f.a.arbitrator, f.dr.rule(did, REFUND, 1999, keccak(text="reasons")))
    escalated = await f.step(did, "appeal", f.a.merchant, f.dr.appeal(did, EVIDENCE, URI))
    assert [e["event"] for e in escalated["events"]][-1] == "DisputeEscalated"  # the only arbitrator ruled
    d = await f.get(did)
    assert (d["phase"], d["resume"], d["arbitrator"]) == ("escalated", "appealed", None)

    panel = key("panel", api)
    appoint = f.dr.appointPanel(did, panel.address)
    r = await api.client.post(f"/v1/disputes/{hx(did)}/panel", json=api.signed(f.a.stranger, appoint))
    assert (r.status_code, r.json()["errorName"]) == (403, "DisputeRegistryUnauthorized")
    await f.step(did, "panel", f.a.governor, appoint)
    d = await f.get(did)
    assert (d["phase"], d["arbitrator"], d["panel"]) == ("appealed", panel.address, True)
    await f.step(did, "rulings", panel, f.dr.rule(did, REJECTED, 0, keccak(text="panel reasons")))
    d = await f.get(did)
    assert (d["phase"], d["outcome"]) == ("closed", "rejected")
    assert [r["arbitrator"] for r in d["rulings"]] == [f.a.arbitrator.address, panel.address]
