"""Certificates through the API: issuer and merchant flows relayed end to end, offers, and the reads."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.eip712 import Certificate, certificate_id, sign_certificate_offer

from ..conftest import STANDARD
from .conftest import Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

P = "urn:trustledger:problem:"
REASON = keccak(text="reason:recalled")
WAIT = {"wait": 5}
DAY = 86400


def reg(api: Api) -> Any:
    return api.world.d.registry.functions


def cert(api: Api, tag: str, *, kind: int = 0, lot: str | None = None, merchant: str | None = None,
         issuer: str | None = None) -> Certificate:
    a = api.world.actors
    now = api.world.chain.now()
    return Certificate(keccak(text=f"gtin:{tag}"), keccak(text=f"lot:{lot or tag}"), merchant or a.merchant.address,
                       issuer or a.issuer.address, kind, keccak(text=f"doc:{tag}"), STANDARD, now - 60, now + 30 * DAY)


def record_json(c: Certificate) -> dict[str, Any]:
    kinds = ["certificate", "spot_check_pass", "spot_check_fail"]
    return {"productId": hx(c.product_id), "lot": hx(c.lot), "merchant": c.merchant, "issuer": c.issuer,
            "kind": kinds[c.kind], "documentHash": hx(c.document_hash), "standard": hx(c.standard),
            "issuedAt": c.issued_at, "validUntil": c.valid_until}


async def issue(api: Api, c: Certificate, path: str = "/v1/certificates") -> Any:
    return await api.client.post(path, json=api.signed(api.world.actors.issuer, reg(api).issue(c.as_tuple())),
                                 params=WAIT)


def offer_body(api: Api, c: Certificate, *, nonce: int = 7, deadline: int | None = None, key: Any = None,
               chain_id: int | None = None) -> dict[str, Any]:
    w = api.world
    deadline = deadline if deadline is not None else w.chain.now() + DAY
    sig = sign_certificate_offer(key if key is not None else w.actors.issuer.account.key, c, nonce=nonce,
                                 deadline=deadline, chain_id=chain_id or w.d.chain_id, registry=w.d.registry.address)
    return {"certificate": record_json(c), "nonce": nonce, "deadline": deadline, "signature": hx(sig)}


async def test_issuer_issues_then_anyone_reads_status_now_then_and_on_chain(api: Api) -> None:
    c = cert(api, "issue")
    cid = hx(certificate_id(c))
    r = await issue(api, c)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["certificateIds"] == [cid] and out["actor"] == api.world.actors.issuer.address
    assert [e["event"] for e in out["events"]] == ["CertificateIssued"]
    assert out["events"][0]["args"]["id"] == cid
    api.index()

    got = (await api.client.get(f"/v1/certificates/{cid}")).json()
    assert (got["status"], got["verdict"], got["issuerAccreditedAtIssue"]) == ("valid", "valid", True)
    assert got["certificate"] == record_json(c) and got["source"] == "index"
    assert [e["event"] for e in got["evidence"]] == ["CertificateIssued"]
    assert got["evidence"][0]["txHash"] == out["txHash"] and got["evidence"][0]["blockNumber"] == out["blockNumber"]
    anchored_at = got["evidence"][0]["blockTime"]

    before = (await api.client.get(f"/v1/certificates/{cid}", params={"at": anchored_at - 1})).json()
    assert before["status"] == "unknown" and before["at"] == anchored_at - 1
    after_expiry = (await api.client.get(f"/v1/certificates/{cid}", params={"at": c.valid_until + 1})).json()
    assert after_expiry["status"] == "expired" and after_expiry["reasons"][0]["code"] == "certificate.expired"
    for at in (anchored_at - 1, anchored_at, c.valid_until + 1):
        index = (await api.client.get(f"/v1/certificates/{cid}", params={"at": at})).json()
        chain = (await api.client.get(f"/v1/certificates/{cid}", params={"at": at, "source": "chain"})).json()
        assert chain["source"] == "chain"
        assert (index["status"], index["evidence"]) == (chain["status"], chain["evidence"])
    history = (await api.client.get(f"/v1/certificates/{cid}/history")).json()["history"]
    assert [h["event"] for h in history] == ["CertificateIssued"] and history[0]["txHash"] == out["txHash"]


async def test_spot_checks_have_their_route_and_a_failed_one_reads_failed(api: Api) -> None:
    fail = cert(api, "spot-fail", kind=2)
    r = await issue(api, fail)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await issue(api, cert(api, "plain"), "/v1/certificates/spot-checks")
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await issue(api, fail, "/v1/certificates/spot-checks")
    assert r.status_code == 200, r.text
    api.index()
    got = (await api.client.get(f"/v1/certificates/{hx(certificate_id(fail))}")).json()
    assert got["status"] == "failed" and got["certificate"]["kind"] == "spot_check_fail"


async def test_batch_then_list_by_product_lot_merchant_issuer_and_page_through(api: Api) -> None:
    a = api.world.actors
    records = [cert(api, "p1", lot="L1"), cert(api, "p1b", lot="L1"), cert(api, "p2", merchant=a.merchant2.address),
               cert(api, "p3", kind=1)]
    records[1] = Certificate(records[0].product_id, records[1].lot, records[1].merchant, records[1].issuer, 0,
                             records[1].document_hash, STANDARD, records[1].issued_at, records[1].valid_until)
    body = api.signed(a.issuer, reg(api).issueBatch([c.as_tuple() for c in records]))
    r = await api.client.post("/v1/certificates/batch", json=body, params=WAIT)
    assert r.status_code == 200, r.text
    ids = [hx(certificate_id(c)) for c in records]
    assert r.json()["certificateIds"] == ids
    api.index()

    async def listed(**params: Any) -> list[str]:
        page = (await api.client.get("/v1/certificates", params=params)).json()
        return [i["id"] for i in page["items"]]

    assert sorted(await listed(product=hx(records[0].product_id))) == sorted(ids[:2])
    assert sorted(await listed(lot=hx(keccak(text="lot:L1")))) == sorted(ids[:2])
    assert await listed(merchant=a.merchant2.address) == [ids[2]]
    assert sorted(await listed(issuer=a.issuer.address)) == sorted(ids)
    assert await listed(issuer=a.issuer2.address) == []
    assert await listed(kind="spot_check_pass") == [ids[3]]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/v1/certificates", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        assert all(i["status"] == "valid" for i in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 4
    r = await api.client.get("/v1/certificates", params={"cursor": "nonsense"})
    assert r.status_code == 422 and r.json()["type"] == P + "invalid-cursor"


async def test_issuer_revokes_and_supersedes_and_the_past_stays_readable(api: Api) -> None:
    a = api.world.actors
    old, other = cert(api, "old"), cert(api, "other")
    body = api.signed(a.issuer, reg(api).issueBatch([old.as_tuple(), other.as_tuple()]))
    assert (await api.client.post("/v1/certificates/batch", json=body, params=WAIT)).status_code == 200
    old_id, other_id = certificate_id(old), certificate_id(other)
    issued_at = api.world.chain.now()

    wrong = api.signed(a.issuer, reg(api).revoke(other_id, REASON))
    r = await api.client.post(f"/v1/certificates/{hx(old_id)}/revocation", json=wrong, params=WAIT)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    api.world.chain.increase_time(10)
    r = await api.client.post(f"/v1/certificates/{hx(old_id)}/revocation",
                              json=api.signed(a.issuer, reg(api).revoke(old_id, REASON)), params=WAIT)
    assert r.status_code == 200 and [e["event"] for e in r.json()["events"]] == ["CertificateRevoked"]

    new = cert(api, "new")
    r = await api.client.post(f"/v1/certificates/{hx(other_id)}/supersession",
                              json=api.signed(a.issuer, reg(api).supersede(other_id, new.as_tuple(), REASON)),
                              params=WAIT)
    assert r.status_code == 200, r.text
    assert r.json()["certificateIds"] == [hx(certificate_id(new))]
    api.index()
    now = api.world.chain.now()
    revoked = (await api.client.get(f"/v1/certificates/{hx(old_id)}", params={"at": now})).json()
    assert revoked["status"] == "revoked" and [e["event"] for e in revoked["evidence"]] == [
        "CertificateIssued", "CertificateRevoked"]
    then = (await api.client.get(f"/v1/certificates/{hx(old_id)}", params={"at": issued_at})).json()
    assert then["status"] == "valid"
    superseded = (await api.client.get(f"/v1/certificates/{hx(other_id)}", params={"at": now})).json()
    assert superseded["status"] == "superseded" and superseded["supersededBy"] == hx(certificate_id(new))
    listed = (await api.client.get("/v1/certificates", params={"product": hx(new.product_id)})).json()["items"]
    assert listed[0]["replaces"] == hx(other_id)
    # revocation is permanent: a second one is refused by the registry
    r = await api.client.post(f"/v1/certificates/{hx(old_id)}/revocation",
                              json=api.signed(a.issuer, reg(api).revoke(old_id, REASON)), params=WAIT)
    assert r.status_code == 422 and r.json()["errorName"] == "CertificateRegistryAlreadyRevoked"


async def test_offer_posted_by_issuer_listed_and_anchored_by_merchant(api: Api) -> None:
    a = api.world.actors
    c = cert(api, "offered")
    cid = hx(certificate_id(c))
    body = offer_body(api, c)
    r = await api.client.post("/v1/certificates/offers", json=body)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/v1/certificates/offers/{cid}" == r.json()["location"]
    again = await api.client.post("/v1/certificates/offers", json=body)
    assert again.status_code == 200 and again.json()["id"] == cid
    other = cert(api, "offered-elsewhere", merchant=a.merchant2.address)
    assert (await api.client.post("/v1/certificates/offers", json=offer_body(api, other, nonce=8))).status_code == 201

    page = (await api.client.get("/v1/certificates/offers",
                                 params={"merchant": a.merchant.address, "product": hx(c.product_id)})).json()
    assert [o["id"] for o in page["items"]] == [cid]
    offer = page["items"][0]
    assert offer["state"] == "open" and offer["certificate"] == record_json(c)

    # the merchant anchors it: prepare with the offer's anchor arguments, sign the typed data, post
    prepared = await api.client.post("/v1/relay/prepare", json={
        "from": a.merchant.address, "contract": "CertificateRegistry", "function": "anchor",
        "args": offer["anchorArgs"]})
    assert prepared.status_code == 200, prepared.text
    sig = Account.sign_typed_data(a.merchant.account.key, full_message=prepared.json()["typedData"]).signature
    r = await api.client.post(f"/v1/certificates/offers/{cid}/anchor",
                              json={"request": prepared.json()["request"], "signature": hx(sig)}, params=WAIT)
    assert r.status_code == 200, r.text
    assert r.json()["certificateIds"] == [cid]
    assert sorted(e["event"] for e in r.json()["events"]) == ["CertificateIssued", "NonceUsed"]
    api.index()
    got = (await api.client.get(f"/v1/certificates/{cid}")).json()
    assert got["status"] == "valid"
    listed = (await api.client.get("/v1/certificates", params={"product": hx(c.product_id)})).json()["items"]
    assert listed[0]["anchoredBy"] == a.merchant.address
    assert (await api.client.get(f"/v1/certificates/offers/{cid}")).json()["state"] == "anchored"
    open_offers = (await api.client.get("/v1/certificates/offers", params={"state": "open"})).json()["items"]
    assert [o["id"] for o in open_offers] == [hx(certificate_id(other))]
    # a used nonce, an anchored record: refused before storing
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, cert(api, "third")))
    assert r.status_code == 409 and r.json()["type"] == P + "offer-nonce-used"
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, c, nonce=9))
    assert r.status_code == 409 and r.json()["type"] == P + "certificate-already-anchored"


async def test_offers_not_signed_by_the_issuer_for_this_registry_are_refused(api: Api) -> None:
    a = api.world.actors
    c = cert(api, "forged")
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, c, key=a.merchant.account.key))
    assert r.status_code == 401 and r.json()["type"] == P + "signature-invalid"
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, c, chain_id=1))
    assert r.status_code == 401 and r.json()["type"] == P + "signature-invalid"
    body = offer_body(api, c)
    body["certificate"]["validUntil"] += 1  # altered after signing
    r = await api.client.post("/v1/certificates/offers", json=body)
    assert r.status_code == 401 and r.json()["type"] == P + "signature-invalid"
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, c, deadline=1_000_000))
    assert r.status_code == 422 and r.json()["type"] == P + "offer-expired"
    r = await api.client.post("/v1/certificates/offers", json={**offer_body(api, c), "signature": "0x" + "00" * 65})
    assert r.status_code == 401 and r.json()["type"] == P + "signature-invalid"
    assert (await api.client.get("/v1/certificates/offers")).json()["items"] == []


async def test_anchoring_checks_the_offer_the_certificate_and_the_merchant(api: Api) -> None:
    a = api.world.actors
    w = api.world
    c, other = cert(api, "mine"), cert(api, "not-mine")
    cid = hx(certificate_id(c))
    body = offer_body(api, c)
    assert (await api.client.post("/v1/certificates/offers", json=body)).status_code == 201
    sig = bytes.fromhex(body["signature"][2:])

    def anchor(record: Certificate) -> Any:
        return reg(api).anchor(record.as_tuple(), 7, body["deadline"], sig)

    r = await api.client.post(f"/v1/certificates/offers/{hx(certificate_id(other))}/anchor",
                              json=api.signed(a.merchant, anchor(other)), params=WAIT)
    assert r.status_code == 404 and r.json()["type"] == P + "unknown-offer"
    r = await api.client.post(f"/v1/certificates/offers/{cid}/anchor", json=api.signed(a.merchant, anchor(other)),
                              params=WAIT)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await api.client.post(f"/v1/certificates/offers/{cid}/anchor", json=api.signed(a.merchant2, anchor(c)),
                              params=WAIT)
    assert r.status_code == 403 and r.json()["errorName"] == "CertificateRegistryNotMerchant"
    r = await api.client.post(f"/v1/certificates/offers/{cid}/anchor",
                              json=api.signed(a.merchant, reg(api).issue(c.as_tuple())), params=WAIT)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    assert w.d.forwarder.functions.nonces(a.merchant.address).call() == 0


async def test_issuer_declares_its_key_compromised_and_later_records_read_compromised(api: Api) -> None:
    a = api.world.actors
    w = api.world
    before = cert(api, "before")
    assert (await issue(api, before)).status_code == 200
    w.chain.increase_time(10)
    declare = w.d.governance.functions.declareKeyCompromised(w.chain.now())
    r = await api.client.post(f"/v1/certificates/issuers/{a.issuer2.address}/key-compromise",
                              json=api.signed(a.issuer, declare), params=WAIT)
    assert r.status_code == 422 and r.json()["type"] == P + "wrong-action"
    r = await api.client.post(f"/v1/certificates/issuers/{a.issuer.address}/key-compromise",
                              json=api.signed(a.issuer, declare), params=WAIT)
    assert r.status_code == 200, r.text
    assert [e["event"] for e in r.json()["events"]] == ["IssuerKeyCompromised"]
    api.index()
    now = w.chain.now()
    got = (await api.client.get(f"/v1/certificates/{hx(certificate_id(before))}", params={"at": now})).json()
    assert got["status"] == "valid"
    issuer = (await api.client.get(f"/v1/governance/issuers/{a.issuer.address}")).json()
    assert issuer["compromisedAt"] is not None and not issuer["accreditedNow"]
    # its key no longer issues
    r = await issue(api, cert(api, "after"))
    assert r.status_code == 403 and r.json()["errorName"] == "CertificateRegistryIssuerNotAccredited"


async def test_offer_nonces_can_be_cancelled_by_the_issuer(api: Api) -> None:
    a = api.world.actors
    r = await api.client.post("/v1/certificates/offers/nonce-cancellation",
                              json=api.signed(a.issuer, reg(api).cancelNonces(0, 1 << 7)), params=WAIT)
    assert r.status_code == 200 and [e["event"] for e in r.json()["events"]] == ["NoncesCancelled"]
    r = await api.client.post("/v1/certificates/offers", json=offer_body(api, cert(api, "cancelled"), nonce=7))
    assert r.status_code == 409 and r.json()["type"] == P + "offer-nonce-used"


async def test_unknown_certificates_and_offers_are_404(api: Api) -> None:
    nothing = "0x" + "ab" * 32
    for path, slug in ((f"/v1/certificates/{nothing}", "unknown-certificate"),
                       (f"/v1/certificates/{nothing}/history", "unknown-certificate"),
                       (f"/v1/certificates/offers/{nothing}", "unknown-offer")):
        r = await api.client.get(path)
        assert r.status_code == 404 and r.json()["type"] == P + slug, path
    r = await api.client.get(f"/v1/certificates/{nothing}", params={"source": "chain"})
    assert r.status_code == 404 and r.json()["type"] == P + "unknown-certificate"
