"""`make up`'s home folder after a deployment (api/serve.py): a database of an earlier deployment is moved
aside, never reused with other contracts; one of the same deployment stays."""

from __future__ import annotations

from pathlib import Path

from api.serve import set_aside_stale_database


def _home(tmp_path: Path, manifest: bytes | None) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in ("trustledger.db", "trustledger.db-wal", "trustledger.db-shm"):
        (home / name).write_bytes(name.encode())
    if manifest is not None:
        (home / "deployment.json").write_bytes(manifest)
    return home


def test_the_same_deployment_keeps_its_database(tmp_path: Path) -> None:
    home = _home(tmp_path, b'{"deployment": "A"}')
    assert set_aside_stale_database(home, b'{"deployment": "A"}') is None
    assert (home / "trustledger.db").read_bytes() == b"trustledger.db"


def test_a_new_deployment_moves_the_old_database_and_its_journal_aside(tmp_path: Path) -> None:
    home = _home(tmp_path, b'{"deployment": "B"}')
    moved = set_aside_stale_database(home, b'{"deployment": "A"}')
    assert moved is not None and moved.name.startswith("trustledger.db.replaced-")
    assert not (home / "trustledger.db").exists() and not (home / "trustledger.db-wal").exists()
    assert moved.read_bytes() == b"trustledger.db"
    assert Path(f"{moved}-wal").read_bytes() == b"trustledger.db-wal"
    assert Path(f"{moved}-shm").read_bytes() == b"trustledger.db-shm"


def test_a_database_without_a_recorded_deployment_is_moved_aside(tmp_path: Path) -> None:
    home = _home(tmp_path, b'{"deployment": "C"}')
    assert set_aside_stale_database(home, None) is not None
    assert not (home / "trustledger.db").exists()


def test_a_first_start_has_nothing_to_move(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    home.mkdir()
    (home / "deployment.json").write_bytes(b"{}")
    assert set_aside_stale_database(home, None) is None
