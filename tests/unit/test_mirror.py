"""ledger.mirror: a mirror stores only leaves that reproduce an anchored root, and refuses a server that lies.

No chain: the checkpoints are (index, size, root) built from a real MerkleTree over honest leaves, as the
chain would hold them; the server is a fake (an httpx.MockTransport answering ``GET /v1/log/leaves`` as
api/routes/log.py does) whose log can be doctored. Each refusal must name the checkpoint and the range and
leave the mirror exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import InvalidInput, VerificationError
from ledger.mirror import (
    CheckpointConflict,
    Equivocation,
    HttpLeafSource,
    InvalidLeafServed,
    LeafSourceError,
    LogMirror,
    MirrorCorrupt,
    MirrorMismatch,
    MirrorUnavailable,
)
from ledger.reviews import NonCanonicalLeaf, ReviewLeaf

SIZES = (3, 7, 12)
HELD = 14  # the server also holds two leaves not anchored yet


def leaf(i: int) -> bytes:
    """A distinct canonical review leaf; all have the same length, so a substitute is not betrayed by it."""
    return ReviewLeaf(product_id=hashlib.sha256(b"product").digest(), merchant="0x" + "ab" * 20,
                      rating=1 + i % 5,
                      content=hashlib.sha256(b"content %d" % i).digest(),
                      reviewer=hashlib.sha256(b"reviewer %d" % (i % 3)).digest(),
                      purchase=hashlib.sha256(b"order %d" % i).digest(),
                      submitted_at=1_800_000_000 + i).canonical_bytes()


HONEST = [leaf(i) for i in range(HELD)]


@dataclass(frozen=True)
class Cp:
    """An anchored checkpoint as the chain states it (the fields of cli._chainlog.AnchoredCheckpoint used)."""

    index: int
    size: int
    root: bytes


def anchored(leaves: list[bytes], sizes: tuple[int, ...] = SIZES) -> list[Cp]:
    tree = merkle.MerkleTree([merkle.leaf_hash(b) for b in leaves])
    return [Cp(i, size, tree.root(size)) for i, size in enumerate(sizes)]


CHECKPOINTS = anchored(HONEST)


Answer = Callable[[int, int, list[str]], httpx.Response]
"""A doctored answer: (start, end, the honest leaves as text) -> the response."""


class Server:
    """A fake TrustLedger service: ``GET /v1/log/leaves`` over ``log``, with the API's checks and limits."""

    def __init__(self, log: list[bytes], *, answer: Answer | None = None) -> None:
        self.log = log
        self.requests: list[tuple[int, int]] = []
        self.answer = answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/log/leaves"
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        self.requests.append((start, end))
        if not 0 <= start <= end <= len(self.log):
            return httpx.Response(422, json={"type": "range-out-of-log"})
        if end - start > 10_000:
            return httpx.Response(422, json={"type": "range-too-large"})
        served = [b.decode() for b in self.log[start:end]]
        if self.answer is not None:
            return self.answer(start, end, served)
        return httpx.Response(200, json={"start": start, "end": end, "leaves": served})

    def source(self) -> HttpLeafSource:
        transport = httpx.MockTransport(self.handle)
        return HttpLeafSource(httpx.Client(base_url="http://server.test", transport=transport))


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[LogMirror]:
    m = LogMirror(tmp_path / "mirror.db")
    yield m
    m.close()


def snapshot(m: LogMirror) -> tuple[object, ...]:
    """Everything a mirror holds, to show a refusal changed nothing."""
    return (m.size, m.root, m.compact_range().to_bytes(), m.checkpoints(), m.leaves(0, m.size))


# ------------------------------------------------------------------------------------------------ honest


def test_an_honest_server_is_mirrored_completely_up_to_the_latest_checkpoint(mirror: LogMirror) -> None:
    server = Server(HONEST)
    seen: list[tuple[int, int]] = []
    report = mirror.sync(server.source(), CHECKPOINTS, page=3,
                         progress=lambda done, total: seen.append((done, total)))
    tree = merkle.MerkleTree([merkle.leaf_hash(b) for b in HONEST])
    assert (report.size, report.root, report.verified, report.leaves_added) == \
        (12, tree.root(12), (0, 1, 2), 12)
    # paged, per checkpoint, never past the latest checkpoint
    assert server.requests == [(0, 3), (3, 6), (6, 7), (7, 10), (10, 12)]
    assert (mirror.size, mirror.root) == (12, tree.root(12))
    assert mirror.leaves(0, 12) == HONEST[:12] and mirror.leaves(4, 6) == HONEST[4:6]
    assert [(c.index, c.size, c.root) for c in mirror.checkpoints()] == \
        [(c.index, c.size, c.root) for c in CHECKPOINTS]
    assert mirror.compact_range().root() == tree.root(12)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    mirror.verify_stored()
    with pytest.raises(InvalidInput, match="0 <= start <= end <= 12"):
        mirror.leaves(0, 13)  # leaves 12 and 13 are the server's, unverified: not kept


def test_a_second_sync_fetches_only_the_new_range_and_the_file_keeps_everything(tmp_path: Path) -> None:
    server = Server(HONEST)
    with LogMirror(tmp_path / "m.db") as m:
        assert m.sync(server.source(), CHECKPOINTS[:2]).verified == (0, 1)
    server.requests.clear()
    with LogMirror(tmp_path / "m.db") as m:  # reopened: resumable from the file alone
        assert m.size == 7
        report = m.sync(server.source(), CHECKPOINTS)
        assert server.requests == [(7, 12)]
        assert (report.verified, report.leaves_added, report.size) == ((2,), 5, 12)
        server.requests.clear()
        assert m.sync(server.source(), CHECKPOINTS).verified == ()
        assert server.requests == []
        assert m.leaves(0, 12) == HONEST[:12]


def test_a_mirror_can_be_mirrored(mirror: LogMirror, tmp_path: Path) -> None:
    mirror.sync(Server(HONEST).source(), CHECKPOINTS)
    with LogMirror(tmp_path / "second.db") as second:
        assert second.sync(mirror, CHECKPOINTS, page=5).size == 12
        assert second.leaves(0, 12) == HONEST[:12]


def test_checkpoints_skipped_before_are_checked_against_the_stored_leaves(mirror: LogMirror) -> None:
    server = Server(HONEST)
    mirror.sync(server.source(), CHECKPOINTS[2:])
    server.requests.clear()
    assert mirror.sync(server.source(), CHECKPOINTS).verified == (0, 1)
    assert server.requests == [] and [c.index for c in mirror.checkpoints()] == [0, 1, 2]
    with pytest.raises(CheckpointConflict, match="checkpoint 3 anchors root"):
        mirror.sync(server.source(), [Cp(3, 5, bytes(32))])
    with pytest.raises(CheckpointConflict, match="checkpoint 3 has size 12, which the mirror verified as "
                                                 "checkpoint 2"):
        mirror.sync(server.source(), [Cp(3, 12, CHECKPOINTS[2].root)])
    assert [c.index for c in mirror.checkpoints()] == [0, 1, 2]
    with pytest.raises(CheckpointConflict, match="does not extend checkpoint 0"):
        mirror.sync(server.source(), [Cp(0, 5, bytes(32)), Cp(1, 5, bytes(32))])


def test_an_empty_log_and_no_checkpoints(mirror: LogMirror) -> None:
    server = Server([])
    report = mirror.sync(server.source(), [])
    assert (report.size, report.root, report.verified) == (0, merkle.EMPTY_ROOT, ())
    assert server.requests == [] and mirror.leaves(0, 0) == []


# ------------------------------------------------------------------------------------------------ lies

OTHER = leaf(1000)
assert len(OTHER) == len(HONEST[4]) and OTHER != HONEST[4]


def non_canonical(data: bytes) -> bytes:
    return json.dumps(json.loads(data), indent=1).encode()


TAMPERINGS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "a different leaf of the same length": lambda log: log[:4] + [OTHER] + log[5:],
    "a reordered pair": lambda log: log[:4] + [log[5], log[4]] + log[6:],
    "a missing leaf": lambda log: log[:4] + log[5:],
    "an extra leaf": lambda log: log[:4] + [OTHER] + log[4:],
    "a duplicated leaf": lambda log: log[:4] + [log[4]] + log[4:],
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_lying_server_is_refused_naming_the_checkpoint_and_the_mirror_is_unchanged(mirror: LogMirror,
                                                                                    tampering: str) -> None:
    mirror.sync(Server(HONEST).source(), CHECKPOINTS[:1])
    before = snapshot(mirror)
    with pytest.raises(Equivocation) as info:
        mirror.sync(Server(TAMPERINGS[tampering](HONEST)).source(), CHECKPOINTS, page=2)
    e = info.value
    assert (e.checkpoint_index, e.size, e.start, e.end, e.expected_root) == (1, 7, 3, 7, CHECKPOINTS[1].root)
    assert e.served_root is not None and e.served_root != e.expected_root
    assert isinstance(e, VerificationError)
    assert str(e).startswith(f"checkpoint 1 (size 7, anchored root 0x{CHECKPOINTS[1].root.hex()}) is not "
                             f"reproduced by the server's leaves [3, 7): they give root "
                             f"0x{e.served_root.hex()}")
    assert snapshot(mirror) == before
    mirror.verify_stored()


@pytest.mark.parametrize("extra", [-1, 1])
def test_an_answer_with_a_leaf_too_few_or_too_many_is_refused(mirror: LogMirror, extra: int) -> None:
    def answer(start: int, end: int, served: list[str]) -> httpx.Response:
        served = served[:-1] if extra < 0 else [*served, OTHER.decode()]
        return httpx.Response(200, json={"start": start, "end": end, "leaves": served})

    with pytest.raises(Equivocation,
                       match=rf"\[0, 3\): asked for leaves \[0, 3\), the server served {3 + extra}"):
        mirror.sync(Server(HONEST, answer=answer).source(), CHECKPOINTS)
    assert snapshot(mirror) == (0, merkle.EMPTY_ROOT, b"", [], [])


def test_a_non_canonical_leaf_is_refused_even_when_the_anchored_root_covers_it(mirror: LogMirror) -> None:
    mirror.sync(Server(HONEST).source(), CHECKPOINTS[:1])
    before = snapshot(mirror)
    lying = list(HONEST)
    lying[5] = non_canonical(HONEST[5])
    for checkpoints in (CHECKPOINTS, anchored(lying)):  # the honest root, then one the operator built over it
        with pytest.raises(InvalidLeafServed) as info:
            mirror.sync(Server(lying).source(), checkpoints)
        e = info.value
        assert (e.checkpoint_index, e.start, e.end, e.leaf_index) == (1, 3, 7, 5)
        assert isinstance(e.cause, NonCanonicalLeaf) and isinstance(e, Equivocation)
        assert "leaf 5 is not a canonical review leaf" in str(e)
        assert snapshot(mirror) == before


def test_a_server_that_forks_after_the_mirror_verified_is_refused(mirror: LogMirror) -> None:
    mirror.sync(Server(HONEST).source(), CHECKPOINTS[:2])
    before = snapshot(mirror)
    fork = HONEST[:5] + [leaf(2000 + i) for i in range(9)]  # rewrote history from leaf 5 on
    with pytest.raises(Equivocation) as info:
        mirror.sync(Server(fork).source(), CHECKPOINTS)
    assert (info.value.checkpoint_index, info.value.start, info.value.end) == (2, 7, 12)
    assert snapshot(mirror) == before
    # and the fork's own checkpoints (another chain, or a reset one) conflict with what the mirror verified
    with pytest.raises(CheckpointConflict, match="checkpoint 1 is .* on chain but the mirror verified it"):
        mirror.sync(Server(fork).source(), anchored(fork))
    assert snapshot(mirror) == before


def test_a_refusal_keeps_the_checkpoints_verified_before_it_in_the_same_sync(mirror: LogMirror) -> None:
    lying = list(HONEST)
    lying[9] = OTHER
    with pytest.raises(Equivocation, match=r"checkpoint 2 .* leaves \[7, 12\)"):
        mirror.sync(Server(lying).source(), CHECKPOINTS)
    assert mirror.size == 7 and mirror.leaves(0, 7) == HONEST[:7]


# --------------------------------------------------------------------------------------------- cannot check


@pytest.mark.parametrize(("answer", "message"), [
    (lambda s, e, v: httpx.Response(500, text="boom"), "the server answered 500 for leaves [3, 7): boom"),
    (lambda s, e, v: httpx.Response(200, text="<html>"), "the server's answer for leaves [3, 7) is not JSON"),
    (lambda s, e, v: httpx.Response(200, json={"start": s, "end": e - 1, "leaves": v[:-1]}), "another range"),
    (lambda s, e, v: httpx.Response(200, json={"start": s, "end": e, "leaves": [1] * (e - s)}),
     "list of strings"),
])
def test_an_unusable_answer_is_a_source_error_naming_the_checkpoint(
        mirror: LogMirror, answer: Callable[[int, int, list[str]], httpx.Response], message: str) -> None:
    mirror.sync(Server(HONEST).source(), CHECKPOINTS[:1])
    before = snapshot(mirror)
    with pytest.raises(LeafSourceError) as info:
        mirror.sync(Server(HONEST, answer=answer).source(), CHECKPOINTS)
    assert message in str(info.value) and "(fetching for checkpoint 1, size 7)" in str(info.value)
    assert not isinstance(info.value, VerificationError)
    assert snapshot(mirror) == before


def test_a_server_short_of_an_anchored_checkpoint_is_a_source_error(mirror: LogMirror) -> None:
    with pytest.raises(LeafSourceError, match=r"answered 422 for leaves \[7, 12\).*checkpoint 2"):
        mirror.sync(Server(HONEST[:10]).source(), CHECKPOINTS)
    assert mirror.size == 7


def test_an_unreachable_server_is_a_source_error(mirror: LogMirror) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    transport = httpx.MockTransport(refuse)
    source = HttpLeafSource(httpx.Client(base_url="http://server.test", transport=transport))
    with pytest.raises(LeafSourceError, match=r"did not answer for leaves \[0, 3\): ConnectError"):
        mirror.sync(source, CHECKPOINTS)


# ------------------------------------------------------------------------------------------------ the file


def test_a_mirror_of_another_log_is_refused(tmp_path: Path) -> None:
    with LogMirror(tmp_path / "m.db", log_id="eip155:1:0xA") as m:
        assert m.log_id == "eip155:1:0xA"
    with pytest.raises(MirrorMismatch, match="mirrors the log eip155:1:0xA, not eip155:1:0xB"):
        LogMirror(tmp_path / "m.db", log_id="eip155:1:0xB")
    with LogMirror(tmp_path / "m.db") as m:
        assert m.log_id == "eip155:1:0xA"


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with LogMirror(path) as m:
        m.sync(Server(HONEST).source(), CHECKPOINTS)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE mirror_leaves SET data = ? WHERE leaf_index = 4", (OTHER,))
    with LogMirror(path) as m, pytest.raises(MirrorCorrupt, match=r"leaves \[0, 7\) do not give"):
        m.verify_stored()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM mirror_leaves WHERE leaf_index = 11")
    with LogMirror(path) as m, \
            pytest.raises(MirrorCorrupt, match="12 leaves verified, but the last stored leaf is 10"):
        m.sync(Server(HONEST).source(), CHECKPOINTS)


def test_a_path_that_is_not_a_mirror_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(MirrorUnavailable, match="cannot be used"):
        LogMirror(tmp_path / "junk.db")
    with pytest.raises(MirrorUnavailable):
        LogMirror(tmp_path)  # a directory
    with sqlite3.connect(tmp_path / "service.db") as db:
        db.execute("CREATE TABLE reviews (id INTEGER)")
    with pytest.raises(MirrorMismatch, match="is a database but not a mirror .* reviews"):
        LogMirror(tmp_path / "service.db")  # e.g. the service's own database given as --out


# ------------------------------------------------------------------------------------------------ fuzz


class ListSource:
    """An in-memory server (faster than HTTP for the fuzz); short of a range, it refuses as the API does."""

    def __init__(self, log: list[bytes]) -> None:
        self.log = log

    def leaves(self, start: int, end: int) -> list[bytes]:
        if end > len(self.log):
            raise LeafSourceError(f"the server answered 422 for leaves [{start}, {end})")
        return self.log[start:end]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[bytes], list[Cp], int, list[bytes], int]:
    """(honest log, its checkpoints, how many the mirror verified from the honest server first, the log the
    server then serves after one random tampering, page size)."""
    n = draw(st.integers(1, 24))
    honest = [leaf(i) for i in range(n)]
    sizes = tuple(sorted(draw(st.sets(st.integers(1, n), min_size=1, max_size=5))))
    checkpoints = anchored(honest, sizes)
    first = draw(st.integers(0, len(checkpoints)))
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(0, n - 1).filter(lambda j: j != i)) if n > 1 else i
    kind = draw(st.sampled_from(["replace", "swap", "delete", "insert", "duplicate", "truncate",
                                 "non-canonical",
                                 "append", "none"]))
    served = list(honest)
    if kind == "replace":
        served[i] = leaf(5000 + i)
    elif kind == "swap":
        served[i], served[j] = served[j], served[i]
    elif kind == "delete":
        del served[i]
    elif kind == "insert":
        served.insert(i, leaf(6000))
    elif kind == "duplicate":
        served.insert(i, served[i])
    elif kind == "truncate":
        served = served[:i]
    elif kind == "non-canonical":
        served[i] = non_canonical(served[i])
    elif kind == "append":
        served.append(leaf(7000))
    return honest, checkpoints, first, served, draw(st.integers(1, 8))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_fuzz_the_mirror_never_holds_a_leaf_that_is_not_the_honest_one(
        case: tuple[list[bytes], list[Cp], int, list[bytes], int]) -> None:
    honest, checkpoints, first, served, page = case
    with tempfile.TemporaryDirectory() as tmp, LogMirror(Path(tmp) / "m.db") as m:
        m.sync(ListSource(honest), checkpoints[:first], page=page)
        # The model: each checkpoint beyond what is held is accepted iff the server's leaves for its new range
        # are the honest ones; the first that is not stops the sync with a refusal (or a source error).
        held, refused = (checkpoints[first - 1].size if first else 0), False
        for cp in checkpoints[first:]:
            if served[held:cp.size] != honest[held:cp.size]:
                refused = True
                break
            held = cp.size
        try:
            m.sync(ListSource(served), checkpoints, page=page)
            raised, exc = False, None
        except (Equivocation, LeafSourceError) as caught:
            raised, exc = True, caught
        event(f"refused: {refused}, kind of refusal: {type(exc).__name__ if raised else None}")
        assert raised == refused
        assert m.size == held and m.leaves(0, held) == honest[:held]
        assert m.root == merkle.MerkleTree([merkle.leaf_hash(b) for b in honest]).root(held)
        m.verify_stored()
