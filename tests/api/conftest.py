"""The API over the test chain: an app with a real ledger (SQLite file), driven through httpx in process.

Workers do not run (``start_workers=False``): a test moves the checkpointer, the indexer and the relayer's
outbox itself (``api.anchor()``, ``api.index()``), so every step is deterministic on py-evm and on a node.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from eth_utils import keccak
from web3.contract.contract import ContractFunction

from api.app import create_app
from api.config import ApiSettings
from ledger.chain import Transactor
from ledger.eip712 import PurchaseAttestation, sign_forward_request, sign_purchase_attestation
from ledger.manifest import Manifest
from ledger.reviews import order_commitment
from ledger.service import Ledger

from ..conftest import World

CONTENT_KEY = "0x" + keccak(text="api-test-content").hex()
PSEUDONYM_KEY = "0x" + keccak(text="api-test-pseudonym").hex()
API_TOKEN = "test-token-" + "x" * 32
PRODUCT = keccak(text="gtin:06901234567892")


def hx(b: bytes) -> str:
    return "0x" + b.hex()


@dataclass
class Api:
    """The client, the app's ledger and the chain world, with helpers to build signed requests."""

    client: httpx.AsyncClient
    ledger: Ledger
    world: World
    settings: ApiSettings
    app: Any

    @property
    def services(self) -> Any:
        return self.app.state.services

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_TOKEN}"}

    def signed(self, signer: Transactor, call: ContractFunction, *, gas: int = 2_000_000,
               deadline: int | None = None, nonce: int | None = None, key: Any = None) -> dict[str, Any]:
        """The JSON body of a relayed write: ``call`` signed by ``signer`` (or by ``key`` pretending to be it)."""
        d = self.world.d
        if nonce is None:
            nonce = d.forwarder.functions.nonces(signer.address).call()
        if deadline is None:
            deadline = self.world.chain.now() + 3600
        data = bytes.fromhex(call._encode_transaction_data()[2:])
        t = sign_forward_request(key if key is not None else signer.account.key, sender=signer.address,
                                 to=call.address, data=data, gas=gas, nonce=nonce, deadline=deadline,
                                 chain_id=d.chain_id, forwarder=d.forwarder.address)
        return {"request": {"from": signer.address, "to": call.address, "value": 0, "gas": gas, "nonce": nonce,
                            "deadline": deadline, "data": hx(data)}, "signature": hx(t[-1])}

    def attestation(self, order: str, *, merchant: str | None = None, product: bytes = PRODUCT,
                    buyer: str | None = None) -> tuple[PurchaseAttestation, bytes]:
        a = self.world.actors
        merchant = merchant or a.merchant.address
        att = PurchaseAttestation(order_commitment(order, merchant, b"\x11" * 32), merchant, product,
                                  buyer or a.stranger.address, int(time.time()) - 3600)
        sig = sign_purchase_attestation(a.order_signer.account.key, att, chain_id=self.world.d.chain_id,
                                        governance=self.world.d.governance.address)
        return att, sig

    def review_body(self, order: str, *, rating: int = 5, text: str = "sturdy, as promised",
                    **kw: Any) -> dict[str, Any]:
        att, sig = self.attestation(order, **kw)
        return {"productId": hx(att.product_id), "merchant": att.merchant, "rating": rating, "text": text,
                "userId": f"user-{order}",
                "attestation": {"orderCommitment": hx(att.order_commitment), "merchant": att.merchant,
                                "productId": hx(att.product_id), "buyer": att.buyer,
                                "purchasedAt": att.purchased_at},
                "attestationSignature": hx(sig)}

    def anchor(self) -> None:
        """Anchor everything sequenced so far, then index it."""
        for _ in range(100):
            result = self.ledger.checkpointer.tick()
            if result.action == "idle":
                break
            self.ledger.operator_sender.step()
        else:  # pragma: no cover
            raise AssertionError("the checkpointer did not settle")
        assert result.chain_size == result.local_size
        self.index()

    def index(self) -> None:
        """Index, and count the newly anchored reviews into the tally, as the service's index worker does
        (its takedown pass is left to the tests that check it)."""
        self.services.indexer.sync()
        assert self.services.tally is not None
        self.services.tally.catch_up(self.services.indexer.checkpoints())


def api_settings(world: World, tmp_path: Path, **overrides: Any) -> ApiSettings:
    manifest = tmp_path / "deployment.json"
    if not manifest.exists():
        Manifest.from_deployment(world.w3, world.d).write(manifest)
    values: dict[str, Any] = {
        "manifest_path": manifest, "database_url": f"sqlite:///{tmp_path}/api.db", "max_merge_delay": 30,
        "operator_key": hx(bytes(world.actors.operator.account.key)),
        "relayer_key": hx(bytes(world.actors.relayer.account.key)),
        "order_signer_key": hx(bytes(world.actors.order_signer.account.key)),
        "content_key": CONTENT_KEY, "pseudonym_key": PSEUDONYM_KEY, "api_token": API_TOKEN,
    }
    values.update(overrides)
    return ApiSettings(**values)


async def open_api(world: World, tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    settings = api_settings(world, tmp_path, **overrides)
    ledger = Ledger.open(settings, w3=world.w3)
    app = create_app(settings, ledger=ledger, start_workers=False, access_log=False)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield Api(client, ledger, world, settings, app)
    finally:
        ledger.close()


@pytest_asyncio.fixture
async def api(world: World, tmp_path: Path) -> AsyncIterator[Api]:
    async for a in open_api(world, tmp_path):
        yield a
