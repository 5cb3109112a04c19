"""Errors as RFC 9457 problem details (``application/problem+json``), each with a stable ``type``.

Every error the API answers is a :class:`Problem`: ``type`` is ``urn:trustledger:problem:<slug>``, a value
clients may switch on (the slugs are listed in docs/api.md and never change meaning); ``title`` is the same
for every occurrence of a type; ``detail`` says what was wrong with this request. Extensions:
``requestId`` (also the ``X-Request-ID`` header), ``errors`` (validation errors: where and what, never the
rejected value), ``errorName``/``errorArgs`` (a contract's named custom error).

:func:`problem_for` maps the library's typed exceptions (``ledger.errors.LedgerError`` subclasses) to
problems: the slug is the exception class's name in kebab case (``ForgedAttestation`` →
``forged-attestation``), the status follows from what the error stands for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from requests.exceptions import RequestException
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import ContractError, InvalidInput, LedgerError, UnknownRevert, VerificationError

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:trustledger:problem:"

__all__ = ["PROBLEM_JSON", "TYPE_PREFIX", "Problem", "install_handlers", "problem_for", "problem_response"]


class Problem(Exception):
    """An HTTP error answered as problem+json. ``slug`` is the stable part of ``type``."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, *,
                 headers: Mapping[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug

    def body(self, request: Request | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if request is not None:
            out["instance"] = request.url.path
            request_id = getattr(request.state, "request_id", None)
            if request_id:
                out["requestId"] = request_id
        out.update(self.extensions)
        return out


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(problem.body(request), status_code=problem.status, media_type=PROBLEM_JSON,
                        headers=problem.headers)


# -- the library's errors -----------------------------------------------------------------------------------

_KEBAB = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def kebab(name: str) -> str:
    """``ForgedAttestation`` → ``forged-attestation``; ``IdempotencyConflict`` → ``idempotency-conflict``."""
    return _KEBAB.sub("-", name).lower()


# Statuses by the class names of ledger errors that do not follow from their builtin base (checked first,
# along the exception's MRO, so a subclass inherits its parent's status unless listed itself).
_STATUS_BY_NAME: dict[str, int] = {
    "DuplicateReview": 409,
    "IdempotencyConflict": 409,
    "SequencerConflict": 503,
    "ServiceClosed": 503,
    "ChainUnavailable": 503,
    "DatabaseUnavailable": 503,
    "WriteTimeout": 504,
    "WriteFailed": 422,
    "LogCorrupted": 500,
    "LogDiverged": 500,
    "AttestationError": 422,
    "InvalidBundle": 422,
}

# contract errors that mean "this actor may not do this": 403, whatever the contract
_FORBIDDEN_ERROR = re.compile(r"(Unauthorized|NotGovernance|NotIssuer|NotMerchant|IssuerNotAccredited|"
                              r"AccessControlUnauthorizedAccount)$")


def _status(exc: LedgerError) -> int:
    for cls in type(exc).__mro__:
        status = _STATUS_BY_NAME.get(cls.__name__)
        if status is not None:
            return status
    if isinstance(exc, LookupError):
        return 404
    if isinstance(exc, ConnectionError):
        return 503
    if isinstance(exc, TimeoutError):
        return 504
    if isinstance(exc, (InvalidInput, VerificationError, ValueError)):
        return 422
    return 500


def problem_for(exc: LedgerError) -> Problem:
    """The problem a library error is answered with."""
    if isinstance(exc, ContractError):
        status = 403 if _FORBIDDEN_ERROR.search(exc.name) else 422
        slug = "forbidden" if status == 403 else "contract-rejected"
        return Problem(status, slug, "Forbidden by the contract" if status == 403 else "Refused by the contract",
                       str(exc), errorName=exc.name, errorArgs=[_jsonable(a) for a in exc.args_])
    if isinstance(exc, UnknownRevert):
        return Problem(422, "contract-rejected", "Refused by the contract", str(exc), errorName=None)
    status = _status(exc)
    name = type(exc).__name__
    if status >= 500 and status != 503 and status != 504:
        return Problem(status, kebab(name), _title(name), "the service found its own state inconsistent; "
                       "it was logged and an operator alerted")
    return Problem(status, kebab(name), _title(name), str(exc))


def _title(name: str) -> str:
    words = kebab(name).replace("-", " ")
    return words[:1].upper() + words[1:]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# -- handlers -----------------------------------------------------------------------------------------------

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Where and what, never the rejected input (which may be personal data or a secret)."""
    out = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "(body)"
        out.append({"location": loc, "message": str(err.get("msg", "invalid")).removeprefix("Value error, "),
                    "code": str(err.get("type", "invalid"))})
    return out


def install_handlers(app: Any) -> None:
    """Answer every error the app raises as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_ledger_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LedgerError)
        problem = problem_for(exc)
        if problem.status >= 500:
            request.app.state.log.exception("ledger error", exc_info=exc,
                                            extra={"request_id": getattr(request.state, "request_id", None)})
        return problem_response(problem, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(Problem(400, "malformed-json", "Malformed JSON",
                                            "the request body is not valid JSON"), request)
        return problem_response(Problem(422, "validation-error", "Invalid request",
                                        f"{len(errors)} problem(s) with the request",
                                        errors=_validation_errors(errors)), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _HTTP_SLUGS.get(exc.status_code, (f"http-{exc.status_code}", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(Problem(exc.status_code, slug, title, detail, headers=exc.headers), request)

    async def on_chain_down(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(Problem(503, "chain-unavailable", "Chain unavailable",
                                        f"the JSON-RPC endpoint did not answer ({type(exc).__name__}); nothing was "
                                        f"written; retry later", headers={"Retry-After": "5"}), request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request.app.state.log.exception("unhandled error", exc_info=exc,
                                        extra={"request_id": getattr(request.state, "request_id", None)})
        return problem_response(Problem(500, "internal", "Internal error",
                                        "the error was logged; quote the request id when reporting it"), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(LedgerError, on_ledger_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestException, on_chain_down)  # web3's HTTP provider: connection, timeout
    app.add_exception_handler(Exception, on_unexpected)
