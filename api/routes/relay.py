"""Signed requests: build the EIP-712 message an actor signs, read a signer's nonce, follow a relayed write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..deps import RelayDep
from ..problems import Problem
from ..relay import PreparedRequest, PrepareRequest, WriteStatus
from ..types import Address

ORDER = 5
router = APIRouter(tags=["relay"])


@router.post("/v1/relay/prepare", response_model=PreparedRequest,
             summary="The EIP-712 ForwardRequest an actor signs for a contract call",
             description="Encodes the call, reads the signer's forwarder nonce and sets the deadline. Sign "
                         "`typedData` (eth_signTypedData_v4) with the actor's key and post "
                         "`{request, signature}` to the route of the action. Nothing is stored.")
def prepare(body: PrepareRequest, relay: RelayDep) -> PreparedRequest:
    return relay.prepare(body)


@router.get("/v1/relay/nonces/{address}", summary="The next forwarder nonce of a signer")
def nonce(relay: RelayDep, address: Annotated[Address, Path(description="the signer")]) -> dict[str, str]:
    return {"address": address, "nonce": str(int(relay.forwarder.functions.nonces(address).call()))}


@router.get("/v1/writes/{key:path}", response_model=WriteStatus, summary="A relayed write and what became of it",
            responses={404: {"description": "no write has this key"}})
def write_status(key: str, relay: RelayDep) -> WriteStatus:
    sender = relay.s.ledger.relayer_sender
    entry = sender.entry(key) if sender is not None and len(key) <= 200 else None
    if entry is None or not key.startswith("relay:"):
        raise Problem(404, "unknown-write", "Unknown write", "no relayed write has this key")
    return relay.status(entry, events=entry.final)
