"""Reviews: submit one or a batch (answered with signed receipts bound to the log), read one with its proof.

A review needs no wallet: its authority is the platform's purchase attestation (``POST /v1/purchases``),
which admits one review per order. The text is personal data: stored sealed, shown while visible, erasable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.eip712 import PurchaseAttestation
from ledger.errors import LedgerError
from ledger.receipts import Receipt
from ledger.reviewlog import ReviewSubmission

from ..deps import ServicesDep, TokenDep, write_gate
from ..problems import Problem, problem_for
from ..state import Services
from ..types import Address, Hash32, Signature, Uint40, hex_of
from .log import Checkpoint, _checkpoint, _latest

ORDER = 1  # the hottest write path first: routes are matched in order
router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


class AttestationIn(BaseModel):
    """The platform order signer's purchase attestation (EIP-712 ``PurchaseAttestation``)."""

    model_config = ConfigDict(extra="forbid")

    orderCommitment: Hash32 = Field(description="keccak256(orderId, merchant, salt); the salt stays with the platform")
    merchant: Address
    productId: Hash32
    buyer: Address = Field(description="the key that acts for the consumer in a dispute")
    purchasedAt: Uint40


class ReviewIn(BaseModel):
    """A consumer's review, as the platform submits it."""

    model_config = ConfigDict(extra="forbid")

    productId: Hash32
    merchant: Address
    rating: int = Field(ge=1, le=5)
    text: str = Field(max_length=10_000, description="the review as written (personal data: sealed, erasable)")
    userId: str = Field(min_length=1, max_length=256,
                        description="the platform's user id; only its keyed pseudonym enters the log")
    attestation: AttestationIn
    attestationSignature: Signature
    submittedAt: Uint40 | None = Field(None, description="unix seconds; default now")

    def submission(self) -> ReviewSubmission:
        a = self.attestation
        return ReviewSubmission(
            product_id=self.productId, merchant=self.merchant, rating=self.rating, text=self.text,
            user_id=self.userId,
            attestation=PurchaseAttestation(a.orderCommitment, a.merchant, a.productId, a.buyer, a.purchasedAt),
            attestation_signature=self.attestationSignature, submitted_at=self.submittedAt)


class ReceiptOut(BaseModel):
    """The operator's signed promise: this leaf will be in a checkpoint anchored by ``submittedAt +
    maxMergeDelay`` (docs/formats.md). Decimal strings for uint64/uint256."""

    v: int
    leafHash: str
    leafIndex: str
    submittedAt: str
    maxMergeDelay: str
    chainId: str
    reviewLog: str
    signature: str


class ReviewAccepted(BaseModel):
    leafIndex: int
    leafHash: str
    receipt: ReceiptOut
    location: str


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviews: list[ReviewIn] = Field(min_length=1)


class BatchItem(BaseModel):
    """One review of a batch: accepted with its receipt, or refused with a problem (same types as alone)."""

    status: int
    accepted: ReviewAccepted | None = None
    problem: dict[str, Any] | None = None


class BatchOut(BaseModel):
    accepted: int
    refused: int
    results: list[BatchItem]


def _accepted(r: Receipt) -> ReviewAccepted:
    return ReviewAccepted(leafIndex=r.leaf_index, leafHash=hex_of(r.leaf_hash),
                          receipt=ReceiptOut.model_validate(r.to_json()), location=f"/v1/reviews/{r.leaf_index}")


@router.post("", response_model=ReviewAccepted, status_code=201, dependencies=[Depends(write_gate)],
             summary="Submit a review; answered with its signed receipt",
             responses={409: {"description": "duplicate-review: this purchase already has a review"},
                        422: {"description": "invalid review or attestation (forged-attestation, "
                                               "attestation-mismatch, ...)"}})
async def submit(body: ReviewIn, s: ServicesDep, response: Response) -> ReviewAccepted:
    receipt = await s.ledger.reviews.asubmit(body.submission())
    s.metrics.reviews.inc()
    response.headers["Location"] = f"/v1/reviews/{receipt.leaf_index}"
    return _accepted(receipt)


@router.post("/batch", response_model=BatchOut, dependencies=[Depends(write_gate)],
             summary="Submit many reviews at once; each gets its receipt or its own problem")
async def submit_batch(body: BatchIn, s: ServicesDep) -> BatchOut:
    if len(body.reviews) > s.settings.max_batch:
        raise Problem(422, "batch-too-large", "Batch too large", f"at most {s.settings.max_batch} reviews per batch")
    subs = [r.submission() for r in body.reviews]
    results = await anyio.to_thread.run_sync(s.ledger.reviews.submit_many, subs)
    items: list[BatchItem] = []
    for result in results:
        if isinstance(result, LedgerError):
            problem = problem_for(result)
            items.append(BatchItem(status=problem.status, problem=problem.body()))
        else:
            items.append(BatchItem(status=201, accepted=_accepted(result)))
    accepted = sum(1 for i in items if i.accepted is not None)
    s.metrics.reviews.inc(accepted)
    return BatchOut(accepted=accepted, refused=len(items) - accepted, results=items)


class Inclusion(BaseModel):
    status: Literal["anchored", "pending"]
    checkpoint: Checkpoint | None = None
    proof: list[str] | None = Field(None, description="RFC 6962 audit path against the checkpoint's root")
    deadline: int | None = Field(None, description="pending: unix time by which the receipt promises anchoring")


class ReviewOut(BaseModel):
    leafIndex: int
    leafHash: str
    leaf: dict[str, Any] = Field(description="the logged leaf (no personal data)")
    acceptedAt: float
    visible: bool
    text: str | None = Field(None, description="shown while visible and not erased")
    takedown: dict[str, Any] | None = None
    erasure: dict[str, Any] | None = None
    inclusion: Inclusion


def _review(s: Services, index: int) -> ReviewOut:
    stored = s.ledger.reviews.review(index)
    latest = _latest(s)
    if latest is not None and latest.size > index:
        proof = s.ledger.reviews.inclusion_proof(index, latest.size)
        inclusion = Inclusion(status="anchored", checkpoint=_checkpoint(latest), proof=[hex_of(p) for p in proof])
    else:
        inclusion = Inclusion(status="pending",
                              deadline=stored.accepted_ms // 1000 + s.ledger.settings.max_merge_delay)
    t = stored.takedown
    return ReviewOut(
        leafIndex=index, leafHash=hex_of(stored.leaf_hash), leaf=stored.leaf.to_json(),
        acceptedAt=stored.accepted_ms / 1000, visible=stored.visible,
        text=stored.content.text if stored.content is not None else None,
        takedown=None if t is None else {"kind": t.kind, "ref": hex_of(t.ref), "at": t.at_ms / 1000,
                                         "notice": t.describe()},
        erasure=None if stored.erasure is None else {"at": stored.erasure.erased_ms / 1000,
                                                     "reason": stored.erasure.reason},
        inclusion=inclusion)


@router.get("/{leafIndex}", response_model=ReviewOut,
            summary="A review with its inclusion proof against the latest anchored checkpoint",
            responses={404: {"description": "leaf-not-found"}})
def get_review(s: ServicesDep, leafIndex: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> ReviewOut:
    return _review(s, leafIndex)


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200, description="why (e.g. the consumer's request reference)")


@router.post("/{leafIndex}/erasure", response_model=ReviewOut, dependencies=[TokenDep, Depends(write_gate)],
             summary="Erase a review's personal content on request (operator token); the hash stays")
def erase(s: ServicesDep, body: ErasureIn, leafIndex: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> ReviewOut:
    s.ledger.reviews.erase(leafIndex, body.reason)
    s.log.info("review erased", extra={"leaf_index": leafIndex})
    return _review(s, leafIndex)
