// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice A product identifier: `keccak256("gtin:" || GTIN)` or another namespaced scheme
/// (see docs/formats.md). A value type so that a product id cannot be passed where a lot, a document hash
/// or a standard is expected.
type ProductId is bytes32;
