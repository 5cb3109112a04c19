"""Early-warning signals: review bursts, rating shifts, dispute surges, revocation and failed spot-check spikes,
unpaid remedies, each computed from public data only and raised with the data that raised it.

Why: a trust profile (:mod:`ledger.trust`) is a slow, cumulative score; brushing (bought reviews), a wave of
complaints or an issuer's certificates being pulled show first as a *change of rate*. Each signal compares a
subject's recent window with that subject's own trailing baseline, so a big merchant is not flagged for being big
and a small one is not hidden by the crowd.

The inputs are the review log's leaves (public canonical JSON: product, merchant, rating, reviewer pseudonym,
purchase commitment, ``submittedAt``) up to the latest checkpoint anchored at or before ``as_of``, and the
indexed events of the chain (purchase disputes and their remedy steps, revocations, failed spot checks). Both are
fixed once ``as_of`` is (a checkpoint's leaves never change, events after ``as_of`` are ignored), so the same
``as_of`` gives the same signals. docs/signals.md states every statistic, threshold and limit.

The detectors are pure functions of :class:`SignalInputs` (:func:`compute_signals`), unit-testable without a
chain; :class:`SignalSource` reads those inputs from an :class:`~ledger.indexer.Indexer` and a review log (the
operator's :class:`~ledger.reviewlog.ReviewLogService`, or an auditor's mirror as a sequence of leaf bytes).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_utils.address import to_checksum_address

from . import merkle
from .errors import InvalidInput
from .indexer import SPOT_CHECK_FAIL, HistoryEntry, Indexer, IndexPosition
from .merkle import MerkleTree
from .reviewlog import LogCorrupted
from .reviews import parse_review_leaf
from .trust import REMEDY_PERIOD, remedy_track

__all__ = [
    "DAY",
    "HORIZON",
    "KINDS",
    "MAX_EVIDENCE",
    "RULES",
    "SUBJECT_TYPES",
    "ChainPoint",
    "EventRef",
    "RemedyCase",
    "ReviewPoint",
    "Rule",
    "Signal",
    "SignalData",
    "SignalInputs",
    "SignalReport",
    "SignalSource",
    "Subjects",
    "UnpaidRemedy",
    "binomial_surprise",
    "compute_signals",
    "poisson_surprise",
    "unpaid_remedy",
]

DAY = 24 * 3600
HORIZON = 30 * DAY
"""Only windows ending in ``(as_of - HORIZON, as_of]`` raise a signal: an early warning is about now, and the
API's ``at`` reaches back for anything older. Unpaid remedies are not bounded by it (they stay owed)."""

MAX_EVIDENCE = 1000
"""At most this many leaf indices or events are listed per signal (``data.total`` says how many there were)."""

KINDS = ("review-burst", "rating-shift", "dispute-surge", "revocation-spike", "spot-check-failure-spike",
         "remedy-unpaid")
SUBJECT_TYPES = ("merchant", "product", "reviewer", "issuer")

_REMEDY_EVENTS = frozenset({"PurchaseDisputeOpened", "DisputeRuled", "DisputeFinal", "RemedyReported",
                            "RemedyConfirmed", "RemedyContested", "RemedyRuled"})


# --- the rules ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One detector's statistic and threshold, as published with every signal it raises.

    ``statistic``: ``poisson-upper-tail`` (count in the window against a Poisson with the subject's baseline rate),
    ``binomial-upper-tail`` (reviews of ``rating`` stars in the window against the baseline share of them), or
    ``overdue`` (remedies past :data:`~ledger.trust.REMEDY_PERIOD`). A tail statistic is reported as a
    *surprise*, ``-log10 p``; a window raises the signal when every condition holds:

    * surprise >= ``min_surprise``;
    * observed >= ``min_count``;
    * Poisson: observed >= ``min_ratio`` x expected; binomial: window share - baseline share >= ``min_shift``.

    Expected counts use ``prior`` pseudo-events in the baseline (a subject with no history is not infinitely
    surprising), and a binomial baseline share is Laplace-smoothed ``(x + 1) / (n + 2)``.
    """

    kind: str
    subject_type: str
    statistic: str
    window: int
    """Seconds; the window is ``(end - window, end]``."""
    baseline: int
    """Seconds of trailing baseline just before the window (a multiple of ``window``)."""
    min_surprise: float = 6.0
    min_count: int = 10
    min_ratio: float = 1.0
    min_shift: float = 0.0
    prior: float = 1.0
    rating: int | None = None
    """Binomial rules: the star rating whose share is watched (5 for brushing, 1 for review bombing)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.subject_type not in SUBJECT_TYPES:
            raise InvalidInput(f"unknown rule kind/subject {self.kind!r}/{self.subject_type!r}")
        if self.window <= 0 or self.baseline < 0 or (self.baseline and self.baseline % self.window):
            raise InvalidInput(f"rule {self.kind}: window must be > 0 and baseline a multiple of it, found "
                               f"{self.window}/{self.baseline}")
        if self.statistic == "poisson-upper-tail" and (self.baseline == 0 or self.prior <= 0):
            raise InvalidInput(f"rule {self.kind}: a Poisson rule needs a baseline and a prior > 0")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statistic": self.statistic, "windowSeconds": self.window, "baselineSeconds": self.baseline,
            "minCount": self.min_count}
        if self.statistic != "overdue":
            out.update(minSurprise=self.min_surprise, prior=self.prior)
        if self.statistic == "poisson-upper-tail":
            out["minRatio"] = self.min_ratio
        if self.statistic == "binomial-upper-tail":
            out.update(minShift=self.min_shift, rating=self.rating)
        return out


def _default_rules() -> tuple[Rule, ...]:
    week, poisson, binomial = 7 * DAY, "poisson-upper-tail", "binomial-upper-tail"

    def burst(subject_type: str) -> Rule:
        return Rule("review-burst", subject_type, poisson, window=DAY, baseline=28 * DAY, min_surprise=6.0,
                    min_count=10, min_ratio=5.0)

    def shift(subject_type: str, rating: int) -> Rule:
        return Rule("rating-shift", subject_type, binomial, window=week, baseline=12 * week, min_surprise=6.0,
                    min_count=20, min_shift=0.25, rating=rating)

    def spike(kind: str, subject_type: str, min_count: int) -> Rule:
        return Rule(kind, subject_type, poisson, window=week, baseline=12 * week, min_surprise=3.0,
                    min_count=min_count, min_ratio=3.0)

    return (
        burst("merchant"), burst("product"), burst("reviewer"),
        shift("merchant", 5), shift("merchant", 1), shift("product", 5), shift("product", 1),
        spike("dispute-surge", "merchant", 5),
        spike("revocation-spike", "merchant", 3), spike("revocation-spike", "issuer", 3),
        spike("spot-check-failure-spike", "merchant", 3), spike("spot-check-failure-spike", "issuer", 3),
        Rule("remedy-unpaid", "merchant", "overdue", window=REMEDY_PERIOD, baseline=0, min_count=1),
    )


RULES: tuple[Rule, ...] = _default_rules()
"""The published rules (docs/signals.md gives each one's reasons). Changing one changes what is flagged: keep
the doc in step."""


# --- the statistics -----------------------------------------------------------------------------------------

_LN10 = math.log(10.0)


def _log_sum(first: float, step: Callable[[int], float], start: int, stop: int) -> float:
    """ln of sum_{i=start}^{stop} exp(t_i), where t_start = ``first`` and t_{i+1} = t_i + step(i), for terms
    that only decrease: stops once a term is below 1e-17 of the sum (past double precision)."""
    total, term, i = 1.0, 0.0, start  # relative to the first term
    while i < stop:
        term += step(i)
        i += 1
        relative = math.exp(term)
        total += relative
        if relative < total * 1e-17:
            break
    return first + math.log(total)


def poisson_surprise(observed: int, expected: float) -> float:
    """``-log10 P(X >= observed)`` for X ~ Poisson(``expected``), computed in log space (a burst of 200 against an
    expected 2 has p ~ 1e-315, below the smallest double). 0 when ``observed <= expected`` (not surprising: only
    upper tails are asked)."""
    if observed < 0 or expected <= 0 or not math.isfinite(expected):
        raise InvalidInput(f"poisson_surprise needs observed >= 0 and a finite expected > 0, found "
                           f"{observed}, {expected}")
    if observed <= expected:
        return 0.0
    log_mu = math.log(expected)
    first = -expected + observed * log_mu - math.lgamma(observed + 1)
    log_p = _log_sum(first, lambda i: log_mu - math.log(i + 1), observed, observed + 100_000)
    return max(0.0, -log_p / _LN10)


def binomial_surprise(observed: int, n: int, share: float) -> float:
    """``-log10 P(X >= observed)`` for X ~ Binomial(``n``, ``share``), in log space; 0 when
    ``observed <= n * share``."""
    if not 0 <= observed <= n or not 0.0 < share < 1.0:
        raise InvalidInput(f"binomial_surprise needs 0 <= observed <= n and 0 < share < 1, found "
                           f"{observed}, {n}, {share}")
    if observed <= n * share:
        return 0.0
    lq, lr = math.log(share), math.log1p(-share)
    first = (math.lgamma(n + 1) - math.lgamma(observed + 1) - math.lgamma(n - observed + 1)
             + observed * lq + (n - observed) * lr)
    log_p = _log_sum(first, lambda j: math.log(n - j) - math.log(j + 1) + lq - lr, observed, n)
    return max(0.0, -log_p / _LN10)


# --- inputs -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewPoint:
    """What a signal reads of one leaf: its index, its time and the subjects it names. The time is its
    ``submittedAt``, or the anchoring time of the first checkpoint that covers it when that is earlier: the chain
    proves the leaf existed by then, and a later ``submittedAt`` is the service's clock running ahead of the
    chain's (receipts allow a few minutes of skew)."""

    leaf_index: int
    time: int
    merchant: str
    """Checksummed."""
    product: bytes
    reviewer: bytes
    rating: int


@dataclass(frozen=True)
class EventRef:
    """Where an event is on the chain, so anyone can fetch it (``eth_getTransactionReceipt``) and check it."""

    event: str
    tx_hash: bytes
    block_number: int
    log_index: int
    block_time: int
    ref: bytes
    """The certificate or dispute id the event is about."""

    @classmethod
    def of(cls, e: HistoryEntry, ref: bytes) -> EventRef:
        return cls(e.event, bytes(e.tx_hash), e.block_number, e.log_index, e.block_time, bytes(ref))

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "txHash": _hex(self.tx_hash), "blockNumber": self.block_number,
                "logIndex": self.log_index, "blockTime": self.block_time, "id": _hex(self.ref)}


@dataclass(frozen=True)
class ChainPoint:
    """One counted chain event: a purchase dispute opened, a certificate revoked, a failed spot check recorded."""

    what: str
    """``dispute-opened``, ``certificate-revoked`` or ``spot-check-failed``."""
    merchant: str
    issuer: str | None
    event: EventRef

    @property
    def time(self) -> int:
        return self.event.block_time


@dataclass(frozen=True)
class RemedyCase:
    """A purchase dispute's history (chain order), read for whether an ordered remedy went unpaid."""

    dispute_id: bytes
    merchant: str
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class SignalInputs:
    """Everything the detectors read. ``checkpoint``: (index, size) of the anchored checkpoint whose leaves are
    ``reviews`` (None: no checkpoint anchored by ``as_of``, so no reviews count)."""

    reviews: tuple[ReviewPoint, ...] = ()
    chain: tuple[ChainPoint, ...] = ()
    remedies: tuple[RemedyCase, ...] = ()
    checkpoint: tuple[int, int] | None = None
    malformed_leaves: int = 0
    anchored_size: int = 0
    """The largest checkpoint anchored by ``as_of``: above ``checkpoint``'s size when the leaves held do not
    reach it or do not reproduce its root."""


@dataclass(frozen=True)
class Subjects:
    """Which subjects to compute signals for (each None: all of that type; an empty set: none)."""

    merchants: frozenset[str] | None = None
    products: frozenset[bytes] | None = None
    reviewers: frozenset[bytes] | None = None
    issuers: frozenset[str] | None = None

    @classmethod
    def only(cls, *, merchant: str | None = None, product: bytes | None = None, reviewer: bytes | None = None,
             issuer: str | None = None) -> Subjects:
        """The union of the subjects named (nothing named: every subject)."""
        if merchant is None and product is None and reviewer is None and issuer is None:
            return cls()
        return cls(frozenset() if merchant is None else frozenset({_checksum(merchant)}),
                   frozenset() if product is None else frozenset({bytes(product)}),
                   frozenset() if reviewer is None else frozenset({bytes(reviewer)}),
                   frozenset() if issuer is None else frozenset({_checksum(issuer)}))

    def wants(self, subject_type: str, subject: Any) -> bool:
        chosen = {"merchant": self.merchants, "product": self.products, "reviewer": self.reviewers,
                  "issuer": self.issuers}[subject_type]
        return chosen is None or subject in chosen


# --- outputs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnpaidRemedy:
    """One ordered remedy neither confirmed nor deemed fulfilled :data:`REMEDY_PERIOD` after its final ruling."""

    dispute_id: bytes
    outcome: int
    remedy_amount: str
    due_since: int
    deadline: int
    events: tuple[EventRef, ...]
    """The ``DisputeFinal`` that started the clock, and any ``RemedyRuled`` (not fulfilled) since."""

    def to_json(self) -> dict[str, Any]:
        return {"disputeId": _hex(self.dispute_id), "outcome": self.outcome, "remedyAmount": self.remedy_amount,
                "dueSince": self.due_since, "deadline": self.deadline,
                "events": [e.to_json() for e in self.events]}


@dataclass(frozen=True)
class SignalData:
    """What raised a signal. ``counts``: the subject's count per ``bucket_seconds`` bucket, oldest first, the last
    bucket being the window (baseline buckets then the window: what a sparkline draws). ``leaves`` (review
    signals) / ``events`` (chain signals): the evidence in the window, at most :data:`MAX_EVIDENCE`, ``total``
    how many there were."""

    bucket_seconds: int
    counts: tuple[int, ...]
    total: int
    leaves: tuple[int, ...] = ()
    events: tuple[EventRef, ...] = ()
    stars_window: tuple[int, ...] | None = None
    stars_baseline: tuple[int, ...] | None = None
    distinct_products: int | None = None
    distinct_merchants: int | None = None
    remedies: tuple[UnpaidRemedy, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucketSeconds": self.bucket_seconds, "counts": list(self.counts),
                               "total": self.total, "leaves": list(self.leaves),
                               "events": [e.to_json() for e in self.events]}
        if self.stars_window is not None and self.stars_baseline is not None:
            out.update(starsWindow=list(self.stars_window), starsBaseline=list(self.stars_baseline))
        if self.distinct_products is not None:
            out["distinctProducts"] = self.distinct_products
        if self.distinct_merchants is not None:
            out["distinctMerchants"] = self.distinct_merchants
        if self.remedies:
            out["remedies"] = [r.to_json() for r in self.remedies]
        return out


@dataclass(frozen=True)
class Signal:
    """One raised signal: what, about whom, over which window, the statistic against its threshold, the data."""

    kind: str
    subject_type: str
    subject: str
    """Checksummed address (merchant, issuer) or 0x hex of 32 bytes (product id, reviewer pseudonym)."""
    as_of: int
    window_start: int
    """Exclusive: the window is ``(window_start, window_end]``."""
    window_end: int
    statistic: str
    value: float
    """The surprise ``-log10 p`` (tail statistics, 4 decimals), or the number of overdue remedies."""
    observed: int
    expected: float
    """Poisson: the baseline's expected count in the window; binomial: ``n x`` baseline share; overdue: 0."""
    baseline_count: int
    rule: Rule
    data: SignalData

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "subjectType": self.subject_type, "subject": self.subject, "asOf": self.as_of,
            "window": {"start": self.window_start, "end": self.window_end,
                       "seconds": self.window_end - self.window_start},
            "statistic": {"name": self.statistic, "value": self.value, "observed": self.observed,
                          "expected": self.expected, "baselineCount": self.baseline_count},
            "threshold": self.rule.to_json(), "data": self.data.to_json()}


@dataclass(frozen=True)
class SignalReport:
    """The signals raised as of ``as_of`` and what they were computed from."""

    as_of: int
    signals: tuple[Signal, ...]
    checkpoint: tuple[int, int] | None
    """(index, size) of the checkpoint whose leaves were read; None: no review was read."""
    anchored_size: int
    """The largest checkpoint size anchored by ``as_of`` (more than the checkpoint read: leaves missing or
    not reproducing that root, whose reviews are not counted)."""
    reviews: int
    malformed_leaves: int
    index_block: int | None
    """The index's cursor block when read (None: not known)."""

    def to_json(self) -> dict[str, Any]:
        return {"asOf": self.as_of, "signals": [s.to_json() for s in self.signals],
                "checkpoint": None if self.checkpoint is None else {"index": self.checkpoint[0],
                                                                     "size": self.checkpoint[1]},
                "anchoredSize": self.anchored_size, "reviewsRead": self.reviews, "malformedLeaves": self.malformed_leaves,
                "indexBlock": self.index_block, "rules": [dict(kind=r.kind, subjectType=r.subject_type,
                                                               **r.to_json()) for r in RULES]}


# --- detectors ----------------------------------------------------------------------------------------------

@dataclass
class _Best:
    value: float
    end: int
    observed: int
    expected: float
    baseline: int


def _ends(times: Sequence[int], as_of: int, horizon: int) -> list[int]:
    """Candidate window ends: every distinct event time in the horizon (a count only changes at one)."""
    return sorted({t for t in times if as_of - horizon < t <= as_of})


def _counts(times: Sequence[int], end: int, bucket: int, buckets: int) -> tuple[int, ...]:
    edges = [bisect_right(times, end - j * bucket) for j in range(buckets, -1, -1)]
    return tuple(edges[i + 1] - edges[i] for i in range(buckets))


def _poisson_best(times: Sequence[int], rule: Rule, as_of: int, horizon: int) -> _Best | None:
    """The most surprising window of ``times`` (sorted) under a Poisson rule that passes every condition."""
    best: _Best | None = None
    w, b = rule.window, rule.baseline
    for end in _ends(times, as_of, horizon):
        hi, mid, lo = bisect_right(times, end), bisect_right(times, end - w), bisect_right(times, end - w - b)
        k, base = hi - mid, mid - lo
        if k < rule.min_count:
            continue
        mu = (base + rule.prior) * w / b
        if k < rule.min_ratio * mu:
            continue
        value = round(poisson_surprise(k, mu), 4)
        if value >= rule.min_surprise and (best is None or value > best.value):
            best = _Best(value, end, k, round(mu, 6), base)
    return best


def _binomial_best(times: Sequence[int], ratings: Sequence[int], rule: Rule, as_of: int,
                   horizon: int) -> _Best | None:
    assert rule.rating is not None
    prefix = [0]
    for r in ratings:
        prefix.append(prefix[-1] + (r == rule.rating))
    best: _Best | None = None
    w, b = rule.window, rule.baseline
    for end in _ends(times, as_of, horizon):
        hi, mid, lo = bisect_right(times, end), bisect_right(times, end - w), bisect_right(times, end - w - b)
        n, x = hi - mid, prefix[hi] - prefix[mid]
        bn, bx = mid - lo, prefix[mid] - prefix[lo]
        if n < rule.min_count:
            continue
        share = (bx + 1) / (bn + 2)
        if x / n - share < rule.min_shift:
            continue
        value = round(binomial_surprise(x, n, share), 4)
        if value >= rule.min_surprise and (best is None or value > best.value):
            best = _Best(value, end, x, round(n * share, 6), bx)
    return best


def _stars(points: Sequence[ReviewPoint]) -> tuple[int, ...]:
    stars = [0] * 5
    for p in points:
        stars[p.rating - 1] += 1
    return tuple(stars)


def _review_signal(rule: Rule, subject: str, points: Sequence[ReviewPoint], as_of: int,
                   horizon: int) -> Signal | None:
    times = [p.time for p in points]
    if rule.statistic == "poisson-upper-tail":
        best = _poisson_best(times, rule, as_of, horizon)
    else:
        best = _binomial_best(times, [p.rating for p in points], rule, as_of, horizon)
    if best is None:
        return None
    start = best.end - rule.window
    inside = points[bisect_right(times, start):bisect_right(times, best.end)]
    before = points[bisect_right(times, start - rule.baseline):bisect_right(times, start)]
    shift = rule.statistic == "binomial-upper-tail"
    data = SignalData(
        bucket_seconds=rule.window, counts=_counts(times, best.end, rule.window, rule.baseline // rule.window + 1),
        total=len(inside), leaves=tuple(p.leaf_index for p in inside[:MAX_EVIDENCE]),
        stars_window=_stars(inside) if shift else None, stars_baseline=_stars(before) if shift else None,
        distinct_products=len({p.product for p in inside}) if rule.subject_type != "product" else None,
        distinct_merchants=len({p.merchant for p in inside}) if rule.subject_type == "reviewer" else None)
    return Signal(rule.kind, rule.subject_type, subject, as_of, start, best.end, rule.statistic, best.value,
                  best.observed, best.expected, best.baseline, rule, data)


def _chain_signal(rule: Rule, subject: str, points: Sequence[ChainPoint], as_of: int,
                  horizon: int) -> Signal | None:
    times = [p.time for p in points]
    best = _poisson_best(times, rule, as_of, horizon)
    if best is None:
        return None
    start = best.end - rule.window
    inside = points[bisect_right(times, start):bisect_right(times, best.end)]
    data = SignalData(bucket_seconds=rule.window,
                      counts=_counts(times, best.end, rule.window, rule.baseline // rule.window + 1),
                      total=len(inside), events=tuple(p.event for p in inside[:MAX_EVIDENCE]))
    return Signal(rule.kind, rule.subject_type, subject, as_of, start, best.end, rule.statistic, best.value,
                  best.observed, best.expected, best.baseline, rule, data)


def unpaid_remedy(case: RemedyCase, as_of: int) -> UnpaidRemedy | None:
    """The remedy of ``case`` when it is unpaid as of ``as_of``, by :mod:`ledger.trust`'s rule: a final ruling
    ordering a remedy starts a clock of :data:`REMEDY_PERIOD`; a report the claimant does not contest before its
    confirm deadline counts as paid, a confirmation or a ``RemedyRuled(fulfilled)`` pays it, a contest holds it
    (pending a ruling), a ``RemedyRuled(not fulfilled)`` makes it due again on the original clock."""
    history = [e for e in case.history if e.block_time <= as_of]
    track = remedy_track(history)  # a report is paid once its confirm window passes, pending until: never unpaid
    if track.state != "due" or as_of <= track.due_since + REMEDY_PERIOD:
        return None
    amount = next((str(e.args.get("remedyAmount", "0")) for e in reversed(history) if e.event == "DisputeRuled"), "0")
    return UnpaidRemedy(case.dispute_id, track.outcome, amount, track.due_since, track.due_since + REMEDY_PERIOD,
                        tuple(EventRef.of(e, case.dispute_id) for e in track.due_events))


def _remedy_signal(rule: Rule, merchant: str, cases: Sequence[RemedyCase], as_of: int) -> Signal | None:
    unpaid = [u for u in (unpaid_remedy(c, as_of) for c in cases) if u is not None]
    if len(unpaid) < rule.min_count:
        return None
    unpaid.sort(key=lambda u: (u.deadline, u.dispute_id))
    shown = tuple(unpaid[:MAX_EVIDENCE])
    data = SignalData(bucket_seconds=0, counts=(len(unpaid),), total=len(unpaid),
                      events=tuple(e for u in shown for e in u.events[:1]), remedies=shown)
    return Signal(rule.kind, rule.subject_type, merchant, as_of, unpaid[0].deadline, as_of, rule.statistic,
                  float(len(unpaid)), len(unpaid), 0.0, 0, rule, data)


def compute_signals(inputs: SignalInputs, *, as_of: int, rules: Sequence[Rule] = RULES,
                    subjects: Subjects | None = None, kinds: Iterable[str] | None = None,
                    horizon: int = HORIZON) -> tuple[Signal, ...]:
    """Every signal ``rules`` raise over ``inputs`` as of ``as_of``: at most one per rule and subject (its most
    surprising window ending in the horizon; ties: the earliest), sorted by kind, subject type, subject and the
    rule's order. Pure: the same arguments give the same signals."""
    if isinstance(as_of, bool) or not isinstance(as_of, int) or as_of < 0:
        raise InvalidInput(f"as_of must be unix seconds, not {as_of!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0:
        raise InvalidInput(f"horizon must be seconds > 0, not {horizon!r}")
    wanted = None if kinds is None else frozenset(kinds)
    if wanted is not None and not wanted <= set(KINDS):
        raise InvalidInput(f"unknown signal kind(s): {sorted(wanted - set(KINDS))}")
    chosen = subjects or Subjects()
    active = [r for r in rules if wanted is None or r.kind in wanted]

    reviews = sorted((p for p in inputs.reviews if p.time <= as_of), key=lambda p: (p.time, p.leaf_index))
    by_review: dict[str, dict[str, list[ReviewPoint]]] = {t: defaultdict(list) for t in ("merchant", "product",
                                                                                           "reviewer")}
    for p in reviews:
        for subject_type, key in (("merchant", p.merchant), ("product", _hex(p.product)),
                                  ("reviewer", _hex(p.reviewer))):
            by_review[subject_type][key].append(p)
    chain = sorted((p for p in inputs.chain if p.time <= as_of),
                   key=lambda p: (p.time, p.event.block_number, p.event.log_index))
    by_chain: dict[tuple[str, str], dict[str, list[ChainPoint]]] = defaultdict(lambda: defaultdict(list))
    what = {"dispute-surge": "dispute-opened", "revocation-spike": "certificate-revoked",
            "spot-check-failure-spike": "spot-check-failed"}
    kind_of = {v: k for k, v in what.items()}
    for c in chain:
        by_chain[(kind_of[c.what], "merchant")][c.merchant].append(c)
        if c.issuer is not None:
            by_chain[(kind_of[c.what], "issuer")][c.issuer].append(c)
    remedies: dict[str, list[RemedyCase]] = defaultdict(list)
    for case in inputs.remedies:
        remedies[case.merchant].append(case)

    out: list[tuple[tuple[int, str, str, int], Signal]] = []

    def wants(rule: Rule, subject: str) -> bool:
        key: Any = bytes.fromhex(subject[2:]) if rule.subject_type in ("product", "reviewer") else subject
        return chosen.wants(rule.subject_type, key)

    for order, rule in enumerate(active):
        found: list[Signal | None] = []
        if rule.kind in ("review-burst", "rating-shift"):
            groups = by_review[rule.subject_type]
            found = [_review_signal(rule, s, groups[s], as_of, horizon) for s in sorted(groups) if wants(rule, s)]
        elif rule.kind == "remedy-unpaid":
            found = [_remedy_signal(rule, s, remedies[s], as_of) for s in sorted(remedies) if wants(rule, s)]
        else:
            events = by_chain.get((rule.kind, rule.subject_type), {})
            found = [_chain_signal(rule, s, events[s], as_of, horizon) for s in sorted(events) if wants(rule, s)]
        out.extend(((KINDS.index(rule.kind), rule.subject_type, signal.subject, order), signal)
                   for signal in found if signal is not None)
    return tuple(s for _, s in sorted(out, key=lambda item: item[0]))


# --- reading the inputs -------------------------------------------------------------------------------------

class _LeafStore(Protocol):
    """What is read of the operator's log (:class:`~ledger.reviewlog.ReviewLogService`)."""

    @property
    def size(self) -> int: ...

    def root(self, size: int | None = None) -> bytes: ...

    def leaves(self, start: int, end: int) -> list[bytes]: ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...


_CHUNK = 5000


@functools.lru_cache(maxsize=65536)
def _checksum(address: str) -> str:
    try:
        return str(to_checksum_address(address))
    except ValueError as exc:
        raise InvalidInput(f"not an address: {address!r}") from exc


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _point(index: int, raw: bytes) -> ReviewPoint | None:
    try:
        leaf = parse_review_leaf(raw)
    except InvalidInput:
        return None
    return ReviewPoint(index, leaf.submitted_at, _checksum(leaf.merchant), leaf.product_id, leaf.reviewer,
                       leaf.rating)


@dataclass
class _Feed:
    """The parsed prefix of the log read so far: leaves are append-only, so it only grows."""

    points: list[ReviewPoint] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    read: int = 0
    malformed: list[int] = field(default_factory=list)


class SignalSource:
    """Reads :class:`SignalInputs` from ``indexer`` and ``leaves``, and computes signals (:meth:`report`).

    ``leaves``: the operator's log (read a chunk at a time, each leaf's bytes hashed and compared with the log's
    tree, whose root at the checkpoint's size must be the anchored root; parsed once and kept, so a later call
    reads only new leaves), or an auditor's whole sequence of leaf bytes from index 0 (hashed on every call and
    checked against the anchored root). The index's reads are kept while its position does not move. Safe to share
    between threads.
    """

    def __init__(self, indexer: Indexer, leaves: _LeafStore | Sequence[bytes]) -> None:
        self.indexer = indexer
        self._leaves = leaves
        self._lock = threading.Lock()
        self._feed = _Feed()
        self._index: tuple[IndexPosition, tuple[ChainPoint, ...], tuple[RemedyCase, ...]] | None = None

    def report(self, *, as_of: int, subjects: Subjects | None = None, kinds: Iterable[str] | None = None,
               rules: Sequence[Rule] = RULES, horizon: int = HORIZON) -> SignalReport:
        """The signals raised as of ``as_of`` (only what the index and the anchored checkpoints held by then)."""
        if isinstance(as_of, bool) or not isinstance(as_of, int) or as_of < 0:
            raise InvalidInput(f"as_of must be unix seconds, not {as_of!r}")
        inputs, block = self.inputs(as_of)
        signals = compute_signals(inputs, as_of=as_of, rules=rules, subjects=subjects, kinds=kinds,
                                  horizon=horizon)
        return SignalReport(as_of, signals, inputs.checkpoint, inputs.anchored_size, len(inputs.reviews),
                            inputs.malformed_leaves, block)

    def inputs(self, as_of: int) -> tuple[SignalInputs, int]:
        """The inputs as of ``as_of``, and the index's cursor block they were read at."""
        position = self.indexer.position()
        with self._lock:
            if self._index is None or self._index[0] != position:
                self._index = (position, *_read_index(self.indexer))
            _, chain, remedies = self._index
        checkpoints = [c for c in self.indexer.checkpoints() if c.anchored_at <= as_of]
        reviews: tuple[ReviewPoint, ...] = ()
        malformed = 0
        checkpoint: tuple[int, int] | None = None
        leaves = self._leaves
        held = len(leaves) if isinstance(leaves, Sequence) else leaves.size
        usable = sorted((c for c in checkpoints if c.size <= held), key=lambda c: (-c.size, c.index))
        # the largest anchored checkpoint the leaves reproduce: a checkpoint they do not (a log that forked from
        # what was anchored) is passed over, as the trust profile passes over its leaves, rather than failing
        if isinstance(leaves, Sequence):
            tree = MerkleTree(merkle.leaf_hash(bytes(raw)) for raw in leaves)
            root_at: Callable[[int], bytes] = tree.root
        else:
            root_at = leaves.root
        verified = next((c for c in usable if root_at(c.size) == c.root), None)
        if verified is not None:
            points, malformed = self._points(verified.size)
            reviews, checkpoint = _proven_times(points, checkpoints), (verified.index, verified.size)
        anchored = max((c.size for c in checkpoints), default=0)
        return (SignalInputs(reviews, chain, remedies, checkpoint, malformed, anchored),
                position.block_number)

    def _points(self, size: int) -> tuple[list[ReviewPoint], int]:
        """The parsed leaves below ``size`` (whose root was checked) and how many of them did not parse."""
        leaves = self._leaves
        if isinstance(leaves, Sequence):
            found = [_point(i, bytes(raw)) for i, raw in enumerate(leaves[:size])]
            return [p for p in found if p is not None], sum(p is None for p in found)
        with self._lock:
            feed = self._feed
            while feed.read < size:
                end = min(size, feed.read + _CHUNK)
                raws, hashes = leaves.leaves(feed.read, end), leaves.leaf_hashes(feed.read, end)
                for i, (raw, leaf_hash) in enumerate(zip(raws, hashes, strict=True), start=feed.read):
                    if merkle.leaf_hash(raw) != leaf_hash:
                        raise LogCorrupted(f"leaf {i}'s stored bytes do not hash to the tree's leaf hash")
                    p = _point(i, raw)
                    if p is None:
                        feed.malformed.append(i)
                    else:
                        feed.points.append(p)
                        feed.indices.append(i)
                feed.read = end
            # an older as_of reads an older checkpoint: the prefix below its size
            return feed.points[:bisect_right(feed.indices, size - 1)], bisect_right(feed.malformed, size - 1)


def _proven_times(points: Sequence[ReviewPoint], checkpoints: Sequence[Any]) -> tuple[ReviewPoint, ...]:
    """``points`` with each time at most the anchoring time of the first of ``checkpoints`` covering its leaf."""
    by_size = sorted(checkpoints, key=lambda c: (c.size, c.anchored_at))
    sizes = [c.size for c in by_size]
    first: list[int] = []  # the earliest anchoring among checkpoints of at least each size
    earliest = None
    for c in reversed(by_size):
        earliest = c.anchored_at if earliest is None else min(earliest, c.anchored_at)
        first.append(earliest)
    first.reverse()
    out = []
    for p in points:
        i = bisect_right(sizes, p.leaf_index)  # the first checkpoint whose size exceeds the leaf's index
        if i < len(by_size) and first[i] < p.time:
            p = dataclasses.replace(p, time=first[i])
        out.append(p)
    return tuple(out)


def _read_index(indexer: Indexer) -> tuple[tuple[ChainPoint, ...], tuple[RemedyCase, ...]]:
    """Disputes opened and their remedy steps, revocations and failed spot checks, from the index's public reads."""
    points: list[ChainPoint] = []
    merchants: dict[bytes, str] = {}
    histories: dict[bytes, list[HistoryEntry]] = defaultdict(list)
    for e in indexer.events(contract="DisputeRegistry"):
        if e.event not in _REMEDY_EVENTS or "id" not in e.args:
            continue
        did = bytes.fromhex(str(e.args["id"])[2:])
        if e.event == "PurchaseDisputeOpened":
            merchant = _checksum(str(e.args["merchant"]))
            merchants[did] = merchant
            points.append(ChainPoint("dispute-opened", merchant, None, EventRef.of(e, did)))
        histories[did].append(e)
    remedies = tuple(RemedyCase(did, merchants[did], tuple(h)) for did, h in histories.items() if did in merchants
                     and any(x.event == "DisputeFinal" for x in h))
    for c in indexer.certificates():
        merchant, issuer = _checksum(c.merchant), _checksum(c.issuer)
        if c.kind == SPOT_CHECK_FAIL and c.history:
            points.append(ChainPoint("spot-check-failed", merchant, issuer, EventRef.of(c.history[0], c.certificate_id)))
        for h in c.history:
            if h.event == "CertificateRevoked" and bytes.fromhex(str(h.args["id"])[2:]) == c.certificate_id:
                points.append(ChainPoint("certificate-revoked", merchant, issuer, EventRef.of(h, c.certificate_id)))
    return tuple(points), remedies
