"""Purchase attestations: the platform's order system asks the order signer to attest a completed order.

Token-authenticated (the operator's automation). Each attestation admits one review and one open dispute for
its order. The order id never reaches the service: the platform sends only its commitment
``keccak256(orderId, merchant, salt)`` and keeps the salt.
"""

from __future__ import annotations

import coincurve
import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ledger.eip712 import PurchaseAttestation
from ledger.reviewlog import attestation_digest
from ledger.settings import KeyNotConfigured
from ledger.storage import now_ms
from ledger.storage.schema import api_attestations

from ..deps import ServicesDep, TokenDep, write_gate
from ..problems import Problem
from ..state import Services
from ..types import hex_of
from .reviews import AttestationIn

ORDER = 15
router = APIRouter(prefix="/v1/purchases", tags=["purchases"])


class AttestationOut(BaseModel):
    attestation: AttestationIn
    signature: str = Field(description="the order signer's EIP-712 signature (65 bytes, hex)")
    orderSigner: str
    domain: dict[str, object]


@router.post("", response_model=AttestationOut, status_code=201, dependencies=[TokenDep, Depends(write_gate)],
             summary="Attest a completed order (the platform's order system; operator token)",
             responses={409: {"description": "attestation-conflict: the order was attested with other terms"}})
def attest(body: AttestationIn, s: ServicesDep) -> AttestationOut:
    att = PurchaseAttestation(body.orderCommitment, body.merchant, body.productId, body.buyer, body.purchasedAt)
    return attest_order(s, att, body)


def _record(s: Services, order: bytes, digest: bytes) -> None:
    """Remember the attestation of ``order`` (its digest); 409 ``attestation-conflict`` when the order was
    attested before with other terms. Asking again with the same terms is answered with the same signature."""
    for _ in range(2):  # a concurrent first attestation of the same order: read what it stored
        try:
            with s.ledger.db.write() as conn:
                held = conn.execute(sa.select(api_attestations.c.digest)
                                    .where(api_attestations.c.order_commitment == order)).scalar_one_or_none()
                if held is None:
                    conn.execute(api_attestations.insert().values(order_commitment=order, digest=digest,
                                                                  created_ms=now_ms()))
        except sa.exc.IntegrityError:
            continue
        if held is not None and bytes(held) != digest:
            raise Problem(409, "attestation-conflict", "Order attested with other terms",
                          f"order 0x{order.hex()} was attested before with another buyer, merchant, product or "
                          "time; an order gets one attestation (its one review and one dispute go to it)")
        return


def attest_order(s: Services, att: PurchaseAttestation, body: AttestationIn) -> AttestationOut:
    """Sign ``att`` with the order signer's key, after checking it is the one the governance contract names."""
    try:
        signer = s.settings.load_key("order_signer")
    except KeyNotConfigured:
        raise Problem(503, "order-signer-not-configured", "Order signer not configured",
                      "this service holds no order signer key (TRUSTLEDGER_ORDER_SIGNER_KEY)") from None
    expected = s.extra.get("order_signer_on_chain")
    if expected is None:
        expected = s.extra["order_signer_on_chain"] = \
            s.contracts["TrustGovernance"].functions.orderSigner().call()
    if expected != signer.address:
        raise Problem(503, "order-signer-mismatch", "Order signer mismatch",
                      "this service's order signer key is not the one the governance contract names; "
                      "its attestations would be refused")
    governance = s.ledger.manifest.address("TrustGovernance")
    chain_id = s.ledger.manifest.chain_id
    # the digest by ledger.reviewlog's direct encoding and libsecp256k1: the same signature as
    # ledger.eip712.sign_purchase_attestation (RFC 6979), at a small fraction of eth-account's typed-data cost
    digest = attestation_digest(att, chain_id=chain_id, governance=governance)
    _record(s, bytes(att.order_commitment), digest)
    rsv = coincurve.PrivateKey(bytes(signer.key)).sign_recoverable(digest, hasher=None)
    signature = rsv[:64] + bytes([rsv[64] + 27])
    return AttestationOut(attestation=body, signature=hex_of(signature), orderSigner=signer.address,
                          domain={"name": "TrustLedger Purchase", "version": "1", "chainId": chain_id,
                                  "verifyingContract": governance})
