#!/usr/bin/env python3
"""Generate the RFC 6962 / RFC 9162 Merkle proof test vectors in tests/testdata/merkle/.

Writes one JSON file per vector to ``tests/testdata/merkle/inclusion/`` and
``tests/testdata/merkle/consistency/`` (and removes stale ``*.json`` files there). Output is deterministic:
re-running produces byte-identical files.

    python scripts/gen_merkle_vectors.py           # (re)write the vectors
    python scripts/gen_merkle_vectors.py --check   # exit 1 if the files on disk differ from what it would write

How truth is decided. Happy paths come from the plain RFC 6962 reference recursion (PATH / SUBPROOF / MTH):
over real leaves ``b"leaf-%d" % i`` for small trees, and over a tree whose leaves are all
``b"uniform"`` for the ``uint64-*`` vectors (there MTH of a range depends only on its length, so sizes up
to 2**64 - 1 are computable exactly). Each mutation's outcome is decided here from the mutation itself:
bad index / sizes -> ``InvalidInput``; a proof whose number of hashes differs from the reference proof's
for the claimed shape -> ``InvalidProof``; anything else that changes a hash, an index or a size ->
``RootMismatch``. The generator then runs ``ledger.merkle``'s verifier on every vector and refuses to
write anything if it disagrees. ``tests/testdata/merkle/ct-reference.json`` is not generated here: it
holds published reference values and is checked by the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger.errors import InvalidInput, InvalidProof, RootMismatch
from ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof_from_leaf_hashes,
    inclusion_proof_from_leaf_hashes,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

OUT_DIR = ROOT / "tests" / "testdata" / "merkle"
KINDS = ("inclusion", "consistency")
CMD = "python scripts/gen_merkle_vectors.py"
UINT64_MAX = 2**64 - 1
GARBAGE = hashlib.sha256(b"garbage").digest()

Vector = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Trees
# ---------------------------------------------------------------------------------------------------------


@cache
def leaves(n: int) -> tuple[bytes, ...]:
    """Leaf hashes of the first n entries b"leaf-%d" % i."""
    return tuple(leaf_hash(b"leaf-%d" % i) for i in range(n))


def root(n: int) -> bytes:
    return root_from_leaf_hashes(leaves(n))


def incl_proof(index: int, size: int) -> list[bytes]:
    return inclusion_proof_from_leaf_hashes(index, leaves(size))


def cons_proof(old: int, new: int) -> list[bytes]:
    return consistency_proof_from_leaf_hashes(old, leaves(new))


UNIFORM_LEAF = leaf_hash(b"uniform")


@cache
def uniform_mth(n: int) -> bytes:
    """MTH of n >= 1 leaves all equal to leaf_hash(b"uniform") (RFC 6962 §2.1, by length only)."""
    if n == 1:
        return UNIFORM_LEAF
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(uniform_mth(k), uniform_mth(n - k))


def uniform_path(m: int, n: int) -> list[bytes]:
    """PATH(m, D[n]) (RFC 6962 §2.1.1) for the uniform tree."""
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return uniform_path(m, k) + [uniform_mth(n - k)]
    return uniform_path(m - k, n - k) + [uniform_mth(k)]


def uniform_subproof(m: int, n: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 6962 §2.1.2) for the uniform tree."""
    if m == n:
        return [] if b else [uniform_mth(n)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return uniform_subproof(m, k, b) + [uniform_mth(n - k)]
    return uniform_subproof(m - k, n - k, False) + [uniform_mth(k)]


def flip(h: bytes, byte: int = 0, bit: int = 3) -> bytes:
    out = bytearray(h)
    out[byte] ^= 1 << bit
    return bytes(out)


def hx(h: bytes) -> str:
    return "0x" + h.hex()


# ---------------------------------------------------------------------------------------------------------
# Vector builders
# ---------------------------------------------------------------------------------------------------------


def inclusion_outcome(
    index: int, size: int, proof: Sequence[bytes], shape_len: Callable[[int, int], int]
) -> str:
    if not 0 <= index < size:
        return "InvalidInput"
    if len(proof) != shape_len(index, size):
        return "InvalidProof"
    return "RootMismatch"


def ref_incl_len(index: int, size: int) -> int:
    # Length of PATH(index, D[size]) depends only on the shape; compute it with the reference recursion.
    return len(uniform_path(index, size))


def consistency_outcome(old: int, new: int, proof: Sequence[bytes], roots_differ: bool) -> str:
    if not 0 <= old <= new:
        return "InvalidInput"
    if old == new or old == 0:
        if proof:
            return "InvalidProof"
        return "RootMismatch" if (old == new and roots_differ) else "ok"
    if len(proof) != len(uniform_subproof(old, new, True)):
        return "InvalidProof"
    return "RootMismatch"


def inclusion_vector(
    name: str,
    description: str,
    mutation: str,
    *,
    index: int,
    size: int,
    leaf: bytes,
    proof: Sequence[bytes],
    root_: bytes,
    error: str | None,
) -> tuple[str, Vector]:
    return f"inclusion/{name}.json", {
        "description": description,
        "reproduce": f"{CMD} ({mutation})",
        "kind": "inclusion",
        "index": index,
        "size": size,
        "leaf_hash": hx(leaf),
        "proof": [hx(p) for p in proof],
        "root": hx(root_),
        "valid": error is None,
        "python_error": error,
    }


def consistency_vector(
    name: str,
    description: str,
    mutation: str,
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    error: str | None,
) -> tuple[str, Vector]:
    return f"consistency/{name}.json", {
        "description": description,
        "reproduce": f"{CMD} ({mutation})",
        "kind": "consistency",
        "old_size": old_size,
        "new_size": new_size,
        "old_root": hx(old_root),
        "new_root": hx(new_root),
        "proof": [hx(p) for p in proof],
        "valid": error is None,
        "python_error": error,
    }


# ---------------------------------------------------------------------------------------------------------
# Inclusion vectors
# ---------------------------------------------------------------------------------------------------------

INCLUSION_HAPPY = [
    (0, 1),
    (0, 2),
    (1, 2),
    (2, 3),
    (0, 4),
    (3, 4),
    (0, 7),
    (6, 7),
    (0, 8),
    (3, 8),
    (5, 8),
    (7, 8),
    (0, 13),
    (6, 13),
    (7, 13),
    (12, 13),
    (31, 32),
    (0, 33),
    (32, 33),
    (500, 1000),
    (999, 1000),
    (1023, 1024),
    (0, 1025),
    (1024, 1025),
]

UINT64_INCLUSION = [
    (0, 2**32 + 1),
    (2**32 - 1, 2**32 + 5),
    (2**32, 2**32 + 1),
    (2**40, 2**40 + 1),
    (0, UINT64_MAX),
    (2**63, UINT64_MAX),
    (UINT64_MAX - 1, UINT64_MAX),
    (12345678901234567, 2**63 + 3),
]


def inclusion_mutations(prefix: str, index: int, size: int, *, full: bool) -> list[tuple[str, Vector]]:
    """Mutations of the valid inclusion proof of leaf `index` in the `size`-leaf b"leaf-%d" tree."""
    lh, proof, r = leaves(size)[index], incl_proof(index, size), root(size)
    base = f"inclusion proof of leaf {index} in the {size}-leaf tree of b'leaf-%d' entries"
    out: list[tuple[str, Vector]] = []

    def add(
        name: str,
        what: str,
        *,
        i: int = index,
        s: int = size,
        leaf: bytes = lh,
        p: Sequence[bytes] = proof,
        rt: bytes = r,
        valid: bool = False,
    ) -> None:
        error = None if valid else inclusion_outcome(i, s, p, ref_incl_len)
        verdict = "still valid" if error is None else f"rejected with {error}"
        out.append(
            inclusion_vector(
                prefix + name,
                f"{base}, {what}: {verdict}",
                f"{base}, {what}",
                index=i,
                size=s,
                leaf=leaf,
                proof=p,
                root_=rt,
                error=error,
            )
        )

    for i in range(len(proof)):
        add(
            f"modified-proof-{i}-bit-3",
            f"bit 3 of byte 0 of proof[{i}] flipped",
            p=[flip(h) if j == i else h for j, h in enumerate(proof)],
        )
    if not full:
        return out

    other = (index + 1) % size
    add("wrong-leaf", f"leaf hash replaced by the hash of leaf {other}", leaf=leaves(size)[other])
    add("leaf-bit-flip", "bit 3 of byte 0 of the leaf hash flipped", leaf=flip(lh))
    add(
        "leaf-data-not-hashed",
        "leaf hash replaced by SHA-256(data) without the 0x00 prefix",
        leaf=hashlib.sha256(b"leaf-%d" % index).digest(),
    )
    add("index-plus-1", "index + 1", i=index + 1)
    add("index-minus-1", "index - 1", i=index - 1)
    add("index-xor-2", "index XOR 2", i=index ^ 2)
    add("index-equals-size", "index set to size", i=size)
    add("index-uint64-max", "index set to 2**64 - 1", i=UINT64_MAX)
    add("wrong-size", "size + 4 (the path of the leaf gets one level longer)", s=size + 4)
    add(
        "size-plus-1-same-shape",
        "size + 1; the leaf's path has the same shape in both sizes and the last proof hash stands for "
        "the whole right subtree, so an inclusion proof does not bind the size by itself (the size must "
        "come from the signed tree head)",
        s=size + 1,
        valid=True,
    )
    add(
        "size-minus-1-same-shape",
        "size - 1; the leaf's path has the same shape in both sizes, so the proof still verifies "
        "(an inclusion proof does not bind the size by itself)",
        s=size - 1,
        valid=True,
    )
    add("size-times-2", "size * 2", s=size * 2)
    add("size-div-2", "size // 2", s=size // 2)
    add("size-uint64-max", "size set to 2**64 - 1", s=UINT64_MAX)
    add("wrong-root", f"root replaced by the root of the {size - 1}-leaf tree", rt=root(size - 1))
    add("root-bit-flip", "bit 3 of byte 0 of the root flipped", rt=flip(r))
    add("empty-root", "root replaced by the empty-tree root SHA-256('')", rt=EMPTY_ROOT)
    add("leaf-as-root", "root replaced by the leaf hash", rt=lh)
    add("empty-proof", "proof replaced by []", p=[])
    add("truncated-proof", "last proof hash removed", p=proof[:-1])
    add("first-element-removed", "first proof hash removed", p=proof[1:])
    add("trailing-garbage", "SHA-256('garbage') appended to the proof", p=[*proof, GARBAGE])
    add("trailing-root", "the root appended to the proof", p=[*proof, r])
    add("preceding-garbage", "SHA-256('garbage') prepended to the proof", p=[GARBAGE, *proof])
    add("preceding-root", "the root prepended to the proof", p=[r, *proof])
    add("inserted-component", "SHA-256('garbage') inserted at proof[1]", p=[proof[0], GARBAGE, *proof[1:]])
    add("swapped-proof-elements", "proof[0] and proof[1] swapped", p=[proof[1], proof[0], *proof[2:]])
    add("reversed-proof", "proof order reversed", p=proof[::-1])
    add(
        "proof-from-other-index",
        f"proof replaced by the valid proof of leaf {other}",
        p=incl_proof(other, size),
    )
    return out


def inclusion_vectors() -> list[tuple[str, Vector]]:
    out: list[tuple[str, Vector]] = []
    for index, size in INCLUSION_HAPPY:
        what = f"inclusion proof of leaf {index} in the {size}-leaf tree of b'leaf-%d' entries"
        out.append(
            inclusion_vector(
                f"happy-path-{index}-of-{size}",
                f"valid {what}",
                what,
                index=index,
                size=size,
                leaf=leaves(size)[index],
                proof=incl_proof(index, size),
                root_=root(size),
                error=None,
            )
        )

    out += inclusion_mutations("", 6, 13, full=True)
    out += inclusion_mutations("index-5-of-8-", 5, 8, full=False)
    out += inclusion_mutations("index-1024-of-1025-", 1024, 1025, full=False)

    one = leaves(1)[0]
    out.append(
        inclusion_vector(
            "size-0",
            "index 0 in a tree of size 0 (no leaf exists): rejected with InvalidInput",
            "index 0, size 0, empty proof, empty-tree root",
            index=0,
            size=0,
            leaf=one,
            proof=[],
            root_=EMPTY_ROOT,
            error="InvalidInput",
        )
    )
    out.append(
        inclusion_vector(
            "size-1-index-1",
            "index 1 in a 1-leaf tree: rejected with InvalidInput",
            "1-leaf tree, index set to 1",
            index=1,
            size=1,
            leaf=one,
            proof=[],
            root_=one,
            error="InvalidInput",
        )
    )
    out.append(
        inclusion_vector(
            "size-1-wrong-root",
            "1-leaf tree whose root is not the leaf hash: rejected with RootMismatch",
            "1-leaf tree, root replaced by the 2-leaf root",
            index=0,
            size=1,
            leaf=one,
            proof=[],
            root_=root(2),
            error="RootMismatch",
        )
    )
    out.append(
        inclusion_vector(
            "size-1-nonempty-proof",
            "1-leaf tree with a 1-hash proof (must be empty): rejected with InvalidProof",
            "1-leaf tree, leaf 1's hash appended to the empty proof",
            index=0,
            size=1,
            leaf=one,
            proof=[leaves(2)[1]],
            root_=one,
            error="InvalidProof",
        )
    )

    # Large sizes: a tree of identical leaves b"uniform", computable exactly up to 2**64 - 1 leaves.
    for index, size in UINT64_INCLUSION:
        what = f"inclusion proof of leaf {index} in the {size}-leaf tree whose leaves are all b'uniform'"
        proof = uniform_path(index, size)
        out.append(
            inclusion_vector(
                f"uint64-happy-path-{index}-of-{size}",
                f"valid {what}",
                what,
                index=index,
                size=size,
                leaf=UNIFORM_LEAF,
                proof=proof,
                root_=uniform_mth(size),
                error=None,
            )
        )
        last = len(proof) - 1
        mutated = [*proof[:-1], flip(proof[-1])]
        out.append(
            inclusion_vector(
                f"uint64-{index}-of-{size}-modified-proof-{last}-bit-3",
                f"{what}, bit 3 of byte 0 of proof[{last}] flipped: rejected with RootMismatch",
                f"{what}, bit 3 of byte 0 of proof[{last}] flipped",
                index=index,
                size=size,
                leaf=UNIFORM_LEAF,
                proof=mutated,
                root_=uniform_mth(size),
                error="RootMismatch",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Consistency vectors
# ---------------------------------------------------------------------------------------------------------

CONSISTENCY_HAPPY = [
    (1, 2),
    (1, 8),
    (1, 13),
    (2, 3),
    (2, 5),
    (3, 7),
    (4, 8),
    (4, 13),
    (6, 7),
    (6, 8),
    (6, 13),
    (7, 8),
    (8, 13),
    (12, 13),
    (5, 16),
    (100, 1000),
    (512, 1025),
    (1000, 1025),
    (1023, 1024),
    (1024, 1025),
]

UINT64_CONSISTENCY = [
    (1, UINT64_MAX),
    (2**32 - 1, 2**32),
    (2**32, 2**32 + 1),
    (2**40 - 3, 2**41 + 7),
    (2**63, UINT64_MAX),
    (2**63 + 1, UINT64_MAX),
    (UINT64_MAX - 1, UINT64_MAX),
    (3, 2**63),
]


def consistency_mutations(prefix: str, old: int, new: int, *, full: bool) -> list[tuple[str, Vector]]:
    """Mutations of the valid consistency proof from size `old` to size `new` of the b"leaf-%d" log."""
    r1, r2, proof = root(old), root(new), cons_proof(old, new)
    base = f"consistency proof from size {old} to size {new} of the b'leaf-%d' log"
    out: list[tuple[str, Vector]] = []

    def add(
        name: str,
        what: str,
        *,
        o: int = old,
        n: int = new,
        or_: bytes = r1,
        nr: bytes = r2,
        p: Sequence[bytes] = proof,
        valid: bool = False,
    ) -> None:
        outcome = "ok" if valid else consistency_outcome(o, n, p, or_ != nr)
        error = None if outcome == "ok" else outcome
        assert valid or error is not None, name
        verdict = "still valid" if error is None else f"rejected with {error}"
        out.append(
            consistency_vector(
                prefix + name,
                f"{base}, {what}: {verdict}",
                f"{base}, {what}",
                old_size=o,
                new_size=n,
                old_root=or_,
                new_root=nr,
                proof=p,
                error=error,
            )
        )

    for i in range(len(proof)):
        add(
            f"modified-proof-{i}-bit-3",
            f"bit 3 of byte 0 of proof[{i}] flipped",
            p=[flip(h) if j == i else h for j, h in enumerate(proof)],
        )
    add("wrong-old-root", f"old root replaced by the root of size {old - 1}", or_=root(old - 1))
    add("wrong-new-root", f"new root replaced by the root of size {new - 1}", nr=root(new - 1))
    if not full:
        return out

    add("old-root-bit-flip", "bit 3 of byte 0 of the old root flipped", or_=flip(r1))
    add("new-root-bit-flip", "bit 3 of byte 0 of the new root flipped", nr=flip(r2))
    add("swapped-roots", "old and new roots swapped", or_=r2, nr=r1)
    add("old-plus-1", "old size + 1", o=old + 1)
    add("old-minus-1", "old size - 1", o=old - 1)
    add("old-xor-2", "old size XOR 2", o=old ^ 2)
    add("wrong-size", "new size + 4 (the proof path gets one level longer)", n=new + 4)
    add(
        "new-plus-1-same-shape",
        "new size + 1; the proof path has the same shape for both new sizes and the last proof hash "
        "stands for the whole right subtree, so the proof does not bind the new size by itself",
        n=new + 1,
        valid=True,
    )
    add(
        "new-minus-1-same-shape",
        "new size - 1; the proof path has the same shape for both new sizes, so the proof still verifies",
        n=new - 1,
        valid=True,
    )
    add("new-times-2", "new size * 2", n=new * 2)
    add("new-div-2", "new size // 2 (equal to the old size, proof not empty)", n=new // 2)
    add("old-greater-than-new", "old and new sizes swapped (old > new)", o=new, n=old)
    add("new-size-uint64-max", "new size set to 2**64 - 1", n=UINT64_MAX)
    add("empty-proof", "proof replaced by []", p=[])
    add("truncated-proof", "last proof hash removed", p=proof[:-1])
    add("first-element-removed", "first proof hash removed", p=proof[1:])
    add("trailing-garbage", "SHA-256('garbage') appended to the proof", p=[*proof, GARBAGE])
    add("trailing-old-root", "the old root appended to the proof", p=[*proof, r1])
    add("trailing-new-root", "the new root appended to the proof", p=[*proof, r2])
    add("preceding-garbage", "SHA-256('garbage') prepended to the proof", p=[GARBAGE, *proof])
    add("preceding-old-root", "the old root prepended to the proof", p=[r1, *proof])
    add("preceding-new-root", "the new root prepended to the proof", p=[r2, *proof])
    add("preceding-proof-0", "proof[0] duplicated at the front", p=[proof[0], *proof])
    add("swapped-proof-elements", "proof[0] and proof[1] swapped", p=[proof[1], proof[0], *proof[2:]])
    add("reversed-proof", "proof order reversed", p=proof[::-1])
    return out


def consistency_vectors() -> list[tuple[str, Vector]]:
    out: list[tuple[str, Vector]] = []
    for old, new in CONSISTENCY_HAPPY:
        what = f"consistency proof from size {old} to size {new} of the b'leaf-%d' log"
        out.append(
            consistency_vector(
                f"happy-path-{old}-to-{new}",
                f"valid {what}",
                what,
                old_size=old,
                new_size=new,
                old_root=root(old),
                new_root=root(new),
                proof=cons_proof(old, new),
                error=None,
            )
        )

    out += consistency_mutations("", 6, 13, full=True)
    out += consistency_mutations("old-4-to-13-", 4, 13, full=False)  # old size a power of 2
    out += consistency_mutations("old-1-to-13-", 1, 13, full=False)
    out += consistency_mutations("old-12-to-13-", 12, 13, full=False)

    r4, r13 = root(4), root(13)
    out.append(
        consistency_vector(
            "old-4-to-13-preceding-old-root",
            "consistency proof from size 4 (a power of 2) to 13 with the old root prepended; the verifier "
            "supplies it itself, so the proof has one hash too many: rejected with InvalidProof",
            "proof from 4 to 13, old root prepended",
            old_size=4,
            new_size=13,
            old_root=r4,
            new_root=r13,
            proof=[r4, *cons_proof(4, 13)],
            error="InvalidProof",
        )
    )

    def edge(
        name: str,
        description: str,
        mutation: str,
        old: int,
        new: int,
        old_root: bytes,
        new_root: bytes,
        proof: Sequence[bytes],
        error: str | None,
    ) -> None:
        out.append(
            consistency_vector(
                name,
                description,
                mutation,
                old_size=old,
                new_size=new,
                old_root=old_root,
                new_root=new_root,
                proof=proof,
                error=error,
            )
        )

    edge(
        "same-size",
        "sizes equal (13), empty proof, equal roots: valid",
        "old = new = 13, empty proof",
        13,
        13,
        r13,
        r13,
        [],
        None,
    )
    edge(
        "same-size-1",
        "sizes equal (1), empty proof, equal roots: valid",
        "old = new = 1, empty proof",
        1,
        1,
        root(1),
        root(1),
        [],
        None,
    )
    edge(
        "same-size-different-roots",
        "sizes equal (13), empty proof, roots differ: rejected with RootMismatch",
        "old = new = 13, old root replaced by the 12-leaf root",
        13,
        13,
        root(12),
        r13,
        [],
        "RootMismatch",
    )
    edge(
        "same-size-nonempty-proof",
        "sizes equal (13), equal roots, a 1-hash proof (must be empty): rejected with InvalidProof",
        "old = new = 13, the root given as a 1-hash proof",
        13,
        13,
        r13,
        r13,
        [r13],
        "InvalidProof",
    )
    edge(
        "empty-proof-old-0",
        "from the empty tree to 13 leaves with an empty proof: valid",
        "old = 0 with the empty-tree root, new = 13, empty proof",
        0,
        13,
        EMPTY_ROOT,
        r13,
        [],
        None,
    )
    edge(
        "nonempty-proof-old-0",
        "from the empty tree to 13 leaves with a 1-hash proof (must be empty): rejected with InvalidProof",
        "old = 0, new = 13, the new root given as a 1-hash proof",
        0,
        13,
        EMPTY_ROOT,
        r13,
        [r13],
        "InvalidProof",
    )
    edge(
        "old-0-new-0",
        "both trees empty, empty proof, both roots SHA-256(''): valid",
        "old = new = 0, empty proof",
        0,
        0,
        EMPTY_ROOT,
        EMPTY_ROOT,
        [],
        None,
    )
    edge(
        "old-0-new-0-different-roots",
        "both trees empty, empty proof, new root not SHA-256(''): rejected with RootMismatch",
        "old = new = 0, new root replaced by the 1-leaf root",
        0,
        0,
        EMPTY_ROOT,
        root(1),
        [],
        "RootMismatch",
    )
    edge(
        "old-greater-than-new-empty-proof",
        "old size 14 > new size 13 with an empty proof: InvalidInput",
        "old = 14, new = 13, empty proof",
        14,
        13,
        root(14),
        r13,
        [],
        "InvalidInput",
    )

    # Large sizes: a log of identical leaves b"uniform", computable exactly up to 2**64 - 1 leaves.
    for old, new in UINT64_CONSISTENCY:
        what = f"consistency proof from size {old} to size {new} of a log whose leaves are all b'uniform'"
        proof = uniform_subproof(old, new, True)
        r1, r2 = uniform_mth(old), uniform_mth(new)
        out.append(
            consistency_vector(
                f"uint64-happy-path-{old}-to-{new}",
                f"valid {what}",
                what,
                old_size=old,
                new_size=new,
                old_root=r1,
                new_root=r2,
                proof=proof,
                error=None,
            )
        )
        last = len(proof) - 1
        out.append(
            consistency_vector(
                f"uint64-{old}-to-{new}-modified-proof-{last}-bit-3",
                f"{what}, bit 3 of byte 0 of proof[{last}] flipped: rejected with RootMismatch",
                f"{what}, bit 3 of byte 0 of proof[{last}] flipped",
                old_size=old,
                new_size=new,
                old_root=r1,
                new_root=r2,
                proof=[*proof[:-1], flip(proof[-1])],
                error="RootMismatch",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Self-check against ledger.merkle, rendering, main
# ---------------------------------------------------------------------------------------------------------


def python_outcome(v: Vector) -> str | None:
    """Run ledger.merkle's verifier on a vector; return None on success or the exception class name."""

    def h(s: str) -> bytes:
        return bytes.fromhex(s[2:])

    try:
        if v["kind"] == "inclusion":
            verify_inclusion(
                v["index"], v["size"], h(v["leaf_hash"]), [h(p) for p in v["proof"]], h(v["root"])
            )
        else:
            verify_consistency(
                v["old_size"], v["new_size"], h(v["old_root"]), h(v["new_root"]), [h(p) for p in v["proof"]]
            )
    except (InvalidInput, InvalidProof, RootMismatch) as e:
        return type(e).__name__
    return None


def cross_check_tree() -> None:
    """The b'leaf-%d' happy-path proofs must also come out of MerkleTree unchanged."""
    tree = MerkleTree(leaves(1025))
    for index, size in INCLUSION_HAPPY:
        assert tree.inclusion_proof(index, size) == incl_proof(index, size), (index, size)
        assert tree.root(size) == root(size), size
    for old, new in CONSISTENCY_HAPPY:
        assert tree.consistency_proof(old, new) == cons_proof(old, new), (old, new)


def render() -> dict[str, str]:
    files: dict[str, str] = {}
    disagreements: list[str] = []
    for name, vector in inclusion_vectors() + consistency_vectors():
        if name in files:
            raise SystemExit(f"duplicate vector file name {name}")
        for h in vector["proof"]:
            assert len(h) == 2 + 64, (name, h)
        got = python_outcome(vector)
        if got != vector["python_error"]:
            disagreements.append(
                f"{name}: generator expects {vector['python_error']}, ledger.merkle gives {got}"
            )
        files[name] = json.dumps(vector, indent=2) + "\n"
    if disagreements:
        raise SystemExit("\n".join(disagreements))
    cross_check_tree()
    return files


def on_disk() -> dict[str, str]:
    found: dict[str, str] = {}
    for kind in KINDS:
        for path in sorted((OUT_DIR / kind).glob("*.json")):
            found[f"{kind}/{path.name}"] = path.read_text(encoding="utf-8")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the files on disk differ from what would be generated",
    )
    args = parser.parse_args(argv)

    want = render()
    have = on_disk()
    if args.check:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        changed = sorted(name for name in set(want) & set(have) if want[name] != have[name])
        for label, names in (("missing", missing), ("stale", extra), ("differs", changed)):
            for name in names:
                print(f"{label}: tests/testdata/merkle/{name}", file=sys.stderr)
        if missing or extra or changed:
            print(f"Merkle vectors are out of date; run: {CMD}", file=sys.stderr)
            return 1
        print(f"{len(want)} Merkle vectors up to date")
        return 0

    for kind in KINDS:
        (OUT_DIR / kind).mkdir(parents=True, exist_ok=True)
    for name in sorted(set(have) - set(want)):
        (OUT_DIR / name).unlink()
    for name, text in want.items():
        if have.get(name) != text:
            (OUT_DIR / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(want)} Merkle vectors to {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
