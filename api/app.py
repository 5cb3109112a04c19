"""The TrustLedger HTTP service: :func:`create_app` builds it; ``uvicorn api.app:app`` serves it from settings.

The lifespan opens the ledger (chain, manifest check, database, review log, outboxes, checkpointer) and the
indexer, starts their workers, and stops them in reverse order on shutdown. Tests pass a ready ``ledger``
and ``start_workers=False`` to drive the workers themselves.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from web3 import Web3

from ledger.service import Ledger

from .config import ApiSettings
from .middleware import Idempotency, JsonFormatter, RequestContext
from .problems import install_handlers
from .routes import ROUTERS
from .state import IndexWorker, Services
from .takedowns import apply_takedowns

__all__ = ["create_app"]


def after_index(services: Services) -> None:
    """After each index pass: apply the rulings' takedowns to the log, and count the reviews under the newly
    anchored checkpoints (the trust profiles read those counts instead of every leaf)."""
    apply_takedowns(services)
    if services.tally is not None:
        services.tally.catch_up(services.indexer.checkpoints())

API_VERSION = "1"

DESCRIPTION = """\
TrustLedger: product quality certificates, an append-only review log and dispute outcomes, anchored on an
EVM chain so that anyone can check a product's record from the chain alone.

* **Reads are public.** Every answer that matters carries its evidence (transaction, block, checkpoint), and
  `GET /v1/bundles/...` exports a proof bundle that verifies with no server at all.
* **Writes carry their actor's own authority.** Role-guarded writes are ERC-2771 forward requests signed by the
  actor (`POST /v1/relay/prepare` builds the EIP-712 message to sign); the service relays them with a key that
  holds no role. Reviews carry the platform's purchase attestation. The operator's own automation uses a
  bearer token.
* **Errors** are RFC 9457 problem+json; `type` is a stable `urn:trustledger:problem:<slug>`.
* **Retries are safe**: send `Idempotency-Key` on writes; relayed requests are idempotent by signer nonce and
  reviews by purchase.
"""


def _logger() -> logging.Logger:
    log = logging.getLogger("trustledger.api")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def create_app(settings: ApiSettings | None = None, *, ledger: Ledger | None = None, w3: Web3 | None = None,
               start_workers: bool = True, access_log: bool = True) -> FastAPI:
    """The app. Without ``ledger`` the lifespan opens one from ``settings`` (and closes it)."""
    settings = settings or ApiSettings()
    log = _logger()
    holder: dict[str, Services] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = ledger is None
        opened: Ledger = ledger if ledger is not None else \
            await anyio.to_thread.run_sync(lambda: Ledger.open(settings, w3=w3))
        services = Services.build(settings, opened, log, access_log=access_log)
        worker: IndexWorker | None = None
        try:
            if start_workers:
                await anyio.to_thread.run_sync(opened.start)
                worker = IndexWorker(services.indexer, settings.index_interval, log, services.metrics,
                                     after_sync=lambda: after_index(services))
                services.index_worker = worker
                worker.start()
            holder["services"] = services
            app.state.services = services
            log.info("started", extra={"chain_id": opened.manifest.chain_id, "workers": start_workers})
            yield
        finally:
            holder.pop("services", None)
            if worker is not None:
                await anyio.to_thread.run_sync(worker.stop)
            if own:
                await anyio.to_thread.run_sync(opened.close)
            log.info("stopped")

    app = FastAPI(title="TrustLedger", version=API_VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.log = log
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Idempotency-Key", "Authorization", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Location", "Retry-After"])

    def services() -> Services | None:
        return holder.get("services")

    app.add_middleware(Idempotency, services=services)
    app.add_middleware(RequestContext, services=services, max_body_bytes=settings.max_body_bytes)
    return app


def __getattr__(name: str) -> Any:
    """``api.app:app`` for ``uvicorn api.app:app``: built from the environment on first use."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
