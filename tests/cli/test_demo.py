"""``trustledger demo``: the story against a real ``trustledger up`` (run twice on the same chain, as a user may),
checked in what it prints, in what the API shows afterwards and in what it left on the chain and in the database
(issue #9's privacy check, tests/privacy_scan.py); and the ways it cannot run, each one line and exit 2 without a
service or a chain."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from cli import demo as story
from cli.demo import Refused, Service

from ..privacy_scan import scan_home
from .conftest import invoke, no_traceback
from .test_live import _cli, _free_port, _interrupt, _wait

PRODUCT_PAGE = re.compile(r"/p/(0x[0-9a-f]{64})")
RUN_TAG = re.compile(r"\(run (\d{14}-[0-9a-f]{4}),")
RULINGS = (story.FIRST_RULING, story.APPEAL_RULING, story.REMOVAL_RULING, story.REMOVAL_APPEAL_RULING)


def demo_plaintexts(tag: str, reviews: int) -> dict[str, str]:
    """What a demo run of ``tag`` keeps off the chain and out of the clear in the database: its review texts,
    its shoppers' user ids, its order ids (the platform's: only salted commitments leave it) and the claimant's
    platform identity (the dispute names it by a commitment)."""
    out = {"the paid review's text": story.FAKE_REVIEW}
    out |= {f"review text ({stars} stars)": text for stars, text in story.TEXTS.items()}
    for i in range(reviews):
        out |= {f"run {tag} user id {i}": f"demo-{tag}-shopper-{i}", f"run {tag} order id {i}": f"demo-{tag}-order-{i}"}
    out |= {f"run {tag} disputed order id": f"demo-{tag}-disputed-order",
            f"run {tag} claimant": f"platform-user:demo-{tag}:salted"}
    return out


def _home(tmp_path: Path, *, secrets_file: bool = True, keys: bool = True) -> Path:
    """A state folder as `trustledger up` leaves it, without a chain or a service behind it."""
    home = tmp_path / "home"
    home.mkdir()
    if secrets_file:
        (home / "dev-secrets.json").write_text(json.dumps({"api_token": "t" * 40}))
    if keys:
        roles = ("admin", "governor", "operator", "relayer", "issuer", "merchant", "order_signer", "arbitrator")
        (home / "dev-keys.json").write_text(json.dumps({r: "0x" + secrets.token_hex(32) for r in roles}))
    return home


def test_no_service_running_is_one_line_and_exit_2(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{_free_port()}"
    run = invoke("demo", "--home", _home(tmp_path), "--api", api)
    assert run.code == 2, run.output
    assert f"error: the service at {api} is not running: start it with `trustledger up`" in run
    no_traceback(run)


def test_missing_token_or_keys_is_one_line_and_exit_2(tmp_path: Path) -> None:
    home = _home(tmp_path, secrets_file=False)
    run = invoke("demo", "--home", home, "--api", "http://127.0.0.1:9")
    assert run.code == 2 and f"no API token: {home / 'dev-secrets.json'} is missing" in run, run.output
    no_traceback(run)
    (home / "dev-secrets.json").write_text(json.dumps({"api_token": "t" * 40}))
    (home / "dev-keys.json").unlink()
    run = invoke("demo", "--home", home, "--api", "http://127.0.0.1:9")
    assert run.code == 2 and f"no demo identities' keys: {home / 'dev-keys.json'} is missing" in run, run.output
    (home / "dev-keys.json").write_text(json.dumps({"governor": "0x" + "11" * 32}))
    run = invoke("demo", "--home", home, "--api", "http://127.0.0.1:9")
    assert run.code == 2 and f"no operator key in {home / 'dev-keys.json'}" in run, run.output


def test_a_refused_step_names_its_problem_type_and_detail_and_a_429_is_waited_out() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "0"}),
               httpx.Response(403, json={"type": "urn:trustledger:problem:forbidden", "title": "Forbidden",
                                         "status": 403, "detail": "the contract refused the signer",
                                         "errorName": "TrustGovernanceUnauthorized"})]
    s = Service("http://api.test", "t" * 40)
    s.http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(lambda _: answers.pop(0)))
    with pytest.raises(Refused) as refused:
        s.call("POST", "/v1/governance/merchants/0x0/admission", "admit the merchant", body={})
    assert str(refused.value) == ("admit the merchant: refused (403 forbidden (TrustGovernanceUnauthorized)): "
                                  "the contract refused the signer")
    assert refused.value.code == 2 and answers == []


@pytest.mark.node
def test_demo_against_trustledger_up_twice_then_the_api_shows_the_story(tmp_path: Path) -> None:
    home, port, chain_port = tmp_path / "home", _free_port(), _free_port()
    api, rpc = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{chain_port}"
    proc = _cli("up", "--home", home, "--port", str(port), "--chain-port", str(chain_port),
                env={"TRUSTLEDGER_MAX_MERGE_DELAY": "3", "TRUSTLEDGER_INDEX_INTERVAL": "0.2"})
    try:
        _wait(lambda: proc.poll() is None and httpx.get(f"{api}/v1/health", timeout=2).status_code == 200,
              "trustledger up answers", 90)
        first = invoke("demo", "--home", home, "--api", api, "--rpc", rpc, "--reviews", "40", "--timeout", "60")
        assert first.code == 0, first.output
        no_traceback(first)
        for phrase in ("already accredited for std:GB/T 19001-2016", "already admitted",
                       "appeal arbitrator", "appointed by the governor",
                       ("40 purchases attested by the platform and 40 reviews accepted with signed receipts "
                        "(leaves 0..39)"),
                       "ruled a partial refund of 1000 (final)", "review 0 taken down on chain",
                       "What a consumer sees", "What an auditor sees", "CONSISTENT", "health: ok"):
            assert phrase in first, (phrase, first.output)
        [product] = PRODUCT_PAGE.findall(first.output)

        # the same chain again: nothing re-admitted or re-appointed, fresh product and orders
        again = invoke("demo", "--home", home, "--api", api, "--rpc", rpc, "--reviews", "5", "--timeout", "60")
        assert again.code == 0, again.output
        assert "appeal arbitrator" in again and "already appointed" in again
        assert "(leaves 40..44)" in again and "review 40 taken down on chain" in again
        [second] = PRODUCT_PAGE.findall(again.output)
        assert second != product

        record: dict[str, Any] = httpx.get(f"{api}/v1/products/{product}", timeout=30).json()
        assert sorted(c["now"]["status"] for c in record["certificates"]) == ["revoked", "valid", "valid"]
        assert all(c["now"]["issuerAccreditedAtIssue"] for c in record["certificates"])
        reviews = record["reviews"]
        assert (reviews["counted"], reviews["pending"], reviews["excluded"]["takenDown"]) == (39, 0, 1)
        [tombstone] = reviews["tombstones"]
        assert tombstone["leafIndex"] == 0
        disputes = {d["kind"]: d for d in record["disputes"]}
        assert (disputes["purchase"]["outcome"], disputes["purchase"]["remedy"]) == ("partialRefund", "fulfilled")
        assert (disputes["reviewChallenge"]["outcome"], disputes["reviewChallenge"]["leafIndex"]) == (
            "reviewRemoved", 0)
        assert tombstone["disputeId"] == disputes["reviewChallenge"]["id"]
        purchase = httpx.get(f"{api}/v1/disputes/{disputes['purchase']['id']}").json()
        assert (purchase["phase"], purchase["round"]) == ("closed", 1)
        assert [r["rationale"] is not None for r in purchase["rulings"]] == [True, True]
        assert purchase["rulings"][0]["arbitrator"] != purchase["rulings"][1]["arbitrator"]
        taken = httpx.get(f"{api}/v1/reviews/0").json()
        assert (taken["visible"], taken["text"], taken["inclusion"]["status"]) == (False, None, "anchored")
        assert httpx.get(f"{api}/v1/reviews/1").json()["visible"]
        keys = json.loads((home / "dev-keys.json").read_text())
        assert Account.from_key(keys["merchant"]).address in first

        # privacy (issue #9): the chain both runs wrote, every call and event from block 0 decoded into hashes,
        # commitments, addresses, enums, numbers, signatures and evidence URIs only, and none of the runs' review
        # texts, user ids or order ids in any spelling there nor in clear in the service's database. The rulings'
        # reasons are published: in the database (where the scan must find them), never on chain; and the
        # first run's evidence URI is on chain by design (where the scan must find it): neither scan is blind.
        tags = [m[1] for run in (first, again) if (m := RUN_TAG.search(run.output))]
        assert len(tags) == 2, (first.output, again.output)
        personal = demo_plaintexts(tags[0], 40) | demo_plaintexts(tags[1], 5)
        rulings = {f"ruling {i}": r for i, r in enumerate(RULINGS)}
        started = time.monotonic()
        found, chain, read = scan_home(rpc, home, personal | rulings | {"evidence URI": f"ipfs://demo-{tags[0]}-photo"},
                                       personal | rulings)
        took = time.monotonic() - started
        seen = sorted({re.sub(r"^block \d+ (tx \S+|log \d+) ", "", f) for f in found})
        assert seen == ["api_rationales.text: ruling 0", "api_rationales.text: ruling 1", "api_rationales.text: ruling 2",
                        "api_rationales.text: ruling 3", "calldata: evidence URI", "data: evidence URI"], (found, took)
        assert read["transactions"] >= 40 and read["logs"] >= 80 and read["rows"] > 200, read
        assert {"TrustForwarder.execute", "CertificateRegistry.issueBatch", "ReviewLog.appendCheckpoint",
                "DisputeRegistry.openPurchaseDispute", "DisputeRegistry.challengeReview", "DisputeRegistry.rule",
                "DisputeRegistry.appeal", "DisputeRegistry.Evidence", "ReviewLog.CheckpointAnchored",
                "DisputeRegistry.ReviewTakenDown"} <= chain.decoded, sorted(chain.decoded)
    finally:
        _interrupt(proc)
