"""Benchmarks (run as scripts, e.g. ``python scripts/bench/gas.py``)."""
