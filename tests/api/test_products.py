"""The consumer's record through the API: GET /v1/products/{id} and GET /v1/merchants/{address}/trust.

The answers are the library's own canonical JSON, byte for byte: ledger.product.product_record over the
service's index and review log (the indexed path), ledger.trust.trust_profile; ``source=chain`` gives the same
record but for ``source``.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from eth_utils.crypto import keccak

from ledger.eip712 import Certificate, certificate_id
from ledger.product import product_record
from ledger.trust import trust_profile
from ledger.verify import Source

from ..chain.test_certificates import make_cert
from .conftest import PRODUCT, Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

REASON = keccak(text="reason:api-products")


def issue(api: Api, c: Certificate) -> bytes:
    api.world.actors.issuer.send(api.world.d.registry.functions.issue(c.as_tuple()))
    return certificate_id(c)


async def scene(api: Api) -> dict[str, bytes]:
    """Three certificates of the product (one revoked, one of merchant2), one of another product; five reviews
    of the product, anchored, one more pending; all indexed."""
    w, a = api.world, api.world.actors
    ids = {
        "valid": issue(api, dataclasses.replace(make_cert(w, "p-valid"), product_id=PRODUCT)),
        "revoked": issue(api, dataclasses.replace(make_cert(w, "p-revoked"), product_id=PRODUCT)),
        "m2": issue(api, dataclasses.replace(make_cert(w, "p-m2", merchant=a.merchant2.address), product_id=PRODUCT)),
        "other": issue(api, make_cert(w, "another-product")),
    }
    a.issuer.send(w.d.registry.functions.revoke(ids["revoked"], REASON))
    reviews = [api.review_body(f"p-{i}", rating=r) for i, r in enumerate((5, 4, 4, 2, 5))]
    r = await api.client.post("/v1/reviews/batch", json={"reviews": reviews})
    assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
    api.anchor()
    r = await api.client.post("/v1/reviews", json=api.review_body("p-pending", rating=1))
    assert r.status_code == 201, r.text
    api.index()
    return ids


def as_of(api: Api) -> int:
    return max(int(time.time()), api.world.chain.now()) + 5


async def test_product_record_is_the_librarys_record(api: Api) -> None:
    ids = await scene(api)
    at = as_of(api)
    purchased = api.world.chain.now() - 30
    r = await api.client.get(f"/v1/products/{hx(PRODUCT)}", params={"at": at, "purchasedAt": purchased})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    want = product_record(PRODUCT, indexer=api.services.indexer, leaves=api.ledger.reviews, as_of=at,
                          purchased_at=purchased)
    assert r.content == want.to_json().encode()  # leaf by leaf: equal to the service's answer from its tally
    h = (await api.client.get("/v1/health")).json()
    assert h["tally"] == {"size": 5, "stalledAt": None, "stallReason": None}

    doc = r.json()
    assert doc["productId"] == hx(PRODUCT) and doc["asOf"] == at and doc["source"] == "index"
    assert {c["id"] for c in doc["certificates"]} == {hx(ids[k]) for k in ("valid", "revoked", "m2")}
    assert doc["certificatesByStatus"] == {"valid": 2, "revoked": 1}
    reviews = doc["reviews"]
    assert reviews["counted"] == 5 and reviews["pending"] == 1
    assert reviews["stars"] == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 2} and reviews["mean"] == "4/1"
    assert reviews["checkpoint"]["size"] == 5 and reviews["reasons"] == []
    merchants = {m["merchant"] for m in doc["merchants"]}
    assert merchants == {api.world.actors.merchant.address, api.world.actors.merchant2.address}
    assert all("terms" in m and "score" in m for m in doc["merchants"])


async def test_source_chain_rechecks_against_the_chain(api: Api) -> None:
    await scene(api)
    at = as_of(api)
    index = (await api.client.get(f"/v1/products/{hx(PRODUCT)}", params={"at": at})).json()
    r = await api.client.get(f"/v1/products/{hx(PRODUCT)}", params={"at": at, "source": "chain"})
    assert r.status_code == 200, r.text
    want = product_record(PRODUCT, indexer=api.services.indexer, leaves=api.ledger.reviews, as_of=at,
                          source=Source.CHAIN, w3=api.world.w3)
    assert r.content == want.to_json().encode()
    chain = r.json()
    assert chain.pop("source") == "chain" and index.pop("source") == "index"
    assert chain == index


async def test_a_past_record_and_an_unknown_product(api: Api) -> None:
    before = as_of(api)
    await scene(api)
    past = (await api.client.get(f"/v1/products/{hx(PRODUCT)}", params={"at": 0})).json()
    assert past["certificates"] == [] and past["reviews"]["counted"] == 0
    unknown = keccak(text="gtin:nothing-recorded")
    r = await api.client.get(f"/v1/products/{hx(unknown)}", params={"at": before})
    assert r.status_code == 200
    doc = r.json()
    assert doc["certificates"] == [] and doc["disputes"] == [] and doc["merchants"] == []
    assert doc["reviews"]["leavesOfProduct"] == 0


BAD_INPUTS: list[tuple[str, dict[str, object]]] = [
    ("/v1/products/0x1234", {}),
    (f"/v1/products/0x{'zz' * 32}", {}),
    (f"/v1/products/{hx(PRODUCT)}", {"at": -1}),
    (f"/v1/products/{hx(PRODUCT)}", {"at": 2**40}),
    (f"/v1/products/{hx(PRODUCT)}", {"source": "mirror"}),
    (f"/v1/products/{hx(PRODUCT)}", {"purchasedAt": "yesterday"}),
    ("/v1/merchants/0x1234/trust", {}),
    # a mixed-case address with a wrong EIP-55 checksum
    ("/v1/merchants/0xAbCdEf0123456789aBcDeF0123456789AbCdEf01/trust", {}),
]


async def test_inputs_are_validated(api: Api) -> None:
    for path, params in BAD_INPUTS:  # one app for all the cases: they write nothing
        r = await api.client.get(path, params=params)
        assert r.status_code == 422, (path, params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:trustledger:problem:validation-error"


async def test_trust_profile_with_its_inputs(api: Api) -> None:
    await scene(api)
    at = as_of(api)
    merchant = api.world.actors.merchant.address
    r = await api.client.get(f"/v1/merchants/{merchant.lower()}/trust", params={"at": at})
    assert r.status_code == 200, r.text
    want = trust_profile(merchant, indexer=api.services.indexer, leaves=api.ledger.reviews, as_of=at)
    assert r.content == want.to_json().encode()
    doc = json.loads(r.content)
    assert doc["merchant"] == merchant and 0 <= doc["score"] <= 100
    assert doc["reviews"]["stars"] == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 2}
    # the merchant's certificates: the product's valid and revoked ones, and the other product's
    assert doc["certificates"]["byStatus"]["valid"] == 2 and doc["certificates"]["byStatus"]["revoked"] == 1
    assert set(doc["terms"]) and doc["sanctions"]["standing"] == "active"

    r = await api.client.get(f"/v1/merchants/{api.world.actors.stranger.address}/trust")
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:unknown-merchant"


async def test_chain_mode_with_the_chain_down_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from web3 import Web3

    monkeypatch.setattr(api.ledger, "w3", Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 2})))
    r = await api.client.get(f"/v1/products/{hx(PRODUCT)}", params={"source": "chain"})
    assert r.status_code == 503, r.text
    assert r.json()["type"] == "urn:trustledger:problem:chain-unavailable"
    # the index mode does not need the chain
    r = await api.client.get(f"/v1/products/{hx(PRODUCT)}")
    assert r.status_code == 200
