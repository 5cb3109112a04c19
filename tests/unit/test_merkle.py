"""Tests of ledger.merkle: RFC 6962 / RFC 9162 Merkle trees, proofs and verification."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import InvalidInput, InvalidProof, LedgerError, RootMismatch, VerificationError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    consistency_proof_from_leaf_hashes,
    inclusion_proof_from_leaf_hashes,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

from ..fuzz import examples

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "testdata" / "merkle"
GENERATOR = REPO / "scripts" / "gen_merkle_vectors.py"
MAX_LEAVES = 4096
ERRORS: dict[str, type[Exception]] = {
    "InvalidInput": InvalidInput,
    "InvalidProof": InvalidProof,
    "RootMismatch": RootMismatch,
}

PROPERTY = settings(
    max_examples=examples(60),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def leaves(n: int) -> tuple[bytes, ...]:
    return tuple(leaf_hash(b"leaf-%d" % i) for i in range(n))


@lru_cache(maxsize=1)
def big_tree() -> MerkleTree:
    return MerkleTree(leaves(MAX_LEAVES))


def flip_bit(h: bytes, bit: int) -> bytes:
    out = bytearray(h)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def h(s: str) -> bytes:
    assert s.startswith("0x") and s == s.lower(), s
    raw = bytes.fromhex(s[2:])
    assert len(raw) == HASH_SIZE, s
    return raw


# ---------------------------------------------------------------------------------------------------------
# Hashing basics
# ---------------------------------------------------------------------------------------------------------


def test_hashing_matches_rfc6962_definitions() -> None:
    import hashlib

    assert HASH_SIZE == 32
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert root_from_leaf_hashes([a]) == a
    assert root_from_leaf_hashes([a, b]) == node_hash(a, b)
    c = leaf_hash(b"c")
    assert root_from_leaf_hashes([a, b, c]) == node_hash(node_hash(a, b), c)
    assert MerkleTree().root() == EMPTY_ROOT


# ---------------------------------------------------------------------------------------------------------
# Certificate Transparency reference values
# ---------------------------------------------------------------------------------------------------------


def test_ct_reference_vectors() -> None:
    ref = json.loads((VECTORS / "ct-reference.json").read_text(encoding="utf-8"))
    entries = [bytes.fromhex(s[2:]) for s in ref["leaves"]]
    assert len(entries) == 8
    hashes = [leaf_hash(e) for e in entries]
    tree = MerkleTree(hashes)
    assert [r["size"] for r in ref["roots"]] == list(range(9))
    for r in ref["roots"]:
        assert root_from_leaf_hashes(hashes[: r["size"]]) == h(r["root"])
        assert tree.root(r["size"]) == h(r["root"])
    for case in ref["inclusion"]:
        index, size, proof = case["index"], case["size"], [h(p) for p in case["proof"]]
        assert inclusion_proof_from_leaf_hashes(index, hashes[:size]) == proof
        assert tree.inclusion_proof(index, size) == proof
        verify_inclusion(index, size, hashes[index], proof, tree.root(size))
    for case in ref["consistency"]:
        old, new, proof = case["old_size"], case["new_size"], [h(p) for p in case["proof"]]
        assert consistency_proof_from_leaf_hashes(old, hashes[:new]) == proof
        assert tree.consistency_proof(old, new) == proof
        verify_consistency(old, new, tree.root(old), tree.root(new), proof)


# ---------------------------------------------------------------------------------------------------------
# Generated vectors
# ---------------------------------------------------------------------------------------------------------


def vector_files() -> Iterator[Path]:
    for kind in ("inclusion", "consistency"):
        yield from sorted((VECTORS / kind).glob("*.json"))


ALL_VECTORS = list(vector_files())


def test_vector_set_is_substantial() -> None:
    names = {f"{p.parent.name}/{p.stem}" for p in ALL_VECTORS}
    assert len(names) >= 150
    for required in (
        "inclusion/happy-path-6-of-13",
        "inclusion/happy-path-0-of-1",
        "inclusion/wrong-leaf",
        "inclusion/index-plus-1",
        "inclusion/index-minus-1",
        "inclusion/modified-proof-0-bit-3",
        "inclusion/truncated-proof",
        "inclusion/trailing-garbage",
        "inclusion/wrong-size",
        "inclusion/size-0",
        "consistency/old-greater-than-new",
        "consistency/wrong-old-root",
        "consistency/wrong-new-root",
        "consistency/same-size",
        "consistency/empty-proof-old-0",
        "consistency/happy-path-1-to-13",
        "consistency/happy-path-12-to-13",
        "consistency/happy-path-4-to-13",
    ):
        assert required in names


@pytest.mark.parametrize("path", ALL_VECTORS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert v["kind"] == path.parent.name
    assert v["description"] and v["reproduce"].startswith("python scripts/gen_merkle_vectors.py")
    assert v["valid"] is (v["python_error"] is None)
    proof = [h(p) for p in v["proof"]]
    if v["kind"] == "inclusion":
        assert set(v) == {
            "description",
            "reproduce",
            "kind",
            "index",
            "size",
            "leaf_hash",
            "proof",
            "root",
            "valid",
            "python_error",
        }
        assert 0 <= v["index"] < 2**64 and 0 <= v["size"] < 2**64

        def run() -> None:
            verify_inclusion(v["index"], v["size"], h(v["leaf_hash"]), proof, h(v["root"]))
    else:
        assert set(v) == {
            "description",
            "reproduce",
            "kind",
            "old_size",
            "new_size",
            "old_root",
            "new_root",
            "proof",
            "valid",
            "python_error",
        }
        assert 0 <= v["old_size"] < 2**64 and 0 <= v["new_size"] < 2**64

        def run() -> None:
            verify_consistency(v["old_size"], v["new_size"], h(v["old_root"]), h(v["new_root"]), proof)

    if v["valid"]:
        run()
    else:
        with pytest.raises(ERRORS[v["python_error"]]) as info:
            run()
        assert type(info.value).__name__ == v["python_error"]


def test_vector_generator_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------------------
# MerkleTree against the reference recursion (Hypothesis)
# ---------------------------------------------------------------------------------------------------------


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(
        st.one_of(
            st.integers(1, 40),
            st.integers(1, MAX_LEAVES),
            st.sampled_from([1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 4095, 4096]),
        )
    )
    index = draw(st.one_of(st.integers(0, size - 1), st.sampled_from([0, size - 1])))
    return size, index


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(
        st.one_of(
            st.integers(1, 40),
            st.integers(1, MAX_LEAVES),
            st.sampled_from([2, 3, 256, 257, 1024, 1025, 4096]),
        )
    )
    old = draw(
        st.one_of(
            st.integers(0, new),
            st.sampled_from([0, 1, new - 1, new]),
            st.sampled_from([1 << k for k in range(13) if 1 << k <= new]),
        )
    )
    return old, new


@PROPERTY
@given(size_and_index())
def test_tree_inclusion_matches_reference(case: tuple[int, int]) -> None:
    size, index = case
    hashes = leaves(size)
    tree = big_tree()
    root = root_from_leaf_hashes(hashes)
    assert tree.root(size) == root
    proof = inclusion_proof_from_leaf_hashes(index, hashes)
    assert tree.inclusion_proof(index, size) == proof
    assert root_from_inclusion_proof(index, size, hashes[index], proof) == root
    verify_inclusion(index, size, hashes[index], proof, root)
    exact = MerkleTree(hashes)
    assert exact.size == size
    assert exact.root() == root
    assert exact.inclusion_proof(index) == proof
    assert exact.leaf_hash(index) == hashes[index]


@PROPERTY
@given(old_and_new())
def test_tree_consistency_matches_reference(case: tuple[int, int]) -> None:
    old, new = case
    hashes = leaves(new)
    tree = big_tree()
    proof = consistency_proof_from_leaf_hashes(old, hashes)
    assert tree.consistency_proof(old, new) == proof
    old_root, new_root = root_from_leaf_hashes(hashes[:old]), root_from_leaf_hashes(hashes)
    assert (tree.root(old), tree.root(new)) == (old_root, new_root)
    verify_consistency(old, new, old_root, new_root, proof)
    assert MerkleTree(hashes).consistency_proof(old) == proof


@PROPERTY
@given(st.lists(st.binary(max_size=8), max_size=70), st.data())
def test_arbitrary_leaf_data(data_items: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(d) for d in data_items]
    tree = MerkleTree()
    for i, lh in enumerate(hashes):
        assert tree.append(lh) == i
    assert tree.root() == root_from_leaf_hashes(hashes)
    if hashes:
        index = data.draw(st.integers(0, len(hashes) - 1))
        assert tree.inclusion_proof(index) == inclusion_proof_from_leaf_hashes(index, hashes)
    old = data.draw(st.integers(0, len(hashes)))
    assert tree.consistency_proof(old) == consistency_proof_from_leaf_hashes(old, hashes)


@PROPERTY
@given(st.lists(st.integers(1, 300), min_size=1, max_size=8))
def test_prefix_roots_and_proofs_stable_while_growing(chunks: list[int]) -> None:
    tree = MerkleTree()
    roots = [tree.root()]
    proofs: dict[tuple[int, int], list[bytes]] = {}
    consistency: dict[tuple[int, int], list[bytes]] = {}
    all_leaves = leaves(sum(chunks))
    for chunk in chunks:
        start = tree.size
        tree.extend(all_leaves[start : start + chunk])
        size = tree.size
        roots.append(tree.root())
        proofs[(start, size)] = tree.inclusion_proof(start)
        consistency[(start, size)] = tree.consistency_proof(start)
    sizes = [0]
    for chunk in chunks:
        sizes.append(sizes[-1] + chunk)
    for size, root in zip(sizes, roots):
        assert tree.root(size) == root
        assert root == root_from_leaf_hashes(all_leaves[:size])
    for (index, size), proof in proofs.items():
        assert tree.inclusion_proof(index, size) == proof
    for (old, size), proof in consistency.items():
        assert tree.consistency_proof(old, size) == proof
    # Every prefix root of the grown tree equals the root of a tree grown one leaf at a time to that size.
    step = MerkleTree()
    for size in range(tree.size + 1):
        assert tree.root(size) == step.root()
        if size < tree.size:
            step.append(all_leaves[size])


# ---------------------------------------------------------------------------------------------------------
# Mutations are rejected (Hypothesis)
# ---------------------------------------------------------------------------------------------------------


@PROPERTY
@given(size_and_index(), st.data())
def test_inclusion_single_bit_mutations_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    tree = big_tree()
    lh, proof, root = leaves(size)[index], tree.inclusion_proof(index, size), tree.root(size)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    targets = ["leaf", "root"] + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets), label="target")
    if target == "leaf":
        lh = flip_bit(lh, bit)
    elif target == "root":
        root = flip_bit(root, bit)
    else:
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        proof = [flip_bit(p, bit) if i == j else p for i, p in enumerate(proof)]
    with pytest.raises(RootMismatch) as info:
        verify_inclusion(index, size, lh, proof, root)
    assert info.value.what == "root"
    assert info.value.expected == root and info.value.calculated != root


@PROPERTY
@given(old_and_new(), st.data())
def test_consistency_single_bit_mutations_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    tree = big_tree()
    old_root, new_root, proof = tree.root(old), tree.root(new), tree.consistency_proof(old, new)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    if old == 0 and old != new:
        # Anything is consistent with the empty tree: the roots are not examined, only the empty proof.
        verify_consistency(old, new, flip_bit(old_root, bit), flip_bit(new_root, bit), proof)
        return
    targets = ["old_root", "new_root"] + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets), label="target")
    if target == "old_root":
        old_root = flip_bit(old_root, bit)
    elif target == "new_root":
        new_root = flip_bit(new_root, bit)
    else:
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        proof = [flip_bit(p, bit) if i == j else p for i, p in enumerate(proof)]
    with pytest.raises(RootMismatch) as info:
        verify_consistency(old, new, old_root, new_root, proof)
    assert info.value.what in ("old root", "new root")
    if target == "new_root":
        assert info.value.what == "new root"


@PROPERTY
@given(size_and_index(), st.data())
def test_inclusion_wrong_length_is_invalid_proof(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    tree = big_tree()
    proof = tree.inclusion_proof(index, size)
    extra = data.draw(st.lists(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), min_size=1, max_size=3))
    choices = ["extend", "insert"] + (["truncate"] if proof else [])
    how = data.draw(st.sampled_from(choices))
    if how == "truncate":
        mutated = proof[: data.draw(st.integers(0, len(proof) - 1))]
    elif how == "extend":
        mutated = proof + extra
    else:
        at = data.draw(st.integers(0, len(proof)))
        mutated = proof[:at] + extra + proof[at:]
    with pytest.raises(InvalidProof) as info:
        verify_inclusion(index, size, leaves(size)[index], mutated, tree.root(size))
    assert f"found {len(mutated)}" in str(info.value)
    assert f"must have {len(proof)} hash" in str(info.value)


@PROPERTY
@given(old_and_new(), st.data())
def test_consistency_wrong_length_is_invalid_proof(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    tree = big_tree()
    proof = tree.consistency_proof(old, new)
    extra = data.draw(st.lists(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), min_size=1, max_size=3))
    choices = ["extend", "insert"] + (["truncate"] if proof else [])
    how = data.draw(st.sampled_from(choices))
    if how == "truncate":
        mutated = proof[: data.draw(st.integers(0, len(proof) - 1))]
    elif how == "extend":
        mutated = proof + extra
    else:
        at = data.draw(st.integers(0, len(proof)))
        mutated = proof[:at] + extra + proof[at:]
    with pytest.raises(InvalidProof) as info:
        verify_consistency(old, new, tree.root(old), tree.root(new), mutated)
    assert f"found {len(mutated)}" in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# Specific behaviour and error details
# ---------------------------------------------------------------------------------------------------------


def test_error_classes_and_messages() -> None:
    tree = MerkleTree(leaves(13))
    proof, root = tree.inclusion_proof(6), tree.root()
    with pytest.raises(InvalidProof, match=r"index 6 in a tree of size 13 must have 4 hashes, found 5"):
        verify_inclusion(6, 13, leaves(13)[6], [*proof, root], root)
    with pytest.raises(RootMismatch) as info:
        verify_inclusion(6, 13, leaves(13)[7], proof, root)
    assert info.value.expected == root and info.value.what == "root"
    assert f"expected 0x{root.hex()}" in str(info.value) and "calculated 0x" in str(info.value)
    assert isinstance(info.value, VerificationError) and isinstance(info.value, LedgerError)
    with pytest.raises(InvalidInput, match=r"index must be < size 13, found 13") as bad:
        verify_inclusion(13, 13, leaves(13)[0], proof, root)
    assert isinstance(bad.value, ValueError)


def test_consistency_mismatch_names_the_root() -> None:
    tree = MerkleTree(leaves(13))
    proof = tree.consistency_proof(6)
    with pytest.raises(RootMismatch) as info:
        verify_consistency(6, 13, tree.root(5), tree.root(), proof)
    assert info.value.what == "old root" and info.value.expected == tree.root(5)
    with pytest.raises(RootMismatch) as info:
        verify_consistency(6, 13, tree.root(6), tree.root(12), proof)
    assert info.value.what == "new root" and info.value.expected == tree.root(12)
    assert info.value.calculated == tree.root(13)
    # Old size a power of two: the old root is the seed, so a wrong one shows up in the new root.
    with pytest.raises(RootMismatch) as info:
        verify_consistency(4, 13, tree.root(3), tree.root(), tree.consistency_proof(4))
    assert info.value.what == "new root"


def test_consistency_edge_conventions() -> None:
    tree = MerkleTree(leaves(13))
    r = tree.root()
    verify_consistency(13, 13, r, r, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 13, EMPTY_ROOT, r, [])
    verify_consistency(0, 13, r, r, [])  # old_size 0: roots are not examined (transparency-dev convention)
    with pytest.raises(RootMismatch) as info:
        verify_consistency(13, 13, tree.root(12), r, [])
    assert info.value.what == "new root"
    with pytest.raises(InvalidProof, match="equal sizes 13 must be empty, found 1 hash"):
        verify_consistency(13, 13, r, r, [r])
    with pytest.raises(InvalidProof, match="empty tree must be empty, found 1 hash"):
        verify_consistency(0, 13, EMPTY_ROOT, r, [r])
    with pytest.raises(InvalidProof, match="from size 6 to size 13 must have 4 hashes, found 0"):
        verify_consistency(6, 13, tree.root(6), r, [])
    assert tree.consistency_proof(0) == [] and tree.consistency_proof(13) == []


def test_single_leaf_tree() -> None:
    lh = leaves(1)[0]
    verify_inclusion(0, 1, lh, [], lh)
    with pytest.raises(InvalidProof):
        verify_inclusion(0, 1, lh, [lh], lh)
    with pytest.raises(RootMismatch):
        verify_inclusion(0, 1, lh, [], EMPTY_ROOT)


def test_tree_operations_use_logarithmic_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    n = (1 << 17) + 12345
    tree = MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(n))
    assert tree.size == n
    real = merkle._sha256
    calls = 0

    def counting(data: bytes = b"") -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(merkle, "_sha256", counting)
    budget = 2 * n.bit_length() + 2
    for op in (
        lambda: tree.root(),
        lambda: tree.root(n - 1),
        lambda: tree.root(40000),
        lambda: tree.inclusion_proof(0),
        lambda: tree.inclusion_proof(n - 1),
        lambda: tree.inclusion_proof(777, 50001),
        lambda: tree.consistency_proof(1),
        lambda: tree.consistency_proof(n - 1),
        lambda: tree.consistency_proof(3, 99999),
    ):
        calls = 0
        op()
        assert calls <= budget
    more = [leaf_hash(b"more-%d" % i) for i in range(1024)]
    calls = 0
    for lh in more:
        tree.append(lh)
    # One node hash per completed subtree, i.e. the trailing zeros of each new size: amortised O(1).
    assert calls == sum((s & -s).bit_length() - 1 for s in range(n + 1, n + 1025))


def test_large_indices_within_uint64() -> None:
    # Proof-length arithmetic must not overflow or truncate anywhere in the uint64 range.
    size = 2**64 - 1
    with pytest.raises(InvalidProof, match="must have 64 hashes, found 0"):
        root_from_inclusion_proof(0, size, leaves(1)[0], [])
    with pytest.raises(InvalidProof, match="must have 63 hashes, found 0"):
        root_from_inclusion_proof(size - 1, size, leaves(1)[0], [])


# ---------------------------------------------------------------------------------------------------------
# Preconditions: every InvalidInput path
# ---------------------------------------------------------------------------------------------------------

GOOD = leaves(1)[0]
SHORT = GOOD[:31]
LONG = GOOD + b"\x00"


@pytest.mark.parametrize("left,right", [(SHORT, GOOD), (GOOD, LONG), (b"", b""), ("ab" * 16, GOOD)])
def test_node_hash_requires_32_byte_inputs(left: Any, right: Any) -> None:
    with pytest.raises(InvalidInput, match="must be 32 bytes, found"):
        node_hash(left, right)


@pytest.mark.parametrize("data", [5, "text", None, [1, 2]])
def test_leaf_hash_requires_bytes(data: Any) -> None:
    with pytest.raises(InvalidInput, match="leaf data must be bytes, found"):
        leaf_hash(data)


def test_reference_functions_preconditions() -> None:
    with pytest.raises(InvalidInput, match=r"leaf_hashes\[1\] must be 32 bytes, found 31 bytes"):
        root_from_leaf_hashes([GOOD, SHORT])
    with pytest.raises(InvalidInput, match="single bytes"):
        root_from_leaf_hashes(GOOD)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="index must be < size 3, found 3"):
        inclusion_proof_from_leaf_hashes(3, leaves(3))
    with pytest.raises(InvalidInput, match="index must be < size 0, found 0"):
        inclusion_proof_from_leaf_hashes(0, [])
    with pytest.raises(InvalidInput, match="index must be >= 0, found -1"):
        inclusion_proof_from_leaf_hashes(-1, leaves(3))
    with pytest.raises(InvalidInput, match="index must be an int, found bool"):
        inclusion_proof_from_leaf_hashes(True, leaves(3))
    with pytest.raises(InvalidInput, match=r"leaf_hashes\[0\] must be 32 bytes"):
        inclusion_proof_from_leaf_hashes(0, [LONG])
    with pytest.raises(InvalidInput, match="old_size must be <= new size 3, found 4"):
        consistency_proof_from_leaf_hashes(4, leaves(3))
    with pytest.raises(InvalidInput, match="old_size must be >= 0, found -1"):
        consistency_proof_from_leaf_hashes(-1, leaves(3))
    with pytest.raises(InvalidInput, match="old_size must be an int, found float"):
        consistency_proof_from_leaf_hashes(1.0, leaves(3))  # type: ignore[arg-type]


def test_root_from_inclusion_proof_preconditions() -> None:
    proof = inclusion_proof_from_leaf_hashes(1, leaves(3))
    with pytest.raises(InvalidInput, match="index must be < size 3, found 3"):
        root_from_inclusion_proof(3, 3, GOOD, proof)
    with pytest.raises(InvalidInput, match="index must be < size 0, found 0"):
        root_from_inclusion_proof(0, 0, GOOD, [])
    with pytest.raises(InvalidInput, match="index must be >= 0, found -1"):
        root_from_inclusion_proof(-1, 3, GOOD, proof)
    with pytest.raises(InvalidInput, match="size must be >= 0, found -3"):
        root_from_inclusion_proof(0, -3, GOOD, proof)
    with pytest.raises(InvalidInput, match="size must be an int, found str"):
        root_from_inclusion_proof(0, "3", GOOD, proof)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="leaf_hash must be 32 bytes, found 31 bytes"):
        root_from_inclusion_proof(1, 3, SHORT, proof)
    with pytest.raises(InvalidInput, match="leaf_hash must be 32 bytes, found str"):
        root_from_inclusion_proof(1, 3, GOOD.hex(), proof)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"proof\[1\] must be 32 bytes, found 33 bytes"):
        root_from_inclusion_proof(1, 3, GOOD, [proof[0], LONG])
    with pytest.raises(InvalidInput, match="proof must be a sequence"):
        root_from_inclusion_proof(1, 3, GOOD, proof[0])  # type: ignore[arg-type]


def test_verify_inclusion_preconditions() -> None:
    tree = MerkleTree(leaves(3))
    proof = tree.inclusion_proof(1)
    verify_inclusion(1, 3, leaves(3)[1], proof, tree.root())
    with pytest.raises(InvalidInput, match="root must be 32 bytes, found 31 bytes"):
        verify_inclusion(1, 3, leaves(3)[1], proof, tree.root()[:31])
    with pytest.raises(InvalidInput, match="index must be < size 3, found 5"):
        verify_inclusion(5, 3, leaves(3)[1], proof, tree.root())


def test_verify_consistency_preconditions() -> None:
    tree = MerkleTree(leaves(13))
    proof, r6, r13 = tree.consistency_proof(6), tree.root(6), tree.root()
    with pytest.raises(InvalidInput, match="old_size must be <= new_size 6, found 13"):
        verify_consistency(13, 6, r13, r6, proof)
    with pytest.raises(InvalidInput, match="old_size must be >= 0, found -1"):
        verify_consistency(-1, 13, r6, r13, proof)
    with pytest.raises(InvalidInput, match="new_size must be >= 0, found -13"):
        verify_consistency(6, -13, r6, r13, proof)
    with pytest.raises(InvalidInput, match="new_size must be an int, found NoneType"):
        verify_consistency(6, None, r6, r13, proof)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="old_root must be 32 bytes, found 0 bytes"):
        verify_consistency(6, 13, b"", r13, proof)
    with pytest.raises(InvalidInput, match="new_root must be 32 bytes, found 33 bytes"):
        verify_consistency(6, 13, r6, r13 + b"\x00", proof)
    with pytest.raises(InvalidInput, match=r"proof\[2\] must be 32 bytes, found 31 bytes"):
        verify_consistency(6, 13, r6, r13, [*proof[:2], SHORT, proof[3]])


def test_merkle_tree_preconditions() -> None:
    tree = MerkleTree(leaves(5))
    with pytest.raises(InvalidInput, match="leaf_hash must be 32 bytes, found 31 bytes"):
        tree.append(SHORT)
    with pytest.raises(InvalidInput, match="leaf_hash must be 32 bytes, found str"):
        tree.append("x" * 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="single bytes"):
        tree.extend(GOOD)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"leaf_hashes\[1\] must be 32 bytes, found 33 bytes"):
        MerkleTree([GOOD, LONG])
    root = tree.root()
    with pytest.raises(InvalidInput, match=r"leaf_hashes\[2\] must be 32 bytes, found 31 bytes"):
        tree.extend([GOOD, GOOD, SHORT])
    assert tree.size == 5 and tree.root() == root  # failed appends and extends changed nothing
    assert tree.append(bytearray(GOOD)) == 5  # type: ignore[arg-type]  # bytes-like values are copied
    assert tree.leaf_hash(5) == GOOD
    with pytest.raises(InvalidInput, match="index must be < size 6, found 6"):
        tree.leaf_hash(6)
    with pytest.raises(InvalidInput, match="index must be >= 0, found -1"):
        tree.leaf_hash(-1)
    with pytest.raises(InvalidInput, match="size must be <= tree size 6, found 7"):
        tree.root(7)
    with pytest.raises(InvalidInput, match="size must be >= 0, found -1"):
        tree.root(-1)
    with pytest.raises(InvalidInput, match="index must be < size 4, found 4"):
        tree.inclusion_proof(4, 4)
    with pytest.raises(InvalidInput, match="index must be < size 0, found 0"):
        tree.inclusion_proof(0, 0)
    with pytest.raises(InvalidInput, match="size must be <= tree size 6, found 9"):
        tree.inclusion_proof(0, 9)
    with pytest.raises(InvalidInput, match="old_size must be <= new_size 3, found 4"):
        tree.consistency_proof(4, 3)
    with pytest.raises(InvalidInput, match="new_size must be <= tree size 6, found 7"):
        tree.consistency_proof(1, 7)
    with pytest.raises(InvalidInput, match="old_size must be >= 0, found -2"):
        tree.consistency_proof(-2)
    with pytest.raises(InvalidInput, match="index must be < size 0, found 0"):
        MerkleTree().inclusion_proof(0)


# ---------------------------------------------------------------------------------------------------------
# Stored subtrees: nodes_since, from_levels, truncate (what a durable log keeps and reloads)
# ---------------------------------------------------------------------------------------------------------


def _levels_from_nodes(leaf_hashes: tuple[bytes, ...], nodes: list[tuple[int, int, bytes]]) -> list[bytes]:
    """Reassemble per-level concatenations from (level, index, hash) rows, as a store would."""
    size = len(leaf_hashes)
    height = max(1, size.bit_length())
    by_level: list[dict[int, bytes]] = [{} for _ in range(height)]
    for level, index, digest in nodes:
        assert index not in by_level[level], (level, index)  # every node is handed out once
        by_level[level][index] = digest
    levels = [b"".join(leaf_hashes)]
    for level in range(1, height):
        assert sorted(by_level[level]) == list(range(size >> level))
        levels.append(b"".join(by_level[level][i] for i in range(size >> level)))
    return levels


@PROPERTY
@given(st.lists(st.integers(0, 200), min_size=1, max_size=8))
def test_nodes_since_hands_out_every_complete_subtree_once(chunks: list[int]) -> None:
    all_leaves = leaves(sum(chunks))
    tree = MerkleTree()
    stored: list[tuple[int, int, bytes]] = []
    for chunk in chunks:
        old = tree.size
        tree.extend(all_leaves[old : old + chunk])
        new_nodes = tree.nodes_since(old)
        assert new_nodes == sorted(new_nodes)  # level, then index
        for level, index, digest in new_nodes:
            assert (index + 1) << level > old  # completed after old_size ...
            assert (index + 1) << level <= tree.size  # ... and complete now
            assert digest == root_from_leaf_hashes(all_leaves[index << level : (index + 1) << level])
        stored += new_nodes
    reloaded = MerkleTree.from_levels(_levels_from_nodes(all_leaves[: tree.size], stored))
    assert reloaded.size == tree.size
    for size in range(tree.size + 1):
        assert reloaded.root(size) == tree.root(size)
    if tree.size:
        assert reloaded.inclusion_proof(tree.size - 1) == tree.inclusion_proof(tree.size - 1)
        assert reloaded.consistency_proof(1) == tree.consistency_proof(1)
    # The reloaded tree keeps growing exactly like the original.
    extra = leaf_hash(b"one more")
    tree.append(extra)
    reloaded.append(extra)
    assert reloaded.root() == tree.root()
    assert reloaded.nodes_since(tree.size - 1) == tree.nodes_since(tree.size - 1)


def test_nodes_since_small_cases() -> None:
    tree = MerkleTree(leaves(4))
    l0, l1, l2, l3 = leaves(4)
    n01, n23 = node_hash(l0, l1), node_hash(l2, l3)
    assert tree.nodes_since(0) == [(1, 0, n01), (1, 1, n23), (2, 0, node_hash(n01, n23))]
    assert tree.nodes_since(1) == [(1, 0, n01), (1, 1, n23), (2, 0, node_hash(n01, n23))]
    assert tree.nodes_since(2) == [(1, 1, n23), (2, 0, node_hash(n01, n23))]
    assert tree.nodes_since(3) == [(1, 1, n23), (2, 0, node_hash(n01, n23))]
    assert tree.nodes_since(4) == []
    assert MerkleTree().nodes_since(0) == []
    with pytest.raises(InvalidInput, match="old_size must be <= tree size 4, found 5"):
        tree.nodes_since(5)
    with pytest.raises(InvalidInput, match="old_size must be >= 0, found -1"):
        tree.nodes_since(-1)


def test_from_levels_loads_without_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = MerkleTree(leaves(1000))
    levels = [bytes(level) for level in tree._levels]
    calls = 0
    real = merkle._sha256

    def counting(data: bytes) -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(merkle, "_sha256", counting)
    reloaded = MerkleTree.from_levels(levels)
    assert calls == 0
    assert reloaded.root() == tree.root()
    assert calls <= 2 * 10  # a root is a fold of at most log2(n) stored subtrees
    assert MerkleTree.from_levels([]).root() == EMPTY_ROOT
    assert MerkleTree.from_levels([b""]).size == 0


def test_from_levels_preconditions() -> None:
    l0 = b"".join(leaves(5))
    l1 = b"".join(MerkleTree(leaves(5)).nodes_since(0)[i][2] for i in range(2))
    l2 = MerkleTree(leaves(5)).nodes_since(0)[2][2]
    assert MerkleTree.from_levels([l0, l1, l2]).root() == MerkleTree(leaves(5)).root()
    with pytest.raises(InvalidInput, match="single bytes"):
        MerkleTree.from_levels(l0)
    with pytest.raises(InvalidInput, match=r"levels\[1\] must be bytes, found int"):
        MerkleTree.from_levels([l0, 7, l2])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="whole number of 32-byte hashes, found 161 bytes"):
        MerkleTree.from_levels([l0 + b"x", l1, l2])
    with pytest.raises(InvalidInput, match="a tree of size 5 has 3 levels, found 2"):
        MerkleTree.from_levels([l0, l1])
    with pytest.raises(InvalidInput, match="a tree of size 5 has 3 levels, found 4"):
        MerkleTree.from_levels([l0, l1, l2, b""])
    with pytest.raises(InvalidInput, match=r"levels\[1\] of a tree of size 5 must have 2 hashes \(64 bytes\), "
                       r"found 32 bytes"):
        MerkleTree.from_levels([l0, l1[:32], l2])


@PROPERTY
@given(st.integers(0, 300), st.data())
def test_truncate_is_the_tree_of_the_prefix(size: int, data: st.DataObject) -> None:
    tree = MerkleTree(leaves(size))
    keep = data.draw(st.integers(0, size))
    tree.truncate(keep)
    fresh = MerkleTree(leaves(keep))
    assert tree.size == keep
    assert tree._levels == fresh._levels
    tree.extend(leaves(size)[keep:])
    assert tree._levels == MerkleTree(leaves(size))._levels


def test_truncate_preconditions() -> None:
    tree = MerkleTree(leaves(3))
    with pytest.raises(InvalidInput, match="size must be <= tree size 3, found 4"):
        tree.truncate(4)
    with pytest.raises(InvalidInput, match="size must be >= 0, found -1"):
        tree.truncate(-1)
    assert tree.size == 3


# ---------------------------------------------------------------------------------------------- compact range


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70), st.data())
def test_compact_range_root_is_the_tree_root_at_every_size(hashes: list[bytes], data: st.DataObject) -> None:
    r = CompactRange()
    assert r.root() == EMPTY_ROOT
    for n, h in enumerate(hashes, start=1):
        r.append(h)
        assert (r.size, len(r.nodes)) == (n, n.bit_count())
        assert r.root() == root_from_leaf_hashes(hashes[:n])
    copy = CompactRange.from_bytes(r.size, r.to_bytes())
    more = data.draw(st.lists(st.binary(min_size=32, max_size=32), max_size=10))
    for h in more:
        copy.append(h)
    assert copy.root() == root_from_leaf_hashes(hashes + more)


@pytest.mark.parametrize("size, nodes", [(-1, []), (1, []), (2, [b"\x00" * 32] * 2), (0, [b"\x00" * 31])])
def test_compact_range_refuses_nodes_that_do_not_fit_its_size(size: int, nodes: list[bytes]) -> None:
    with pytest.raises(InvalidInput):
        CompactRange(size, nodes)


def test_compact_range_refuses_bad_bytes_and_leaf_hashes() -> None:
    with pytest.raises(InvalidInput):
        CompactRange.from_bytes(1, b"\x00" * 33)
    with pytest.raises(InvalidInput):
        CompactRange().append(b"short")
