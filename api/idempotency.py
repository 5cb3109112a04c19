"""The store behind ``Idempotency-Key``: one row per key in ``api_idempotency`` (SQLite or PostgreSQL).

Shared by every replica over the same database, so a retry that reaches another replica is answered the
same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ledger.storage import Database, now_ms
from ledger.storage.schema import api_idempotency as t

from .problems import Problem

__all__ = ["IdempotencyStore"]


class IdempotencyStore:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self._db = db
        self._ttl_ms = ttl_seconds * 1000

    def begin(self, key: str, request_hash: bytes) -> tuple[int, str, bytes] | None:
        """Claim ``key`` for a request: None when this request is the first (run it), or the stored
        ``(status, content type, body)`` to answer a retry with.

        Raises :class:`Problem` 409 ``idempotency-key-in-use`` while the first request runs, 422
        ``idempotency-key-reused`` when the key was used for another request.
        """
        for _ in range(3):
            now = now_ms()
            try:
                with self._db.write() as conn:
                    row = conn.execute(self._db.locked(sa.select(t).where(t.c.key == key))).first()
                    if row is not None and row.expires_ms < now:
                        conn.execute(sa.delete(t).where(t.c.key == key))
                        row = None
                    if row is None:
                        conn.execute(sa.insert(t).values(key=key, request_hash=request_hash, status=0,
                                                         created_ms=now, expires_ms=now + self._ttl_ms))
                        return None
            except IntegrityError:
                continue  # another replica inserted the same key between our read and insert: read it
            if row.request_hash != request_hash:
                raise Problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                              "this Idempotency-Key was used for a different request; use a new key per request")
            if row.status == 0:
                raise Problem(409, "idempotency-key-in-use", "Idempotency-Key in use",
                              "the first request with this Idempotency-Key is still running; retry shortly",
                              headers={"Retry-After": "1"})
            return int(row.status), str(row.content_type), bytes(row.body or b"")
        raise Problem(409, "idempotency-key-in-use", "Idempotency-Key in use",
                      "this Idempotency-Key is being claimed concurrently; retry shortly", headers={"Retry-After": "1"})

    def finish(self, key: str, status: int, content_type: str, body: bytes) -> None:
        with self._db.write() as conn:
            conn.execute(sa.update(t).where(t.c.key == key).values(status=status, content_type=content_type,
                                                                  body=body))

    def abandon(self, key: str) -> None:
        """Forget a claim whose request failed without an answer worth keeping (a retry runs again)."""
        with self._db.write() as conn:
            conn.execute(sa.delete(t).where(t.c.key == key, t.c.status == 0))

    def prune(self) -> int:
        """Delete expired responses; returns how many."""
        with self._db.write() as conn:
            return int(conn.execute(sa.delete(t).where(t.c.expires_ms < now_ms())).rowcount or 0)
