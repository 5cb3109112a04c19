"""Relaying actors' signed requests: the only way the API writes to a role-guarded contract function.

An actor (governor, issuer, merchant, arbitrator, buyer key) signs an ERC-2771 ``ForwardRequest`` for the
TrustForwarder (EIP-712 domain "TrustLedger Forwarder", bound to chain id and forwarder address). The API

1. decodes the request's call and refuses one that is not what the route is for (422 ``wrong-action``),
2. recovers the signer off chain: no signature is 401 ``signature-required``, a signature by another key
   than ``from`` is 401 ``signature-invalid``,
3. reads the chain: a deadline passed is 401 ``request-expired``; a nonce already used is 401
   ``request-replayed`` — unless it is exactly the request already relayed, which is answered with that
   write (a retry never writes twice); a nonce ahead of the signer's next is 409 ``nonce-not-current``,
4. simulates ``execute`` from the relayer: the contract checks the role of the signer (the forwarder passes
   the signer as the ERC-2771 sender), so a wrong role is 403 ``forbidden`` with the contract's error name,
   and any other refusal 422 ``contract-rejected``; nothing is sent,
5. stores the write in the relayer's durable outbox under ``relay:<chain>:<forwarder>:<signer>:<nonce>`` and
   answers 202 with where to follow it (``GET /v1/writes/{key}``), or, when the client asks to wait, 200
   with the transaction, its block and the events it emitted.

The relayer's key holds no role: a request it signed itself is refused by the contracts like anyone's.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from fastapi import Query
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field
from web3.contract import Contract
from web3.exceptions import Web3Exception

from ledger.chain import revert_of
from ledger.eip712 import FORWARD_REQUEST_FIELDS, forwarder_domain
from ledger.errors import ContractError
from ledger.sender import OutboxEntry, OutboxStatus, WriteFailed, WriteTimeout

from .problems import Problem, problem_for
from .state import Services
from .types import Address, HexData, Signature, Uint40, Uint256, checksum, hex_of

__all__ = ["ForwardRequestIn", "PrepareRequest", "PreparedRequest", "Relay", "SignedRequest", "WriteStatus"]

MAX_REQUEST_GAS = 10_000_000
DEFAULT_REQUEST_GAS = 1_000_000


class ForwardRequestIn(BaseModel):
    """An ERC-2771 forward request, as the actor signed it (``nonce`` and ``deadline`` included)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: Address = Field(alias="from", description="the actor: the key that signed")
    to: Address = Field(description="the TrustLedger contract called")
    value: Uint256 = Field(0, description="wei sent with the call (TrustLedger functions take none)")
    gas: Uint256 = Field(description="gas the forwarded call gets")
    nonce: Uint256 = Field(description="the signer's forwarder nonce (GET /v1/relay/nonces/{address})")
    deadline: Uint40 = Field(description="unix time after which the request is void")
    data: HexData = Field(description="the call: selector and ABI-encoded arguments")


class SignedRequest(BaseModel):
    """A forward request and the actor's EIP-712 signature over it."""

    model_config = ConfigDict(extra="forbid")

    request: ForwardRequestIn
    signature: Signature | None = Field(None, description="65 bytes r || s || v over the EIP-712 ForwardRequest")


class PrepareRequest(BaseModel):
    """What an actor wants to call; the service answers the EIP-712 message to sign."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: Address = Field(alias="from", description="the actor's address")
    contract: str = Field(description="TrustGovernance, CertificateRegistry, DisputeRegistry or ReviewLog",
                          max_length=64)
    function: str = Field(description="the contract function, e.g. revoke", max_length=64)
    args: list[Any] | dict[str, Any] = Field(default_factory=list,
                                             description="arguments by position or by name; bytes as 0x-hex, "
                                                         "uint256 as numbers or decimal strings, structs as "
                                                         "objects")
    gas: Uint256 = Field(DEFAULT_REQUEST_GAS, description="gas for the forwarded call")
    ttl: int = Field(3600, ge=60, le=7 * 24 * 3600, description="seconds until the request's deadline")


class PreparedRequest(BaseModel):
    """The EIP-712 typed data to sign (``eth_signTypedData_v4``) and the request to post with the signature."""

    request: dict[str, Any]
    typedData: dict[str, Any]
    digest: str = Field(description="the EIP-712 digest the signature signs")


class WriteStatus(BaseModel):
    """A relayed write and what became of it."""

    key: str
    status: OutboxStatus
    actor: str | None = None
    contract: str | None = None
    function: str | None = None
    txHash: str | None = None
    blockNumber: int | None = None
    errorName: str | None = None
    error: str | None = None
    events: list[dict[str, Any]] | None = None
    location: str


def jsonable(value: Any) -> Any:
    """ABI values as JSON: bytes as 0x-hex, integers beyond 2^53 as decimal strings, tuples as lists."""
    if isinstance(value, (bytes, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def _coerce(abi: dict[str, Any], value: Any, path: str) -> Any:
    """A JSON value as the Python value web3 encodes for ABI parameter ``abi``."""
    typ: str = abi["type"]
    if typ.endswith("]"):
        inner = dict(abi, type=typ[:typ.rindex("[")])
        if not isinstance(value, list):
            raise Problem(422, "invalid-arguments", "Invalid arguments", f"{path}: expected a list ({typ})")
        return [_coerce(inner, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if typ == "tuple":
        components = abi["components"]
        if isinstance(value, dict):
            missing = [c["name"] for c in components if c["name"] not in value]
            extra = sorted(set(value) - {c["name"] for c in components})
            if missing or extra:
                raise Problem(422, "invalid-arguments", "Invalid arguments",
                              f"{path}: missing {missing}, unknown {extra}")
            value = [value[c["name"]] for c in components]
        if not isinstance(value, list) or len(value) != len(components):
            raise Problem(422, "invalid-arguments", "Invalid arguments",
                          f"{path}: expected an object or a list of {len(components)}")
        return tuple(_coerce(c, v, f"{path}.{c['name']}") for c, v in zip(components, value, strict=True))
    try:
        if typ == "address":
            return checksum(value)
        if typ.startswith("bytes"):
            size = int(typ[5:]) if typ != "bytes" else None
            if not isinstance(value, str) or not value.startswith("0x"):
                raise ValueError("expected 0x-hex")
            raw = bytes.fromhex(value[2:])
            if size is not None and len(raw) != size:
                raise ValueError(f"expected {size} bytes")
            return raw
        if typ.startswith(("uint", "int")):
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError("expected an integer")
            n = int(value)
            bits = int(typ.lstrip("uint") or 256)
            low, high = (0, 2**bits - 1) if typ.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if not low <= n <= high:
                raise ValueError(f"out of range for {typ}")
            return n
        if typ == "bool":
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if typ == "string":
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return value
    except ValueError as exc:
        raise Problem(422, "invalid-arguments", "Invalid arguments", f"{path} ({typ}): {exc}") from None
    raise Problem(422, "invalid-arguments", "Invalid arguments", f"{path}: unsupported ABI type {typ}")


class Relay:
    """Checks, simulates and relays signed requests for one service (see the module docstring)."""

    TARGETS = ("TrustGovernance", "CertificateRegistry", "DisputeRegistry", "ReviewLog")

    def __init__(self, services: Services) -> None:
        self.s = services
        self.forwarder: Contract = services.contracts["TrustForwarder"]
        self.chain_id = services.ledger.manifest.chain_id
        self.domain = forwarder_domain(self.chain_id, self.forwarder.address)
        self.by_address: dict[str, str] = {str(services.contracts[n].address): n for n in self.TARGETS}

    # -- reading a request -----------------------------------------------------------------------------------

    def decode(self, req: ForwardRequestIn) -> tuple[str, str, dict[str, Any]]:
        name = self.by_address.get(req.to)
        if name is None:
            raise Problem(422, "unknown-target", "Not a TrustLedger contract",
                          f"{req.to} is none of this deployment's contracts")
        try:
            fn, args = self.s.contracts[name].decode_function_input(req.data)
        except (ValueError, Web3Exception) as exc:
            raise Problem(422, "unknown-function", "Not a function of the contract",
                          f"the request's data is not a call of a {name} function: {type(exc).__name__}") from None
        return name, fn.fn_name, dict(args)

    def typed_data(self, req: ForwardRequestIn) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                       {"name": "chainId", "type": "uint256"},
                                       {"name": "verifyingContract", "type": "address"}],
                      "ForwardRequest": FORWARD_REQUEST_FIELDS},
            "primaryType": "ForwardRequest",
            "domain": self.domain,
            "message": {"from": req.from_, "to": req.to, "value": str(req.value), "gas": str(req.gas),
                        "nonce": str(req.nonce), "deadline": req.deadline, "data": hex_of(req.data)},
        }

    def message(self, req: ForwardRequestIn) -> Any:
        """The EIP-712 signable message of ``req`` under this deployment's forwarder domain."""
        return encode_typed_data(domain_data=self.domain, message_types={"ForwardRequest": FORWARD_REQUEST_FIELDS},
                                 message_data={"from": req.from_, "to": req.to, "value": req.value, "gas": req.gas,
                                               "nonce": req.nonce, "deadline": req.deadline, "data": req.data})

    def signer(self, req: ForwardRequestIn, signature: bytes) -> str:
        try:
            return str(Account.recover_message(self.message(req), signature=signature))
        except Exception:  # noqa: BLE001 - a malformed or non-canonical signature recovers nobody
            raise Problem(401, "signature-invalid", "Invalid signature",
                          "the signature does not recover to any key (malformed or non-canonical)") from None

    def key(self, req: ForwardRequestIn) -> str:
        return f"relay:{self.chain_id}:{self.forwarder.address}:{req.from_}:{req.nonce}"

    def _tuple(self, req: ForwardRequestIn, signature: bytes) -> tuple[Any, ...]:
        return (req.from_, req.to, req.value, req.gas, req.deadline, req.data, signature)

    # -- the checks and the write ----------------------------------------------------------------------------

    def accept(self, signed: SignedRequest, allowed: set[tuple[str, str]],
               expect: dict[str, Any] | None = None) -> OutboxEntry:
        """Run checks 1-5 of the module docstring and store the write; returns its outbox row. Blocking."""
        req = signed.request
        name, fn, args = self.decode(req)
        if (name, fn) not in allowed:
            wanted = ", ".join(f"{c}.{f}" for c, f in sorted(allowed))
            raise Problem(422, "wrong-action", "Request is for another action",
                          f"this route relays {wanted}; the request calls {name}.{fn}")
        for arg, wanted_value in (expect or {}).items():
            if args.get(arg) != wanted_value:
                raise Problem(422, "wrong-action", "Request is for another action",
                              f"the request's {arg} is not the one named by the path")
        if signed.signature is None:
            raise Problem(401, "signature-required", "Signature required",
                          "a relayed write carries the actor's EIP-712 ForwardRequest signature",
                          headers={"WWW-Authenticate": 'EIP712 domain="TrustLedger Forwarder"'})
        if req.value != 0:
            raise Problem(422, "value-not-accepted", "Value not accepted", "TrustLedger functions take no ether")
        if req.gas > MAX_REQUEST_GAS:
            raise Problem(422, "gas-too-high", "Gas too high", f"a request may ask for at most {MAX_REQUEST_GAS} gas")
        if self.signer(req, signed.signature) != req.from_:
            raise Problem(401, "signature-invalid", "Invalid signature",
                          "the signature is not by the request's from address (or the request was altered)")
        key = self.key(req)
        sender = self.s.ledger.relayer_sender
        if sender is None:
            raise Problem(503, "relayer-not-configured", "Relayer not configured",
                          "this service has no relaying key (TRUSTLEDGER_RELAYER_KEY)")
        calldata = bytes.fromhex(self.forwarder.functions.execute(self._tuple(req, signed.signature))
                                 ._encode_transaction_data()[2:])
        existing = sender.entry(key)
        if existing is not None:
            if existing.data != calldata:
                raise Problem(401, "request-replayed", "Request replayed",
                              f"nonce {req.nonce} of {req.from_} was already used for another request")
            return existing
        now = int(self.s.ledger.w3.eth.get_block("latest")["timestamp"])
        if req.deadline < now:
            raise Problem(401, "request-expired", "Request expired",
                          f"the request's deadline {req.deadline} is before the chain's time {now}")
        current = int(self.forwarder.functions.nonces(req.from_).call())
        if req.nonce < current:
            raise Problem(401, "request-replayed", "Request replayed",
                          f"nonce {req.nonce} of {req.from_} is used (next is {current})")
        if req.nonce > current:
            raise Problem(409, "nonce-not-current", "Nonce not current",
                          f"the signer's next nonce is {current}, the request has {req.nonce}: "
                          f"wait for the earlier request to be mined, then sign again",
                          headers={"Retry-After": "1"})
        self._simulate(req, signed.signature)
        entry = sender.submit(key, self.forwarder.address, calldata)
        self.s.metrics.relayed.labels(name, fn).inc()
        self.s.log.info("write relayed", extra={"key": key, "actor": req.from_, "contract": name, "function": fn})
        return entry

    def _simulate(self, req: ForwardRequestIn, signature: bytes) -> None:
        sender = self.s.ledger.relayer_sender
        assert sender is not None
        try:
            # against the pending block: what the next block will see (an idle chain's latest block can be
            # minutes old, and a record dated now would seem to be from the future)
            self.forwarder.functions.execute(self._tuple(req, signature)).call({"from": sender.address},
                                                                              block_identifier="pending")
        except Exception as exc:
            error = revert_of(exc)
            if error is None:
                raise
            raise self._refusal(error) from None

    def _refusal(self, error: Any) -> Problem:
        if isinstance(error, ContractError):
            if error.name == "ERC2771ForwarderExpiredRequest":
                return Problem(401, "request-expired", "Request expired", "the forwarder says the deadline passed")
            if error.name == "ERC2771ForwarderInvalidSigner":
                return Problem(401, "signature-invalid", "Invalid signature",
                               "the forwarder recovers another signer (the nonce may have moved on)")
            if error.name == "ERC2771UntrustfulTarget":
                return Problem(422, "unknown-target", "Not a TrustLedger contract", str(error))
        return problem_for(error)

    # -- answering -------------------------------------------------------------------------------------------

    def status(self, entry: OutboxEntry, *, events: bool = False) -> WriteStatus:
        actor = contract = function = None
        try:
            _, args = self.forwarder.decode_function_input(entry.data)
            request = args["request"]
            if isinstance(request, dict):  # web3 decodes a struct argument as a dict by field name
                request = (request["from"], request["to"], None, None, None, request["data"])
            actor = to_checksum_address(request[0])
            contract = self.by_address.get(to_checksum_address(request[1]))
            if contract is not None:
                function = self.s.contracts[contract].decode_function_input(request[5])[0].fn_name
        except (ValueError, KeyError, IndexError, Web3Exception):
            pass
        decoded = None
        if events and entry.status == OutboxStatus.CONFIRMED and entry.tx_hash is not None:
            decoded = self.events(entry.tx_hash)
        return WriteStatus(key=entry.key, status=entry.status, actor=actor, contract=contract, function=function,
                           txHash=hex_of(entry.tx_hash) if entry.tx_hash else None, blockNumber=entry.block_number,
                           errorName=entry.error_name, error=entry.error if entry.status == "failed" else None,
                           events=decoded, location=f"/v1/writes/{entry.key}")

    def events(self, tx_hash: bytes) -> list[dict[str, Any]]:
        """The TrustLedger events a transaction emitted, decoded."""
        receipt = self.s.ledger.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        out = []
        for log in receipt["logs"]:
            name = self.by_address.get(to_checksum_address(log["address"]))
            if name is None or not log["topics"]:
                continue
            contract = self.s.contracts[name]
            for event in contract.events:  # type: ignore[attr-defined]  # web3's ContractEvents iterates
                try:
                    decoded = event.process_log(log)
                except Exception:  # noqa: BLE001,S112 - not this event: try the next
                    continue
                out.append({"contract": name, "event": decoded["event"], "logIndex": int(log["logIndex"]),
                            "args": jsonable(dict(decoded["args"]))})
                break
        return out

    def wait(self, entry: OutboxEntry, seconds: float) -> tuple[OutboxEntry, bool]:
        """Wait up to ``seconds`` for the write to be final; returns it and whether it is."""
        sender = self.s.ledger.relayer_sender
        assert sender is not None
        if seconds <= 0 or entry.final:
            return entry, entry.final
        try:
            return sender.wait(entry.key, timeout=seconds), True
        except WriteFailed as failed:
            return failed.entry, True
        except WriteTimeout as timeout:
            return (timeout.entry or entry), False

    # -- preparing a request ---------------------------------------------------------------------------------

    def prepare(self, p: PrepareRequest) -> PreparedRequest:
        if p.contract not in self.TARGETS:
            raise Problem(422, "unknown-target", "Not a TrustLedger contract",
                          f"contract must be one of {', '.join(self.TARGETS)}")
        contract = self.s.contracts[p.contract]
        abis = [a for a in contract.abi if a.get("type") == "function" and a.get("name") == p.function
                and a.get("stateMutability") not in ("view", "pure")]
        if not abis:
            raise Problem(422, "unknown-function", "Not a function of the contract",
                          f"{p.contract} has no state-changing function {p.function!r}")
        abi: dict[str, Any] = dict(abis[0])
        inputs = abi["inputs"]
        values = p.args
        if isinstance(values, dict):
            missing = [i["name"] for i in inputs if i["name"] not in values]
            extra = sorted(set(values) - {i["name"] for i in inputs})
            if missing or extra:
                raise Problem(422, "invalid-arguments", "Invalid arguments", f"missing {missing}, unknown {extra}")
            values = [values[i["name"]] for i in inputs]
        if len(values) != len(inputs):
            raise Problem(422, "invalid-arguments", "Invalid arguments",
                          f"{p.contract}.{p.function} takes {len(inputs)} arguments, {len(values)} given")
        coerced = [_coerce(i, v, i["name"] or f"arg{n}") for n, (i, v) in enumerate(zip(inputs, values, strict=True))]
        try:
            data = contract.functions[p.function](*coerced)._encode_transaction_data()
        except (ValueError, TypeError, Web3Exception) as exc:
            raise Problem(422, "invalid-arguments", "Invalid arguments", f"could not encode the call: {exc}") \
                from None
        w3 = self.s.ledger.w3
        nonce = int(self.forwarder.functions.nonces(p.from_).call())
        deadline = int(w3.eth.get_block("latest")["timestamp"]) + p.ttl
        req = ForwardRequestIn.model_validate({"from": p.from_, "to": contract.address, "value": 0, "gas": p.gas,
                                               "nonce": nonce, "deadline": deadline, "data": data})
        m = self.message(req)
        typed = self.typed_data(req)
        return PreparedRequest(request=typed["message"], typedData=typed,
                               digest=hex_of(keccak(b"\x19" + m.version + m.header + m.body)))


Wait = Annotated[float, Query(ge=0, le=60, description="seconds to wait for the write to be confirmed: 200 with "
                                                       "its events when it is, else 202 with where to follow it")]
"""The ``wait`` query parameter of every relayed write."""

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "confirmed within `wait`: the transaction and the events it emitted"},
    202: {"description": "accepted and on its way; follow `Location` (`GET /v1/writes/{key}`)"},
    401: {"description": "signature-required, signature-invalid, request-expired, request-replayed"},
    403: {"description": "forbidden: the contract refuses this signer (`errorName` is the contract's error, "
                         "e.g. CertificateRegistryNotIssuer)"},
    409: {"description": "nonce-not-current: an earlier request of this signer is not mined yet"},
    422: {"description": "wrong-action (another function, kind or subject than the route and its path name), "
                         "contract-rejected, write-failed, validation-error"},
}
"""The documented answers of every relayed write route."""


def relay_write(relay: Relay, signed: SignedRequest, response: Any, *, allowed: set[tuple[str, str]],
                expect: dict[str, Any] | None = None, wait: float = 0.0) -> WriteStatus:
    """Accept ``signed`` for one of ``allowed`` and answer as a route does (blocking: call from a sync route).

    202 with ``Location`` while the write is on its way; 200 with the transaction and its events when it was
    confirmed within ``wait`` seconds; a failed write is answered as the contract's refusal.
    """
    entry = relay.accept(signed, allowed, expect)
    entry, final = relay.wait(entry, min(wait, relay.s.settings.max_wait))
    if entry.status == OutboxStatus.FAILED:
        problem = Problem(422, "write-failed", "Write failed on chain",
                          entry.error or "the transaction failed", errorName=entry.error_name, key=entry.key)
        raise problem
    status = relay.status(entry, events=final)
    response.status_code = 200 if final else 202
    response.headers["Location"] = status.location
    return status
