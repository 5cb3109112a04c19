"""How many examples the property tests of parsers and verifiers draw: ``examples(n)`` is ``n`` in ``make test``
and ``n * TRUSTLEDGER_FUZZ_SCALE`` under ``make fuzz`` (scale 10), so the same tests run as a longer fuzzing
campaign without a second copy of them."""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("TRUSTLEDGER_FUZZ_SCALE", "1")))


def examples(n: int) -> int:
    """``n`` scaled by ``TRUSTLEDGER_FUZZ_SCALE`` (default 1)."""
    return n * SCALE
