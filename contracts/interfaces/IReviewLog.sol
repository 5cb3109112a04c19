// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IReviewLog
/// @notice Checkpoints of the RFC 6962 Merkle log of consumer reviews. A new checkpoint is accepted only
/// with a consistency proof from the last one, verified here: the chain refuses any history that drops,
/// reorders or rewrites a review.
/// @dev Storage per checkpoint is one slot: the commitment `keccak256(abi.encode(size, root))`, which binds
/// both. The latest size and root are kept in full for the next consistency check; every checkpoint's size,
/// root and time are in its `CheckpointAnchored` event, and {isCheckpoint} checks a (size, root) pair read
/// from anywhere against the chain. This keeps a checkpoint at one new storage slot, whatever its shape.
interface IReviewLog {
    /// @notice A checkpoint: the RFC 6962 root of the first `size` leaves of the log.
    struct Checkpoint {
        bytes32 root;
        uint64 size;
    }

    /// @notice Thrown when `account` is not the log operator.
    error ReviewLogUnauthorized(address account);
    /// @notice Thrown when a function reserved to the governance contract is called by anyone else.
    error ReviewLogNotGovernance(address account);
    /// @notice Thrown when a checkpoint does not grow the log.
    error ReviewLogNotExtended(uint64 latestSize, uint64 newSize);
    /// @notice Thrown when the consistency proof does not show the new tree extends the latest checkpoint.
    error ReviewLogInconsistent(uint64 latestSize, uint64 newSize);
    /// @notice Thrown when the first checkpoint comes with a proof (it needs none).
    error ReviewLogUnexpectedProof();
    /// @notice Thrown when a checkpoint index does not exist.
    error ReviewLogUnknownCheckpoint(uint256 index);
    /// @notice Thrown when a zero address is given for the operator.
    error ReviewLogZeroAddress();

    /// @notice Emitted when a checkpoint is anchored.
    event CheckpointAnchored(uint256 indexed index, uint64 size, bytes32 indexed root, uint40 timestamp);
    /// @notice Emitted when the log operator changes (`actId` is the governance act, 0 at deployment).
    event LogOperatorSet(address indexed previous, address indexed current, uint256 actId);

    /// @notice Anchors checkpoint (`newSize`, `newRoot`), proven consistent with the latest one. Operator only.
    function appendCheckpoint(uint64 newSize, bytes32 newRoot, bytes32[] calldata consistencyProof) external;

    /// @notice Replaces the log operator; callable by the governance contract only, after its public delay.
    function setLogOperator(address operator, uint256 actId) external;

    /// @notice The account allowed to anchor checkpoints.
    function logOperator() external view returns (address);

    /// @notice Number of anchored checkpoints; indexes run from 0.
    function checkpointCount() external view returns (uint256);

    /// @notice The commitment `keccak256(abi.encode(uint64 size, bytes32 root))` of checkpoint `index`.
    function checkpointCommitment(uint256 index) external view returns (bytes32);

    /// @notice Whether checkpoint `index` is (`size`, `root`).
    function isCheckpoint(uint256 index, uint64 size, bytes32 root) external view returns (bool);

    /// @notice The latest checkpoint (all zero before the first).
    function latestCheckpoint() external view returns (Checkpoint memory);

    /// @notice Whether `proof` shows leaf `leafHash` at `leafIndex` under anchored checkpoint `index`, which
    /// must be (`size`, `root`); reverts with ReviewLogUnknownCheckpoint for an unknown index and returns
    /// false for a (size, root) that is not checkpoint `index`.
    function verifyInclusion(
        uint256 index,
        uint64 size,
        bytes32 root,
        uint256 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice RFC 6962 inclusion check against any (size, root); never reverts on a bad proof.
    function verifyInclusionProof(
        uint256 leafIndex,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool);

    /// @notice RFC 6962 consistency check between any two trees; never reverts on a bad proof.
    function verifyConsistencyProof(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The governance contract.
    function governance() external view returns (address);
}
