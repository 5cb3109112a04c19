"""Who may write: every way a relayed write is refused, each with its own problem type.

401 signature-required / signature-invalid / request-expired / request-replayed, 403 forbidden (the contract's
role check, with its error name), 422 wrong-action (a request for another function or subject than the
route's), 422 validation-error for malformed input; and the relayer's key alone changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from ledger.eip712 import Certificate, certificate_id
from ledger.errors import ContractError

from ..conftest import STANDARD
from .conftest import Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

P = "urn:trustledger:problem:"
REASON = keccak(text="reason:audit")
WAIT = {"wait": 5}


def g(api: Api) -> Any:
    return api.world.d.governance.functions


def suspend_path(api: Api) -> str:
    return f"/v1/governance/issuers/{api.world.actors.issuer.address}/suspension"


def suspend(api: Api) -> Any:
    return g(api).suspendIssuer(api.world.actors.issuer.address, REASON)


def problem(r: Any, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == P + slug, body
    return body


def forwarder_nonce(api: Api, who: str) -> int:
    return int(api.world.d.forwarder.functions.nonces(who).call())


async def test_no_signature_is_401_signature_required(api: Api) -> None:
    body = api.signed(api.world.actors.governor, suspend(api))
    del body["signature"]
    r = await api.client.post(suspend_path(api), json=body)
    problem(r, 401, "signature-required")
    assert r.headers["www-authenticate"].startswith("EIP712")
    r = await api.client.post(suspend_path(api), json={**body, "signature": None})
    problem(r, 401, "signature-required")


async def test_wrong_signer_or_altered_request_is_401_signature_invalid(api: Api) -> None:
    a = api.world.actors
    forged = api.signed(a.governor, suspend(api), key=a.stranger.account.key)  # the stranger signs as governor
    problem(await api.client.post(suspend_path(api), json=forged), 401, "signature-invalid")
    altered = api.signed(a.governor, suspend(api))
    altered["request"]["gas"] = altered["request"]["gas"] + 1
    problem(await api.client.post(suspend_path(api), json=altered), 401, "signature-invalid")
    garbage = api.signed(a.governor, suspend(api))
    garbage["signature"] = "0x" + "ff" * 65
    problem(await api.client.post(suspend_path(api), json=garbage), 401, "signature-invalid")
    assert forwarder_nonce(api, a.governor.address) == 0


async def test_past_deadline_is_401_request_expired(api: Api) -> None:
    body = api.signed(api.world.actors.governor, suspend(api), deadline=api.world.chain.now() - 1)
    problem(await api.client.post(suspend_path(api), json=body), 401, "request-expired")


async def test_used_nonce_is_401_request_replayed_and_an_exact_retry_is_the_same_write(api: Api) -> None:
    a = api.world.actors
    first = api.signed(a.governor, suspend(api))
    r1 = await api.client.post(suspend_path(api), json=first, params=WAIT)
    assert r1.status_code == 200, r1.text
    # the exact same request again: answered with the first write, nothing sent twice
    r2 = await api.client.post(suspend_path(api), json=first, params=WAIT)
    assert r2.status_code == 200
    assert (r2.json()["key"], r2.json()["txHash"]) == (r1.json()["key"], r1.json()["txHash"])
    assert forwarder_nonce(api, a.governor.address) == 1
    # another request under the used nonce: replayed
    other = api.signed(a.governor, g(api).suspendIssuer(a.issuer.address, keccak(text="other")), nonce=0)
    problem(await api.client.post(suspend_path(api), json=other), 401, "request-replayed")
    # a nonce used on chain without this service (relayed by someone else) is replayed too
    api.world.relay(a.governor, g(api).restoreIssuer(a.issuer.address))
    stale = api.signed(a.governor, suspend(api), nonce=1)
    problem(await api.client.post(suspend_path(api), json=stale), 401, "request-replayed")
    # a nonce ahead of the signer's next waits for the earlier one
    ahead = api.signed(a.governor, suspend(api), nonce=5)
    body = problem(await api.client.post(suspend_path(api), json=ahead), 409, "nonce-not-current")
    assert "next nonce is 2" in body["detail"]


async def test_wrong_role_is_403_forbidden_with_the_contracts_error(api: Api) -> None:
    a = api.world.actors
    body = api.signed(a.stranger, g(api).suspendIssuer(a.issuer.address, REASON))
    out = problem(await api.client.post(suspend_path(api), json=body), 403, "forbidden")
    assert out["errorName"] == "TrustGovernanceUnauthorized" and out["errorArgs"][0] == a.stranger.address
    now = api.world.chain.now()
    c = Certificate(keccak(text="gtin:auth"), keccak(text="lot:auth"), a.merchant.address, a.issuer.address, 0,
                    keccak(text="doc:auth"), STANDARD, now - 60, now + 86400)
    r = await api.client.post("/v1/certificates", json=api.signed(a.merchant, api.world.d.registry.functions
                                                                  .issue(c.as_tuple())))
    assert problem(r, 403, "forbidden")["errorName"] == "CertificateRegistryNotIssuer"
    api.world.relay(a.issuer, api.world.d.registry.functions.issue(c.as_tuple()))
    cid = certificate_id(c)
    r = await api.client.post(f"/v1/certificates/{hx(cid)}/revocation",
                              json=api.signed(a.issuer2, api.world.d.registry.functions.revoke(cid, REASON)))
    assert problem(r, 403, "forbidden")["errorName"] == "CertificateRegistryNotIssuer"


async def test_a_request_for_another_action_is_422_wrong_action(api: Api) -> None:
    a = api.world.actors
    restore = api.signed(a.governor, g(api).restoreIssuer(a.issuer.address))
    out = problem(await api.client.post(suspend_path(api), json=restore), 422, "wrong-action")
    assert "TrustGovernance.suspendIssuer" in out["detail"] and "restoreIssuer" in out["detail"]
    other_issuer = api.signed(a.governor, g(api).suspendIssuer(a.issuer2.address, REASON))
    problem(await api.client.post(suspend_path(api), json=other_issuer), 422, "wrong-action")
    # a certificate call on a governance route, and a governance call on a certificate route
    revoke = api.signed(a.issuer, api.world.d.registry.functions.revoke(b"\x01" * 32, REASON))
    problem(await api.client.post(suspend_path(api), json=revoke), 422, "wrong-action")
    problem(await api.client.post("/v1/certificates/batch", json=restore), 422, "wrong-action")
    # wrong action wins over a missing signature: nothing about the request is worth signing
    del restore["signature"]
    problem(await api.client.post(suspend_path(api), json=restore), 422, "wrong-action")
    # not a TrustLedger contract at all
    stray = api.signed(a.governor, suspend(api))
    stray["request"]["to"] = a.stranger.address
    problem(await api.client.post(suspend_path(api), json=stray), 422, "unknown-target")


async def test_the_relayers_key_alone_changes_nothing(api: Api) -> None:
    a = api.world.actors
    w = api.world
    relayer = a.relayer
    gf, rf = g(api), w.d.registry.functions
    now = w.chain.now()
    theirs = Certificate(keccak(text="gtin:r"), keccak(text="lot:r"), a.merchant.address, a.issuer.address, 0,
                         keccak(text="doc:r"), STANDARD, now - 60, now + 86400)
    w.relay(a.issuer, rf.issue(theirs.as_tuple()))
    cid = certificate_id(theirs)
    own = Certificate(theirs.product_id, theirs.lot, a.merchant.address, relayer.address, 0, theirs.document_hash,
                      STANDARD, now - 60, now + 86400)
    issuer, merchant = a.issuer.address, a.merchant.address
    attempts: list[tuple[str, Any, str]] = [
        (f"/v1/governance/issuers/{relayer.address}/accreditation",
         gf.accreditIssuer(relayer.address, now - 60, now + 86400, [STANDARD]), "TrustGovernanceUnauthorized"),
        (f"/v1/governance/issuers/{issuer}/suspension", gf.suspendIssuer(issuer, REASON),
         "TrustGovernanceUnauthorized"),
        (f"/v1/governance/merchants/{merchant}/sanctions", gf.sanctionMerchant(merchant, 2, REASON, REASON),
         "TrustGovernanceUnauthorized"),
        (f"/v1/governance/merchants/{relayer.address}/admission", gf.admitMerchant(relayer.address, REASON),
         "TrustGovernanceUnauthorized"),
        (f"/v1/governance/arbitrators/{relayer.address}/appointment", gf.appointArbitrator(relayer.address),
         "TrustGovernanceUnauthorized"),
        ("/v1/governance/order-signer", gf.setOrderSigner(relayer.address), "TrustGovernanceUnauthorized"),
        ("/v1/governance/acts/log-operator-replacement", gf.scheduleLogOperatorReplacement(relayer.address),
         "TrustGovernanceUnauthorized"),
        ("/v1/governance/acts/certificate-revocation", gf.scheduleCertificateRevocation(cid, REASON),
         "TrustGovernanceUnauthorized"),
        ("/v1/certificates", rf.issue(own.as_tuple()), "CertificateRegistryIssuerNotAccredited"),
        ("/v1/certificates", rf.issue(theirs.as_tuple()), "CertificateRegistryNotIssuer"),
        (f"/v1/certificates/{hx(cid)}/revocation", rf.revoke(cid, REASON), "CertificateRegistryNotIssuer"),
    ]
    for path, call, error in attempts:
        r = await api.client.post(path, json=api.signed(relayer, call), params=WAIT)
        out = problem(r, 403, "forbidden")
        assert out["errorName"] == error, (path, out)
    # declaring a key compromised speaks only for the signer's own key, and the relayer's is no issuer's
    r = await api.client.post(f"/v1/certificates/issuers/{relayer.address}/key-compromise",
                              json=api.signed(relayer, gf.declareKeyCompromised(now - 1)), params=WAIT)
    assert problem(r, 422, "contract-rejected")["errorName"] == "TrustGovernanceUnknownIssuer"
    # nothing was relayed, and sending straight from the relayer's key is refused by the contracts too
    assert forwarder_nonce(api, relayer.address) == 0
    with pytest.raises(ContractError) as info:
        relayer.send(gf.suspendIssuer(issuer, REASON))
    assert info.value.name == "TrustGovernanceUnauthorized"
    assert gf.accreditation(issuer).call()[4] is False  # not suspended


async def test_malformed_input_is_422_validation_error(api: Api) -> None:
    a = api.world.actors
    good = api.signed(a.governor, suspend(api))

    async def refused(path: str, body: Any, where: str) -> None:
        out = problem(await api.client.post(path, json=body), 422, "validation-error")
        assert any(e["location"].startswith(where) for e in out["errors"]), out["errors"]

    await refused(suspend_path(api), {**good, "signature": "0xzz" + "00" * 64}, "signature")
    await refused(suspend_path(api), {**good, "signature": "0x" + "11" * 64}, "signature")  # 64 bytes
    await refused(suspend_path(api), {**good, "signature": "11" * 65}, "signature")  # no 0x
    await refused(suspend_path(api), {**good, "request": {**good["request"], "data": "0x123"}}, "request.data")
    mixed = a.governor.address[:2] + a.governor.address[2:].swapcase()
    if mixed[2:] != mixed[2:].lower() and mixed[2:] != mixed[2:].upper():
        await refused(suspend_path(api), {**good, "request": {**good["request"], "from": mixed}}, "request.from")
    await refused(suspend_path(api), {**good, "request": {**good["request"], "from": "0x1234"}}, "request.from")
    await refused(suspend_path(api), {**good, "request": {**good["request"], "nonce": -1}}, "request.nonce")
    await refused(suspend_path(api), {**good, "extra": 1}, "extra")
    # path parameters: a bad checksum, a short address, a certificate id of the wrong length
    bad = a.issuer.address[:2] + a.issuer.address[2:].swapcase()
    await refused(f"/v1/governance/issuers/{bad}/suspension", good, "path.issuer")
    await refused("/v1/governance/issuers/0xabc/suspension", good, "path.issuer")
    await refused(f"/v1/certificates/0x{'ab' * 31}/revocation", good, "path.id")
    await refused("/v1/governance/acts/-1/execution", good, "path.actId")
    r = await api.client.get(f"/v1/certificates/0x{'ab' * 33}")
    problem(r, 422, "validation-error")
    r = await api.client.get("/v1/certificates", params={"merchant": bad})
    problem(r, 422, "validation-error")
    # an offer with a record field of the wrong length or an unknown kind
    offer = {"certificate": {"productId": "0x" + "00" * 31, "lot": "0x" + "00" * 32, "merchant": a.merchant.address,
                             "issuer": a.issuer.address, "kind": "gold", "documentHash": "0x" + "00" * 32,
                             "standard": hx(STANDARD), "issuedAt": 1, "validUntil": 2},
             "nonce": 1, "deadline": 2, "signature": "0x" + "00" * 65}
    out = problem(await api.client.post("/v1/certificates/offers", json=offer), 422, "validation-error")
    assert {e["location"] for e in out["errors"]} == {"certificate.productId", "certificate.kind"}
    assert forwarder_nonce(api, a.governor.address) == 0
