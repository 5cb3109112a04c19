"""Custody: a buyer key per order, held by the service, for consumers without a wallet.

A purchase dispute is opened and followed by the key the platform's purchase attestation names as ``buyer``
(the contract checks it). A consumer with a wallet names its own key. For one without, the platform asks here:

* ``POST /v1/purchases/custodial`` (operator token): the attestation of an order whose ``buyer`` is a key the
  service derives for that order alone, ``HMAC-SHA256(custody_key, "trustledger-custody/v1" || chainId ||
  governance || orderCommitment)`` reduced to a secp256k1 scalar. Nothing is stored: the same order always
  gives the same key, and no two orders share one, so a key can act on its own order's dispute only.
* ``POST /v1/custody/{orderCommitment}/writes`` (operator token): on the consumer's instruction, the platform
  names a buyer step (open the dispute, add evidence, appeal, confirm or contest a remedy, or one of the steps
  anyone may take); the service builds the ERC-2771 forward request, signs it with that order's key, and relays
  it like any other signed write (the relayer's key still holds no role). The chain records the per-order key,
  never the consumer's identity (only the claimant's salted commitment).

What the custody key can do is bounded by what a buyer may do, for orders whose attestation named a custodial
key; the order signer decides that when it attests. Writes are not idempotent by themselves (each takes the
key's next nonce): send an ``Idempotency-Key`` so a retried request is answered, not sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal, get_args

from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.eip712 import PurchaseAttestation

from ..deps import RelayDep, ServicesDep, TokenDep, write_gate
from ..problems import Problem
from ..relay import (
    DEFAULT_REQUEST_GAS,
    WRITE_RESPONSES,
    ForwardRequestIn,
    PrepareRequest,
    SignedRequest,
    Wait,
    WriteStatus,
    relay_write,
)
from ..state import Services
from ..types import Address, Hash32, Uint40, Uint256, hex_of
from .purchases import AttestationOut, attest_order
from .reviews import AttestationIn

ORDER = 16
router = APIRouter(tags=["purchases"])

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_DOMAIN = b"trustledger-custody/v1"

CustodialFunction = Literal["openPurchaseDispute", "submitEvidence", "appeal", "confirmRemedy", "contestRemedy",
                            "escalate", "finalize", "closeRemedy"]
"""What a buyer key may be asked to sign: the claimant's steps, and those anyone may take."""
_FUNCTIONS: tuple[str, ...] = get_args(CustodialFunction)


def custodial_account(s: Services, order_commitment: bytes) -> LocalAccount:
    """The buyer key of ``order_commitment``; 503 ``custody-not-configured`` without ``TRUSTLEDGER_CUSTODY_KEY``."""
    secret = s.settings.custody_key
    if secret is None:
        raise Problem(503, "custody-not-configured", "Custody not configured",
                      "this service holds no custody key (TRUSTLEDGER_CUSTODY_KEY): buyers must sign with their "
                      "own keys")
    m = s.ledger.manifest
    message = (_DOMAIN + m.chain_id.to_bytes(32, "big") + bytes.fromhex(m.address("TrustGovernance")[2:])
               + bytes(order_commitment))
    digest = hmac.new(bytes.fromhex(secret.get_secret_value().removeprefix("0x")), message, hashlib.sha256).digest()
    scalar = int.from_bytes(digest, "big") % (_SECP256K1_N - 1) + 1
    account: LocalAccount = Account.from_key(scalar.to_bytes(32, "big"))
    return account


class CustodialOrderIn(BaseModel):
    """An order to attest with a custodial buyer key (no ``buyer``: the service derives it)."""

    model_config = ConfigDict(extra="forbid")

    orderCommitment: Hash32 = Field(description="keccak256(orderId, merchant, salt); the salt stays with the platform")
    merchant: Address
    productId: Hash32
    purchasedAt: Uint40


class CustodialAttestationOut(AttestationOut):
    custodial: bool = Field(True, description="the buyer key is held by this service for this order only")


class CustodyOut(BaseModel):
    orderCommitment: str
    buyer: str = Field(description="the order's custodial buyer key's address")


class CustodyWriteIn(BaseModel):
    """A buyer step, named by function and arguments, for the service to sign with the order's key."""

    model_config = ConfigDict(extra="forbid")

    function: CustodialFunction
    args: list[Any] | dict[str, Any] = Field(default_factory=list, description=(
        "DisputeRegistry arguments by position or by name, as for POST /v1/relay/prepare"))
    gas: Uint256 = Field(DEFAULT_REQUEST_GAS, description="gas for the forwarded call")


OrderCommitment = Annotated[Hash32, Path(description="the order's commitment, as attested")]


@router.post("/v1/purchases/custodial", response_model=CustodialAttestationOut, status_code=201,
             dependencies=[TokenDep, Depends(write_gate)],
             summary="Attest an order with a buyer key this service holds for the consumer (operator token)",
             responses={401: {"description": "token-required, token-invalid, token-not-configured"},
                        503: {"description": "custody-not-configured, order-signer-not-configured, "
                                             "order-signer-mismatch"}})
def attest_custodial(body: CustodialOrderIn, s: ServicesDep) -> CustodialAttestationOut:
    buyer = custodial_account(s, body.orderCommitment).address
    att = PurchaseAttestation(body.orderCommitment, body.merchant, body.productId, buyer, body.purchasedAt)
    shown = AttestationIn.model_construct(  # values already validated
        orderCommitment=body.orderCommitment, merchant=body.merchant, productId=body.productId, buyer=buyer,
        purchasedAt=body.purchasedAt)
    out = attest_order(s, att, shown)
    return CustodialAttestationOut(**out.model_dump())


@router.get("/v1/custody/{orderCommitment}", response_model=CustodyOut, dependencies=[TokenDep],
            summary="The custodial buyer key of an order (operator token)",
            responses={401: {"description": "token-required, token-invalid, token-not-configured"},
                       503: {"description": "custody-not-configured"}})
def get_custody(orderCommitment: OrderCommitment, s: ServicesDep) -> CustodyOut:
    return CustodyOut(orderCommitment=hex_of(orderCommitment),
                      buyer=custodial_account(s, orderCommitment).address)


@router.post("/v1/custody/{orderCommitment}/writes", response_model=WriteStatus,
             dependencies=[TokenDep, Depends(write_gate)],
             summary="Sign a buyer step with the order's custodial key and relay it (operator token)",
             description="Builds `DisputeRegistry.<function>(args)` as an ERC-2771 forward request from the order's "
                         "custodial key (its next forwarder nonce, a deadline an hour after the chain's time), "
                         "signs it, and relays it like `POST /v1/disputes/...`: simulated first, refusals answered "
                         "with the contract's error. Send an `Idempotency-Key`: each call takes the next nonce.",
             responses={**WRITE_RESPONSES,
                        503: {"description": "custody-not-configured, relayer-not-configured"}})
def custody_write(orderCommitment: OrderCommitment, body: CustodyWriteIn, s: ServicesDep, relay: RelayDep,
                  response: Response, wait: Wait = 0.0) -> WriteStatus:
    account = custodial_account(s, orderCommitment)
    prepared = relay.prepare(PrepareRequest.model_validate(
        {"from": account.address, "contract": "DisputeRegistry", "function": body.function, "args": body.args,
         "gas": body.gas}))
    request = ForwardRequestIn.model_validate(prepared.request)
    signature = account.sign_message(relay.message(request)).signature
    return relay_write(relay, SignedRequest.model_construct(request=request, signature=bytes(signature)), response,
                       allowed={("DisputeRegistry", f) for f in _FUNCTIONS}, wait=wait)
