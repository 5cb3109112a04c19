"""deploy, reindex, export and verify against a chain (py-evm by default, a live node with ``--chain``).

The commands are pointed at the session's chain through ``on_world`` (see conftest.py); their results are
checked against the library doing the same work directly, so a command that skipped a step would differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.bundle import parse_bundle, verify_bundle
from ledger.indexer import Indexer
from ledger.manifest import Manifest, verify_against_chain
from ledger.storage import Database
from ledger.verify import Verdict

from ..chain.test_certificates import make_cert
from ..chain.test_verify import issue
from ..conftest import World
from .conftest import RPC, invoke, no_traceback

pytestmark = pytest.mark.chain


def test_deploy_writes_a_manifest_the_chain_confirms_and_never_deploys_twice(on_world: World, tmp_path: Path) -> None:
    out, home = tmp_path / "deployment" / "manifest.json", tmp_path / "home"
    out.parent.mkdir()
    run = invoke("deploy", "--rpc", RPC, "--out", out, "--home", home)
    assert run.code == 0, run.output
    manifest = Manifest.load(out)
    verify_against_chain(manifest, on_world.w3)
    assert manifest.address("ReviewLog") in run.output and "TrustLedger deployed on chain" in run
    assert (home / "dev-keys.json").exists()
    before = out.read_bytes()
    block = on_world.w3.eth.block_number
    again = invoke("deploy", "--rpc", RPC, "--out", out, "--home", home)
    assert again.code == 0 and "already deployed (manifest checked against the chain)" in again, again.output
    assert out.read_bytes() == before and on_world.w3.eth.block_number == block  # nothing sent
    doc = json.loads(before)
    doc["contracts"]["ReviewLog"]["address"], doc["contracts"]["DisputeRegistry"]["address"] = \
        doc["contracts"]["DisputeRegistry"]["address"], doc["contracts"]["ReviewLog"]["address"]
    out.write_text(json.dumps(doc))
    refused = invoke("deploy", "--rpc", RPC, "--out", out, "--home", home)
    assert refused.code == 2 and f"the manifest {out} does not match the chain: code hash of" in refused, \
        refused.output
    no_traceback(refused)


def test_deploy_with_a_deployer_key_needs_the_governor_and_operator(on_world: World, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLEDGER_DEPLOYER_KEY", "0x" + "42" * 32)
    run = invoke("deploy", "--rpc", RPC, "--out", tmp_path / "m.json", "--operator", on_world.actors.operator.address)
    assert run.code == 2 and "--governor ADDRESS is required" in run, run.output
    assert not (tmp_path / "m.json").exists()


def test_reindex_equals_a_rebuild(on_world: World, manifest_file: Path, tmp_path: Path) -> None:
    issue(on_world, make_cert(on_world, "reindex"))
    url = f"sqlite:///{tmp_path}/cli.db"
    run = invoke("reindex", "--rpc", RPC, "--manifest", manifest_file, "--database", url, "--step", "3")
    assert run.code == 0, run.output
    assert "indexing blocks" in run and "events" in run
    manifest = Manifest.load(manifest_file)
    cli_db, ref_db = Database(url), Database(f"sqlite:///{tmp_path}/ref.db")
    ref_db.migrate()
    try:
        ours = Indexer(on_world.w3, cli_db, manifest)
        ref = Indexer(on_world.w3, ref_db, manifest)
        ref.rebuild()
        assert ours.snapshot() == ref.snapshot()
        assert ours.cursor() == ref.cursor()
        assert any(ours.snapshot()["idx_certificates"])
        head = on_world.w3.eth.block_number
        assert f"indexed blocks {manifest.deploy_block}..{head}" in run
    finally:
        cli_db.dispose()
        ref_db.dispose()
    resumed = invoke("reindex", "--rpc", RPC, "--manifest", manifest_file, "--database", url, "--resume")
    assert resumed.code == 0 and "0 events" in resumed, resumed.output


def test_export_certificate_then_verify_offline_online_and_tampered(on_world: World, manifest_file: Path,
                                                                     tmp_path: Path) -> None:
    cert = make_cert(on_world, "export")
    cid = issue(on_world, cert)
    out = tmp_path / "cert.json"
    run = invoke("export", "certificate", "0x" + cid.hex(), "--rpc", RPC, "--manifest", manifest_file, "-o", out)
    assert run.code == 0, run.output
    assert verify_bundle(out.read_bytes(), w3=on_world.w3).verdict is Verdict.VALID
    assert parse_bundle(out.read_bytes()).certificate_id == cid  # type: ignore[union-attr]
    assert f"VALID certificate 0x{cid.hex()}" in run

    offline = invoke("verify", out)
    assert offline.code == 0 and "VALID" in offline and "checked offline (no chain asked)" in offline, offline.output
    assert "certificate.valid" in offline
    online = invoke("verify", out, "--rpc", RPC, "--manifest", manifest_file)
    assert online.code == 0 and "checked offline and against the chain" in online, online.output

    doc = json.loads(out.read_text())
    doc["certificate"]["documentHash"] = "0x" + "00" * 32
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    bad = invoke("verify", tampered)
    assert bad.code == 1, bad.output
    assert "INVALID" in bad and "certificate.id-mismatch" in bad
    no_traceback(bad)

    db_out = tmp_path / "cert-from-index.json"
    url = f"sqlite:///{tmp_path}/ix.db"
    db = Database(url)
    db.migrate()
    try:
        Indexer(on_world.w3, db, Manifest.load(manifest_file)).sync()
    finally:
        db.dispose()
    via_index = invoke("export", "certificate", "0x" + cid.hex(), "--rpc", RPC, "--manifest", manifest_file,
                       "--database", url, "-o", db_out)
    assert via_index.code == 0, via_index.output
    assert json.loads(db_out.read_text())["anchor"] == json.loads(out.read_text())["anchor"]


def test_a_bundle_that_is_not_a_bundle_is_invalid_with_the_member_named(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"version": 1, "kind": "certificate", "surprise": true}')
    run = invoke("verify", path)
    assert run.code == 1 and "is not a well-formed proof bundle" in run, run.output
    no_traceback(run)


def test_export_of_an_unknown_certificate_is_one_line(on_world: World, manifest_file: Path, tmp_path: Path) -> None:
    run = invoke("export", "certificate", "0x" + "ee" * 32, "--rpc", RPC, "--manifest", manifest_file,
                 "-o", tmp_path / "b.json")
    assert run.code == 2 and "no certificate 0x" + "ee" * 32 + " on chain" in run, run.output
    assert not (tmp_path / "b.json").exists()
