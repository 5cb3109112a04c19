"""The Ethereum Attestation Service, deployed from its own published Hardhat artifacts, for gas comparisons.

Nothing here is compiled: ``SchemaRegistry`` and ``EAS`` are deployed byte for byte from
``hardhat-local/node_modules/@ethereum-attestation-service/eas-contracts/artifacts``. The delegated-attestation
type is read from EAS's own source (the ``keccak256("Attest(...)")`` comment next to ``ATTEST_TYPEHASH`` in
``contracts/eip1271/EIP1271Verifier.sol``) and checked against the deployed contract's ``getAttestTypeHash()``;
the EIP-712 domain is read from the contract with ``eip712Domain()`` (ERC-5267) and checked against its
``getDomainSeparator()``. A mismatch raises instead of signing something EAS would reject.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract

from ledger.chain import Transactor

REPO = Path(__file__).resolve().parents[2]
EAS_PACKAGE = REPO / "hardhat-local" / "node_modules" / "@ethereum-attestation-service" / "eas-contracts"
ARTIFACTS = EAS_PACKAGE / "artifacts" / "contracts"
VERIFIER_SOURCE = EAS_PACKAGE / "contracts" / "eip1271" / "EIP1271Verifier.sol"

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO32 = b"\x00" * 32

#: The EAS schema comparable to a TrustLedger certificate record (the issuer is the attester).
CERTIFICATE_SCHEMA = (
    "bytes32 productId,bytes32 lot,address merchant,uint8 kind,bytes32 documentHash,bytes32 standard,"
    "uint40 issuedAt,uint40 validUntil"
)
#: The EAS schema comparable to one review leaf of the log (the fields of the canonical JSON leaf).
REVIEW_SCHEMA = (
    "bytes32 productId,address merchant,uint8 rating,bytes32 content,bytes32 reviewer,bytes32 purchase,"
    "uint40 submittedAt"
)


def _types(schema: str) -> list[str]:
    return [field.split()[0] for field in schema.split(",")]


def encode_schema_data(schema: str, values: list[Any]) -> bytes:
    """``abi.encode`` of ``values`` in the order and types of the EAS schema string."""
    return encode(_types(schema), values)


def artifact(name: str) -> dict[str, Any]:
    """EAS's published Hardhat artifact of contract ``name`` (``EAS`` or ``SchemaRegistry``)."""
    data: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text())
    return data


def package_version() -> str:
    return str(json.loads((EAS_PACKAGE / "package.json").read_text())["version"])


def _cbor_metadata(deployed_bytecode: str) -> dict[str, Any]:
    """The CBOR metadata solc appends to runtime code (``solc`` version, ``ipfs`` hash when present)."""
    code = bytes.fromhex(deployed_bytecode.removeprefix("0x"))
    length = int.from_bytes(code[-2:], "big")
    blob = code[-2 - length : -2]
    out: dict[str, Any] = {}
    # Minimal CBOR map reader for solc's metadata: text keys, byte-string values.
    if not blob or blob[0] & 0xE0 != 0xA0:
        return out
    pos, entries = 1, blob[0] & 0x1F
    for _ in range(entries):
        klen = blob[pos] & 0x1F
        key = blob[pos + 1 : pos + 1 + klen].decode()
        pos += 1 + klen
        head = blob[pos]
        if head & 0xE0 == 0x40:  # byte string
            vlen = head & 0x1F
            pos += 1
            if vlen == 24:
                vlen = blob[pos]
                pos += 1
            value: Any = blob[pos : pos + vlen]
            pos += vlen
        else:  # simple values (e.g. "experimental": true)
            value = head
            pos += 1
        out[key] = value
    return out


def _opcodes(code: bytes) -> set[int]:
    ops, i = set(), 0
    while i < len(code):
        op = code[i]
        ops.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


def compiler_info(name: str) -> dict[str, Any]:
    """Compiler facts recoverable from the artifact itself.

    A Hardhat artifact carries no compiler settings (they live in the build-info file, which the npm package
    does not ship); the runtime code's CBOR metadata records the solc version, and its opcodes show which
    post-paris instructions it uses.
    """
    art = artifact(name)
    meta = _cbor_metadata(art["deployedBytecode"])
    solc = meta.get("solc")
    version = ".".join(str(b) for b in solc) if isinstance(solc, bytes) and len(solc) == 3 else "unknown"
    runtime = bytes.fromhex(art["deployedBytecode"].removeprefix("0x"))
    metadata_len = int.from_bytes(runtime[-2:], "big") + 2
    ops = _opcodes(runtime[:-metadata_len])
    newer = [name for op, name in ((0x5F, "PUSH0 (shanghai)"), (0x5C, "TLOAD (cancun)"), (0x5D, "TSTORE (cancun)"),
                                   (0x5E, "MCOPY (cancun)")) if op in ops]
    opcodes = ("no opcode newer than paris (no PUSH0, MCOPY, TLOAD/TSTORE)" if not newer
               else "opcodes " + ", ".join(newer))
    return {
        "solc": version,
        "bytecode_hash": "ipfs" if "ipfs" in meta else ("bzzr1" if "bzzr1" in meta else "none"),
        "opcodes": opcodes,
        "build_info_shipped": (ARTIFACTS.parent / "build-info").is_dir(),
        "runtime_bytes": len(runtime),
    }


def attest_type_from_source() -> tuple[str, bytes]:
    """The ``Attest(...)`` EIP-712 type string as EAS's source states it, and the constant next to it."""
    text = VERIFIER_SOURCE.read_text()
    m = re.search(r'keccak256\("(Attest\([^"]*\))"\)', text)
    c = re.search(r"ATTEST_TYPEHASH\s*=\s*(0x[0-9a-fA-F]{64})", text)
    if not m or not c:
        raise RuntimeError(f"cannot find the Attest type in {VERIFIER_SOURCE}")
    type_string = m.group(1)
    constant = bytes.fromhex(c.group(1)[2:])
    if keccak(text=type_string) != constant:
        raise RuntimeError("EAS source: the Attest type string does not hash to ATTEST_TYPEHASH")
    return type_string, constant


def _parse_type(type_string: str) -> tuple[str, list[dict[str, str]]]:
    name, body = type_string[:-1].split("(", 1)
    fields = []
    for part in body.split(","):
        t, n = part.split()
        fields.append({"name": n, "type": t})
    return name, fields


@dataclass
class EAS:
    """A deployed SchemaRegistry + EAS pair."""

    w3: Web3
    registry: Contract
    eas: Contract
    deploy_gas: dict[str, int]

    @classmethod
    def deploy(cls, w3: Web3, deployer: Transactor) -> EAS:
        gas: dict[str, int] = {}
        reg_art = artifact("SchemaRegistry")
        factory = w3.eth.contract(abi=reg_art["abi"], bytecode=reg_art["bytecode"])
        receipt = deployer.send(factory.constructor())
        gas["SchemaRegistry"] = int(receipt["gasUsed"])
        registry = cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=reg_art["abi"]))
        eas_art = artifact("EAS")
        factory = w3.eth.contract(abi=eas_art["abi"], bytecode=eas_art["bytecode"])
        receipt = deployer.send(factory.constructor(registry.address))
        gas["EAS"] = int(receipt["gasUsed"])
        eas = cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=eas_art["abi"]))
        return cls(w3, registry, eas, gas)

    def register(self, sender: Transactor, schema: str, *, revocable: bool = True) -> bytes:
        """Register ``schema`` with no resolver; return its UID (checked against the Registered event)."""
        receipt = sender.send(self.registry.functions.register(schema, ZERO_ADDRESS, revocable))
        events = self.registry.events.Registered().process_receipt(receipt)
        uid = bytes(events[0]["args"]["uid"])
        # UID = keccak256(abi.encodePacked(schema, resolver, revocable)), as SchemaRegistry._getUID.
        expected = keccak(schema.encode() + bytes(20) + (b"\x01" if revocable else b"\x00"))
        if uid != expected:
            raise RuntimeError("schema UID differs from keccak256(schema, resolver, revocable)")
        return uid

    def version(self) -> str:
        return str(self.eas.functions.version().call())

    # ----------------------------------------------------------------------------------- delegated attest

    def domain(self) -> dict[str, Any]:
        """The EIP-712 domain EAS reports through ERC-5267 ``eip712Domain()``, checked against the chain."""
        fields, name, version, chain_id, verifying, salt, extensions = self.eas.functions.eip712Domain().call()
        flags = fields[0] if isinstance(fields, (bytes, bytearray)) else int(fields)
        domain: dict[str, Any] = {}
        if flags & 1:
            domain["name"] = name
        if flags & 2:
            domain["version"] = version
        if flags & 4:
            domain["chainId"] = chain_id
        if flags & 8:
            domain["verifyingContract"] = to_checksum_address(verifying)
        if flags & 16:
            domain["salt"] = bytes(salt)
        if extensions:
            raise RuntimeError(f"EAS reports EIP-712 extensions {extensions}; not supported here")
        types = [("name", "string"), ("version", "string"), ("chainId", "uint256"),
                 ("verifyingContract", "address"), ("salt", "bytes32")]
        used = [(n, t) for n, t in types if n in domain]
        type_string = f"EIP712Domain({','.join(t + ' ' + n for n, t in used)})"
        values = []
        for n, t in used:
            v = domain[n]
            values.append(keccak(text=v) if t == "string" else v)
        separator = keccak(encode(["bytes32"] + [("bytes32" if t == "string" else t) for _, t in used],
                                  [keccak(text=type_string), *values]))
        if separator != bytes(self.eas.functions.getDomainSeparator().call()):
            raise RuntimeError("EAS domain from eip712Domain() does not give its getDomainSeparator()")
        return domain

    def attest_type(self) -> tuple[str, list[dict[str, str]]]:
        """The ``Attest`` EIP-712 type: from EAS's source, checked against ``getAttestTypeHash()`` on chain."""
        type_string, constant = attest_type_from_source()
        on_chain = bytes(self.eas.functions.getAttestTypeHash().call())
        if on_chain != constant:
            raise RuntimeError("deployed EAS ATTEST_TYPEHASH differs from the type string in its source")
        name, fields = _parse_type(type_string)
        if name != "Attest":
            raise RuntimeError(f"unexpected primary type {name}")
        return type_string, fields

    def delegated_request(
        self,
        attester_key: bytes,
        *,
        schema: bytes,
        recipient: str,
        expiration_time: int,
        revocable: bool,
        data: bytes,
        deadline: int,
        ref_uid: bytes = ZERO32,
        value: int = 0,
    ) -> tuple[Any, ...]:
        """A signed ``DelegatedAttestationRequest`` for ``attestByDelegation``."""
        attester = Account.from_key(attester_key).address
        _, fields = self.attest_type()
        nonce = int(self.eas.functions.getNonce(attester).call())
        message = {
            "attester": attester,
            "schema": schema,
            "recipient": to_checksum_address(recipient),
            "expirationTime": expiration_time,
            "revocable": revocable,
            "refUID": ref_uid,
            "data": data,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        }
        if {f["name"] for f in fields} != set(message):
            raise RuntimeError(f"EAS Attest fields {fields} differ from the message built here")
        domain = self.domain()
        domain_types = [{"name": n, "type": t} for n, t in (("name", "string"), ("version", "string"),
                        ("chainId", "uint256"), ("verifyingContract", "address"), ("salt", "bytes32"))
                        if n in domain]
        signable = encode_typed_data(full_message={
            "types": {"EIP712Domain": domain_types, "Attest": fields},
            "primaryType": "Attest",
            "domain": domain,
            "message": message,
        })
        signed = Account.sign_message(signable, attester_key)
        request_data = (to_checksum_address(recipient), expiration_time, revocable, ref_uid, data, value)
        signature = (signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))
        return (schema, request_data, signature, attester, deadline)
