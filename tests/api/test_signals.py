"""``GET /v1/audit/signals`` (api/routes/signals.py): the signals with their statistics, thresholds and data, the
subject and kind filters, ``at``, and bad input answered 422 problem+json."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.crypto import keccak

from ledger.reviews import reviewer_pseudonym

from .conftest import PSEUDONYM_KEY, Api

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]


async def spree(api: Api, n: int = 12) -> str:
    """One user reviews ``n`` different products within a minute; returns their pseudonym (0x hex)."""
    bodies = []
    for i in range(n):
        body = api.review_body(f"spree-{i}", product=keccak(text=f"gtin:spree-{i}"))
        body["userId"] = "spree-user"
        bodies.append(body)
    r = await api.client.post("/v1/reviews/batch", json={"reviews": bodies})
    assert r.json()["accepted"] == n, r.text
    api.anchor()
    return "0x" + reviewer_pseudonym("spree-user", bytes.fromhex(PSEUDONYM_KEY[2:])).hex()


async def get(api: Api, **params: Any) -> dict[str, Any]:
    r = await api.client.get("/v1/audit/signals", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_no_checkpoint_no_signals_and_the_rules_are_published(api: Api) -> None:
    body = await get(api)
    assert body["signals"] == [] and body["checkpoint"] is None and body["reviewsRead"] == 0
    kinds = {rule["kind"] for rule in body["rules"]}
    assert kinds == {"review-burst", "rating-shift", "dispute-surge", "revocation-spike",
                     "spot-check-failure-spike", "remedy-unpaid"}


async def test_a_reviewing_spree_is_answered_with_its_data_and_filters_apply(api: Api) -> None:
    pseudonym = await spree(api)
    body = await get(api)
    assert body["checkpoint"] == {"index": 0, "size": 12} and body["reviewsRead"] == 12
    (signal,) = [s for s in body["signals"] if s["subjectType"] == "reviewer"]
    assert signal["kind"] == "review-burst" and signal["subject"] == pseudonym
    assert signal["data"]["leaves"] == list(range(12)) and signal["data"]["distinctProducts"] == 12
    assert signal["statistic"]["name"] == "poisson-upper-tail" and signal["statistic"]["observed"] == 12
    assert signal["statistic"]["value"] >= signal["threshold"]["minSurprise"] == 6.0
    assert signal["window"]["seconds"] == signal["threshold"]["windowSeconds"] == 86400
    assert signal["data"]["counts"][-1] == 12 and len(signal["data"]["counts"]) == 29

    assert (await get(api, reviewer=pseudonym))["signals"] == [signal]
    assert (await get(api, reviewer=pseudonym, kind="dispute-surge"))["signals"] == []
    assert (await get(api, reviewer="0x" + "00" * 32))["signals"] == []
    merchant = api.world.actors.merchant.address
    by_merchant = await get(api, merchant=merchant.lower(), kind=["review-burst", "rating-shift"])
    assert all(s["subjectType"] == "merchant" and s["subject"] == merchant for s in by_merchant["signals"])
    # the same `at` gives the same answer; before the checkpoint, nothing was anchored
    assert await get(api, at=body["asOf"]) == body
    assert (await get(api, at=body["asOf"] - 3600))["checkpoint"] is None


BAD = [
    {"merchant": "0x123"},
    {"merchant": "0x" + "aB" * 20},  # mixed case with a wrong checksum
    {"product": "0x" + "zz" * 32},
    {"product": "0x" + "ab" * 31},
    {"reviewer": "abc"},
    {"issuer": "not-an-address"},
    {"kind": "brushing"},
    {"kind": ["review-burst"] * 7},
    {"at": "-1"},
    {"at": str(2**40)},
    {"at": "yesterday"},
]


async def test_bad_input_is_a_422_problem(api: Api) -> None:
    """One app for every case (each would otherwise start its own ledger)."""
    for params in BAD:
        r = await api.client.get("/v1/audit/signals", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"] == "urn:trustledger:problem:validation-error" and problem["errors"], params
