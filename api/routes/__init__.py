"""One router module per resource; every module here with a ``router`` is served (sorted by ``ORDER``)."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

__all__ = ["ROUTERS"]


def _routers() -> list[APIRouter]:
    found: list[tuple[int, str, APIRouter]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((int(getattr(module, "ORDER", 50)), info.name, router))
    return [r for _, _, r in sorted(found, key=lambda f: (f[0], f[1]))]


ROUTERS = _routers()
