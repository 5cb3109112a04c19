"""Reviews and the log through the API: receipt out, proof against the anchored checkpoint, auditor reads."""

from __future__ import annotations

import pytest

from ledger.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion
from ledger.receipts import Receipt, verify_receipt

from .conftest import API_TOKEN, Api

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]


def b(h: str) -> bytes:
    return bytes.fromhex(h[2:])


async def test_review_receipt_then_proof_against_the_anchored_checkpoint(api: Api) -> None:
    r = await api.client.post("/v1/reviews", json=api.review_body("order-1"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == "/v1/reviews/0" == body["location"]
    receipt = Receipt.from_json(body["receipt"])
    verify_receipt(receipt, operator=api.world.actors.operator.address, chain_id=api.world.d.chain_id,
                   review_log=api.world.d.review_log.address)

    got = (await api.client.get("/v1/reviews/0")).json()
    assert got["inclusion"]["status"] == "pending"
    assert got["text"] == "sturdy, as promised" and got["visible"]
    assert "salt" not in r.text and "salt" not in str(got)

    api.anchor()
    got = (await api.client.get("/v1/reviews/0")).json()
    inc = got["inclusion"]
    assert inc["status"] == "anchored"
    cp = inc["checkpoint"]
    root = api.world.d.review_log.functions.latestCheckpoint().call()
    verify_inclusion(0, cp["treeSize"], b(got["leafHash"]), [b(p) for p in inc["proof"]], b(cp["rootHash"]))
    assert b(cp["rootHash"]) in (bytes(x) for x in root if isinstance(x, bytes))


async def test_exact_retry_gets_the_same_receipt_and_a_second_review_is_refused(api: Api) -> None:
    body = api.review_body("order-2")
    first = await api.client.post("/v1/reviews", json=body)
    again = await api.client.post("/v1/reviews", json=body)
    assert first.json() == again.json()
    other = dict(body, rating=1)
    dup = await api.client.post("/v1/reviews", json=other)
    assert dup.status_code == 409
    assert dup.headers["content-type"] == "application/problem+json"
    assert dup.json()["type"] == "urn:trustledger:problem:duplicate-review"


async def test_forged_attestation_is_refused_with_its_type(api: Api) -> None:
    body = api.review_body("order-3")
    body["attestationSignature"] = "0x" + "11" * 65
    r = await api.client.post("/v1/reviews", json=body)
    assert r.status_code == 422
    assert r.json()["type"] in ("urn:trustledger:problem:forged-attestation",
                                "urn:trustledger:problem:malformed-attestation-signature")
    body = api.review_body("order-4")
    body["productId"] = "0x" + "22" * 32
    r = await api.client.post("/v1/reviews", json=body)
    assert r.json()["type"] == "urn:trustledger:problem:attestation-mismatch"


async def test_batch_each_gets_its_receipt_or_its_problem(api: Api) -> None:
    good = [api.review_body(f"batch-{i}") for i in range(5)]
    bad = api.review_body("batch-bad")
    bad["merchant"] = api.world.actors.merchant2.address
    r = await api.client.post("/v1/reviews/batch", json={"reviews": [*good, bad, good[0]]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 6 and out["refused"] == 1
    assert [i["status"] for i in out["results"]] == [201] * 5 + [422, 201]
    assert out["results"][5]["problem"]["type"] == "urn:trustledger:problem:attestation-mismatch"
    assert out["results"][6]["accepted"] == out["results"][0]["accepted"]


async def test_auditor_recomputes_every_root_from_leaf_hashes(api: Api) -> None:
    await api.client.post("/v1/reviews/batch", json={"reviews": [api.review_body(f"a-{i}") for i in range(7)]})
    api.anchor()
    first = (await api.client.get("/v1/log")).json()
    assert first["treeSize"] == 7 and first["latestCheckpoint"]["treeSize"] == 7
    await api.client.post("/v1/reviews/batch", json={"reviews": [api.review_body(f"b-{i}") for i in range(4)]})
    api.anchor()
    cps = (await api.client.get("/v1/log/checkpoints")).json()
    assert [c["treeSize"] for c in cps] == [7, 11]
    hashes = [b(h) for h in (await api.client.get("/v1/log/leaf-hashes", params={"start": 0, "end": 11})).json()
              ["leafHashes"]]
    for cp in cps:
        assert root_from_leaf_hashes(hashes[:cp["treeSize"]]) == b(cp["rootHash"])
    proof = (await api.client.get("/v1/log/consistency", params={"first": 7, "second": 11})).json()
    verify_consistency(7, 11, b(cps[0]["rootHash"]), b(cps[1]["rootHash"]), [b(p) for p in proof["proof"]])
    latest = (await api.client.get("/v1/log/checkpoints/latest")).json()
    assert latest == cps[1] == (await api.client.get("/v1/log/checkpoints/1")).json()
    leaves = (await api.client.get("/v1/log/leaves", params={"start": 3, "end": 5})).json()["leaves"]
    from ledger.merkle import leaf_hash
    assert [leaf_hash(x.encode()) for x in leaves] == hashes[3:5]


async def test_log_ranges_outside_the_log_are_named(api: Api) -> None:
    r = await api.client.get("/v1/log/consistency", params={"first": 2, "second": 1})
    assert r.status_code == 422 and r.json()["type"] == "urn:trustledger:problem:range-out-of-log"
    r = await api.client.get("/v1/log/leaf-hashes", params={"start": 0, "end": 5})
    assert r.json()["type"] == "urn:trustledger:problem:range-out-of-log"
    r = await api.client.get("/v1/log/checkpoints/latest")
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:no-checkpoint"
    r = await api.client.get("/v1/reviews/99")
    assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:leaf-not-found"


async def test_erasure_keeps_the_hash_and_needs_the_token(api: Api) -> None:
    await api.client.post("/v1/reviews", json=api.review_body("order-e"))
    r = await api.client.post("/v1/reviews/0/erasure", json={"reason": "request #123"})
    assert r.status_code == 401 and r.json()["type"] == "urn:trustledger:problem:token-required"
    r = await api.client.post("/v1/reviews/0/erasure", json={"reason": "request #123"},
                              headers={"Authorization": "Bearer wrong-token"})
    assert r.status_code == 401 and r.json()["type"] == "urn:trustledger:problem:token-invalid"
    before = (await api.client.get("/v1/reviews/0")).json()
    r = await api.client.post("/v1/reviews/0/erasure", json={"reason": "request #123"},
                              headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["text"] is None and after["erasure"]["reason"] == "request #123"
    assert after["leafHash"] == before["leafHash"] and after["leaf"] == before["leaf"]
