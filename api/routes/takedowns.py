"""Takedowns: the operator's emergency hide, and every review the chain hid, took down or restored.

A review's content leaves public view only through the chain: a final ``ReviewRemoved`` ruling (the tombstone
"removed by ruling #id"), or the log operator's emergency hide of illegal content, which is public, once per
review, and lapses unless a final ruling confirms it. This service is the log operator, so the hide is sent
with the service's operator key (operator token; durable outbox, idempotency key ``hide:<leafIndex>``). The
review log's content follows the chain through the reconciler (api/takedowns.py) after each indexer pass.
docs/api-disputes.md lists the routes and problem types.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.chain import revert_of
from ledger.sender import OutboxEntry, OutboxStatus, WriteFailed, WriteTimeout
from ledger.storage.schema import idx_takedowns, log_leaves

from ..deps import RelayDep, ServicesDep, TokenDep, write_gate
from ..problems import Problem, problem_for
from ..relay import Relay
from ..state import Services
from ..takedowns import EMERGENCY_HIDDEN, RESTORED, TAKEN_DOWN, chain_time
from ..types import Hash32, hex_of

ORDER = 55
router = APIRouter(prefix="/v1/takedowns", tags=["reviews"])

ZERO32 = b"\x00" * 32
STATES: dict[int, str] = {EMERGENCY_HIDDEN: "emergencyHidden", TAKEN_DOWN: "takenDown", RESTORED: "restored"}
LOG_STATES = ("visible", "hidden", "removed")  # log_leaves.takedown
State = Literal["emergencyHidden", "takenDown", "restored"]
LeafIndex = Annotated[int, Path(ge=0, le=2**63 - 1, description="the review's leaf index")]


class HideIn(BaseModel):
    """The operator's emergency hide of an anchored review's content."""

    model_config = ConfigDict(extra="forbid")

    leafIndex: int = Field(ge=0, le=2**64 - 1, description="an anchored review's leaf index")
    reasonCode: Hash32 = Field(description="public reason code (e.g. keccak256 of the policy clause)")


class HideWrite(BaseModel):
    """The hide's write and what became of it (``status`` as in the outbox: queued ... confirmed, failed)."""

    key: str
    status: OutboxStatus
    leafIndex: int
    reasonCode: str
    operator: str
    txHash: str | None = None
    blockNumber: int | None = None
    errorName: str | None = None
    error: str | None = None
    events: list[dict[str, Any]] | None = None
    location: str


class TakedownOut(BaseModel):
    """A review's takedown record as indexed (``DisputeRegistry.takedown(leafIndex)``), and the content state of
    this service's review log."""

    leafIndex: int
    state: State
    hiddenNow: bool = Field(description="what isReviewHidden answers at the latest block's time")
    hiddenAt: int
    lapseAt: int = Field(description="emergency hides: shown again after this time unless a ruling took it down "
                                     "(0 for a takedown without a prior hide)")
    lapsed: bool = Field(description="an emergency hide whose lapse time passed without a ruling")
    reasonCode: str | None = Field(None, description="the emergency hide's reason code")
    disputeId: str | None = Field(None, description="the ruling that took the review down or restored it")
    dispute: str | None = None
    blockNumber: int = Field(description="block of the latest event of this record")
    review: str
    logState: Literal["visible", "hidden", "removed"] | None = Field(
        None, description="this service's review log: the content state applied so far (null: not in this log)")
    hideWrite: HideWrite | None = Field(None, description="the operator's hide write from this service, if any")


class TakedownPage(BaseModel):
    items: list[TakedownOut]
    nextCursor: int | None = Field(description="pass as `cursor` for the next page; null on the last")


# -- the hide -------------------------------------------------------------------------------------------------


def _hide_key(leaf_index: int) -> str:
    return f"hide:{leaf_index}"


def _hide_write(s: Services, relay: Relay, entry: OutboxEntry, *, events: bool) -> HideWrite:
    _, args = s.contracts["DisputeRegistry"].decode_function_input(entry.data)
    decoded = relay.events(entry.tx_hash) if events and entry.status == OutboxStatus.CONFIRMED \
        and entry.tx_hash is not None else None
    return HideWrite(key=entry.key, status=entry.status, leafIndex=int(args["leafIndex"]),
                     reasonCode=hex_of(bytes(args["reasonCode"])), operator=s.ledger.operator_sender.address,
                     txHash=hex_of(entry.tx_hash) if entry.tx_hash else None, blockNumber=entry.block_number,
                     errorName=entry.error_name, error=entry.error if entry.status == OutboxStatus.FAILED else None,
                     events=decoded, location=f"/v1/takedowns/hides/{int(args['leafIndex'])}")


@router.post("/hides", response_model=HideWrite, dependencies=[TokenDep, Depends(write_gate)],
             summary="The operator's emergency hide of a review (operator token)",
             description="Sends `DisputeRegistry.emergencyHide(leafIndex, reasonCode)` with the service's operator "
                         "key (the log operator), after simulating it: refusals are answered at once (403 "
                         "`forbidden`, 422 `contract-rejected` with `errorName`, e.g. DisputeRegistryAlreadyHidden "
                         "or DisputeRegistryUnknownReview). Once per review; public; lapses unless a final ruling "
                         "takes the review down. Idempotent per review: a retry answers the same write, another "
                         "reason code for the same review is 409 `idempotency-conflict`. 202 while on its way, 200 "
                         "with the events when final within `wait`.",
             responses={202: {"description": "accepted; follow it at `Location`"},
                        401: {"description": "token-required, token-invalid, token-not-configured"},
                        403: {"description": "forbidden: this service's operator key is not the log operator"},
                        409: {"description": "idempotency-conflict: this review's hide was sent with another "
                                             "reason code"},
                        422: {"description": "contract-rejected, write-failed"}})
def emergency_hide(body: HideIn, s: ServicesDep, relay: RelayDep, response: Response,
                   wait: Annotated[float, Query(ge=0, le=60)] = 0.0) -> HideWrite:
    sender = s.ledger.operator_sender
    registry = s.contracts["DisputeRegistry"]
    call = registry.functions.emergencyHide(body.leafIndex, body.reasonCode)
    data = bytes.fromhex(call._encode_transaction_data()[2:])
    key = _hide_key(body.leafIndex)
    entry = sender.entry(key)
    if entry is None:  # a retry is answered from the outbox; a new hide is simulated first
        try:
            call.call({"from": sender.address}, block_identifier="pending")
        except Exception as exc:
            error = revert_of(exc)
            if error is None:
                raise
            raise problem_for(error) from None
    entry = sender.submit(key, registry.address, data)  # the same key with another reason: IdempotencyConflict
    final = entry.final
    seconds = min(wait, s.settings.max_wait)
    if seconds > 0 and not final:
        try:
            entry, final = sender.wait(key, timeout=seconds), True
        except WriteFailed as failed:
            entry, final = failed.entry, True
        except WriteTimeout as timeout:
            entry = timeout.entry or entry
    if entry.status == OutboxStatus.FAILED:
        raise Problem(422, "write-failed", "Write failed on chain", entry.error or "the transaction failed",
                      errorName=entry.error_name, key=entry.key)
    s.log.info("emergency hide sent", extra={"key": key, "status": entry.status})
    out = _hide_write(s, relay, entry, events=final)
    response.status_code = 200 if final else 202
    response.headers["Location"] = out.location
    return out


@router.get("/hides/{leafIndex}", response_model=HideWrite, summary="This service's emergency hide of a review "
                                                                   "and what became of it",
            responses={404: {"description": "unknown-hide: this service sent no hide of this review"}})
def get_hide(s: ServicesDep, relay: RelayDep, leafIndex: LeafIndex) -> HideWrite:
    entry = s.ledger.operator_sender.entry(_hide_key(leafIndex))
    if entry is None:
        raise Problem(404, "unknown-hide", "Unknown hide", f"this service sent no emergency hide of review {leafIndex}")
    return _hide_write(s, relay, entry, events=entry.final)


# -- reads ----------------------------------------------------------------------------------------------------


def _takedown(s: Services, relay: Relay, r: Any, now: int, *, with_write: bool = False) -> TakedownOut:
    leaf = int(r.leaf_index)
    dispute = bytes(r.dispute_id)
    reason = bytes(r.reason_code)
    lapsed = r.state == EMERGENCY_HIDDEN and now > r.lapse_at
    hidden_now = r.state == TAKEN_DOWN or (r.state == EMERGENCY_HIDDEN and not lapsed)
    write = None
    if with_write:
        entry = s.ledger.operator_sender.entry(_hide_key(leaf))
        write = None if entry is None else _hide_write(s, relay, entry, events=entry.final)
    return TakedownOut(
        leafIndex=leaf, state=STATES[r.state], hiddenNow=hidden_now, hiddenAt=r.hidden_at, lapseAt=r.lapse_at,
        lapsed=lapsed, reasonCode=None if reason == ZERO32 else hex_of(reason),
        disputeId=None if dispute == ZERO32 else hex_of(dispute),
        dispute=None if dispute == ZERO32 else f"/v1/disputes/{hex_of(dispute)}", blockNumber=r.block_number,
        review=f"/v1/reviews/{leaf}", logState=None if r.takedown is None else LOG_STATES[r.takedown],
        hideWrite=write)


def _query() -> sa.Select[Any]:
    t, leaf = idx_takedowns.c, log_leaves.c
    return (sa.select(idx_takedowns, leaf.takedown)
            .select_from(idx_takedowns.outerjoin(log_leaves, leaf.leaf_index == t.leaf_index)))


@router.get("", response_model=TakedownPage, summary="Reviews hidden, taken down or restored on chain (as indexed)",
            description="By leaf index. `state` filters the on-chain state; `lapsed=true`: emergency hides whose "
                        "lapse time passed (chain time) without a ruling.")
def list_takedowns(
    s: ServicesDep, relay: RelayDep,
    state: Annotated[State | None, Query()] = None,
    lapsed: Annotated[bool | None, Query(description="emergency hides past (true) or within (false) their lapse")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="nextCursor of the previous page")] = None,
) -> TakedownPage:
    t = idx_takedowns.c
    now = chain_time(s)
    q = _query()
    if state is not None:
        q = q.where(t.state == next(k for k, v in STATES.items() if v == state))
    if lapsed is not None:
        q = q.where(t.state == EMERGENCY_HIDDEN, (t.lapse_at < now) if lapsed else (t.lapse_at >= now))
    if cursor is not None:
        q = q.where(t.leaf_index > cursor)
    with s.ledger.db.read() as conn:
        rows = conn.execute(q.order_by(t.leaf_index).limit(limit + 1)).all()
    page = rows[:limit]
    return TakedownPage(items=[_takedown(s, relay, r, now) for r in page],
                        nextCursor=int(page[-1].leaf_index) if len(rows) > limit else None)


@router.get("/{leafIndex}", response_model=TakedownOut, summary="A review's takedown record, with this service's "
                                                                 "hide write if it sent one",
            responses={404: {"description": "no-takedown: the chain (as indexed) never hid this review"}})
def get_takedown(s: ServicesDep, relay: RelayDep, leafIndex: LeafIndex) -> TakedownOut:
    with s.ledger.db.read() as conn:
        r = conn.execute(_query().where(idx_takedowns.c.leaf_index == leafIndex)).first()
    if r is None:
        raise Problem(404, "no-takedown", "No takedown", f"the index holds no takedown of review {leafIndex} (a "
                      f"hide just sent appears once indexed: GET /v1/takedowns/hides/{leafIndex} follows it)")
    return _takedown(s, relay, r, chain_time(s), with_write=True)
