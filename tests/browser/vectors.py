"""Test vectors for the page's own JavaScript (api/static/verify.js), with the answers Python knows.

* SHA-256: the FIPS 180-4 examples (NIST CSRC "SHA256.pdf": "abc", the 448- and 896-bit messages, one million
  "a"), the empty message, and every length around the padding boundaries (0..130 bytes), against hashlib;
* RFC 6962: the leaf hashes and inclusion proofs of tests/testdata/merkle/ct-reference.json, and every inclusion
  vector of tests/testdata/merkle/inclusion/ (valid and tampered, uint64 sizes included), against
  ledger.merkle and each vector's own ``valid``;
* the isCheckpoint calldata, against eth_abi.

Indexes and sizes travel as decimal strings: JSON numbers lose bits above 2^53 in JavaScript.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from ledger.errors import LedgerError
from ledger.merkle import leaf_hash, root_from_inclusion_proof

REPO = Path(__file__).resolve().parents[2]
VERIFY_JS = REPO / "api" / "static" / "verify.js"
RUN_CASES_JS = Path(__file__).resolve().parent / "run_cases.js"
MERKLE = REPO / "tests" / "testdata" / "merkle"

NIST = [  # (message, SHA-256), FIPS 180-4 examples
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ((b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopq"
     b"rstu"), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
]
MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


@dataclass(frozen=True)
class Case:
    """One case for run_cases.js and what its answer must be: ``out`` (hex), whether it must fail, and for
    inclusion vectors the expected ``ok``."""

    name: str
    case: dict[str, Any]
    out: str | None
    fails: bool = False
    ok: bool | None = None


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _bytes(h: str) -> bytes:
    return bytes.fromhex(h.removeprefix("0x"))


def sha_cases() -> list[Case]:
    cases = [Case(f"nist:{msg[:12]!r}", {"kind": "sha256", "input": _hex(msg)}, "0x" + want) for msg, want in NIST]
    cases.append(Case("nist:million-a", {"kind": "sha256", "input": "0x61", "repeat": 1_000_000}, "0x" + MILLION_A))
    for n in range(131):  # every padding shape: 55/56/63/64/119/120 bytes and their neighbours
        msg = bytes((i * 7 + n) % 256 for i in range(n))
        cases.append(Case(f"length-{n}", {"kind": "sha256", "input": _hex(msg)}, _hex(hashlib.sha256(msg).digest())))
    text = "zürich ✓ 日本".encode()
    cases.append(Case("utf8", {"kind": "sha256", "input": _hex(text)}, _hex(hashlib.sha256(text).digest())))
    return cases


def _inclusion(name: str, index: int, size: int, lh: str, proof: list[str], root: str,
               valid: bool | None) -> Case:
    try:
        want: str | None = _hex(root_from_inclusion_proof(index, size, _bytes(lh), [_bytes(p) for p in proof]))
        fails = False
    except (LedgerError, ValueError):
        want, fails = None, True
    ok = valid if valid is not None else (not fails and want == root.lower())
    case = {"kind": "inclusion", "index": str(index), "size": str(size), "leaf_hash": lh, "proof": proof,
            "root": root}
    return Case(name, case, want, fails, ok)


def merkle_cases() -> list[Case]:
    ref = json.loads((MERKLE / "ct-reference.json").read_text())
    leaves = [_bytes(x) for x in ref["leaves"]]
    hashes = [_hex(leaf_hash(x)) for x in leaves]
    roots = {r["size"]: r["root"] for r in ref["roots"]}
    cases = [Case(f"ct-leaf-{i}", {"kind": "leaf", "input": _hex(x)}, hashes[i]) for i, x in enumerate(leaves)]
    for p in ref["inclusion"]:
        cases.append(_inclusion(f"ct-inclusion-{p['index']}-of-{p['size']}", p["index"], p["size"],
                                hashes[p["index"]], p["proof"], roots[p["size"]], True))
    for path in sorted((MERKLE / "inclusion").glob("*.json")):
        v = json.loads(path.read_text())
        cases.append(_inclusion(path.stem, v["index"], v["size"], v["leaf_hash"], v["proof"], v["root"], v["valid"]))
    return cases


def calldata_cases() -> list[Case]:
    selector = function_signature_to_4byte_selector("isCheckpoint(uint256,uint64,bytes32)")
    out = []
    for index, size, root in ((0, 1, b"\x00" * 32), (3, 40, bytes(range(32))), (2**32, 2**64 - 1, b"\xff" * 32)):
        want = _hex(selector + encode(["uint256", "uint64", "bytes32"], [index, size, root]))
        out.append(Case(f"calldata-{index}-{size}", {"kind": "calldata", "index": str(index), "size": str(size),
                                                     "root": _hex(root)}, want))
    return out


def all_cases() -> list[Case]:
    return sha_cases() + merkle_cases() + calldata_cases()


def mismatches(cases: list[Case], results: list[dict[str, Any]]) -> list[str]:
    """What the JavaScript got wrong, one line per case (empty: all right)."""
    assert len(results) == len(cases)
    wrong = []
    for c, r in zip(cases, results, strict=True):
        if c.fails:
            if "error" not in r:
                wrong.append(f"{c.name}: expected an error, got {r}")
        elif r.get("out") != c.out:
            wrong.append(f"{c.name}: expected {c.out}, got {r}")
        if c.ok is not None and r.get("ok") is not c.ok:
            wrong.append(f"{c.name}: expected ok={c.ok}, got {r}")
    return wrong
