"""The auditor's reads: every indexed event, filtered and paged or streamed, and a verification of the whole log.

Events come from the index's ``idx_events`` table: every event of the five contracts, decoded, in chain order
(block number, then log index; only canonical blocks: a reorg deletes what it orphaned). docs/api-read.md
describes the filters, the cursor, the export formats and which filters use an index.

* ``GET /v1/audit/events``: a page (``limit`` <= 1000) and, when more follow, ``next``: the same query with the
  opaque cursor of the last event returned. Walking ``next`` until it is null yields every matching event once.
* ``GET /v1/audit/events.ndjson`` and ``.csv``: the same events, all of them, streamed: read from the database a
  page at a time (a short read transaction each), so memory stays flat however long the ledger.
* ``POST /v1/audit/log-verification``: :func:`ledger.verify.verify_log` over the service's leaves against every
  anchored checkpoint (from the index, or ``source=chain`` from the chain). O(n) in the log: it runs in the
  threadpool while the request waits, one run at a time per process.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ledger.artifacts import CONTRACT_NAMES, load
from ledger.storage.schema import idx_events
from ledger.verify import CheckpointRef, Source, verify_log

from ..deps import ServicesDep
from ..problems import Problem
from ..state import Services
from ..types import Address, Hash32, checksum, hex_of
from .bundles import ReasonOut
from .products import call_chain

ORDER = 80
router = APIRouter(prefix="/v1/audit", tags=["audit"])

MAX_LIMIT = 1000
EXPORT_PAGE = 1000
MAX_EVENT_NAMES = 50
UINT40_MAX = 2**40 - 1
BLOCK_MAX = 2**63 - 1

ContractName = Literal["TrustForwarder", "TrustGovernance", "CertificateRegistry", "ReviewLog", "DisputeRegistry"]


def _events_by_contract() -> dict[str, frozenset[str]]:
    return {name: frozenset(str(item["name"]) for item in load(name).abi if item.get("type") == "event")
            for name in CONTRACT_NAMES}


EVENTS_BY_CONTRACT = _events_by_contract()
EVENT_NAMES = frozenset().union(*EVENTS_BY_CONTRACT.values())

CSV_COLUMNS = ("blockNumber", "logIndex", "blockTime", "blockHash", "txHash", "txIndex", "contract", "address",
               "event", "args", "topics", "data")
"""The CSV export's columns, in order (docs/api-read.md): ``args`` is the arguments' JSON object (members sorted,
no whitespace), ``topics`` the raw topics as 0x hex separated by single spaces, hashes and data 0x hex."""


# -- models -------------------------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    """One event as the index holds it: where it is in the chain, who emitted it, its decoded arguments and raw
    topics and data (so it can be re-decoded and checked against the node's ``eth_getLogs``)."""

    blockNumber: int
    logIndex: int
    blockTime: int = Field(description="block time (unix seconds)")
    blockHash: str
    txHash: str
    txIndex: int
    contract: ContractName
    address: str = Field(description="checksummed address of the emitting contract")
    event: str
    args: dict[str, Any] = Field(description="decoded arguments: addresses checksummed, bytes as 0x hex, integers "
                                             "wider than 53 bits as decimal strings")
    topics: list[str]
    data: str


class EventPage(BaseModel):
    events: list[AuditEvent]
    cursor: str | None = Field(description="opaque position after the last event returned (null: no more)")
    next: str | None = Field(description="path and query of the next page (null: this was the last)")


class CheckpointOut(BaseModel):
    index: int
    size: int
    root: str
    timestamp: int
    block: int
    tx: str


class LogVerificationOut(BaseModel):
    """:class:`ledger.verify.LogVerification`: the verdict and every reason (``log.*`` / ``chain.*`` codes)."""

    verdict: Literal["valid", "invalid", "pending", "unknown"]
    reasons: list[ReasonOut]
    checkpoints: list[CheckpointOut] = Field(description="the anchored checkpoints checked, by index")
    leavesHeld: int = Field(description="leaves in the service's log when it was read")
    source: Literal["index", "chain"]
    seconds: float = Field(description="how long the run took")


# -- filters and the cursor ---------------------------------------------------------------------------------

_CURSOR = re.compile(r"v1\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,9})")


def encode_cursor(block_number: int, log_index: int) -> str:
    """The opaque cursor of a position: clients pass it back, never build it."""
    return base64.urlsafe_b64encode(f"v1.{block_number}.{log_index}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    bad = Problem(422, "invalid-cursor", "Invalid cursor",
                  "the cursor is not one this service handed out (pass back the `cursor` or follow `next`)")
    if not 1 <= len(cursor) <= 64 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    m = _CURSOR.fullmatch(text)
    if m is None or int(m.group(1)) > BLOCK_MAX or int(m.group(2)) > 2**31 - 1:
        raise bad
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class EventFilter:
    """The query's filters as SQL conditions over ``idx_events``.

    ``contract``/``event`` use the (contract, event) index, block ranges and the cursor the (block, log index)
    one; ``merchant``, ``product`` and ``issuer`` match the event's argument of that name, which the indexer
    keeps as an indexed column beside the decoded JSON (``merchant``, ``product_id``, ``issuer``; some of those
    arguments are not indexed topics on chain, e.g. ``CertificateIssued.issuer``), each index in chain order.
    """

    contract: str | None = None
    events: tuple[str, ...] = ()
    merchant: str | None = None
    product: bytes | None = None
    issuer: str | None = None
    from_block: int | None = None
    to_block: int | None = None
    since: int | None = None
    until: int | None = None

    def conditions(self) -> list[Any]:
        c = idx_events.c
        out: list[Any] = []
        if self.contract is not None:
            out.append(c.contract == self.contract)
        if self.events:
            out.append(c.event.in_(self.events))
        if self.merchant is not None:
            out.append(c.merchant == bytes.fromhex(self.merchant[2:]))
        if self.issuer is not None:
            out.append(c.issuer == bytes.fromhex(self.issuer[2:]))
        if self.product is not None:
            out.append(c.product_id == bytes(self.product))
        if self.from_block is not None:
            out.append(c.block_number >= self.from_block)
        if self.to_block is not None:
            out.append(c.block_number <= self.to_block)
        if self.since is not None:
            out.append(c.block_time >= self.since)
        if self.until is not None:
            out.append(c.block_time <= self.until)
        return out

    def matches(self, e: AuditEvent) -> bool:
        """The same filter in Python (a check on what SQL returned: LIKE is case-insensitive on SQLite)."""
        a = e.args
        return ((self.merchant is None or a.get("merchant") == self.merchant)
                and (self.issuer is None or a.get("issuer") == self.issuer)
                and (self.product is None or a.get("productId") == hex_of(self.product)))


def _filter(contract: str | None, event: Sequence[str] | None, merchant: str | None, product: bytes | None,
            issuer: str | None, from_block: int | None, to_block: int | None, since: int | None,
            until: int | None) -> EventFilter:
    names = tuple(dict.fromkeys(event or ()))  # at most MAX_EVENT_NAMES: the query parameter's own limit
    known = EVENTS_BY_CONTRACT[contract] if contract is not None else EVENT_NAMES
    unknown = [n for n in names if n not in known]
    if unknown:
        where = f"{contract}" if contract is not None else "any TrustLedger contract"
        raise Problem(422, "unknown-event", "Unknown event", f"{where} emits no event named {unknown[0]!r}")
    if from_block is not None and to_block is not None and from_block > to_block:
        raise Problem(422, "invalid-range", "Invalid range",
                      f"requires fromBlock <= toBlock; found {from_block} > {to_block}")
    if since is not None and until is not None and since > until:
        raise Problem(422, "invalid-range", "Invalid range", f"requires since <= until; found {since} > {until}")
    return EventFilter(contract, names, merchant, product, issuer, from_block, to_block, since, until)


def _event(r: Any) -> AuditEvent:
    topics = bytes(r.topics)
    return AuditEvent(
        blockNumber=int(r.block_number), logIndex=int(r.log_index), blockTime=int(r.block_time),
        blockHash=hex_of(bytes(r.block_hash)), txHash=hex_of(bytes(r.tx_hash)), txIndex=int(r.tx_index),
        contract=r.contract, address=checksum(hex_of(bytes(r.address))), event=r.event, args=json.loads(r.args),
        topics=[hex_of(topics[i:i + 32]) for i in range(0, len(topics), 32)], data=hex_of(bytes(r.data)))


def _walk(s: Services, f: EventFilter, after: tuple[int, int] | None,
          page: int = EXPORT_PAGE) -> Iterator[AuditEvent]:
    """Every matching event after ``after`` in (block, log index) order, read ``page`` rows at a time (each
    page its own short read transaction, so nothing stays open while a client reads slowly)."""
    while True:
        c = idx_events.c
        q = sa.select(idx_events).where(*f.conditions())
        if after is not None:
            block, log = after
            q = q.where(sa.or_(c.block_number > block, sa.and_(c.block_number == block, c.log_index > log)))
        with s.ledger.db.read() as conn:
            rows = conn.execute(q.order_by(c.block_number, c.log_index).limit(page)).all()
        for r in rows:
            e = _event(r)
            if f.matches(e):
                yield e
        if len(rows) < page:
            return
        after = (int(rows[-1].block_number), int(rows[-1].log_index))


# -- routes -------------------------------------------------------------------------------------------------

EventQ = Annotated[list[str] | None, Query(max_length=MAX_EVENT_NAMES, description=(
    "event name(s), e.g. CertificateIssued; repeat for several (any of them)"))]
ContractQ = Annotated[ContractName | None, Query(description="the emitting contract, by name")]
MerchantQ = Annotated[Address | None, Query(description=(
    "events whose `merchant` argument is this address"))]
ProductQ = Annotated[Hash32 | None, Query(description=(
    "events whose `productId` argument is this id"))]
IssuerQ = Annotated[Address | None, Query(description=(
    "events whose `issuer` argument is this address"))]
FromBlockQ = Annotated[int | None, Query(alias="fromBlock", ge=0, le=BLOCK_MAX, description="first block (inclusive)")]
ToBlockQ = Annotated[int | None, Query(alias="toBlock", ge=0, le=BLOCK_MAX, description="last block (inclusive)")]
SinceQ = Annotated[int | None, Query(ge=0, le=UINT40_MAX, description="earliest block time, unix seconds (inclusive)")]
UntilQ = Annotated[int | None, Query(ge=0, le=UINT40_MAX, description="latest block time, unix seconds (inclusive)")]
CursorQ = Annotated[str | None, Query(max_length=64, description=(
    "opaque: the `cursor` of the previous page; events strictly after it"))]


@router.get("/events", response_model=EventPage, summary="Indexed events, filtered, in chain order, a page at a time",
            responses={422: {"description": "validation-error, unknown-event, invalid-range, invalid-cursor"}})
def events(request: Request, s: ServicesDep, event: EventQ = None, contract: ContractQ = None,
           merchant: MerchantQ = None, product: ProductQ = None, issuer: IssuerQ = None,
           from_block: FromBlockQ = None, to_block: ToBlockQ = None, since: SinceQ = None, until: UntilQ = None,
           cursor: CursorQ = None,
           limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most {MAX_LIMIT}")] = 100) -> EventPage:
    f = _filter(contract, event, merchant, product, issuer, from_block, to_block, since, until)
    after = None if cursor is None else decode_cursor(cursor)
    page, last = _page(s, f, after, limit)
    if last is None:
        return EventPage(events=page, cursor=None, next=None)
    token = encode_cursor(*last)
    url = request.url.include_query_params(cursor=token)
    return EventPage(events=page, cursor=token, next=f"{url.path}?{url.query}")


def _page(s: Services, f: EventFilter, after: tuple[int, int] | None,
          limit: int) -> tuple[list[AuditEvent], tuple[int, int] | None]:
    """Up to ``limit`` matching events after ``after`` and the position to continue from (None: no more)."""
    out: list[AuditEvent] = []
    position = after
    for e in _walk(s, f, after, limit + 1):
        if len(out) == limit:
            return out, position
        out.append(e)
        position = (e.blockNumber, e.logIndex)
    return out, None


def _ndjson(s: Services, f: EventFilter, after: tuple[int, int] | None) -> Iterator[bytes]:
    for e in _walk(s, f, after):
        yield (e.model_dump_json() + "\n").encode()


def _csv(s: Services, f: EventFilter, after: tuple[int, int] | None) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    pending = 0
    for e in _walk(s, f, after):
        writer.writerow([e.blockNumber, e.logIndex, e.blockTime, e.blockHash, e.txHash, e.txIndex, e.contract,
                         e.address, e.event, json.dumps(e.args, sort_keys=True, separators=(",", ":")),
                         " ".join(e.topics), e.data])
        pending += 1
        if pending >= 200:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()


def _export_name(kind: str) -> str:
    return f"trustledger-events-{int(time.time())}.{kind}"


@router.get("/events.ndjson", response_class=StreamingResponse,
            summary="Every matching event, streamed as NDJSON (one AuditEvent object per line)",
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "one AuditEvent JSON object per line, in chain order"}})
def events_ndjson(s: ServicesDep, event: EventQ = None, contract: ContractQ = None, merchant: MerchantQ = None,
                  product: ProductQ = None, issuer: IssuerQ = None, from_block: FromBlockQ = None,
                  to_block: ToBlockQ = None, since: SinceQ = None, until: UntilQ = None,
                  cursor: CursorQ = None) -> StreamingResponse:
    f = _filter(contract, event, merchant, product, issuer, from_block, to_block, since, until)
    after = None if cursor is None else decode_cursor(cursor)
    return StreamingResponse(_ndjson(s, f, after), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{_export_name("ndjson")}"'})


@router.get("/events.csv", response_class=StreamingResponse,
            summary="Every matching event, streamed as CSV (columns in docs/api-read.md)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "RFC 4180 CSV with a header row: " + ", ".join(CSV_COLUMNS)}})
def events_csv(s: ServicesDep, event: EventQ = None, contract: ContractQ = None, merchant: MerchantQ = None,
               product: ProductQ = None, issuer: IssuerQ = None, from_block: FromBlockQ = None,
               to_block: ToBlockQ = None, since: SinceQ = None, until: UntilQ = None,
               cursor: CursorQ = None) -> StreamingResponse:
    f = _filter(contract, event, merchant, product, issuer, from_block, to_block, since, until)
    after = None if cursor is None else decode_cursor(cursor)
    return StreamingResponse(_csv(s, f, after), media_type="text/csv; charset=utf-8; header=present",
                             headers={"Content-Disposition": f'attachment; filename="{_export_name("csv")}"'})


def _checkpoint_out(c: CheckpointRef) -> CheckpointOut:
    return CheckpointOut(index=c.index, size=c.size, root=hex_of(c.root), timestamp=c.timestamp,
                         block=c.evidence.block_number, tx=hex_of(c.evidence.tx_hash))


_RUNNING = "audit.log-verification"


@router.post("/log-verification", response_model=LogVerificationOut,
             summary="Verify the whole review log: every anchored checkpoint reproduced by the service's leaves "
                     "and consistent with the one before (synchronous; O(n) in the log)",
             responses={503: {"description": "log-verification-running (one run at a time), chain-unavailable"}})
def log_verification(s: ServicesDep, source: Annotated[Source, Query(description=(
        "where the checkpoints come from: the service's index, or the chain's own CheckpointAnchored logs (each "
        "also confirmed with isCheckpoint)"))] = Source.INDEX) -> LogVerificationOut:
    lock = s.extra.setdefault(_RUNNING, threading.Lock())
    if not lock.acquire(blocking=False):
        raise Problem(503, "log-verification-running", "Log verification running",
                      "a log verification is already running on this replica; retry when it is done",
                      headers={"Retry-After": "10"})
    try:
        started = time.perf_counter()
        ledger = s.ledger
        result = call_chain(lambda: verify_log(ledger.reviews, source=source, indexer=s.indexer,
                                               w3=ledger.w3 if source is Source.CHAIN else None,
                                               manifest=ledger.manifest))
        seconds = time.perf_counter() - started
    finally:
        lock.release()
    verdict = result.verdict.value
    assert verdict in ("valid", "invalid", "pending", "unknown")
    return LogVerificationOut(
        verdict=verdict, reasons=[ReasonOut(code=str(r.code), message=r.message) for r in result.reasons],
        checkpoints=[_checkpoint_out(c) for c in result.checkpoints], leavesHeld=result.leaves_held,
        source="chain" if result.source is Source.CHAIN else "index", seconds=round(seconds, 6))
