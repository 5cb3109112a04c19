"""The consumer's reads: a product's record, a merchant's trust profile (docs/api-read.md).

Both answers are documented JSON formats produced by the library, answered as the library's own RFC 8785
canonical bytes (``ProductRecord.to_json`` / ``TrustProfile.to_json``): docs/product-record.md and
docs/trust-profile.md give every member. The response models below name the top-level members for the OpenAPI
document and leave the nested ones to those docs (``extra="allow"``, so a member the library adds in version 1
does not break a client validating against the schema).

Index mode (the default) reads the service's index and proves each relevant leaf of its review log against the
anchored checkpoint (the indexed path: ``leaves=services.ledger.reviews``); ``source=chain`` re-reads the
certificates, the issuers' accreditations and the checkpoints from the contracts themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

import requests
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.product import product_record
from ledger.sender import ChainUnavailable
from ledger.trust import trust_profile
from ledger.verify import Source

from ..deps import ServicesDep
from ..problems import Problem
from ..types import Address, Hash32

ORDER = 60
router = APIRouter(tags=["products"])

UINT40_MAX = 2**40 - 1
CANONICAL_JSON = "application/json"

AsOf = Annotated[int | None, Query(ge=0, le=UINT40_MAX, description=(
    "unix seconds: the record as of that moment (only what happened at or before it counts); default now — the "
    "wall clock in index mode, the latest block's time in chain mode. Pass it when two answers must agree."))]

T = TypeVar("T")


class ProductRecordOut(BaseModel):
    """A product's record, version 1: docs/product-record.md gives every member. Canonical JSON (RFC 8785)."""

    model_config = ConfigDict(extra="allow")

    v: int = Field(description="format version (1)")
    productId: str
    chainId: int
    asOf: int
    purchasedAt: int | None
    source: Literal["index", "chain"]
    certificates: list[dict[str, Any]] = Field(description="every certificate of the product anchored by asOf, "
                                                           "with its status now and at purchase, the issuer's "
                                                           "accreditation at issue and the on-chain evidence")
    certificatesByStatus: dict[str, int]
    reviews: dict[str, Any] = Field(description="verified review statistics: stars, exact mean, pending, "
                                                "exclusions by reason, tombstones, the checkpoint verified against")
    disputes: list[dict[str, Any]] = Field(description="disputes about the product and their outcomes")
    merchants: list[dict[str, Any]] = Field(description="the trust profile of each merchant selling the product "
                                                        "(docs/trust-profile.md)")


class TrustProfileOut(BaseModel):
    """A merchant's trust profile, version 1: the score beside every input it was computed from
    (docs/trust-profile.md). Canonical JSON (RFC 8785)."""

    model_config = ConfigDict(extra="allow")

    v: int
    formula: str = Field(description="the formula's name and version")
    merchant: str
    chainId: int
    asOf: int
    score: int = Field(ge=0, le=100)
    scoreExact: str = Field(description="the exact score before rounding, as numerator/denominator")
    terms: dict[str, Any] = Field(description="each term: favourable and unfavourable counts, priors, weight, value")
    factors: dict[str, Any]
    certificates: dict[str, Any]
    reviews: dict[str, Any]
    disputes: dict[str, Any]
    sanctions: dict[str, Any]


def _canonical(body: str) -> Response:
    return Response(content=body.encode("ascii"), media_type=CANONICAL_JSON)


_UNAVAILABLE = (ConnectionError, TimeoutError, requests.exceptions.ConnectionError, requests.exceptions.Timeout)


@contextmanager
def chain_errors() -> Iterator[None]:
    """A chain that does not answer is 503 ``chain-unavailable`` (not an internal error)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise ChainUnavailable(f"chain RPC unavailable: {type(exc).__name__}: {exc}") from exc


def call_chain(fn: Callable[[], T]) -> T:
    with chain_errors():
        return fn()


@router.get("/v1/products/{productId}", response_model=ProductRecordOut,
            summary="A product's record: certificates with status, verified review statistics, disputes and "
                    "outcomes, its merchants' trust profiles",
            responses={422: {"description": "validation-error"},
                       503: {"description": "chain-unavailable (source=chain)"}})
def get_product(s: ServicesDep, productId: Annotated[Hash32, Path(description="keccak256(\"gtin:\" + GTIN)")],
                at: AsOf = None,
                purchasedAt: Annotated[int | None, Query(ge=0, le=UINT40_MAX, description=(
                    "unix seconds: also judge every certificate at that time (\"was it valid when I bought "
                    "it?\")"))] = None,
                source: Annotated[Source, Query(description=(
                    "index: the service's index, each review proved against the anchored checkpoint; chain: "
                    "certificates, accreditations and checkpoints re-read from the contracts"))] = Source.INDEX,
                ) -> Response:
    ledger = s.ledger
    record = call_chain(lambda: product_record(
        productId, indexer=s.indexer, leaves=ledger.reviews, as_of=at, purchased_at=purchasedAt, source=source,
        w3=ledger.w3 if source is Source.CHAIN else None, tally=s.tally))
    return _canonical(record.to_json())


@router.get("/v1/merchants/{address}/trust", response_model=TrustProfileOut, tags=["merchants"],
            summary="A merchant's trust profile: the score and every input it was computed from",
            responses={404: {"description": "unknown-merchant: never admitted (as far as the index knows)"}})
def get_trust(s: ServicesDep, address: Annotated[Address, Path(description="the merchant's address")],
              at: AsOf = None) -> Response:
    if s.indexer.merchant(address) is None:
        raise Problem(404, "unknown-merchant", "Unknown merchant",
                      f"{address} was never admitted as a merchant (as far as the index has read the chain)")
    # default: the time of the last indexed block, as the product record's (the index holds nothing later)
    as_of = at if at is not None else (s.indexer.position().block_time or int(time.time()))
    profile = trust_profile(address, indexer=s.indexer, leaves=s.ledger.reviews, as_of=as_of, tally=s.tally)
    return _canonical(profile.to_json())
