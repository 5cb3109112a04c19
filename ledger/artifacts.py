"""The compiled contracts shipped with ``ledger`` (built by ``python -m ledger.compile``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from .errors import ContractError, UnknownRevert

CONTRACT_NAMES = ("TrustForwarder", "TrustGovernance", "CertificateRegistry", "ReviewLog", "DisputeRegistry")


@dataclass(frozen=True)
class Artifact:
    """ABI and bytecode of one contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    immutable_ranges: tuple[tuple[int, int], ...] = ()

    def runtime_code_matches(self, code: bytes) -> bool:
        """Whether ``code`` (read from the chain) is this contract's runtime code.

        The bytes patched with immutables at deployment (addresses, periods) are masked on both sides.
        """
        expected = bytearray.fromhex(self.deployed_bytecode[2:])
        if len(code) != len(expected):
            return False
        actual = bytearray(code)
        for start, length in self.immutable_ranges:
            expected[start:start + length] = actual[start:start + length]
        return bytes(expected) == bytes(actual)


@cache
def load(name: str) -> Artifact:
    """The artifact of contract ``name`` (one of :data:`CONTRACT_NAMES`)."""
    if name not in CONTRACT_NAMES:
        raise KeyError(f"unknown contract {name!r}; expected one of {CONTRACT_NAMES}")
    raw = json.loads(resources.files("ledger").joinpath("artifacts", f"{name}.json").read_text())
    return Artifact(
        name=name,
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler_version=raw["compiler"]["version"],
        immutable_ranges=tuple((int(a), int(b)) for a, b in raw.get("immutableRanges", [])),
    )


def _canonical_type(param: dict[str, Any]) -> str:
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){t[len('tuple'):]}"
    return t


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], str]]:
    """Selector -> (error name, argument types, contract) over every shipped ABI."""
    table: dict[bytes, tuple[str, list[str], str]] = {}
    for name in CONTRACT_NAMES:
        for item in load(name).abi:
            if item.get("type") != "error":
                continue
            types = [_canonical_type(p) for p in item.get("inputs", [])]
            signature = f"{item['name']}({','.join(types)})"
            table.setdefault(keccak(text=signature)[:4], (item["name"], types, name))
    return table


def decode_revert(data: bytes) -> ContractError | UnknownRevert:
    """Map revert data to the named custom error it encodes, or :class:`UnknownRevert`."""
    from eth_abi.abi import decode
    from eth_abi.exceptions import DecodingError

    entry = _error_table().get(bytes(data[:4])) if len(data) >= 4 else None
    if entry is None:
        return UnknownRevert(bytes(data))
    name, types, contract = entry
    try:
        raw = decode(types, bytes(data[4:]))
    except DecodingError:  # malformed arguments: keep the raw bytes
        return UnknownRevert(bytes(data))
    args = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, raw, strict=True))
    return ContractError(name, args, contract=contract)
