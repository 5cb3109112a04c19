"""The review log's anchored checkpoints read from the chain alone (``CheckpointAnchored`` events).

Read in block slices from the deploy block rather than in one ``eth_getLogs`` over the whole chain, since
public providers refuse large ranges; a refused slice is halved. Strictly what the ReviewLog contract emitted:
nothing here comes from the service being audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import HexStr
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import FilterParams

from ledger.deploy import contract_at
from ledger.manifest import Manifest

__all__ = ["AnchoredCheckpoint", "anchored_checkpoints"]

_TOPIC = keccak(text="CheckpointAnchored(uint256,uint64,bytes32,uint40)")


@dataclass(frozen=True)
class AnchoredCheckpoint:
    """One ``CheckpointAnchored`` event: the ReviewLog accepted (size, root) as checkpoint ``index``."""

    index: int
    size: int
    root: bytes
    timestamp: int
    block_number: int
    tx_hash: bytes


def anchored_checkpoints(w3: Web3, manifest: Manifest, *, span: int = 5000) -> list[AnchoredCheckpoint]:
    """Every checkpoint the manifest's ReviewLog anchored, in chain order."""
    contract = contract_at(w3, "ReviewLog", manifest.address("ReviewLog"))
    event = contract.events.CheckpointAnchored()
    head = int(w3.eth.block_number)
    out: list[AnchoredCheckpoint] = []
    first = manifest.deploy_block
    while first <= head:
        last = min(head, first + span - 1)
        params: FilterParams = {"address": contract.address, "fromBlock": first, "toBlock": last,
                                "topics": [HexStr("0x" + _TOPIC.hex())]}
        try:
            logs = w3.eth.get_logs(params)
        except Web3RPCError:
            if span == 1:
                raise
            span = max(1, span // 2)
            continue
        for log in logs:
            args = event.process_log(log)["args"]
            out.append(AnchoredCheckpoint(int(args["index"]), int(args["size"]), bytes(args["root"]),
                                          int(args["timestamp"]), int(log["blockNumber"]),
                                          bytes(log["transactionHash"])))
        first = last + 1
    return out
