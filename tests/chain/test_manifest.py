"""The deployment manifest: built from a deployment, verified against the chain, written and strictly read back;
and `python -m ledger.devnet up` reusing a deployment through it across restarts."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.artifacts import CONTRACT_NAMES, load
from ledger.deploy import DisputePeriods
from ledger.errors import InvalidInput, LedgerError, VerificationError
from ledger.manifest import (
    MANIFEST_VERSION,
    ArtifactMismatch,
    ChainIdMismatch,
    CodeHashMismatch,
    ContractRecord,
    DeployBlockMismatch,
    InvalidManifest,
    Manifest,
    ManifestMismatch,
    NoCodeAtAddress,
    SettingMismatch,
    WiringMismatch,
    deploy_or_verify,
    masked_code_hash,
    shipped_code_hash,
    verify_against_chain,
)

from ..conftest import ACT_DELAY, World

pytestmark = pytest.mark.chain

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def manifest(world: World) -> Manifest:
    return Manifest.from_deployment(world.w3, world.d)


def _with_contract(m: Manifest, name: str, **changes: Any) -> Manifest:
    contracts = dict(m.contracts)
    contracts[name] = dataclasses.replace(contracts[name], **changes)
    return dataclasses.replace(m, contracts=contracts)


# --- building and verifying ---------------------------------------------------------------------------------

def test_manifest_from_the_deployment_verifies(world: World, manifest: Manifest) -> None:
    verify_against_chain(manifest, world.w3)
    assert manifest.version == MANIFEST_VERSION
    assert manifest.chain_id == world.w3.eth.chain_id
    assert manifest.deploy_block == world.d.deploy_block
    assert manifest.deploy_block_hash == bytes(world.w3.eth.get_block(world.d.deploy_block)["hash"])
    assert manifest.addresses == world.d.addresses
    assert tuple(manifest.contracts) == CONTRACT_NAMES
    for name, record in manifest.contracts.items():
        assert record.code_hash == shipped_code_hash(name)
    assert manifest.compiler == load("ReviewLog").compiler_version
    periods = DisputePeriods()
    assert dict(manifest.settings) == {
        "actDelay": ACT_DELAY, "responsePeriod": periods.response, "rulingPeriod": periods.ruling,
        "appealWindow": periods.appeal_window, "remedyConfirmWindow": periods.remedy_confirm,
        "hideLapse": periods.hide_lapse,
    }


def test_extra_settings_are_recorded_and_must_agree_with_the_contracts(world: World) -> None:
    m = Manifest.from_deployment(world.w3, world.d, act_delay=ACT_DELAY, admin_delay=3 * 24 * 3600)
    assert m.settings["actDelay"] == ACT_DELAY
    assert m.settings["adminDelay"] == 3 * 24 * 3600
    with pytest.raises(InvalidInput, match="act_delay"):
        Manifest.from_deployment(world.w3, world.d, act_delay=ACT_DELAY + 1)
    with pytest.raises(InvalidInput, match="non-negative"):
        Manifest.from_deployment(world.w3, world.d, admin_delay=-1)


def test_manifest_is_immutable(manifest: Manifest) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.chain_id = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.contracts["ReviewLog"] = manifest.contracts["TrustForwarder"]  # type: ignore[index]
    with pytest.raises(TypeError):
        manifest.settings["actDelay"] = 0  # type: ignore[index]


def test_masked_code_hash_ignores_immutables_only(world: World) -> None:
    artifact = load("DisputeRegistry")
    code = bytes(world.w3.eth.get_code(world.d.disputes.address))
    shipped = bytes.fromhex(artifact.deployed_bytecode[2:])
    assert code != shipped  # the constructor patched the immutables (governance, forwarder, periods)
    assert masked_code_hash(artifact, code) == masked_code_hash(artifact, shipped) == shipped_code_hash(
        "DisputeRegistry")
    start, _ = artifact.immutable_ranges[0]
    outside = next(i for i in range(len(code)) if all(not s <= i < s + n for s, n in artifact.immutable_ranges))
    flipped = bytearray(code)
    flipped[outside] ^= 1
    assert masked_code_hash(artifact, bytes(flipped)) != masked_code_hash(artifact, code)
    patched = bytearray(code)
    patched[start] ^= 1
    assert masked_code_hash(artifact, bytes(patched)) == masked_code_hash(artifact, code)


def test_every_mismatch_is_a_verification_error(manifest: Manifest) -> None:
    for cls in (ChainIdMismatch, DeployBlockMismatch, CodeHashMismatch, NoCodeAtAddress, WiringMismatch,
                SettingMismatch, ArtifactMismatch):
        assert issubclass(cls, ManifestMismatch)
    assert issubclass(ManifestMismatch, VerificationError)
    assert issubclass(ManifestMismatch, LedgerError)


def test_chain_id_mismatch(world: World, manifest: Manifest) -> None:
    tampered = dataclasses.replace(manifest, chain_id=manifest.chain_id + 1)
    with pytest.raises(ChainIdMismatch) as info:
        verify_against_chain(tampered, world.w3)
    assert info.value.expected == manifest.chain_id + 1
    assert info.value.found == manifest.chain_id
    assert str(manifest.chain_id) in str(info.value)


def test_deploy_block_hash_mismatch(world: World, manifest: Manifest) -> None:
    other = bytes(32 * [0xAB])
    tampered = dataclasses.replace(manifest, deploy_block_hash=other)
    with pytest.raises(DeployBlockMismatch) as info:
        verify_against_chain(tampered, world.w3)
    assert info.value.expected == other
    assert info.value.found == manifest.deploy_block_hash
    assert "0x" + other.hex() in str(info.value) and "0x" + manifest.deploy_block_hash.hex() in str(info.value)


def test_deploy_block_beyond_the_chain_head(world: World, manifest: Manifest) -> None:
    """A chain that was reset has no block at the deploy height at all."""
    tampered = dataclasses.replace(manifest, deploy_block=world.w3.eth.block_number + 1000)
    with pytest.raises(DeployBlockMismatch) as info:
        verify_against_chain(tampered, world.w3)
    assert info.value.found is None


def test_code_hash_mismatch(world: World, manifest: Manifest) -> None:
    wrong = bytes(32 * [0x11])
    tampered = _with_contract(manifest, "ReviewLog", code_hash=wrong)
    with pytest.raises(CodeHashMismatch) as info:
        verify_against_chain(tampered, world.w3)
    assert type(info.value) is CodeHashMismatch
    assert info.value.contract == "ReviewLog"
    assert info.value.expected == wrong
    assert info.value.found == shipped_code_hash("ReviewLog")


def test_address_without_code(world: World, manifest: Manifest) -> None:
    empty = Account.create().address
    tampered = _with_contract(manifest, "CertificateRegistry", address=empty)
    with pytest.raises(NoCodeAtAddress) as info:
        verify_against_chain(tampered, world.w3)
    assert info.value.contract == "CertificateRegistry"
    assert info.value.found is None
    assert empty in str(info.value)


def test_address_pointing_at_another_contracts_code(world: World, manifest: Manifest) -> None:
    a = manifest.addresses
    swapped = _with_contract(_with_contract(manifest, "ReviewLog", address=a["DisputeRegistry"]),
                             "DisputeRegistry", address=a["ReviewLog"])
    with pytest.raises(CodeHashMismatch) as info:
        verify_against_chain(swapped, world.w3)
    assert type(info.value) is CodeHashMismatch
    assert info.value.contract == "ReviewLog"
    assert info.value.found == masked_code_hash(load("ReviewLog"),
                                                bytes(world.w3.eth.get_code(a["DisputeRegistry"])))

    # an address holding the forwarder's code, recorded as the governance
    pointed = _with_contract(manifest, "TrustGovernance", address=a["TrustForwarder"])
    with pytest.raises(CodeHashMismatch) as info:
        verify_against_chain(pointed, world.w3)
    assert info.value.contract == "TrustGovernance"


def test_address_pointing_at_another_deployment_of_the_same_contract(world: World, manifest: Manifest) -> None:
    """Same build, same masked code hash: caught because it is not wired to the manifest's governance."""
    artifact = load("ReviewLog")
    factory = world.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    foreign = world.actors.stranger
    receipt = foreign.send(factory.constructor(world.actors.stranger.address, foreign.address,
                                               world.d.forwarder.address))
    other = receipt["contractAddress"]
    tampered = _with_contract(manifest, "ReviewLog", address=other)
    with pytest.raises(WiringMismatch) as info:
        verify_against_chain(tampered, world.w3)
    assert world.d.governance.address in str(info.value)


def test_dispute_registry_wired_to_another_governance(world: World, manifest: Manifest) -> None:
    artifact = load("DisputeRegistry")
    factory = world.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = world.actors.stranger.send(factory.constructor(
        world.actors.stranger.address, world.d.forwarder.address, list(DisputePeriods().as_tuple())))
    tampered = _with_contract(manifest, "DisputeRegistry", address=receipt["contractAddress"])
    with pytest.raises(WiringMismatch, match="governance of DisputeRegistry"):
        verify_against_chain(tampered, world.w3)


def test_setting_mismatch(world: World, manifest: Manifest) -> None:
    settings = dict(manifest.settings, responsePeriod=1)
    with pytest.raises(SettingMismatch) as info:
        verify_against_chain(dataclasses.replace(manifest, settings=settings), world.w3)
    assert (info.value.expected, info.value.found) == (1, DisputePeriods().response)


def test_artifact_mismatch(world: World, manifest: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chain and manifest agree, but this ledger ships other code (rebuilt contracts): its ABIs may not fit."""
    import ledger.manifest as module

    real = module.shipped_code_hash
    monkeypatch.setattr(module, "shipped_code_hash",
                        lambda name: bytes(32) if name == "ReviewLog" else real(name))
    with pytest.raises(ArtifactMismatch) as info:
        verify_against_chain(manifest, world.w3)
    assert info.value.contract == "ReviewLog"
    verify_against_chain(manifest, world.w3, check_artifacts=False)


# --- writing and loading ------------------------------------------------------------------------------------

def test_write_load_round_trip(manifest: Manifest, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deployment.json"
    manifest.write(path)
    loaded = Manifest.load(path)
    assert loaded == manifest
    assert json.loads(path.read_text()) == manifest.to_json()
    doc = json.loads(path.read_text())
    assert list(doc) == ["version", "chainId", "deployBlock", "deployBlockHash", "contracts", "compiler",
                         "settings"]
    assert list(doc["contracts"]) == list(CONTRACT_NAMES)
    assert [p.name for p in path.parent.iterdir()] == ["deployment.json"]  # no temporary file left behind


def test_write_replaces_atomically(manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deployment.json"
    manifest.write(path)
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        dataclasses.replace(manifest, deploy_block=manifest.deploy_block + 1).write(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["deployment.json"]


def _malformed(doc: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(case, document, field the error must name)."""
    cases: list[tuple[str, Any, str]] = []

    def case(name: str, field: str, mutate: Any) -> None:
        d = copy.deepcopy(doc)
        result = mutate(d)
        cases.append((name, result if isinstance(result, list) else d, field))

    case("unknown-version", "version", lambda d: d.update(version=2))
    case("version-as-string", "version", lambda d: d.update(version="1"))
    case("version-as-bool", "version", lambda d: d.update(version=True))
    case("no-version", "version", lambda d: d.pop("version"))
    case("unknown-field", "extra", lambda d: d.update(extra=1))
    case("missing-chain-id", "chainId", lambda d: d.pop("chainId"))
    case("chain-id-zero", "chainId", lambda d: d.update(chainId=0))
    case("chain-id-float", "chainId", lambda d: d.update(chainId=31337.0))
    case("chain-id-string", "chainId", lambda d: d.update(chainId="31337"))
    case("deploy-block-negative", "deployBlock", lambda d: d.update(deployBlock=-1))
    case("deploy-block-hash-short", "deployBlockHash", lambda d: d.update(deployBlockHash="0x" + "ab" * 31))
    case("deploy-block-hash-no-0x", "deployBlockHash", lambda d: d.update(deployBlockHash="ab" * 32))
    case("missing-contract", "contracts.ReviewLog", lambda d: d["contracts"].pop("ReviewLog"))
    case("unknown-contract", "contracts.Token", lambda d: d["contracts"].update(Token=d["contracts"]["ReviewLog"]))
    case("contracts-as-list", "contracts", lambda d: d.update(contracts=[]))
    case("address-bad-checksum", "contracts.ReviewLog.address",
         lambda d: d["contracts"]["ReviewLog"].update(address=_bad_checksum(d["contracts"]["ReviewLog"]["address"])))
    case("address-lowercase", "contracts.ReviewLog.address",
         lambda d: d["contracts"]["ReviewLog"].update(address=d["contracts"]["ReviewLog"]["address"].lower()))
    case("address-short", "contracts.ReviewLog.address",
         lambda d: d["contracts"]["ReviewLog"].update(address=d["contracts"]["ReviewLog"]["address"][:-2]))
    case("address-zero", "contracts.ReviewLog.address",
         lambda d: d["contracts"]["ReviewLog"].update(address="0x" + "0" * 40))
    case("address-duplicate", "contracts.DisputeRegistry.address",
         lambda d: d["contracts"]["DisputeRegistry"].update(address=d["contracts"]["ReviewLog"]["address"]))
    case("code-hash-not-hex", "contracts.TrustForwarder.codeHash",
         lambda d: d["contracts"]["TrustForwarder"].update(codeHash="0x" + "zz" * 32))
    case("code-hash-missing", "contracts.TrustForwarder.codeHash",
         lambda d: d["contracts"]["TrustForwarder"].pop("codeHash"))
    case("contract-extra-field", "contracts.TrustForwarder.abi",
         lambda d: d["contracts"]["TrustForwarder"].update(abi=[]))
    case("compiler-empty", "compiler", lambda d: d.update(compiler=""))
    case("settings-not-integer", "settings.actDelay", lambda d: d["settings"].update(actDelay="2 days"))
    case("settings-negative", "settings.actDelay", lambda d: d["settings"].update(actDelay=-1))
    case("settings-bad-name", "settings.act delay", lambda d: d["settings"].update({"act delay": 1}))
    case("document-is-a-list", "(document)", lambda d: [d])
    return cases


def _bad_checksum(address: str) -> str:
    body = address[2:]
    i = next(i for i, c in enumerate(body) if c.isalpha())
    return "0x" + body[:i] + body[i].swapcase() + body[i + 1:]


def test_loader_rejects_malformed_files(manifest: Manifest, tmp_path: Path) -> None:
    good = manifest.to_json()
    for name, doc, field in _malformed(good):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(InvalidManifest) as info:
            Manifest.load(path)
        assert info.value.field == field, f"{name}: {info.value}"
        assert field in str(info.value) and str(path) in str(info.value), name
        assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["", "{", "not json", '{"version": 1, "version": 1}', "[NaN]"],
                         ids=["empty", "truncated", "garbage", "duplicate-key", "nan"])
def test_loader_rejects_non_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deployment.json"
    path.write_text(text)
    with pytest.raises(InvalidManifest) as info:
        Manifest.load(path)
    assert info.value.field == "(document)"


def test_loader_rejects_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    path.write_bytes(b'{"version": \xff}')
    with pytest.raises(InvalidManifest):
        Manifest.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Manifest.load(tmp_path / "absent.json")


def test_from_json_accepts_what_to_json_gives(manifest: Manifest) -> None:
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest
    assert isinstance(manifest.contracts["ReviewLog"], ContractRecord)


# --- `python -m ledger.devnet up` reuses its deployment through the manifest --------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _devnet_up(home: Path, port: int) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ledger.devnet", "up", "--once", "--home", str(home), "--port", str(port)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, f"devnet up failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_devnet_deploys_then_reuses_then_redeploys_on_a_fresh_chain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    manifest_path = home / "deployment.json"

    first = _devnet_up(home, port)
    assert "deploying anew" not in first.stderr
    m1 = Manifest.load(manifest_path)
    for name, address in m1.addresses.items():
        assert address in first.stdout, name
    written = manifest_path.read_bytes()

    second = _devnet_up(home, port)  # restart on the kept state: nothing deployed, manifest untouched
    assert "deploying anew" not in second.stderr, second.stderr
    assert manifest_path.read_bytes() == written
    assert first.stdout == second.stdout

    (home / "anvil-state.json").unlink()
    third = _devnet_up(home, port)  # a fresh chain: the deploy block is gone, so deploy anew
    assert "deploying anew" in third.stderr
    assert "deploy block" in third.stderr
    m3 = Manifest.load(manifest_path)
    assert m3.deploy_block_hash != m1.deploy_block_hash
    # same deployer key and nonces on a fresh chain: same addresses; the block hash is what told them apart
    assert m3.addresses == m1.addresses

    fourth = _devnet_up(home, port)
    assert "deploying anew" not in fourth.stderr
    assert Manifest.load(manifest_path) == m3


def test_devnet_redeploys_over_a_damaged_manifest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    _devnet_up(home, port)
    manifest_path = home / "deployment.json"
    old = Manifest.load(manifest_path)
    doc = old.to_json()
    doc["contracts"]["ReviewLog"]["address"] = doc["contracts"]["ReviewLog"]["address"].lower()
    manifest_path.write_text(json.dumps(doc))
    again = _devnet_up(home, port)
    assert "contracts.ReviewLog.address" in again.stderr and "deploying anew" in again.stderr
    fresh = Manifest.load(manifest_path)  # a new deployment on the same (kept) chain
    assert fresh.deploy_block > old.deploy_block
    assert set(fresh.addresses.values()).isdisjoint(old.addresses.values())


def test_deploy_or_verify_deploys_once_then_only_verifies(world: World, tmp_path: Path) -> None:
    a = world.actors
    path = tmp_path / "deployment.json"
    first, deployed = deploy_or_verify(world.w3, a.admin, path, governor=a.governor.address,
                                       log_operator=a.operator.address)
    assert deployed and path.exists()
    head = world.w3.eth.block_number
    again, deployed_again = deploy_or_verify(world.w3, a.admin, path, governor=a.governor.address,
                                             log_operator=a.operator.address)
    assert not deployed_again and again == first
    assert world.w3.eth.block_number == head  # nothing was sent


def test_deploy_or_verify_refuses_a_manifest_the_chain_contradicts(world: World, manifest: Manifest,
                                                                   tmp_path: Path) -> None:
    """A production deploy never papers over a mismatch by deploying a second set."""
    path = tmp_path / "deployment.json"
    _with_contract(manifest, "ReviewLog", code_hash=b"\x01" * 32).write(path)
    head = world.w3.eth.block_number
    with pytest.raises(CodeHashMismatch):
        deploy_or_verify(world.w3, world.actors.admin, path, governor=world.actors.governor.address,
                         log_operator=world.actors.operator.address)
    path.write_text("{not json")
    with pytest.raises(InvalidManifest):
        deploy_or_verify(world.w3, world.actors.admin, path, governor=world.actors.governor.address,
                         log_operator=world.actors.operator.address)
    assert world.w3.eth.block_number == head
