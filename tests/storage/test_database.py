"""The database layer: migrations build exactly the declared schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ledger.storage import Database, DatabaseUnavailable, metadata
from ledger.storage.schema import sender_accounts


def test_migrations_build_the_declared_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert database.revision() == "0009"


def test_migrate_twice_is_a_no_op(database: Database) -> None:
    with database.write() as conn:
        conn.execute(sa.insert(sender_accounts).values(address="0x" + "11" * 20, chain_id=1, next_nonce=7))
    database.migrate()
    with database.read() as conn:
        assert conn.execute(sa.select(sender_accounts.c.next_nonce)).scalar_one() == 7


def test_write_rolls_back_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as conn:
        conn.execute(sa.insert(sender_accounts).values(address="0x" + "22" * 20, chain_id=1, next_nonce=0))
        raise RuntimeError("abort")
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sender_accounts)).scalar_one() == 0


def test_locked_writers_take_turns(database: Database) -> None:
    """Concurrent read-modify-write of one counter under ``locked``: no increment is lost."""
    address = "0x" + "33" * 20
    with database.write() as conn:
        conn.execute(sa.insert(sender_accounts).values(address=address, chain_id=1, next_nonce=0))

    def bump(times: int) -> None:
        for _ in range(times):
            with database.write() as conn:
                q = database.locked(sa.select(sender_accounts.c.next_nonce).where(sender_accounts.c.address == address))
                n = conn.execute(q).scalar_one()
                conn.execute(sa.update(sender_accounts).where(sender_accounts.c.address == address)
                             .values(next_nonce=n + 1))

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with database.read() as conn:
        assert conn.execute(sa.select(sender_accounts.c.next_nonce)).scalar_one() == 100


def test_unreachable_database_is_a_typed_error_without_the_password() -> None:
    db = Database("postgresql://alice:s3cret@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable) as info, db.read():
        pass
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)
    db.dispose()


def test_scratch_schema_is_isolated_and_dropped(_pg_status: str | None) -> None:
    from ledger.storage import scratch_schema

    from ..conftest import PG_URL, require_pg

    with pytest.raises(ValueError, match="identifier"), scratch_schema(PG_URL, prefix='x"; drop table y; --'):
        pass
    require_pg(_pg_status)
    with scratch_schema(PG_URL, prefix="t") as db:
        assert db.schema is not None
        db.migrate()
        with db.read() as conn:
            assert conn.execute(sa.text("select current_schema()")).scalar_one() == db.schema
        name = db.schema
    admin = Database(PG_URL)
    with admin.engine.connect() as conn:
        left = conn.execute(sa.text("select count(*) from information_schema.schemata where schema_name = :n"),
                            {"n": name}).scalar_one()
    admin.dispose()
    assert left == 0


def test_migration_0007_fills_the_subject_columns_of_events_indexed_before(database: Database) -> None:
    """An index built before the subject columns existed: after ``migrate()`` its events are found by merchant,
    product and issuer as new ones are (the values from their decoded arguments; NULL where there is none)."""
    from alembic import command

    with database.engine.begin() as conn:
        command.downgrade(database._alembic_config(conn), "0006")
    merchant, product, issuer = "0x" + "ab" * 20, "0x" + "cd" * 32, "0x" + "ef" * 20
    events = sa.table("idx_events", *(sa.column(c) for c in (
        "block_hash", "tx_hash", "log_index", "block_number", "block_time", "tx_index", "address", "contract",
        "event", "args", "topics", "data")))
    base = {"tx_hash": b"\x02" * 32, "block_number": 5, "block_time": 100, "tx_index": 0, "address": b"\x03" * 20,
            "contract": "CertificateRegistry", "topics": b"", "data": b""}
    with database.write() as conn:
        conn.execute(events.insert(), [
            {**base, "block_hash": b"\x01" * 32, "log_index": 0, "event": "CertificateIssued",
             "args": f'{{"issuer":"{issuer}","merchant":"{merchant}","productId":"{product}"}}'},
            {**base, "block_hash": b"\x01" * 32, "log_index": 1, "event": "CertificateRevoked",
             "args": '{"id":"0x' + "00" * 32 + '"}'}])
    database.migrate()
    from ledger.storage.schema import idx_events

    with database.read() as conn:
        rows = conn.execute(sa.select(idx_events.c.log_index, idx_events.c.merchant, idx_events.c.product_id,
                                      idx_events.c.issuer).order_by(idx_events.c.log_index)).all()
    assert [tuple(r) for r in rows] == [
        (0, bytes.fromhex(merchant[2:]), bytes.fromhex(product[2:]), bytes.fromhex(issuer[2:])),
        (1, None, None, None)]
