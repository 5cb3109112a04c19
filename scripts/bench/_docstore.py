"""OpenAttestation's DocumentStore, deployed from the bytecode its npm package publishes, for gas comparisons.

``@govtechsg/document-store`` (pinned in ``hardhat-local/package.json``) ships no Solidity sources: only the
TypeChain factories its build generated, each holding the contract's ABI and creation bytecode. Those are what
OpenAttestation's own tooling deploys (``DocumentStore__factory.deploy(name, owner)``), so they are deployed
here byte for byte, as ``_eas.py`` does with EAS's Hardhat artifacts: nothing is recompiled, and no compiler
choice of ours enters its figures. The factory is CommonJS that requires ``ethers``; Node evaluates it with a
stub in place of ``ethers`` (the package does not depend on it, and only the two constants are read).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from _eas import _cbor_metadata, _opcodes
from web3 import Web3
from web3.contract import Contract

from ledger.chain import Transactor

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "hardhat-local" / "node_modules" / "@govtechsg" / "document-store"
FACTORY = PACKAGE / "dist" / "contracts" / "factories" / "contracts" / "DocumentStore__factory.js"

_NODE_READER = r"""
const Module = require("module");
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === "ethers") {
    return { ContractFactory: class {}, Interface: class {}, Contract: class {} };
  }
  return load.call(this, request, ...rest);
};
const f = require(process.argv[1]).DocumentStore__factory;
process.stdout.write(JSON.stringify({ abi: f.abi, bytecode: f.bytecode }));
"""


def available() -> bool:
    """Whether the package is installed (``npm ci --prefix hardhat-local``)."""
    return FACTORY.is_file()


def package_version() -> str:
    return str(json.loads((PACKAGE / "package.json").read_text())["version"])


@cache
def artifact() -> dict[str, Any]:
    """``{"abi": [...], "bytecode": "0x..."}`` of ``DocumentStore``, read from the published factory."""
    out = subprocess.run(["node", "-e", _NODE_READER, str(FACTORY)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    data: dict[str, Any] = json.loads(out)
    names = {e.get("name") for e in data["abi"]}
    missing = {"issue", "bulkIssue", "revoke", "isIssued", "isRevoked"} - names
    if missing:
        raise RuntimeError(f"DocumentStore ABI lacks {sorted(missing)}: not the contract measured here")
    return data


def compiler_info(runtime: bytes) -> dict[str, Any]:
    """The solc version from the runtime code's CBOR metadata, and whether it uses post-paris opcodes.

    The factory carries no compiler settings (optimizer runs are unknown), so this is all that can be said.
    """
    meta = _cbor_metadata("0x" + runtime.hex())
    solc = meta.get("solc")
    version = ".".join(str(b) for b in solc) if isinstance(solc, bytes) and len(solc) == 3 else "unknown"
    metadata_len = int.from_bytes(runtime[-2:], "big") + 2
    ops = _opcodes(runtime[:-metadata_len])
    post_paris = ((0x5F, "PUSH0"), (0x5C, "TLOAD"), (0x5D, "TSTORE"), (0x5E, "MCOPY"))
    newer = [n for op, n in post_paris if op in ops]
    return {"solc": version, "bytecode_hash": "ipfs" if "ipfs" in meta else "none",
            "post_paris_opcodes": newer, "runtime_bytes": len(runtime)}


@dataclass
class DocumentStore:
    """One deployed DocumentStore; its owner holds the issuer and revoker roles (its constructor grants)."""

    w3: Web3
    contract: Contract
    deploy_gas: int

    @classmethod
    def deploy(cls, w3: Web3, owner: Transactor, name: str = "TrustLedger bench store") -> DocumentStore:
        art = artifact()
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = owner.send(factory.constructor(name, owner.address))
        contract = cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"]))
        return cls(w3, contract, int(receipt["gasUsed"]))

    def runtime(self) -> bytes:
        return bytes(self.w3.eth.get_code(self.contract.address))

    def version(self) -> str:
        try:
            return str(self.contract.functions.version().call())
        except Exception:  # noqa: BLE001 - an older store has no version(); the package version names it
            return "unknown"
