"""Early-warning signals for auditors and the consumer page: ``GET /v1/audit/signals`` (docs/signals.md).

Each signal is computed from public data only (the review log's leaves up to the latest checkpoint anchored by
``at``, and the indexed chain events) by :mod:`ledger.signals`, and answered with its statistic, the published
threshold it crossed and the data that raised it (counts per window, leaf indices, event transaction hashes), so
anyone holding the same public data can recompute it. The same ``at`` gives the same answer.

One :class:`~ledger.signals.SignalSource` per app (``services.extra``): it keeps the leaves it has parsed (the log
only grows) and the index's reads while the index does not move, so a repeated query costs the detectors only.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ledger.signals import KINDS, SignalSource, Subjects

from ..deps import ServicesDep
from ..state import Services
from ..types import Address, Hash32

ORDER = 81
router = APIRouter(prefix="/v1/audit", tags=["audit"])

UINT40_MAX = 2**40 - 1
_SOURCE = "signals.source"

SignalKind = Literal["review-burst", "rating-shift", "dispute-surge", "revocation-spike",
                     "spot-check-failure-spike", "remedy-unpaid"]
assert set(SignalKind.__args__) == set(KINDS)  # type: ignore[attr-defined]


# -- models -------------------------------------------------------------------------------------------------


class WindowOut(BaseModel):
    start: int = Field(description="exclusive: the window is (start, end], unix seconds")
    end: int
    seconds: int


class StatisticOut(BaseModel):
    name: Literal["poisson-upper-tail", "binomial-upper-tail", "overdue"]
    value: float = Field(description="surprise -log10 p for tail statistics; the number of overdue remedies")
    observed: int
    expected: float = Field(description="expected count in the window under the subject's baseline (0: overdue)")
    baselineCount: int


class ThresholdOut(BaseModel):
    statistic: str
    windowSeconds: int
    baselineSeconds: int
    minCount: int
    minSurprise: float | None = None
    prior: float | None = None
    minRatio: float | None = None
    minShift: float | None = None
    rating: int | None = None


class RuleOut(ThresholdOut):
    kind: SignalKind
    subjectType: Literal["merchant", "product", "reviewer", "issuer"]


class EventRefOut(BaseModel):
    event: str
    txHash: str
    blockNumber: int
    logIndex: int
    blockTime: int
    id: str = Field(description="the certificate or dispute id the event is about")


class RemedyOut(BaseModel):
    disputeId: str
    outcome: int = Field(description="1 refund, 2 replacement, 3 partial refund")
    remedyAmount: str
    dueSince: int
    deadline: int
    events: list[EventRefOut]


class DataOut(BaseModel):
    bucketSeconds: int
    counts: list[int] = Field(description="count per bucket, oldest first; the last bucket is the window")
    total: int = Field(description="evidence items in the window (leaves or events list at most 1000)")
    leaves: list[int] = Field(description="review signals: leaf indices in the window")
    events: list[EventRefOut] = Field(description="chain signals: the events in the window")
    starsWindow: list[int] | None = None
    starsBaseline: list[int] | None = None
    distinctProducts: int | None = None
    distinctMerchants: int | None = None
    remedies: list[RemedyOut] | None = None


class SignalOut(BaseModel):
    kind: SignalKind
    subjectType: Literal["merchant", "product", "reviewer", "issuer"]
    subject: str = Field(description="checksummed address, or 0x and 64 hex digits (product id, reviewer "
                                     "pseudonym)")
    asOf: int
    window: WindowOut
    statistic: StatisticOut
    threshold: ThresholdOut
    data: DataOut


class CheckpointRefOut(BaseModel):
    index: int
    size: int


class SignalsOut(BaseModel):
    """The signals raised as of ``asOf``, what they were read from, and every rule in force."""

    asOf: int
    signals: list[SignalOut]
    checkpoint: CheckpointRefOut | None = Field(description="the anchored checkpoint whose leaves were read "
                                                            "(null: none anchored by asOf)")
    anchoredSize: int = Field(description="the largest checkpoint size anchored by asOf: above checkpoint.size "
                                          "when the service's leaves do not reproduce that root (not counted)")
    reviewsRead: int
    malformedLeaves: int
    indexBlock: int | None
    rules: list[RuleOut]


# -- route --------------------------------------------------------------------------------------------------


def source(s: Services) -> SignalSource:
    found = s.extra.get(_SOURCE)
    if found is None:
        found = s.extra[_SOURCE] = SignalSource(s.indexer, s.ledger.reviews)
    assert isinstance(found, SignalSource)
    return found


@router.get("/signals", response_model=SignalsOut,
            summary="Early-warning signals (review bursts, rating shifts, dispute surges, revocation and failed "
                    "spot-check spikes, unpaid remedies) with their statistics, thresholds and data",
            responses={422: {"description": "validation-error"}})
def get_signals(
    s: ServicesDep,
    merchant: Annotated[Address | None, Query(description="signals about this merchant")] = None,
    product: Annotated[Hash32 | None, Query(description="signals about this product id")] = None,
    reviewer: Annotated[Hash32 | None, Query(description="signals about this reviewer pseudonym")] = None,
    issuer: Annotated[Address | None, Query(description="signals about this issuer")] = None,
    kind: Annotated[list[SignalKind] | None, Query(max_length=len(KINDS), description=(
        "signal kind(s); repeat for several (default: all)"))] = None,
    at: Annotated[int | None, Query(ge=0, le=UINT40_MAX, description=(
        "unix seconds: the signals as of that moment (default: the last indexed block's time). Several subjects "
        "given: the union of their signals"))] = None,
) -> dict[str, Any]:
    as_of = at if at is not None else (s.indexer.position().block_time or int(time.time()))
    subjects = Subjects.only(merchant=merchant, product=product, reviewer=reviewer, issuer=issuer)
    report = source(s).report(as_of=as_of, subjects=subjects, kinds=kind)
    return report.to_json()
