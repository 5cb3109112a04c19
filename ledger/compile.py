"""Compile ``contracts/`` into the ABI + bytecode artifacts shipped in ``ledger/artifacts``.

Run ``python -m ledger.compile`` after changing a contract, and ``python -m ledger.compile --check`` to fail
when the committed artifacts differ from a fresh build (the test command does). No native ``solc`` is
needed: py-solc-x drives the solc-js build pinned in ``hardhat-local/package.json`` through
``scripts/solc-shim/solc``. The build is deterministic: the same sources and compiler give the same bytes.

This is a development tool (py-solc-x is a ``dev`` extra); at run time ``ledger`` reads the JSON artifacts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONTRACTS = REPO / "contracts"
NODE_MODULES = REPO / "hardhat-local" / "node_modules"
SHIM = REPO / "scripts" / "solc-shim" / "solc"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: The contracts deployed by TrustLedger; their artifacts are shipped.
DEPLOYABLE = ("TrustForwarder", "TrustGovernance", "CertificateRegistry", "ReviewLog", "DisputeRegistry")

#: Compiler settings; any change here changes every bytecode and must be committed with the artifacts.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10_000},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object",
                    "evm.deployedBytecode.immutableReferences", "metadata"]},
    },
}


def _sources() -> dict[str, dict[str, str]]:
    files = sorted(CONTRACTS.rglob("*.sol"))
    return {f"contracts/{p.relative_to(CONTRACTS).as_posix()}": {"content": p.read_text()} for p in files}


def _solc_messages(exc: Exception) -> str:
    """The compiler's own error messages out of a py-solc-x error (its text embeds the whole stdout)."""
    try:
        errors = json.loads(getattr(exc, "stdout_data", "") or "")["errors"]
        return "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors
                         if e.get("severity") == "error")
    except (ValueError, KeyError, TypeError):
        return str(exc)


def build() -> dict[str, dict[str, Any]]:
    """Compile every contract and return ``{name: artifact}`` for the deployable ones."""
    import solcx  # dev dependency

    if not (NODE_MODULES / "solc").is_dir():
        raise SystemExit("solc-js is missing: run `npm ci --prefix hardhat-local` (or `make deps`)")
    version = str(solcx.wrapper.get_solc_version(SHIM, with_commit_hash=True))
    standard_input = {"language": "Solidity", "sources": _sources(), "settings": SETTINGS}
    # Imports are resolved by solcjs relative to the base path: "@openzeppelin/..." lives in node_modules,
    # "contracts/..." sources are given with their content.
    try:
        output = solcx.compile_standard(
            standard_input, solc_binary=SHIM, base_path=str(NODE_MODULES), allow_empty=False
        )
    except solcx.exceptions.SolcError as exc:  # compile errors, or the compiler itself failed
        raise SystemExit(f"compilation failed:\n{_solc_messages(exc)}") from None
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SystemExit("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in output["contracts"].items():
        for name, c in contracts.items():
            if name not in DEPLOYABLE or not source_name.startswith("contracts/"):
                continue
            artifacts[name] = {
                "contractName": name,
                "sourceName": source_name,
                "compiler": {"version": version, "settings": {k: v for k, v in SETTINGS.items()
                                                               if k != "outputSelection"}},
                "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
                # byte ranges of the runtime code patched with immutables at deployment: [[start, length]]
                "immutableRanges": sorted(
                    [r["start"], r["length"]]
                    for refs in c["evm"]["deployedBytecode"].get("immutableReferences", {}).values()
                    for r in refs
                ),
            }
    missing = set(DEPLOYABLE) - set(artifacts)
    if missing:
        raise SystemExit(f"compiler produced no artifact for {sorted(missing)}")
    return artifacts


def _render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.compile", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed artifacts differ from a build")
    args = parser.parse_args(argv)
    artifacts = build()
    ARTIFACTS.mkdir(exist_ok=True)
    stale: list[str] = []
    for name, artifact in sorted(artifacts.items()):
        path = ARTIFACTS / f"{name}.json"
        rendered = _render(artifact)
        if args.check:
            if not path.exists() or path.read_text() != rendered:
                stale.append(path.name)
        else:
            path.write_text(rendered)
    if args.check:
        extra = sorted(p.name for p in ARTIFACTS.glob("*.json") if p.stem not in artifacts)
        if stale or extra:
            print(f"artifacts out of date: {stale + extra}; run `python -m ledger.compile`", file=sys.stderr)
            return 1
        print(f"artifacts reproduced byte for byte ({len(artifacts)} contracts)")
        return 0
    for name, artifact in sorted(artifacts.items()):
        size = (len(artifact["deployedBytecode"]) - 2) // 2
        print(f"{name:22} {size:6} bytes deployed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
