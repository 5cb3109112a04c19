"""Proof bundles through the API: exported bundles verify with no server (ledger.bundle.verify_bundle offline);
posted bundles are verified, tampered ones rejected with named reasons, malformed ones refused with the parser's
own problem type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from eth_utils.crypto import keccak

from ledger.bundle import parse_bundle, verify_bundle
from ledger.eip712 import certificate_id
from ledger.manifest import Manifest
from ledger.verify import ReasonCode, Verdict

from ..chain.test_certificates import make_cert
from .conftest import Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]


def issue(api: Api, tag: str) -> bytes:
    c = make_cert(api.world, tag)
    api.world.actors.issuer.send(api.world.d.registry.functions.issue(c.as_tuple()))
    api.index()
    return certificate_id(c)


async def reviews(api: Api, n: int, *, anchor: bool = True) -> None:
    r = await api.client.post("/v1/reviews/batch", json={"reviews": [api.review_body(f"b-{i}") for i in range(n)]})
    assert r.status_code == 200 and r.json()["accepted"] == n, r.text
    if anchor:
        api.anchor()


def manifest(api: Api) -> Manifest:
    return api.ledger.manifest


async def test_certificate_bundle_verifies_offline(api: Api) -> None:
    cid = issue(api, "bundle-cert")
    r = await api.client.get(f"/v1/bundles/certificates/{hx(cid)}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="certificate-{hx(cid)}.json"'
    doc = json.loads(r.content)
    assert doc["type"] == "certificate" and doc["certificate"]["id"] == hx(cid)
    result = verify_bundle(r.content, trusted=manifest(api))  # no w3: offline
    assert result.verdict is Verdict.VALID and not result.online, result.reasons
    assert result.subject == cid

    posted = await api.client.post("/v1/bundles/verify", content=r.content,
                                   headers={"Content-Type": "application/json"})
    assert posted.status_code == 200, posted.text
    out = posted.json()
    assert out["verdict"] == "valid" and out["kind"] == "certificate" and out["subject"] == hx(cid)
    assert out["online"] is False and out["trustedDeployment"] is True
    assert [x["code"] for x in out["reasons"]] == [str(ReasonCode.CERTIFICATE_VALID)]

    online = (await api.client.post("/v1/bundles/verify", params={"online": "true"}, content=r.content,
                                    headers={"Content-Type": "application/json"})).json()
    assert online["verdict"] == "valid" and online["online"] is True and online["statusNow"] == "valid"


async def test_review_bundle_verifies_offline_and_tampering_is_named(api: Api) -> None:
    await reviews(api, 6)
    r = await api.client.get("/v1/bundles/reviews/4")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="review-4.json"'
    bundle = parse_bundle(r.content)
    result = verify_bundle(bundle, trusted=manifest(api))
    assert result.verdict is Verdict.VALID and result.codes == (ReasonCode.REVIEW_INCLUDED,)
    assert result.subject == api.ledger.reviews.leaf_hashes(4, 5)[0]

    good: dict[str, Any] = json.loads(r.content)
    ok = await api.client.post("/v1/bundles/verify", json=good, params={"online": "true"})
    assert ok.status_code == 200 and ok.json()["verdict"] == "valid", ok.text

    proof = copy.deepcopy(good)
    proof["inclusionProof"][0] = "0x" + "00" * 32
    leaf = copy.deepcopy(good)
    text = bytes.fromhex(leaf["review"]["leaf"][2:]).decode()
    leaf["review"]["leaf"] = "0x" + text.replace('"rating":5', '"rating":1').encode().hex()
    chain_id = copy.deepcopy(good)
    chain_id["chainId"] = "1"
    for tampered, code in ((proof, ReasonCode.REVIEW_INCLUSION_FAILED),
                           (leaf, ReasonCode.REVIEW_LEAF_HASH_MISMATCH),
                           (chain_id, ReasonCode.BUNDLE_UNTRUSTED_CHAIN)):
        r = await api.client.post("/v1/bundles/verify", json=tampered)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["verdict"] == "invalid", out
        assert str(code) in [x["code"] for x in out["reasons"]], out["reasons"]
        assert all(x["message"] for x in out["reasons"])
    # checked on its own terms (trusted=false), another chain's bundle is only as good as its own proofs
    r = await api.client.post("/v1/bundles/verify", json=chain_id, params={"trusted": "false"})
    assert r.json()["trustedDeployment"] is False
    assert str(ReasonCode.BUNDLE_UNTRUSTED_CHAIN) not in [x["code"] for x in r.json()["reasons"]]


async def test_review_bundle_against_a_chosen_checkpoint(api: Api) -> None:
    await reviews(api, 3)
    r = await api.client.post("/v1/reviews", json=api.review_body("b-late"))
    assert r.status_code == 201
    api.anchor()
    first = json.loads((await api.client.get("/v1/bundles/reviews/1")).content)
    assert first["checkpoint"]["index"] == "0" and first["checkpoint"]["size"] == "3"
    later = json.loads((await api.client.get("/v1/bundles/reviews/1", params={"checkpoint": 1})).content)
    assert later["checkpoint"]["index"] == "1" and later["checkpoint"]["size"] == "4"
    assert verify_bundle(later, trusted=manifest(api)).verdict is Verdict.VALID
    r = await api.client.get("/v1/bundles/reviews/3", params={"checkpoint": 0})
    assert r.status_code == 422 and r.json()["type"] == "urn:trustledger:problem:checkpoint-does-not-cover"
    r = await api.client.get("/v1/bundles/reviews/1", params={"checkpoint": 9})
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:unknown-checkpoint"


async def test_exports_that_cannot_be_made_are_named(api: Api) -> None:
    r = await api.client.get(f"/v1/bundles/certificates/{hx(keccak(text='no-such-certificate'))}")
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:unknown-certificate"
    r = await api.client.get("/v1/bundles/certificates/0x1234")
    assert r.status_code == 422 and r.json()["type"] == "urn:trustledger:problem:validation-error"
    await reviews(api, 2, anchor=False)
    r = await api.client.get("/v1/bundles/reviews/1")
    assert r.status_code == 409 and r.json()["type"] == "urn:trustledger:problem:review-not-anchored"
    assert "retry-after" in r.headers
    r = await api.client.get("/v1/bundles/reviews/2")
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:leaf-not-found"
    r = await api.client.get("/v1/bundles/reviews/-1")
    assert r.status_code == 422


MALFORMED: list[tuple[bytes, str]] = [
    (b'{"v":1,"v":1}', "malformed-bundle"),
    (b"not json", "malformed-bundle"),
    (b'{"v":1.0}', "malformed-bundle"),
    (b'{"v":2,"type":"review"}', "unsupported-bundle-version"),
    (b"[]", "wrong-bundle-type"),
]


async def test_malformed_bundles_get_the_parsers_type(api: Api) -> None:
    for body, slug in MALFORMED:
        r = await api.client.post("/v1/bundles/verify", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == f"urn:trustledger:problem:{slug}", body


async def test_member_errors_name_the_member(api: Api) -> None:
    cid = issue(api, "bundle-members")
    good = json.loads((await api.client.get(f"/v1/bundles/certificates/{hx(cid)}")).content)
    extra = dict(good, extra=1)
    r = await api.client.post("/v1/bundles/verify", json=extra)
    assert r.status_code == 422 and r.json()["type"] == "urn:trustledger:problem:unknown-bundle-member"
    missing = copy.deepcopy(good)
    del missing["anchor"]["log"]
    r = await api.client.post("/v1/bundles/verify", json=missing)
    assert r.json()["type"] == "urn:trustledger:problem:missing-bundle-member"
    assert "anchor.log" in r.json()["detail"]
    r = await api.client.post("/v1/bundles/verify", content=json.dumps(good), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["type"] == "urn:trustledger:problem:unsupported-media-type"
