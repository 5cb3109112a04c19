#!/usr/bin/env python
"""Crash-test subprocess for the review log: submit one review and print its receipt as JSON.

    python tests/storage/reviewlog_crash.py URL SCHEMA ORDER_ID TEXT

SCHEMA is "" for none (SQLite). Run with ``TRUSTLEDGER_FAULT=after_append`` the service exits with status
137 after the batch committed and before the receipt is signed (see ``ledger.reviewlog``), which is what
tests/storage/test_reviewlog.py::test_crash_between_append_and_receipt does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.storage import Database
from tests.storage.reviewlog_helpers import REAL_TIME_PURCHASE, make_service, submission


def main() -> int:
    url, schema, order_id, text = sys.argv[1:5]
    db = Database(url, schema=schema or None)
    service = make_service(db, clock=time.time)
    try:
        receipt = service.submit(submission(order_id, text=text, purchased_at=REAL_TIME_PURCHASE))
    finally:
        service.close()
        db.dispose()
    print(json.dumps(receipt.to_json()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
