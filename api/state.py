"""What a running API holds: the open ledger, the indexer and its worker, limits, metrics and switches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from web3.contract import Contract

from ledger.deploy import contract_at
from ledger.indexer import Indexer
from ledger.service import Ledger
from ledger.tally import ReviewTally

from .config import ApiSettings
from .idempotency import IdempotencyStore

__all__ = ["IndexWorker", "Metrics", "RateLimiter", "Services"]


class Metrics:
    """Prometheus metrics of one app (its own registry, so that several apps in one process do not clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("trustledger_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("trustledger_http_request_seconds", "HTTP request duration", ["method", "route"],
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
                                 registry=r)
        self.reviews = Counter("trustledger_reviews_accepted", "reviews accepted into the log", registry=r)
        self.relayed = Counter("trustledger_writes_relayed", "signed requests accepted for relaying",
                               ["contract", "function"], registry=r)
        self.index_errors = Counter("trustledger_indexer_errors", "indexer passes that failed", registry=r)
        self.gauges = {
            name: Gauge(f"trustledger_{name}", help_, registry=r)
            for name, help_ in (
                ("chain_reachable", "1 when the JSON-RPC endpoint answered the last health check"),
                ("chain_head", "latest block number seen"),
                ("index_lag_blocks", "blocks between the chain head and the index cursor"),
                ("log_size", "leaves in the review log"),
                ("anchored_size", "leaves covered by the latest anchored checkpoint"),
                ("checkpoint_age_seconds", "age of the oldest review not yet covered by an anchored checkpoint"),
                ("max_merge_delay_seconds", "the promised maximum merge delay"),
                ("overdue_reviews", "reviews past their merge deadline and not anchored"),
                ("outbox_open", "writes in the outboxes not yet final"),
                ("outbox_failed", "writes in the outboxes that failed"),
                ("relayer_balance_wei", "balance of the relaying key"),
                ("maintenance", "1 while writes are refused"),
            )
        }

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class RateLimiter:
    """A token bucket per client for writes: ``rate`` per second sustained, ``burst`` at once.

    In memory, per process: each replica limits on its own (put a shared limiter in front when running many).
    """

    def __init__(self, rate: float, burst: int, *, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_clients = max_clients

    def take(self, client: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0 when allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[client] = (tokens - cost, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self._max_clients:  # forget full buckets: they start full anyway
                for k in [k for k, (v, _) in self._buckets.items() if v >= self.burst]:
                    del self._buckets[k]
            return (min(cost, self.burst) - tokens) / self.rate


class IndexWorker:
    """Runs :meth:`Indexer.sync` every ``interval`` seconds in a thread, until stopped."""

    def __init__(self, indexer: Indexer, interval: float, log: logging.Logger, metrics: Metrics, *,
                 after_sync: Callable[[], object] | None = None) -> None:
        self.indexer = indexer
        self.after_sync = after_sync  # runs after each successful pass (e.g. applying takedowns to the log)
        self.interval = interval
        self.log = log
        self.metrics = metrics
        self.last_error: str | None = None
        self.last_sync: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="trustledger-indexer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            try:
                self.indexer.sync()
                if self.after_sync is not None:
                    self.after_sync()
            except Exception as exc:  # noqa: BLE001 - a failed pass is logged and retried with backoff
                self.metrics.index_errors.inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.log.warning("indexer pass failed", extra={"error": self.last_error})
                delay = min(delay * 2, 30.0)
            else:
                self.last_error = None
                self.last_sync = time.time()
                delay = self.interval
            self._stop.wait(delay)


@dataclass
class Services:
    """Everything the routes use; one per app, at ``app.state.services``."""

    settings: ApiSettings
    ledger: Ledger
    indexer: Indexer
    idempotency: IdempotencyStore
    limiter: RateLimiter
    metrics: Metrics
    log: logging.Logger
    maintenance: bool = False
    access_log: bool = True
    tally: ReviewTally | None = None
    index_worker: IndexWorker | None = None
    contracts: dict[str, Contract] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: ApiSettings, ledger: Ledger, log: logging.Logger, *,
              access_log: bool = True) -> Services:
        indexer = Indexer(ledger.w3, ledger.db, ledger.manifest, confirmation_depth=settings.confirmation_depth)
        metrics = Metrics()
        contracts = {name: contract_at(ledger.w3, name, ledger.manifest.address(name))
                     for name in ("TrustGovernance", "CertificateRegistry", "ReviewLog", "DisputeRegistry",
                                  "TrustForwarder")}
        return cls(settings=settings, ledger=ledger, indexer=indexer,
                   idempotency=IdempotencyStore(ledger.db, settings.idempotency_ttl),
                   limiter=RateLimiter(settings.write_rate, settings.write_burst), metrics=metrics, log=log,
                   maintenance=settings.maintenance, access_log=access_log, contracts=contracts,
                   tally=ReviewTally(ledger.db, ledger.reviews))
