"""The consumer page over real HTTP: the API served by uvicorn in a thread, a JSON-RPC endpoint for the page's
own chain reads, and headless Chromium driven by Selenium.

Why real HTTP: the browser cannot talk to an in-process ASGI app, and the page's script asks the chain itself
over JSON-RPC. On py-evm (the default chain) there is no HTTP endpoint, so :class:`RpcProxy` serves one (read-only
methods, one request at a time under a lock: py-evm is not thread-safe); with ``--chain=anvil`` or ``hardhat``
the page talks to the node directly.

Chromium and chromedriver are Debian's (``apt-get install chromium chromium-driver``). When either is missing the
browser tests skip and say why (``pytest -ra`` lists it); under ``TRUSTLEDGER_REQUIRE_BROWSER=1`` (CI) they fail,
as the PostgreSQL half does under ``TRUSTLEDGER_REQUIRE_PG`` (tests/conftest.py ``require_pg``).

The scene (:func:`build_scene`) is built once per module on the session's deployed world, inside a chain snapshot
reverted at the end, so the page tests share one server, one browser and one chain state (the suite stays well
under a minute).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from api.app import create_app
from ledger.eip712 import certificate_id
from ledger.service import Ledger

from ..api.conftest import PRODUCT, Api, api_settings, hx
from ..chain.test_certificates import make_cert
from ..conftest import World

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
REVOKE_REASON = keccak(text="reason:browser-scene")
CATEGORY = keccak(text="category:defective")
EVIDENCE = keccak(text="evidence:photo")
REFUND = 1
RPC_METHODS = frozenset({"eth_call", "eth_chainId", "eth_blockNumber", "net_version"})
BURST_PRODUCT = keccak(text="gtin:browser-burst")
BURST_MERCHANT = "0x" + keccak(text="browser:burst-merchant")[12:].hex()
BURST_SIZE = 12
"""Reviews of :data:`BURST_PRODUCT` within a minute, none before: a review burst (10 or more in a day, against an
expected 1/28 with no history; docs/signals.md) of the product and of its merchant."""


# ----------------------------------------------------------------------------------------------- browser

def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """None when Chromium and chromedriver are both installed, else what is missing and how to install it."""
    missing = [what for what, names in (("chromium", CHROMIUM_NAMES), ("chromedriver", DRIVER_NAMES))
               if _which(names) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not found on PATH (Debian: apt-get install -y chromium chromium-driver)"


def require_browser() -> tuple[str, str]:
    """The Chromium and chromedriver paths; skip the calling test when either is missing, or fail it under
    TRUSTLEDGER_REQUIRE_BROWSER=1 (CI), where the browser tests must run."""
    why = browser_missing()
    if why is not None:
        if os.environ.get("TRUSTLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser tests need Chromium (TRUSTLEDGER_REQUIRE_BROWSER=1): {why}")
        pytest.skip(f"no browser for the consumer page tests: {why}")
    chromium, driver = _which(CHROMIUM_NAMES), _which(DRIVER_NAMES)
    assert chromium is not None and driver is not None
    return chromium, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium at a phone-ish width (the page must read on a phone), quit at the end of the module."""
    chromium, driver_path = require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for drivers on the network
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=412,915", "--no-first-run", "--disable-extensions", "--lang=en-GB"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# ----------------------------------------------------------------------------------------------- servers

def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class RpcProxy:
    """A JSON-RPC endpoint over HTTP for an in-process provider (py-evm has none): read-only methods only,
    serialised by a lock, with the CORS headers a browser needs to call it from the API's origin."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self.lock = threading.Lock()
        self.calls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                out = json.dumps(proxy.answer(json.loads(body))).encode()
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="rpc-proxy", daemon=True)
        self.thread.start()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one JSON-RPC request through web3's own methods (which format requests for eth-tester as a
        node would take them); a revert or a refusal is a JSON-RPC error, as a node answers it."""
        method, rid, params = request.get("method"), request.get("id"), list(request.get("params") or [])
        out: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
        if method not in RPC_METHODS:
            out["error"] = {"code": -32601, "message": f"{method} not served"}
            return out
        eth = self.w3.eth
        with self.lock:
            self.calls.append(str(method))
            try:
                if method == "eth_call":
                    call = params[0]
                    tx = {"to": self.w3.to_checksum_address(call["to"]), "data": call.get("data", "0x")}
                    out["result"] = "0x" + bytes(eth.call(tx, params[1] if len(params) > 1 else "latest")).hex()
                elif method == "eth_chainId":
                    out["result"] = hex(eth.chain_id)
                elif method == "eth_blockNumber":
                    out["result"] = hex(eth.block_number)
                else:
                    out["result"] = str(eth.chain_id)
            except Exception as exc:  # noqa: BLE001 - eth-tester raises what a node answers as an error
                out["error"] = {"code": 3, "message": f"execution reverted: {type(exc).__name__}: {exc}"[:300]}
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Site:
    """The API served over HTTP (uvicorn in a thread) beside the chain's JSON-RPC URL, with the test's Api
    helpers (signed bodies, anchoring) and a plain HTTP client."""

    def __init__(self, world: World, tmp_path: Path, rpc_url: str) -> None:
        self.settings = api_settings(world, tmp_path, rpc_url=rpc_url)
        self.ledger = Ledger.open(self.settings, w3=world.w3)
        self.app = create_app(self.settings, ledger=self.ledger, start_workers=False, access_log=False)
        self.rpc_url = rpc_url
        sock = _listening_socket()
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="uvicorn",
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.http = httpx.Client(base_url=self.base, timeout=30)
        # the tests' own helpers: review bodies, attestations, anchor() and index(); no ASGI client is used
        self.api = Api(client=None, ledger=self.ledger, world=world, settings=self.settings,  # type: ignore[arg-type]
                       app=self.app)

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.ledger.close()


@dataclasses.dataclass
class Scene:
    """What :func:`build_scene` made: certificate ids by name, the product's leaf indices (anchored ones and
    the pending one), the dispute's id, and the burst product's leaf indices (all anchored) and merchant."""

    certificates: dict[str, bytes]
    anchored: list[int]
    pending: int
    dispute: bytes
    burst: list[int]
    burst_merchant: str


def build_scene(site: Site) -> Scene:
    """Two certificates of the product (one valid, one revoked), four reviews anchored and one pending, and a
    purchase dispute answered by the merchant and ruled a refund: nothing unusual. Beside it, another product of
    another merchant with a review burst (:data:`BURST_SIZE` reviews in the same checkpoint, nothing before)."""
    api, w = site.api, site.api.world
    a, d = w.actors, w.d
    ids: dict[str, bytes] = {}
    for name in ("valid", "revoked"):
        c = dataclasses.replace(make_cert(w, f"browser-{name}"), product_id=PRODUCT)
        a.issuer.send(d.registry.functions.issue(c.as_tuple()))
        ids[name] = certificate_id(c)
    a.issuer.send(d.registry.functions.revoke(ids["revoked"], REVOKE_REASON))

    bodies = [api.review_body(f"browser-{i}", rating=r, text=f"review {i}: <b>not bold</b> & fine")
              for i, r in enumerate((5, 4, 2, 5))]
    r = site.http.post("/v1/reviews/batch", json={"reviews": bodies})
    assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
    anchored = [item["accepted"]["leafIndex"] for item in r.json()["results"]]
    merchant = str(to_checksum_address(BURST_MERCHANT))
    burst_bodies = [api.review_body(f"browser-burst-{i}", rating=5, text=f"burst {i}", merchant=merchant,
                                    product=BURST_PRODUCT) for i in range(BURST_SIZE)]
    r = site.http.post("/v1/reviews/batch", json={"reviews": burst_bodies})
    assert r.status_code == 200 and r.json()["accepted"] == BURST_SIZE, r.text
    burst = [item["accepted"]["leafIndex"] for item in r.json()["results"]]
    api.anchor()
    r = site.http.post("/v1/reviews", json=api.review_body("browser-pending", rating=1, text="still waiting"))
    assert r.status_code == 201, r.text
    pending = int(r.json()["leafIndex"])

    # a purchase dispute, sent directly by its actors (no relay): opened, answered, ruled a refund
    buyer = a.stranger
    att, sig = api.attestation("browser-dispute", buyer=buyer.address)
    dr = d.disputes.functions
    buyer.send(dr.openPurchaseDispute(att.as_tuple(), sig, keccak(text="claimant"), CATEGORY, EVIDENCE, "ipfs://x"))
    did = bytes(dr.purchaseDisputeId(att.order_commitment).call())
    a.merchant.send(dr.respond(did, b"\x00" * 32, ""))
    a.arbitrator.send(dr.rule(did, REFUND, 1999, keccak(text="refund in full")))
    api.index()
    return Scene(ids, anchored, pending, did, burst, merchant)


@pytest.fixture(scope="module")
def site(_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The API over HTTP on the session's world, inside a chain snapshot reverted after the module (as the
    ``world`` fixture does per test)."""
    chain = _world.chain
    chain.catch_up()
    snap = chain.snapshot()
    endpoint = getattr(_world.w3.provider, "endpoint_uri", None)
    proxy = None if endpoint else RpcProxy(_world.w3)
    rpc_url = str(endpoint) if endpoint else proxy.url  # type: ignore[union-attr]
    s = Site(_world, tmp_path_factory.mktemp("site"), rpc_url)
    try:
        yield s
    finally:
        s.close()
        if proxy is not None:
            proxy.close()
        chain.revert(snap)
        _world.actors.reset_nonces()


@pytest.fixture(scope="module")
def scene(site: Site) -> Scene:
    return build_scene(site)


__all__ = ["BURST_PRODUCT", "BURST_SIZE", "PRODUCT", "Scene", "Site", "browser_missing", "hx", "require_browser"]
