// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title TrustForwarder
/// @notice The ERC-2771 forwarder through which the service relays actors' signed requests. The relayer
/// pays the gas; the target contracts see the signer, never the relayer.
/// @dev Differs from OpenZeppelin's ERC2771Forwarder in one way: when the forwarded call reverts, `execute`
/// re-raises the target's own revert data (its named custom error) instead of a bare `FailedCall()`, so that
/// a relayer learns exactly why a request failed. The nonce is not consumed in that case, as upstream.
contract TrustForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("TrustLedger Forwarder") {}

    /// @notice Executes `request` for its signer; reverts with the target's error when the call reverts.
    function execute(ForwardRequestData calldata request) public payable override {
        if (msg.value != request.value) revert ERC2771ForwarderMismatchedValue(request.value, msg.value);
        if (!_execute(request, true)) {
            // _execute made the call last and made no external call after it: the return data buffer still
            // holds the target's revert data.
            assembly ("memory-safe") {
                let p := mload(0x40)
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
    }
}
