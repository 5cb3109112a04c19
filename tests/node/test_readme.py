"""The README's walk-through, run as written against a real `trustledger up`, so that its examples cannot rot.

The README marks the blocks to run with an info string: ```` ```sh readme-test ```` and ```` ```python readme-test ````;
the one marked ```` ```sh readme-test session ```` is what a reader types once in the terminal (activate the
venv, export ``API``/``RPC``/``TL_HOME`` with the ``make up`` defaults, a JSON helper), so it is put in front of
every other shell block here, as the reader's terminal keeps it. The blocks run in README order, in one scratch
folder (the reader's current folder: ``cert.id``, ``leaf.index`` and the bundles pass from block to block
there), with ``.venv`` linked into it and ``API``, ``RPC`` and ``TL_HOME`` pointing at the service this test
started on free ports, in a temporary home, with a 3 s maximum merge delay. Shell blocks run in bash with
``set -euo pipefail``, Python blocks with the venv's python; each must exit 0, and what each user's section prints
is checked against the service.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..cli.test_live import _cli, _free_port, _interrupt, _wait

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCK = re.compile(r"^```(sh|python) readme-test( session)?\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^### (.+)$", re.MULTILINE)
BLOCK_TIMEOUT = 60
ENV_DEFAULTS = {"API": "http://127.0.0.1:8000", "RPC": "http://127.0.0.1:8545", "TL_HOME": ".trustledger"}


@dataclass(frozen=True)
class Block:
    language: str
    session: bool
    code: str
    section: str
    line: int


def readme_blocks(text: str) -> list[Block]:
    """The marked blocks in order, each with the `###` heading it sits under and its line in README.md."""
    headings = [(m.start(), m.group(1)) for m in HEADING.finditer(text)]
    out = []
    for m in BLOCK.finditer(text):
        section = next((h for pos, h in reversed(headings) if pos < m.start()), "")
        out.append(Block(m.group(1), m.group(2) is not None, m.group(3), section, text.count("\n", 0, m.start()) + 1))
    return out


@dataclass(frozen=True)
class Service:
    api: str
    rpc: str
    home: Path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    home, port, chain_port = tmp_path / "home", _free_port(), _free_port()
    api, rpc = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{chain_port}"
    proc = _cli("up", "--home", home, "--port", str(port), "--chain-port", str(chain_port),
                env={"TRUSTLEDGER_MAX_MERGE_DELAY": "3", "TRUSTLEDGER_INDEX_INTERVAL": "0.2"})
    try:
        _wait(lambda: proc.poll() is None and httpx.get(f"{api}/v1/health", timeout=2).status_code == 200,
              "trustledger up answers", 90)
        yield Service(api, rpc, home)
    finally:
        _interrupt(proc)


def run_block(block: Block, session: str, cwd: Path, env: dict[str, str]) -> str:
    if block.language == "sh":
        argv = ["bash", "-c", f"set -euo pipefail\n{session}\n{block.code}"]
    else:
        argv = [str(REPO / ".venv" / "bin" / "python"), "-c", block.code]
    started = time.monotonic()
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False)
    where = f"README.md line {block.line} ({block.language}, {block.section or 'session'})"
    assert r.returncode == 0, f"{where} exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    print(f"{where}: {time.monotonic() - started:.1f} s\n{r.stdout}")
    return r.stdout


def test_readme_parses_into_the_walk_through() -> None:
    blocks = readme_blocks(README.read_text())
    assert [b.session for b in blocks].count(True) == 1 and blocks[0].session and blocks[0].language == "sh"
    sections = {b.section.split(":")[0] for b in blocks[1:]}
    assert sections == {"Merchant", "Platform", "Consumer", "Auditor"}, sections
    for section in sections:  # curl and Python for each user
        assert {b.language for b in blocks if b.section.startswith(section)} == {"sh", "python"}, section
    # The service, chain and home come from the environment, with the `make up` defaults, so that the test's
    # service is the one the blocks talk to (never a reader's `make up` left running on the default ports).
    session = blocks[0].code
    for default in ("${API:-http://127.0.0.1:8000}", "${RPC:-http://127.0.0.1:8545}", "${TL_HOME:-.trustledger}"):
        assert default in session, default
    for b in blocks[1:]:
        code = b.code
        if b.language == "python":
            for name, value in ENV_DEFAULTS.items():
                code = code.replace(f'os.environ.get("{name}", "{value}")', "")
        assert "127.0.0.1" not in code and ".trustledger" not in code, f"README.md line {b.line} ignores the env"


def test_readme_walk_through_runs_against_trustledger_up(service: Service, tmp_path: Path) -> None:
    blocks = readme_blocks(README.read_text())
    session = blocks[0].code
    cwd = tmp_path / "reader"
    cwd.mkdir()
    (cwd / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(API=service.api, RPC=service.rpc, TL_HOME=str(service.home), COLUMNS="200", NO_COLOR="1")
    out: dict[str, str] = {}
    for block in blocks:
        section = block.section.split(":")[0] if block.section else "session"
        out[section] = out.get(section, "") + run_block(block, session, cwd, env)

    # Merchant: the offer was anchored, and the certificate the walk-through names is valid on chain
    cert = (cwd / "cert.id").read_text()
    assert re.fullmatch(r"0x[0-9a-f]{64}", cert), cert
    assert f"offered {cert}" in out["Merchant"] and f"anchored {cert} in block" in out["Merchant"]
    assert "valid issuer accredited at issue: True" in out["Merchant"] and "offer anchored" in out["Merchant"]
    assert "['CertificateIssued']" in out["Merchant"]
    got = httpx.get(f"{service.api}/v1/certificates/{cert}", params={"source": "chain"}).json()
    assert (got["status"], got["source"]) == ("valid", "chain"), got
    # Platform: the review went in and the receipt was handed back
    leaf = int((cwd / "leaf.index").read_text())
    assert f"review {leaf} receipt signature 0x" in out["Platform"] and "inclusion:" in out["Platform"]
    # Consumer: the record, the page, and both bundles verified
    assert f"('{cert[:10]}', 'valid')" in out["Consumer"]
    assert "open " + service.api + "/p/0x" in out["Consumer"]
    assert re.search(r"VALID +certificate " + cert, out["Consumer"])
    assert re.search(r"VALID +review 0x[0-9a-f]{64} +\(review.json, checked offline and against the chain\)",
                     out["Consumer"])
    assert f"certificate {cert[:10]} at purchase: valid" in out["Consumer"]
    assert "review bundle: valid" in out["Consumer"]
    assert "trust score" in out["Consumer"]
    page = (cwd / "product.html").read_text()
    assert cert in page and "<html" in page
    assert int(json.loads((cwd / "review.json").read_text())["review"]["leafIndex"]) == leaf
    # Auditor: the CLI's audit holds and the chain confirms the recomputed root
    assert "CONSISTENT" in out["Auditor"] and "INCONSISTENT" not in out["Auditor"]
    assert re.search(r"checkpoint \d+ \(size \d+\): root 0x[0-9a-f]{8}… anchored on chain: True", out["Auditor"])
    assert "CertificateIssued" in out["Auditor"] and "signals:" in out["Auditor"]
    assert (cwd / "events.csv").read_text().startswith("blockNumber,logIndex")
