"""Takedowns through the API: a merchant's challenge ruled ReviewRemoved leaves a tombstone (leaf and proof
intact); the operator's emergency hide hides at once and lapses; a final ReviewUpheld restores; the reconciler
that applies them is idempotent and runs after each indexer pass."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from eth_utils.crypto import keccak

from api.state import IndexWorker, Metrics
from api.takedowns import apply_takedowns
from ledger.merkle import verify_inclusion

from .conftest import API_TOKEN, Api, hx

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

DAY = 24 * 3600
APPEAL, HIDE = 3 * DAY, 14 * DAY  # ledger.deploy.DisputePeriods defaults
ZERO32 = b"\x00" * 32
FAKE = keccak(text="category:fake-review")
EVIDENCE = keccak(text="evidence:order-logs")
URI = "ipfs://bafy-order-logs"
REASON = keccak(text="reason:illegal-content")
REVIEW_REMOVED, REVIEW_UPHELD = 5, 6
TOKEN = {"Authorization": f"Bearer {API_TOKEN}"}


def urn(slug: str) -> str:
    return f"urn:trustledger:problem:{slug}"


def b(h: str) -> bytes:
    return bytes.fromhex(h[2:])


async def reviews(api: Api, n: int) -> None:
    """``n`` reviews, anchored on chain and indexed."""
    for i in range(n):
        r = await api.client.post("/v1/reviews", json=api.review_body(f"td-{i}", text=f"review number {i}"))
        assert r.status_code == 201, r.text
    api.anchor()


async def relayed(api: Api, path: str, signer: Any, call: Any) -> dict[str, Any]:
    r = await api.client.post(path, params={"wait": 10}, json=api.signed(signer, call))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def review(api: Api, index: int) -> dict[str, Any]:
    r = await api.client.get(f"/v1/reviews/{index}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def hide(api: Api, leaf: int, reason: bytes = REASON, **kw: Any) -> Any:
    return await api.client.post("/v1/takedowns/hides", params={"wait": 10},
                                 json={"leafIndex": leaf, "reasonCode": hx(reason)}, **kw)


async def test_a_challenge_ruled_review_removed_leaves_a_tombstone_with_its_leaf_and_proof(api: Api) -> None:
    await reviews(api, 3)
    a, dr = api.world.actors, api.world.d.disputes.functions
    before = await review(api, 1)
    assert before["visible"] and before["text"] == "review number 1"

    out = await relayed(api, "/v1/disputes/challenges", a.merchant,
                        dr.challengeReview(1, a.merchant.address, FAKE, EVIDENCE, URI))
    did = b(out["disputeId"])
    assert did == bytes(dr.reviewChallengeId(a.merchant.address, 1).call())
    assert [e["event"] for e in out["events"]] == ["ReviewChallenged", "Evidence", "ArbitratorAssigned"]
    await relayed(api, f"/v1/disputes/{hx(did)}/response", a.operator, dr.respond(did, ZERO32, ""))
    await relayed(api, f"/v1/disputes/{hx(did)}/rulings", a.arbitrator,
                  dr.rule(did, REVIEW_REMOVED, 0, keccak(text="a paid review")))
    api.world.chain.increase_time(APPEAL + 1)
    final = await relayed(api, f"/v1/disputes/{hx(did)}/finalization", a.stranger, dr.finalize(did))
    assert [e["event"] for e in final["events"]] == ["DisputeFinal", "ReviewTakenDown", "DisputeClosed"]

    api.index()
    assert (await review(api, 1))["visible"]  # the content follows the chain once the reconciler runs
    done = apply_takedowns(api.services)
    assert (done.removed, done.hidden, done.lifted, done.skipped) == ([1], [], [], [])
    after = await review(api, 1)
    assert (after["visible"], after["text"]) == (False, None)
    assert after["takedown"]["kind"] == "ruling" and after["takedown"]["ref"] == hx(did)
    assert after["takedown"]["notice"] == f"removed by ruling {hx(did)}"
    # the tombstone: the same leaf, still proven against the anchored checkpoint
    assert (after["leafHash"], after["leaf"]) == (before["leafHash"], before["leaf"])
    inc = after["inclusion"]
    assert inc["status"] == "anchored"
    verify_inclusion(1, inc["checkpoint"]["treeSize"], b(after["leafHash"]), [b(p) for p in inc["proof"]],
                     b(inc["checkpoint"]["rootHash"]))
    assert (await review(api, 0))["visible"] and (await review(api, 2))["visible"]
    assert apply_takedowns(api.services).changed == 0  # idempotent

    listed = (await api.client.get("/v1/takedowns")).json()
    assert listed["nextCursor"] is None
    [t] = listed["items"]
    assert (t["leafIndex"], t["state"], t["hiddenNow"], t["disputeId"], t["logState"]) == (
        1, "takenDown", True, hx(did), "removed")
    d = (await api.client.get(f"/v1/disputes/{hx(did)}")).json()
    assert (d["kind"], d["leafIndex"], d["phase"], d["outcome"]) == ("reviewChallenge", 1, "closed", "reviewRemoved")
    assert d["review"] == "/v1/reviews/1" and "ReviewTakenDown" in [h["event"] for h in d["history"]]


async def test_the_operators_emergency_hide_hides_at_once_and_lapses(api: Api) -> None:
    await reviews(api, 2)
    r = await hide(api, 0)
    assert (r.status_code, r.json()["type"]) == (401, urn("token-required"))
    r = await hide(api, 0, headers=TOKEN)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["key"], out["status"], out["leafIndex"], out["reasonCode"]) == ("hide:0", "confirmed", 0, hx(REASON))
    assert r.headers["location"] == out["location"] == "/v1/takedowns/hides/0"
    [event] = out["events"]
    assert event["event"] == "ReviewEmergencyHidden" and event["args"]["operator"] == api.world.actors.operator.address
    lapse = event["args"]["lapseAt"]
    again = await hide(api, 0, headers=TOKEN)  # a retry answers the same write
    assert again.status_code == 200 and again.json()["txHash"] == out["txHash"]
    r = await hide(api, 0, keccak(text="reason:other"), headers=TOKEN)
    assert (r.status_code, r.json()["type"]) == (409, urn("idempotency-conflict"))
    r = await hide(api, 7, headers=TOKEN)  # not in the anchored log: refused before anything is sent
    assert (r.status_code, r.json()["type"], r.json()["errorName"]) == (
        422, urn("contract-rejected"), "DisputeRegistryUnknownReview")
    assert (await api.client.get("/v1/takedowns/hides/7")).status_code == 404

    api.index()
    done = apply_takedowns(api.services)
    assert (done.hidden, done.removed, done.lifted) == ([0], [], [])
    hidden = await review(api, 0)
    assert (hidden["visible"], hidden["text"], hidden["takedown"]["kind"]) == (False, None, "emergency_hide")
    assert hidden["takedown"]["notice"] == f"hidden by the operator pending a ruling ({out['txHash']})"
    t = (await api.client.get("/v1/takedowns/0")).json()
    assert (t["state"], t["hiddenNow"], t["lapsed"], t["lapseAt"], t["reasonCode"], t["logState"]) == (
        "emergencyHidden", True, False, lapse, hx(REASON), "hidden")
    assert t["hideWrite"]["txHash"] == out["txHash"]
    assert apply_takedowns(api.services).changed == 0

    api.world.chain.increase_time(HIDE + 1)  # no ruling came: the hide lapses
    api.index()
    assert [i["leafIndex"] for i in (await api.client.get("/v1/takedowns", params={"lapsed": True})).json()
            ["items"]] == [0]
    done = apply_takedowns(api.services)
    assert (done.lifted, done.hidden) == ([0], [])
    shown = await review(api, 0)
    assert (shown["visible"], shown["text"], shown["takedown"]) == (True, "review number 0", None)
    assert shown["leafHash"] == hidden["leafHash"]
    t = (await api.client.get("/v1/takedowns/0")).json()
    assert (t["state"], t["hiddenNow"], t["lapsed"], t["logState"]) == ("emergencyHidden", False, True, "visible")
    assert apply_takedowns(api.services).changed == 0
    r = await hide(api, 0, headers=TOKEN)  # once per review: the retry is still the first write
    assert r.status_code == 200 and r.json()["txHash"] == out["txHash"]
    r = await api.client.get("/v1/takedowns/1")
    assert (r.status_code, r.json()["type"]) == (404, urn("no-takedown"))


async def test_a_final_review_upheld_restores_a_hidden_review(api: Api) -> None:
    await reviews(api, 1)
    a, dr = api.world.actors, api.world.d.disputes.functions
    assert (await hide(api, 0, headers=TOKEN)).status_code == 200
    api.index()
    assert apply_takedowns(api.services).hidden == [0]
    # the operator refers its hide to the arbitrator (no respondent), who upholds the review
    out = await relayed(api, "/v1/disputes/challenges", a.operator,
                        dr.challengeReview(0, a.merchant.address, FAKE, ZERO32, ""))
    did = b(out["disputeId"])
    await relayed(api, f"/v1/disputes/{hx(did)}/rulings", a.arbitrator,
                  dr.rule(did, REVIEW_UPHELD, 0, keccak(text="lawful criticism")))
    api.world.chain.increase_time(APPEAL + 1)
    final = await relayed(api, f"/v1/disputes/{hx(did)}/finalization", a.stranger, dr.finalize(did))
    assert "ReviewRestored" in [e["event"] for e in final["events"]]
    api.index()
    assert apply_takedowns(api.services).lifted == [0]
    assert (await review(api, 0))["visible"]
    t = (await api.client.get("/v1/takedowns", params={"state": "restored"})).json()["items"]
    assert [(i["leafIndex"], i["disputeId"], i["logState"]) for i in t] == [(0, hx(did), "visible")]


async def test_the_index_worker_runs_its_after_sync_callback_after_each_pass() -> None:
    synced, after = threading.Event(), threading.Event()
    order: list[str] = []

    class Indexer:
        def sync(self) -> None:
            order.append("sync")
            synced.set()

    def callback() -> None:
        order.append("after")
        after.set()

    worker = IndexWorker(Indexer(), 0.01, logging.getLogger("test"), Metrics(),  # type: ignore[arg-type]
                         after_sync=callback)
    worker.start()
    try:
        assert after.wait(5)
    finally:
        worker.stop()
    assert order[:2] == ["sync", "after"]
