"""Disputes: every step of ``DisputeRegistry``, relayed with its actor's signature, and each dispute's history.

Writes are ERC-2771 forward requests signed by the actor whose step it is (api/relay.py): each route relays
exactly one registry function, and a route under ``/{disputeId}`` also checks that the request's ``id`` is the
path's (422 ``wrong-action`` otherwise). The contract checks the role: the wrong actor is 403 ``forbidden``
with the contract's ``errorName`` (``DisputeRegistryUnauthorized``). docs/api-disputes.md lists the routes,
who signs each, and the problem types; docs/disputes.md the state machine.

Reads come from the index: one dispute with every event (transaction, block, time) and the published text of
each ruling's rationale; lists by product, merchant, kind, review and phase with a cursor. Rationale texts are
public and need no signature: ``POST /{disputeId}/rationales`` accepts a text only when its keccak256 is the
``rationaleHash`` of one of the dispute's rulings.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError

from ledger.indexer import DisputeRecord, HistoryEntry
from ledger.product import DISPUTE_KINDS, OUTCOMES
from ledger.storage import now_ms
from ledger.storage.schema import api_rationales, idx_disputes

from ..deps import RelayDep, ServicesDep, write_gate
from ..problems import Problem
from ..relay import WRITE_RESPONSES, Relay, SignedRequest, Wait, WriteStatus, relay_write
from ..state import Services
from ..types import Address, Hash32, hex_of

ORDER = 50
router = APIRouter(prefix="/v1/disputes", tags=["disputes"])

REGISTRY = "DisputeRegistry"
ZERO_ADDRESS = "0x" + "00" * 20

PHASES = ("none", "awaitingResponse", "awaitingRuling", "ruled", "appealed", "escalated", "remedyDue",
          "remedyReported", "remedyContested", "closed")
"""``IDisputeRegistry.Phase`` by value, spelled as in JSON."""

Phase = Literal["awaitingResponse", "awaitingRuling", "ruled", "appealed", "escalated", "remedyDue",
                "remedyReported", "remedyContested", "closed"]
Kind = Literal["purchase", "reviewChallenge"]

_PURCHASE_TAG = keccak(text="trustledger.dispute.purchase")
_REVIEW_TAG = keccak(text="trustledger.dispute.review")
_RULINGS = ("DisputeRuled", "RemedyRuled")

DisputeId = Annotated[Hash32, Path(description="the dispute id (0x and 64 hex digits)")]



# -- models ---------------------------------------------------------------------------------------------------


class DisputeWrite(WriteStatus):
    """A relayed dispute step and what became of it, with the dispute it concerns."""

    disputeId: str = Field(description="the dispute's id (for an opening: computed from the request, as the "
                                       "contract computes it)")
    dispute: str = Field(description="where to read the dispute (once indexed)")


class DisputeEvent(BaseModel):
    """One event in the life of a dispute, with where the chain records it."""

    event: str
    args: dict[str, Any] = Field(description="the event's arguments: bytes as 0x-hex, wide integers as strings")
    txHash: str
    blockNumber: int
    logIndex: int
    blockTime: int = Field(description="unix seconds")


class Ruling(BaseModel):
    """A ruling (``DisputeRuled``) or a ruling on a contested remedy (``RemedyRuled``), with its published
    rationale text when someone has published it."""

    event: Literal["DisputeRuled", "RemedyRuled"]
    round: int | None = Field(None, description="0 first instance, 1 appeal (DisputeRuled)")
    arbitrator: str
    outcome: str | None = Field(None, description="DisputeRuled: refund, replacement, partialRefund, rejected, "
                                                  "reviewRemoved or reviewUpheld")
    remedyAmount: str | None = None
    byDefault: bool | None = None
    fulfilled: bool | None = Field(None, description="RemedyRuled: whether the remedy was fulfilled")
    rationaleHash: str
    rationale: str | None = Field(None, description="the published text; keccak256 of its UTF-8 is rationaleHash")
    txHash: str
    blockNumber: int
    blockTime: int


class DisputeSummary(BaseModel):
    """A dispute's state as ``DisputeRegistry.dispute(id)`` reports it (as indexed)."""

    id: str
    kind: Kind
    phase: str = Field(description="awaitingResponse, awaitingRuling, ruled, appealed, escalated, remedyDue, "
                                   "remedyReported, remedyContested or closed")
    resume: str | None = Field(None, description="escalated: the phase it returns to once a panel is appointed")
    outcome: str | None = Field(None, description="the latest ruling's outcome (null before the first ruling)")
    round: int
    byDefault: bool
    panel: bool
    cursor: int = Field(description="candidates of the public assignment rule consumed")
    openedAt: int
    responseDeadline: int
    rulingDeadline: int
    appealDeadline: int
    remedyDeadline: int
    claimant: str
    respondent: str | None = Field(None, description="null when nobody answers (the operator's own referral)")
    merchant: str
    arbitrator: str | None
    firstArbitrator: str | None
    remedyAmount: str = Field(description="uint96, decimal, in the smallest unit of the order's currency")
    subject: str
    productId: str | None = Field(None, description="purchase disputes")
    orderCommitment: str | None = Field(None, description="purchase disputes")
    leafIndex: int | None = Field(None, description="review challenges: the review's leaf index")
    category: str
    location: str


class DisputeOut(DisputeSummary):
    """A dispute with its whole history and its rulings' rationales."""

    claimantCommitment: str | None = Field(None, description="purchase disputes: the salted commitment to the "
                                                             "consumer's identity (never the identity)")
    review: str | None = Field(None, description="review challenges: the review's resource")
    history: list[DisputeEvent] = Field(description="every event of the dispute in chain order")
    rulings: list[Ruling]


class DisputePage(BaseModel):
    items: list[DisputeSummary]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class RationaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000,
                      description="the ruling's reasons; accepted when keccak256 of exactly its UTF-8 bytes (no "
                                  "normalization) is the rationaleHash of one of the dispute's rulings")

    @field_validator("text")
    @classmethod
    def _utf8(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text is not encodable as UTF-8 (a lone surrogate?)") from None
        if "\x00" in value:
            raise ValueError("text contains a NUL character")
        return value


class RationaleOut(BaseModel):
    disputeId: str
    rationaleHash: str
    text: str
    publishedAt: float = Field(description="unix seconds, when this service first published it")
    dispute: str


# -- writes ---------------------------------------------------------------------------------------------------


def _location(dispute_id: bytes) -> str:
    return f"/v1/disputes/{hex_of(dispute_id)}"


def purchase_dispute_id(order_commitment: bytes) -> bytes:
    """``DisputeRegistry.purchaseDisputeId``."""
    return keccak(encode(["bytes32", "bytes32"], [_PURCHASE_TAG, order_commitment]))


def review_challenge_id(challenger: str, leaf_index: int) -> bytes:
    """``DisputeRegistry.reviewChallengeId``."""
    return keccak(encode(["bytes32", "address", "uint64"], [_REVIEW_TAG, challenger, leaf_index]))


def _opened_id(relay: Relay, signed: SignedRequest, function: str) -> bytes:
    _, _, args = relay.decode(signed.request)
    if function == "openPurchaseDispute":
        att = args["attestation"]
        commitment = att["orderCommitment"] if isinstance(att, dict) else att[0]
        return purchase_dispute_id(bytes(commitment))
    return review_challenge_id(signed.request.from_, int(args["leafIndex"]))


def _write(relay: Relay, signed: SignedRequest, response: Response, function: str, wait: float,
           dispute_id: bytes | None = None) -> DisputeWrite:
    expect = None if dispute_id is None else {"id": dispute_id}
    status = relay_write(relay, signed, response, allowed={(REGISTRY, function)}, expect=expect, wait=wait)
    if dispute_id is None:
        dispute_id = _opened_id(relay, signed, function)
    return DisputeWrite(**status.model_dump(), disputeId=hex_of(dispute_id), dispute=_location(dispute_id))


@router.post("", response_model=DisputeWrite, dependencies=[Depends(write_gate)], responses=WRITE_RESPONSES,
             summary="Open a purchase dispute (signed by the buyer key the attestation names)",
             description="Relays `DisputeRegistry.openPurchaseDispute(attestation, orderSignerSignature, "
                         "claimantCommitment, category, evidenceHash, evidenceUri)`, signed by the attestation's "
                         "`buyer` key. The attestation comes from the platform (`POST /v1/purchases`); each admits "
                         "one dispute. The dispute id is answered at once (it is the contract's "
                         "`purchaseDisputeId(orderCommitment)`).")
def open_purchase_dispute(signed: SignedRequest, relay: RelayDep, response: Response,
                          wait: Wait = 0.0) -> DisputeWrite:
    return _write(relay, signed, response, "openPurchaseDispute", wait)


@router.post("/challenges", response_model=DisputeWrite, dependencies=[Depends(write_gate)],
             responses=WRITE_RESPONSES,
             summary="Challenge a review (an admitted merchant; or the log operator's referral)",
             description="Relays `DisputeRegistry.challengeReview(leafIndex, merchant, category, evidenceHash, "
                         "evidenceUri)` signed by the merchant (answered by the log operator), or by the log "
                         "operator itself (straight to the arbitrator). The review must be in the anchored log. "
                         "The dispute id is `reviewChallengeId(signer, leafIndex)`.")
def challenge_review(signed: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0.0) -> DisputeWrite:
    return _write(relay, signed, response, "challengeReview", wait)


# (path under /{disputeId}, registry function, who signs, summary)
STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("evidence", "submitEvidence", "the claimant or the respondent", "Add evidence (hash and URI)"),
    ("response", "respond", "the respondent", "Answer a dispute before the response deadline"),
    ("recusal", "recuse", "the assigned arbitrator", "Step aside; the public rule assigns the next arbitrator"),
    ("escalation", "escalate", "anyone", "After a missed ruling deadline: the next arbitrator, or await a panel"),
    ("panel", "appointPanel", "a governor", "Appoint a panel for an escalated dispute"),
    ("rulings", "rule", "the assigned arbitrator", "Rule: outcome, remedy amount and rationale hash"),
    ("appeal", "appeal", "the claimant or the respondent", "Appeal a first-instance ruling within the window"),
    ("finalization", "finalize", "anyone", "Make a first-instance ruling final after the appeal window"),
    ("remedy/report", "reportRemedy", "the merchant", "Report the ordered remedy fulfilled"),
    ("remedy/confirmation", "confirmRemedy", "the claimant", "Confirm the reported remedy"),
    ("remedy/contest", "contestRemedy", "the claimant", "Contest the reported remedy before the deadline"),
    ("remedy/closure", "closeRemedy", "anyone", "Close a reported remedy not contested in time (deemed confirmed)"),
    ("remedy/rulings", "ruleOnRemedy", "the assigned arbitrator", "Rule on a contested remedy"),
)


def _add_step(suffix: str, function: str, who: str, summary: str) -> None:
    def step(disputeId: DisputeId, signed: SignedRequest, relay: RelayDep, response: Response,
             wait: Wait = 0.0) -> DisputeWrite:
        return _write(relay, signed, response, function, wait, disputeId)

    step.__name__ = f"dispute_{re.sub(r'(?<!^)(?=[A-Z])', '_', function).lower()}"
    router.add_api_route(
        f"/{{disputeId}}/{suffix}", step, methods=["POST"], response_model=DisputeWrite, summary=summary,
        description=f"Relays `DisputeRegistry.{function}` signed by {who}; the request's `id` must be the path's "
                    f"(422 `wrong-action` otherwise).",
        dependencies=[Depends(write_gate)], responses=WRITE_RESPONSES)


for _suffix, _function, _who, _summary in STEPS:
    _add_step(_suffix, _function, _who, _summary)


# -- reads ----------------------------------------------------------------------------------------------------


def _address(value: Any) -> str | None:
    """A stored address (bytes, or a checksummed string) as checksummed text; None for the zero address."""
    text = str(to_checksum_address(value))
    return None if text == ZERO_ADDRESS else text


def _summary_values(r: Any) -> dict[str, Any]:
    """The summary's members from an ``idx_disputes`` row or a :class:`DisputeRecord` (same attribute names)."""
    subject = bytes(r.subject)
    purchase = r.kind == 0
    dispute_id = bytes(r.dispute_id)
    return {
        "id": hex_of(dispute_id), "kind": DISPUTE_KINDS[r.kind], "phase": PHASES[r.phase],
        "resume": PHASES[r.resume] if r.resume else None, "outcome": OUTCOMES.get(r.outcome),
        "round": r.round, "byDefault": bool(r.by_default), "panel": bool(r.panel), "cursor": r.cursor,
        "openedAt": r.opened_at, "responseDeadline": r.response_deadline, "rulingDeadline": r.ruling_deadline,
        "appealDeadline": r.appeal_deadline, "remedyDeadline": r.remedy_deadline,
        "claimant": _address(r.claimant) or ZERO_ADDRESS, "respondent": _address(r.respondent),
        "merchant": _address(r.merchant) or ZERO_ADDRESS, "arbitrator": _address(r.arbitrator),
        "firstArbitrator": _address(r.first_arbitrator), "remedyAmount": str(int(r.remedy_amount)),
        "subject": hex_of(subject), "productId": hex_of(bytes(r.product_id)) if r.product_id is not None else None,
        "orderCommitment": hex_of(subject) if purchase else None,
        "leafIndex": None if purchase else int.from_bytes(subject, "big"),
        "category": hex_of(bytes(r.category)), "location": _location(dispute_id),
    }


def _event(h: HistoryEntry) -> DisputeEvent:
    return DisputeEvent(event=h.event, args=dict(h.args), txHash=hex_of(h.tx_hash), blockNumber=h.block_number,
                        logIndex=h.log_index, blockTime=h.block_time)


def _rationale_hashes(record: DisputeRecord) -> set[bytes]:
    return {bytes.fromhex(str(h.args["rationaleHash"])[2:]) for h in record.history if h.event in _RULINGS}


def _rationales(s: Services, dispute_id: bytes) -> dict[bytes, str]:
    t = api_rationales.c
    with s.ledger.db.read() as conn:
        return {bytes(h): str(text) for h, text in conn.execute(
            sa.select(t.rationale_hash, t.text).where(t.dispute_id == dispute_id))}


def _record(s: Services, dispute_id: bytes) -> DisputeRecord:
    record = s.indexer.dispute(dispute_id)
    if record is None:
        raise Problem(404, "unknown-dispute", "Unknown dispute",
                      f"the index holds no dispute {hex_of(dispute_id)} (a dispute just opened appears once its "
                      f"transaction is indexed)")
    return record


def _dispute_out(s: Services, record: DisputeRecord) -> DisputeOut:
    texts = _rationales(s, record.dispute_id)
    rulings = []
    for h in record.history:
        if h.event not in _RULINGS:
            continue
        a = h.args
        rationale = bytes.fromhex(str(a["rationaleHash"])[2:])
        common = {"arbitrator": str(a["arbitrator"]), "rationaleHash": hex_of(rationale),
                  "rationale": texts.get(rationale), "txHash": hex_of(h.tx_hash), "blockNumber": h.block_number,
                  "blockTime": h.block_time}
        if h.event == "DisputeRuled":
            rulings.append(Ruling(event="DisputeRuled", round=int(a["round"]), outcome=OUTCOMES.get(int(a["outcome"])),
                                  remedyAmount=str(int(a["remedyAmount"])), byDefault=bool(a["byDefault"]),
                                  **common))
        else:
            rulings.append(Ruling(event="RemedyRuled", fulfilled=bool(a["fulfilled"]), **common))
    opened = next((h for h in record.history if h.event == "PurchaseDisputeOpened"), None)
    values = _summary_values(record)
    return DisputeOut(
        **values,
        claimantCommitment=None if opened is None else str(opened.args["claimantCommitment"]),
        review=None if values["leafIndex"] is None else f"/v1/reviews/{values['leafIndex']}",
        history=[_event(h) for h in record.history], rulings=rulings)


@router.get("/{disputeId}", response_model=DisputeOut,
            summary="A dispute with its full history and its rulings' published rationales",
            responses={404: {"description": "unknown-dispute (not in the index, or not yet indexed)"}})
def get_dispute(s: ServicesDep, disputeId: DisputeId) -> DisputeOut:
    return _dispute_out(s, _record(s, disputeId))


_CURSOR = re.compile(r"([0-9]{1,19})-(0x[0-9a-f]{64})")


def _parse_cursor(cursor: str) -> tuple[int, bytes]:
    m = _CURSOR.fullmatch(cursor)
    if m is None or int(m.group(1)) > 2**63 - 1:
        raise Problem(422, "invalid-cursor", "Invalid cursor", "pass back a nextCursor exactly as answered")
    return int(m.group(1)), bytes.fromhex(m.group(2)[2:])


@router.get("", response_model=DisputePage, summary="Disputes by product, merchant, kind, review or phase",
            description="In opening order (block, then id). Every filter given must match. `phase=open`: every "
                        "dispute not closed.")
def list_disputes(
    s: ServicesDep,
    product: Annotated[Hash32 | None, Query(description="purchase disputes about this product id")] = None,
    merchant: Annotated[Address | None, Query(description="disputes naming this merchant")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    leafIndex: Annotated[int | None, Query(ge=0, le=2**64 - 1, description="challenges of this review")] = None,
    phase: Annotated[Phase | Literal["open"] | None, Query(description="a phase, or open (not closed)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100, description="nextCursor of the previous page")] = None,
) -> DisputePage:
    d = idx_disputes.c
    conditions: list[Any] = []
    if product is not None:
        conditions.append(d.product_id == product)
    if merchant is not None:
        conditions.append(d.merchant == bytes.fromhex(merchant[2:]))
    if kind is not None:
        conditions.append(d.kind == (0 if kind == "purchase" else 1))
    if leafIndex is not None:
        conditions += [d.kind == 1, d.subject == leafIndex.to_bytes(32, "big")]
    if phase == "open":
        conditions.append(d.phase != PHASES.index("closed"))
    elif phase is not None:
        conditions.append(d.phase == PHASES.index(phase))
    if cursor is not None:
        block, after = _parse_cursor(cursor)
        conditions.append(sa.or_(d.block_number > block, sa.and_(d.block_number == block, d.dispute_id > after)))
    q = sa.select(idx_disputes).where(*conditions).order_by(d.block_number, d.dispute_id).limit(limit + 1)
    with s.ledger.db.read() as conn:
        rows = conn.execute(q).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = f"{int(last.block_number)}-{hex_of(bytes(last.dispute_id))}"
    return DisputePage(items=[DisputeSummary(**_summary_values(r)) for r in page], nextCursor=next_cursor)


# -- rationales -----------------------------------------------------------------------------------------------


@router.post("/{disputeId}/rationales", response_model=RationaleOut, status_code=201,
             dependencies=[Depends(write_gate)],
             summary="Publish a ruling's rationale text (public: the chain's hash is the authority)",
             description="Accepted when keccak256 of the text's UTF-8 bytes is the `rationaleHash` of a ruling of "
                         "this dispute in the index (`DisputeRuled` or `RemedyRuled`); anyone may publish it. "
                         "201 when first published, 200 when it already was.",
             responses={200: {"description": "already published: the stored text"},
                        404: {"description": "unknown-dispute"},
                        422: {"description": "rationale-mismatch: no ruling of this dispute has this text's hash"}})
def publish_rationale(s: ServicesDep, disputeId: DisputeId, body: RationaleIn, response: Response) -> RationaleOut:
    record = _record(s, disputeId)
    digest = keccak(body.text.encode("utf-8"))
    if digest not in _rationale_hashes(record):
        raise Problem(422, "rationale-mismatch", "Rationale does not match a ruling",
                      f"keccak256 of the text is {hex_of(digest)}, which is the rationaleHash of no ruling of "
                      f"dispute {hex_of(disputeId)} (as indexed)")
    t = api_rationales.c
    published = now_ms()
    try:
        with s.ledger.db.write() as conn:
            conn.execute(sa.insert(api_rationales).values(dispute_id=disputeId, rationale_hash=digest,
                                                          text=body.text, published_ms=published))
    except IntegrityError:  # published before (same hash: the same text)
        with s.ledger.db.read() as conn:
            published = int(conn.execute(sa.select(t.published_ms).where(
                t.dispute_id == disputeId, t.rationale_hash == digest)).scalar_one())
        response.status_code = 200
    else:
        s.log.info("rationale published", extra={"dispute_id": hex_of(disputeId), "rationale": hex_of(digest)})
    return RationaleOut(disputeId=hex_of(disputeId), rationaleHash=hex_of(digest), text=body.text,
                        publishedAt=published / 1000, dispute=_location(disputeId))
