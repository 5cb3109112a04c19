"""The service's own behaviour: health, metrics, errors as problem+json, limits, idempotent retries,
maintenance, purchase attestations."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger.eip712 import PURCHASE_FIELDS, PurchaseAttestation, sign_purchase_attestation

from ..conftest import World
from .conftest import API_TOKEN, Api, open_api

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

PROBLEM = "application/problem+json"


def urn(slug: str) -> str:
    return f"urn:trustledger:problem:{slug}"


async def test_health_reports_chain_log_outbox_and_relayer(api: Api) -> None:
    r = await api.client.get("/v1/health")
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["chain"]["reachable"] and h["chain"]["chainId"] == api.world.d.chain_id
    assert h["relayer"]["address"] == api.world.actors.relayer.address
    assert h["log"]["size"] == 0 and h["log"]["maxMergeDelay"] == 30
    assert h["outbox"] == {"open": 0, "failed": 0}
    assert h["maintenance"] is False
    await api.client.post("/v1/reviews", json=api.review_body("h-1"))
    h = (await api.client.get("/v1/health")).json()
    assert h["log"]["size"] == 1 and h["log"]["unanchored"] == 1 and h["log"]["overdue"] == 0


async def test_metrics_are_prometheus_text(api: Api) -> None:
    await api.client.post("/v1/reviews", json=api.review_body("m-1"))
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert "trustledger_reviews_accepted_total 1.0" in text
    assert 'trustledger_http_requests_total{method="POST",route="/v1/reviews",status="201"} 1.0' in text
    assert "trustledger_log_size 1.0" in text and "trustledger_chain_reachable 1.0" in text


async def test_deployment_names_the_manifest(api: Api) -> None:
    d = (await api.client.get("/v1/deployment")).json()
    assert d["contracts"]["ReviewLog"] == api.world.d.review_log.address
    assert d["chainId"] == api.world.d.chain_id and d["relayer"] == api.world.actors.relayer.address


async def test_errors_are_problem_json_with_stable_types_and_request_ids(api: Api) -> None:
    r = await api.client.get("/v1/nowhere")
    assert (r.status_code, r.headers["content-type"], r.json()["type"]) == (404, PROBLEM, urn("not-found"))
    assert r.json()["requestId"] == r.headers["x-request-id"]
    r = await api.client.delete("/v1/reviews")
    assert (r.status_code, r.json()["type"]) == (405, urn("method-not-allowed"))
    r = await api.client.post("/v1/reviews", content=b"{not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["type"]) == (400, urn("malformed-json"))
    r = await api.client.get("/v1/health", headers={"x-request-id": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"


async def test_validation_errors_name_the_field_and_never_echo_the_input(api: Api) -> None:
    body = api.review_body("v-1", text="my secret words")
    body["merchant"] = body["merchant"][:-1] + ("A" if body["merchant"][-1] != "A" else "B")  # checksum typo
    body["productId"] = "0x1234"
    body["rating"] = 6
    r = await api.client.post("/v1/reviews", json=body)
    assert r.status_code == 422 and r.json()["type"] == urn("validation-error")
    where = {e["location"] for e in r.json()["errors"]}
    assert {"merchant", "productId", "rating"} <= where
    assert "my secret words" not in r.text and "0x1234" not in r.text


async def test_oversized_bodies_are_refused_before_reading_them(api: Api) -> None:
    big = b"{" + b" " * (api.settings.max_body_bytes + 1) + b"}"
    r = await api.client.post("/v1/reviews", content=big, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["type"]) == (413, urn("body-too-large"))

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b" " * 32768

    r = await api.client.post("/v1/reviews", content=chunks(), headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["type"]) == (413, urn("body-too-large"))


async def test_idempotency_key_replays_the_first_answer_and_refuses_reuse(api: Api) -> None:
    body = api.review_body("i-1")
    first = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": "k-1"})
    again = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert api.ledger.reviews.size == 1
    other = await api.client.post("/v1/reviews", json=api.review_body("i-2"), headers={"Idempotency-Key": "k-1"})
    assert (other.status_code, other.json()["type"]) == (422, urn("idempotency-key-reused"))
    assert api.ledger.reviews.size == 1
    bad = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": ""})
    assert (bad.status_code, bad.json()["type"]) == (400, urn("invalid-idempotency-key"))


async def test_a_key_in_flight_is_answered_409(api: Api) -> None:
    store = api.services.idempotency
    assert store.begin("busy", b"\x01" * 32) is None  # another request holds the key and is "running"
    body = api.review_body("busy-1")
    r = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": "busy"})
    assert r.status_code == 422  # another request's key: reused, whatever its state
    store.abandon("busy")
    raw = json.dumps(body).encode()
    digest = hashlib.sha256(b"\n".join([b"POST", b"/v1/reviews", b"", raw])).digest()
    assert store.begin("busy", digest) is None
    r = await api.client.post("/v1/reviews", content=raw, headers={"Idempotency-Key": "busy",
                                                                    "content-type": "application/json"})
    assert (r.status_code, r.json()["type"], r.headers["retry-after"]) == (409, urn("idempotency-key-in-use"), "1")


async def test_failed_requests_are_not_kept_for_replay(api: Api) -> None:
    body = api.review_body("f-1")
    body["attestationSignature"] = "0x" + "22" * 65
    r1 = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": "f"})
    r2 = await api.client.post("/v1/reviews", json=body, headers={"Idempotency-Key": "f"})
    assert r1.status_code == r2.status_code == 422  # 4xx answers are kept and replayed
    assert r2.headers.get("idempotent-replayed") == "true"


async def test_maintenance_refuses_writes_keeps_reads_and_needs_the_token(api: Api) -> None:
    await api.client.post("/v1/reviews", json=api.review_body("mt-1"))
    r = await api.client.put("/v1/admin/maintenance", json={"maintenance": True})
    assert (r.status_code, r.json()["type"]) == (401, urn("token-required"))
    r = await api.client.put("/v1/admin/maintenance", json={"maintenance": True}, headers=api.auth)
    assert r.json() == {"maintenance": True}
    r = await api.client.post("/v1/reviews", json=api.review_body("mt-2"))
    assert (r.status_code, r.json()["type"], r.headers["retry-after"]) == (503, urn("maintenance"), "30")
    assert (await api.client.get("/v1/reviews/0")).status_code == 200
    api.anchor()  # what was accepted before is still anchored
    assert api.world.d.review_log.functions.latestCheckpoint().call()[1] == 1
    await api.client.put("/v1/admin/maintenance", json={"maintenance": False}, headers=api.auth)
    assert (await api.client.post("/v1/reviews", json=api.review_body("mt-2"))).status_code == 201


async def test_writes_are_rate_limited_per_client(world: World, tmp_path: Path) -> None:
    async for api in open_api(world, tmp_path, write_rate=1.0, write_burst=3):
        codes = [(await api.client.post("/v1/reviews", json=api.review_body(f"rl-{i}"))).status_code
                 for i in range(5)]
        assert codes == [201, 201, 201, 429, 429]
        r = await api.client.post("/v1/reviews", json=api.review_body("rl-x"))
        assert r.json()["type"] == urn("rate-limited") and int(r.headers["retry-after"]) >= 1
        assert (await api.client.get("/v1/health")).status_code == 200  # reads are not limited


async def test_purchase_attestation_needs_the_token_and_verifies(api: Api) -> None:
    a = api.world.actors
    body = {"orderCommitment": "0x" + "ab" * 32, "merchant": a.merchant.address, "productId": "0x" + "cd" * 32,
            "buyer": a.stranger.address, "purchasedAt": 1_700_000_000}
    r = await api.client.post("/v1/purchases", json=body)
    assert (r.status_code, r.json()["type"]) == (401, urn("token-required"))
    r = await api.client.post("/v1/purchases", json=body, headers={"Authorization": "Bearer " + "y" * 40})
    assert (r.status_code, r.json()["type"]) == (401, urn("token-invalid"))
    r = await api.client.post("/v1/purchases", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    out = r.json()
    msg = encode_typed_data(domain_data=out["domain"], message_types={"PurchaseAttestation": PURCHASE_FIELDS},
                            message_data={**body, "orderCommitment": bytes.fromhex("ab" * 32),
                                          "productId": bytes.fromhex("cd" * 32)})
    assert Account.recover_message(msg, signature=bytes.fromhex(out["signature"][2:])) == a.order_signer.address
    assert out["orderSigner"] == a.order_signer.address
    att = PurchaseAttestation(bytes.fromhex("ab" * 32), a.merchant.address, bytes.fromhex("cd" * 32),
                              a.stranger.address, 1_700_000_000)
    assert bytes.fromhex(out["signature"][2:]) == sign_purchase_attestation(  # the very signature eth-account makes
        a.order_signer.account.key, att, chain_id=api.world.d.chain_id, governance=api.world.d.governance.address)


async def test_without_a_configured_token_token_routes_say_so(world: World, tmp_path: Path) -> None:
    async for api in open_api(world, tmp_path, api_token=None):
        r = await api.client.put("/v1/admin/maintenance", json={"maintenance": True},
                                 headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert (r.status_code, r.json()["type"]) == (401, urn("token-not-configured"))


async def test_concurrent_submissions_all_get_receipts(api: Api) -> None:
    bodies = [api.review_body(f"c-{i}") for i in range(40)]
    results = await asyncio.gather(*(api.client.post("/v1/reviews", json=b) for b in bodies))
    assert [r.status_code for r in results] == [201] * 40
    assert sorted(r.json()["leafIndex"] for r in results) == list(range(40))


async def test_short_tokens_are_refused_at_start() -> None:
    from api.config import ApiSettings
    from ledger.settings import InvalidSettings
    with pytest.raises(InvalidSettings) as info:
        ApiSettings(api_token="short")
    assert "api_token" in str(info.value) and "short" not in str(info.value)


async def test_a_chain_that_is_down_is_503_and_reviews_are_still_accepted(api: Api) -> None:
    from web3 import Web3

    before = api.ledger.w3.provider
    api.ledger.w3.provider = Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 2})
    try:
        r = await api.client.get("/v1/health")
        assert r.status_code == 503 and r.json()["status"] == "down"
        a = api.world.actors
        r = await api.client.post("/v1/relay/prepare", json={"from": a.governor.address, "contract": "TrustGovernance",
                                                             "function": "appointArbitrator",
                                                             "args": [a.stranger.address]})
        assert (r.status_code, r.json()["type"]) == (503, urn("chain-unavailable"))
        assert r.headers["retry-after"] == "5"
        r = await api.client.post("/v1/reviews", json=api.review_body("down-1"))  # needs no chain: accepted
        assert r.status_code == 201
    finally:
        api.ledger.w3.provider = before
    api.anchor()  # and anchored once the chain is back
    assert (await api.client.get("/v1/reviews/0")).json()["inclusion"]["status"] == "anchored"


async def test_cors_allows_only_the_configured_origins(world: World, tmp_path: Path) -> None:
    async for api in open_api(world, tmp_path, cors_origins=["https://shop.example"]):
        pre = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type,idempotency-key"}
        r = await api.client.options("/v1/reviews", headers=pre)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
        r = await api.client.options("/v1/reviews", headers={**pre, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        r = await api.client.get("/v1/health", headers={"Origin": "https://shop.example"})
        assert r.headers["access-control-allow-origin"] == "https://shop.example"


async def test_an_order_is_attested_once_with_one_set_of_terms(api: Api) -> None:
    """Asking again with the same terms gets the same signature; with another buyer (or merchant, product,
    time) 409 attestation-conflict: the order's one dispute would go to whichever attested buyer opened first."""
    a = api.world.actors
    body = {"orderCommitment": "0x" + "a1" * 32, "merchant": a.merchant.address, "productId": "0x" + "c2" * 32,
            "buyer": a.stranger.address, "purchasedAt": 1_700_000_000}
    first = await api.client.post("/v1/purchases", json=body, headers=api.auth)
    again = await api.client.post("/v1/purchases", json=body, headers=api.auth)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["signature"] == first.json()["signature"]
    for change in ({"buyer": a.issuer.address}, {"merchant": a.merchant2.address}, {"purchasedAt": 1_700_000_001}):
        r = await api.client.post("/v1/purchases", json={**body, **change}, headers=api.auth)
        assert (r.status_code, r.json()["type"]) == (409, urn("attestation-conflict")), change
    other = await api.client.post("/v1/purchases", json={**body, "orderCommitment": "0x" + "a2" * 32,
                                                         "buyer": a.issuer.address}, headers=api.auth)
    assert other.status_code == 201
