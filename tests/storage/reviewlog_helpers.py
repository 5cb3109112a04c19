"""Shared keys and builders for the review log tests and their crash-test subprocess.

Every key is derived from a fixed name (test keys, never real ones), so a subprocess rebuilds the same
service and the same submissions as the test that started it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation
from ledger.receipts import ReceiptSigner
from ledger.reviewlog import ReviewLogService, ReviewSubmission
from ledger.reviews import order_commitment
from ledger.storage import Database
from ledger.vault import Vault

CHAIN_ID = 31337
GOVERNANCE = "0x" + keccak(text="trustledger-test-governance")[12:].hex()
REVIEW_LOG = "0x" + keccak(text="trustledger-test-review-log")[12:].hex()
OPERATOR_KEY = keccak(text="trustledger-test-receipt-key")
ORDER_SIGNER_KEY = keccak(text="trustledger-test-actor:order_signer")
STRANGER_KEY = keccak(text="trustledger-test-actor:stranger")
ORDER_SIGNER = Account.from_key(ORDER_SIGNER_KEY).address
BUYER = Account.from_key(keccak(text="trustledger-test-buyer")).address
MERCHANT = Account.from_key(keccak(text="trustledger-test-merchant")).address
OTHER_MERCHANT = Account.from_key(keccak(text="trustledger-test-merchant2")).address
PRODUCT = keccak(text="gtin:06901234567892")
OTHER_PRODUCT = keccak(text="gtin:06901234567893")
PSEUDONYM_KEY = keccak(text="trustledger-test-pseudonym-key")
CONTENT_KEY = keccak(text="trustledger-test-content-key")
ORDER_SALT = keccak(text="trustledger-test-order-salt")
MAX_MERGE_DELAY = 86_400
NOW = 1_800_000_000
REAL_TIME_PURCHASE = 1_700_000_000
"""purchased_at for tests whose service runs on the real clock (the crash test)."""


def receipt_signer() -> ReceiptSigner:
    return ReceiptSigner(OPERATOR_KEY, chain_id=CHAIN_ID, review_log=REVIEW_LOG, max_merge_delay=MAX_MERGE_DELAY)


def make_service(db: Database, *, clock: Callable[[], float] | None = None, **kwargs: Any) -> ReviewLogService:
    return ReviewLogService(
        db,
        receipt_signer=receipt_signer(),
        vault=Vault(CONTENT_KEY),
        pseudonym_key=PSEUDONYM_KEY,
        order_signer=ORDER_SIGNER,
        chain_id=CHAIN_ID,
        governance=GOVERNANCE,
        clock=clock if clock is not None else (lambda: float(NOW)),
        **kwargs,
    )


def attestation(order_id: str, *, merchant: str = MERCHANT, product: bytes = PRODUCT,
                purchased_at: int = NOW - 86_400) -> PurchaseAttestation:
    return PurchaseAttestation(
        order_commitment=order_commitment(order_id, merchant, ORDER_SALT),
        merchant=merchant,
        product_id=product,
        buyer=BUYER,
        purchased_at=purchased_at,
    )


def submission(
    order_id: str,
    *,
    text: str = "質量很好，物流很快。The kettle boils in 3 minutes.",
    rating: int = 4,
    user_id: str = "user-10086",
    merchant: str = MERCHANT,
    product: bytes = PRODUCT,
    att: PurchaseAttestation | None = None,
    key: bytes = ORDER_SIGNER_KEY,
    chain_id: int = CHAIN_ID,
    governance: str = GOVERNANCE,
    submitted_at: int | None = None,
    signature: bytes | None = None,
    purchased_at: int = NOW - 86_400,
) -> ReviewSubmission:
    att = att if att is not None else attestation(order_id, purchased_at=purchased_at)
    if signature is None:
        signature = sign_purchase_attestation(key, att, chain_id=chain_id, governance=governance)
    return ReviewSubmission(
        product_id=product,
        merchant=merchant,
        rating=rating,
        text=text,
        user_id=user_id,
        attestation=att,
        attestation_signature=signature,
        submitted_at=submitted_at,
    )
