"""A TrustLedger sender process for the crash tests: submits N value transfers and waits for each.

    python -m tests.node.sender_worker DB_URL SCHEMA|- RPC_URL KEY_HEX SEED N

Write i pays ``1000 + i`` wei to the address derived from ``SEED:i`` under the idempotency key ``SEED:i``; a
line ``confirmed i`` is printed as each one is final. ``TRUSTLEDGER_FAULT`` (see ``ledger.sender``) makes
the process die at a chosen point, as a SIGKILL would.
"""

from __future__ import annotations

import sys

from eth_account import Account
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger.sender import TxSender
from ledger.storage import Database


def recipient(seed: str, i: int) -> str:
    return str(Account.from_key(keccak(text=f"recipient:{seed}:{i}")).address)


def main(argv: list[str]) -> int:
    db_url, schema, rpc_url, key, seed, n = argv
    db = Database(db_url, schema=None if schema == "-" else schema)
    w3 = Web3(HTTPProvider(rpc_url, exception_retry_configuration=None))
    sender = TxSender(w3, db, Account.from_key(key))
    sender.recover()
    for i in range(int(n)):
        sender.submit(f"{seed}:{i}", recipient(seed, i), b"", value=1000 + i)
    print("submitted", flush=True)
    for i in range(int(n)):
        sender.wait(f"{seed}:{i}", timeout=60)
        print(f"confirmed {i}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
