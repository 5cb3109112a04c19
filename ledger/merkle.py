"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Hashing (RFC 6962 §2.1, SHA-256)::

    MTH({})        = SHA-256("")                                   (EMPTY_ROOT)
    leaf hash      = SHA-256(0x00 || data)                         (leaf_hash)
    node hash      = SHA-256(0x01 || left || right)                (node_hash)
    MTH(D[n])      = node_hash(MTH(D[0:k]), MTH(D[k:n])), k = largest power of two < n

Every function here works on *leaf hashes*, never on raw entries: hash entries with :func:`leaf_hash` first.

Three layers:

* the plain reference algorithms of RFC 6962 §2.1 (:func:`root_from_leaf_hashes`,
  :func:`inclusion_proof_from_leaf_hashes`, :func:`consistency_proof_from_leaf_hashes`), written as the
  RFC's recursive definitions and used as the oracle the faster code is tested against;
* the verifiers of RFC 9162 §2.1.3.2 and §2.1.4.2 (:func:`root_from_inclusion_proof`,
  :func:`verify_inclusion`, :func:`verify_consistency`), which check the proof length for the claimed
  sizes before hashing anything (as transparency-dev/merkle ``proof/verify.go`` does);
* :class:`MerkleTree`, an append-only in-memory tree that keeps every complete subtree so roots and proofs
  for any size cost O(log n) hashes.

Errors: :class:`~ledger.errors.InvalidInput` for malformed arguments (hash length, negative or out-of-range
index or size, ``old_size > new_size``); :class:`~ledger.errors.InvalidProof` for a proof whose number of
hashes is wrong for the claimed index and sizes; :class:`~ledger.errors.RootMismatch` when the root
recomputed from a well-formed proof differs from the one given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.errors import InvalidInput, InvalidProof, RootMismatch

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "CompactRange",
    "MerkleTree",
    "consistency_proof_from_leaf_hashes",
    "inclusion_proof_from_leaf_hashes",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256(""), the root of the empty tree (RFC 6962 §2.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


# --------------------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the RFC 6962 hash of one log entry.

    Requires ``data`` to be bytes-like (any length); raises InvalidInput otherwise (an ``int`` would
    otherwise silently become that many zero bytes).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"leaf data must be bytes, found {type(data).__name__}")
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the RFC 6962 hash of an interior node.

    Requires ``len(left) == len(right) == HASH_SIZE``; raises InvalidInput otherwise.
    """
    return _node(_require_hash(left, "left"), _require_hash(right, "right"))


def _node(left: bytes, right: bytes) -> bytes:
    # Unchecked node hash for internal use: callers have validated both inputs.
    return _sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------------


def _require_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{what} must be {HASH_SIZE} bytes, found {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != HASH_SIZE:
        raise InvalidInput(f"{what} must be {HASH_SIZE} bytes, found {len(raw)} bytes")
    return raw


def _require_hashes(values: Iterable[bytes], what: str) -> list[bytes]:
    if isinstance(values, (bytes, bytearray, memoryview, str)):
        raise InvalidInput(
            f"{what} must be a sequence of {HASH_SIZE}-byte hashes, found a single {type(values).__name__}"
        )
    return [_require_hash(v, f"{what}[{i}]") for i, v in enumerate(values)]


def _require_bytes_like(value: object, what: str) -> bytes | bytearray | memoryview:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{what} must be bytes, found {type(value).__name__}")
    return value


def _require_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an int, found {type(value).__name__}")
    if value < 0:
        raise InvalidInput(f"{what} must be >= 0, found {value}")
    return value


def _largest_power_of_two_below(n: int) -> int:
    # The k of RFC 6962 §2.1: the largest power of two smaller than n. Requires n >= 2.
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------------------------------------
# Reference algorithms (RFC 6962 §2.1, §2.1.1, §2.1.2), straightforward recursion
# --------------------------------------------------------------------------------------------------------


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) for the given leaf hashes (RFC 6962 §2.1), ``EMPTY_ROOT`` for none.

    Reference implementation: O(n) hashes per call. Requires every leaf hash to be ``HASH_SIZE`` bytes.
    """
    leaves = _require_hashes(leaf_hashes, "leaf_hashes")
    if not leaves:
        return EMPTY_ROOT
    return _mth(leaves, 0, len(leaves))


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    # MTH(D[lo:hi]) for hi - lo >= 1.
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = _largest_power_of_two_below(n)
    return _node(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def inclusion_proof_from_leaf_hashes(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return PATH(index, D[n]) (RFC 6962 §2.1.1), the audit path ordered from the leaf up.

    Requires ``0 <= index < len(leaf_hashes)``; raises InvalidInput otherwise.
    """
    index = _require_count(index, "index")
    leaves = _require_hashes(leaf_hashes, "leaf_hashes")
    if index >= len(leaves):
        raise InvalidInput(f"index must be < size {len(leaves)}, found {index}")
    return _path(index, leaves, 0, len(leaves))


def _path(m: int, leaves: Sequence[bytes], lo: int, hi: int) -> list[bytes]:
    # PATH(m, D[lo:hi]), m relative to lo.
    n = hi - lo
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return _path(m, leaves, lo, lo + k) + [_mth(leaves, lo + k, hi)]
    return _path(m - k, leaves, lo + k, hi) + [_mth(leaves, lo, lo + k)]


def consistency_proof_from_leaf_hashes(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return PROOF(old_size, D[n]) = SUBPROOF(old_size, D[n], true) (RFC 6962 §2.1.2).

    The proof is empty when ``old_size == n`` (RFC 6962) and, by convention, when ``old_size == 0``
    (every tree is consistent with the empty tree). Requires ``0 <= old_size <= len(leaf_hashes)``;
    raises InvalidInput otherwise.
    """
    old_size = _require_count(old_size, "old_size")
    leaves = _require_hashes(leaf_hashes, "leaf_hashes")
    if old_size > len(leaves):
        raise InvalidInput(f"old_size must be <= new size {len(leaves)}, found {old_size}")
    if old_size == 0:
        return []
    return _subproof(old_size, leaves, 0, len(leaves), True)


def _subproof(m: int, leaves: Sequence[bytes], lo: int, hi: int, b: bool) -> list[bytes]:
    # SUBPROOF(m, D[lo:hi], b), m relative to lo, 0 < m <= hi - lo.
    n = hi - lo
    if m == n:
        return [] if b else [_mth(leaves, lo, hi)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return _subproof(m, leaves, lo, lo + k, b) + [_mth(leaves, lo + k, hi)]
    return _subproof(m - k, leaves, lo + k, hi, False) + [_mth(leaves, lo, lo + k)]


# --------------------------------------------------------------------------------------------------------
# Proof lengths (transparency-dev/merkle proof/verify.go decomposition)
# --------------------------------------------------------------------------------------------------------


def _decomp_inclusion(index: int, size: int) -> tuple[int, int]:
    # Split the inclusion proof of `index` in a tree of `size` at the level where the paths to `index`
    # and `size - 1` diverge: (hashes below, hashes on the right border above). Requires index < size.
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _inclusion_proof_length(index: int, size: int) -> int:
    inner, border = _decomp_inclusion(index, size)
    return inner + border


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # Requires 0 < old_size < new_size.
    inner, border = _decomp_inclusion(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1  # trailing zeros of old_size
    inner -= shift
    seed = 0 if old_size == 1 << shift else 1  # the old root is itself the seed when old_size = 2^shift
    return seed + inner + border


def _plural(n: int) -> str:
    return f"{n} hash" if n == 1 else f"{n} hashes"


# --------------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2, §2.1.4.2)
# --------------------------------------------------------------------------------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root implied by an inclusion proof of ``leaf_hash`` at ``index`` in a tree of ``size``.

    Implements RFC 9162 §2.1.3.2. Requires ``0 <= index < size`` and every hash to be ``HASH_SIZE`` bytes
    (InvalidInput otherwise). Raises InvalidProof when ``len(proof)`` is not the length an inclusion proof
    for (index, size) must have.
    """
    index = _require_count(index, "index")
    size = _require_count(size, "size")
    if index >= size:
        raise InvalidInput(f"index must be < size {size}, found {index}")
    r = _require_hash(leaf_hash, "leaf_hash")
    path = _require_hashes(proof, "proof")
    expected = _inclusion_proof_length(index, size)
    if len(path) != expected:
        raise InvalidProof(
            f"inclusion proof for index {index} in a tree of size {size} must have "
            f"{_plural(expected)}, found {len(path)}"
        )
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:  # Unreachable after the length check; kept as the RFC states it.
            raise InvalidProof(f"inclusion proof for index {index} in a tree of size {size} is too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # Unreachable after the length check; kept as the RFC states it.
        raise InvalidProof(f"inclusion proof for index {index} in a tree of size {size} is too short")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is at ``index`` in the tree of ``size`` leaves whose root is ``root``.

    Requires ``0 <= index < size`` and every hash to be ``HASH_SIZE`` bytes (InvalidInput otherwise).
    Raises InvalidProof for a proof of the wrong length and RootMismatch (``what="root"``) when the
    recomputed root differs from ``root``. Returns None on success.
    """
    expected_root = _require_hash(root, "root")
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if calculated != expected_root:
        raise RootMismatch(expected=expected_root, calculated=calculated, what="root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with ``old_root`` is a prefix of the one of ``new_size``.

    Implements RFC 9162 §2.1.4.2 with the conventions of transparency-dev/merkle:

    * ``old_size == new_size``: the proof must be empty and ``old_root == new_root``;
    * ``old_size == 0 < new_size``: the proof must be empty; anything is consistent with the empty tree
      and neither root is examined;
    * otherwise the proof must have exactly the length RFC 9162 implies for the two sizes.

    Requires ``0 <= old_size <= new_size`` and every hash to be ``HASH_SIZE`` bytes (InvalidInput
    otherwise). Raises InvalidProof for a proof of the wrong length, and RootMismatch with
    ``what="old root"`` or ``what="new root"`` when the recomputed root differs. Returns None on success.
    """
    old_size = _require_count(old_size, "old_size")
    new_size = _require_count(new_size, "new_size")
    if old_size > new_size:
        raise InvalidInput(f"old_size must be <= new_size {new_size}, found {old_size}")
    first = _require_hash(old_root, "old_root")
    second = _require_hash(new_root, "new_root")
    path = _require_hashes(proof, "proof")

    if old_size == new_size:
        if path:
            raise InvalidProof(
                f"consistency proof between equal sizes {old_size} must be empty, found {_plural(len(path))}"
            )
        if first != second:
            raise RootMismatch(expected=second, calculated=first, what="new root")
        return
    if old_size == 0:
        if path:
            raise InvalidProof(
                f"consistency proof from the empty tree must be empty, found {_plural(len(path))}"
            )
        return

    expected = _consistency_proof_length(old_size, new_size)
    if len(path) != expected:
        raise InvalidProof(
            f"consistency proof from size {old_size} to size {new_size} must have {_plural(expected)}, "
            f"found {len(path)}"
        )

    # RFC 9162 §2.1.4.2, step by step.
    if old_size & (old_size - 1) == 0:  # old_size is an exact power of 2: prepend old_root.
        path.insert(0, first)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # Unreachable after the length check; kept as the RFC states it.
            raise InvalidProof(f"consistency proof from size {old_size} to size {new_size} is too long")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # Unreachable after the length check; kept as the RFC states it.
        raise InvalidProof(f"consistency proof from size {old_size} to size {new_size} is too short")
    if fr != first:
        raise RootMismatch(expected=first, calculated=fr, what="old root")
    if sr != second:
        raise RootMismatch(expected=second, calculated=sr, what="new root")


# --------------------------------------------------------------------------------------------------------
# In-memory append-only tree
# --------------------------------------------------------------------------------------------------------


class Checkpoint(Protocol):
    """An anchored checkpoint of a log: its index on chain, the tree size and root it commits to. What the
    index keeps (``ledger.indexer.CheckpointRecord``) and what is read from the chain's events
    (``cli._chainlog.AnchoredCheckpoint``) both fit; verifiers take either."""

    @property
    def index(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def root(self) -> bytes: ...


class CompactRange:
    """The first ``size`` leaves of a tree as the roots of its perfect subtrees, one per set bit of ``size``
    (largest first): at most 64 hashes, from which :meth:`root` is MTH of those leaves, and to which
    :meth:`append` adds a leaf in O(1) amortised. What an auditor or a tally keeps to follow a log without
    holding it (Trillian's "compact range" over ``[0, size)``).
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        size = _require_count(size, "size")
        hashes = _require_hashes(nodes, "nodes")
        if len(hashes) != size.bit_count():
            raise InvalidInput(f"a compact range of {size} leaves has {size.bit_count()} nodes, found {len(hashes)}")
        self._size = size
        self._nodes = hashes

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The perfect subtrees' roots, largest (leftmost) first."""
        return tuple(self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf (by its RFC 6962 leaf hash)."""
        node = _require_hash(leaf_hash, "leaf_hash")
        size = self._size
        while size & 1:
            node = _node(self._nodes.pop(), node)
            size >>= 1
        self._nodes.append(node)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far (``EMPTY_ROOT`` for none)."""
        if not self._nodes:
            return EMPTY_ROOT
        node = self._nodes[-1]
        for left in reversed(self._nodes[:-1]):
            node = _node(left, node)
        return node

    def to_bytes(self) -> bytes:
        return b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        """The range of ``size`` leaves whose nodes :meth:`to_bytes` gave as ``data``."""
        raw = bytes(data)
        if len(raw) % HASH_SIZE:
            raise InvalidInput(f"compact range bytes must be a multiple of {HASH_SIZE}, found {len(raw)}")
        return cls(size, [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])


class MerkleTree:
    """An append-only RFC 6962 Merkle tree over leaf hashes, kept in memory.

    ``_levels[k]`` holds, concatenated, the hashes of all complete aligned subtrees of ``2**k`` leaves
    (``_levels[0]`` the leaf hashes), so ``len(_levels[k]) == HASH_SIZE * (size >> k)``. Appending hashes
    only when a subtree completes (amortised one node hash per leaf); the root of any earlier size, an
    inclusion proof and a consistency proof then take O(log n) hashes, since every range they need is
    a handful of stored complete subtrees.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Build a tree from ``leaf_hashes`` (each ``HASH_SIZE`` bytes; InvalidInput otherwise)."""
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    @classmethod
    def from_levels(cls, levels: Sequence[bytes | bytearray | memoryview]) -> MerkleTree:
        """Rebuild a tree from its stored complete subtrees, without hashing anything.

        ``levels[k]`` is the concatenation of the hashes of the complete aligned subtrees of ``2**k`` leaves,
        in order (``levels[0]`` the leaf hashes): exactly what :meth:`nodes_since` hands out as the tree
        grows, so a store that kept them can reload a tree of any size in O(n) copying and no hashing.
        Requires ``len(levels[k]) == HASH_SIZE * (size >> k)`` for every ``k`` up to the top level of
        ``size = len(levels[0]) // HASH_SIZE`` (an empty list or ``[b""]`` for the empty tree), and no
        further levels; raises InvalidInput otherwise. The hashes themselves are taken on trust: compare
        :meth:`root` with a root you trust to detect a corrupted store.
        """
        if isinstance(levels, (bytes, bytearray, memoryview, str)):
            raise InvalidInput(
                f"levels must be a sequence of concatenated hashes per level, found a single "
                f"{type(levels).__name__}"
            )
        raw = [bytearray(_require_bytes_like(level, f"levels[{k}]")) for k, level in enumerate(levels)]
        if not raw:
            raw = [bytearray()]
        if len(raw[0]) % HASH_SIZE:
            raise InvalidInput(
                f"levels[0] must be a whole number of {HASH_SIZE}-byte hashes, found {len(raw[0])} bytes"
            )
        size = len(raw[0]) // HASH_SIZE
        height = max(1, size.bit_length())
        if len(raw) != height:
            raise InvalidInput(f"a tree of size {size} has {height} levels, found {len(raw)}")
        for k in range(1, height):
            want = HASH_SIZE * (size >> k)
            if len(raw[k]) != want:
                raise InvalidInput(
                    f"levels[{k}] of a tree of size {size} must have {size >> k} hashes "
                    f"({want} bytes), found {len(raw[k])} bytes"
                )
        tree = cls()
        tree._levels = raw
        tree._size = size
        return tree

    def nodes_since(self, old_size: int) -> list[tuple[int, int, bytes]]:
        """Return ``(level, index, hash)`` of every complete subtree above the leaves completed after
        ``old_size``: the nodes a store must add when the tree grew from ``old_size`` to :attr:`size`.

        Level ``k >= 1`` and index ``i`` cover leaves ``[i * 2**k, (i + 1) * 2**k)``; the list is ordered by
        level, then index. Leaves themselves (level 0) are not listed. Requires
        ``0 <= old_size <= size``; raises InvalidInput otherwise.
        """
        old_size = self._size_arg(old_size, "old_size")
        out: list[tuple[int, int, bytes]] = []
        for level in range(1, len(self._levels)):
            stored = self._levels[level]
            for index in range(old_size >> level, self._size >> level):
                offset = index * HASH_SIZE
                out.append((level, index, bytes(stored[offset : offset + HASH_SIZE])))
        return out

    def truncate(self, size: int) -> None:
        """Forget every leaf from ``size`` on, as if they had never been appended.

        For a caller that appended optimistically and must undo (a store refused the write). Requires
        ``0 <= size <= self.size``; raises InvalidInput otherwise. O(log n): every level keeps its prefix.
        """
        size = self._size_arg(size, "size")
        height = max(1, size.bit_length())
        del self._levels[height:]
        for level in range(height):
            del self._levels[level][HASH_SIZE * (size >> level) :]
        self._size = size

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash and return its index. Requires ``len(leaf_hash) == HASH_SIZE``."""
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            leaf_hash = _require_hash(leaf_hash, "leaf_hash")
        levels = self._levels
        index = self._size
        levels[0] += leaf_hash
        n = index + 1
        self._size = n
        level = 0
        while not n & 1:  # The subtree of 2^(level+1) leaves ending here just completed.
            below = levels[level]
            parent = _sha256(_NODE_PREFIX + below[-2 * HASH_SIZE :]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += parent
            n >>= 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every hash in ``leaf_hashes``, in order. Each must be ``HASH_SIZE`` bytes.

        All hashes are checked before any is appended: on InvalidInput the tree is unchanged.
        """
        if isinstance(leaf_hashes, (bytes, bytearray, memoryview, str)):
            raise InvalidInput(
                f"leaf_hashes must be an iterable of {HASH_SIZE}-byte hashes, found a single "
                f"{type(leaf_hashes).__name__}"
            )
        # Validate everything first (a bad hash leaves the tree unchanged), then hash level by level.
        batch = bytearray()
        count = 0
        for h in leaf_hashes:
            if type(h) is not bytes or len(h) != HASH_SIZE:
                h = _require_hash(h, f"leaf_hashes[{count}]")
            batch += h
            count += 1
        if not count:
            return
        levels = self._levels
        old_size, new_size = self._size, self._size + count
        levels[0] += batch
        level = 0
        while True:
            have, want = old_size >> (level + 1), new_size >> (level + 1)
            if want == have:  # no subtree of 2^(level+1) leaves completed, so none larger either
                break
            if level + 1 == len(levels):
                levels.append(bytearray())
            below = memoryview(levels[level])
            pair = 2 * HASH_SIZE
            levels[level + 1] += b"".join(
                [_sha256(_NODE_PREFIX + below[j * pair : (j + 1) * pair]).digest() for j in range(have, want)]
            )
            below.release()
            level += 1
        self._size = new_size

    def leaf_hash(self, index: int) -> bytes:
        """Return the leaf hash at ``index``. Requires ``0 <= index < size``."""
        index = _require_count(index, "index")
        if index >= self._size:
            raise InvalidInput(f"index must be < size {self._size}, found {index}")
        return self._subtree(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Return MTH of the first ``size`` leaves (default: all). Requires ``0 <= size <= self.size``."""
        size = self._size_arg(size, "size")
        if size == 0:
            return EMPTY_ROOT
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return PATH(index, D[size]) (RFC 6962 §2.1.1) for the tree of the first ``size`` leaves.

        Requires ``0 <= index < size <= self.size`` (``size`` defaults to ``self.size``).
        """
        size = self._size_arg(size, "size")
        index = _require_count(index, "index")
        if index >= size:
            raise InvalidInput(f"index must be < size {size}, found {index}")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index < lo + k:
                proof.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return PROOF(old_size, D[new_size]) (RFC 6962 §2.1.2); empty when old_size is 0 or new_size.

        Requires ``0 <= old_size <= new_size <= self.size`` (``new_size`` defaults to ``self.size``).
        """
        new_size = self._size_arg(new_size, "new_size")
        old_size = _require_count(old_size, "old_size")
        if old_size > new_size:
            raise InvalidInput(f"old_size must be <= new_size {new_size}, found {old_size}")
        if old_size == 0:
            return []
        proof: list[bytes] = []
        lo, hi, b = 0, new_size, True
        while old_size != hi:  # SUBPROOF(old_size - lo, D[lo:hi], b) with lo < old_size < hi
            k = _largest_power_of_two_below(hi - lo)
            if old_size <= lo + k:
                proof.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k))
                lo += k
                b = False
        if not b:
            proof.append(self._range_hash(lo, hi))
        proof.reverse()
        return proof

    # -- internals ---------------------------------------------------------------------------------------

    def _size_arg(self, size: int | None, what: str) -> int:
        if size is None:
            return self._size
        size = _require_count(size, what)
        if size > self._size:
            raise InvalidInput(f"{what} must be <= tree size {self._size}, found {size}")
        return size

    def _subtree(self, level: int, index: int) -> bytes:
        # Hash of the complete subtree of 2^level leaves starting at leaf index << level.
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        # MTH(D[start:end]) where start < end <= size and start is a multiple of the smallest power of two
        # >= end - start (true of every range the RFC 6962 recursion visits). The range splits into
        # complete aligned subtrees, largest first, folded right to left.
        n = end - start
        parts: list[bytes] = []
        pos = start
        for level in range(n.bit_length() - 1, -1, -1):
            if n >> level & 1:
                parts.append(self._subtree(level, pos >> level))
                pos += 1 << level
        h = parts.pop()
        while parts:
            h = _node(parts.pop(), h)
        return h
