"""ASGI middleware: request ids, structured access logs and metrics, body size limits, idempotent retries.

Pure ASGI (no ``BaseHTTPMiddleware``): each costs a few microseconds per request, and none buffers a
streamed response (exports stream NDJSON and CSV).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request

from .problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from .state import Services

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A request id the service makes: a random prefix per process and a counter (uuid4 reads os.urandom per call,
# a measurable share of the event loop under load); unique across replicas with overwhelming probability.
_ID_PREFIX = secrets.token_hex(6) + "-"
_ID_COUNTER = itertools.count(1)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``extra`` fields."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


async def _send_problem(scope: Scope, send: Send, problem: Problem, request_id: str | None) -> None:
    body = problem.body()
    body["instance"] = scope.get("path", "")
    if request_id:
        body["requestId"] = request_id
    raw = json.dumps(body).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(raw)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class _TooLarge(BaseException):
    """Raised from ``receive`` past the limit. A BaseException, so that FastAPI's body parsing (which turns any
    Exception into a 400) lets it through to :class:`RequestContext`, which answers 413."""


class RequestContext:
    """Gives every request an id (the client's ``X-Request-ID`` when well formed), answers it in the
    response, refuses bodies over ``max_body_bytes`` with 413 ``body-too-large``, logs one JSON line per
    request and records its duration in the metrics."""

    def __init__(self, app: ASGIApp, services: Callable[[], Services | None], max_body_bytes: int) -> None:
        self.app = app
        self.services = services
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(text):
                    request_id = text
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
        if request_id is None:
            request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        limit = self.max_body_bytes

        if length is not None and (length < 0 or length > limit):
            problem = Problem(413, "body-too-large", "Request body too large",
                              f"the body may be at most {limit} bytes") if length >= 0 else \
                Problem(400, "bad-request", "Bad request", "malformed Content-Length")
            await _send_problem(scope, send, problem, request_id)
            self._done(scope, problem.status, started, request_id)
            return

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            status = 413
            if not started_response:
                await _send_problem(scope, send, Problem(413, "body-too-large", "Request body too large",
                                                         f"the body may be at most {limit} bytes"), request_id)
        finally:
            self._done(scope, status, started, request_id)

    def _done(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        services = self.services()
        if services is None:
            return
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        method = scope.get("method", "")
        services.metrics.observe_request(method, template, status, elapsed)
        if services.access_log:
            services.log.info("request", extra={"request_id": request_id, "method": method,
                                                "path": scope.get("path"), "route": template, "status": status,
                                                "ms": round(elapsed * 1000, 2)})


class Idempotency:
    """``Idempotency-Key`` on a write: the first request runs, a retry with the same key and the same request
    gets the first response again (header ``Idempotent-Replayed: true``) and writes nothing.

    The same key with a different request (method, path, query or body) is refused with 422
    ``idempotency-key-reused``; a retry while the first is still running gets 409 ``idempotency-key-in-use``.
    Responses with a 5xx status are not kept (the write may not have happened; a retry runs again, and the
    ledger's own idempotency — one review per purchase, one relayed request per signer nonce — keeps it from
    happening twice). Responses are kept ``idempotency_ttl`` seconds.
    """

    def __init__(self, app: ASGIApp, services: Callable[[], Services | None]) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        key = None
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                key = value.decode("latin-1")
                break
        services = self.services()
        if key is None or services is None:
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
            await _send_problem(scope, send, Problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                                                     "the key must be 1 to 255 printable ASCII characters"),
                                request_id)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        digest = hashlib.sha256(b"\n".join([scope["method"].encode(), scope["path"].encode(),
                                            scope.get("query_string", b""), body])).digest()
        store = services.idempotency
        try:
            found = await anyio.to_thread.run_sync(store.begin, key, digest)
        except Problem as problem:
            await _send_problem(scope, send, problem, request_id)
            return
        if found is not None:
            status, content_type, stored = found
            headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(stored)).encode()),
                       (b"idempotent-replayed", b"true")]
            if request_id:
                headers.append((b"x-request-id", request_id.encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": stored})
            return

        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        content_type = "application/json"
        out: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await anyio.to_thread.run_sync(store.abandon, key)
            raise
        if status >= 500:
            await anyio.to_thread.run_sync(store.abandon, key)
        else:
            await anyio.to_thread.run_sync(store.finish, key, status, content_type, b"".join(out))


def client_of(request: Request) -> str:
    """Who a request comes from, for rate limits: the token's holder, else the peer address."""
    auth = request.headers.get("authorization")
    if auth:
        return "token:" + hashlib.sha256(auth.encode()).hexdigest()[:16]
    return "ip:" + (request.client.host if request.client else "unknown")
