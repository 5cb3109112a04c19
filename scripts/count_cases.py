#!/usr/bin/env python
"""Sum the cases Hypothesis ran, from pytest's ``--hypothesis-show-statistics`` output (``make fuzz``).

    python scripts/count_cases.py LOG
"""

from __future__ import annotations

import re
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    passing = sum(int(n) for n in re.findall(r"- (\d+) passing", text))
    failing = sum(int(n) for n in re.findall(r"(\d+) failing", text))
    print(f"make fuzz: {passing:,} passing cases, {failing} failing")
    return 0 if failing == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
