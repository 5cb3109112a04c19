"""The takedown reconciler: applies the chain's takedown decisions to the review log's content.

``DisputeRegistry`` decides in public whether a review's content may be shown; the review log (this service's
database) holds the content. After each indexer pass :func:`apply_takedowns` brings every review named in
``idx_takedowns`` in line with the chain:

========================================  ============================================================
on chain (as indexed)                     review log
========================================  ============================================================
TakenDown (final ``ReviewRemoved``)       ``take_down(kind="ruling", ref=<dispute id>)``: the tombstone
                                          "removed by ruling 0x..." (final)
EmergencyHidden, chain time <= lapseAt    ``take_down(kind="emergency_hide", ref=<the hide's tx hash>)``
EmergencyHidden, chain time > lapseAt     ``lift_hide``: the hide lapsed without a ruling
Restored (final ``ReviewUpheld``)         ``lift_hide``
========================================  ============================================================

"Chain time" is the latest block's timestamp, the time ``DisputeRegistry.isReviewHidden`` answers at. The leaf
and its hash never change: a takedown hides content, the log stays append-only.

Idempotent and cheap: one query selects only the reviews whose content state differs from the chain's, so a
pass with nothing to do reads no review. Safe to run from several replicas at once (the review log's own
transitions are checked under its row lock; a transition another replica made first is skipped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from ledger.reviewlog import InvalidTakedown, LeafNotFound
from ledger.storage.schema import idx_events, idx_takedowns, log_leaves

from .state import Services

__all__ = ["TakedownPass", "apply_takedowns", "chain_time"]

# IDisputeRegistry.TakedownState
EMERGENCY_HIDDEN, TAKEN_DOWN, RESTORED = 1, 2, 3
# log_leaves.takedown (ledger.storage.schema): 0 visible, 1 hidden pending a ruling, 2 removed by a ruling
LOG_VISIBLE, LOG_HIDDEN, LOG_REMOVED = 0, 1, 2


@dataclass
class TakedownPass:
    """What one pass changed, by leaf index; ``skipped``: leaves left as they were, and why."""

    removed: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    lifted: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.removed) + len(self.hidden) + len(self.lifted)


def chain_time(services: Services) -> int:
    """The latest block's timestamp."""
    return int(services.ledger.w3.eth.get_block("latest")["timestamp"])


def apply_takedowns(services: Services, *, now: int | None = None) -> TakedownPass:
    """Apply every indexed takedown, hide, restoration and lapse to the review log (see the module docstring).

    ``now``: the chain time to judge lapses by (default: the latest block's). Blocking.
    """
    now = chain_time(services) if now is None else now
    t, leaf = idx_takedowns.c, log_leaves.c
    work = (
        sa.select(t.leaf_index, t.state, t.dispute_id, t.reason_code, leaf.takedown)
        .select_from(idx_takedowns.join(log_leaves, leaf.leaf_index == t.leaf_index))
        .where(sa.or_(
            sa.and_(t.state == TAKEN_DOWN, leaf.takedown != LOG_REMOVED),
            sa.and_(t.state == EMERGENCY_HIDDEN, leaf.takedown == LOG_VISIBLE, t.lapse_at >= now),
            sa.and_(t.state == EMERGENCY_HIDDEN, leaf.takedown == LOG_HIDDEN, t.lapse_at < now),
            sa.and_(t.state == RESTORED, leaf.takedown == LOG_HIDDEN),
        ))
        .order_by(t.leaf_index)
    )
    with services.ledger.db.read() as conn:
        rows = conn.execute(work).all()
    done = TakedownPass()
    reviews = services.ledger.reviews
    for r in rows:
        index = int(r.leaf_index)
        try:
            if r.state == TAKEN_DOWN:
                reviews.take_down(index, kind="ruling", ref=bytes(r.dispute_id))
                done.removed.append(index)
            elif r.state == EMERGENCY_HIDDEN and r.takedown == LOG_VISIBLE:
                ref = _hide_tx(services, index) or bytes(r.reason_code)
                reviews.take_down(index, kind="emergency_hide", ref=ref)
                done.hidden.append(index)
            else:  # lapsed, or restored by a final ReviewUpheld
                reviews.lift_hide(index)
                done.lifted.append(index)
        except (InvalidTakedown, LeafNotFound) as exc:  # another replica was first, or the log cannot follow
            done.skipped.append((index, str(exc)))
            services.log.warning("takedown not applied", extra={"leaf_index": index, "error": str(exc)})
    if done.changed:
        services.log.info("takedowns applied", extra={"removed": done.removed, "hidden": done.hidden,
                                                      "lifted": done.lifted})
    return done


def _hide_tx(services: Services, index: int) -> bytes | None:
    """The transaction of the operator's emergency hide of ``index`` (once per review on chain)."""
    e = idx_events.c
    q = (sa.select(e.tx_hash, e.args)
         .where(e.contract == "DisputeRegistry", e.event == "ReviewEmergencyHidden")
         .order_by(e.block_number.desc(), e.log_index.desc()))
    with services.ledger.db.read() as conn:
        for tx_hash, args in conn.execute(q):
            if int(json.loads(args)["leafIndex"]) == index:
                return bytes(tx_hash)
    return None
