"""The service assembled from settings: a review goes in, a receipt comes out, the checkpoint lands on chain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from ledger.deploy import deploy
from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation
from ledger.manifest import Manifest
from ledger.receipts import verify_receipt
from ledger.reviewlog import ReviewSubmission
from ledger.reviews import order_commitment
from ledger.service import Ledger, OrderSignerNotSet
from ledger.settings import KeyNotConfigured, Settings
from ledger.storage import Database

from ..conftest import PG_URL, World

pytestmark = pytest.mark.chain

CONTENT_KEY = "0x" + keccak(text="service-test-content").hex()
PSEUDONYM_KEY = "0x" + keccak(text="service-test-pseudonym").hex()


def _settings(world: World, database: Database, tmp_path: Path, **overrides: Any) -> Settings:
    manifest = tmp_path / "deployment.json"
    if not manifest.exists():
        Manifest.from_deployment(world.w3, world.d).write(manifest)
    url = f"sqlite:///{tmp_path}/trustledger.db"
    if database.dialect == "postgresql":
        url = f"{PG_URL}?options=-csearch_path%3D{database.schema}"
    values: dict[str, Any] = {
        "manifest_path": manifest, "database_url": url, "max_merge_delay": 30,
        "operator_key": "0x" + bytes(world.actors.operator.account.key).hex(),
        "relayer_key": "0x" + bytes(world.actors.relayer.account.key).hex(),
        "content_key": CONTENT_KEY, "pseudonym_key": PSEUDONYM_KEY,
    }
    values.update(overrides)
    return Settings(**values)


def _review(world: World, order: str) -> ReviewSubmission:
    a = world.actors
    product = keccak(text="gtin:06901234567892")
    att = PurchaseAttestation(order_commitment(order, a.merchant.address, b"\x11" * 32), a.merchant.address,
                              product, a.stranger.address, int(time.time()) - 3600)
    sig = sign_purchase_attestation(a.order_signer.account.key, att, chain_id=world.d.chain_id,
                                    governance=world.d.governance.address)
    return ReviewSubmission(product_id=product, merchant=a.merchant.address, rating=5, text="sturdy, as promised",
                            user_id="user-7", attestation=att, attestation_signature=sig)


def test_review_in_receipt_out_checkpoint_on_chain(world: World, database: Database, tmp_path: Path) -> None:
    with Ledger.open(_settings(world, database, tmp_path), w3=world.w3) as ledger:
        receipt = ledger.reviews.submit(_review(world, "order-1"))
        verify_receipt(receipt, operator=world.actors.operator.address, chain_id=world.d.chain_id,
                       review_log=world.d.review_log.address)
        assert receipt.max_merge_delay == 30
        ledger.checkpointer.tick()
        ledger.operator_sender.step()
        assert ledger.checkpointer.tick().action == "anchored"
        root, size = world.d.review_log.functions.latestCheckpoint().call()
        assert (size, bytes(root)) == (1, ledger.reviews.root())
        assert ledger.relayer_sender is not None
        assert ledger.relayer_sender.account.address == world.actors.relayer.address


def test_missing_content_key_is_named(world: World, database: Database, tmp_path: Path) -> None:
    with pytest.raises(KeyNotConfigured, match="TRUSTLEDGER_CONTENT_KEY"):
        Ledger.open(_settings(world, database, tmp_path, content_key=None), w3=world.w3)


def test_no_order_signer_on_chain_is_named(world: World, database: Database, tmp_path: Path) -> None:
    """A fresh deployment whose governor has not named the platform's order signer yet."""
    a = world.actors
    fresh = deploy(world.w3, a.admin, governor=a.governor.address, log_operator=a.operator.address)
    Manifest.from_deployment(world.w3, fresh).write(tmp_path / "deployment.json")
    with pytest.raises(OrderSignerNotSet):
        Ledger.open(_settings(world, database, tmp_path), w3=world.w3)
