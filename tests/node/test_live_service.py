"""`make up` for real: `python -m api.serve` starts Anvil with its state on disk, deploys, serves the API with
every worker running. A review goes in through HTTP and its inclusion proof comes back against the checkpoint
the service anchored on its own; an issuer's certificate goes in as a signed request the service relays, is
indexed, and its proof bundle verifies against the chain; Ctrl-C and a restart keep the chain, the deployment
and the review."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.eip712 import PurchaseAttestation
from ledger.merkle import verify_inclusion
from ledger.reviewlog import attestation_digest
from ledger.reviews import order_commitment

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path, port: int, chain_port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "TRUSTLEDGER_MAX_MERGE_DELAY": "4", "TRUSTLEDGER_INDEX_INTERVAL": "0.2"}
    return serve(["--home", str(home), "--port", str(port), "--chain-port", str(chain_port)], env, port)


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[str]:
    """``python -m api.serve ARGS`` in a session of its own, once /v1/health answers 200 on ``port``."""
    proc = subprocess.Popen([sys.executable, "-m", "api.serve", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"api.serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("api.serve did not answer within 90 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def _review(home: Path, base: str, order: str) -> dict[str, Any]:
    manifest = json.loads((home / "deployment.json").read_text())
    keys = json.loads((home / "dev-keys.json").read_text())
    token = json.loads((home / "dev-secrets.json").read_text())["api_token"]
    merchant = Account.from_key(keys["merchant"]).address
    product = keccak(text="gtin:06901234567892")
    att = {"orderCommitment": "0x" + order_commitment(order, merchant, b"\x01" * 32).hex(), "merchant": merchant,
           "productId": "0x" + product.hex(), "buyer": Account.from_key(keys["issuer"]).address,
           "purchasedAt": int(time.time()) - 60}
    signed = httpx.post(f"{base}/v1/purchases", json=att, headers={"Authorization": f"Bearer {token}"}).json()
    digest = attestation_digest(PurchaseAttestation(bytes.fromhex(att["orderCommitment"][2:]), merchant, product,
                                                    att["buyer"], att["purchasedAt"]),
                                chain_id=manifest["chainId"], governance=manifest["contracts"]["TrustGovernance"]
                                ["address"])
    assert Account._recover_hash(digest, signature=bytes.fromhex(signed["signature"][2:])) == signed["orderSigner"]
    body = {"productId": att["productId"], "merchant": merchant, "rating": 4, "text": "as described",
            "userId": "u-1", "attestation": att, "attestationSignature": signed["signature"]}
    r = httpx.post(f"{base}/v1/reviews", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _issue_certificate(home: Path, base: str) -> str:
    """The demo issuer issues a certificate the way any actor writes: prepare, sign the typed data, post."""
    written = issue_certificate(home, base)
    assert written["status"] == "confirmed" and written["actor"] == Account.from_key(
        json.loads((home / "dev-keys.json").read_text())["issuer"]).address
    ids: list[str] = written["certificateIds"]
    return ids[0]


def issue_certificate(home: Path, base: str, wait: float = 20) -> dict[str, Any]:
    """The demo issuer's certificate write, relayed and waited for ``wait`` s: the API's answer (200 only)."""
    keys = json.loads((home / "dev-keys.json").read_text())
    issuer, merchant = Account.from_key(keys["issuer"]), Account.from_key(keys["merchant"])
    now = int(time.time())
    record = {"productId": "0x" + keccak(text="gtin:06901234567892").hex(),
              "lot": "0x" + keccak(text="lot:live").hex(), "merchant": merchant.address,
              "issuer": issuer.address, "kind": 0, "documentHash": "0x" + "5a" * 32,
              "standard": "0x" + keccak(text="std:GB/T 19001-2016").hex(), "issuedAt": now - 60,
              "validUntil": now + 86400}
    prepared = httpx.post(f"{base}/v1/relay/prepare", json={"from": issuer.address, "contract": "CertificateRegistry",
                                                            "function": "issue", "args": {"certificate": record}})
    assert prepared.status_code == 200, prepared.text
    signature = Account.sign_typed_data(keys["issuer"], full_message=prepared.json()["typedData"]).signature
    r = httpx.post(f"{base}/v1/certificates", params={"wait": wait}, timeout=wait + 10,
                   json={"request": prepared.json()["request"], "signature": "0x" + bytes(signature).hex()})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_make_up_serves_anchors_and_survives_a_restart(tmp_path: Path) -> None:
    home, port, chain_port = tmp_path / "home", _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(home, port, chain_port)
    try:
        accepted = _review(home, base, "order-live-1")
        index = accepted["leafIndex"]
        deadline = time.monotonic() + 30
        while True:  # the service's own checkpointer anchors it, its indexer sees it
            got = httpx.get(f"{base}/v1/reviews/{index}").json()
            if got["inclusion"]["status"] == "anchored":
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
        cp = got["inclusion"]["checkpoint"]
        verify_inclusion(index, cp["treeSize"], bytes.fromhex(got["leafHash"][2:]),
                         [bytes.fromhex(p[2:]) for p in got["inclusion"]["proof"]], bytes.fromhex(cp["rootHash"][2:]))
        certificate = _issue_certificate(home, base)
        deadline = time.monotonic() + 30
        while (r := httpx.get(f"{base}/v1/certificates/{certificate}")).status_code != 200:
            assert time.monotonic() < deadline, r.text  # indexed by the service's own indexer
            time.sleep(0.2)
        assert r.json()["verdict"] == "valid"
        bundle = httpx.get(f"{base}/v1/bundles/certificates/{certificate}").content
        checked = httpx.post(f"{base}/v1/bundles/verify", params={"online": "true"}, content=bundle,
                             headers={"content-type": "application/json"}).json()
        assert checked["verdict"] == "valid", checked
        health = httpx.get(f"{base}/v1/health").json()
        assert health["status"] == "ok", health
        assert health["log"]["overdue"] == 0 and health["index"]["lagBlocks"] <= 2
    finally:
        first_out = _stop(proc)
    deployment = json.loads((home / "deployment.json").read_text())
    proc = _start(home, port, chain_port)
    try:
        again = httpx.get(f"{base}/v1/reviews/{index}").json()
        assert again["leafHash"] == got["leafHash"] and again["inclusion"]["status"] == "anchored"
        assert json.loads((home / "deployment.json").read_text()) == deployment  # nothing deployed again
        second = _review(home, base, "order-live-2")
        assert second["leafIndex"] == index + 1
    finally:
        _stop(proc)
    assert "API" in first_out and "/docs" in first_out


def test_a_taken_port_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "api.serve", "--home", str(tmp_path), "--port", str(port)],
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in r.stderr and "Traceback" not in r.stderr
