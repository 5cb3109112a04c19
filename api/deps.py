"""Dependencies of the routes, as ``Annotated`` aliases.

All are ``async def``: they only read memory, and FastAPI runs a plain ``def`` dependency in the threadpool,
a thread hand-off per dependency per request (under the GIL, beside the service's own threads) that costs far
more than the check itself.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .middleware import client_of
from .problems import Problem
from .relay import Relay
from .state import Services

__all__ = ["RelayDep", "ServicesDep", "require_token", "write_gate"]


async def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:  # pragma: no cover - the lifespan sets it before the first request
        raise Problem(503, "starting", "Service starting", "the service is not ready yet",
                      headers={"Retry-After": "1"})
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_relay(services: ServicesDep) -> Relay:
    relay = services.extra.get("relay")
    if relay is None:
        relay = services.extra["relay"] = Relay(services)
    assert isinstance(relay, Relay)
    return relay


RelayDep = Annotated[Relay, Depends(get_relay)]


async def require_token(request: Request, services: ServicesDep) -> None:
    """The operator's automation token (``Authorization: Bearer <TRUSTLEDGER_API_TOKEN>``)."""
    configured = services.settings.api_token
    if configured is None:
        raise Problem(401, "token-not-configured", "Token not configured",
                      "this route needs the operator's API token, and this service has none configured "
                      "(TRUSTLEDGER_API_TOKEN)", headers={"WWW-Authenticate": "Bearer"})
    auth = request.headers.get("authorization")
    if auth is None or not auth.startswith("Bearer "):
        raise Problem(401, "token-required", "Token required", "send Authorization: Bearer <token>",
                      headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(auth[7:].encode(), configured.get_secret_value().encode()):
        raise Problem(401, "token-invalid", "Invalid token", "the bearer token is not this service's",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def write_gate(request: Request, services: ServicesDep) -> None:
    """Every write: refused while in maintenance (503), and limited per client (429)."""
    if services.maintenance:
        raise Problem(503, "maintenance", "Writes paused for maintenance",
                      "the service is not accepting writes right now; everything already accepted is kept and "
                      "will be anchored; reads are answered", headers={"Retry-After": "30"})
    wait = services.limiter.take(client_of(request))
    if wait > 0:
        raise Problem(429, "rate-limited", "Too many writes",
                      f"this client's write rate is limited; retry in {wait:.1f} s",
                      headers={"Retry-After": str(max(1, round(wait + 0.5)))})


TokenDep = Depends(require_token)
WriteDep = Depends(write_gate)
