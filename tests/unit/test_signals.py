"""The early-warning detectors (ledger/signals.py, docs/signals.md) as pure functions, without a chain.

The tail statistics are checked against exact sums; Hypothesis checks they are monotone, that a steady Poisson
stream of reviews raises nothing at fixed seeds, and that a signal's surprise never falls when more of the burst
is added. Synthetic brushing scenarios check what is raised and the data it carries.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.indexer import HistoryEntry
from ledger.signals import (
    DAY,
    RULES,
    ChainPoint,
    EventRef,
    RemedyCase,
    ReviewPoint,
    Rule,
    SignalInputs,
    Subjects,
    binomial_surprise,
    compute_signals,
    poisson_surprise,
    unpaid_remedy,
)
from ledger.trust import REMEDY_PERIOD

M = "0x1111111111111111111111111111111111111111"
HONEST = "0x2222222222222222222222222222222222222222"
ISSUER = "0x3333333333333333333333333333333333333333"
T0 = 1_700_000_000
HOUR = 3600


def product(n: int) -> bytes:
    return n.to_bytes(32, "big")


def reviewer(n: int) -> bytes:
    return (10**6 + n).to_bytes(32, "big")


class Log:
    """A synthetic review log: leaf indices in append order."""

    def __init__(self) -> None:
        self.points: list[ReviewPoint] = []

    def add(self, time: int, *, merchant: str = M, prod: int = 0, who: int | None = None, rating: int = 4) -> int:
        index = len(self.points)
        self.points.append(ReviewPoint(index, time, merchant, product(prod), reviewer(index if who is None else who),
                                       rating))
        return index

    def trickle(self, start: int, days: int, per_day: float, seed: int, *, merchant: str = M,
                ratings: tuple[int, ...] = (3, 4, 4, 5, 2)) -> None:
        rng = random.Random(seed)
        t = start
        while True:
            t += max(1, int(rng.expovariate(per_day / DAY)))
            if t >= start + days * DAY:
                return
            self.add(t, merchant=merchant, prod=rng.randrange(20), rating=rng.choice(ratings))

    def inputs(self) -> SignalInputs:
        return SignalInputs(reviews=tuple(self.points), checkpoint=(0, len(self.points)))


def kinds(signals: tuple[object, ...]) -> set[tuple[str, str, str]]:
    return {(s.kind, s.subject_type, s.subject) for s in signals}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- statistics


def exact_poisson_tail(k: int, mu: Fraction) -> float:
    terms = sum(float(mu) ** i / math.factorial(i) for i in range(k))
    return 1.0 - math.exp(-float(mu)) * terms


@pytest.mark.parametrize(("k", "mu"), [(3, Fraction(1)), (5, Fraction(1, 2)), (10, Fraction(3)), (2, Fraction(1, 12))])
def test_poisson_surprise_is_minus_log10_of_the_upper_tail(k: int, mu: Fraction) -> None:
    assert poisson_surprise(k, float(mu)) == pytest.approx(-math.log10(exact_poisson_tail(k, mu)), rel=1e-9)


def test_binomial_surprise_is_minus_log10_of_the_upper_tail() -> None:
    n, x, q = 30, 20, 0.3
    p = sum(math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(x, n + 1))
    assert binomial_surprise(x, n, q) == pytest.approx(-math.log10(p), rel=1e-9)


def test_tails_far_below_the_smallest_double_stay_finite() -> None:
    s = poisson_surprise(5000, 1.0)
    assert math.isfinite(s) and s > 300
    assert math.isfinite(binomial_surprise(5000, 5000, 0.01)) and binomial_surprise(5000, 5000, 0.01) == \
        pytest.approx(10000, rel=1e-9)


def test_not_above_expectation_is_not_surprising() -> None:
    assert poisson_surprise(2, 2.0) == 0.0 and poisson_surprise(0, 0.5) == 0.0
    assert binomial_surprise(3, 10, 0.3) == 0.0


@pytest.mark.parametrize("args", [(-1, 1.0), (3, 0.0), (3, math.inf)])
def test_poisson_surprise_refuses_bad_arguments(args: tuple[int, float]) -> None:
    with pytest.raises(InvalidInput):
        poisson_surprise(*args)


@pytest.mark.parametrize("args", [(5, 4, 0.5), (1, 4, 0.0), (1, 4, 1.0), (-1, 4, 0.5)])
def test_binomial_surprise_refuses_bad_arguments(args: tuple[int, int, float]) -> None:
    with pytest.raises(InvalidInput):
        binomial_surprise(*args)


@given(st.integers(0, 400), st.floats(0.01, 100.0))
def test_poisson_surprise_grows_with_the_count_and_falls_with_the_expectation(k: int, mu: float) -> None:
    s = poisson_surprise(k, mu)
    assert s >= 0
    assert poisson_surprise(k + 1, mu) >= s - 1e-9
    assert poisson_surprise(k, mu * 1.5) <= s + 1e-9


@given(st.integers(1, 300), st.data(), st.floats(0.01, 0.99))
def test_binomial_surprise_grows_with_the_count(n: int, data: st.DataObject, q: float) -> None:
    x = data.draw(st.integers(0, n - 1))
    assert binomial_surprise(x + 1, n, q) >= binomial_surprise(x, n, q) - 1e-9


# ---------------------------------------------------------------------------------------------- rules


def test_published_rules_are_valid_and_cover_every_kind() -> None:
    assert {r.kind for r in RULES} == {"review-burst", "rating-shift", "dispute-surge", "revocation-spike",
                                       "spot-check-failure-spike", "remedy-unpaid"}
    json.dumps([r.to_json() for r in RULES])


@pytest.mark.parametrize("kw", [{"window": 0, "baseline": DAY}, {"window": DAY, "baseline": DAY + 1},
                                {"window": DAY, "baseline": 0}, {"window": DAY, "baseline": DAY, "prior": 0.0}])
def test_a_rule_that_cannot_be_computed_is_refused(kw: dict[str, int]) -> None:
    with pytest.raises(InvalidInput):
        Rule("review-burst", "merchant", "poisson-upper-tail", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [{"as_of": -1}, {"as_of": 10, "kinds": ["brushing"]}, {"as_of": 10, "horizon": 0}])
def test_bad_arguments_are_invalid_input(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        compute_signals(SignalInputs(), **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- reviews


def brushed() -> tuple[Log, list[int], int]:
    """Three months of a trickle (about 2 a day), then 200 five-star reviews in one hour."""
    log = Log()
    log.trickle(T0, 90, 2.0, seed=7)
    start = T0 + 90 * DAY
    burst = [log.add(start + i * 18, rating=5, prod=1) for i in range(200)]
    return log, burst, start


def test_a_merchant_buying_200_five_star_reviews_in_an_hour_is_flagged_with_the_burst() -> None:
    log, burst, start = brushed()
    as_of = start + 2 * HOUR
    signals = compute_signals(log.inputs(), as_of=as_of)
    burst_signal = next(s for s in signals if (s.kind, s.subject_type) == ("review-burst", "merchant"))
    assert burst_signal.subject == M and burst_signal.as_of == as_of
    assert set(burst) <= set(burst_signal.data.leaves)
    assert burst_signal.observed >= 200 and burst_signal.data.counts[-1] == burst_signal.observed
    assert len(burst_signal.data.counts) == 29  # 28 baseline days, then the window
    assert sum(burst_signal.data.counts[:-1]) == burst_signal.baseline_count
    assert burst_signal.expected < 5 and burst_signal.value > 100
    assert burst_signal.value >= burst_signal.rule.min_surprise
    assert burst_signal.window_end - burst_signal.window_start == DAY
    shift = next(s for s in signals if (s.kind, s.subject_type) == ("rating-shift", "merchant"))
    assert shift.rule.rating == 5 and shift.data.stars_window is not None and shift.data.stars_window[4] >= 200
    json.dumps(burst_signal.to_json())


def test_before_the_burst_nothing_is_raised_and_later_events_do_not_count() -> None:
    log, _, start = brushed()
    assert compute_signals(log.inputs(), as_of=start - 1) == ()


def test_signals_are_deterministic_whatever_the_input_order() -> None:
    log, _, start = brushed()
    shuffled = list(log.points)
    random.Random(3).shuffle(shuffled)
    a = compute_signals(log.inputs(), as_of=start + DAY)
    b = compute_signals(SignalInputs(reviews=tuple(shuffled)), as_of=start + DAY)
    assert a == b and [s.to_json() for s in a] == [s.to_json() for s in b]


def test_a_reviewer_reviewing_50_products_in_a_day_is_flagged() -> None:
    log = Log()
    log.trickle(T0, 60, 5.0, seed=1, merchant=HONEST)
    day = T0 + 60 * DAY
    mine = [log.add(day + i * 1500, merchant=HONEST, prod=100 + i, who=42, rating=5) for i in range(50)]
    signals = compute_signals(log.inputs(), as_of=day + DAY, subjects=Subjects.only(reviewer=reviewer(42)))
    assert [(s.kind, s.subject_type) for s in signals] == [("review-burst", "reviewer")]
    s = signals[0]
    assert s.subject == "0x" + reviewer(42).hex() and list(s.data.leaves) == mine
    assert s.data.distinct_products == 50 and s.data.distinct_merchants == 1


def test_an_honest_merchant_with_steady_reviews_is_not_flagged() -> None:
    log = Log()
    log.trickle(T0, 120, 20.0, seed=11, merchant=HONEST)
    assert compute_signals(log.inputs(), as_of=T0 + 120 * DAY) == ()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.floats(0.5, 40.0), st.integers(0, 10**6))
def test_no_signal_on_a_steady_poisson_stream(per_day: float, seed: int) -> None:
    log = Log()
    log.trickle(T0, 90, per_day, seed=seed)
    assert compute_signals(log.inputs(), as_of=T0 + 90 * DAY, kinds=["review-burst", "rating-shift"]) == ()


@settings(max_examples=20, deadline=None)
@given(st.integers(10, 120), st.integers(1, 80))
def test_more_of_a_burst_never_lowers_its_surprise(size: int, more: int) -> None:
    def value(n: int) -> float:
        log = Log()
        log.trickle(T0, 40, 1.0, seed=5)
        for i in range(n):
            log.add(T0 + 40 * DAY + i * 10, rating=5)
        found = [s for s in compute_signals(log.inputs(), as_of=T0 + 41 * DAY, kinds=["review-burst"])
                 if s.subject_type == "merchant"]
        return found[0].value if found else 0.0

    assert value(size + more) >= value(size)


def test_a_rating_shift_down_is_review_bombing() -> None:
    log = Log()
    log.trickle(T0, 84, 6.0, seed=2, ratings=(4, 5, 5, 4, 3))
    end = T0 + 84 * DAY
    for i in range(40):
        log.add(end + i * 3 * HOUR, rating=1, prod=3)
    signals = compute_signals(log.inputs(), as_of=end + 5 * DAY, kinds=["rating-shift"])
    down = [s for s in signals if s.rule.rating == 1]
    assert {(s.subject_type, s.subject) for s in down} == {("merchant", M), ("product", "0x" + product(3).hex())}


def test_subjects_select_what_is_computed() -> None:
    log, _, start = brushed()
    only_product = compute_signals(log.inputs(), as_of=start + DAY, subjects=Subjects.only(product=product(1)))
    assert {s.subject_type for s in only_product} == {"product"}
    assert compute_signals(log.inputs(), as_of=start + DAY, subjects=Subjects.only(merchant=HONEST)) == ()


# ---------------------------------------------------------------------------------------------- chain events


def ref(n: int, time: int, event: str = "PurchaseDisputeOpened") -> EventRef:
    return EventRef(event, n.to_bytes(32, "big"), 100 + n, 0, time, (500 + n).to_bytes(32, "big"))


def test_a_dispute_surge_is_flagged_with_its_events_and_four_are_not_enough() -> None:
    history = [ChainPoint("dispute-opened", M, None, ref(i, T0 + i * 10 * DAY)) for i in range(6)]
    surge = [ChainPoint("dispute-opened", M, None, ref(100 + i, T0 + 80 * DAY + i * HOUR)) for i in range(5)]
    as_of = T0 + 81 * DAY
    signals = compute_signals(SignalInputs(chain=tuple(history + surge)), as_of=as_of)
    assert [(s.kind, s.subject) for s in signals] == [("dispute-surge", M)]
    assert [e.tx_hash for e in signals[0].data.events] == [p.event.tx_hash for p in surge]
    assert compute_signals(SignalInputs(chain=tuple(history + surge[:4])), as_of=as_of) == ()


def test_revocation_and_failed_spot_check_spikes_name_merchant_and_issuer() -> None:
    points = [ChainPoint(what, M, ISSUER, ref(i + 10 * k, T0 + i * HOUR, "CertificateRevoked"))
              for k, what in enumerate(("certificate-revoked", "spot-check-failed")) for i in range(3)]
    signals = compute_signals(SignalInputs(chain=tuple(points)), as_of=T0 + DAY)
    assert kinds(signals) == {("revocation-spike", "merchant", M), ("revocation-spike", "issuer", ISSUER),
                              ("spot-check-failure-spike", "merchant", M),
                              ("spot-check-failure-spike", "issuer", ISSUER)}


def entry(event: str, time: int, **args: object) -> HistoryEntry:
    return HistoryEntry(time, 0, time, time.to_bytes(32, "big"), event, {"id": "0x" + "ab" * 32, **args})


def case(*entries: HistoryEntry) -> RemedyCase:
    return RemedyCase(b"\xab" * 32, M, entries)


def test_an_unpaid_remedy_is_flagged_only_after_the_remedy_period() -> None:
    final = T0 + DAY
    c = case(entry("DisputeRuled", T0, remedyAmount="1000"), entry("DisputeFinal", final, outcome=1))
    inputs = SignalInputs(remedies=(c,))
    assert compute_signals(inputs, as_of=final + REMEDY_PERIOD) == ()
    (s,) = compute_signals(inputs, as_of=final + REMEDY_PERIOD + 1)
    assert (s.kind, s.subject, s.observed) == ("remedy-unpaid", M, 1)
    (r,) = s.data.remedies
    assert (r.due_since, r.deadline, r.remedy_amount, r.outcome) == (final, final + REMEDY_PERIOD, "1000", 1)
    assert s.data.events[0].event == "DisputeFinal"


@pytest.mark.parametrize(("steps", "unpaid"), [
    ((("RemedyConfirmed", {}),), False),
    ((("RemedyReported", {"confirmDeadline": T0 + 9 * DAY}),), False),
    ((("RemedyReported", {"confirmDeadline": T0 + 9 * DAY}), ("RemedyContested", {})), False),
    ((("RemedyReported", {"confirmDeadline": T0 + 9 * DAY}), ("RemedyContested", {}),
      ("RemedyRuled", {"fulfilled": False})), True),
    ((("RemedyRuled", {"fulfilled": True}),), False),
])
def test_remedy_steps_follow_the_trust_profiles_rule(steps: tuple[tuple[str, dict[str, object]], ...],
                                                     unpaid: bool) -> None:
    entries = [entry("DisputeFinal", T0, outcome=2)]
    entries += [entry(name, T0 + (i + 1) * DAY, **args) for i, (name, args) in enumerate(steps)]
    assert (unpaid_remedy(case(*entries), T0 + REMEDY_PERIOD + 1) is not None) is unpaid


def test_a_rejected_claim_orders_no_remedy() -> None:
    assert unpaid_remedy(case(entry("DisputeFinal", T0, outcome=4)), T0 + 10 * REMEDY_PERIOD) is None


def test_a_review_is_dated_no_later_than_the_checkpoint_that_proves_it() -> None:
    """A ``submittedAt`` ahead of the chain (the service's clock runs a little fast) is brought back to the
    anchoring time of the first checkpoint covering the leaf; an earlier one, or a leaf no checkpoint covers,
    keeps its own."""
    from types import SimpleNamespace

    from ledger.signals import ReviewPoint, _proven_times

    def point(i: int, t: int) -> ReviewPoint:
        return ReviewPoint(i, t, "0x" + "11" * 20, b"\x01" * 32, b"\x02" * 32, 5)

    checkpoints = [SimpleNamespace(size=4, anchored_at=1_000), SimpleNamespace(size=10, anchored_at=2_000)]
    times = [p.time for p in _proven_times(
        [point(0, 900), point(3, 1_005), point(4, 1_500), point(9, 2_050), point(12, 3_000)], checkpoints)]
    assert times == [900, 1_000, 1_500, 2_000, 3_000]
