"""Custody (api/routes/custody.py): consumers without a wallet, through a buyer key the service holds per order.

The platform attests an order with a custodial buyer key and, on the consumer's instruction, has the service
sign and relay the buyer's dispute steps. The chain records the per-order key as the claimant; the relayer's key
still acts for nobody; one order's key cannot act on another order's dispute; only buyer steps are signed;
everything needs the operator token, and a service without a custody key says so.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from eth_utils.crypto import keccak

from ledger.reviews import order_commitment

from ..conftest import World
from .conftest import PRODUCT, Api, hx, open_api
from .test_disputes import CATEGORY, COMMITMENT, EVIDENCE, REFUND, URI, ZERO32, urn

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

CUSTODY_KEY = "0x" + "5a" * 32


@pytest_asyncio.fixture
async def custody(world: World, tmp_path: Path) -> AsyncIterator[Api]:
    home = tmp_path / "custody"  # its own database, beside the plain ``api`` fixture's
    home.mkdir()
    async for a in open_api(world, home, custody_key=CUSTODY_KEY):
        yield a


def order(api: Api, name: str) -> dict[str, Any]:
    merchant = api.world.actors.merchant.address
    return {"orderCommitment": hx(order_commitment(name, merchant, b"\x22" * 32)), "merchant": merchant,
            "productId": hx(PRODUCT), "purchasedAt": api.world.chain.now() - 3600}


async def attest(api: Api, name: str) -> dict[str, Any]:
    r = await api.client.post("/v1/purchases/custodial", json=order(api, name), headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def write(api: Api, commitment: str, function: str, args: list[Any], *, status: int = 200,
                wait: float = 10) -> dict[str, Any]:
    r = await api.client.post(f"/v1/custody/{commitment}/writes", params={"wait": wait}, headers=api.auth,
                              json={"function": function, "args": args})
    assert r.status_code == status, r.text
    return dict(r.json())


async def open_dispute(api: Api, name: str) -> tuple[str, dict[str, Any], bytes]:
    """(the order's commitment, the opening write, the dispute id)."""
    att = await attest(api, name)
    a = att["attestation"]
    opened = await write(api, a["orderCommitment"], "openPurchaseDispute", [
        a, att["signature"], hx(COMMITMENT), hx(CATEGORY), hx(EVIDENCE), URI])
    did = bytes(api.world.d.disputes.functions.purchaseDisputeId(bytes.fromhex(a["orderCommitment"][2:])).call())
    return a["orderCommitment"], opened, did


async def test_a_consumer_without_a_wallet_opens_and_appeals_through_the_custodial_key(custody: Api) -> None:
    api, a = custody, custody.world.actors
    att = await attest(api, "custody-1")
    buyer = att["attestation"]["buyer"]
    assert att["custodial"] is True and att["orderSigner"] == a.order_signer.address
    again = await attest(api, "custody-1")
    assert again["attestation"]["buyer"] == buyer  # derived, not stored: the same order, the same key
    assert (await attest(api, "custody-2"))["attestation"]["buyer"] != buyer
    r = await api.client.get(f"/v1/custody/{att['attestation']['orderCommitment']}", headers=api.auth)
    assert r.status_code == 200 and r.json()["buyer"] == buyer

    # the attestation admits the consumer's review as any other does
    review = api.review_body("unused")
    review["attestation"], review["attestationSignature"] = att["attestation"], att["signature"]
    r = await api.client.post("/v1/reviews", json=review)
    assert r.status_code == 201, r.text

    commitment, opened, did = await open_dispute(api, "custody-3")
    assert opened["status"] == "confirmed" and opened["function"] == "openPurchaseDispute"
    assert opened["actor"] == (await api.client.get(f"/v1/custody/{commitment}", headers=api.auth)).json()["buyer"]
    api.index()
    d = (await api.client.get(f"/v1/disputes/{hx(did)}")).json()
    assert d["claimant"] == opened["actor"] and d["claimantCommitment"] == hx(COMMITMENT)
    assert d["claimant"] != api.ledger.relayer_sender.address

    evidence = await write(api, commitment, "submitEvidence", [hx(did), hx(EVIDENCE), URI])
    assert evidence["actor"] == opened["actor"]
    r = await api.client.post(f"/v1/disputes/{hx(did)}/response", params={"wait": 10},
                              json=api.signed(a.merchant, api.world.d.disputes.functions.respond(did, ZERO32, "")))
    assert r.status_code == 200, r.text
    ruled = await api.client.post(f"/v1/disputes/{hx(did)}/rulings", params={"wait": 10}, json=api.signed(
        a.arbitrator, api.world.d.disputes.functions.rule(did, REFUND, 10, keccak(text="reasons"))))
    assert ruled.status_code == 200, ruled.text
    appealed = await write(api, commitment, "appeal", [hx(did), hx(EVIDENCE), URI])
    assert "DisputeAppealed" in [e["event"] for e in appealed["events"]]


async def test_one_orders_key_cannot_act_on_another_orders_dispute(custody: Api) -> None:
    api = custody
    _, _, did = await open_dispute(api, "custody-victim")
    other = order(api, "custody-other")["orderCommitment"]
    r = await api.client.post(f"/v1/custody/{other}/writes", params={"wait": 10}, headers=api.auth,
                              json={"function": "submitEvidence", "args": [hx(did), hx(EVIDENCE), URI]})
    assert r.status_code == 403, r.text
    assert r.json()["type"] == urn("forbidden") and r.json()["errorName"].startswith("DisputeRegistry")


async def test_only_buyer_steps_are_signed(custody: Api) -> None:
    api = custody
    commitment = order(api, "custody-steps")["orderCommitment"]
    for function in ("rule", "respond", "reportRemedy", "emergencyHide", "nonsense"):
        r = await api.client.post(f"/v1/custody/{commitment}/writes", headers=api.auth,
                                  json={"function": function, "args": []})
        assert r.status_code == 422 and r.json()["type"] == urn("validation-error"), (function, r.text)
    r = await api.client.post(f"/v1/custody/{commitment}/writes", headers=api.auth,
                              json={"function": "appeal", "args": ["0x12"]})
    assert r.status_code == 422 and r.json()["type"] == urn("invalid-arguments"), r.text


async def test_custody_needs_the_token_and_a_custody_key(custody: Api, api: Api) -> None:
    commitment = order(custody, "custody-auth")["orderCommitment"]
    for method, path, body in (("POST", "/v1/purchases/custodial", order(custody, "custody-auth")),
                               ("GET", f"/v1/custody/{commitment}", None),
                               ("POST", f"/v1/custody/{commitment}/writes", {"function": "finalize",
                                                                            "args": [hx(ZERO32)]})):
        r = await custody.client.request(method, path, json=body)
        assert r.status_code == 401 and r.json()["type"] == urn("token-required"), r.text
        bad = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
        r = await custody.client.request(method, path, json=body, headers=bad)
        assert r.status_code == 401 and r.json()["type"] == urn("token-invalid"), r.text
        r = await api.client.request(method, path, json=body, headers=api.auth)  # a service without custody
        assert r.status_code == 503 and r.json()["type"] == urn("custody-not-configured"), r.text
