"""The pure parts of scripts/bench/compare.py: proof-size math, simulated proofs, summaries and the report.

The benchmark itself needs a chain, PostgreSQL and minutes; these parts decide what its report says, so they
are checked here without any of that: the proof sizes against real trees, the simulated proofs (used beyond
10^6 leaves) against ``ledger.merkle``'s verifiers, and the rendering from a small fixed results dict (the
same shape ``--json`` prints, with string keys as JSON gives them back).
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import MerkleTree, _inclusion_proof_length, verify_consistency, verify_inclusion

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))  # appended: scripts/bench/api.py must not shadow the api package

import _report
import compare


def _tree(n: int) -> MerkleTree:
    return MerkleTree(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n))


@pytest.mark.parametrize("n", [2, 3, 7, 8, 1000, 1023, 1024, 1025, 1536])
def test_proof_sizes_match_real_trees(n: int) -> None:
    tree = _tree(n + 64)
    sizes = compare.proof_sizes(n, extension=64)
    assert sizes["inclusion_oldest"] == len(tree.inclusion_proof(0, n))
    assert sizes["inclusion_newest"] == len(tree.inclusion_proof(n - 1, n))
    assert sizes["consistency"] == len(tree.consistency_proof(n, n + 64))
    assert sizes["inclusion_max"] == max(len(tree.inclusion_proof(i, n)) for i in range(n))
    assert sizes["inclusion_oldest_bytes"] == 32 * sizes["inclusion_oldest"]
    assert sizes["consistency_bytes"] == 32 * sizes["consistency"]


def test_proof_sizes_at_the_reported_decades() -> None:
    assert [compare.proof_sizes(10**k)["inclusion_oldest"] for k in (3, 6, 9)] == [10, 20, 30]
    assert compare.proof_sizes(10**9)["consistency"] == 15
    assert compare.proof_sizes(10**9)["inclusion_oldest_bytes"] == 960
    with pytest.raises(ValueError):
        compare.proof_sizes(1)


@pytest.mark.parametrize("old,new", [(1, 2), (2, 1026), (1000, 2024), (1024, 2048), (10**9, 10**9 + 1024),
                                     (2**40, 2**40 + 1), (2**40 - 1, 2**41 + 3)])
def test_simulated_consistency_verifies_and_has_no_zero_byte(old: int, new: int) -> None:
    old_root, new_root, proof = compare.simulated_consistency(old, new, random.Random(old))
    verify_consistency(old, new, old_root, new_root, proof)
    assert all(0 not in h for h in proof)  # calldata gas does not depend on the draw


@pytest.mark.parametrize("index,size", [(0, 1), (0, 10**9), (10**9 - 1, 10**9), (123_456_789, 10**9)])
def test_simulated_inclusion_verifies(index: int, size: int) -> None:
    leaf, proof, root = compare.simulated_inclusion(index, size, random.Random(size))
    verify_inclusion(index, size, leaf, proof, root)
    assert len(proof) == _inclusion_proof_length(index, size)


def test_ratio_and_number_cells() -> None:
    assert compare.ratio(67_523, 349_925) == "0.19"
    assert compare.ratio(83, 24_583) == "0.0034"
    assert compare.ratio(1, None) == "—" and compare.ratio(None, 2) == "—" and compare.ratio(1, 0) == "—"
    assert compare.num(35_368) == "35,368" and compare.num(8.44) == "8.4" and compare.num(None) == "—"


def _run(workers: int, rnd: int, batch: float, single: float) -> dict[str, Any]:
    return {"workers": workers, "round": rnd,
            "single": {"reviews": 100, "refused": 0, "per_s": single, "latency_ms": {"p50": 50, "p99": 200}},
            "batch": {"reviews": 2000, "batch_size": 1000, "per_s": batch, "refused_batches": 0},
            "mmd": {"mmd": 10, "leaves": 2200, "checkpoints": 3, "delay_s": {"p50": 1, "p99": 2, "max": 3},
                    "broken": 0, "unanchored": 0},
            "machine_busy": 0.97}


def results(api: bool = True) -> dict[str, Any]:
    """A small fixed results dict in the shape of compare.py's --json (string keys, as JSON returns them)."""
    certificates = {
        "issue": {"tl": 60_000, "eas": 300_000, "lb": {"value": 50_000}},
        "anchor": {"tl": 80_000, "eas": 320_000},
        "batch": {str(n): {"tl": 60_000 / n ** 0.1, "eas": 300_000.0, "lb": {"value": 30_000}}
                  for n in (1, 10, 100)},
        "revoke": {"tl": 40_000, "eas": 80_000, "lb": {"value": 30_000}},
    }
    docstore = {"issue": 48_000, "issue_floor": 45_000, "revoke": 48_000, "revoke_floor": 45_000,
                "root": {str(n): 48_000 for n in compare.REVIEW_BATCHES},
                "bulk": {str(n): {"per": 24_000.0, "floor": 23_500.0} for n in (1, 10, 100)}}
    reviews = {"starts": [1_000_001, 1_000_002],
               "by_batch": {str(n): {"per_mean": 80_000 / n, "per_max": 82_000 / n}
                            for n in compare.REVIEW_BATCHES}}
    eas_ts = {"root": 46_000, "multi": {str(n): 24_000 * n for n in (1, 10, 100, 1000)}}
    growth = []
    for k in (3, 9):
        n = 10**k
        growth.append({**compare.proof_sizes(n), "source": "real tree" if k == 3 else "simulated",
                       "py_inclusion_us": 10.0 * k / 3, "py_consistency_us": 12.0,
                       "verify_inclusion_gas": 40_000 + k,
                       "verify_inclusion_execution_gas": 10_000 + k, "checkpoint_gas": 70_000 + k})
    out: dict[str, Any] = {"gas": {
        "certificates": certificates, "docstore": docstore, "eas_timestamps": eas_ts, "reviews": reviews,
        "growth": growth, "chain": {"version": "anvil 1.7.1", "hardfork": "cancun", "chain_id": 31337},
        "docstore_info": {"package": "@govtechsg/document-store 3.0.0", "contract_version": "2.3.0",
                          "solc": "0.8.2", "runtime_bytes": 4096, "deploy_gas": 1_106_440},
        "eas_info": {"package": "@ethereum-attestation-service/eas-contracts 1.9.0",
                     "contract_version": "1.4.0", "solc": "0.8.29"},
    }}
    if api:
        runs = [_run(1, 1, 2000, 500), _run(2, 1, 3000, 450), _run(1, 2, 2200, 520), _run(2, 2, 3300, 470)]
        out["api"] = {"runs": runs}
    return out


META = {"command": "python scripts/bench/compare.py", "date": "2026-11-27 06:00 UTC", "wall_s": 300.0,
        "machine": "Linux x86_64, test CPU, 2 cores", "load": [1.0, 2.0]}


def test_report_renders_ratios_tables_and_plot_link() -> None:
    text = compare.render(results(), META)
    begin, end = _report.markers("compare")
    assert text.startswith(begin) and text.endswith(end)
    assert "](docs/bench/gas-per-record.png)" in text
    # certificate: 60,000 vs 300,000 (EAS) and 48,000 (DocumentStore)
    assert ("| certificate, one per transaction | issue | 60,000 | attest | 300,000 | issue(document hash) | "
            "48,000 | 0.20 | 1.25 |") in text
    assert "| revocation | revoke | 40,000 | revoke | 80,000 | revoke | 48,000 | 0.50 | 0.83 |" in text
    assert ("| certificate in a batch of 100, per record, DocumentStore by batch root | issueBatch / n | "
            "37,857 | multiAttest / n | 300,000 | issue(batch root) / n | 480.0 | 0.13 | 78.87 |") in text
    # anchored reviews at n = 1,000: 80 per review against 24,000 (multiTimestamp), 46 and 48 (roots)
    assert "| 1,000 | 80.0; 82.0 | 24,000 | 46.0 | 48.0 | 0.0033 | 1.74 | 1.67 |" in text
    assert "| 10,000 | 8.0; 8.2 | — |" in text  # no multiTimestamp of 10,000: no block holds it
    assert "| 10^9 | simulated | 30 (960 B) |" in text
    # API: medians over rounds and ratios to one worker's median (2,100/s and 510/s)
    assert "| **2** | median of 2 | **3,150** | **1.50** | **460** | **0.90** |" in text
    assert "1.50× one worker's rate in batches and 0.90× in single requests" in text
    assert "load average (1 min) 1.0 at the start, 2.0 at the end" in text
    assert "solc 0.8.2" in text and "nothing recompiled" in text


def test_report_without_api_says_so() -> None:
    text = compare.render(results(api=False), META)
    assert "Not measured in this run (`--no-api`)." in text


def test_api_summary_and_headline() -> None:
    r = results()
    s = compare.api_summary(r["api"]["runs"])
    assert s[1]["batch_per_s"] == 2100 and s[2]["batch_vs_1"] == pytest.approx(1.5)
    assert s[2]["single_vs_1"] == pytest.approx(460 / 510)
    h = compare.headline(r)
    assert h["certificate_tl_eas"] == pytest.approx(0.2) and h["certificate_tl_ds"] == pytest.approx(1.25)
    assert h["revoke_tl_ds"] == pytest.approx(40_000 / 48_000)
    assert h["batch100_tl_ds_root"] == pytest.approx(60_000 / 100 ** 0.1 / 480)
    assert h["review_per_record_1000"] == pytest.approx(80.0)
    assert h["proof_hashes_1e9"] == {"inclusion": 30, "consistency": 15}
    assert h["api"]["2"]["batch_vs_1"] == pytest.approx(1.5)


def test_section_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# TrustLedger benchmarks\n\n<!-- gas:begin -->\ngas\n<!-- gas:end -->\n")
    _report.write_section("compare", compare.render(results(), META), path)
    _report.write_section("compare", compare.render(results(api=False), META), path)
    text = path.read_text()
    assert text.count("<!-- compare:begin -->") == 1 and "gas\n<!-- gas:end -->" in text
    assert "Not measured in this run" in text and "median of 2" not in text


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "gas-per-record.png"
    compare.plot(results()["gas"], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
