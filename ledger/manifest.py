"""The deployment manifest: where TrustLedger lives on a chain, written by the deployer, read by everything else.

One JSON file (format version 1)::

    {
      "version": 1,
      "chainId": 31337,
      "deployBlock": 1,
      "deployBlockHash": "0x…",
      "contracts": {
        "TrustForwarder": {"address": "0x<checksummed>", "codeHash": "0x…"},
        … one entry for each of TrustGovernance, CertificateRegistry, ReviewLog, DisputeRegistry
      },
      "compiler": "0.8.28+commit.7893614a",
      "settings": {"actDelay": 172800, "responsePeriod": 259200, …}
    }

``codeHash`` is the keccak-256 of the contract's runtime code with the bytes that the constructor patches
with immutables (addresses, periods) zeroed: the same for every deployment of one build, so that a reader can
check it against the shipped artifacts as well as against the chain. ``deployBlockHash`` pins the chain's
history: a chain that was reset, or another chain under the same id, has another hash at that height.

:meth:`Manifest.load` is the one parser of the file; :func:`verify_against_chain` is what a service runs at
start-up before it trusts a single address.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eth_utils.address import is_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import BlockNotFound

from .artifacts import CONTRACT_NAMES, Artifact, load
from .chain import Transactor
from .deploy import Deployment, deploy
from .errors import InvalidInput, VerificationError

__all__ = [
    "MANIFEST_VERSION",
    "ArtifactMismatch",
    "ChainIdMismatch",
    "CodeHashMismatch",
    "ContractRecord",
    "DeployBlockMismatch",
    "InvalidManifest",
    "Manifest",
    "ManifestMismatch",
    "NoCodeAtAddress",
    "SettingMismatch",
    "WiringMismatch",
    "deploy_or_verify",
    "masked_code_hash",
    "shipped_code_hash",
    "verify_against_chain",
]

MANIFEST_VERSION = 1

# Settings read back from the deployed contracts (immutables, which the masked code hash cannot see), in the
# order _read_settings reads them: the act delay, then DisputeRegistry.periods(). Verified by verify_against_chain.
_ON_CHAIN_SETTINGS = ("actDelay", "responsePeriod", "rulingPeriod", "appealWindow", "remedyConfirmWindow",
                      "hideLapse")
_TOP_LEVEL_KEYS = ("version", "chainId", "deployBlock", "deployBlockHash", "contracts", "compiler", "settings")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_SETTING_KEY = re.compile(r"[a-z][A-Za-z0-9]*")


# --- errors -----------------------------------------------------------------------------------------------

class InvalidManifest(InvalidInput):
    """A manifest file is malformed; ``field`` names the offending field (``contracts.ReviewLog.address``)."""

    def __init__(self, field: str, problem: str, *, path: Path | None = None) -> None:
        self.field = field
        self.problem = problem
        self.path = path
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}invalid manifest field {field}: {problem}")


class ManifestMismatch(VerificationError):
    """The chain does not hold the deployment a manifest describes. ``expected`` is the manifest's value."""

    def __init__(self, what: str, *, expected: object, found: object) -> None:
        self.what = what
        self.expected = expected
        self.found = found
        super().__init__(f"{what}: manifest expects {_show(expected)}, chain has {_show(found)}")


class ChainIdMismatch(ManifestMismatch):
    """The endpoint serves another chain than the one the manifest was written for."""


class DeployBlockMismatch(ManifestMismatch):
    """The block the contracts were deployed in is missing or different: the chain was reset or is another."""


class CodeHashMismatch(ManifestMismatch):
    """The code at a contract's address is not the code the manifest records (masked immutables aside)."""

    def __init__(self, contract: str, *, expected: object, found: object, what: str | None = None) -> None:
        self.contract = contract
        super().__init__(what or f"code hash of {contract}", expected=expected, found=found)


class NoCodeAtAddress(CodeHashMismatch):
    """A contract's address holds no code at all."""


class WiringMismatch(ManifestMismatch):
    """The contracts at the manifest's addresses are not wired to each other (governance, forwarder, bindings).

    The masked code hash is the same for every deployment of one build, so a manifest that points one entry at
    another deployment of the right contract passes the code check; this one catches it.
    """


class SettingMismatch(ManifestMismatch):
    """A setting the manifest records (a period, the act delay) differs from what the contract reports."""


class ArtifactMismatch(CodeHashMismatch):
    """The deployed code matches the manifest, but not the contracts shipped with this version of ``ledger``."""


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if value is None:
        return "nothing"
    return str(value)


# --- code hashes ------------------------------------------------------------------------------------------

def masked_code_hash(artifact: Artifact, code: bytes) -> bytes:
    """keccak-256 of runtime ``code`` with ``artifact``'s immutable ranges zeroed.

    Equal for every deployment of one build whatever its constructor arguments; used for the manifest's
    ``codeHash``. Ranges past the end of ``code`` are ignored (such code differs in length anyway).
    """
    buf = bytearray(code)
    for start, length in artifact.immutable_ranges:
        end = min(start + length, len(buf))
        if start < end:
            buf[start:end] = bytes(end - start)
    return keccak(bytes(buf))


def shipped_code_hash(name: str) -> bytes:
    """The masked code hash of shipped contract ``name``'s runtime code (what a fresh deployment has)."""
    artifact = load(name)
    return masked_code_hash(artifact, bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x")))


def _chain_code_hash(w3: Web3, name: str, address: str) -> bytes | None:
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    return masked_code_hash(load(name), code) if code else None


# --- the manifest -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContractRecord:
    """Where one contract lives and the masked hash of its runtime code."""

    address: str
    code_hash: bytes


@dataclass(frozen=True)
class Manifest:
    """A parsed deployment manifest. Build one with :meth:`from_deployment` or :meth:`load`."""

    chain_id: int
    deploy_block: int
    deploy_block_hash: bytes
    contracts: Mapping[str, ContractRecord] = field(hash=False)
    compiler: str
    settings: Mapping[str, int] = field(hash=False)
    version: int = MANIFEST_VERSION

    def __post_init__(self) -> None:
        # read-only views, so that a frozen manifest cannot be changed through its mappings
        object.__setattr__(self, "contracts", MappingProxyType(dict(self.contracts)))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def addresses(self) -> dict[str, str]:
        """Contract name -> checksummed address, in deployment order."""
        return {name: record.address for name, record in self.contracts.items()}

    def address(self, name: str) -> str:
        """The checksummed address of contract ``name``."""
        return self.contracts[name].address

    @classmethod
    def from_deployment(cls, w3: Web3, deployment: Deployment, **settings: int) -> Manifest:
        """The manifest of a deployment made on ``w3``, reading code hashes and settings from the chain.

        The act delay and the dispute periods are read from the contracts; extra ``settings`` (keyword names
        in snake_case, stored in camelCase, non-negative integers) are recorded as given. A given setting that
        the contracts also report must agree with them.
        """
        chain_id = w3.eth.chain_id
        if chain_id != deployment.chain_id:
            raise ChainIdMismatch("chain id", expected=deployment.chain_id, found=chain_id)
        try:
            block_hash = bytes(w3.eth.get_block(deployment.deploy_block)["hash"])
        except BlockNotFound:
            raise DeployBlockMismatch(f"block {deployment.deploy_block}", expected="the deploy block",
                                      found=None) from None
        contracts: dict[str, ContractRecord] = {}
        for name, address in deployment.addresses.items():
            code_hash = _chain_code_hash(w3, name, address)
            if code_hash is None:
                raise NoCodeAtAddress(name, what=f"code of {name} at {address}", expected="code", found=None)
            contracts[name] = ContractRecord(Web3.to_checksum_address(address), code_hash)
        recorded = _read_settings(deployment)
        for key, value in settings.items():
            camel = _camel(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"setting {key} must be a non-negative integer")
            if camel in recorded and recorded[camel] != value:
                raise InvalidInput(f"setting {key}={value} disagrees with the contracts ({recorded[camel]})")
            recorded[camel] = value
        compilers = {load(name).compiler_version for name in CONTRACT_NAMES}
        if len(compilers) != 1:
            raise InvalidInput(f"the shipped artifacts were built by several compilers: {sorted(compilers)}")
        return cls(
            chain_id=chain_id,
            deploy_block=deployment.deploy_block,
            deploy_block_hash=block_hash,
            contracts=contracts,
            compiler=compilers.pop(),
            settings=recorded,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest as the JSON object written to disk."""
        return {
            "version": self.version,
            "chainId": self.chain_id,
            "deployBlock": self.deploy_block,
            "deployBlockHash": "0x" + self.deploy_block_hash.hex(),
            "contracts": {
                name: {"address": record.address, "codeHash": "0x" + record.code_hash.hex()}
                for name, record in self.contracts.items()
            },
            "compiler": self.compiler,
            "settings": dict(self.settings),
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the manifest to ``path`` atomically (a temporary file in the same folder, then a rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read and strictly parse the manifest at ``path``.

        Raises :class:`InvalidManifest` naming the field for anything malformed (unknown version or field,
        missing contract, address not checksummed, hash not 32 bytes, duplicate keys); ``FileNotFoundError``
        when there is no file.
        """
        p = Path(path)
        raw = p.read_bytes()
        try:
            doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                             parse_constant=_no_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, _DuplicateKey, ValueError) as exc:
            raise InvalidManifest("(document)", f"not a JSON document: {exc}", path=p) from None
        try:
            return cls.from_json(doc)
        except InvalidManifest as exc:
            raise InvalidManifest(exc.field, exc.problem, path=p) from None

    @classmethod
    def from_json(cls, doc: object) -> Manifest:
        """Strictly parse a manifest already decoded from JSON (see :meth:`load`)."""
        obj = _object(doc, "(document)")
        if "version" not in obj:
            raise InvalidManifest("version", "missing")
        version = obj["version"]
        if isinstance(version, bool) or version != MANIFEST_VERSION:
            raise InvalidManifest("version", f"unknown version {version!r}; this reader knows {MANIFEST_VERSION}")
        _exact_keys(obj, _TOP_LEVEL_KEYS, "")
        chain_id = _int(obj["chainId"], "chainId", minimum=1)
        deploy_block = _int(obj["deployBlock"], "deployBlock", minimum=0)
        deploy_block_hash = _hash(obj["deployBlockHash"], "deployBlockHash")
        contracts_obj = _object(obj["contracts"], "contracts")
        _exact_keys(contracts_obj, CONTRACT_NAMES, "contracts.")
        contracts: dict[str, ContractRecord] = {}
        for name in CONTRACT_NAMES:
            entry = _object(contracts_obj[name], f"contracts.{name}")
            _exact_keys(entry, ("address", "codeHash"), f"contracts.{name}.")
            contracts[name] = ContractRecord(
                address=_address(entry["address"], f"contracts.{name}.address"),
                code_hash=_hash(entry["codeHash"], f"contracts.{name}.codeHash"),
            )
        seen: dict[str, str] = {}
        for name, record in contracts.items():
            if record.address in seen:
                raise InvalidManifest(f"contracts.{name}.address",
                                      f"same address as contracts.{seen[record.address]}.address")
            seen[record.address] = name
        compiler = obj["compiler"]
        if not isinstance(compiler, str) or not compiler.strip():
            raise InvalidManifest("compiler", "must be a non-empty string")
        settings_obj = _object(obj["settings"], "settings")
        settings: dict[str, int] = {}
        for key, value in settings_obj.items():
            if not _SETTING_KEY.fullmatch(key):
                raise InvalidManifest(f"settings.{key}", "setting names are camelCase identifiers")
            settings[key] = _int(value, f"settings.{key}", minimum=0)
        return cls(chain_id=chain_id, deploy_block=deploy_block, deploy_block_hash=deploy_block_hash,
                   contracts=contracts, compiler=compiler, settings=settings)


def verify_against_chain(manifest: Manifest, w3: Web3, *, check_artifacts: bool = True) -> None:
    """Check that the chain behind ``w3`` holds the deployment ``manifest`` describes; raise if not.

    In order: the chain id (:class:`ChainIdMismatch`); the hash of the deploy block (:class:`DeployBlockMismatch`:
    the chain was reset, or is another chain with the same id); each contract's masked code hash
    (:class:`CodeHashMismatch`, or :class:`NoCodeAtAddress` when the address is empty); that the contracts
    refer to each other — governance, forwarder, the governance's bound registry and log
    (:class:`WiringMismatch`); the act delay and the
    dispute periods recorded in ``settings`` (:class:`SettingMismatch`). With ``check_artifacts`` (the
    default), also that the recorded code is the code shipped with this ``ledger`` (:class:`ArtifactMismatch`),
    since every client here talks to the contracts through the shipped ABIs.
    """
    chain_id = w3.eth.chain_id
    if chain_id != manifest.chain_id:
        raise ChainIdMismatch("chain id", expected=manifest.chain_id, found=chain_id)
    try:
        found_hash: bytes | None = bytes(w3.eth.get_block(manifest.deploy_block)["hash"])
    except BlockNotFound:
        found_hash = None
    if found_hash != manifest.deploy_block_hash:
        raise DeployBlockMismatch(f"hash of deploy block {manifest.deploy_block}",
                                  expected=manifest.deploy_block_hash, found=found_hash)
    for name, record in manifest.contracts.items():
        code_hash = _chain_code_hash(w3, name, record.address)
        if code_hash is None:
            raise NoCodeAtAddress(name, what=f"code of {name} at {record.address}", expected=record.code_hash,
                                  found=None)
        if code_hash != record.code_hash:
            raise CodeHashMismatch(name, what=f"code hash of {name} at {record.address}",
                                   expected=record.code_hash, found=code_hash)
    bound = _bind(w3, manifest)
    _check_wiring(w3, bound)
    on_chain = _read_settings(bound)
    for key in _ON_CHAIN_SETTINGS:
        if key in manifest.settings and manifest.settings[key] != on_chain[key]:
            raise SettingMismatch(f"setting {key}", expected=manifest.settings[key], found=on_chain[key])
    if check_artifacts:
        for name, record in manifest.contracts.items():
            shipped = shipped_code_hash(name)
            if record.code_hash != shipped:
                raise ArtifactMismatch(name, what=f"code hash of {name} (shipped artifact)",
                                       expected=record.code_hash, found=shipped)


def deploy_or_verify(w3: Web3, deployer: Transactor, path: str | os.PathLike[str], *, governor: str,
                     log_operator: str, **deploy_options: Any) -> tuple[Manifest, bool]:
    """Deploy the contract set once: return ``(manifest, deployed_now)``.

    When ``path`` holds a manifest, nothing is deployed: the manifest is checked against the chain
    (:func:`verify_against_chain`) and any mismatch is raised, never papered over by a second deployment;
    a file that does not parse raises :class:`InvalidManifest`. Otherwise the set is deployed and wired
    (:func:`ledger.deploy.deploy`, ``deployer`` becoming its admin) and the manifest written atomically.
    """
    target = Path(path)
    if target.exists():
        manifest = Manifest.load(target)
        verify_against_chain(manifest, w3)
        return manifest, False
    deployment = deploy(w3, deployer, governor=governor, log_operator=log_operator, **deploy_options)
    manifest = Manifest.from_deployment(w3, deployment)
    manifest.write(target)
    return manifest, True


# --- internals --------------------------------------------------------------------------------------------

def _bind(w3: Web3, manifest: Manifest) -> Deployment:
    from .deploy import contract_at

    a = manifest.addresses
    return Deployment(
        chain_id=manifest.chain_id,
        forwarder=contract_at(w3, "TrustForwarder", a["TrustForwarder"]),
        governance=contract_at(w3, "TrustGovernance", a["TrustGovernance"]),
        registry=contract_at(w3, "CertificateRegistry", a["CertificateRegistry"]),
        review_log=contract_at(w3, "ReviewLog", a["ReviewLog"]),
        disputes=contract_at(w3, "DisputeRegistry", a["DisputeRegistry"]),
        deploy_block=manifest.deploy_block,
    )


def _check_wiring(w3: Web3, d: Deployment) -> None:
    """Each contract trusts the manifest's forwarder and governance; the governance binds its registry and log."""
    def same(what: str, expected: str, found: str) -> None:
        if Web3.to_checksum_address(found) != Web3.to_checksum_address(expected):
            raise WiringMismatch(what, expected=expected, found=Web3.to_checksum_address(found))

    for name, contract in (("TrustGovernance", d.governance), ("CertificateRegistry", d.registry),
                           ("ReviewLog", d.review_log), ("DisputeRegistry", d.disputes)):
        same(f"trusted forwarder of {name}", d.forwarder.address, contract.functions.trustedForwarder().call())
    same("governance of CertificateRegistry", d.governance.address, d.registry.functions.governance().call())
    same("governance of ReviewLog", d.governance.address, d.review_log.functions.governance().call())
    same("certificate registry bound by TrustGovernance", d.registry.address,
         d.governance.functions.certificateRegistry().call())
    same("review log bound by TrustGovernance", d.review_log.address, d.governance.functions.reviewLog().call())
    # DisputeRegistry has no governance() getter: its governance is one of the immutables patched into its code
    code = bytes(w3.eth.get_code(d.disputes.address))
    words = {code[start:start + length] for start, length in load("DisputeRegistry").immutable_ranges}
    if bytes(12) + bytes.fromhex(d.governance.address[2:]) not in words:
        raise WiringMismatch("governance of DisputeRegistry (an immutable of its code)",
                             expected=d.governance.address, found="another address")


def _read_settings(d: Deployment) -> dict[str, int]:
    periods = d.disputes.functions.periods().call()
    values = [int(d.governance.functions.actDelay().call()), *(int(p) for p in periods)]
    return dict(zip(_ON_CHAIN_SETTINGS, values, strict=True))


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidManifest(name, f"must be a JSON object, not {type(value).__name__}")
    return value


def _exact_keys(obj: Mapping[str, Any], expected: tuple[str, ...], prefix: str) -> None:
    for key in expected:
        if key not in obj:
            raise InvalidManifest(prefix + key, "missing")
    for key in obj:
        if key not in expected:
            raise InvalidManifest(prefix + key, "unknown field")


def _int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidManifest(name, f"must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise InvalidManifest(name, f"must be >= {minimum}, not {value}")
    return value


def _hash(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise InvalidManifest(name, "must be 0x followed by 64 hex digits")
    return bytes.fromhex(value[2:])


def _address(value: object, name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise InvalidManifest(name, "must be 0x followed by 40 hex digits")
    if not is_checksum_address(value):
        raise InvalidManifest(name, f"{value} is not an EIP-55 checksummed address")
    if int(value, 16) == 0:
        raise InvalidManifest(name, "is the zero address")
    return value
