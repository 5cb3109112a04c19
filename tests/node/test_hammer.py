"""The hammer (scripts/hammer.py) in its short bounded form, so that every `make test` hammers the service.

`make hammer` runs it for 60 s with 16 clients; here a few clients for a few seconds, on its own Anvil and
service (free ports, a fresh state folder, MMD 5 s), are enough to check that the harness itself still works
end to end against the current API: operations of every kind go through, every receipt's promise is checked
from the chain and holds, consistency proofs verify, nothing is duplicated, and the index rebuilt from the
chain equals the live one. A regression anywhere in the write paths shows here as a failure by type.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]


def test_a_short_hammer_breaks_no_promise() -> None:
    run = subprocess.run([sys.executable, "scripts/hammer.py", "--seconds", "12", "--clients", "6", "--json",
                          "--seed", "9"], check=False, cwd=REPO, capture_output=True, text=True, timeout=180)
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
