"""The merchant trust profile: a documented, deterministic score over public, chain-anchored data only.

:func:`trust_profile` reads what the indexer holds of the chain's events (certificates and spot checks,
purchase disputes and their remedies, sanctions, review takedowns, checkpoints) and the review log's leaves,
counts only the leaves that reproduce an anchored checkpoint's root, and returns a :class:`TrustProfile`: the
score 0-100 beside every count it was computed from, each term's value and weight, and the formula version.

The formula (docs/trust-profile.md gives it in full, with its rationale and a worked example) is a weighted
mean of five Beta-smoothed ratios, multiplied by a standing factor and a sanction-history factor::

    term   = (favourable + prior_f) / (favourable + unfavourable + prior_f + prior_u)
    exact  = standing_factor * history_factor * sum(weight * term)          (weights sum to 100)
    score  = floor(exact + 1/2)

Everything is an exact rational (:class:`fractions.Fraction`) until that one rounding, so a re-implementation
in any language with integers gets the identical number; ``scripts/trust_profile_plain.py`` is one, reading
only ``eth_getLogs`` and the leaves, and the tests compare its JSON with :meth:`TrustProfile.to_json`.

Only events in blocks whose time is at or before ``as_of`` count (checkpoints: their anchoring time), so a
profile is reproducible for any past moment as well as for now.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple, Protocol, TypeVar

from eth_utils.address import to_checksum_address

from . import merkle
from .errors import InvalidInput, InvalidProof, RootMismatch
from .indexer import (
    BoundedCache,
    CertificateStatus,
    CheckpointRecord,
    HistoryEntry,
    Indexer,
    IndexView,
    MerchantTrustData,
    certificate_status,
)
from .merkle import MerkleTree
from .reviews import ReviewLeaf, parse_review_leaf
from .tally import ReviewTally
from .verify import LeafStore, Reason, ReasonCode

__all__ = [
    "FORMULA",
    "REMEDY_PERIOD",
    "WEIGHTS",
    "CertificateCounts",
    "DisputeCounts",
    "IndexedLeafStore",
    "ReadOnce",
    "RemedyTrack",
    "ReviewCounts",
    "SanctionCounts",
    "SanctionEvent",
    "Term",
    "TrustInputs",
    "TrustProfile",
    "checksum_address",
    "clear_leaf_caches",
    "leaf_caches",
    "remedy_track",
    "score",
    "trust_profile",
]

FORMULA = "trustledger-merchant-trust/1"
"""The formula's name and version; any change to a weight, prior, factor or rule gives a new version."""

WEIGHTS: Mapping[str, int] = {
    "certificates": 30,
    "reviews": 30,
    "disputeResponse": 10,
    "disputeOutcome": 15,
    "remedies": 15,
}
"""Weight of each term; they sum to 100."""

PRIORS: Mapping[str, tuple[int, int]] = {
    "certificates": (1, 1),
    "reviews": (20, 20),  # ten pseudo-reviews of 3 stars, in quarter-star points (see ReviewCounts)
    "disputeResponse": (1, 1),
    "disputeOutcome": (1, 1),
    "remedies": (1, 1),
}
"""(favourable, unfavourable) pseudo-observations added to each term: Laplace's rule, and for reviews a
Bayesian average with ten 3-star pseudo-reviews."""

REMEDY_PERIOD = 14 * 24 * 3600
"""Seconds a merchant has to pay an ordered remedy, from the block in which the ruling became final; a remedy
neither reported nor confirmed after that is unpaid."""

SANCTION_POINTS: Mapping[int, int] = {0: 1, 1: 3, 2: 5}
"""Points per sanction in the merchant's history, by ``SanctionKind``: warning 1, suspension 3, ban 5."""

SANCTION_SCALE = 10
"""History factor = SANCTION_SCALE / (SANCTION_SCALE + points)."""

STANDING_FACTORS: Mapping[int, Fraction] = {0: Fraction(0), 1: Fraction(1), 2: Fraction(1, 2), 3: Fraction(0)}
"""By ``MerchantStatus`` as of ``as_of``: never admitted 0, active 1, suspended 1/2, banned 0."""

STANDING_NAMES: Mapping[int, str] = {0: "notAdmitted", 1: "active", 2: "suspended", 3: "banned"}
SANCTION_KINDS: Mapping[int, str] = {0: "warning", 1: "suspension", 2: "ban"}
CERTIFICATE_KINDS: tuple[str, ...] = ("certificate", "spotCheckPass", "spotCheckFail")
STATUS_NAMES: Mapping[CertificateStatus, str] = {
    CertificateStatus.VALID: "valid",
    CertificateStatus.REVOKED: "revoked",
    CertificateStatus.EXPIRED: "expired",
    CertificateStatus.SUPERSEDED: "superseded",
    CertificateStatus.FAILED: "failed",
    CertificateStatus.COMPROMISED: "compromised",
}

# IDisputeRegistry.Outcome
_REFUND, _REPLACEMENT, _PARTIAL_REFUND, _REJECTED = 1, 2, 3, 4
_OUTCOME_NAMES: Mapping[int, str] = {_REFUND: "refund", _REPLACEMENT: "replacement",
                                     _PARTIAL_REFUND: "partialRefund", _REJECTED: "rejected"}
_REMEDY_OUTCOMES = (_REFUND, _REPLACEMENT, _PARTIAL_REFUND)


@functools.lru_cache(maxsize=65536)
def checksum_address(address: str) -> str:
    """EIP-55 spelling of ``address`` (cached: the same merchants and issuers recur on every record);
    ValueError for something that is not an address."""
    return str(to_checksum_address(address))


# --- where the leaves come from ---------------------------------------------------------------------------


class IndexedLeafStore(LeafStore, Protocol):
    """A leaf store that can say which leaves are a product's or a merchant's
    (:class:`~ledger.reviewlog.ReviewLogService`): the indexed, proof-checked path of :func:`trust_profile` and
    :func:`ledger.product.product_record` reads only those leaves and checks each by its inclusion proof."""

    def leaf_indices(self, *, product: bytes | None = None, merchant: str | None = None,
                     start: int = 0) -> list[int]: ...

    def leaves_at(self, indices: Sequence[int]) -> list[bytes]: ...


Leaves = Sequence[bytes] | IndexedLeafStore
"""The review log as a whole sequence of leaf bytes from index 0 (an auditor's mirror: every leaf re-hashed),
or as a store (only the relevant leaves read, each proved)."""


class ReadOnce:
    """A leaf store as one call (a record, a profile) reads it: each ``leaf_indices`` answer and each leaf's
    bytes are asked of ``store`` at most once in the call, several leaves in one ``leaves_at``
    (:meth:`prefetch`); nothing is kept after the call.

    A store may also answer which leaves are a product's or a merchant's *with their bytes* in one read:
    ``leaves_of(*, product=None, merchant=None) -> list[tuple[int, bytes]]`` (index order). When it has that
    method, it is used instead of ``leaf_indices`` followed by ``leaves_at``.
    """

    def __init__(self, store: IndexedLeafStore) -> None:
        self._store = store
        self._indices: dict[tuple[bytes | None, str | None, int], list[int]] = {}
        self._bytes: dict[int, bytes] = {}
        leaves_of = getattr(store, "leaves_of", None)
        self._leaves_of: Callable[..., list[tuple[int, bytes]]] | None = leaves_of if callable(leaves_of) else None

    @property
    def size(self) -> int:
        return self._store.size

    def leaf_indices(self, *, product: bytes | None = None, merchant: str | None = None,
                     start: int = 0) -> list[int]:
        key = (None if product is None else bytes(product), None if merchant is None else merchant.lower(), start)
        if key not in self._indices:
            if self._leaves_of is not None and start == 0:
                found = self._leaves_of(product=product, merchant=merchant)
                self._bytes.update((int(i), bytes(b)) for i, b in found)
                self._indices[key] = [int(i) for i, _ in found]
            else:
                self._indices[key] = self._store.leaf_indices(product=product, merchant=merchant, start=start)
        return self._indices[key]

    def prefetch(self, indices: Sequence[int]) -> None:
        """Read the bytes of those of ``indices`` not read yet, in one ``leaves_at``."""
        missing = sorted({i for i in indices if i not in self._bytes})
        if missing:
            self._bytes.update(zip(missing, self._store.leaves_at(missing), strict=True))

    def leaves_at(self, indices: Sequence[int]) -> list[bytes]:
        self.prefetch(indices)
        return [self._bytes[i] for i in indices]

    def leaves(self, start: int, end: int) -> list[bytes]:
        return self._store.leaves(start, end)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self._store.leaf_hashes(start, end)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._store.inclusion_proof(index, size)


def leaf_store(leaves: Leaves) -> IndexedLeafStore | None:
    """``leaves`` as a store (None: a plain sequence, for the full-sequence path); InvalidInput for neither."""
    if isinstance(leaves, Sequence):
        return None
    if not all(callable(getattr(leaves, name, None)) for name in ("leaf_indices", "leaves_at", "inclusion_proof")):
        raise InvalidInput(f"leaves must be a sequence of leaf bytes or an indexed leaf store, found "
                           f"{type(leaves).__name__}")
    return leaves


C = TypeVar("C", bound=merkle.Checkpoint)


class ProvedLeaf(NamedTuple):
    """One leaf read from a store on the indexed path, and what checking it found (a named tuple: one is made
    per leaf of the product and of each merchant, on every call)."""

    leaf_index: int
    leaf: ReviewLeaf | None
    """The parsed leaf (None: the strict parser rejected its bytes)."""
    verdict: str
    """``malformed``, ``pending`` (beyond the latest anchored checkpoint), ``unproved`` (covered by an anchored
    checkpoint the store cannot prove against), ``inclusion-mismatch`` (its proof does not reproduce the
    checkpoint's root), or ``included``."""
    reason: Reason | None = None


_PARSED: BoundedCache[bytes, ReviewLeaf] = BoundedCache(1 << 15)
"""Leaves the strict parser accepted, by leaf hash (SHA-256(0x00 || bytes)): parsing is a pure function of the
bytes, and the bytes are the hash's preimage."""

_PROVED: BoundedCache[tuple[int, bytes, int, bytes], bool] = BoundedCache(1 << 16)
"""Inclusions proved, by (checkpoint size, checkpoint root, leaf index, leaf hash): that a leaf hash sits at an
index of the tree with that size and root is a fact about those four values alone, true forever once a proof
reproduced the root. Failures are not kept: they are checked again on every call."""


def leaf_caches() -> tuple[BoundedCache[bytes, ReviewLeaf], BoundedCache[tuple[int, bytes, int, bytes], bool]]:
    """The parsed-leaf and proved-inclusion caches of the indexed path: their ``hits`` and ``misses``, and
    ``maxsize`` (32,768 parsed leaves, about 20 MB; 65,536 proofs, about 15 MB), which a server may set to the
    leaves its busiest merchants hold."""
    return _PARSED, _PROVED


def clear_leaf_caches() -> None:
    """Forget every parsed leaf and proved inclusion (a benchmark's cold start)."""
    _PARSED.clear()
    _PROVED.clear()


def _verified_checkpoint(checkpoints: Sequence[C], size: int) -> C | None:
    """The checkpoint a store of ``size`` leaves is proved against: the largest anchored one it holds."""
    return next((c for c in sorted(checkpoints, key=lambda c: (-c.size, c.index)) if c.size <= size), None)


def _parsed(raw: bytes) -> ReviewLeaf:
    """``raw`` parsed by the strict parser, through the parsed-leaf cache (InvalidInput when it rejects it)."""
    leaf_hash = merkle.leaf_hash(raw)
    leaf = _PARSED.get_many([leaf_hash])[0]
    if leaf is None:
        leaf = parse_review_leaf(raw)
        _PARSED.put(leaf_hash, leaf)
    return leaf


def proved_leaves(store: IndexedLeafStore, indices: Sequence[int], checkpoints: Sequence[C],
                  ) -> tuple[int, C | None, list[ProvedLeaf]]:
    """Read and check the leaves at ``indices`` (ascending) of ``store``: O(k log n) for k leaves.

    ``checkpoints`` are the anchored ones that count (their sizes and roots from the index or the chain, never
    from the store). Each leaf below the checkpoint verified against (the latest with ``size <= store.size``) is
    included only when its inclusion proof from the store, over the hash of the bytes the store returns,
    reproduces that checkpoint's root (:func:`ledger.merkle.verify_inclusion`). Returns (the latest anchored
    size, the checkpoint verified against, each leaf's finding).

    The bytes are read and hashed on every call; what is remembered is keyed by that hash (and the checkpoint's
    size and root), so an altered leaf misses every cache: its parse and its proof are done again, and fail.
    """
    anchored_size = max((c.size for c in checkpoints), default=0)
    size = store.size
    verified = _verified_checkpoint(checkpoints, size)
    verified_size = 0 if verified is None else verified.size
    out: list[ProvedLeaf] = []
    raws = store.leaves_at(indices)
    hashes = [merkle.leaf_hash(raw) for raw in raws]
    known = _PARSED.get_many(hashes)
    provable = [(verified.size, verified.root, index, leaf_hash) for index, leaf_hash in zip(indices, hashes, strict=True)
                if index < verified.size] if verified is not None else []
    proved_before = dict(zip(provable, _PROVED.get_many(provable), strict=True))
    for index, raw, leaf_hash, leaf in zip(indices, raws, hashes, known, strict=True):
        if leaf is None:
            try:
                leaf = parse_review_leaf(raw)
            except InvalidInput as exc:
                out.append(ProvedLeaf(index, None, "malformed", Reason(ReasonCode.REVIEW_LEAF_MALFORMED,
                                                                       f"leaf {index}: {exc}")))
                continue
            _PARSED.put(leaf_hash, leaf)
        if index >= anchored_size:
            out.append(ProvedLeaf(index, leaf, "pending"))
            continue
        if index >= verified_size:
            out.append(ProvedLeaf(index, leaf, "unproved", Reason(
                ReasonCode.REVIEW_PROOF_UNAVAILABLE,
                f"leaf {index}: expected a store of >= {anchored_size} leaves to prove it against the latest "
                f"anchored checkpoint, found {size}")))
            continue
        assert verified is not None
        if proved_before.get((verified.size, verified.root, index, leaf_hash)) is None:
            try:
                merkle.verify_inclusion(index, verified.size, leaf_hash,
                                        store.inclusion_proof(index, verified.size), verified.root)
            except (RootMismatch, InvalidProof, InvalidInput) as exc:
                out.append(ProvedLeaf(index, leaf, "inclusion-mismatch", Reason(
                    ReasonCode.REVIEW_INCLUSION_FAILED,
                    f"leaf {index} (0x{leaf_hash.hex()}) against checkpoint {verified.index} (size "
                    f"{verified.size}): {exc}")))
                continue
            _PROVED.put((verified.size, verified.root, index, leaf_hash), True)
        out.append(ProvedLeaf(index, leaf, "included"))
    return anchored_size, verified, out


# --- the formula over counts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustInputs:
    """The counts the score depends on, and nothing else (:func:`score` is a pure function of these)."""

    certificates_valid: int = 0
    certificates_revoked: int = 0
    certificates_failed: int = 0
    stars: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """Counted reviews with 1, 2, 3, 4 and 5 stars."""
    responses_timely: int = 0
    responses_missed: int = 0
    outcomes_rejected: int = 0
    outcomes_upheld: int = 0
    remedies_fulfilled: int = 0
    remedies_unpaid: int = 0
    standing: int = 1
    """``MerchantStatus``: 0 never admitted, 1 active, 2 suspended, 3 banned."""
    warnings: int = 0
    suspensions: int = 0
    bans: int = 0

    def __post_init__(self) -> None:
        counts = [v for k, v in vars(self).items() if k not in ("stars", "standing")] + list(self.stars)
        if len(self.stars) != 5 or any(not isinstance(v, int) or v < 0 for v in counts):
            raise InvalidInput("trust inputs are counts: non-negative integers, five star counts")
        if self.standing not in STANDING_FACTORS:
            raise InvalidInput(f"standing must be 0..3, not {self.standing}")


@dataclass(frozen=True)
class Term:
    """One weighted term: ``value = (favourable + prior_favourable) / (all of them)``."""

    name: str
    weight: int
    favourable: int
    unfavourable: int
    prior_favourable: int
    prior_unfavourable: int

    @property
    def value(self) -> Fraction:
        return Fraction(self.favourable + self.prior_favourable,
                        self.favourable + self.unfavourable + self.prior_favourable + self.prior_unfavourable)

    def to_json(self) -> dict[str, Any]:
        return {"weight": self.weight, "favourable": self.favourable, "unfavourable": self.unfavourable,
                "priorFavourable": self.prior_favourable, "priorUnfavourable": self.prior_unfavourable,
                "value": _fraction(self.value)}


@dataclass(frozen=True)
class Score:
    """The terms, the two factors, the exact score and the published integer."""

    terms: tuple[Term, ...]
    standing_factor: Fraction
    sanction_points: int
    history_factor: Fraction
    exact: Fraction
    score: int


def score(inputs: TrustInputs) -> Score:
    """The formula of docs/trust-profile.md over ``inputs``: exact until the final round-half-up."""
    stars = inputs.stars
    quarter_up = sum(n * (rating - 1) for rating, n in zip(range(1, 6), stars, strict=True))
    quarter_down = sum(n * (5 - rating) for rating, n in zip(range(1, 6), stars, strict=True))
    observed = {
        "certificates": (inputs.certificates_valid, inputs.certificates_revoked + inputs.certificates_failed),
        "reviews": (quarter_up, quarter_down),
        "disputeResponse": (inputs.responses_timely, inputs.responses_missed),
        "disputeOutcome": (inputs.outcomes_rejected, inputs.outcomes_upheld),
        "remedies": (inputs.remedies_fulfilled, inputs.remedies_unpaid),
    }
    terms = tuple(Term(name, weight, *observed[name], *PRIORS[name]) for name, weight in WEIGHTS.items())
    standing = STANDING_FACTORS[inputs.standing]
    points = (SANCTION_POINTS[0] * inputs.warnings + SANCTION_POINTS[1] * inputs.suspensions
              + SANCTION_POINTS[2] * inputs.bans)
    history = Fraction(SANCTION_SCALE, SANCTION_SCALE + points)
    exact = standing * history * sum((t.weight * t.value for t in terms), Fraction(0))
    return Score(terms, standing, points, history, exact, _round_half_up(exact))


def _round_half_up(x: Fraction) -> int:
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


def _fraction(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}"


# --- the profile ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateCounts:
    """The merchant's certificate records anchored by ``as_of``, by kind and by status at ``as_of``.

    ``by_status`` covers every kind: valid (favourable), revoked and failed (unfavourable), expired,
    superseded and compromised (neither: see docs/trust-profile.md).
    """

    by_kind: tuple[int, int, int]
    """Certificates, passed spot checks, failed spot checks."""
    valid: int
    revoked: int
    failed: int
    expired: int
    superseded: int
    compromised: int

    def to_json(self) -> dict[str, Any]:
        return {"byKind": dict(zip(CERTIFICATE_KINDS, self.by_kind, strict=True)),
                "byStatus": {"valid": self.valid, "revoked": self.revoked, "failed": self.failed,
                             "expired": self.expired, "superseded": self.superseded,
                             "compromised": self.compromised}}


@dataclass(frozen=True)
class ReviewCounts:
    """The merchant's reviews: counted per star, and the leaves left out and why.

    A leaf counts only when it lies within ``verified_size``: the largest anchored checkpoint (as of
    ``as_of``) whose root the given leaves reproduce (indexed path: the latest anchored checkpoint the store can
    prove against, each leaf of the merchant proved by its own inclusion proof; a leaf whose proof fails is in
    ``root_mismatch``, named in ``exclusions``). Excluded, for leaves that name this merchant:
    ``beyond_checkpoint`` (at or past the latest anchored checkpoint's size), ``root_mismatch`` (covered by an
    anchored checkpoint whose root the given leaves do not reproduce: a tampered or missing leaf at or before
    it), ``duplicate_purchase`` (a second leaf for a purchase already reviewed), ``taken_down`` (removed by a
    final ruling). ``malformed`` counts the given leaves, of any merchant, that the strict parser rejects.
    """

    leaves_given: int
    anchored_size: int
    verified_size: int
    verified_checkpoint: int | None
    """Index of the checkpoint the counted leaves were verified against (None: none reproduced)."""
    stars: tuple[int, int, int, int, int]
    beyond_checkpoint: int
    root_mismatch: int
    duplicate_purchase: int
    taken_down: int
    malformed: int
    exclusions: tuple[Reason, ...] = ()
    """Indexed path only: a named reason per leaf of the merchant left out for its bytes (malformed, proof
    unavailable, inclusion proof failed). Not part of the JSON, which stays that of the plain script."""

    @property
    def counted(self) -> int:
        return sum(self.stars)

    def to_json(self) -> dict[str, Any]:
        return {"leavesGiven": self.leaves_given, "anchoredSize": self.anchored_size,
                "verifiedSize": self.verified_size, "verifiedCheckpoint": self.verified_checkpoint,
                "counted": self.counted, "stars": {str(i + 1): n for i, n in enumerate(self.stars)},
                "excluded": {"beyondCheckpoint": self.beyond_checkpoint, "rootMismatch": self.root_mismatch,
                             "duplicatePurchase": self.duplicate_purchase, "takenDown": self.taken_down},
                "malformed": self.malformed}


@dataclass(frozen=True)
class DisputeCounts:
    """Purchase disputes against the merchant opened by ``as_of``, and where each stood at ``as_of``."""

    opened: int
    responses_timely: int
    responses_missed: int
    """No response and the response deadline passed (default rulings included)."""
    responses_pending: int
    default_rulings: int
    final: tuple[int, int, int, int]
    """Final outcomes: refund, replacement, partial refund, rejected."""
    not_final: int
    remedies_fulfilled: int
    """Confirmed by the claimant, deemed confirmed (window passed), or ruled fulfilled."""
    remedies_contested: int
    remedies_unpaid: int
    """Due (never reported, or ruled not fulfilled) more than REMEDY_PERIOD after the final ruling."""
    remedies_pending: int

    def to_json(self) -> dict[str, Any]:
        return {"opened": self.opened,
                "responses": {"timely": self.responses_timely, "missed": self.responses_missed,
                              "pending": self.responses_pending, "defaultRulings": self.default_rulings},
                "final": dict(zip(_OUTCOME_NAMES.values(), self.final, strict=True)), "notFinal": self.not_final,
                "remedies": {"ordered": sum(self.final[:3]), "fulfilled": self.remedies_fulfilled,
                             "contested": self.remedies_contested, "unpaid": self.remedies_unpaid,
                             "pending": self.remedies_pending}}


@dataclass(frozen=True)
class SanctionEvent:
    """One sanction or restoration of the merchant, with where it is recorded."""

    event: str
    kind: str | None
    status: str
    reason_code: bytes
    ruling_ref: bytes
    block_time: int
    block_number: int
    tx_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "kind": self.kind, "status": self.status,
                "reasonCode": "0x" + self.reason_code.hex(), "rulingRef": "0x" + self.ruling_ref.hex(),
                "time": self.block_time, "block": self.block_number, "tx": "0x" + self.tx_hash.hex()}


@dataclass(frozen=True)
class SanctionCounts:
    """The merchant's standing at ``as_of`` and its whole sanction history up to then."""

    standing: int
    warnings: int
    suspensions: int
    bans: int
    restorations: int
    history: tuple[SanctionEvent, ...]

    def to_json(self) -> dict[str, Any]:
        return {"standing": STANDING_NAMES[self.standing], "warnings": self.warnings,
                "suspensions": self.suspensions, "bans": self.bans, "restorations": self.restorations,
                "history": [e.to_json() for e in self.history]}


@dataclass(frozen=True)
class TrustProfile:
    """A merchant's trust score with every input beside it. :meth:`to_json` is canonical and stable."""

    merchant: str
    chain_id: int
    as_of: int
    certificates: CertificateCounts
    reviews: ReviewCounts
    disputes: DisputeCounts
    sanctions: SanctionCounts
    inputs: TrustInputs
    result: Score
    formula: str = FORMULA

    @property
    def score(self) -> int:
        """The published score, 0 to 100."""
        return self.result.score

    def as_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "v": 1, "formula": self.formula, "merchant": self.merchant, "chainId": self.chain_id,
            "asOf": self.as_of, "score": r.score, "scoreExact": _fraction(r.exact),
            "terms": {t.name: t.to_json() for t in r.terms},
            "factors": {"standing": _fraction(r.standing_factor), "sanctionPoints": r.sanction_points,
                        "history": _fraction(r.history_factor)},
            "certificates": self.certificates.to_json(), "reviews": self.reviews.to_json(),
            "disputes": self.disputes.to_json(), "sanctions": self.sanctions.to_json(),
        }

    def to_json(self) -> str:
        """RFC 8785 canonical JSON (members sorted, no whitespace; every value an ASCII string, an integer
        below 2**53, null or a nested object/array): equal profiles give equal bytes."""
        return canonical_json(self.as_json())


def canonical_json(value: Any) -> str:
    """RFC 8785 for the values a profile holds (integers below 2**53, ASCII strings, no floats)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


# --- reading the chain's record ---------------------------------------------------------------------------

def trust_profile(merchant: str, *, indexer: Indexer | IndexView, leaves: Leaves, as_of: int,
                  tally: ReviewTally | None = None) -> TrustProfile:
    """The trust profile of ``merchant`` as of unix time ``as_of``.

    ``indexer`` must have synced past ``as_of`` (events after it are ignored; events it has not indexed
    yet are missing); a view of it (:meth:`Indexer.view`) reads several profiles at one position. Its reads are
    memoized while the index does not move (:class:`~ledger.indexer.IndexView`). ``leaves``: either the review
    log's entries from index 0 on, as canonical bytes (an auditor's mirror, or ``ReviewLogService.leaves(0, n)``),
    every one hashed and the largest anchored root they reproduce found (O(n)); or an :class:`IndexedLeafStore`
    (the ``ReviewLogService`` itself), of which only the merchant's leaves are read (on every call), each counted
    only when its inclusion proof verifies against the anchored checkpoint (O(k log n); proofs already verified
    against that checkpoint are remembered by leaf hash). For an honest log both give the same profile.

    ``tally`` (store path only): a :class:`~ledger.tally.ReviewTally` over that store. When it verified the
    checkpoint the profile counts under, the merchant's star counts below it come from the tally (O(1) reads)
    and only its leaves beyond the checkpoint and its taken-down leaves are read; otherwise leaf by leaf, as
    without one. The profile is the same either way.
    """
    if not isinstance(as_of, int) or as_of < 0:
        raise InvalidInput(f"as_of must be unix seconds, not {as_of!r}")
    if not isinstance(merchant, str) or len(merchant) != 42 or not merchant.startswith("0x"):
        raise InvalidInput(f"not an address: {merchant!r}")
    try:
        merchant = checksum_address(merchant)
    except ValueError as exc:
        raise InvalidInput(f"not an address: {merchant!r}") from exc
    view = indexer.view(merchants=[merchant]) if isinstance(indexer, Indexer) else indexer

    data = view.merchant_trust(merchant)
    certificates = _certificates(view, data, as_of)
    disputes = _disputes(data, as_of)
    sanctions = _sanctions(data, as_of)
    reviews = _reviews(view, merchant, leaves, as_of, tally)
    inputs = TrustInputs(
        certificates_valid=certificates.valid, certificates_revoked=certificates.revoked,
        certificates_failed=certificates.failed, stars=reviews.stars,
        responses_timely=disputes.responses_timely, responses_missed=disputes.responses_missed,
        outcomes_rejected=disputes.final[3], outcomes_upheld=sum(disputes.final[:3]),
        remedies_fulfilled=disputes.remedies_fulfilled, remedies_unpaid=disputes.remedies_unpaid,
        standing=sanctions.standing, warnings=sanctions.warnings, suspensions=sanctions.suspensions,
        bans=sanctions.bans)
    return TrustProfile(merchant=merchant, chain_id=view.manifest.chain_id, as_of=as_of,
                        certificates=certificates, reviews=reviews, disputes=disputes, sanctions=sanctions,
                        inputs=inputs, result=score(inputs))


def _until(entries: Iterable[HistoryEntry], as_of: int) -> list[HistoryEntry]:
    return [e for e in entries if e.block_time <= as_of]


def _certificates(view: IndexView, data: MerchantTrustData, as_of: int) -> CertificateCounts:
    # Key compromises as declared by as_of (a later declaration is not yet known then); a later
    # declaration only moves the time earlier, so the last one in chain order holds.
    compromised: dict[bytes, int] = {}
    for e in _until(view.governance_events(), as_of):
        if e.event == "IssuerKeyCompromised":
            compromised[bytes.fromhex(str(e.args["issuer"])[2:])] = int(e.args["compromisedAt"])
    by_kind = [0, 0, 0]
    by_status = dict.fromkeys(STATUS_NAMES.values(), 0)
    for state in data.certificates:
        if state.anchored_at > as_of:
            continue
        status, _ = certificate_status(state, as_of, compromised.get(state.issuer, 0))
        by_kind[state.kind] += state.records
        by_status[STATUS_NAMES[status]] += state.records
    return CertificateCounts(by_kind=(by_kind[0], by_kind[1], by_kind[2]), **by_status)


@dataclass(frozen=True)
class RemedyTrack:
    """Where a purchase dispute's remedy stands after a history (events in chain order, up to some moment),
    before any deadline is applied: the one reading of the remedy events that the trust profile, the product
    record and the early-warning signals share."""

    outcome: int
    """The final outcome (``IDisputeRegistry.Outcome``), 0 while not final."""
    state: str
    """"" (no remedy ordered), "due", "reported", "fulfilled" or "contested"."""
    due_since: int
    """Block time of the final ruling: the remedy period runs from it (a later ``RemedyRuled(false)`` keeps it)."""
    confirm_deadline: int
    """The last report's confirm deadline (0 without a report)."""
    due_events: tuple[HistoryEntry, ...]
    """The final ruling that ordered the remedy and every ``RemedyRuled(fulfilled=false)`` after it."""


def remedy_track(history: Iterable[HistoryEntry]) -> RemedyTrack:
    """Fold a dispute's events into its :class:`RemedyTrack` (pass only the events up to the moment asked)."""
    outcome, state, due_since, confirm_deadline = 0, "", 0, 0
    due: list[HistoryEntry] = []
    for e in history:
        if e.event == "DisputeFinal":
            outcome, due_since = int(e.args["outcome"]), e.block_time
            if outcome in _REMEDY_OUTCOMES:
                state, due = "due", [e]
        elif e.event == "RemedyReported":
            state, confirm_deadline = "reported", int(e.args["confirmDeadline"])
        elif e.event == "RemedyConfirmed":
            state = "fulfilled"
        elif e.event == "RemedyContested":
            state = "contested"
        elif e.event == "RemedyRuled":
            state = "fulfilled" if e.args["fulfilled"] else "due"  # the clock keeps the final ruling's time
            if not e.args["fulfilled"]:
                due.append(e)
    return RemedyTrack(outcome, state, due_since, confirm_deadline, tuple(due))


def _disputes(data: MerchantTrustData, as_of: int) -> DisputeCounts:
    c: Counter[str] = Counter()
    final = dict.fromkeys(_OUTCOME_NAMES, 0)
    for record in data.disputes:
        history = _until(record.history, as_of)
        if not history:
            continue  # opened after as_of
        opened = history[0]
        assert opened.event == "PurchaseDisputeOpened", "a purchase dispute's history opens with its opening"
        c["opened"] += 1
        if any(e.event == "DisputeResponded" for e in history):
            c["timely"] += 1
        elif as_of > int(opened.args["responseDeadline"]):
            c["missed"] += 1
        else:
            c["response_pending"] += 1
        if any(e.event == "DisputeRuled" and e.args["byDefault"] for e in history):
            c["default"] += 1
        track = remedy_track(history)
        outcome, remedy, due_since, confirm_deadline = track.outcome, track.state, track.due_since, \
            track.confirm_deadline
        if outcome == 0:
            c["not_final"] += 1
            continue
        final[outcome] += 1
        if remedy == "reported" and as_of > confirm_deadline:
            remedy = "fulfilled"  # deemed: the claimant can no longer contest
        if remedy == "due":
            remedy = "unpaid" if as_of > due_since + REMEDY_PERIOD else "pending"
        elif remedy == "reported":
            remedy = "pending"
        if remedy:
            c[{"fulfilled": "fulfilled", "contested": "contested", "unpaid": "unpaid",
               "pending": "remedy_pending"}[remedy]] += 1
    return DisputeCounts(
        opened=c["opened"], responses_timely=c["timely"], responses_missed=c["missed"],
        responses_pending=c["response_pending"], default_rulings=c["default"],
        final=(final[_REFUND], final[_REPLACEMENT], final[_PARTIAL_REFUND], final[_REJECTED]),
        not_final=c["not_final"], remedies_fulfilled=c["fulfilled"], remedies_contested=c["contested"],
        remedies_unpaid=c["unpaid"], remedies_pending=c["remedy_pending"])


def _sanctions(data: MerchantTrustData, as_of: int) -> SanctionCounts:
    standing, kinds, restorations = 0, [0, 0, 0], 0
    history: list[SanctionEvent] = []
    for e in _until(data.governance, as_of):  # chain order
        if e.event == "MerchantAdmitted":
            standing = 1
            continue
        if e.event == "MerchantSanctioned":
            kind: int | None = int(e.args["kind"])
            standing = int(e.args["status"])
            kinds[int(e.args["kind"])] += 1
        else:
            kind, standing = None, 1
            restorations += 1
        history.append(SanctionEvent(
            event=e.event, kind=None if kind is None else SANCTION_KINDS[kind], status=STANDING_NAMES[standing],
            reason_code=bytes.fromhex(str(e.args["reasonCode"])[2:]),
            ruling_ref=bytes.fromhex(str(e.args["rulingRef"])[2:]), block_time=e.block_time,
            block_number=e.block_number, tx_hash=e.tx_hash))
    return SanctionCounts(standing=standing, warnings=kinds[0], suspensions=kinds[1], bans=kinds[2],
                          restorations=restorations, history=tuple(history))


def _taken_down(view: IndexView, as_of: int) -> set[int]:
    """Leaves with a ReviewTakenDown by ``as_of`` (the profile's rule: a later restoration does not undo it)."""
    return {int(e.args["leafIndex"]) for e in _until(view.takedown_events(), as_of) if e.event == "ReviewTakenDown"}


def _reviews(view: IndexView, merchant: str, leaves: Leaves, as_of: int, tally: ReviewTally | None) -> ReviewCounts:
    checkpoints = [c for c in view.checkpoints() if c.anchored_at <= as_of]
    store = leaf_store(leaves)
    if store is not None:
        return _proved_reviews(view, merchant, store if isinstance(store, ReadOnce) else ReadOnce(store),
                               checkpoints, as_of, tally)
    assert isinstance(leaves, Sequence)
    anchored_size = max((c.size for c in checkpoints), default=0)
    tree = MerkleTree(hashlib.sha256(b"\x00" + bytes(leaf)).digest() for leaf in leaves)
    verified_size, verified_index = 0, None
    # the largest anchored checkpoint the given leaves reproduce (the chain proved each consistent with the
    # one before, so every smaller checkpoint is then reproduced too)
    for c in sorted(checkpoints, key=lambda c: (-c.size, c.index)):
        if c.size <= len(leaves) and tree.root(c.size) == c.root:
            verified_size, verified_index = c.size, c.index
            break
    taken_down = _taken_down(view, as_of)
    lower = merchant.lower()
    stars = [0, 0, 0, 0, 0]
    excluded: Counter[str] = Counter()
    purchases: set[bytes] = set()
    for index, raw in enumerate(leaves):
        try:
            leaf = parse_review_leaf(bytes(raw))
        except InvalidInput:
            excluded["malformed"] += 1
            continue
        if leaf.merchant != lower:
            continue
        if index >= anchored_size:
            excluded["beyond"] += 1
        elif index >= verified_size:
            excluded["mismatch"] += 1
        elif leaf.purchase in purchases:
            excluded["duplicate"] += 1
        else:
            purchases.add(leaf.purchase)
            if index in taken_down:
                excluded["taken_down"] += 1
            else:
                stars[leaf.rating - 1] += 1
    return ReviewCounts(
        leaves_given=len(leaves), anchored_size=anchored_size, verified_size=verified_size,
        verified_checkpoint=verified_index, stars=(stars[0], stars[1], stars[2], stars[3], stars[4]),
        beyond_checkpoint=excluded["beyond"], root_mismatch=excluded["mismatch"],
        duplicate_purchase=excluded["duplicate"], taken_down=excluded["taken_down"],
        malformed=excluded["malformed"])


def _proved_reviews(view: IndexView, merchant: str, store: IndexedLeafStore, checkpoints: list[CheckpointRecord],
                    as_of: int, tally: ReviewTally | None) -> ReviewCounts:
    """The indexed path: only the merchant's leaves, each proved against the anchored checkpoint. Buckets and
    their order are the full-sequence path's; a leaf whose bytes the store cannot prove is in rootMismatch.

    With a tally that verified the checkpoint proved against: its counts below that checkpoint, less the
    merchant's taken-down leaves there (the tally counted every leaf, and no purchase twice), and only the leaves
    from the checkpoint on read one by one."""
    taken_down = _taken_down(view, as_of)
    lower = merchant.lower()
    stars = [0, 0, 0, 0, 0]
    excluded: Counter[str] = Counter()
    verified = _verified_checkpoint(checkpoints, store.size)
    tallied = None if tally is None or verified is None else tally.stars(merchant, verified.size, verified.root)
    if tallied is None or verified is None:
        anchored_size, verified, found = proved_leaves(store, store.leaf_indices(merchant=merchant), checkpoints)
    else:
        stars = list(tallied)
        below = sorted(i for i in taken_down if i < verified.size)
        for index, raw in zip(below, store.leaves_at(below), strict=True):
            leaf = _parsed(raw)
            if leaf.merchant == lower:
                stars[leaf.rating - 1] -= 1
                excluded["taken_down"] += 1
        anchored_size, _, found = proved_leaves(store, store.leaf_indices(merchant=merchant, start=verified.size),
                                                checkpoints)
    purchases: set[bytes] = set()
    exclusions: list[Reason] = []
    for p in found:
        if p.reason is not None:
            exclusions.append(p.reason)
        if p.leaf is None:
            excluded["malformed"] += 1
            continue
        if p.leaf.merchant != lower:
            continue  # the store's column named the merchant, the leaf's bytes do not
        if p.verdict == "pending":
            excluded["beyond"] += 1
        elif p.verdict != "included":
            excluded["mismatch"] += 1
        elif p.leaf.purchase in purchases:
            excluded["duplicate"] += 1
        else:
            purchases.add(p.leaf.purchase)
            if p.leaf_index in taken_down:
                excluded["taken_down"] += 1
            else:
                stars[p.leaf.rating - 1] += 1
    return ReviewCounts(
        leaves_given=store.size, anchored_size=anchored_size, verified_size=0 if verified is None else verified.size,
        verified_checkpoint=None if verified is None else verified.index,
        stars=(stars[0], stars[1], stars[2], stars[3], stars[4]),
        beyond_checkpoint=excluded["beyond"], root_mismatch=excluded["mismatch"],
        duplicate_purchase=excluded["duplicate"], taken_down=excluded["taken_down"],
        malformed=excluded["malformed"], exclusions=tuple(exclusions))
