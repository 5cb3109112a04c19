"""The auditor's routes: events paged with a cursor (every event exactly once, as the indexer holds them),
filters, the NDJSON and CSV streams, and the log verification run."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from ledger.eip712 import certificate_id
from ledger.indexer import HistoryEntry
from ledger.storage.schema import log_leaves

from ..chain.test_certificates import make_cert
from .conftest import Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

REASON = keccak(text="reason:api-audit")


async def scene(api: Api) -> dict[str, bytes]:
    """Certificates by two issuers for two merchants (one revoked), reviews anchored in two checkpoints."""
    w, a = api.world, api.world.actors
    certs = {"m": make_cert(w, "audit-m"), "m2": make_cert(w, "audit-m2", merchant=a.merchant2.address),
             "i2": make_cert(w, "audit-i2", issuer=a.issuer2)}
    for tag, c in certs.items():
        (a.issuer2 if tag == "i2" else a.issuer).send(w.d.registry.functions.issue(c.as_tuple()))
    ids = {k: certificate_id(c) for k, c in certs.items()}
    a.issuer.send(w.d.registry.functions.revoke(ids["m"], REASON))
    for batch in ("x", "y"):
        r = await api.client.post("/v1/reviews/batch",
                                  json={"reviews": [api.review_body(f"audit-{batch}-{i}") for i in range(3)]})
        assert r.json()["accepted"] == 3
        api.anchor()
    return ids


def key(e: dict[str, Any]) -> tuple[int, int, str, dict[str, Any]]:
    return (e["blockNumber"], e["logIndex"], e["event"], e["args"])


def entry_key(h: HistoryEntry) -> tuple[int, int, str, dict[str, Any]]:
    return (h.block_number, h.log_index, h.event, dict(h.args))


async def walk(api: Api, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    r = await api.client.get("/v1/audit/events", params={**params, "limit": limit})
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["events"]) <= limit
        out += page["events"]
        if page["next"] is None:
            assert page["cursor"] is None
            break
        assert len(page["events"]) == limit
        r = await api.client.get(page["next"])
    return out


async def test_pagination_walks_every_event_exactly_once(api: Api) -> None:
    await scene(api)
    want = [entry_key(h) for h in api.services.indexer.events()]
    assert len(want) > 15
    for limit in (1, 7, len(want), 1000):
        got = await walk(api, {}, limit)
        assert [key(e) for e in got] == want, limit
    # the raw form re-decodes: topic 0 is the event's signature hash, the address the contract's
    first = (await api.client.get("/v1/audit/events", params={"limit": 1})).json()["events"][0]
    assert first["address"] == api.ledger.manifest.address(first["contract"])
    assert len(first["topics"]) >= 1 and all(len(t) == 66 for t in first["topics"])


async def test_filters(api: Api) -> None:
    ids = await scene(api)
    a = api.world.actors
    everything = await walk(api, {}, 1000)

    def expect(pred: Any) -> list[tuple[int, int, str, dict[str, Any]]]:
        return [key(e) for e in everything if pred(e)]

    issued = await walk(api, {"event": "CertificateIssued"}, 2)
    assert [key(e) for e in issued] == [entry_key(h) for h in api.services.indexer.events(event="CertificateIssued")]
    assert {e["args"]["id"] for e in issued} == {hx(i) for i in ids.values()}
    several = await walk(api, {"event": ["CertificateIssued", "CertificateRevoked"]}, 1)  # next keeps both
    assert [key(e) for e in several] == expect(lambda e: e["event"] in ("CertificateIssued", "CertificateRevoked"))
    governance = await walk(api, {"contract": "TrustGovernance"}, 5)
    assert [key(e) for e in governance] == [entry_key(h) for h in api.services.indexer.events(
        contract="TrustGovernance")]

    # merchant: MerchantAdmitted and the merchant's certificates, in any address case
    m2 = await walk(api, {"merchant": a.merchant2.address.lower()}, 1000)
    assert [key(e) for e in m2] == expect(lambda e: e["args"].get("merchant") == a.merchant2.address)
    assert {e["event"] for e in m2} == {"MerchantAdmitted", "CertificateIssued"}
    # issuer: CertificateIssued names it in its (not indexed) data, the governance events in a topic
    i2 = await walk(api, {"issuer": a.issuer2.address}, 1000)
    assert [key(e) for e in i2] == expect(lambda e: e["args"].get("issuer") == a.issuer2.address)
    assert {"IssuerAccredited", "CertificateIssued"} <= {e["event"] for e in i2}
    product = keccak(text="gtin:audit-m2")
    p = await walk(api, {"product": hx(product)}, 1000)
    assert [(e["event"], e["args"]["id"]) for e in p] == [("CertificateIssued", hx(ids["m2"]))]
    both = await walk(api, {"merchant": a.merchant.address, "event": "CertificateRevoked"}, 1000)
    assert both == []  # CertificateRevoked names no merchant

    # block and time ranges
    blocks = sorted({e["blockNumber"] for e in everything})
    lo, hi = blocks[2], blocks[-3]
    ranged = await walk(api, {"fromBlock": lo, "toBlock": hi}, 3)
    assert [key(e) for e in ranged] == expect(lambda e: lo <= e["blockNumber"] <= hi)
    times = sorted({e["blockTime"] for e in everything})
    since, until = times[1], times[-2]
    timed = await walk(api, {"since": since, "until": until}, 4)
    assert [key(e) for e in timed] == expect(lambda e: since <= e["blockTime"] <= until)
    anchored = await walk(api, {"contract": "ReviewLog", "event": "CheckpointAnchored", "fromBlock": lo}, 1)
    assert [e["args"]["size"] for e in anchored] == ["3", "6"]  # uint64: a decimal string


BAD_QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"event": "NoSuchEvent"}, "unknown-event"),
    ({"event": "CertificateIssued", "contract": "ReviewLog"}, "unknown-event"),
    ({"fromBlock": 5, "toBlock": 4}, "invalid-range"),
    ({"since": 5, "until": 4}, "invalid-range"),
    ({"cursor": "not-a-cursor"}, "invalid-cursor"),
    ({"cursor": "djEuMS4y!"}, "invalid-cursor"),
    ({"limit": 0}, "validation-error"),
    ({"limit": 1001}, "validation-error"),
    ({"contract": "Nope"}, "validation-error"),
    ({"merchant": "0x12"}, "validation-error"),
    ({"product": "0x" + "ab" * 31}, "validation-error"),
    ({"fromBlock": -1}, "validation-error"),
]


async def test_bad_queries_are_named(api: Api) -> None:
    for params, slug in BAD_QUERIES:
        for path in ("/v1/audit/events", "/v1/audit/events.ndjson", "/v1/audit/events.csv"):
            if path != "/v1/audit/events" and "limit" in params:
                continue
            r = await api.client.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.json()["type"] == f"urn:trustledger:problem:{slug}", (path, params)


async def test_exports_equal_the_paged_list(api: Api) -> None:
    await scene(api)
    for params in ({}, {"contract": "CertificateRegistry"}, {"merchant": api.world.actors.merchant.address}):
        paged = await walk(api, params, 4)
        r = await api.client.get("/v1/audit/events.ndjson", params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/x-ndjson"
        assert r.headers["content-disposition"].startswith('attachment; filename="trustledger-events-')
        lines = r.text.splitlines()
        assert [json.loads(x) for x in lines] == paged

        r = await api.client.get("/v1/audit/events.csv", params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows and list(rows[0]) == ["blockNumber", "logIndex", "blockTime", "blockHash", "txHash", "txIndex",
                                          "contract", "address", "event", "args", "topics", "data"]
        assert [{"blockNumber": int(x["blockNumber"]), "logIndex": int(x["logIndex"]),
                 "blockTime": int(x["blockTime"]), "blockHash": x["blockHash"], "txHash": x["txHash"],
                 "txIndex": int(x["txIndex"]), "contract": x["contract"], "address": x["address"],
                 "event": x["event"], "args": json.loads(x["args"]), "topics": x["topics"].split(" "),
                 "data": x["data"]} for x in rows] == paged
    # an export resumes from a page's cursor
    page = (await api.client.get("/v1/audit/events", params={"limit": 5})).json()
    rest = (await api.client.get("/v1/audit/events.ndjson", params={"cursor": page["cursor"]})).text.splitlines()
    assert page["events"] + [json.loads(x) for x in rest] == await walk(api, {}, 1000)


async def test_log_verification_passes_on_an_honest_log_and_names_a_tampered_leaf(api: Api) -> None:
    await scene(api)
    for source in ("index", "chain"):
        r = await api.client.post("/v1/audit/log-verification", params={"source": source})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["verdict"] == "valid" and out["source"] == source, out
        assert [x["code"] for x in out["reasons"]] == ["log.consistent"]
        assert [(c["index"], c["size"]) for c in out["checkpoints"]] == [(0, 3), (1, 6)]
        assert out["leavesHeld"] == 6

    # one leaf's bytes altered in the database: the held leaves no longer reproduce the anchored roots
    with api.ledger.db.write() as conn:
        raw = conn.execute(sa.select(log_leaves.c.leaf).where(log_leaves.c.leaf_index == 4)).scalar_one()
        conn.execute(sa.update(log_leaves).where(log_leaves.c.leaf_index == 4)
                     .values(leaf=bytes(raw).replace(b'"rating":5', b'"rating":1')))
    out = (await api.client.post("/v1/audit/log-verification")).json()
    assert out["verdict"] == "invalid"
    codes = {x["code"] for x in out["reasons"]}
    assert "log.leaf-hash-corrupt" in codes and "log.root-mismatch" in codes, out["reasons"]
    assert any("leaf 4" in x["message"] for x in out["reasons"])


async def test_log_verification_of_an_empty_log(api: Api) -> None:
    r = await api.client.post("/v1/audit/log-verification")
    assert r.status_code == 200
    out = r.json()
    assert out["verdict"] == "valid" and out["checkpoints"] == [] and out["leavesHeld"] == 0
    r = await api.client.post("/v1/audit/log-verification", params={"source": "mirror"})
    assert r.status_code == 422
