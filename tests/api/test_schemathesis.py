"""Schemathesis over /openapi.json: every operation gets generated requests, valid and invalid; none may be
answered with a server error, and every error must be problem+json.

The app runs with a real ledger on the test chain (workers stopped), its lifespan held open by a blocking
portal, and Schemathesis calls it in process. ``TRUSTLEDGER_SCHEMATHESIS_EXAMPLES`` sets the examples per
operation (default 30); the test fails unless at least 1,000 cases ran in total.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from ledger.service import Ledger

from ..conftest import World
from .conftest import api_settings

pytestmark = pytest.mark.chain

EXAMPLES = int(os.environ.get("TRUSTLEDGER_SCHEMATHESIS_EXAMPLES", "30"))
MINIMUM_CASES = 1000


@pytest.fixture
def served_app(world: World, tmp_path: Path) -> Iterator[Any]:
    settings_ = api_settings(world, tmp_path, write_burst=10**9, write_rate=10**6)
    ledger = Ledger.open(settings_, w3=world.w3)
    app = create_app(settings_, ledger=ledger, start_workers=False, access_log=False)
    try:
        with start_blocking_portal() as portal, portal.wrap_async_context_manager(app.router.lifespan_context(app)):
            yield app
    finally:
        ledger.close()


def test_no_generated_request_gets_a_server_error(served_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", served_app)
    total = 0
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal total
            total += 1
            response = case.call()
            status = response.status_code
            if status >= 500:
                failures.append(f"{case.operation.label}: {status} {response.text[:300]}")
            elif status >= 400 and not response.headers.get("content-type", [""])[0].startswith(
                    "application/problem+json"):
                failures.append(f"{case.operation.label}: {status} as {response.headers.get('content-type')}")

        run()
    print(f"schemathesis: {total} cases over {operations} operations, {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])
    assert total >= MINIMUM_CASES, f"only {total} cases ran"
