"""Proof bundles v1: export one for a certificate or a review; post one to have it verified (docs/api-read.md).

A bundle (docs/proof-bundle.md, schema docs/proof-bundle.schema.json) is one JSON file that verifies with no
server at all (``ledger.bundle.verify_bundle``); the export is its exchange form (``dumps_bundle``: 2-space
indent, trailing newline), answered as an attachment.

``POST /v1/bundles/verify`` takes the file as the raw request body (so the library's strict parser sees the
bytes themselves: duplicate members, floats and NaN are refused, which a JSON object already parsed by the
framework would hide) and answers the verification: verdict and named reasons. A body that is not a bundle is
422 with the parser's own type (``malformed-bundle``, ``unknown-bundle-member``, ``missing-bundle-member``,
``wrong-bundle-type``, ``malformed-bundle-hex``, ``bundle-value-out-of-range``, ``unsupported-bundle-version``),
its detail naming the member at fault. The body size is limited by the service (``max_body_bytes``) and by the
format (``MAX_BUNDLE_BYTES``, 1 MiB).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ledger.bundle import (
    BundleVerification,
    dumps_bundle,
    export_certificate_bundle,
    export_review_bundle,
    verify_bundle,
)
from ledger.verify import Evidence

from ..deps import ServicesDep
from ..problems import Problem
from ..state import Services
from ..types import Hash32, hex_of
from .products import call_chain

ORDER = 70
router = APIRouter(prefix="/v1/bundles", tags=["bundles"])

BUNDLE_MEDIA = "application/json"
_BUNDLE_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"description": "proof bundle v1 (docs/proof-bundle.md; schema "
                                         "docs/proof-bundle.schema.json), as a file attachment",
                          "content": {BUNDLE_MEDIA: {"schema": {"type": "object"}}}}}


VerdictOut = Literal["valid", "invalid", "pending", "unknown"]
_VERDICTS: dict[str, VerdictOut] = {"valid": "valid", "invalid": "invalid", "pending": "pending", "unknown": "unknown"}


class ReasonOut(BaseModel):
    code: str = Field(description="a stable ledger.verify.ReasonCode value, e.g. review.inclusion-failed")
    message: str = Field(description="what was expected and what was found")


class EvidenceOut(BaseModel):
    event: str
    contract: str
    tx: str
    block: int
    time: int
    logIndex: int | None


class BundleVerificationOut(BaseModel):
    """The verification of a posted bundle (``ledger.bundle.BundleVerification``)."""

    kind: Literal["certificate", "review"]
    subject: str = Field(description="the certificate id, or the review's leaf hash")
    verdict: VerdictOut
    reasons: list[ReasonOut] = Field(description="every failed check, or the one reason the verdict is good")
    online: bool = Field(description="whether the chain was consulted")
    statusNow: str | None = Field(description="a certificate's status at the chain's latest block (online only)")
    trustedDeployment: bool = Field(description="whether the bundle's chain id and contract addresses were "
                                                "checked to be this service's deployment")
    evidence: EvidenceOut = Field(description="the anchoring event the bundle rests on, as the bundle states it")


def evidence_out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(event=e.event, contract=e.contract, tx=hex_of(e.tx_hash), block=e.block_number,
                       time=e.block_time, logIndex=e.log_index)


def _verification_out(v: BundleVerification, trusted: bool) -> BundleVerificationOut:
    return BundleVerificationOut(
        kind="certificate" if v.kind == "certificate" else "review", subject=hex_of(v.subject),
        verdict=_VERDICTS[v.verdict.value],
        reasons=[ReasonOut(code=str(r.code), message=r.message) for r in v.reasons], online=v.online,
        statusNow=None if v.status_now is None else v.status_now.name.lower(), trustedDeployment=trusted,
        evidence=evidence_out(v.evidence))


def _attachment(body: bytes, filename: str) -> Response:
    return Response(content=body, media_type=BUNDLE_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/certificates/{certificateId}", response_class=Response, responses={
    **_BUNDLE_RESPONSE, 404: {"description": "unknown-certificate"}, 503: {"description": "chain-unavailable"}},
    summary="Export a certificate's proof bundle (verifies with no server)")
def certificate_bundle(s: ServicesDep, certificateId: Annotated[Hash32, Path()]) -> Response:
    if s.indexer.certificate(certificateId) is None:
        raise Problem(404, "unknown-certificate", "Unknown certificate",
                      f"no certificate {hex_of(certificateId)} is anchored (indexed)")
    ledger = s.ledger
    bundle = call_chain(lambda: export_certificate_bundle(certificateId, w3=ledger.w3, manifest=ledger.manifest,
                                                          indexer=s.indexer))
    return _attachment(dumps_bundle(bundle), f"certificate-{hex_of(certificateId)}.json")


@router.get("/reviews/{leafIndex}", response_class=Response, responses={
    **_BUNDLE_RESPONSE, 404: {"description": "leaf-not-found, or unknown-checkpoint"},
    409: {"description": "review-not-anchored: no anchored checkpoint covers the leaf yet (retry after the "
                         "next one)"},
    503: {"description": "chain-unavailable"}},
    summary="Export a review's proof bundle: its leaf, inclusion proof and the anchored checkpoint")
def review_bundle(s: ServicesDep, leafIndex: Annotated[int, Path(ge=0, le=2**63 - 1)],
                  checkpoint: Annotated[int | None, Query(ge=0, le=2**63 - 1, description=(
                      "prove against this checkpoint (it must cover the leaf); default the first covering "
                      "one"))] = None) -> Response:
    ledger = s.ledger
    size = ledger.reviews.size
    if leafIndex >= size:
        raise Problem(404, "leaf-not-found", "Leaf not found", f"no leaf {leafIndex}: the log has {size} leaves")
    checkpoints = s.indexer.checkpoints()
    if checkpoint is not None:
        chosen = [c for c in checkpoints if c.index == checkpoint]
        if not chosen:
            raise Problem(404, "unknown-checkpoint", "Unknown checkpoint",
                          f"no checkpoint {checkpoint} is anchored (indexed)")
        if chosen[0].size <= leafIndex:
            raise Problem(422, "checkpoint-does-not-cover", "Checkpoint does not cover the leaf",
                          f"checkpoint {checkpoint} covers leaves [0, {chosen[0].size}); leaf {leafIndex} is not "
                          "among them")
    elif not any(c.size > leafIndex for c in checkpoints):
        raise Problem(409, "review-not-anchored", "Review not anchored yet",
                      f"no anchored checkpoint covers leaf {leafIndex} yet; it is promised within the maximum "
                      f"merge delay ({ledger.settings.max_merge_delay} s) of its receipt",
                      headers={"Retry-After": str(max(1, min(60, ledger.settings.max_merge_delay)))})
    bundle = call_chain(lambda: export_review_bundle(leafIndex, store=ledger.reviews, w3=ledger.w3,
                                                     manifest=ledger.manifest, indexer=s.indexer,
                                                     checkpoint_index=checkpoint))
    return _attachment(dumps_bundle(bundle), f"review-{leafIndex}.json")


def _verify(s: Services, body: bytes, online: bool, trusted: bool) -> BundleVerificationOut:
    ledger = s.ledger
    result = verify_bundle(body, w3=ledger.w3 if online else None, trusted=ledger.manifest if trusted else None)
    return _verification_out(result, trusted)


_VERIFY_BODY = {"requestBody": {"required": True, "description": (
    "a proof bundle v1 file as exported (docs/proof-bundle.md; schema docs/proof-bundle.schema.json)"),
    "content": {BUNDLE_MEDIA: {"schema": {"type": "object"}}}}}


@router.post("/verify", response_model=BundleVerificationOut, openapi_extra=_VERIFY_BODY,
             summary="Verify a proof bundle: offline always; online=true also against the chain",
             responses={413: {"description": "body-too-large"},
                        415: {"description": "unsupported-media-type: send application/json"},
                        422: {"description": "the body is not a bundle: malformed-bundle, unknown-bundle-member, "
                                             "missing-bundle-member, wrong-bundle-type, malformed-bundle-hex, "
                                             "bundle-value-out-of-range, unsupported-bundle-version"}})
async def verify(request: Request, s: ServicesDep,
                 online: Annotated[bool, Query(description=(
                     "also check against the chain this service reads (the transaction, block, code at every "
                     "address, isCheckpoint / statusAt)"))] = False,
                 trusted: Annotated[bool, Query(description=(
                     "check that the bundle's chain id and contract addresses are this service's deployment "
                     "(bundle.untrusted-chain / bundle.untrusted-contract); false to check a bundle of another "
                     "deployment on its own terms"))] = True) -> BundleVerificationOut:
    # async only to read the raw body; the verification (and any chain reads) runs in the threadpool
    media = request.headers.get("content-type", BUNDLE_MEDIA).split(";")[0].strip().lower()
    if media != BUNDLE_MEDIA and not media.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      f"send the bundle as {BUNDLE_MEDIA}, not {media or 'no content type'}")
    body = await request.body()
    return await anyio.to_thread.run_sync(lambda: call_chain(lambda: _verify(s, body, online, trusted)))
