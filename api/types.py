"""Field types shared by the request and response models: strict at the edge, documented in OpenAPI.

* ``Hash32`` — ``0x`` and 64 hex digits (any case), parsed to 32 bytes.
* ``Address`` — ``0x`` and 40 hex digits. All-lower or all-upper case is accepted as written; mixed case
  must be a valid EIP-55 checksum (a typo in a checksummed address is refused, not silently accepted).
  Parsed to the checksummed spelling.
* ``HexData`` — ``0x`` and an even number of hex digits, parsed to bytes (bounded in length).
* ``Signature`` — 65 bytes ``r || s || v``.
* ``Uint`` — a non-negative integer given as a JSON number or a decimal string (uint256 values beyond 2^53
  are strings in every TrustLedger format), parsed to ``int`` and bounded by its ABI type.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

_HEX = re.compile(r"0x[0-9a-fA-F]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

__all__ = ["Address", "Hash32", "HexData", "Signature", "Uint40", "Uint64", "Uint256", "checksum", "hex_of"]


def hex_of(value: bytes) -> str:
    return "0x" + value.hex()


def _hex_bytes(size: int | None, limit: int) -> Any:
    def parse(value: Any) -> bytes:
        if not isinstance(value, str):
            raise ValueError("expected a 0x-prefixed hex string")  # noqa: TRY004 - pydantic reports ValueError only
        if not _HEX.fullmatch(value):
            raise ValueError("expected 0x followed by hex digits")
        digits = len(value) - 2
        if digits % 2:
            raise ValueError("expected an even number of hex digits")
        if size is not None and digits != 2 * size:
            raise ValueError(f"expected {size} bytes (0x and {2 * size} hex digits), found {digits // 2}")
        if digits > 2 * limit:
            raise ValueError(f"expected at most {limit} bytes")
        return bytes.fromhex(value[2:])
    return parse


@lru_cache(maxsize=1 << 16)
def _checksummed(value: str) -> str:
    # the same merchants, issuers and buyer keys recur; EIP-55 costs a keccak each time (a fifth of the event
    # loop's time under a load of single review submissions, measured with py-spy)
    return str(to_checksum_address(value))


def checksum(value: Any) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise ValueError("expected an address: 0x followed by 40 hex digits")
    digits = value[2:]
    fixed = _checksummed(value)
    if digits != digits.lower() and digits != digits.upper() and value != fixed:
        raise ValueError("mixed-case address with a wrong EIP-55 checksum (a typo?)")
    return fixed


def _schema(pattern: str, description: str, example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description,
                           "examples": [example]})


_AS_HEX = PlainSerializer(lambda b: "0x" + b.hex(), return_type=str)

Hash32 = Annotated[bytes, BeforeValidator(_hex_bytes(32, 32)), _AS_HEX,
                   _schema("^0x[0-9a-fA-F]{64}$", "32 bytes, hex", "0x" + "ab" * 32)]
Signature = Annotated[bytes, BeforeValidator(_hex_bytes(65, 65)), _AS_HEX,
                      _schema("^0x[0-9a-fA-F]{130}$", "65-byte signature r || s || v, hex", "0x" + "1b" * 65)]
HexData = Annotated[bytes, BeforeValidator(_hex_bytes(None, 64 * 1024)), _AS_HEX,
                    _schema("^0x([0-9a-fA-F]{2}){0,65536}$", "bytes, hex (at most 64 KiB)", "0x")]
Address = Annotated[str, BeforeValidator(checksum),
                    _schema("^0x[0-9a-fA-F]{40}$", "address; mixed case must be a valid EIP-55 checksum",
                            "0x" + "00" * 19 + "01")]


def _uint(bits: int) -> Any:
    maximum = 2**bits - 1

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected an integer, found a boolean")  # noqa: TRY004 - as above
        if isinstance(value, int):
            n = value
        elif isinstance(value, str) and _DECIMAL.fullmatch(value):
            n = int(value)
        else:
            raise ValueError("expected a non-negative integer (a JSON number or a decimal string)")
        if not 0 <= n <= maximum:
            raise ValueError(f"expected 0 <= n <= 2**{bits} - 1")
        return n
    return parse


def _uint_schema(bits: int) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0, "maximum": min(2**bits - 1, 2**53 - 1)},
                                     {"type": "string", "pattern": "^(0|[1-9][0-9]{0,77})$"}],
                           "description": f"uint{bits}: a JSON number or a decimal string"})


Uint40 = Annotated[int, BeforeValidator(_uint(40)), _uint_schema(40)]
Uint64 = Annotated[int, BeforeValidator(_uint(64)), _uint_schema(64)]
Uint256 = Annotated[int, BeforeValidator(_uint(256)), _uint_schema(256)]

# responses: plain strings with a pattern (the models are built by the service, never from input)
HexOut = Annotated[str, Field(pattern="^0x[0-9a-f]*$")]
