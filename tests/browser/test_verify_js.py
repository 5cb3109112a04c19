"""The page's own SHA-256 and RFC 6962 code (api/static/verify.js), vector-tested in node: the FIPS 180-4
examples, every padding length, the repository's Merkle vectors (valid and tampered, uint64 sizes), and the
isCheckpoint calldata and selectors against eth_abi and the ReviewLog ABI. The same cases run in Chromium in
test_page_browser.py. Node is part of the toolchain (``make test`` installs the Hardhat node with it); without
it these skip and say so."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict
from typing import Any

import pytest
from eth_utils.abi import function_abi_to_4byte_selector

from .vectors import REPO, RUN_CASES_JS, VERIFY_JS, all_cases, mismatches

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node not found on PATH (Node 20 runs the page's JS vectors)")


def node(args: list[str], stdin: str = "") -> str:
    assert NODE is not None
    r = subprocess.run([NODE, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_sha256_and_rfc6962_vectors_in_node() -> None:
    cases = all_cases()
    results: list[dict[str, Any]] = json.loads(node([str(RUN_CASES_JS), str(VERIFY_JS)],
                                                    json.dumps([c.case for c in cases])))
    assert mismatches(cases, results) == []
    # the vectors hold both verdicts, tampered proofs among them, and sizes beyond 2^53
    oks = [c.ok for c in cases if c.ok is not None]
    assert oks.count(True) >= 30 and oks.count(False) >= 30
    assert any(int(c.case["size"]) > 2**53 and c.ok for c in cases if c.case["kind"] == "inclusion")
    assert asdict(cases[0])["name"].startswith("nist:")


def test_selectors_are_the_review_logs() -> None:
    abi = json.loads((REPO / "ledger" / "artifacts" / "ReviewLog.json").read_text())["abi"]
    want = {f"{f['name']}({','.join(i['type'] for i in f['inputs'])})": "0x" + function_abi_to_4byte_selector(f).hex()
            for f in abi if f["type"] == "function"}
    got = json.loads(node(["-e", (f"process.stdout.write(JSON.stringify(require({json.dumps(str(VERIFY_JS))})"
                                 ".SELECTORS))")]))
    assert got and all(want[signature] == selector for signature, selector in got.items())


def test_no_webcrypto_and_nothing_external() -> None:
    """The page's scripts use no crypto.subtle (absent on plain HTTP) and load nothing from another origin."""
    for name in ("verify.js", "page.js"):
        source = (REPO / "api" / "static" / name).read_text()
        assert "subtle." not in source and "subtle(" not in source
        assert "http://" not in source and "https://" not in source and "import(" not in source
