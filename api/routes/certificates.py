"""Certificates: issued by accredited inspection bodies, or anchored by the merchant from the issuer's offer.

Writes are the actor's own signed ERC-2771 requests (``POST /v1/relay/prepare`` builds them), relayed by the
service; each route relays only the ``CertificateRegistry`` function it is named for, and what its path names
(certificate id, offer, issuer) or its kind restriction must match the signed call (else 422
``wrong-action``). The registry checks who signed: only the record's issuer issues, revokes and supersedes,
only the record's merchant anchors an offer.

Offers: the issuer signs an EIP-712 ``CertificateOffer`` (domain "TrustLedger CertificateRegistry", bound to
chain id and registry) and posts it; the service checks the signature off chain and keeps it; the merchant
lists its offers and anchors one by relaying its own request calling ``anchor``.

Reads come from the event index (``?source=chain`` asks the registry itself) and are public.
Routes and problem types: docs/api-governance-certificates.md.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from ledger.eip712 import CERTIFICATE_FIELDS, CERTIFICATE_KINDS, Certificate, certificate_id, registry_domain
from ledger.indexer import CertificateRecord
from ledger.storage import now_ms
from ledger.storage.schema import api_certificate_offers as offers_t
from ledger.storage.schema import idx_certificates
from ledger.verify import Evidence, Source, verify_certificate

from ..deps import RelayDep, ServicesDep, write_gate
from ..problems import Problem
from ..relay import WRITE_RESPONSES, Relay, SignedRequest, Wait, WriteStatus, relay_write
from ..state import Services
from ..types import Address, Hash32, Signature, Uint40, Uint256, hex_of

ORDER = 40
router = APIRouter(prefix="/v1/certificates", tags=["certificates"])

REG = "CertificateRegistry"
KIND_NAMES = {v: k for k, v in CERTIFICATE_KINDS.items()}
SPOT_CHECK_KINDS = (CERTIFICATE_KINDS["spot_check_pass"], CERTIFICATE_KINDS["spot_check_fail"])
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

Kind = Literal["certificate", "spot_check_pass", "spot_check_fail"]
CertificateIdPath = Annotated[Hash32, Path(description="the certificate id (EIP-712 struct hash of the record)")]
WRITE = [Depends(write_gate)]


# -- models ------------------------------------------------------------------------------------------------

class CertificateIn(BaseModel):
    """A certificate record (``ICertificateRegistry.Certificate``) as an issuer signs it."""

    model_config = ConfigDict(extra="forbid")

    productId: Hash32
    lot: Hash32 = Field(description="the production batch (zero for all lots)")
    merchant: Address
    issuer: Address
    kind: Kind
    documentHash: Hash32
    standard: Hash32 = Field(description="standard or category certified; in the issuer's scope")
    issuedAt: Uint40
    validUntil: Uint40

    def record(self) -> Certificate:
        return Certificate(self.productId, self.lot, self.merchant, self.issuer, CERTIFICATE_KINDS[self.kind],
                           self.documentHash, self.standard, self.issuedAt, self.validUntil)


class CertificateOut(BaseModel):
    """A certificate record; the id is its EIP-712 struct hash."""

    productId: str
    lot: str
    merchant: str
    issuer: str
    kind: Kind
    documentHash: str
    standard: str
    issuedAt: int
    validUntil: int


def _record_out(c: Certificate) -> CertificateOut:
    return CertificateOut(productId=hex_of(c.product_id), lot=hex_of(c.lot), merchant=c.merchant, issuer=c.issuer,
                          kind=KIND_NAMES[c.kind],
                          documentHash=hex_of(c.document_hash), standard=hex_of(c.standard), issuedAt=c.issued_at,
                          validUntil=c.valid_until)


def _from_abi(d: dict[str, Any]) -> Certificate:
    return Certificate(bytes(d["productId"]), bytes(d["lot"]), str(d["merchant"]), str(d["issuer"]), int(d["kind"]),
                       bytes(d["documentHash"]), bytes(d["standard"]), int(d["issuedAt"]), int(d["validUntil"]))


class CertificateWrite(WriteStatus):
    """A relayed write that records certificates: their ids are known before it is mined."""

    certificateIds: list[str] = Field(description="ids of the records written (GET /v1/certificates/{id})")


class EvidenceOut(BaseModel):
    """An on-chain event a verdict rests on."""

    event: str
    contract: str
    txHash: str
    blockNumber: int
    blockTime: int
    logIndex: int | None


class ReasonOut(BaseModel):
    code: str = Field(description="stable reason code (ledger.verify.ReasonCode), e.g. certificate.revoked")
    message: str


class CertificatePublic(BaseModel):
    """A certificate and its status at a time ("was it valid when I bought it?"), with its evidence."""

    id: str
    certificate: CertificateOut
    status: Literal["unknown", "valid", "revoked", "expired", "superseded", "failed", "compromised"]
    verdict: Literal["valid", "invalid", "pending", "unknown"]
    issuerAccreditedAtIssue: bool
    at: int | None = Field(description="the time judged (unix seconds): `at`, or the latest block's time; null "
                                       "for status now read from the chain (source=chain)")
    source: Literal["index", "chain"]
    reasons: list[ReasonOut]
    supersededBy: str | None
    evidence: list[EvidenceOut] = Field(description="CertificateIssued, then revocation and supersession events")


class HistoryEvent(BaseModel):
    event: str
    args: dict[str, Any]
    blockNumber: int
    blockTime: int
    txHash: str
    logIndex: int


class CertificateHistory(BaseModel):
    id: str
    history: list[HistoryEvent] = Field(description="every event of the certificate, in chain order")


class CertificateSummary(BaseModel):
    """A certificate in a list: its record, status now (as indexed) and where it was anchored."""

    id: str
    certificate: CertificateOut
    status: Literal["unknown", "valid", "revoked", "expired", "superseded", "failed", "compromised"]
    anchoredBy: str
    anchoredAt: int
    blockNumber: int
    txHash: str
    revokedAt: int | None
    supersededBy: str | None
    replaces: str | None


class CertificatePage(BaseModel):
    items: list[CertificateSummary]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class OfferIn(BaseModel):
    """An issuer's signed offer: the merchant may anchor ``certificate`` until ``deadline``."""

    model_config = ConfigDict(extra="forbid")

    certificate: CertificateIn
    nonce: Uint256 = Field(description="the issuer's offer nonce (unused; cancel with cancelNonces)")
    deadline: Uint40 = Field(description="unix time after which the offer is void")
    signature: Signature = Field(description="the issuer's EIP-712 CertificateOffer signature, 65 bytes r||s||v")


class OfferPublic(BaseModel):
    """A stored offer, and the arguments of ``CertificateRegistry.anchor`` that use it."""

    id: str = Field(description="the certificate id the offer would anchor")
    certificate: CertificateOut
    nonce: str
    deadline: int
    signature: str
    state: Literal["open", "anchored", "expired"] = Field(description="anchored: the index holds the certificate")
    createdAt: float
    anchorArgs: dict[str, Any] = Field(description="args for POST /v1/relay/prepare "
                                                   "(contract CertificateRegistry, function anchor)")
    location: str


class OfferPage(BaseModel):
    items: list[OfferPublic]
    nextCursor: str | None


# -- helpers -----------------------------------------------------------------------------------------------

def _decoded(relay: Relay, signed: SignedRequest, fn: str) -> dict[str, Any] | None:
    """The decoded arguments when the request calls ``CertificateRegistry.fn``, else None (``relay_write``
    answers wrong-action)."""
    name, called, args = relay.decode(signed.request)
    return args if (name, called) == (REG, fn) else None


def _wrong(detail: str) -> Problem:
    return Problem(422, "wrong-action", "Request is for another action", detail)


def _write(status: WriteStatus, records: list[Certificate]) -> CertificateWrite:
    return CertificateWrite(**status.model_dump(), certificateIds=[hex_of(certificate_id(c)) for c in records])


def _issue(relay: Relay, body: SignedRequest, response: Response, wait: float, kinds: tuple[int, ...],
           what: str) -> CertificateWrite:
    args = _decoded(relay, body, "issue")
    records = []
    if args is not None:
        record = _from_abi(args["certificate"])
        if record.kind not in kinds:
            raise _wrong(f"this route records {what}; the request's kind is {KIND_NAMES.get(record.kind)}")
        records.append(record)
    return _write(relay_write(relay, body, response, allowed={(REG, "issue")}, wait=wait), records)


# -- writes: issuer ----------------------------------------------------------------------------------------

@router.post("", response_model=CertificateWrite, status_code=202, dependencies=WRITE, responses=WRITE_RESPONSES,
             summary="The issuer records a certificate (issue, kind certificate only)")
def issue(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> CertificateWrite:
    return _issue(relay, body, response, wait, (CERTIFICATE_KINDS["certificate"],), "kind certificate")


@router.post("/spot-checks", response_model=CertificateWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer records a spot-check result (issue, kind spot_check_pass or spot_check_fail "
                     "only); a failed spot check reads as status failed")
def spot_check(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> CertificateWrite:
    return _issue(relay, body, response, wait, SPOT_CHECK_KINDS, "spot-check results")


@router.post("/batch", response_model=CertificateWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer records several records at once, any kinds (issueBatch); all or none")
def issue_batch(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> CertificateWrite:
    args = _decoded(relay, body, "issueBatch")
    records = [] if args is None else [_from_abi(c) for c in args["certificates"]]
    return _write(relay_write(relay, body, response, allowed={(REG, "issueBatch")}, wait=wait), records)


@router.post("/{id}/revocation", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer revokes its certificate with a reason code (revoke); permanent. Governance "
                     "revokes another party's through POST /v1/governance/acts/certificate-revocation")
def revoke(id: CertificateIdPath, body: SignedRequest, relay: RelayDep, response: Response,
           wait: Wait = 0) -> WriteStatus:
    return relay_write(relay, body, response, allowed={(REG, "revoke")}, expect={"id": id}, wait=wait)


@router.post("/{id}/supersession", response_model=CertificateWrite, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer replaces its certificate with a new record (supersede)")
def supersede(id: CertificateIdPath, body: SignedRequest, relay: RelayDep, response: Response,
              wait: Wait = 0) -> CertificateWrite:
    args = _decoded(relay, body, "supersede")
    records = [] if args is None else [_from_abi(args["replacement"])]
    status = relay_write(relay, body, response, allowed={(REG, "supersede")}, expect={"id": id}, wait=wait)
    return _write(status, records)


@router.post("/issuers/{issuer}/key-compromise", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer declares its own key compromised from a time (TrustGovernance."
                     "declareKeyCompromised); certificates anchored from then on read as compromised")
def declare_key_compromised(issuer: Annotated[Address, Path(description="the issuer: must sign the request")],
                            body: SignedRequest, relay: RelayDep, response: Response,
                            wait: Wait = 0) -> WriteStatus:
    if body.request.from_ != issuer:
        raise _wrong(f"the request is signed for {body.request.from_}, not for the issuer named by the path")
    return relay_write(relay, body, response, allowed={("TrustGovernance", "declareKeyCompromised")}, wait=wait)


@router.post("/offers/nonce-cancellation", response_model=WriteStatus, status_code=202, dependencies=WRITE,
             responses=WRITE_RESPONSES,
             summary="The issuer withdraws unused offers by cancelling their nonces (cancelNonces)")
def cancel_offer_nonces(body: SignedRequest, relay: RelayDep, response: Response, wait: Wait = 0) -> WriteStatus:
    return relay_write(relay, body, response, allowed={(REG, "cancelNonces")}, wait=wait)


# -- offers ------------------------------------------------------------------------------------------------

def _offer_signer(s: Services, body: OfferIn) -> str | None:
    """The key that signed the offer, or None for a malformed or malleable (high-s) signature, which the
    registry refuses too."""
    sig = body.signature
    if sig[64] not in (27, 28) or int.from_bytes(sig[32:64], "big") > SECP256K1_HALF_N:
        return None
    message = encode_typed_data(
        domain_data=registry_domain(s.ledger.manifest.chain_id, s.ledger.manifest.address(REG)),
        message_types={"CertificateOffer": [{"name": "certificate", "type": "Certificate"},
                                            {"name": "nonce", "type": "uint256"},
                                            {"name": "deadline", "type": "uint256"}],
                       "Certificate": CERTIFICATE_FIELDS},
        message_data={"certificate": body.certificate.record().as_message(), "nonce": body.nonce,
                      "deadline": body.deadline})
    try:
        return str(Account.recover_message(message, signature=sig))
    except Exception:  # noqa: BLE001 - a signature that recovers nobody
        return None


def _anchored(s: Services, ids: list[bytes]) -> set[bytes]:
    if not ids:
        return set()
    c = idx_certificates.c
    with s.ledger.db.read() as conn:
        return {bytes(i) for i in conn.execute(sa.select(c.certificate_id).where(c.certificate_id.in_(ids))).scalars()}


def _offer(r: Any, anchored: set[bytes], now: int) -> OfferPublic:
    cid = bytes(r.certificate_id)
    record = CertificateIn.model_validate(json.loads(r.certificate)).record()
    out = _record_out(record)
    state: Literal["open", "anchored", "expired"] = \
        "anchored" if cid in anchored else "expired" if int(r.deadline) < now else "open"
    args = {"certificate": {**out.model_dump(), "kind": record.kind}, "nonce": str(r.nonce),
            "deadline": int(r.deadline), "signature": hex_of(bytes(r.signature))}
    return OfferPublic(id=hex_of(cid), certificate=out, nonce=str(r.nonce), deadline=int(r.deadline),
                       signature=hex_of(bytes(r.signature)), state=state, createdAt=r.created_ms / 1000,
                       anchorArgs=args, location=f"/v1/certificates/offers/{hex_of(cid)}")


def _get_offer(s: Services, cid: bytes) -> Any:
    with s.ledger.db.read() as conn:
        row = conn.execute(sa.select(offers_t).where(offers_t.c.certificate_id == cid)).first()
    if row is None:
        raise Problem(404, "unknown-offer", "Unknown offer", "no offer for this certificate id was posted")
    return row


@router.post("/offers", response_model=OfferPublic, status_code=201, dependencies=WRITE,
             summary="The issuer posts a signed certificate offer for its merchant to anchor",
             responses={200: {"description": "the same offer was posted before, or it replaced an earlier "
                                             "offer of the same record"},
                        401: {"description": "signature-invalid: not signed by the record's issuer for this "
                                             "registry and chain"},
                        409: {"description": "offer-nonce-used, certificate-already-anchored"},
                        422: {"description": "offer-expired, validation-error"}})
def post_offer(body: OfferIn, s: ServicesDep, response: Response) -> OfferPublic:
    record = body.certificate.record()
    signer = _offer_signer(s, body)
    if signer != record.issuer:
        raise Problem(401, "signature-invalid", "Invalid signature",
                      "the offer's signature is not the record's issuer's over this CertificateOffer "
                      "(domain: TrustLedger CertificateRegistry, this chain and registry)")
    now = _chain_now(s)
    if body.deadline < now:
        raise Problem(422, "offer-expired", "Offer expired", f"the offer's deadline {body.deadline} has passed")
    cid = certificate_id(record)
    registry = s.contracts[REG]
    if registry.functions.isNonceUsed(record.issuer, body.nonce).call():
        raise Problem(409, "offer-nonce-used", "Offer nonce used",
                      f"nonce {body.nonce} of {record.issuer} was used or cancelled: sign the offer with a new one")
    if int(registry.functions.certificateState(cid).call()[1]) != 0:
        raise Problem(409, "certificate-already-anchored", "Certificate already anchored",
                      f"certificate {hex_of(cid)} is already recorded", location=f"/v1/certificates/{hex_of(cid)}")
    values = {"issuer": bytes.fromhex(record.issuer[2:]), "merchant": bytes.fromhex(record.merchant[2:]),
              "product_id": record.product_id, "certificate": _record_out(record).model_dump_json(),
              "nonce": str(body.nonce), "deadline": body.deadline, "signature": body.signature}
    t = offers_t.c
    created = True
    try:
        with s.ledger.db.write() as conn:
            conn.execute(sa.insert(offers_t).values(certificate_id=cid, created_ms=now_ms(), **values))
    except IntegrityError:
        created = False
        with s.ledger.db.write() as conn:  # a newer signature of the same record (new nonce or deadline)
            conn.execute(sa.update(offers_t).where(t.certificate_id == cid).values(**values))
    row = _get_offer(s, cid)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/certificates/offers/{hex_of(cid)}"
    s.log.info("certificate offer stored", extra={"certificate_id": hex_of(cid), "issuer": record.issuer})
    return _offer(row, set(), now)


_OFFER_CURSOR = re.compile(r"(\d{1,18})\.(0x[0-9a-f]{64})")


@router.get("/offers", response_model=OfferPage,
            summary="Offers for a merchant to anchor (filter by merchant, product, issuer), oldest first")
def list_offers(s: ServicesDep, merchant: Annotated[Address | None, Query()] = None,
                product: Annotated[Hash32 | None, Query()] = None, issuer: Annotated[Address | None, Query()] = None,
                state: Annotated[Literal["open", "anchored", "expired"] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                cursor: Annotated[str | None, Query(max_length=100)] = None) -> OfferPage:
    t = offers_t.c
    q = sa.select(offers_t).order_by(t.created_ms, t.certificate_id)
    if merchant is not None:
        q = q.where(t.merchant == bytes.fromhex(merchant[2:]))
    if issuer is not None:
        q = q.where(t.issuer == bytes.fromhex(issuer[2:]))
    if product is not None:
        q = q.where(t.product_id == product)
    if cursor is not None:
        m = _OFFER_CURSOR.fullmatch(cursor)
        if m is None:
            raise Problem(422, "invalid-cursor", "Invalid cursor", "pass the nextCursor of the previous page")
        ms, after = int(m.group(1)), bytes.fromhex(m.group(2)[2:])
        q = q.where(sa.or_(t.created_ms > ms, sa.and_(t.created_ms == ms, t.certificate_id > after)))
    now = _chain_now(s)
    items: list[OfferPublic] = []
    next_cursor = None
    with s.ledger.db.read() as conn:
        result = conn.execute(q.execution_options(yield_per=200))
        for rows in result.partitions():
            anchored = _anchored(s, [bytes(r.certificate_id) for r in rows])
            for r in rows:
                offer = _offer(r, anchored, now)
                if state is not None and offer.state != state:
                    continue
                if len(items) == limit:
                    last = items[-1]
                    next_cursor = f"{round(last.createdAt * 1000)}.{last.id}"
                    break
                items.append(offer)
            if next_cursor is not None:
                break
    return OfferPage(items=items, nextCursor=next_cursor)


@router.get("/offers/{id}", response_model=OfferPublic, summary="One offer",
            responses={404: {"description": "unknown-offer"}})
def get_offer(id: CertificateIdPath, s: ServicesDep) -> OfferPublic:
    row = _get_offer(s, id)
    return _offer(row, _anchored(s, [id]), _chain_now(s))


@router.post("/offers/{id}/anchor", response_model=CertificateWrite, status_code=202, dependencies=WRITE,
             responses={**WRITE_RESPONSES, 404: {"description": "unknown-offer"}},
             summary="The merchant anchors an offer: its own signed request calling anchor(certificate, nonce, "
                     "deadline, signature) for the offer's record")
def anchor_offer(id: CertificateIdPath, body: SignedRequest, relay: RelayDep, response: Response,
                 wait: Wait = 0) -> CertificateWrite:
    _get_offer(relay.s, id)
    args = _decoded(relay, body, "anchor")
    records = []
    if args is not None:
        record = _from_abi(args["certificate"])
        if certificate_id(record) != id:
            raise _wrong("the request anchors another certificate than the offer named by the path")
        records.append(record)
    return _write(relay_write(relay, body, response, allowed={(REG, "anchor")}, wait=wait), records)


# -- reads -------------------------------------------------------------------------------------------------

def _chain_now(s: Services) -> int:
    """The latest block's time: statuses "now" are judged on the chain's clock, as the registry does."""
    return int(s.ledger.w3.eth.get_block("latest")["timestamp"])


def _evidence(e: Evidence) -> EvidenceOut:
    return EvidenceOut(event=e.event, contract=e.contract, txHash=hex_of(e.tx_hash), blockNumber=e.block_number,
                       blockTime=e.block_time, logIndex=e.log_index)


_CURSOR = re.compile(r"(\d{1,18})\.(0x[0-9a-f]{64})")


def _summary(r: CertificateRecord, now: int) -> CertificateSummary:
    record = Certificate(r.product_id, r.lot, r.merchant, r.issuer, r.kind, r.document_hash, r.standard, r.issued_at,
                         r.valid_until)
    return CertificateSummary(
        id=hex_of(r.certificate_id), certificate=_record_out(record),
        status=r.status_at(now)[0].name.lower(),
        anchoredBy=r.anchored_by, anchoredAt=r.anchored_at, blockNumber=r.block_number, txHash=hex_of(r.tx_hash),
        revokedAt=r.revoked_at, supersededBy=None if r.superseded_by is None else hex_of(r.superseded_by),
        replaces=None if r.replaces is None else hex_of(r.replaces))


@router.get("", response_model=CertificatePage,
            summary="Certificates by product, lot, merchant or issuer (every filter given applies), in anchoring "
                    "order, with their status now (the latest block's time) as indexed")
def list_certificates(s: ServicesDep, product: Annotated[Hash32 | None, Query()] = None,
                      lot: Annotated[Hash32 | None, Query()] = None,
                      merchant: Annotated[Address | None, Query()] = None,
                      issuer: Annotated[Address | None, Query()] = None,
                      kind: Annotated[Kind | None, Query()] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      cursor: Annotated[str | None, Query(max_length=100)] = None) -> CertificatePage:
    c = idx_certificates.c
    q = sa.select(c.certificate_id, c.block_number).order_by(c.block_number, c.certificate_id).limit(limit + 1)
    if product is not None:
        q = q.where(c.product_id == product)
    if lot is not None:
        q = q.where(c.lot == lot)
    if merchant is not None:
        q = q.where(c.merchant == bytes.fromhex(merchant[2:]))
    if issuer is not None:
        q = q.where(c.issuer == bytes.fromhex(issuer[2:]))
    if kind is not None:
        q = q.where(c.kind == CERTIFICATE_KINDS[kind])
    if cursor is not None:
        m = _CURSOR.fullmatch(cursor)
        if m is None:
            raise Problem(422, "invalid-cursor", "Invalid cursor", "pass the nextCursor of the previous page")
        block, after = int(m.group(1)), bytes.fromhex(m.group(2)[2:])
        q = q.where(sa.or_(c.block_number > block, sa.and_(c.block_number == block, c.certificate_id > after)))
    with s.ledger.db.read() as conn:
        rows = conn.execute(q).all()
    now = _chain_now(s)
    items = []
    for r in rows[:limit]:
        found = s.indexer.certificate(bytes(r.certificate_id))
        if found is not None:
            items.append(_summary(found, now))
    last = rows[limit - 1] if len(rows) > limit else None
    return CertificatePage(items=items, nextCursor=None if last is None else
                           f"{last.block_number}.{hex_of(bytes(last.certificate_id))}")


@router.get("/{id}", response_model=CertificatePublic,
            summary="A certificate with its status now or at `at` (statusAt semantics), whether its issuer was "
                    "accredited at issue, and its evidence; `source=chain` asks the registry itself",
            responses={404: {"description": "unknown-certificate"}})
def get_certificate(id: CertificateIdPath, s: ServicesDep,
                    at: Annotated[Uint40 | None, Query(description="unix time to judge the status at; "
                                                                   "default now")] = None,
                    source: Annotated[Literal["index", "chain"], Query()] = "index") -> CertificatePublic:
    judged = at
    if judged is None and source == "index":  # "now" as the chain sees it (the registry's block.timestamp)
        judged = _chain_now(s)
    v = verify_certificate(id, source=Source(source), indexer=s.indexer, w3=s.ledger.w3,
                           manifest=s.ledger.manifest, at=judged)
    if v.certificate is None:
        raise Problem(404, "unknown-certificate", "Unknown certificate",
                      f"no certificate {hex_of(id)} is anchored ({'on chain' if source == 'chain' else 'as indexed'})")
    return CertificatePublic(
        id=hex_of(id), certificate=_record_out(v.certificate),
        status=v.status.name.lower(),
        verdict=v.verdict.value, issuerAccreditedAtIssue=v.issuer_accredited_at_issue,
        at=judged, source=source, reasons=[ReasonOut(code=r.code.value, message=r.message) for r in v.reasons],
        supersededBy=None if v.superseded_by is None else hex_of(v.superseded_by),
        evidence=[_evidence(e) for e in v.evidence])


@router.get("/{id}/history", response_model=CertificateHistory,
            summary="Every event of a certificate (issued, revoked, superseded, replacing) with transaction, "
                    "block and time", responses={404: {"description": "unknown-certificate"}})
def certificate_history(id: CertificateIdPath, s: ServicesDep) -> CertificateHistory:
    found = s.indexer.certificate(id)
    if found is None:
        raise Problem(404, "unknown-certificate", "Unknown certificate",
                      f"no certificate {hex_of(id)} is anchored (as indexed)")
    return CertificateHistory(id=hex_of(id), history=[
        HistoryEvent(event=h.event, args=dict(h.args), blockNumber=h.block_number, blockTime=h.block_time,
                     txHash=hex_of(h.tx_hash), logIndex=h.log_index) for h in found.history])
