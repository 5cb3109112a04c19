"""The compiler path: py-solc-x -> scripts/solc-shim/solc -> the pinned solc-js."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from ledger import compile as compile_mod
from ledger.artifacts import CONTRACT_NAMES, decode_revert, load
from ledger.errors import ContractError, UnknownRevert

SHIM = compile_mod.SHIM


def test_shim_reports_the_pinned_solc_js_version() -> None:
    pinned = json.loads((compile_mod.NODE_MODULES / "solc" / "package.json").read_text())["version"]
    out = subprocess.run([str(SHIM), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith(pinned + "+commit.")


def test_shim_passes_solcjs_failure_exit_code_through() -> None:
    result = subprocess.run([str(SHIM), "--no-such-flag"], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_shim_drops_allow_paths_and_keeps_stdout_pure_json() -> None:
    source = {"language": "Solidity", "sources": {"a.sol": {"content": "pragma solidity 0.8.28; contract A {}"}},
              "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    result = subprocess.run([str(SHIM), "--standard-json", "--allow-paths", "/tmp"], input=json.dumps(source),
                            capture_output=True, text=True, check=True)
    out = json.loads(result.stdout)
    assert out["contracts"]["a.sol"]["A"]["abi"] == []


def test_a_broken_contract_fails_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Broken.sol").write_text("// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.28;\ncontract {")
    monkeypatch.setattr(compile_mod, "CONTRACTS", tmp_path)
    with pytest.raises(SystemExit, match="ParserError"):
        compile_mod.build()


def test_artifacts_are_complete_and_cancun() -> None:
    for name in CONTRACT_NAMES:
        a = load(name)
        assert a.bytecode.startswith("0x") and len(a.bytecode) > len(a.deployed_bytecode) > 1000
        assert a.compiler_version.startswith("0.8.28+commit.")
        raw = json.loads((compile_mod.ARTIFACTS / f"{name}.json").read_text())
        assert raw["compiler"]["settings"]["evmVersion"] == "cancun"
        assert raw["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": 10_000}
        # runtime code under the EIP-170 limit
        assert (len(a.deployed_bytecode) - 2) // 2 <= 24_576


def test_decode_revert_names_custom_errors_with_checksummed_arguments() -> None:
    account = "0x" + "ab" * 20
    data = keccak(text="CertificateRegistryNotIssuer(address,address)")[:4] + encode(
        ["address", "address"], [account, account]
    )
    err = decode_revert(data)
    assert isinstance(err, ContractError)
    assert err.name == "CertificateRegistryNotIssuer" and err.contract == "CertificateRegistry"
    assert err.args_ == ("0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",) * 2
    assert "CertificateRegistryNotIssuer(" in str(err)


@pytest.mark.parametrize("data", [b"", b"\x01\x02", keccak(text="Nope()")[:4], b"\x08\xc3\x79\xa0" + b"\0" * 3])
def test_decode_revert_unknown_data(data: bytes) -> None:
    assert isinstance(decode_revert(data), UnknownRevert)


def test_decode_revert_truncated_arguments_is_unknown() -> None:
    data = keccak(text="ReviewLogNotExtended(uint64,uint64)")[:4] + b"\x00" * 10
    assert isinstance(decode_revert(data), UnknownRevert)


def test_runtime_code_check_masks_only_immutables() -> None:
    a = load("CertificateRegistry")
    assert a.immutable_ranges, "the registry has immutables (governance, forwarder, EIP-712 cache)"
    code = bytearray.fromhex(a.deployed_bytecode[2:])
    for start, length in a.immutable_ranges:  # what a deployment patches in
        code[start:start + length] = b"\x11" * length
    assert a.runtime_code_matches(bytes(code))
    outside = next(i for i in range(len(code)) if all(not (s <= i < s + n) for s, n in a.immutable_ranges))
    code[outside] ^= 0xFF
    assert not a.runtime_code_matches(bytes(code))
    assert not a.runtime_code_matches(bytes(code[:-1]))
