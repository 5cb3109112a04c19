"""One replica of the service, for tests/node/test_replicas.py: ``python -m tests.node.replica PREFIX N OUT``.

Opens the ledger from ``TRUSTLEDGER_*`` settings (one PostgreSQL database and one chain shared with the other
replicas), starts it (review log, sender, checkpointer with its lease), submits ``N`` reviews of orders
``PREFIX-0 ...`` in batches of 20, and writes every receipt to ``OUT`` as a JSON line as soon as it has it (a
replica killed mid-load leaves the receipts it handed out). Then it waits until the chain's checkpoint covers
its last receipt and stops cleanly. ``TL_MERCHANT`` names the merchant, ``TL_PRODUCT`` the product (hex).
"""

from __future__ import annotations

import json
import os
import sys
import time

from ledger.eip712 import PurchaseAttestation, sign_purchase_attestation
from ledger.reviewlog import ReviewSubmission
from ledger.reviews import order_commitment
from ledger.service import Ledger
from ledger.settings import Settings


def main(prefix: str, count: int, out: str) -> int:
    settings = Settings()
    ledger = Ledger.open(settings)
    ledger.start()
    signer = settings.load_key("order_signer")
    merchant = os.environ["TL_MERCHANT"]
    product = bytes.fromhex(os.environ["TL_PRODUCT"].removeprefix("0x"))
    governance = ledger.manifest.address("TrustGovernance")
    last = -1
    try:
        with open(out, "a", encoding="utf-8") as f:
            for start in range(0, count, 20):
                subs = []
                for i in range(start, min(count, start + 20)):
                    order = f"{prefix}-{i}"
                    att = PurchaseAttestation(order_commitment(order, merchant, b"\x33" * 32), merchant, product,
                                              signer.address, int(time.time()) - 3600)
                    sig = sign_purchase_attestation(signer.key, att, chain_id=ledger.manifest.chain_id,
                                                    governance=governance)
                    subs.append(ReviewSubmission(product_id=product, merchant=merchant, rating=1 + i % 5,
                                                 text=f"review {order}", user_id=f"user-{order}", attestation=att,
                                                 attestation_signature=sig))
                for result in ledger.reviews.submit_many(subs):
                    if isinstance(result, Exception):
                        raise result
                    f.write(json.dumps(result.to_json()) + "\n")
                    last = max(last, result.leaf_index)
                f.flush()
        deadline = time.monotonic() + 90
        while ledger.checkpointer.chain_checkpoint()[0] <= last:
            if time.monotonic() > deadline:
                print(f"leaf {last} not anchored within 90 s", file=sys.stderr)
                return 1
            time.sleep(0.2)
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
