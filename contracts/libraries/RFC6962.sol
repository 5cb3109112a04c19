// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title RFC6962
/// @notice Merkle tree verification exactly as RFC 6962 / RFC 9162 section 2.1: SHA-256, leaf hash
/// `SHA-256(0x00 || leaf)`, interior node `SHA-256(0x01 || left || right)`.
/// @dev The verifiers follow RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) step by step.
/// They never revert on a bad proof: they return false, and the caller raises its own named error.
/// OpenZeppelin's MerkleProof sorts pairs and is not RFC 6962, so it must not be used for the review log.
library RFC6962 {
    /// @notice Hash of an interior node: SHA-256(0x01 || left || right), through the SHA-256 precompile.
    function nodeHash(bytes32 left, bytes32 right) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            // 65 bytes past the free memory pointer are scratch: nothing is allocated.
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 0x01), left)
            mstore(add(p, 0x21), right)
            if iszero(staticcall(gas(), 0x02, p, 0x41, 0x00, 0x20)) { revert(0x00, 0x00) }
            h := mload(0x00)
        }
    }

    /// @notice Hash of a leaf: SHA-256(0x00 || data).
    function leafHash(bytes memory data) internal view returns (bytes32 h) {
        bytes memory prefixed = bytes.concat(bytes1(0x00), data);
        assembly ("memory-safe") {
            if iszero(staticcall(gas(), 0x02, add(prefixed, 0x20), mload(prefixed), 0x00, 0x20)) {
                revert(0x00, 0x00)
            }
            h := mload(0x00)
        }
    }

    /// @notice Root implied by an inclusion proof (RFC 9162 section 2.1.3.2).
    /// @return ok False when the proof cannot be valid for `index` in a tree of `size` (index out of range,
    /// proof too long or too short); `root` is then zero.
    function rootFromInclusionProof(uint256 index, uint256 size, bytes32 leaf, bytes32[] calldata proof)
        internal
        view
        returns (bool ok, bytes32 root)
    {
        if (index >= size) return (false, bytes32(0));
        uint256 fn = index;
        uint256 sn = size - 1;
        root = leaf;
        uint256 n = proof.length;
        for (uint256 i = 0; i < n; ++i) {
            if (sn == 0) return (false, bytes32(0));
            bytes32 p = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                root = nodeHash(p, root);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                root = nodeHash(root, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0) return (false, bytes32(0));
        return (true, root);
    }

    /// @notice Whether `proof` shows that `leaf` is at `index` in the tree of `size` leaves with `root`.
    function verifyInclusion(uint256 index, uint256 size, bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        internal
        view
        returns (bool)
    {
        (bool ok, bytes32 computed) = rootFromInclusionProof(index, size, leaf, proof);
        return ok && computed == root;
    }

    /// @notice Whether `proof` shows that the tree (`size2`, `root2`) extends the tree (`size1`, `root1`)
    /// (RFC 9162 section 2.1.4.2).
    /// @dev Conventions of transparency-dev/merkle: equal sizes need an empty proof and equal roots; every
    /// tree extends the empty tree (with an empty proof); `size1 > size2` is never consistent.
    function verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) internal view returns (bool) {
        if (size1 > size2) return false;
        if (size1 == size2) return proof.length == 0 && root1 == root2;
        if (size1 == 0) return proof.length == 0;
        uint256 n = proof.length;
        if (n == 0) return false;

        uint256 i;
        bytes32 fr;
        // Step 2: when size1 is a power of two, its root is the first element of the path.
        if (size1 & (size1 - 1) == 0) {
            fr = root1;
        } else {
            fr = proof[0];
            i = 1;
        }
        bytes32 sr = fr;
        // Steps 3-4. size1 > 0 here, so neither subtraction underflows.
        uint256 fn = size1 - 1;
        uint256 sn = size2 - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        // Step 6.
        for (; i < n; ++i) {
            if (sn == 0) return false;
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = nodeHash(c, fr);
                sr = nodeHash(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = nodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        // Step 7.
        return sn == 0 && fr == root1 && sr == root2;
    }
}
