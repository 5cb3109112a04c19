"""Health, Prometheus metrics, the deployment this service writes to, and the maintenance switch."""

from __future__ import annotations

import time
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from ledger.storage.schema import outbox

from ..deps import ServicesDep, TokenDep
from ..state import Services

ORDER = 0
router = APIRouter(tags=["service"])


class ChainHealth(BaseModel):
    reachable: bool
    chainId: int
    head: int | None = None
    error: str | None = None


class IndexHealth(BaseModel):
    cursor: int | None = None
    lagBlocks: int | None = None
    lastError: str | None = None


class LogHealth(BaseModel):
    size: int
    anchoredSize: int | None = None
    unanchored: int | None = None
    oldestUnanchoredAgeSeconds: float | None = Field(None, description="age of the oldest review not anchored")
    maxMergeDelay: int
    overdue: int | None = Field(None, description="reviews past their promised merge deadline, not anchored")
    checkpointerError: str | None = None


class TallyHealth(BaseModel):
    size: int = Field(description="leaves counted into the merchants' review tallies (a verified checkpoint's size)")
    stalledAt: int | None = Field(None, description="the first leaf the tally could not count (profiles then read "
                                                    "every leaf past it)")
    stallReason: str | None = None


class OutboxHealth(BaseModel):
    open: int
    failed: int


class RelayerHealth(BaseModel):
    address: str | None
    balanceWei: str | None = None
    low: bool | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]
    problems: list[str]
    maintenance: bool
    chain: ChainHealth
    index: IndexHealth
    log: LogHealth
    outbox: OutboxHealth
    relayer: RelayerHealth
    tally: TallyHealth | None = None


def _health(s: Services) -> Health:
    ledger = s.ledger
    problems: list[str] = []
    gauges = s.metrics.gauges
    chain = ChainHealth(reachable=False, chainId=ledger.manifest.chain_id)
    index = IndexHealth()
    relayer = RelayerHealth(address=ledger.relayer_sender.address if ledger.relayer_sender else None)
    size = ledger.reviews.size
    log = LogHealth(size=size, maxMergeDelay=ledger.settings.max_merge_delay)
    gauges["log_size"].set(size)
    gauges["max_merge_delay_seconds"].set(ledger.settings.max_merge_delay)
    try:
        head = int(ledger.w3.eth.block_number)
        chain.reachable, chain.head = True, head
        gauges["chain_head"].set(head)
        anchored, _ = ledger.checkpointer.chain_checkpoint()
        log.anchoredSize = anchored
        log.unanchored = size - anchored
        gauges["anchored_size"].set(anchored)
        oldest = ledger.reviews.accepted_ms(anchored) if anchored < size else None
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)
        log.oldestUnanchoredAgeSeconds = round(age, 3)
        gauges["checkpoint_age_seconds"].set(age)
        first, end = ledger.checkpointer.overdue()
        log.overdue = end - first
        gauges["overdue_reviews"].set(end - first)
        if end > first:
            problems.append(f"{end - first} reviews are past their merge deadline and not anchored")
        if ledger.relayer_sender is not None:
            balance = int(ledger.w3.eth.get_balance(ledger.relayer_sender.address))
            relayer.balanceWei, relayer.low = str(balance), balance < s.settings.relayer_low_balance
            gauges["relayer_balance_wei"].set(balance)
            if relayer.low:
                problems.append("the relayer's balance is low")
        cursor = s.indexer.cursor()
        index.cursor, index.lagBlocks = cursor, max(0, head - cursor)
        gauges["index_lag_blocks"].set(index.lagBlocks)
    except Exception as exc:  # noqa: BLE001 - health reports what failed rather than failing
        chain.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        problems.append("the chain is unreachable" if not chain.reachable else f"a health read failed: {chain.error}")
    gauges["chain_reachable"].set(1 if chain.reachable else 0)
    if s.index_worker is not None and s.index_worker.last_error:
        index.lastError = s.index_worker.last_error
        problems.append("the indexer's last pass failed")
    checkpointer_error = getattr(ledger.checkpointer, "last_error", None)
    if checkpointer_error:
        log.checkpointerError = str(checkpointer_error)[:300]
        problems.append("the checkpointer's last tick failed")
    with ledger.db.read() as conn:
        counts: dict[str, int] = {str(st): int(n) for st, n in conn.execute(
            sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all()}
    box = OutboxHealth(open=sum(n for st, n in counts.items() if st not in ("confirmed", "failed")),
                       failed=counts.get("failed", 0))
    gauges["outbox_open"].set(box.open)
    gauges["outbox_failed"].set(box.failed)
    gauges["maintenance"].set(1 if s.maintenance else 0)
    tally = None
    if s.tally is not None:
        t = s.tally.state()
        tally = TallyHealth(size=t.size, stalledAt=t.stalled_at, stallReason=t.stall_reason)
        if t.stalled_at is not None:
            problems.append(f"the review tally stopped at leaf {t.stalled_at}: {t.stall_reason}")
    status: Literal["ok", "degraded", "down"] = "ok"
    if problems:
        status = "degraded"
    if not chain.reachable:
        status = "down"
    return Health(status=status, problems=problems, maintenance=s.maintenance, chain=chain, index=index, log=log,
                  outbox=box, relayer=relayer, tally=tally)


@router.get("/v1/health", response_model=Health, summary="Is the service well: chain, index, log, outbox, relayer",
            responses={503: {"model": Health, "description": "the chain is unreachable"}})
def health(s: ServicesDep, response: Response) -> Health:
    h = _health(s)
    if h.status == "down":
        response.status_code = 503
    return h


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(s: ServicesDep) -> Response:
    try:
        _health(s)  # refresh the gauges
    except Exception:  # noqa: BLE001,S110 - a scrape still answers the counters when the database is down
        pass
    return Response(generate_latest(s.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class Deployment(BaseModel):
    chainId: int
    deployBlock: int
    contracts: dict[str, str]
    maxMergeDelay: int
    confirmationDepth: int
    relayer: str | None
    logOperator: str


@router.get("/v1/deployment", response_model=Deployment, summary="The chain and contracts this service uses")
def deployment(s: ServicesDep) -> Deployment:
    m = s.ledger.manifest
    return Deployment(chainId=m.chain_id, deployBlock=m.deploy_block, contracts=dict(m.addresses),
                      maxMergeDelay=s.ledger.settings.max_merge_delay,
                      confirmationDepth=s.ledger.settings.confirmation_depth,
                      relayer=s.ledger.relayer_sender.address if s.ledger.relayer_sender else None,
                      logOperator=s.ledger.operator_sender.address)


class Maintenance(BaseModel):
    maintenance: bool = Field(description="true: writes are refused with 503 maintenance; reads go on")


@router.get("/v1/admin/maintenance", response_model=Maintenance, summary="Whether writes are paused")
def get_maintenance(s: ServicesDep) -> Maintenance:
    return Maintenance(maintenance=s.maintenance)


@router.put("/v1/admin/maintenance", response_model=Maintenance, dependencies=[TokenDep],
            summary="Pause or resume writes (operator token)",
            description="Paused, the service refuses new writes; everything already accepted stays in the log "
                        "and the outboxes, and the checkpointer and relayer go on until it is anchored.")
def put_maintenance(body: Maintenance, s: ServicesDep) -> Maintenance:
    s.maintenance = body.maintenance
    s.log.warning("maintenance switched", extra={"maintenance": s.maintenance})
    return Maintenance(maintenance=s.maintenance)
