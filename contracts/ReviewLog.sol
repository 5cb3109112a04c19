// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IReviewLog} from "./interfaces/IReviewLog.sol";
import {RFC6962} from "./libraries/RFC6962.sol";

/// @title ReviewLog
/// @notice Anchors checkpoints of the RFC 6962 review log, each proven to extend the one before.
/// @dev Gas per checkpoint is O(log n) hashing, one new storage slot and two rewritten ones, whatever the
/// number of reviews it covers. The operator, the checkpoint count and the latest size share one slot.
contract ReviewLog is IReviewLog, ERC2771Context {
    /// @dev Packed head: the operator, the number of checkpoints and the latest size, read once per append.
    struct Head {
        address operator;
        uint32 count;
        uint64 latestSize;
    }

    address private immutable _governance;

    Head private _head;
    bytes32 private _latestRoot;
    mapping(uint256 index => bytes32 commitment) private _commitments;

    /// @param governance_ The governance contract, the only caller allowed to replace the operator.
    /// @param operator The initial log operator.
    /// @param forwarder The ERC-2771 forwarder trusted to report the signer of a relayed call.
    constructor(address governance_, address operator, address forwarder) ERC2771Context(forwarder) {
        if (operator == address(0)) revert ReviewLogZeroAddress();
        _governance = governance_;
        _head.operator = operator;
        emit LogOperatorSet(address(0), operator, 0);
    }

    /// @inheritdoc IReviewLog
    function appendCheckpoint(uint64 newSize, bytes32 newRoot, bytes32[] calldata consistencyProof) external {
        Head memory head = _head;
        address sender = _msgSender();
        if (sender != head.operator) revert ReviewLogUnauthorized(sender);
        if (newSize <= head.latestSize) revert ReviewLogNotExtended(head.latestSize, newSize);
        if (head.count == 0) {
            if (consistencyProof.length != 0) revert ReviewLogUnexpectedProof();
        } else {
            if (!RFC6962.verifyConsistency(head.latestSize, newSize, _latestRoot, newRoot, consistencyProof)) {
                revert ReviewLogInconsistent(head.latestSize, newSize);
            }
        }
        uint256 index = head.count;
        _commitments[index] = _commitment(newSize, newRoot);
        _latestRoot = newRoot;
        // A uint32 counter allows 4 billion checkpoints: one a second for 136 years.
        _head = Head({operator: head.operator, count: head.count + 1, latestSize: newSize});
        emit CheckpointAnchored(index, newSize, newRoot, uint40(block.timestamp));
    }

    /// @inheritdoc IReviewLog
    function setLogOperator(address operator, uint256 actId) external {
        if (msg.sender != _governance) revert ReviewLogNotGovernance(_msgSender());
        if (operator == address(0)) revert ReviewLogZeroAddress();
        address previous = _head.operator;
        _head.operator = operator;
        emit LogOperatorSet(previous, operator, actId);
    }

    /// @inheritdoc IReviewLog
    function logOperator() external view returns (address) {
        return _head.operator;
    }

    /// @inheritdoc IReviewLog
    function checkpointCount() external view returns (uint256) {
        return _head.count;
    }

    /// @inheritdoc IReviewLog
    function checkpointCommitment(uint256 index) external view returns (bytes32) {
        if (index >= _head.count) revert ReviewLogUnknownCheckpoint(index);
        return _commitments[index];
    }

    /// @inheritdoc IReviewLog
    function isCheckpoint(uint256 index, uint64 size, bytes32 root) public view returns (bool) {
        if (index >= _head.count) revert ReviewLogUnknownCheckpoint(index);
        return _commitments[index] == _commitment(size, root);
    }

    /// @inheritdoc IReviewLog
    function latestCheckpoint() external view returns (Checkpoint memory c) {
        if (_head.count != 0) c = Checkpoint({root: _latestRoot, size: _head.latestSize});
    }

    /// @inheritdoc IReviewLog
    function verifyInclusion(
        uint256 index,
        uint64 size,
        bytes32 root,
        uint256 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return isCheckpoint(index, size, root) && RFC6962.verifyInclusion(leafIndex, size, leafHash, proof, root);
    }

    /// @inheritdoc IReviewLog
    function verifyInclusionProof(
        uint256 leafIndex,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool) {
        return RFC6962.verifyInclusion(leafIndex, size, leafHash, proof, root);
    }

    /// @inheritdoc IReviewLog
    function verifyConsistencyProof(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return RFC6962.verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof);
    }

    /// @inheritdoc IReviewLog
    function governance() external view returns (address) {
        return _governance;
    }

    function _commitment(uint64 size, bytes32 root) private pure returns (bytes32 c) {
        assembly ("memory-safe") {
            mstore(0x00, size)
            mstore(0x20, root)
            c := keccak256(0x00, 0x40)
        }
    }
}
