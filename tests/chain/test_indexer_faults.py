"""The indexer behind a provider that refuses ranges and times out: it converges, no event missed or doubled.

A middleware in front of ``eth_getLogs`` refuses ranges wider than ``max_blocks`` and answers with more than
``max_logs`` results, with the error texts real providers send, and times out at random (a seeded random, so a
failure replays). The indexer behind it must end with exactly the index a well-behaved provider gives.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import requests
from web3 import Web3
from web3.middleware.base import Web3Middleware
from web3.types import RPCEndpoint, RPCResponse

from ledger.eip712 import certificate_id
from ledger.indexer import Indexer, IndexerError
from ledger.manifest import Manifest
from ledger.storage import Database

from ..conftest import World
from .test_certificates import make_cert
from .test_governance import force_send

pytestmark = pytest.mark.chain

# (message, JSON-RPC code) as providers send them when a range is too wide or answers too much
RANGE_REFUSALS = [
    ("query returned more than 10000 results", -32005),  # Infura
    ("eth_getLogs and eth_newFilter are limited to a 10,000 blocks range", -32614),  # QuickNode
    ("block range is too wide", -32600),  # Ankr
    ("exceed maximum block range: 5", -32000),  # geth with a range limit
    ("Requested range exceeds maximum range limit", -32005),  # Besu
]
TIMEOUTS = ["request timed out", "Query timeout exceeded"]


def alchemy(first: int, last: int) -> str:
    """Alchemy's refusal, with the range it says it would serve."""
    return ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no "
            "limit on the response size, or you can request any block range with a cap of 10K logs in the "
            "response. Based on your parameters and the response size limit, this block range should work: "
            f"[{hex(first)}, {hex(last)}]")


def _block(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


class Faults:
    """What the faulty provider does, and what it did."""

    def __init__(self, *, max_blocks: int, max_logs: int, timeout_rate: float, seed: int) -> None:
        self.max_blocks, self.max_logs, self.timeout_rate = max_blocks, max_logs, timeout_rate
        self.random = random.Random(seed)
        self.refused = self.timeouts = self.served = 0

    def middleware(self, w3: Any) -> Web3Middleware:
        faults = self

        class FaultyGetLogs(Web3Middleware):
            def wrap_make_request(self, make_request: Callable[..., RPCResponse]) -> Callable[..., RPCResponse]:
                def request(method: RPCEndpoint, params: Any) -> RPCResponse:
                    if method != "eth_getLogs":
                        return make_request(method, params)
                    return faults.get_logs(make_request, method, params)
                return request

        return FaultyGetLogs(w3)

    def error(self, message: str, code: int) -> RPCResponse:
        return {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}

    def get_logs(self, make_request: Callable[..., RPCResponse], method: RPCEndpoint, params: Any) -> RPCResponse:
        first, last = _block(params[0]["fromBlock"]), _block(params[0]["toBlock"])
        roll = self.random.random()
        if roll < self.timeout_rate / 2:
            self.timeouts += 1
            raise requests.exceptions.ReadTimeout("HTTPConnectionPool: Read timed out. (read timeout=10)")
        if roll < self.timeout_rate:
            self.timeouts += 1
            return self.error(self.random.choice(TIMEOUTS), -32000)
        if last - first + 1 > self.max_blocks:
            self.refused += 1
            if self.random.random() < 0.3:
                return self.error(alchemy(first, first + self.max_blocks - 1), -32602)
            return self.error(*self.random.choice(RANGE_REFUSALS))
        response = make_request(method, params)
        if len(response.get("result") or []) > self.max_logs:
            self.refused += 1
            return self.error(f"query returned more than {self.max_logs} results", -32005)
        self.served += 1
        return response


def faulty_web3(world: World, faults: Faults) -> Web3:
    w3 = Web3(world.w3.provider)
    w3.middleware_onion.add(faults.middleware, name="faulty-get-logs")
    return w3


def issue_many(world: World, n: int, *, empty_every: int = 3) -> list[bytes]:
    """``n`` certificates, one per block, with empty blocks in between (ranges of mixed density)."""
    ids = []
    for i in range(n):
        c = make_cert(world, f"faults-{i}")
        assert force_send(world, world.actors.issuer, world.d.registry.functions.issue(c.as_tuple()))["status"] == 1
        ids.append(certificate_id(c))
        if i % empty_every == 0:
            world.chain.increase_time(1)
    return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_refusals_and_timeouts_converge_to_the_same_index(world: World, database: Database, manifest: Manifest,
                                                           seed: int) -> None:
    ids = issue_many(world, 24)
    faults = Faults(max_blocks=6, max_logs=4, timeout_rate=0.25, seed=seed)
    ix = Indexer(faulty_web3(world, faults), database, manifest, max_range=64, retry_delay=0)
    result = ix.sync()
    assert result.cursor == world.w3.eth.block_number
    assert faults.refused > 0 and faults.timeouts > 0
    assert result.refusals == faults.refused + faults.timeouts
    issued = ix.events(contract="CertificateRegistry", event="CertificateIssued")
    assert sorted(e.args["id"] for e in issued) == sorted("0x" + i.hex() for i in ids)  # none missed or doubled
    behind_faults = ix.snapshot()
    honest = Indexer(world.w3, database, manifest, retry_delay=0)
    honest.rebuild()
    assert honest.snapshot() == behind_faults


def test_a_single_block_refused_every_time_is_a_named_error(world: World, database: Database,
                                                             manifest: Manifest) -> None:
    """A block with more logs than the provider will ever return cannot be split: the sync stops, and says why."""
    reg = world.d.registry.functions
    batch = [make_cert(world, f"batch-{i}").as_tuple() for i in range(6)]
    force_send(world, world.actors.issuer, reg.issueBatch(batch), gas=5_000_000)
    faults = Faults(max_blocks=1000, max_logs=4, timeout_rate=0.0, seed=0)
    ix = Indexer(faulty_web3(world, faults), database, manifest, max_retries=3, retry_delay=0)
    with pytest.raises(IndexerError, match="failed 4 times in a row") as info:
        ix.sync()
    assert "more than 4 results" in str(info.value.__cause__)
    stuck = ix.cursor()
    assert stuck == world.w3.eth.block_number - 1  # everything before the block is indexed and kept
    honest = Indexer(world.w3, database, manifest, retry_delay=0)
    honest.sync()
    assert len(honest.events(event="CertificateIssued")) == 6  # the world fixture issues none
