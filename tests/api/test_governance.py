"""Governance through the API: each governor flow relayed end to end, then read back from the index."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.eip712 import Certificate, certificate_id

from ..conftest import ACT_DELAY, OTHER_STANDARD, STANDARD
from .conftest import Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

P = "urn:trustledger:problem:"
REASON = keccak(text="reason:counterfeit")
RULING = keccak(text="ruling:2024-117")
WAIT = {"wait": 5}


def g(api: Api) -> Any:
    return api.world.d.governance.functions


def events(r: Any) -> list[str]:
    return [e["event"] for e in r.json()["events"]]


async def post(api: Api, path: str, signer: Any, call: Any, **kw: Any) -> Any:
    r = await api.client.post(path, json=api.signed(signer, call, **kw), params=WAIT)
    return r


async def test_accredit_an_issuer_through_prepare_and_typed_data_signing(api: Api) -> None:
    a = api.world.actors
    now = api.world.chain.now()
    new_issuer = a.stranger.address
    prepared = await api.client.post("/v1/relay/prepare", json={
        "from": a.governor.address, "contract": "TrustGovernance", "function": "accreditIssuer",
        "args": {"issuer": new_issuer, "validFrom": now - 60, "validUntil": now + 86400,
                 "scopes": [hx(STANDARD), hx(OTHER_STANDARD)]}})
    assert prepared.status_code == 200, prepared.text
    typed = prepared.json()["typedData"]
    signed = Account.sign_typed_data(a.governor.account.key, full_message=typed)
    body = {"request": prepared.json()["request"], "signature": hx(signed.signature)}
    r = await api.client.post(f"/v1/governance/issuers/{new_issuer}/accreditation", json=body, params=WAIT)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "confirmed" and out["actor"] == a.governor.address
    assert (out["contract"], out["function"]) == ("TrustGovernance", "accreditIssuer")
    assert r.headers["location"] == out["location"]
    assert events(r) == ["IssuerAccredited", "IssuerScopeSet", "IssuerScopeSet"]

    api.index()
    got = (await api.client.get(f"/v1/governance/issuers/{new_issuer}")).json()
    assert got["issuerId"] == 3 and got["accreditedNow"] and not got["suspended"] and got["compromisedAt"] is None
    assert sorted(got["scopes"]) == sorted([hx(STANDARD), hx(OTHER_STANDARD)])
    assert [h["event"] for h in got["history"]] == ["IssuerAccredited", "IssuerScopeSet", "IssuerScopeSet"]
    assert got["history"][0]["txHash"] == out["txHash"]
    listed = (await api.client.get("/v1/governance/issuers")).json()
    assert [i["issuer"] for i in listed["items"]] == [a.issuer.address, a.issuer2.address, new_issuer]


async def test_issuer_scope_suspension_and_restoration(api: Api) -> None:
    a = api.world.actors
    base = f"/v1/governance/issuers/{a.issuer.address}"
    r = await post(api, f"{base}/scopes", a.governor, g(api).setIssuerScope(a.issuer.address, OTHER_STANDARD, True))
    assert r.status_code == 200, r.text
    r = await post(api, f"{base}/suspension", a.governor, g(api).suspendIssuer(a.issuer.address, REASON))
    assert r.status_code == 200 and events(r) == ["IssuerSuspended"]
    api.index()
    got = (await api.client.get(base)).json()
    assert got["suspended"] and not got["accreditedNow"] and hx(OTHER_STANDARD) in got["scopes"]
    r = await post(api, f"{base}/suspension", a.governor, g(api).suspendIssuer(a.issuer.address, REASON))
    assert r.status_code == 422 and r.json()["errorName"] == "TrustGovernanceIssuerAlreadySuspended"
    r = await post(api, f"{base}/restoration", a.governor, g(api).restoreIssuer(a.issuer.address))
    assert r.status_code == 200 and events(r) == ["IssuerRestored"]
    api.index()
    got = (await api.client.get(base)).json()
    assert not got["suspended"] and got["accreditedNow"]
    assert [h["event"] for h in got["history"]][-3:] == ["IssuerScopeSet", "IssuerSuspended", "IssuerRestored"]


async def test_merchant_admission_sanctions_suspension_and_restoration(api: Api) -> None:
    a = api.world.actors
    m = a.stranger.address
    base = f"/v1/governance/merchants/{m}"
    r = await post(api, f"{base}/admission", a.governor, g(api).admitMerchant(m, keccak(text="licence:new")))
    assert r.status_code == 200 and events(r) == ["MerchantAdmitted"]
    r = await post(api, f"{base}/sanctions", a.governor, g(api).sanctionMerchant(m, 0, REASON, RULING))
    assert r.status_code == 200 and r.json()["events"][0]["args"]["kind"] == 0
    r = await post(api, f"{base}/suspension", a.governor, g(api).sanctionMerchant(m, 1, REASON, RULING))
    assert r.status_code == 200 and r.json()["events"][0]["args"]["status"] == 2
    api.index()
    got = (await api.client.get(base)).json()
    assert got["status"] == "suspended"
    assert got["lastSanction"] == {"kind": "suspension", "reasonCode": hx(REASON), "rulingRef": hx(RULING)}
    suspended = (await api.client.get("/v1/governance/merchants", params={"status": "suspended"})).json()
    assert [x["merchant"] for x in suspended["items"]] == [m]

    r = await post(api, f"{base}/restoration", a.governor, g(api).restoreMerchant(m, REASON, RULING))
    assert r.status_code == 200 and events(r) == ["MerchantRestored"]
    api.index()
    got = (await api.client.get(base)).json()
    assert got["status"] == "active"
    assert [h["event"] for h in got["history"]] == ["MerchantAdmitted", "MerchantSanctioned", "MerchantSanctioned",
                                                     "MerchantRestored"]
    everyone = (await api.client.get("/v1/governance/merchants", params={"limit": 2})).json()
    rest = (await api.client.get("/v1/governance/merchants", params={"cursor": everyone["nextCursor"]})).json()
    assert rest["nextCursor"] is None
    assert sorted(x["merchant"] for x in everyone["items"] + rest["items"]) == sorted(
        [a.merchant.address, a.merchant2.address, m])


async def test_suspension_route_relays_only_a_suspension_of_the_merchant_it_names(api: Api) -> None:
    a = api.world.actors
    m = a.merchant.address
    ban = g(api).sanctionMerchant(m, 2, REASON, RULING)
    r = await post(api, f"/v1/governance/merchants/{m}/suspension", a.governor, ban)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    other = g(api).sanctionMerchant(a.merchant2.address, 1, REASON, RULING)
    r = await post(api, f"/v1/governance/merchants/{m}/suspension", a.governor, other)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await post(api, f"/v1/governance/merchants/{m}/sanctions", a.governor, ban)
    assert r.status_code == 200
    api.index()
    assert (await api.client.get(f"/v1/governance/merchants/{m}")).json()["status"] == "banned"


async def test_arbitrators_and_order_signer(api: Api) -> None:
    a = api.world.actors
    new = a.stranger.address
    r = await post(api, f"/v1/governance/arbitrators/{new}/appointment", a.governor, g(api).appointArbitrator(new))
    assert r.status_code == 200 and events(r) == ["ArbitratorAppointed"]
    api.index()
    assert (await api.client.get("/v1/governance/arbitrators")).json() == [a.arbitrator.address, new]
    r = await post(api, f"/v1/governance/arbitrators/{a.arbitrator.address}/removal", a.governor,
                   g(api).removeArbitrator(a.arbitrator.address))
    assert r.status_code == 200
    r = await post(api, "/v1/governance/order-signer", a.governor, g(api).setOrderSigner(a.issuer2.address))
    assert r.status_code == 200 and events(r) == ["OrderSignerSet"]
    api.index()
    assert (await api.client.get("/v1/governance/arbitrators")).json() == [new]
    info = (await api.client.get("/v1/governance")).json()
    assert info["orderSigner"] == a.issuer2.address and info["arbitrators"] == 1
    assert info["governance"] == api.world.d.governance.address


async def test_delayed_acts_are_pending_until_their_eta_then_executed_or_cancelled(api: Api) -> None:
    a = api.world.actors
    chain = api.world.chain
    r = await post(api, "/v1/governance/acts/key-compromise", a.governor,
                   g(api).scheduleKeyCompromise(a.issuer2.address, chain.now() - 10, REASON))
    assert r.status_code == 200, r.text
    assert r.json()["actId"] == 1 and events(r) == ["ActScheduled"]
    r = await post(api, "/v1/governance/acts/log-operator-replacement", a.governor,
                   g(api).scheduleLogOperatorReplacement(a.stranger.address))
    assert r.json()["actId"] == 2
    api.index()
    pending = (await api.client.get("/v1/governance/acts", params={"state": "pending"})).json()
    assert [(x["actId"], x["kind"], x["state"], x["ready"]) for x in pending] == [
        (1, "declare_key_compromise", "pending", False), (2, "replace_log_operator", "pending", False)]
    assert pending[0]["eta"] >= chain.now() + ACT_DELAY - 60 and pending[0]["account"] == a.issuer2.address
    assert (await api.client.get("/v1/governance")).json()["pendingActs"] == 2

    early = await post(api, "/v1/governance/acts/1/execution", a.stranger, g(api).executeAct(1))
    assert early.status_code == 422 and early.json()["errorName"] == "TrustGovernanceActNotReady"
    chain.increase_time(ACT_DELAY + 1)
    assert (await api.client.get("/v1/governance/acts/1")).json()["ready"]
    r = await post(api, "/v1/governance/acts/1/execution", a.stranger, g(api).executeAct(1))  # anyone may
    assert r.status_code == 200, r.text
    assert events(r) == ["ActExecuted", "IssuerKeyCompromised"]
    r = await post(api, "/v1/governance/acts/2/cancellation", a.governor, g(api).cancelAct(2))
    assert r.status_code == 200 and events(r) == ["ActCancelled"]
    api.index()
    assert (await api.client.get("/v1/governance/acts", params={"state": "pending"})).json() == []
    assert [x["actId"] for x in (await api.client.get("/v1/governance/acts",
                                                      params={"state": "executed"})).json()] == [1]
    assert (await api.client.get("/v1/governance/acts/2")).json()["state"] == "cancelled"
    issuer2 = (await api.client.get(f"/v1/governance/issuers/{a.issuer2.address}")).json()
    assert issuer2["compromisedAt"] is not None and not issuer2["accreditedNow"]
    assert issuer2["history"][-1]["event"] == "IssuerKeyCompromised"


async def test_governance_revokes_another_partys_certificate_after_the_delay(api: Api) -> None:
    a = api.world.actors
    w = api.world
    now = w.chain.now()
    cert = Certificate(keccak(text="gtin:gov"), keccak(text="lot:gov"), a.merchant.address, a.issuer.address, 0,
                       keccak(text="doc:gov"), STANDARD, now - 60, now + 30 * 86400)
    w.relay(a.issuer, w.d.registry.functions.issue(cert.as_tuple()))
    cid = certificate_id(cert)
    r = await post(api, "/v1/governance/acts/certificate-revocation", a.governor,
                   g(api).scheduleCertificateRevocation(cid, REASON))
    assert r.status_code == 200 and r.json()["actId"] == 1
    w.chain.increase_time(ACT_DELAY + 1)
    r = await post(api, "/v1/governance/acts/1/execution", a.governor, g(api).executeAct(1))
    assert events(r) == ["ActExecuted", "CertificateRevoked"]
    api.index()
    got = (await api.client.get(f"/v1/certificates/{hx(cid)}", params={"at": w.chain.now()})).json()
    assert got["status"] == "revoked"


async def test_act_routes_check_the_act_id_and_the_function(api: Api) -> None:
    a = api.world.actors
    r = await post(api, "/v1/governance/acts/7/execution", a.governor, g(api).executeAct(8))
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await post(api, "/v1/governance/acts/7/cancellation", a.governor, g(api).executeAct(7))
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await post(api, "/v1/governance/acts/key-compromise", a.governor,
                   g(api).scheduleLogOperatorReplacement(a.stranger.address))
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await post(api, "/v1/governance/acts/7/cancellation", a.governor, g(api).cancelAct(7))
    assert r.status_code == 422 and r.json()["errorName"] == "TrustGovernanceActNotPending"


async def test_unknown_subjects_are_404_with_their_types(api: Api) -> None:
    nobody = api.world.actors.stranger.address
    r = await api.client.get(f"/v1/governance/issuers/{nobody}")
    assert r.status_code == 404 and r.json()["type"] == P + "unknown-issuer"
    r = await api.client.get(f"/v1/governance/merchants/{nobody}")
    assert r.status_code == 404 and r.json()["type"] == P + "unknown-merchant"
    r = await api.client.get("/v1/governance/acts/1")
    assert r.status_code == 404 and r.json()["type"] == P + "unknown-act"
    r = await api.client.get("/v1/governance/merchants", params={"cursor": "0x1234"})
    assert r.status_code == 422 and r.json()["type"] == P + "invalid-cursor"
    r = await api.client.get("/v1/governance/acts", params={"state": "later"})
    assert r.status_code == 422 and r.json()["type"] == P + "validation-error"


async def test_issuers_page_by_cursor(api: Api) -> None:
    api.index()
    first = (await api.client.get("/v1/governance/issuers", params={"limit": 1})).json()
    assert [i["issuerId"] for i in first["items"]] == [1] and first["nextCursor"] == "1"
    second = (await api.client.get("/v1/governance/issuers", params={"limit": 1, "cursor": first["nextCursor"]})
              ).json()
    assert [i["issuerId"] for i in second["items"]] == [2] and second["nextCursor"] is None
