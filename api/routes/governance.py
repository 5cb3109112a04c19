"""Governance: issuer accreditation, merchant standing, arbitrators, the order signer and the delayed acts.

Every write is a governor's own signed ERC-2771 request (``POST /v1/relay/prepare`` builds it), relayed by
the service; each route relays exactly the ``TrustGovernance`` function it is named for, and the address or
act id in its path must be the one in the signed call (else 422 ``wrong-action``). The contract checks the
governor role of the signer: anyone else is answered 403 ``forbidden`` with the contract's error name.

Reads come from the event index and are public. Routes and problem types: docs/api-governance-certificates.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from ledger.indexer import Accreditation, ActRecord, HistoryEntry, MerchantRecord
from ledger.storage.schema import idx_accreditations, idx_events, idx_merchants

from ..deps import RelayDep, ServicesDep, write_gate
from ..problems import Problem
from ..relay import WRITE_RESPONSES, SignedRequest, Wait, WriteStatus, relay_write
from ..state import Services
from ..types import Address, Uint256, hex_of

ORDER = 30
router = APIRouter(prefix="/v1/governance", tags=["governance"])

GOV = "TrustGovernance"
SANCTION_KINDS = ("warning", "suspension", "ban")  # ITrustGovernance.SanctionKind
SUSPENSION = 1
MERCHANT_STATUSES = ("none", "active", "suspended", "banned")  # ITrustGovernance.MerchantStatus
ACT_KINDS = ("none", "replace_log_operator", "revoke_certificate", "declare_key_compromise")  # ActKind
ACT_STATES = ("none", "pending", "executed", "cancelled")  # ActState

IssuerPath = Annotated[Address, Path(description="the inspection body's address")]
MerchantPath = Annotated[Address, Path(description="the merchant's address")]
WRITE = [Depends(write_gate)]


def _relay(relay: Any, body: SignedRequest, response: Response, fn: str, wait: float,
           **expect: Any) -> WriteStatus:
    return relay_write(relay, body, response, allowed={(GOV, fn)}, expect=expect or None, wait=wait)


class ActWrite(WriteStatus):
    """A relayed scheduling of a delayed act; ``actId`` once the write is confirmed."""

    actId: int | None = None


def _act_write(status: WriteStatus) -> ActWrite:
    act_id = next((int(e["args"]["actId"]) for e in status.events or () if e["event"] == "ActScheduled"), None)
    return ActWrite(**status.model_dump(), actId=act_id)


# -- writes: issuers ---------------------------------------------------------------------------------------

@router.post("/issuers/{issuer}/accreditation", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Accredit an issuer, or renew its window (accreditIssuer)")
def accredit_issuer(issuer: IssuerPath, body: SignedRequest, relay: RelayDep, response: Response,
                    wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "accreditIssuer", wait, issuer=issuer)


@router.post("/issuers/{issuer}/scopes", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Add or remove a scope of an issuer (setIssuerScope)")
def set_issuer_scope(issuer: IssuerPath, body: SignedRequest, relay: RelayDep, response: Response,
                     wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "setIssuerScope", wait, issuer=issuer)


@router.post("/issuers/{issuer}/suspension", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Suspend an issuer, with a reason code (suspendIssuer)")
def suspend_issuer(issuer: IssuerPath, body: SignedRequest, relay: RelayDep, response: Response,
                   wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "suspendIssuer", wait, issuer=issuer)


@router.post("/issuers/{issuer}/restoration", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Lift an issuer's suspension (restoreIssuer)")
def restore_issuer(issuer: IssuerPath, body: SignedRequest, relay: RelayDep, response: Response,
                   wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "restoreIssuer", wait, issuer=issuer)


# -- writes: merchants -------------------------------------------------------------------------------------

@router.post("/merchants/{merchant}/admission", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Admit a merchant with its licence hash (admitMerchant)")
def admit_merchant(merchant: MerchantPath, body: SignedRequest, relay: RelayDep, response: Response,
                   wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "admitMerchant", wait, account=merchant)


@router.post("/merchants/{merchant}/sanctions", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Sanction a merchant: warning, suspension or ban, with reason code and ruling reference "
                     "(sanctionMerchant)")
def sanction_merchant(merchant: MerchantPath, body: SignedRequest, relay: RelayDep, response: Response,
                      wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "sanctionMerchant", wait, account=merchant)


@router.post("/merchants/{merchant}/suspension", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Suspend a merchant (sanctionMerchant with kind Suspension = 1 only)")
def suspend_merchant(merchant: MerchantPath, body: SignedRequest, relay: RelayDep, response: Response,
                     wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "sanctionMerchant", wait, account=merchant, kind=SUSPENSION)


@router.post("/merchants/{merchant}/restoration", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Restore a suspended or banned merchant, with reason code and ruling reference "
                     "(restoreMerchant)")
def restore_merchant(merchant: MerchantPath, body: SignedRequest, relay: RelayDep, response: Response,
                     wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "restoreMerchant", wait, account=merchant)


# -- writes: arbitrators, order signer ---------------------------------------------------------------------

@router.post("/arbitrators/{arbitrator}/appointment", response_model=WriteStatus, status_code=202,
             dependencies=WRITE, responses=WRITE_RESPONSES, summary="Appoint an arbitrator (appointArbitrator)")
def appoint_arbitrator(arbitrator: Annotated[Address, Path()], body: SignedRequest, relay: RelayDep,
                       response: Response, wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "appointArbitrator", wait, arbitrator=arbitrator)


@router.post("/arbitrators/{arbitrator}/removal", response_model=WriteStatus, status_code=202,
             dependencies=WRITE, responses=WRITE_RESPONSES, summary="Remove an arbitrator (removeArbitrator)")
def remove_arbitrator(arbitrator: Annotated[Address, Path()], body: SignedRequest, relay: RelayDep,
                      response: Response, wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "removeArbitrator", wait, arbitrator=arbitrator)


@router.post("/order-signer", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Set the platform's purchase-attestation signer (setOrderSigner)")
def set_order_signer(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "setOrderSigner", wait)


# -- writes: delayed acts ----------------------------------------------------------------------------------

@router.post("/acts/log-operator-replacement", response_model=ActWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Schedule the replacement of the log operator, after the public delay "
                     "(scheduleLogOperatorReplacement)")
def schedule_log_operator_replacement(body: SignedRequest, relay: RelayDep, response: Response,
                                      wait: Wait = 0) -> ActWrite:
    return _act_write(_relay(relay, body, response, "scheduleLogOperatorReplacement", wait))


@router.post("/acts/certificate-revocation", response_model=ActWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Schedule governance's revocation of a certificate, after the public delay "
                     "(scheduleCertificateRevocation)")
def schedule_certificate_revocation(body: SignedRequest, relay: RelayDep, response: Response,
                                    wait: Wait = 0) -> ActWrite:
    return _act_write(_relay(relay, body, response, "scheduleCertificateRevocation", wait))


@router.post("/acts/key-compromise", response_model=ActWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Schedule the declaration that an issuer's key is compromised, after the public delay "
                     "(scheduleKeyCompromise; an issuer declaring its own key uses "
                     "POST /v1/certificates/issuers/{issuer}/key-compromise)")
def schedule_key_compromise(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> ActWrite:
    return _act_write(_relay(relay, body, response, "scheduleKeyCompromise", wait))


ActIdPath = Annotated[Uint256, Path(description="the act's id (1, 2, ...)")]


@router.post("/acts/{actId}/execution", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="Carry out a pending act whose delay has passed (executeAct; anyone may sign it)")
def execute_act(actId: ActIdPath, body: SignedRequest, relay: RelayDep, response: Response,
                wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "executeAct", wait, actId=actId)


@router.post("/acts/{actId}/cancellation", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES, summary="Cancel a pending act (cancelAct)")
def cancel_act(actId: ActIdPath, body: SignedRequest, relay: RelayDep, response: Response,
               wait: Wait = 0) -> WriteStatus:
    return _relay(relay, body, response, "cancelAct", wait, actId=actId)


# -- reads -------------------------------------------------------------------------------------------------

class GovernanceEvent(BaseModel):
    """One governance event, where and when it was emitted."""

    event: str
    args: dict[str, Any]
    blockNumber: int
    blockTime: int
    txHash: str
    logIndex: int


class AccreditationPublic(BaseModel):
    """An issuer's accreditation as the events left it."""

    issuer: str
    issuerId: int
    validFrom: int
    validUntil: int
    suspended: bool
    compromisedAt: int | None = Field(description="declared key-compromise time: certificates anchored from "
                                                  "then on are invalid; null when none")
    scopes: list[str] = Field(description="standards or categories in scope, hex")
    accreditedNow: bool = Field(description="not suspended, no compromise, now within the window")


class IssuerPublic(AccreditationPublic):
    history: list[GovernanceEvent]


class AccreditationPage(BaseModel):
    items: list[AccreditationPublic]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class SanctionPublic(BaseModel):
    kind: Literal["warning", "suspension", "ban"] | None
    reasonCode: str | None
    rulingRef: str | None


class MerchantPublic(BaseModel):
    merchant: str
    status: Literal["active", "suspended", "banned"]
    admittedAt: int
    licenceHash: str
    lastSanction: SanctionPublic | None = Field(description="kind of the last sanction; reason and ruling of the "
                                                            "last sanction or restoration")


class MerchantDetail(MerchantPublic):
    history: list[GovernanceEvent] = Field(description="admission, every sanction and restoration, in chain order")


class MerchantPage(BaseModel):
    items: list[MerchantPublic]
    nextCursor: str | None


class ActPublic(BaseModel):
    """A delayed act. ``ready``: pending and its delay has passed (anyone may execute it)."""

    actId: int
    kind: Literal["replace_log_operator", "revoke_certificate", "declare_key_compromise", "none"]
    state: Literal["pending", "executed", "cancelled", "none"]
    eta: int = Field(description="unix time from which it may be executed")
    ready: bool
    account: str = Field(description="the new log operator, or the issuer whose key is compromised")
    ref: str = Field(description="the certificate to revoke")
    reasonCode: str
    time: int = Field(description="the compromise time, for declare_key_compromise")


class GovernanceInfo(BaseModel):
    governance: str
    orderSigner: str | None
    logOperator: str | None
    arbitrators: int
    pendingActs: int


def _accreditation(a: Accreditation, now: int) -> dict[str, Any]:
    return {"issuer": a.issuer, "issuerId": a.issuer_id, "validFrom": a.valid_from, "validUntil": a.valid_until,
            "suspended": a.suspended, "compromisedAt": a.compromised_at or None,
            "scopes": sorted(hex_of(s) for s in a.scopes),
            "accreditedNow": not a.suspended and a.compromised_at == 0 and a.valid_from <= now <= a.valid_until}


def _merchant(m: MerchantRecord) -> dict[str, Any]:
    last = None
    if m.sanction_kind is not None or m.reason_code is not None:
        last = SanctionPublic(kind=None if m.sanction_kind is None else SANCTION_KINDS[m.sanction_kind],
                              reasonCode=None if m.reason_code is None else hex_of(m.reason_code),
                              rulingRef=None if m.ruling_ref is None else hex_of(m.ruling_ref))
    return {"merchant": m.merchant, "status": MERCHANT_STATUSES[m.status], "admittedAt": m.admitted_at,
            "licenceHash": hex_of(m.licence_hash), "lastSanction": last}


def _act(a: ActRecord, now: int) -> ActPublic:
    return ActPublic(actId=a.act_id, kind=ACT_KINDS[a.kind], state=ACT_STATES[a.state],
                     eta=a.eta, ready=a.state == 1 and a.eta <= now, account=a.account, ref=hex_of(a.ref),
                     reasonCode=hex_of(a.reason_code), time=a.time)


def _events(s: Services, names: tuple[str, ...], key: str, account: str) -> list[GovernanceEvent]:
    """Governance events named ``names`` whose argument ``key`` is ``account``, in chain order."""
    e = idx_events.c
    with s.ledger.db.read() as conn:
        rows = conn.execute(sa.select(idx_events).where(e.contract == GOV, e.event.in_(names))
                            .order_by(e.block_number, e.log_index)).all()
    out = []
    for r in rows:
        args = json.loads(r.args)
        if str(args.get(key, "")).lower() == account.lower():
            h = HistoryEntry(r.block_number, r.log_index, r.block_time, bytes(r.tx_hash), r.event, args)
            out.append(GovernanceEvent(event=h.event, args=dict(h.args), blockNumber=h.block_number,
                                       blockTime=h.block_time, txHash=hex_of(h.tx_hash), logIndex=h.log_index))
    return out


def _chain_now(s: Services) -> int:
    """The latest block's time: an act is ready when the chain's clock, not the wall clock, reaches its eta."""
    return int(s.ledger.w3.eth.get_block("latest")["timestamp"])


def _address_cursor(cursor: str | None) -> bytes | None:
    if cursor is None:
        return None
    try:
        raw = bytes.fromhex(cursor.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise Problem(422, "invalid-cursor", "Invalid cursor", "pass the nextCursor of the previous page")
    return raw


Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=100, description="nextCursor of the previous page")]


@router.get("", response_model=GovernanceInfo, summary="Governance at a glance: order signer, log operator, counts")
def info(s: ServicesDep) -> GovernanceInfo:
    return GovernanceInfo(governance=s.ledger.manifest.address(GOV), orderSigner=s.indexer.parameter("order_signer"),
                          logOperator=s.indexer.parameter("log_operator"), arbitrators=len(s.indexer.arbitrators()),
                          pendingActs=sum(1 for a in s.indexer.acts() if a.state == 1))


@router.get("/issuers", response_model=AccreditationPage,
            summary="Accredited issuers (scopes, window, suspension, key compromise), by issuer number")
def issuers(s: ServicesDep, limit: Limit = 100,
            cursor: Annotated[int | None, Query(ge=0, le=2**32, description="nextCursor of the previous page")]
            = None) -> AccreditationPage:
    a = idx_accreditations.c
    q = sa.select(a.issuer, a.issuer_id).order_by(a.issuer_id).limit(limit + 1)
    if cursor is not None:
        q = q.where(a.issuer_id > cursor)
    with s.ledger.db.read() as conn:
        rows = conn.execute(q).all()
    now = _chain_now(s)
    items = []
    for r in rows[:limit]:
        found = s.indexer.accreditation(hex_of(bytes(r.issuer)))
        if found is not None:
            items.append(AccreditationPublic(**_accreditation(found, now)))
    return AccreditationPage(items=items, nextCursor=str(rows[limit - 1].issuer_id) if len(rows) > limit else None)


@router.get("/issuers/{issuer}", response_model=IssuerPublic, summary="One issuer's accreditation and its history",
            responses={404: {"description": "unknown-issuer: never accredited"}})
def issuer(s: ServicesDep, issuer: IssuerPath) -> IssuerPublic:
    found = s.indexer.accreditation(issuer)
    if found is None:
        raise Problem(404, "unknown-issuer", "Unknown issuer", f"{issuer} was never accredited (as indexed)")
    history = _events(s, ("IssuerAccredited", "IssuerScopeSet", "IssuerSuspended", "IssuerRestored",
                          "IssuerKeyCompromised"), "issuer", issuer)
    return IssuerPublic(**_accreditation(found, _chain_now(s)), history=history)


@router.get("/merchants", response_model=MerchantPage, summary="Admitted merchants and their standing")
def merchants(s: ServicesDep, status: Annotated[Literal["active", "suspended", "banned"] | None, Query()] = None,
              limit: Limit = 100, cursor: Cursor = None) -> MerchantPage:
    m = idx_merchants.c
    q = sa.select(m.merchant).order_by(m.merchant).limit(limit + 1)
    after = _address_cursor(cursor)
    if after is not None:
        q = q.where(m.merchant > after)
    if status is not None:
        q = q.where(m.status == MERCHANT_STATUSES.index(status))
    with s.ledger.db.read() as conn:
        keys = [bytes(k) for k in conn.execute(q).scalars()]
    items = []
    for k in keys[:limit]:
        found = s.indexer.merchant(hex_of(k))
        if found is not None:
            items.append(MerchantPublic(**_merchant(found)))
    return MerchantPage(items=items, nextCursor=hex_of(keys[limit - 1]) if len(keys) > limit else None)


@router.get("/merchants/{merchant}", response_model=MerchantDetail,
            summary="One merchant: status, last sanction, and every sanction and restoration",
            responses={404: {"description": "unknown-merchant: never admitted"}})
def merchant(s: ServicesDep, merchant: MerchantPath) -> MerchantDetail:
    found = s.indexer.merchant(merchant)
    if found is None:
        raise Problem(404, "unknown-merchant", "Unknown merchant", f"{merchant} was never admitted (as indexed)")
    history = _events(s, ("MerchantAdmitted", "MerchantSanctioned", "MerchantRestored"), "merchant", merchant)
    return MerchantDetail(**_merchant(found), history=history)


@router.get("/arbitrators", response_model=list[str],
            summary="Appointed arbitrators, in governance's order (arbitratorAt)")
def arbitrators(s: ServicesDep) -> list[str]:
    return s.indexer.arbitrators()


@router.get("/acts", response_model=list[ActPublic],
            summary="Delayed acts by id; `?state=pending` shows what will take effect, and when (eta)")
def acts(s: ServicesDep,
         state: Annotated[Literal["pending", "executed", "cancelled"] | None, Query()] = None) -> list[ActPublic]:
    now = _chain_now(s)
    return [_act(a, now) for a in s.indexer.acts() if state is None or ACT_STATES[a.state] == state]


@router.get("/acts/{actId}", response_model=ActPublic, summary="One delayed act",
            responses={404: {"description": "unknown-act"}})
def act(s: ServicesDep, actId: ActIdPath) -> ActPublic:
    for a in s.indexer.acts():
        if a.act_id == actId:
            return _act(a, _chain_now(s))
    raise Problem(404, "unknown-act", "Unknown act", f"no act {actId} is scheduled (as indexed)")
