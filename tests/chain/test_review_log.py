"""ReviewLog: checkpoints accepted only when the chain itself verifies they extend the anchored log.

The Solidity RFC 6962 verifier is held to the shared vectors in tests/testdata/merkle (the same files the
Python verifier is tested against) and fuzzed against the Python implementation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from ledger.errors import ContractError, UnknownRevert, VerificationError
from ledger.merkle import MerkleTree, leaf_hash, verify_consistency

from ..conftest import World, reverts

pytestmark = pytest.mark.chain

VECTORS = Path(__file__).resolve().parent.parent / "testdata" / "merkle"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _h(x: str) -> bytes:
    return bytes.fromhex(x[2:])


def _vectors(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).glob("*.json"))


def _tree(n: int, salt: str = "") -> MerkleTree:
    return MerkleTree(leaf_hash(f"review-{salt}{i}".encode()) for i in range(n))


def commitment(size: int, root: bytes) -> bytes:
    return keccak(size.to_bytes(32, "big") + root)


# ------------------------------------------------------------------ shared vectors


@pytest.mark.parametrize("path", _vectors("inclusion"), ids=lambda p: p.stem)
def test_inclusion_vector_on_chain(world: World, path: Path) -> None:
    v = json.loads(path.read_text())
    ok = world.d.review_log.functions.verifyInclusionProof(
        v["index"], v["size"], _h(v["leaf_hash"]), [_h(p) for p in v["proof"]], _h(v["root"])
    ).call()
    assert ok is v["valid"], v["description"]


@pytest.mark.parametrize("path", _vectors("consistency"), ids=lambda p: p.stem)
def test_consistency_vector_on_chain(world: World, path: Path) -> None:
    v = json.loads(path.read_text())
    ok = world.d.review_log.functions.verifyConsistencyProof(
        v["old_size"], v["new_size"], _h(v["old_root"]), _h(v["new_root"]), [_h(p) for p in v["proof"]]
    ).call()
    assert ok is v["valid"], v["description"]


def test_vector_sets_are_loaded() -> None:
    assert len(_vectors("inclusion")) >= 40 and len(_vectors("consistency")) >= 40


# ------------------------------------------------------------------ fuzz: Solidity against Python

_BIG = _tree(4096, "fuzz")


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, 4096))
    old = draw(st.integers(1, new))
    return old, new


@FUZZ
@given(case=_pairs(), data=st.data())
def test_fuzz_consistency_solidity_agrees_with_python(world: World, case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = _BIG.consistency_proof(old, new)
    old_root, new_root = _BIG.root(old), _BIG.root(new)
    mutation = data.draw(st.sampled_from(["none", "bit", "drop", "extra", "old_root", "sizes"]))
    if mutation == "bit" and proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        proof[i] = (int.from_bytes(proof[i], "big") ^ (1 << bit)).to_bytes(32, "big")
    elif mutation == "drop" and proof:
        proof = proof[:-1]
    elif mutation == "extra":
        proof = [*proof, keccak(b"garbage")]
    elif mutation == "old_root":
        old_root = keccak(old_root)
    elif mutation == "sizes":
        old = data.draw(st.integers(1, 4096))
        new = data.draw(st.integers(old, 4096))
    try:
        verify_consistency(old, new, old_root, new_root, proof)
        expected = True
    except VerificationError:
        expected = False
    got = world.d.review_log.functions.verifyConsistencyProof(old, new, old_root, new_root, proof).call()
    assert got is expected, (old, new, mutation)


@FUZZ
@given(data=st.data())
def test_fuzz_inclusion_solidity_agrees_with_python(world: World, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 4096))
    index = data.draw(st.integers(0, size - 1))
    proof = _BIG.inclusion_proof(index, size)
    leaf, root = _BIG.leaf_hash(index), _BIG.root(size)
    claimed_index = data.draw(st.sampled_from([index, index, index + 1, max(index - 1, 0)]))
    if data.draw(st.booleans()) and proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = keccak(proof[i])
    from ledger.merkle import verify_inclusion

    try:
        verify_inclusion(claimed_index, size, leaf, proof, root)
        expected = True
    except (VerificationError, ValueError):
        expected = False
    got = world.d.review_log.functions.verifyInclusionProof(claimed_index, size, leaf, proof, root).call()
    assert got is expected


# ------------------------------------------------------------------ appendCheckpoint


def test_first_checkpoint_needs_no_proof(world: World) -> None:
    log, op = world.d.review_log, world.actors.operator
    tree = _tree(5)
    receipt = op.send(log.functions.appendCheckpoint(5, tree.root(), []))
    (ev,) = log.events.CheckpointAnchored().process_receipt(receipt)
    block = world.w3.eth.get_block(receipt["blockNumber"])
    assert (ev.args.index, ev.args.size, ev.args.root, ev.args.timestamp) == (0, 5, tree.root(), block["timestamp"])
    assert log.functions.checkpointCount().call() == 1
    assert log.functions.latestCheckpoint().call() == (tree.root(), 5)
    assert log.functions.checkpointCommitment(0).call() == commitment(5, tree.root())
    assert log.functions.isCheckpoint(0, 5, tree.root()).call() is True
    assert log.functions.isCheckpoint(0, 4, tree.root()).call() is False


def test_first_checkpoint_rejects_proof_and_empty_log(world: World) -> None:
    log, op = world.d.review_log, world.actors.operator
    with reverts("ReviewLogUnexpectedProof"):
        op.send(log.functions.appendCheckpoint(5, _tree(5).root(), [keccak(b"x")]))
    with reverts("ReviewLogNotExtended", 0, 0):
        op.send(log.functions.appendCheckpoint(0, _tree(0).root(), []))


def test_extension_and_inclusion(world: World) -> None:
    log, op = world.d.review_log, world.actors.operator
    tree = _tree(1000)
    op.send(log.functions.appendCheckpoint(300, tree.root(300), []))
    op.send(log.functions.appendCheckpoint(1000, tree.root(), tree.consistency_proof(300, 1000)))
    assert log.functions.checkpointCount().call() == 2
    assert log.functions.latestCheckpoint().call() == (tree.root(), 1000)
    # a review in the first checkpoint is provable under both checkpoints
    for index, size in ((0, 300), (1, 1000)):
        ok = log.functions.verifyInclusion(index, size, tree.root(size), 123, tree.leaf_hash(123),
                                           tree.inclusion_proof(123, size)).call()
        assert ok is True
    # a review appended later is not in the first checkpoint
    assert log.functions.verifyInclusion(1, 1000, tree.root(), 777, tree.leaf_hash(777),
                                         tree.inclusion_proof(777)).call() is True
    assert log.functions.verifyInclusion(0, 300, tree.root(300), 777, tree.leaf_hash(777),
                                         tree.inclusion_proof(777)).call() is False
    # a (size, root) pair that is not the checkpoint fails, even with a valid proof for that pair
    assert log.functions.verifyInclusion(0, 301, tree.root(301), 5, tree.leaf_hash(5),
                                         tree.inclusion_proof(5, 301)).call() is False
    with reverts("ReviewLogUnknownCheckpoint", 2):
        world.actors.stranger.simulate(log.functions.verifyInclusion(2, 1000, tree.root(), 1, tree.leaf_hash(1),
                                                                     tree.inclusion_proof(1)))
    with reverts("ReviewLogUnknownCheckpoint", 2):
        world.actors.stranger.simulate(log.functions.checkpointCommitment(2))
    with reverts("ReviewLogUnknownCheckpoint", 7):
        world.actors.stranger.simulate(log.functions.isCheckpoint(7, 1, b"\0" * 32))


def _anchor(world: World, tree: MerkleTree, size: int) -> None:
    world.actors.operator.send(world.d.review_log.functions.appendCheckpoint(size, tree.root(size), []))


def test_dropping_a_review_is_refused(world: World) -> None:
    log, op = world.d.review_log, world.actors.operator
    honest = _tree(64)
    _anchor(world, honest, 40)
    # the operator drops review 17 and appends two more: the tree of 41 leaves no longer extends 40
    leaves = [honest.leaf_hash(i) for i in range(64) if i != 17]
    forged = MerkleTree(leaves)
    with reverts("ReviewLogInconsistent", 40, 50):
        op.send(log.functions.appendCheckpoint(50, forged.root(50), forged.consistency_proof(40, 50)))
    # nor with the honest proof
    with reverts("ReviewLogInconsistent", 40, 50):
        op.send(log.functions.appendCheckpoint(50, forged.root(50), honest.consistency_proof(40, 50)))


def test_rewriting_or_reordering_is_refused(world: World) -> None:
    log, op = world.d.review_log, world.actors.operator
    honest = _tree(64)
    _anchor(world, honest, 33)
    rewritten = [honest.leaf_hash(i) for i in range(64)]
    rewritten[3] = leaf_hash(b"a different review")
    reordered = [honest.leaf_hash(i) for i in range(64)]
    reordered[10], reordered[11] = reordered[11], reordered[10]
    for leaves in (rewritten, reordered):
        t = MerkleTree(leaves)
        with reverts("ReviewLogInconsistent", 33, 64):
            op.send(log.functions.appendCheckpoint(64, t.root(), t.consistency_proof(33, 64)))
    with reverts("ReviewLogInconsistent", 33, 64):
        op.send(log.functions.appendCheckpoint(64, honest.root(), honest.consistency_proof(32, 64)))
    with reverts("ReviewLogNotExtended", 33, 33):
        op.send(log.functions.appendCheckpoint(33, honest.root(33), []))
    with reverts("ReviewLogNotExtended", 33, 20):
        op.send(log.functions.appendCheckpoint(20, honest.root(20), []))
    op.send(log.functions.appendCheckpoint(64, honest.root(), honest.consistency_proof(33, 64)))


@pytest.mark.parametrize("who", ["stranger", "relayer", "governor", "admin", "issuer", "merchant", "arbitrator"])
def test_only_the_operator_anchors(world: World, who: str) -> None:
    log = world.d.review_log
    actor = getattr(world.actors, who)
    call = log.functions.appendCheckpoint(3, _tree(3).root(), [])
    with reverts("ReviewLogUnauthorized", actor.address):
        actor.send(call)
    with reverts("ReviewLogUnauthorized", actor.address):
        world.relay(actor, call)


def test_operator_can_anchor_through_the_forwarder(world: World) -> None:
    log = world.d.review_log
    receipt = world.relay(world.actors.operator, log.functions.appendCheckpoint(3, _tree(3).root(), []))
    (ev,) = log.events.CheckpointAnchored().process_receipt(receipt, errors=DISCARD)
    assert ev.args.size == 3


def test_set_log_operator_only_by_governance(world: World) -> None:
    log = world.d.review_log
    for actor in (world.actors.admin, world.actors.governor, world.actors.operator):
        with reverts("ReviewLogNotGovernance", actor.address):
            actor.send(log.functions.setLogOperator(actor.address, 1))
    assert log.functions.governance().call() == world.d.governance.address
    assert log.functions.logOperator().call() == world.actors.operator.address


# ------------------------------------------------------------------ invariant: the log never shrinks or rewrites

_ACTIONS = st.lists(
    st.tuples(st.sampled_from(["extend", "drop", "rewrite", "shrink", "bad_proof"]), st.integers(1, 40)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=_ACTIONS, first=st.integers(1, 30))
def test_no_sequence_of_appends_shrinks_or_rewrites_the_log(
    world: World, actions: list[tuple[str, int]], first: int
) -> None:
    """Random honest and dishonest appends: the contract accepts exactly the honest extensions."""
    log, op = world.d.review_log, world.actors.operator
    snap = world.chain.snapshot()
    try:
        honest = _tree(first + 40 * 8, "inv")
        _anchor(world, honest, first)
        anchored: list[tuple[int, bytes]] = [(first, honest.root(first))]
        for action, k in actions:
            size = anchored[-1][0]
            new = size + k
            leaves = [honest.leaf_hash(i) for i in range(new)]
            if action == "drop":  # remove one anchored review, pad to the same size
                leaves = leaves[: k % size] + leaves[k % size + 1:] + [leaf_hash(b"pad")]
            elif action == "rewrite":  # replace one anchored review
                leaves[k % size] = leaf_hash(b"rewritten")
            elif action == "shrink":
                new = max(size - k, 1)
                leaves = leaves[:new]
            t = MerkleTree(leaves)
            proof = t.consistency_proof(size, new) if new > size else []
            if action == "bad_proof":  # an honest tree with a corrupted proof element
                proof[k % len(proof)] = keccak(proof[k % len(proof)]) if proof else proof
            honest_extension = action == "extend" or (action == "bad_proof" and not proof)
            try:
                op.send(log.functions.appendCheckpoint(new, t.root(), proof))
                accepted = True
            except (ContractError, UnknownRevert):  # the contract refused it
                accepted = False
            assert accepted is honest_extension, (action, k, size, new)
            if accepted:
                for old_size, old_root in anchored:  # it extends every checkpoint anchored before
                    verify_consistency(old_size, new, old_root, t.root(), t.consistency_proof(old_size, new))
                anchored.append((new, t.root()))
            assert log.functions.latestCheckpoint().call() == (anchored[-1][1], anchored[-1][0])
            assert log.functions.checkpointCount().call() == len(anchored)
        for i, (s, r) in enumerate(anchored):
            assert log.functions.isCheckpoint(i, s, r).call() is True
    finally:
        world.chain.revert(snap)
        world.actors.reset_nonces()
