"""The mirror end to end: the real service (reviews submitted, anchored by its checkpointer), the checkpoints
read from the chain's events as the CLI reads them, the leaves through the real ``GET /v1/log/leaves``.

Catches what the fakes of tests/unit/test_mirror.py cannot: a route whose JSON shape, limits or leaf encoding
drifted from what ``HttpLeafSource`` parses.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from cli._chainlog import anchored_checkpoints
from ledger.manifest import Manifest
from ledger.mirror import HttpLeafSource, LogMirror

from ..api.conftest import Api, open_api
from ..conftest import World

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]


def bridge(api: Api, loop: asyncio.AbstractEventLoop) -> httpx.Client:
    """A synchronous client (what the mirror uses) over the app's async one, for a mirror run in a thread
    while the test's event loop serves the app."""

    def handle(request: httpx.Request) -> httpx.Response:
        get = api.client.get(request.url.path, params=request.url.params)
        answer = asyncio.run_coroutine_threadsafe(get, loop).result(timeout=30)
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(handle))


async def submit(api: Api, *orders: str) -> None:
    r = await api.client.post("/v1/reviews/batch", json={"reviews": [api.review_body(o) for o in orders]})
    assert r.status_code == 200 and r.json()["refused"] == 0, r.text


async def test_the_service_is_mirrored_against_the_chain_and_resumed(world: World, tmp_path: Path) -> None:
    async for api in open_api(world, tmp_path):
        manifest = Manifest.from_deployment(world.w3, world.d)
        await submit(api, *(f"m-{i}" for i in range(5)))
        api.anchor()
        await submit(api, *(f"n-{i}" for i in range(3)))
        api.anchor()
        await submit(api, "late")  # sequenced, not anchored: not mirrored
        loop = asyncio.get_running_loop()
        with LogMirror(tmp_path / "mirror.db") as m, bridge(api, loop) as http:
            checkpoints = anchored_checkpoints(world.w3, manifest)
            assert [c.size for c in checkpoints] == [5, 8]
            report = await asyncio.to_thread(m.sync, HttpLeafSource(http), checkpoints, page=3)
            assert (report.size, report.verified, report.root) == (8, (0, 1), checkpoints[1].root)
            assert m.leaves(0, 8) == api.ledger.reviews.leaves(0, 8)
            await submit(api, "o-1")
            api.anchor()
            checkpoints = anchored_checkpoints(world.w3, manifest)
            report = await asyncio.to_thread(m.sync, HttpLeafSource(http), checkpoints)
            assert (report.size, report.leaves_added) == (10, 2)
            m.verify_stored()
