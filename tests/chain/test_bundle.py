"""Proof bundle v1 (ledger.bundle): export, the strict parser, offline and online verification.

* every member of a certificate bundle and a review bundle, tampered in turn, is rejected with a named reason
  (offline where the bundle alone can show it, else against the chain);
* a bundle from another chain or another deployment is rejected;
* a bundle verifies with the network unplugged;
* export -> file -> parse -> verify round trip; exported bundles validate against docs/proof-bundle.schema.json;
* Hypothesis: parse_bundle raises nothing but InvalidBundle on arbitrary input, and no mutation of a valid
  bundle is accepted.

Runs on py-evm or a live node (``--chain``). The bundles are made once per module (``scene``).
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.providers.base import BaseProvider

from ledger.bundle import (
    CertificateBundle,
    InvalidBundle,
    ReviewBundle,
    UnsupportedBundleVersion,
    dumps_bundle,
    export_certificate_bundle,
    export_review_bundle,
    parse_bundle,
    verify_bundle,
)
from ledger.deploy import deploy
from ledger.indexer import CertificateStatus, Indexer
from ledger.manifest import Manifest
from ledger.verify import LeafList, ReasonCode, Verdict

from ..conftest import World
from ..fuzz import examples
from .test_certificates import make_cert
from .test_disputes import Outcome, T
from .test_verify import REASON, anchor, issue, leaf_store

pytestmark = pytest.mark.chain

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "proof-bundle.schema.json"


@dataclass
class Scene:
    manifest: Manifest
    certificate: dict[str, Any]
    review: dict[str, Any]
    store: LeafList
    certificate_id: bytes


@pytest.fixture(scope="module")
def scene(_world: World) -> Iterator[Scene]:
    """A certificate and a 7-leaf log anchored at sizes 5 and 7; the bundles of the certificate and of leaf 5."""
    snap = _world.chain.snapshot()
    try:
        manifest = Manifest.from_deployment(_world.w3, _world.d)
        cid = issue(_world, make_cert(_world, "bundle"))
        store = leaf_store(7)
        anchor(_world, store, 5, 0)
        anchor(_world, store, 7, 5)
        cert = export_certificate_bundle(cid, w3=_world.w3, manifest=manifest).to_json()
        review = export_review_bundle(5, store=store, w3=_world.w3, manifest=manifest).to_json()
        yield Scene(manifest, cert, review, store, cid)
    finally:
        _world.chain.revert(snap)
        _world.actors.reset_nonces()


# ---------------------------------------------------------------------------------------------- JSON paths


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    """The path of every scalar member, in the notation of InvalidBundle.member (``anchor.log.topics[1]``)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from paths(inner, f"{prefix}[{i}]")
    else:
        yield prefix


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, *indexes = part.split("[")
        out.append(name)
        out += [int(i.rstrip("]")) for i in indexes]
    return out


def get(doc: Any, path: str) -> Any:
    for step in _steps(path):
        doc = doc[step]
    return doc


def put(doc: Any, path: str, value: Any) -> Any:
    out = copy.deepcopy(doc)
    steps = _steps(path)
    target = out
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value
    return out


def tamper(value: Any) -> Any:
    """A different value of the same JSON type and format."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value in ("certificate", "review"):
        return "review" if value == "certificate" else "certificate"
    if value in ("valid", "revoked"):
        return "revoked" if value == "valid" else "valid"
    if value.startswith("0x"):
        return value[:-1] + ("1" if value[-1] == "0" else "0")
    return str(int(value) + 1)  # decimal string


C, R = ReasonCode, ReasonCode
ANCHOR_EXPECTED = {
    "anchor.transactionHash": {C.CHAIN_TX_NOT_FOUND},
    "anchor.blockNumber": {C.CHAIN_BLOCK_MISMATCH},
    "anchor.blockHash": {C.CHAIN_BLOCK_MISMATCH},
    "anchor.blockTimestamp": {C.CHAIN_BLOCK_MISMATCH},
    "anchor.transactionIndex": {C.CHAIN_BLOCK_MISMATCH},
    "anchor.logIndex": {C.CHAIN_LOG_MISMATCH},
    "anchor.log.address": {C.BUNDLE_ANCHOR_WRONG_CONTRACT},
    "anchor.log.topics[0]": {C.BUNDLE_ANCHOR_WRONG_EVENT},
    "anchor.log.topics[1]": {C.BUNDLE_ANCHOR_MISMATCH},
    "anchor.log.topics[2]": {C.BUNDLE_ANCHOR_MISMATCH},
    "anchor.log.topics[3]": {C.BUNDLE_ANCHOR_MISMATCH},
    "anchor.log.data": {C.BUNDLE_ANCHOR_MISMATCH},
}
COMMON_EXPECTED: dict[str, set[ReasonCode] | None] = {
    "v": None,  # None: the parser refuses it
    "type": None,
    "chainId": {C.BUNDLE_UNTRUSTED_CHAIN, C.CHAIN_ID_MISMATCH},
    **{f"contracts.{n}": {C.BUNDLE_UNTRUSTED_CONTRACT, C.CHAIN_NO_CODE}
       for n in ("TrustForwarder", "TrustGovernance", "DisputeRegistry")},
    **ANCHOR_EXPECTED,
}
CERTIFICATE_EXPECTED: dict[str, set[ReasonCode] | None] = {
    **COMMON_EXPECTED,
    "contracts.CertificateRegistry": {C.BUNDLE_ANCHOR_WRONG_CONTRACT},
    "contracts.ReviewLog": {C.BUNDLE_UNTRUSTED_CONTRACT, C.CHAIN_NO_CODE},
    **{f"certificate.{m}": {C.CERTIFICATE_ID_MISMATCH} for m in (
        "id", "productId", "lot", "merchant", "issuer", "kind", "documentHash", "standard", "issuedAt",
        "validUntil")},
    "certificate.anchoredBy": {C.BUNDLE_ANCHOR_MISMATCH},
    "accreditation.issuerId": {C.CHAIN_ACCREDITATION_MISMATCH},
    "accreditation.validFrom": {C.CHAIN_ACCREDITATION_MISMATCH},
    "accreditation.validUntil": {C.CHAIN_ACCREDITATION_MISMATCH},
    "accreditation.compromisedAt": {C.BUNDLE_ACCREDITATION_INCONSISTENT},
    "accreditation.suspended": {C.BUNDLE_ACCREDITATION_INCONSISTENT},
    "accreditation.standardInScope": {C.BUNDLE_ACCREDITATION_INCONSISTENT},
    "status.status": {C.CHAIN_STATUS_MISMATCH},
    "status.issuerAccreditedAtIssue": {C.BUNDLE_STATUS_INCONSISTENT},
    "status.blockNumber": {C.CHAIN_STATUS_MISMATCH},
    "status.blockHash": {C.CHAIN_STATUS_MISMATCH},
    "status.time": {C.CHAIN_STATUS_MISMATCH},
}
REVIEW_EXPECTED: dict[str, set[ReasonCode] | None] = {
    **COMMON_EXPECTED,
    "contracts.CertificateRegistry": {C.BUNDLE_UNTRUSTED_CONTRACT, C.CHAIN_NO_CODE},
    "contracts.ReviewLog": {C.BUNDLE_ANCHOR_WRONG_CONTRACT},
    "review.leafIndex": {R.REVIEW_INCLUSION_FAILED},
    "review.leaf": {R.REVIEW_LEAF_MALFORMED, R.REVIEW_LEAF_HASH_MISMATCH},
    "review.leafHash": {R.REVIEW_LEAF_HASH_MISMATCH},
    **{f"inclusionProof[{i}]": {R.REVIEW_INCLUSION_FAILED} for i in range(3)},
    "checkpoint.index": {C.BUNDLE_ANCHOR_MISMATCH},
    "checkpoint.size": {R.REVIEW_INCLUSION_FAILED, C.BUNDLE_ANCHOR_MISMATCH},  # a proof may fit two sizes
    "checkpoint.root": {R.REVIEW_INCLUSION_FAILED},
    "checkpoint.timestamp": {C.BUNDLE_ANCHOR_MISMATCH},
    "anchor.blockTimestamp": {C.BUNDLE_ANCHOR_MISMATCH},  # the checkpoint's timestamp binds it offline
}
del REVIEW_EXPECTED["anchor.log.topics[3]"]  # CheckpointAnchored has two indexed arguments
OFFLINE_PREFIXES = ("bundle.anchor", "bundle.accreditation", "bundle.status", "bundle.record", "certificate.",
                    "review.")


def _cases() -> list[tuple[str, str]]:
    return [("certificate", p) for p in CERTIFICATE_EXPECTED] + [("review", p) for p in REVIEW_EXPECTED]


def test_the_expectations_cover_every_member(scene: Scene) -> None:
    assert set(paths(scene.certificate)) == set(CERTIFICATE_EXPECTED)
    assert set(paths(scene.review)) == set(REVIEW_EXPECTED)


@pytest.mark.parametrize(("kind", "path"), _cases(), ids=[f"{k}:{p}" for k, p in _cases()])
def test_every_member_tampered_is_rejected_with_a_named_reason(world: World, scene: Scene, kind: str,
                                                               path: str) -> None:
    doc = scene.certificate if kind == "certificate" else scene.review
    expected = (CERTIFICATE_EXPECTED if kind == "certificate" else REVIEW_EXPECTED)[path]
    original = get(doc, path)
    mutated = put(doc, path, tamper(original))
    if expected is None:
        with pytest.raises(InvalidBundle) as info:
            parse_bundle(mutated)
        assert info.value.member is not None
        return
    online = verify_bundle(mutated, w3=world.w3, trusted=scene.manifest)
    assert online.verdict is Verdict.INVALID, (path, online.reasons)
    assert expected & set(online.codes), (path, online.reasons)
    offline_codes = {c for c in expected if c.startswith(OFFLINE_PREFIXES)}
    if offline_codes:
        offline = verify_bundle(mutated)
        assert offline.verdict is Verdict.INVALID and offline_codes & set(offline.codes), (path, offline.reasons)
        assert not offline.online


def test_a_valid_bundle_verifies_offline_and_online(world: World, scene: Scene) -> None:
    for doc, kind in ((scene.certificate, "certificate"), (scene.review, "review")):
        offline = verify_bundle(doc, trusted=scene.manifest)
        online = verify_bundle(doc, w3=world.w3, trusted=scene.manifest)
        assert offline.verdict is online.verdict is Verdict.VALID, (offline.reasons, online.reasons)
        assert (offline.online, online.online) == (False, True)
        assert offline.kind == kind and offline.evidence.tx_hash.hex() == doc["anchor"]["transactionHash"][2:]
    assert online.codes == (ReasonCode.REVIEW_INCLUDED,)
    cert = verify_bundle(scene.certificate, w3=world.w3)
    assert cert.status_now is CertificateStatus.VALID and cert.codes == (ReasonCode.CERTIFICATE_VALID,)


def test_round_trip_export_file_parse_verify(world: World, scene: Scene, tmp_path: Path) -> None:
    for doc in (scene.certificate, scene.review):
        bundle = parse_bundle(doc)
        path = tmp_path / f"{bundle.kind}.json"
        path.write_bytes(dumps_bundle(bundle))
        again = parse_bundle(path.read_bytes())
        assert again == bundle and again.to_json() == doc
        assert parse_bundle(path.read_text(encoding="utf-8")) == bundle
        assert verify_bundle(path.read_bytes(), w3=world.w3).verdict is Verdict.VALID
    assert isinstance(parse_bundle(scene.certificate), CertificateBundle)
    assert isinstance(parse_bundle(scene.review), ReviewBundle)


def test_exported_bundles_validate_against_the_json_schema(scene: Scene) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates docs/proof-bundle.schema.json")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for doc in (scene.certificate, scene.review):
        validator.validate(doc)
        # the schema refuses what the parser refuses, for a few shapes
        for bad in (put(doc, "v", 2), put(doc, "chainId", int(doc["chainId"])),
                    put(doc, "anchor.blockHash", doc["anchor"]["blockHash"].upper()), {**doc, "extra": 1}):
            assert not validator.is_valid(bad)
            with pytest.raises(InvalidBundle):
                parse_bundle(bad)


def test_a_review_taken_down_says_so_in_its_bundle(t: T, ix: Indexer, manifest: Manifest) -> None:
    """A review removed by a final ruling stays in the log: its bundle still proves it included, and carries the
    takedown (optional member, from the index or the chain), reported beside the inclusion and checked online
    against DisputeRegistry.takedown at its block. A review nobody touched has no such member."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates docs/proof-bundle.schema.json")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    world = t.world
    ix.sync()
    before = max((c.size for c in ix.checkpoints()), default=0)  # the module's scene may have anchored some
    store = leaf_store(before + 4)
    anchor(world, store, before + 4, before)
    leaf = before + 2
    dispute, _ = t.review_final(Outcome.REVIEW_REMOVED, leaf=leaf)
    ix.sync()
    indexed = export_review_bundle(leaf, store=store, w3=world.w3, manifest=manifest, indexer=ix)
    by_chain = export_review_bundle(leaf, store=store, w3=world.w3, manifest=manifest)
    assert indexed.takedown is not None and by_chain.takedown is not None
    assert (indexed.takedown.state, indexed.takedown.dispute_id) == ("takenDown", dispute)
    assert indexed.takedown.block_number <= by_chain.takedown.block_number == world.w3.eth.block_number
    untouched = export_review_bundle(leaf - 1, store=store, w3=world.w3, manifest=manifest, indexer=ix)
    assert untouched.takedown is None and "takedown" not in untouched.to_json()
    for bundle in (indexed, by_chain):
        doc = bundle.to_json()
        validator.validate(doc)
        assert parse_bundle(json.dumps(doc)).to_json() == doc
        for w3 in (None, world.w3):
            result = verify_bundle(doc, w3=w3, trusted=manifest)
            assert result.verdict is Verdict.VALID, result.reasons
            assert result.codes == (ReasonCode.REVIEW_INCLUDED, ReasonCode.REVIEW_TAKEN_DOWN)
            assert "0x" + dispute.hex() in result.reasons[1].message
    doc = indexed.to_json()
    restored = put(doc, "takedown.state", "restored")  # consistent on its face; the registry says otherwise
    assert verify_bundle(restored).verdict is Verdict.VALID
    assert verify_bundle(restored, w3=world.w3).codes == (ReasonCode.CHAIN_TAKEDOWN_MISMATCH,)
    no_ruling = put(doc, "takedown.disputeId", "0x" + "00" * 32)
    assert verify_bundle(no_ruling).codes == (ReasonCode.BUNDLE_TAKEDOWN_INCONSISTENT,)
    for bad in (put(doc, "takedown.state", "gone"), put(doc, "takedown.blockNumber", "1"),
                {**doc, "takedown": {**doc["takedown"], "extra": 1}}):
        assert not validator.is_valid(bad)
        with pytest.raises(InvalidBundle):
            parse_bundle(bad)


class Unplugged(BaseProvider):
    """A provider whose every call fails, as with the network cable pulled."""

    def make_request(self, method: Any, params: Any) -> Any:
        raise ConnectionError(f"network unplugged ({method})")

    def is_connected(self, show_traceback: bool = False) -> bool:
        return False


def test_a_bundle_verifies_with_the_network_unplugged(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network unplugged")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for doc in (scene.certificate, scene.review):
        result = verify_bundle(json.dumps(doc).encode(), trusted=scene.manifest)
        assert result.verdict is Verdict.VALID and not result.online
        # asked to check the chain, it says it could not rather than accept or reject
        unplugged = verify_bundle(doc, w3=Web3(Unplugged()))
        assert unplugged.verdict is Verdict.UNKNOWN and unplugged.codes == (ReasonCode.CHAIN_UNREACHABLE,)
        by_url = verify_bundle(doc, "http://127.0.0.1:9")
        assert by_url.verdict is Verdict.UNKNOWN and by_url.codes == (ReasonCode.CHAIN_UNREACHABLE,)


def test_a_bundle_from_another_chain_or_deployment_is_rejected(world: World, scene: Scene) -> None:
    # another chain id: the node serves 31337, and the trusted deployment is not on chain 1
    other_chain = put(scene.review, "chainId", "1")
    assert ReasonCode.CHAIN_ID_MISMATCH in verify_bundle(other_chain, w3=world.w3).codes
    assert ReasonCode.BUNDLE_UNTRUSTED_CHAIN in verify_bundle(other_chain, trusted=scene.manifest).codes
    # a second deployment on the same chain, with its own log: its bundles are genuine there, and refused by
    # whoever trusts the first
    a = world.actors
    d2 = deploy(world.w3, a.admin, governor=a.governor.address, log_operator=a.operator.address)
    m2 = Manifest.from_deployment(world.w3, d2)
    store = leaf_store(3)
    from ledger.merkle import MerkleTree

    a.operator.send(d2.review_log.functions.appendCheckpoint(3, MerkleTree(store.leaf_hashes(0, 3)).root(), []))
    theirs = export_review_bundle(1, store=store, w3=world.w3, manifest=m2).to_json()
    assert verify_bundle(theirs, w3=world.w3, trusted=m2).verdict is Verdict.VALID
    refused = verify_bundle(theirs, w3=world.w3, trusted=scene.manifest)
    assert refused.verdict is Verdict.INVALID and ReasonCode.BUNDLE_UNTRUSTED_CONTRACT in refused.codes
    # our bundle re-pointed at their ReviewLog (contracts and log address both changed): the chain refuses it
    moved = put(put(scene.review, "contracts.ReviewLog", d2.review_log.address.lower()),
                "anchor.log.address", d2.review_log.address.lower())
    offline = verify_bundle(moved)
    assert offline.verdict is Verdict.VALID  # self-consistent on paper …
    online = verify_bundle(moved, w3=world.w3)
    assert online.verdict is Verdict.INVALID  # … but not on the chain
    assert {ReasonCode.CHAIN_LOG_MISMATCH, ReasonCode.CHAIN_NOT_A_CHECKPOINT} <= set(online.codes), online.reasons


def test_a_certificate_revoked_after_export_fails_online_and_keeps_its_export_status_offline(
        world: World, scene: Scene) -> None:
    world.actors.issuer.send(world.d.registry.functions.revoke(scene.certificate_id, REASON))
    online = verify_bundle(scene.certificate, w3=world.w3, trusted=scene.manifest)
    assert online.verdict is Verdict.INVALID and online.status_now is CertificateStatus.REVOKED
    assert online.codes == (ReasonCode.CERTIFICATE_REVOKED,)
    assert verify_bundle(scene.certificate).verdict is Verdict.VALID  # valid as of export: all it can know
    fresh = export_certificate_bundle(scene.certificate_id, w3=world.w3, manifest=scene.manifest).to_json()
    assert fresh["status"]["status"] == "revoked"
    assert verify_bundle(fresh).codes == (ReasonCode.CERTIFICATE_REVOKED,)
    assert verify_bundle(fresh, w3=world.w3).codes == (ReasonCode.CERTIFICATE_REVOKED,)


def test_review_bundle_of_a_leaf_not_yet_anchored_cannot_be_made(world: World, scene: Scene) -> None:
    store = LeafList([*scene.store.leaves(0, 7), *leaf_store(9).leaves(7, 9)])
    with pytest.raises(ValueError, match="no anchored checkpoint covers leaf 8"):
        export_review_bundle(8, store=store, w3=world.w3, manifest=scene.manifest)


# ---------------------------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=20)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300) | st.text(max_size=300) | json_values)
def test_parse_bundle_raises_only_invalid_bundle_on_anything(data: Any) -> None:
    try:
        parse_bundle(data)
    except InvalidBundle:
        pass


def _mutations(doc: dict[str, Any]) -> st.SearchStrategy[Any]:
    text = json.dumps(doc)
    member = st.sampled_from(sorted(paths(doc)))
    replaced = st.tuples(member, json_values).map(lambda pv: put(doc, pv[0], pv[1]))
    tampered = member.map(lambda p: put(doc, p, tamper(get(doc, p))))
    byte_flip = st.tuples(st.integers(0, len(text) - 1), st.integers(1, 255)).map(
        lambda ib: (text[: ib[0]] + chr(ord(text[ib[0]]) ^ ib[1]) + text[ib[0] + 1:]).encode("utf-8", "surrogatepass"))
    truncated = st.integers(0, len(text) - 1).map(lambda n: text[:n])
    return st.one_of(replaced, tampered, byte_flip, truncated)


@pytest.mark.parametrize("kind", ["certificate", "review"])
def test_no_mutation_of_a_valid_bundle_is_accepted(world: World, scene: Scene, kind: str) -> None:
    doc = scene.certificate if kind == "certificate" else scene.review
    original = parse_bundle(doc)

    @settings(max_examples=examples(120), deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutated=_mutations(doc))
    def check(mutated: Any) -> None:
        try:
            bundle = parse_bundle(mutated)
        except InvalidBundle:
            return
        if bundle == original:  # the mutation did not change what the bundle says (whitespace, escapes)
            return
        result = verify_bundle(bundle, w3=world.w3, trusted=scene.manifest)
        assert result.verdict is not Verdict.VALID, (mutated, result)
        assert result.reasons

    check()


def test_unsupported_version_is_judged_first(scene: Scene) -> None:
    with pytest.raises(UnsupportedBundleVersion):
        parse_bundle({"v": 2, "nonsense": True})
