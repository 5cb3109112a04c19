"""Durable storage: the schema, the database and its migrations."""

from .db import Database, DatabaseUnavailable, now_ms, scratch_schema
from .schema import metadata

__all__ = ["Database", "DatabaseUnavailable", "metadata", "now_ms", "scratch_schema"]
