"""The hammer (scripts/hammer.py) in its short bounded form, so that every `make test` hammers the service.

`make hammer` runs it for 60 s with 16 clients; here a few clients for a few seconds, on its own Anvil and
service (free ports, a fresh state folder, MMD 5 s), are enough to check that the harness itself still works
end to end against the current API: operations of every kind go through, every receipt's promise is checked
from the chain and holds, consistency proofs verify, nothing is duplicated, and the index rebuilt from the
chain equals the live one. A regression anywhere in the write paths shows here as a failure by type.

Then the privacy check of issue #9 on what the run left (its state folder kept, its Anvil loaded again from
its state): the whole chain decoded and searched, and the service's database searched, for the hammer's
review texts, user ids and order ids (tests/privacy_scan.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from ledger.devnet import start_anvil, stop_anvil

from ..cli.test_live import _free_port
from ..privacy_scan import scan_home

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
PLAINTEXTS = {"a review text": "hammer review ", "a user id": "hammer-user-", "an order id": "-order-"}
"""What the hammer's reviews carry that must stay off the chain and out of the clear: every text is
``hammer review <n>: <r> stars``, every user id ``hammer-user-<k>``, every order id ``hammer-<tag>-order-<n>``
(the platform's: only salted commitments leave it); searched as these parts, so none can slip by."""
CHECKPOINT_ANCHORED = "0x" + keccak(text="CheckpointAnchored(uint256,uint64,bytes32,uint40)").hex()


def test_a_short_hammer_breaks_no_promise(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "scripts/hammer.py", "--seconds", "12", "--clients", "6", "--json",
                          "--seed", "9", "--keep"], check=False, cwd=REPO, capture_output=True, text=True,
                         timeout=180, env={**os.environ, "TMPDIR": str(tmp_path)})
    lines = run.stdout.strip().splitlines()
    assert lines, f"no output (exit {run.returncode}): {run.stderr[-3000:]}"
    out: dict[str, Any] = json.loads(lines[-1])
    detail = json.dumps({k: out[k] for k in ("failures", "failureSamples", "brokenDetails", "duplicates", "index")},
                        indent=1)
    assert out["ops"] > 0 and out["succeeded"] > 0
    assert out["promisesChecked"] > 0 and out["promisesChecked"] == out["receipts"]
    assert out["promisesBroken"] == 0, detail
    assert out["duplicatesTotal"] == 0, detail
    assert out["failedUnexpectedly"] == 0, detail
    assert out["consistencyChecks"] > 0
    assert out["checkpointsInconsistent"] == 0 and out["leavesNotHashingToTheirHash"] == 0
    assert out["index"] is not None and out["index"]["equal"], detail
    kinds = {k.split(":")[0] for k in out["byKind"]}
    assert {"review", "certificate", "dispute", "governance"} <= kinds
    assert run.returncode == 0, run.stderr[-3000:]

    # privacy (issue #9): the chain the hammer wrote (its Anvil's state, loaded again), every call and event from
    # block 0 decoded into hashes, commitments, addresses, enums, numbers, signatures and evidence URIs only,
    # and no review text, user id or order id there in any spelling, nor in clear in the service's database.
    # The evidence URIs (ipfs://hammer-<n>) are on chain by design and the merchant's address is in the
    # database: the scans must find those, so neither is blind.
    [home] = tmp_path.glob("trustledger-hammer-*/home")
    merchant = Account.from_key(json.loads((home / "dev-keys.json").read_text())["merchant"]).address
    anvil, w3 = start_anvil(home, _free_port())
    try:
        found, chain, read = scan_home(w3, home, PLAINTEXTS | {"evidence URI": "ipfs://hammer-"},
                                       PLAINTEXTS | {"the merchant": merchant})
        anchored = len(w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "topics": [CHECKPOINT_ANCHORED]}))
    finally:
        stop_anvil(anvil)
    assert [f for f in found if not f.endswith((": evidence URI", ": the merchant"))] == [], found[:20]
    seen = {re.sub(r"^block \d+ (tx \S+|log \d+) ", "", f) for f in found}
    assert {"calldata: evidence URI", "data: evidence URI", "log_leaves.leaf: the merchant"} <= seen, seen
    assert anchored >= out["checkpointsAudited"] > 0, read  # the whole chain the hammer wrote came back
    assert read["transactions"] >= 30 and read["logs"] >= 60 and read["rows"] > 200, read
    assert {"TrustForwarder.execute", "TrustForwarder.ExecutedForwardRequest", "ReviewLog.appendCheckpoint",
            "ReviewLog.CheckpointAnchored", "DisputeRegistry.Evidence"} <= chain.decoded, sorted(chain.decoded)
    assert {"CertificateRegistry", "TrustGovernance"} <= {d.split(".")[0] for d in chain.decoded}
