// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

import {IReviewLog} from "./interfaces/IReviewLog.sol";
import {RFC6962} from "./libraries/RFC6962.sol";

/// @title ReviewLog
/// @notice Anchors checkpoints of the RFC 6962 review log, each proven to extend the one before.
/// @dev Gas per checkpoint is O(log n) hashing plus three storage writes, whatever the number of reviews it
/// covers. The operator and the latest size share one slot, read once per checkpoint.
contract ReviewLog is IReviewLog, ERC2771Context {
    /// @dev Packed head: the operator, the number of checkpoints and the latest size, read once per append.
    struct Head {
        address operator;
        uint32 count;
        uint64 latestSize;
    }

    address private immutable _governance;

    Head private _head;
    mapping(uint256 index => Checkpoint) private _checkpoints;

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
            bytes32 latestRoot = _checkpoints[head.count - 1].root;
            if (!RFC6962.verifyConsistency(head.latestSize, newSize, latestRoot, newRoot, consistencyProof)) {
                revert ReviewLogInconsistent(head.latestSize, newSize);
            }
        }
        uint256 index = head.count;
        uint40 timestamp = uint40(block.timestamp);
        _checkpoints[index] = Checkpoint({root: newRoot, size: newSize, timestamp: timestamp});
        // A uint32 counter allows 4 billion checkpoints: one a second for 136 years.
        _head = Head({operator: head.operator, count: head.count + 1, latestSize: newSize});
        emit CheckpointAnchored(index, newSize, newRoot, timestamp);
    }

    /// @inheritdoc IReviewLog
    function setLogOperator(address operator, uint256 actId) external {
        if (msg.sender != _governance) revert ReviewLogNotGovernance(msg.sender);
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
    function checkpoint(uint256 index) external view returns (Checkpoint memory) {
        if (index >= _head.count) revert ReviewLogUnknownCheckpoint(index);
        return _checkpoints[index];
    }

    /// @inheritdoc IReviewLog
    function latestCheckpoint() external view returns (Checkpoint memory c) {
        uint256 count = _head.count;
        if (count != 0) c = _checkpoints[count - 1];
    }

    /// @inheritdoc IReviewLog
    function verifyInclusion(uint256 index, uint256 leafIndex, bytes32 leafHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (index >= _head.count) revert ReviewLogUnknownCheckpoint(index);
        Checkpoint storage c = _checkpoints[index];
        return RFC6962.verifyInclusion(leafIndex, c.size, leafHash, proof, c.root);
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
}
