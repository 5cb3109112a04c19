"""The review log for auditors: checkpoints anchored on chain, proofs, and every leaf to recompute each root."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ledger.indexer import CheckpointRecord
from ledger.storage.schema import idx_checkpoints

from ..deps import ServicesDep
from ..problems import Problem
from ..state import Services
from ..types import hex_of

ORDER = 10
router = APIRouter(prefix="/v1/log", tags=["log"])

MAX_RANGE = 10_000


class Checkpoint(BaseModel):
    """A checkpoint anchored on chain, as the index read it from its ``CheckpointAppended`` event."""

    index: int
    treeSize: int
    rootHash: str
    anchoredAt: int = Field(description="block time (unix seconds)")
    blockNumber: int
    txHash: str


class LogInfo(BaseModel):
    treeSize: int = Field(description="leaves sequenced by this operator (receipts handed out)")
    rootHash: str
    latestCheckpoint: Checkpoint | None = Field(description="the latest checkpoint the index holds")
    maxMergeDelay: int
    reviewLog: str
    chainId: int


class ConsistencyProof(BaseModel):
    firstSize: int
    secondSize: int
    proof: list[str]


class InclusionProof(BaseModel):
    leafIndex: int
    treeSize: int
    leafHash: str
    proof: list[str]


class LeafHashes(BaseModel):
    start: int
    end: int
    leafHashes: list[str]


class Leaves(BaseModel):
    start: int
    end: int
    leaves: list[str] = Field(description="each leaf's RFC 8785 canonical JSON; its hash is SHA-256(0x00 || leaf)")


def _checkpoint(r: CheckpointRecord) -> Checkpoint:
    return Checkpoint(index=r.index, treeSize=r.size, rootHash=hex_of(r.root), anchoredAt=r.anchored_at,
                      blockNumber=r.block_number, txHash=hex_of(r.tx_hash))


def _record(r: sa.Row[Any]) -> CheckpointRecord:
    return CheckpointRecord(index=int(r.checkpoint_index), size=int(r.size), root=bytes(r.root),
                            anchored_at=int(r.anchored_at), block_number=int(r.block_number), tx_hash=bytes(r.tx_hash))


def _latest(s: Services) -> CheckpointRecord | None:
    with s.ledger.db.read() as conn:
        row = conn.execute(sa.select(idx_checkpoints).order_by(idx_checkpoints.c.checkpoint_index.desc())
                           .limit(1)).first()
    return None if row is None else _record(row)


def _range(s: Services, start: int, end: int | None) -> tuple[int, int]:
    size = s.ledger.reviews.size
    end = min(size, start + MAX_RANGE) if end is None else end
    if not 0 <= start <= end <= size:
        raise Problem(422, "range-out-of-log", "Range outside the log",
                      f"requires 0 <= start <= end <= {size} (the log's size); found start={start}, end={end}")
    if end - start > MAX_RANGE:
        raise Problem(422, "range-too-large", "Range too large", f"at most {MAX_RANGE} leaves per request")
    return start, end


@router.get("", response_model=LogInfo, summary="The log's size, root and latest anchored checkpoint")
def log_info(s: ServicesDep) -> LogInfo:
    reviews = s.ledger.reviews
    size = reviews.size
    latest = _latest(s)
    return LogInfo(treeSize=size, rootHash=hex_of(reviews.root(size)),
                   latestCheckpoint=_checkpoint(latest) if latest else None,
                   maxMergeDelay=s.ledger.settings.max_merge_delay,
                   reviewLog=s.ledger.manifest.address("ReviewLog"), chainId=s.ledger.manifest.chain_id)


@router.get("/checkpoints", response_model=list[Checkpoint], summary="Anchored checkpoints, oldest first")
def checkpoints(s: ServicesDep, start: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Checkpoint]:
    with s.ledger.db.read() as conn:
        rows = conn.execute(sa.select(idx_checkpoints).where(idx_checkpoints.c.checkpoint_index >= start)
                            .order_by(idx_checkpoints.c.checkpoint_index).limit(limit)).all()
    return [_checkpoint(_record(r)) for r in rows]


@router.get("/checkpoints/latest", response_model=Checkpoint, summary="The latest anchored checkpoint",
            responses={404: {"description": "nothing anchored yet"}})
def latest_checkpoint(s: ServicesDep) -> Checkpoint:
    latest = _latest(s)
    if latest is None:
        raise Problem(404, "no-checkpoint", "No checkpoint yet", "no checkpoint is anchored (or indexed) yet")
    return _checkpoint(latest)


@router.get("/checkpoints/{index}", response_model=Checkpoint, summary="An anchored checkpoint by its index",
            responses={404: {"description": "no such checkpoint"}})
def checkpoint(s: ServicesDep, index: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> Checkpoint:
    with s.ledger.db.read() as conn:
        r = conn.execute(sa.select(idx_checkpoints).where(idx_checkpoints.c.checkpoint_index == index)).first()
    if r is None:
        raise Problem(404, "unknown-checkpoint", "Unknown checkpoint", f"no checkpoint {index} is anchored (indexed)")
    return _checkpoint(_record(r))


@router.get("/consistency", response_model=ConsistencyProof,
            summary="RFC 6962 consistency proof between two tree sizes")
def consistency(s: ServicesDep, first: Annotated[int, Query(ge=0, le=2**63 - 1)],
                second: Annotated[int, Query(ge=0, le=2**63 - 1)]) -> ConsistencyProof:
    size = s.ledger.reviews.size
    if not 0 <= first <= second <= size:
        raise Problem(422, "range-out-of-log", "Sizes outside the log",
                      f"requires 0 <= first <= second <= {size}; found first={first}, second={second}")
    proof = s.ledger.reviews.consistency_proof(first, second)
    return ConsistencyProof(firstSize=first, secondSize=second, proof=[hex_of(p) for p in proof])


@router.get("/inclusion", response_model=InclusionProof, summary="RFC 6962 inclusion proof of a leaf")
def inclusion(s: ServicesDep, index: Annotated[int, Query(ge=0, le=2**63 - 1)],
              size: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> InclusionProof:
    have = s.ledger.reviews.size
    size = have if size is None else size
    if not 0 <= index < size <= have:
        raise Problem(422, "range-out-of-log", "Index outside the tree",
                      f"requires 0 <= index < size <= {have}; found index={index}, size={size}")
    proof = s.ledger.reviews.inclusion_proof(index, size)
    leaf_hash = s.ledger.reviews.leaf_hashes(index, index + 1)[0]
    return InclusionProof(leafIndex=index, treeSize=size, leafHash=hex_of(leaf_hash), proof=[hex_of(p) for p in proof])


@router.get("/leaf-hashes", response_model=LeafHashes,
            summary=f"Leaf hashes [start, end), at most {MAX_RANGE}: recompute any root from them")
def leaf_hashes(s: ServicesDep, start: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                end: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> LeafHashes:
    start, end = _range(s, start, end)
    return LeafHashes(start=start, end=end, leafHashes=[hex_of(h) for h in s.ledger.reviews.leaf_hashes(start, end)])


@router.get("/leaves", response_model=Leaves,
            summary=f"Leaves [start, end), at most {MAX_RANGE}: canonical JSON, no personal data")
def leaves(s: ServicesDep, start: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
           end: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> Leaves:
    start, end = _range(s, start, end)
    return Leaves(start=start, end=end, leaves=[b.decode() for b in s.ledger.reviews.leaves(start, end)])
