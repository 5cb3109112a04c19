"""The review log service on SQLite and PostgreSQL: admission, receipts, exactly-once, storage, reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import merkle
from ledger.errors import InvalidInput, LedgerError, VerificationError
from ledger.merkle import MerkleTree, verify_consistency, verify_inclusion
from ledger.receipts import Receipt, verify_receipt
from ledger.reviewlog import (
    AttestationMismatch,
    DuplicateReview,
    ForgedAttestation,
    InvalidReview,
    InvalidTakedown,
    LeafNotFound,
    LogCorrupted,
    MalformedAttestationSignature,
    RatingOutOfRange,
    ReviewLogService,
    ReviewRejected,
    SequencerConflict,
    ServiceClosed,
    SubmittedAtOutOfRange,
)
from ledger.reviews import content_commitment, parse_review_leaf, reviewer_pseudonym
from ledger.storage import Database, metadata
from ledger.storage.schema import log_leaves, log_nodes, log_state, review_content

from .reviewlog_helpers import (
    CHAIN_ID,
    GOVERNANCE,
    MERCHANT,
    NOW,
    OTHER_MERCHANT,
    OTHER_PRODUCT,
    PSEUDONYM_KEY,
    REAL_TIME_PURCHASE,
    REVIEW_LOG,
    STRANGER_KEY,
    attestation,
    make_service,
    receipt_signer,
    submission,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OPERATOR = receipt_signer().address


@pytest.fixture
def service(database: Database) -> Iterator[ReviewLogService]:
    s = make_service(database)
    try:
        yield s
    finally:
        s.close()


def check_receipt(receipt: Receipt, service: ReviewLogService) -> None:
    verify_receipt(receipt, operator=OPERATOR, chain_id=CHAIN_ID, review_log=REVIEW_LOG)
    assert receipt.leaf_hash == service.leaf_hashes(receipt.leaf_index, receipt.leaf_index + 1)[0]
    leaf = service.leaves(receipt.leaf_index, receipt.leaf_index + 1)[0]
    assert merkle.leaf_hash(leaf) == receipt.leaf_hash
    assert receipt.submitted_at == parse_review_leaf(leaf).submitted_at


def count(db: Database, table: sa.Table) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# ---------------------------------------------------------------------------------------------------------
# Admission
# ---------------------------------------------------------------------------------------------------------


def test_happy_path_receipt_verifies_and_names_its_leaf(service: ReviewLogService) -> None:
    sub = submission("ORD-1")
    receipt = service.submit(sub)
    check_receipt(receipt, service)
    assert receipt.leaf_index == 0 and service.size == 1
    assert receipt.submitted_at == NOW and receipt.max_merge_delay == 86_400
    stored = service.review(0)
    assert stored.leaf_hash == receipt.leaf_hash
    assert stored.leaf.purchase == sub.attestation.order_commitment
    assert stored.leaf.reviewer == reviewer_pseudonym("user-10086", PSEUDONYM_KEY)
    assert stored.leaf.merchant == MERCHANT.lower() and stored.leaf.rating == 4
    assert stored.content is not None and stored.content.text == sub.text
    assert stored.leaf.content == content_commitment(sub.text, stored.content.salt)
    assert stored.visible and stored.takedown is None and stored.erasure is None
    assert stored.accepted_ms == NOW * 1000 == service.accepted_ms(0) == service.oldest_accepted_ms(0)
    assert service.accepted_ms(1) is None and service.oldest_accepted_ms(1) is None
    assert service.root() == MerkleTree([receipt.leaf_hash]).root()

    second = service.submit(submission("ORD-2", rating=5, user_id="user-2", submitted_at=NOW - 10))
    check_receipt(second, service)
    assert second.leaf_index == 1 and second.submitted_at == NOW - 10
    assert service.root() == MerkleTree([receipt.leaf_hash, second.leaf_hash]).root()
    assert service.root(1) == MerkleTree([receipt.leaf_hash]).root()


def test_one_review_per_purchase_and_exact_retry(service: ReviewLogService, database: Database) -> None:
    first = service.submit(submission("ORD-1"))
    # The client retries after a timeout: same purchase, text, rating, reviewer (its clock moved on).
    assert service.submit(submission("ORD-1", submitted_at=NOW - 5)) == first
    changes: list[dict[str, Any]] = [{"text": "changed my mind"}, {"rating": 1}, {"user_id": "someone-else"}]
    for changed in changes:
        with pytest.raises(DuplicateReview) as info:
            service.submit(submission("ORD-1", **changed))
        assert info.value.leaf_index == 0 and isinstance(info.value, ValueError)
        assert "one review per purchase" in str(info.value)
    assert service.size == 1 and count(database, log_leaves) == 1

    # The same within one batch: the first is appended, its retry shares the leaf, a rival is refused.
    results = service.submit_many([submission("ORD-2"), submission("ORD-2"), submission("ORD-2", rating=2)])
    assert isinstance(results[0], Receipt) and results[1] == results[0]
    assert isinstance(results[2], DuplicateReview) and results[2].leaf_index == results[0].leaf_index == 1
    assert service.size == 2 and count(database, log_leaves) == 2


def test_forged_attestation(service: ReviewLogService) -> None:
    with pytest.raises(ForgedAttestation) as info:
        service.submit(submission("ORD-1", key=STRANGER_KEY))
    assert isinstance(info.value, VerificationError) and isinstance(info.value, ValueError)
    assert info.value.expected == "0x" + bytes.fromhex(attestation_signer()[2:]).hex()
    assert service.size == 0


def attestation_signer() -> str:
    from .reviewlog_helpers import ORDER_SIGNER

    return str(ORDER_SIGNER).lower()


@pytest.mark.parametrize("domain", [{"chain_id": 1}, {"governance": "0x" + "11" * 20}])
def test_attestation_for_another_chain_or_governance_is_forged(service: ReviewLogService,
                                                               domain: dict[str, Any]) -> None:
    with pytest.raises(ForgedAttestation):
        service.submit(submission("ORD-1", **domain))
    assert service.size == 0


@pytest.mark.parametrize(("field", "changes"), [
    ("merchant", {"merchant": OTHER_MERCHANT}),
    ("productId", {"product": OTHER_PRODUCT}),
])
def test_attestation_for_another_merchant_or_product(service: ReviewLogService, field: str,
                                                     changes: dict[str, Any]) -> None:
    with pytest.raises(AttestationMismatch) as info:
        service.submit(submission("ORD-1", **changes))
    assert info.value.field == field and field in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ReviewRejected)
    assert service.size == 0


N = merkle_n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _valid_signature() -> bytes:
    return submission("ORD-1").attestation_signature


def _high_s(sig: bytes) -> bytes:
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (N - s).to_bytes(32, "big") + bytes((55 - sig[64],))


def _r_not_on_curve(sig: bytes) -> bytes:
    import coincurve

    for x in range(1, 100):  # the first x with no curve point: no public key can recover
        candidate = x.to_bytes(32, "big") + sig[32:64] + bytes((0,))
        try:
            coincurve.PublicKey.from_signature_and_message(candidate, b"\x01" * 32, hasher=None)
        except ValueError:
            return x.to_bytes(32, "big") + sig[32:]
    raise AssertionError("no x without a point below 100")


@pytest.mark.parametrize(("name", "mutate"), [
    ("64-bytes", lambda s: s[:64]),
    ("66-bytes", lambda s: s + b"\x00"),
    ("v-29", lambda s: s[:64] + b"\x1d"),
    ("v-0", lambda s: s[:64] + b"\x00"),
    ("r-zero", lambda s: bytes(32) + s[32:]),
    ("r-n", lambda s: N.to_bytes(32, "big") + s[32:]),
    ("s-zero", lambda s: s[:32] + bytes(32) + s[64:]),
    ("high-s", _high_s),
    ("r-not-on-curve", _r_not_on_curve),
    ("hex-string", lambda s: "0x" + s.hex()),
])
def test_malformed_attestation_signature(service: ReviewLogService, name: str, mutate: Any) -> None:
    with pytest.raises(MalformedAttestationSignature) as info:
        service.submit(submission("ORD-1", signature=mutate(_valid_signature())))
    assert isinstance(info.value, ValueError) and "attestation signature" in str(info.value)


@pytest.mark.parametrize("rating", [0, 6, -1, True, "5", 4.0])
def test_rating_out_of_range(service: ReviewLogService, rating: Any) -> None:
    with pytest.raises(RatingOutOfRange) as info:
        service.submit(submission("ORD-1", rating=rating))
    assert info.value.field == "rating" and isinstance(info.value, InvalidInput)


@pytest.mark.parametrize(("submitted_at", "why"), [
    (NOW + 301, "future"),
    (NOW - 301, "stale"),
    (NOW - 86_400 - 301 - 1000, "stale"),
])
def test_submitted_at_out_of_range(service: ReviewLogService, submitted_at: int, why: str) -> None:
    with pytest.raises(SubmittedAtOutOfRange, match=why):
        service.submit(submission("ORD-1", submitted_at=submitted_at))
    # Within the skew either way is accepted.
    assert service.submit(submission("ORD-2", submitted_at=NOW + 300)).submitted_at == NOW + 300


def test_review_before_the_purchase_is_refused(service: ReviewLogService) -> None:
    with pytest.raises(SubmittedAtOutOfRange, match="purchase"):
        service.submit(submission("ORD-1", purchased_at=NOW + 301 + 1))


@pytest.mark.parametrize(("field", "changes"), [
    ("productId", {"product": b"\x01" * 31}),
    ("merchant", {"merchant": "0x1234"}),
    ("text", {"text": ""}),
    ("text", {"text": "x" * 16_385}),
    ("text", {"text": "lone \ud800 surrogate"}),
    ("text", {"text": b"bytes"}),
    ("user_id", {"user_id": ""}),
    ("submitted_at", {"submitted_at": float(NOW)}),
])
def test_invalid_fields(service: ReviewLogService, field: str, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidReview) as info:
        service.submit(submission("ORD-1", **changes))
    assert info.value.field == field and isinstance(info.value, ValueError)


def test_invalid_attestation_fields(service: ReviewLogService) -> None:
    good = submission("ORD-1")
    for att, field in [
        ("not an attestation", "attestation"),
        (attestation("ORD-1", purchased_at=2**40), "attestation.purchasedAt"),
    ]:
        bad = submission("ORD-1", att=good.attestation, signature=good.attestation_signature)
        object.__setattr__(bad, "attestation", att)
        with pytest.raises(InvalidReview) as info:
            service.submit(bad)
        assert info.value.field == field
    with pytest.raises(InvalidReview):
        service.submit("not a submission")  # type: ignore[arg-type]


def test_one_bad_review_does_not_fail_the_batch(service: ReviewLogService) -> None:
    subs = [
        submission("ORD-1"),
        submission("ORD-2", key=STRANGER_KEY),
        submission("ORD-3"),
        submission("ORD-4", rating=9),
        submission("ORD-5", merchant=OTHER_MERCHANT),
        submission("ORD-6"),
    ]
    results = service.submit_many(subs)
    assert [type(r).__name__ for r in results] == [
        "Receipt", "ForgedAttestation", "Receipt", "RatingOutOfRange", "AttestationMismatch", "Receipt",
    ]
    receipts = [r for r in results if isinstance(r, Receipt)]
    assert sorted(r.leaf_index for r in receipts) == [0, 1, 2]
    for r in receipts:
        check_receipt(r, service)


def test_closed_service_refuses_submissions(database: Database) -> None:
    s = make_service(database)
    s.close()
    with pytest.raises(ServiceClosed):
        s.submit(submission("ORD-1"))
    with pytest.raises(ServiceClosed):
        s.start()
    s.close()  # idempotent


# ---------------------------------------------------------------------------------------------------------
# Personal data: sealed at rest, erasable; takedowns
# ---------------------------------------------------------------------------------------------------------


def _all_stored_bytes(db: Database) -> bytes:
    out = bytearray()
    with db.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        out += bytes(value)
                    elif value is not None:
                        out += str(value).encode("utf-8", "surrogatepass")
                    out += b"\x00"
    return bytes(out)


def test_text_and_salt_are_encrypted_at_rest(service: ReviewLogService, database: Database) -> None:
    text = "Secret-ish review text 8f1c2: the seller phoned me at home."
    service.submit(submission("ORD-1", text=text))
    service.close()
    stored = service.review(0)
    assert stored.content is not None
    salt = stored.content.salt
    raw = _all_stored_bytes(database)
    assert stored.leaf_hash in raw  # the scan does see what is stored
    for secret in (text.encode(), salt, salt.hex().encode(), b"8f1c2"):
        assert secret not in raw
    if database.dialect == "sqlite":  # and not in the files either (database and WAL), as bytes or hex
        path = Path(str(database.url.database))
        files = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert stored.leaf_hash in files
        for secret in (text.encode(), salt):
            assert secret not in files
    with database.read() as conn:
        sealed = conn.execute(sa.select(review_content.c.ciphertext)).scalar_one()
    assert len(sealed) == 1 + 12 + 32 + len(text.encode()) + 16


def test_erasure_keeps_the_leaf_and_root(service: ReviewLogService, database: Database) -> None:
    for i in range(3):
        service.submit(submission(f"ORD-{i}"))
    root, proof = service.root(), service.inclusion_proof(1)
    erasure = service.erase(1, "GDPR art. 17 request #42")
    assert erasure.leaf_index == 1 and erasure.erased_ms == NOW * 1000
    stored = service.review(1)
    assert stored.content is None and stored.erasure == erasure and stored.visible
    assert service.review(0).content is not None
    assert service.root() == root and service.inclusion_proof(1) == proof
    assert service.leaf_hashes(1, 2) == [stored.leaf_hash]
    assert service.erase(1, "again") == erasure  # the first erasure stands
    with database.read() as conn:
        assert conn.execute(
            sa.select(review_content.c.ciphertext).where(review_content.c.leaf_index == 1)
        ).scalar_one() is None
    # A resubmission cannot be compared with erased text: it is a second review of the purchase.
    with pytest.raises(DuplicateReview):
        service.submit(submission("ORD-1"))
    with pytest.raises(InvalidInput):
        service.erase(0, "")
    with pytest.raises(LeafNotFound):
        service.erase(3, "no such leaf")


def test_an_erased_ciphertext_is_left_in_no_file(service: ReviewLogService, database: Database) -> None:
    """SQLite: neither the database file nor its write-ahead log keeps a copy of the erased ciphertext
    (secure_delete, and a truncating checkpoint after the erasure). PostgreSQL keeps old row versions until
    vacuum: SECURITY.md says so; not checked here."""
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL drops old row versions on vacuum, not on erasure")
    for i in range(3):
        service.submit(submission(f"ORD-{i}"))
    with database.read() as conn:
        sealed = bytes(conn.execute(sa.select(review_content.c.ciphertext)
                                    .where(review_content.c.leaf_index == 1)).scalar_one())
    path = database.url.database
    assert path is not None

    def files() -> bytes:
        import pathlib

        return b"".join(p.read_bytes() for p in pathlib.Path(path).parent.glob(pathlib.Path(path).name + "*"))

    database.purge()
    assert sealed[:48] in files()  # the check can see it: before the erasure it is on disk
    service.erase(1, "erasure request #7")
    assert sealed[:48] not in files()


def test_takedown_tombstones(service: ReviewLogService) -> None:
    for i in range(2):
        service.submit(submission(f"ORD-{i}"))
    root = service.root()
    dispute, act = b"\xd1" * 32, b"\xa1" * 32

    hide = service.take_down(0, kind="emergency_hide", ref=act)
    stored = service.review(0)
    assert not stored.visible and stored.content is None and stored.takedown == hide
    assert hide.describe() == f"hidden by the operator pending a ruling (0x{act.hex()})"
    assert service.take_down(0, kind="emergency_hide", ref=act) == hide  # repeating it changes nothing
    service.lift_hide(0)
    assert service.review(0).visible and service.review(0).content is not None

    service.take_down(0, kind="emergency_hide", ref=act)
    ruling = service.take_down(0, kind="ruling", ref=dispute)  # a ruling confirms the hide
    stored = service.review(0)
    assert stored.takedown == ruling and stored.content is None
    assert stored.takedown.describe() == f"removed by ruling 0x{dispute.hex()}"
    assert stored.leaf_hash == service.leaf_hashes(0, 1)[0] and service.root() == root  # the tombstone stays

    with pytest.raises(InvalidTakedown, match="ruling"):
        service.lift_hide(0)  # a ruling is final
    with pytest.raises(InvalidTakedown):
        service.take_down(0, kind="emergency_hide", ref=act)
    with pytest.raises(InvalidTakedown):
        service.take_down(0, kind="ruling", ref=b"\xd2" * 32)
    with pytest.raises(InvalidTakedown, match="not hidden"):
        service.lift_hide(1)
    with pytest.raises(InvalidTakedown, match="kind"):
        service.take_down(1, kind="delete", ref=dispute)  # type: ignore[arg-type]
    with pytest.raises(InvalidTakedown, match="ref"):
        service.take_down(1, kind="ruling", ref=b"short")
    with pytest.raises(LeafNotFound):
        service.take_down(2, kind="ruling", ref=dispute)
    with pytest.raises(LeafNotFound):
        service.review(2)
    assert service.review(1).visible


# ---------------------------------------------------------------------------------------------------------
# Durability: restart, corruption, two sequencers, crash
# ---------------------------------------------------------------------------------------------------------


def test_restart_reproduces_size_root_and_proofs(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_service(database)
    receipts = []
    for chunk in ([f"ORD-{i}" for i in range(13)], [f"ORD-{i}" for i in range(13, 37)]):
        receipts += first.submit_many([submission(o, user_id=o) for o in chunk])
    first.close()
    assert all(isinstance(r, Receipt) for r in receipts)
    size = first.size
    assert size == 37

    calls = 0
    real = merkle._sha256

    def counting(data: bytes) -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(merkle, "_sha256", counting)
    second = make_service(database)
    assert calls <= 2 * size.bit_length()  # loaded from stored subtrees, root checked: no rehash of the log
    monkeypatch.setattr(merkle, "_sha256", real)

    reference = MerkleTree(merkle.leaf_hash(leaf) for leaf in second.leaves(0, size))
    assert second.size == size
    for n in range(size + 1):
        assert second.root(n) == first.root(n) == reference.root(n)
    for n in (1, 2, 13, 32, 36, 37):
        root = second.root(n)
        for index in range(n):
            proof = second.inclusion_proof(index, n)
            assert proof == reference.inclusion_proof(index, n)
            verify_inclusion(index, n, reference.leaf_hash(index), proof, root)
        for old in range(n + 1):
            proof = second.consistency_proof(old, n)
            assert proof == reference.consistency_proof(old, n)
            verify_consistency(old, n, second.root(old), root, proof)
    # It carries on where the first left off, and exact retries still find their leaves.
    r = second.submit(submission("ORD-37"))
    assert r.leaf_index == 37
    assert second.submit(submission("ORD-5", user_id="ORD-5")) == receipts[5]
    reference.append(r.leaf_hash)
    assert second.root() == reference.root()
    assert count(database, log_nodes) == 38 - (38).bit_count()  # n leaves complete n - popcount(n) subtrees
    second.close()


def test_corrupted_store_is_detected_on_load(database: Database) -> None:
    s = make_service(database)
    s.submit_many([submission(f"ORD-{i}") for i in range(5)])
    s.close()
    with database.write() as conn:  # the subtree of leaves 0..3 is on the root's path
        conn.execute(sa.update(log_nodes).where(log_nodes.c.level == 2, log_nodes.c.node_index == 0)
                     .values(hash=b"\x00" * 32))
    with pytest.raises(LogCorrupted, match="root"):
        make_service(database)
    with database.write() as conn:
        conn.execute(sa.delete(log_nodes).where(log_nodes.c.level == 2))
    with pytest.raises(LogCorrupted, match="log_nodes"):
        make_service(database)


def test_two_sequencers_cannot_fork_the_log(database: Database) -> None:
    a, b = make_service(database), make_service(database)
    try:
        assert a.submit(submission("ORD-0")).leaf_index == 0
        assert b.submit(submission("ORD-1")).leaf_index == 1  # b takes a's leaf first, under the row lock
        # a still believes the log has 1 leaf: it takes b's leaf into its tree, checked against the stored
        # root, and appends after it
        assert a.submit(submission("ORD-2")).leaf_index == 2
        assert (a.stats()["followed"], b.stats()["followed"]) == (1, 1)
        assert b.refresh() == 3 and a.root() == b.root()
        assert count(database, log_leaves) == 3 and count(database, review_content) == 3

        # a leaf another replica appended, altered before this one follows it: refused, nothing written
        assert b.submit(submission("ORD-3")).leaf_index == 3
        with database.write() as conn:
            conn.execute(sa.update(log_leaves).where(log_leaves.c.leaf_index == 3).values(leaf_hash=b"\x01" * 32))
        with pytest.raises(LogCorrupted, match="root"):
            a.submit(submission("ORD-4"))
        assert count(database, log_leaves) == 4 and a.size == 3
    finally:
        a.close()
        b.close()


def test_a_replica_asked_for_more_than_it_followed_catches_up_first(database: Database) -> None:
    """A read beyond this replica's log (another replica appended; a client read the new size elsewhere) is
    answered after catching up, not refused; beyond the stored log it is still refused."""
    a, b = make_service(database), make_service(database)
    try:
        a.submit_many([submission(f"ORD-{i}") for i in range(5)])
        assert b.size == 0
        assert len(b.leaves(0, 5)) == 5 and b.size == 5
        a.submit(submission("ORD-5"))
        assert b.inclusion_proof(5, 6) == a.inclusion_proof(5, 6)
        a.submit(submission("ORD-6"))
        assert b.root(7) == a.root() and b.consistency_proof(6, 7) == a.consistency_proof(6, 7)
        with pytest.raises(InvalidInput):
            b.leaves(0, 8)
    finally:
        a.close()
        b.close()


def test_a_log_shorter_than_the_sequencers_is_a_conflict(database: Database) -> None:
    """A database restored from an older copy under a running service: the batch fails, nothing is written,
    and the service reloads the stored log before the next one."""
    a = make_service(database)
    try:
        a.submit_many([submission(f"ORD-{i}") for i in range(3)])
        first = a.root(1)
        with database.write() as conn:
            conn.execute(sa.delete(review_content).where(review_content.c.leaf_index >= 1))
            conn.execute(sa.delete(log_leaves).where(log_leaves.c.leaf_index >= 1))
            conn.execute(sa.delete(log_nodes))
            conn.execute(sa.update(log_state).values(tree_size=1, root=first))
        with pytest.raises(SequencerConflict) as info:
            a.submit(submission("ORD-9"))
        assert (info.value.expected, info.value.found) == (3, 1)
        assert count(database, log_leaves) == 1
        assert a.submit(submission("ORD-9")).leaf_index == 1
    finally:
        a.close()


def test_two_sequencers_racing_append_every_review_once(database: Database) -> None:
    """Two replicas over one database: every review appended once, none refused, one history."""
    services = [make_service(database, max_batch=4), make_service(database, max_batch=4)]
    receipts: list[Receipt] = []
    lock = threading.Lock()
    conflicts = 0

    def run(service: ReviewLogService, orders: list[str]) -> None:
        nonlocal conflicts
        for order in orders:
            while True:
                try:
                    r = service.submit(submission(order))
                except SequencerConflict:
                    with lock:
                        conflicts += 1
                    continue
                with lock:
                    receipts.append(r)
                break

    threads = [threading.Thread(target=run, args=(s, [f"ORD-{k}-{i}" for i in range(15)]))
               for k, s in enumerate(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in services:
        s.refresh()
    with database.read() as conn:
        rows = conn.execute(sa.select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash)
                            .order_by(log_leaves.c.leaf_index)).all()
        state = conn.execute(sa.select(log_state.c.tree_size, log_state.c.root)).one()
    assert [r.leaf_index for r in rows] == list(range(30)) and state.tree_size == 30
    assert sorted(r.leaf_index for r in receipts) == list(range(30))
    assert {r.leaf_hash for r in receipts} == {bytes(row.leaf_hash) for row in rows}
    assert bytes(state.root) == MerkleTree(bytes(row.leaf_hash) for row in rows).root()
    assert services[0].root() == services[1].root() == bytes(state.root)
    assert conflicts == 0  # each took the other's leaves under the row lock instead of failing
    for s in services:
        s.close()


def test_crash_between_append_and_receipt(database: Database) -> None:
    url = database.url.render_as_string(hide_password=False)
    text = "Arrived broken; the seller replaced it within a day."
    env = {**os.environ, "TRUSTLEDGER_FAULT": "after_append"}
    script = HERE / "reviewlog_crash.py"
    died = subprocess.run([sys.executable, str(script), url, database.schema or "", "ORD-crash", text],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert died.returncode == 137, died.stderr
    assert died.stdout == ""  # it never handed out a receipt
    assert count(database, log_leaves) == 1  # but the append committed

    # Restarted (here: in this process), the client's retry gets the receipt for the one existing leaf.
    import time

    restarted = make_service(database, clock=time.time)
    try:
        assert restarted.size == 1
        receipt = restarted.submit(submission("ORD-crash", text=text, purchased_at=REAL_TIME_PURCHASE))
        assert receipt.leaf_index == 0
        check_receipt(receipt, restarted)
    finally:
        restarted.close()
    assert count(database, log_leaves) == 1 and count(database, review_content) == 1
    # And a retry through a fresh process (no fault) returns the same receipt.
    again = subprocess.run([sys.executable, str(script), url, database.schema or "", "ORD-crash", text],
                           capture_output=True, text=True, timeout=120, check=True)
    assert Receipt.from_json(again.stdout.strip()) == receipt
    assert count(database, log_leaves) == 1


# ---------------------------------------------------------------------------------------------------------
# Concurrency: threads and asyncio tasks share group commits
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_threads_and_tasks_submitting_at_once(database: Database) -> None:
    service = make_service(database)
    thread_subs = [[submission(f"T{t}-{i}", user_id=f"t{t}") for i in range(10)] for t in range(8)]
    task_subs = [submission(f"A{i}", user_id=f"a{i}", rating=1 + i % 5) for i in range(100)]
    barrier = threading.Barrier(9)
    from_threads: list[Receipt] = []
    lock = threading.Lock()

    def worker(subs: list[Any]) -> None:
        barrier.wait()
        for sub in subs:
            r = service.submit(sub)
            with lock:
                from_threads.append(r)

    threads = [threading.Thread(target=worker, args=(subs,)) for subs in thread_subs]
    for t in threads:
        t.start()
    await asyncio.to_thread(barrier.wait)
    from_tasks = await asyncio.gather(*(service.asubmit(sub) for sub in task_subs))
    for t in threads:
        await asyncio.to_thread(t.join)
    service.close()

    receipts = from_threads + list(from_tasks)
    assert len(receipts) == 180
    indices = sorted(r.leaf_index for r in receipts)
    assert indices == list(range(180))  # every receipt's leaf exactly once, contiguous
    assert service.size == 180 and count(database, log_leaves) == 180
    hashes = service.leaf_hashes(0, 180)
    for r in receipts:
        verify_receipt(r, operator=OPERATOR, chain_id=CHAIN_ID, review_log=REVIEW_LOG)
        assert hashes[r.leaf_index] == r.leaf_hash
    assert service.root() == MerkleTree(hashes).root()
    stats = service.stats()
    assert stats["reviews"] == 180 and 1 <= stats["batches"] <= 180


# ---------------------------------------------------------------------------------------------------------
# Reads: argument checks
# ---------------------------------------------------------------------------------------------------------


def test_read_preconditions(service: ReviewLogService) -> None:
    service.submit(submission("ORD-1"))
    assert service.root(0) == merkle.EMPTY_ROOT and service.leaves(1, 1) == []
    for call in (lambda: service.root(2), lambda: service.inclusion_proof(0, 2),
                 lambda: service.inclusion_proof(1, 1), lambda: service.consistency_proof(0, 2),
                 lambda: service.leaf_hashes(0, 2), lambda: service.leaves(1, 0), lambda: service.review(-1),
                 lambda: service.accepted_ms(-1)):
        with pytest.raises(InvalidInput):
            call()
    assert issubclass(LeafNotFound, LookupError) and issubclass(LeafNotFound, LedgerError)
    assert repr(service).startswith("ReviewLogService(size=1")
    assert GOVERNANCE and CHAIN_ID  # the domain the helpers sign in is the service's
