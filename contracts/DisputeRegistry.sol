// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IDisputeRegistry} from "./interfaces/IDisputeRegistry.sol";
import {IReviewLog} from "./interfaces/IReviewLog.sol";
import {ITrustGovernance} from "./interfaces/ITrustGovernance.sol";

/// @title DisputeRegistry
/// @notice Disputes over attested purchases and challenges of reviews, handled in public.
/// @dev Arbitrators are assigned by a public, deterministic rule: candidate k of dispute `id` is
/// `arbitratorAt((uint256(id) + k) % arbitratorCount())` in governance's list at the time of assignment,
/// skipping the parties and the first-instance arbitrator; `cursor` counts the candidates consumed, so a
/// recused or bypassed arbitrator is not picked again while the list is unchanged. The scan is bounded by
/// the number of arbitrators, which governance controls.
contract DisputeRegistry is IDisputeRegistry, ERC2771Context {
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _PURCHASE_TYPEHASH = keccak256(
        "PurchaseAttestation(bytes32 orderCommitment,address merchant,bytes32 productId,address buyer,uint40 purchasedAt)"
    );
    bytes32 private constant _PURCHASE_TAG = keccak256("trustledger.dispute.purchase");
    bytes32 private constant _REVIEW_TAG = keccak256("trustledger.dispute.review");

    ITrustGovernance private immutable _governance;
    uint40 private immutable _responsePeriod;
    uint40 private immutable _rulingPeriod;
    uint40 private immutable _appealWindow;
    uint40 private immutable _remedyConfirmWindow;
    uint40 private immutable _hideLapse;

    mapping(bytes32 id => Dispute) private _disputes;
    mapping(uint64 leafIndex => Takedown) private _takedowns;

    /// @param governance_ Governance: order signer, arbitrators, merchants, governors, the review log.
    /// @param forwarder The ERC-2771 forwarder trusted to report the signer of a relayed call.
    /// @param periods_ Seconds: [response, ruling, appeal window, remedy confirmation, emergency-hide lapse].
    constructor(ITrustGovernance governance_, address forwarder, uint40[5] memory periods_)
        ERC2771Context(forwarder)
    {
        _governance = governance_;
        (_responsePeriod, _rulingPeriod, _appealWindow, _remedyConfirmWindow, _hideLapse) =
            (periods_[0], periods_[1], periods_[2], periods_[3], periods_[4]);
    }

    // ---------------------------------------------------------------- opening

    /// @inheritdoc IDisputeRegistry
    function openPurchaseDispute(
        PurchaseAttestation calldata attestation,
        bytes calldata orderSignerSignature,
        bytes32 claimantCommitment,
        bytes32 category,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (bytes32 id) {
        address sender = _msgSender();
        id = _openPurchase(attestation, orderSignerSignature, sender, claimantCommitment, category);
        _evidence(id, sender, evidenceHash, evidenceUri);
        _assign(id, _disputes[id], true);
    }

    /// @inheritdoc IDisputeRegistry
    function challengeReview(
        uint64 leafIndex,
        address merchant,
        bytes32 category,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (bytes32 id) {
        address sender = _msgSender();
        id = _openChallenge(leafIndex, merchant, category, sender);
        _evidence(id, sender, evidenceHash, evidenceUri);
        _assign(id, _disputes[id], true);
    }

    // ---------------------------------------------------------------- parties

    /// @inheritdoc IDisputeRegistry
    function submitEvidence(bytes32 id, bytes32 evidenceHash, string calldata uri) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.claimant && (sender != d.respondent || sender == address(0))) {
            revert DisputeRegistryUnauthorized(sender);
        }
        if (d.phase == Phase.Closed) revert DisputeRegistryWrongPhase(id, d.phase);
        emit Evidence(id, sender, evidenceHash, uri);
    }

    /// @inheritdoc IDisputeRegistry
    function respond(bytes32 id, bytes32 evidenceHash, string calldata uri) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.respondent || sender == address(0)) revert DisputeRegistryUnauthorized(sender);
        // A dispute waiting for a panel still accepts the answer its respondent owes before the deadline.
        bool escalated = d.phase == Phase.Escalated && d.resume == Phase.AwaitingResponse;
        if (!escalated) _inPhase(id, d, Phase.AwaitingResponse);
        if (block.timestamp > d.responseDeadline) revert DisputeRegistryDeadlinePassed(id, d.responseDeadline);
        if (escalated) {
            d.resume = Phase.AwaitingRuling;
        } else {
            d.phase = Phase.AwaitingRuling;
            d.rulingDeadline = _after(_rulingPeriod);
        }
        emit DisputeResponded(id, sender, evidenceHash);
        _evidence(id, sender, evidenceHash, uri);
    }

    /// @inheritdoc IDisputeRegistry
    function appeal(bytes32 id, bytes32 evidenceHash, string calldata uri) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.claimant && (sender != d.respondent || sender == address(0))) {
            revert DisputeRegistryUnauthorized(sender);
        }
        _inPhase(id, d, Phase.Ruled);
        if (block.timestamp > d.appealDeadline) revert DisputeRegistryDeadlinePassed(id, d.appealDeadline);
        d.round = 1;
        d.phase = Phase.Appealed;
        d.panel = false;
        emit DisputeAppealed(id, sender, evidenceHash);
        _evidence(id, sender, evidenceHash, uri);
        _assign(id, d, false);
    }

    /// @inheritdoc IDisputeRegistry
    function finalize(bytes32 id) external {
        Dispute storage d = _existing(id);
        _inPhase(id, d, Phase.Ruled);
        if (block.timestamp <= d.appealDeadline) revert DisputeRegistryDeadlineNotPassed(id, d.appealDeadline);
        _final(id, d);
    }

    /// @inheritdoc IDisputeRegistry
    function reportRemedy(bytes32 id, bytes32 evidenceHash) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.merchant) revert DisputeRegistryUnauthorized(sender);
        _inPhase(id, d, Phase.RemedyDue);
        d.phase = Phase.RemedyReported;
        uint40 deadline = _after(_remedyConfirmWindow);
        d.remedyDeadline = deadline;
        emit RemedyReported(id, sender, evidenceHash, deadline);
    }

    /// @inheritdoc IDisputeRegistry
    function confirmRemedy(bytes32 id) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.claimant) revert DisputeRegistryUnauthorized(sender);
        _inPhase(id, d, Phase.RemedyReported);
        emit RemedyConfirmed(id, false);
        _close(id, d);
    }

    /// @inheritdoc IDisputeRegistry
    function contestRemedy(bytes32 id, bytes32 evidenceHash) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.claimant) revert DisputeRegistryUnauthorized(sender);
        _inPhase(id, d, Phase.RemedyReported);
        if (block.timestamp > d.remedyDeadline) revert DisputeRegistryDeadlinePassed(id, d.remedyDeadline);
        d.phase = Phase.RemedyContested;
        d.rulingDeadline = _after(_rulingPeriod);
        emit RemedyContested(id, evidenceHash);
    }

    /// @inheritdoc IDisputeRegistry
    function closeRemedy(bytes32 id) external {
        Dispute storage d = _existing(id);
        _inPhase(id, d, Phase.RemedyReported);
        if (block.timestamp <= d.remedyDeadline) revert DisputeRegistryDeadlineNotPassed(id, d.remedyDeadline);
        emit RemedyConfirmed(id, true);
        _close(id, d);
    }

    // ---------------------------------------------------------------- arbitration

    /// @inheritdoc IDisputeRegistry
    function recuse(bytes32 id) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (sender != d.arbitrator) revert DisputeRegistryUnauthorized(sender);
        _beforeRuling(id, d);
        emit ArbitratorRecused(id, sender);
        d.panel = false;
        _assign(id, d, false);
    }

    /// @inheritdoc IDisputeRegistry
    function escalate(bytes32 id) external {
        Dispute storage d = _existing(id);
        _beforeRuling(id, d);
        if (block.timestamp <= d.rulingDeadline) revert DisputeRegistryDeadlineNotPassed(id, d.rulingDeadline);
        address from = d.arbitrator;
        d.panel = false;
        _assign(id, d, false);
        if (d.phase != Phase.Escalated) emit DisputeEscalated(id, from, d.arbitrator);
    }

    /// @inheritdoc IDisputeRegistry
    function appointPanel(bytes32 id, address panel) external {
        Dispute storage d = _existing(id);
        address sender = _msgSender();
        if (!IAccessControl(address(_governance)).hasRole(_governance.GOVERNOR_ROLE(), sender)) {
            revert DisputeRegistryUnauthorized(sender);
        }
        _inPhase(id, d, Phase.Escalated);
        if (
            panel == address(0) || panel == d.claimant || panel == d.respondent || panel == d.merchant
                || panel == d.firstArbitrator
        ) revert DisputeRegistryIneligiblePanel(panel);
        d.phase = d.resume;
        d.arbitrator = panel;
        d.panel = true;
        uint40 deadline = _after(_rulingPeriod);
        d.rulingDeadline = deadline;
        emit ArbitratorAssigned(id, panel, d.cursor, true, deadline);
    }

    /// @inheritdoc IDisputeRegistry
    function rule(bytes32 id, Outcome outcome, uint96 remedyAmount, bytes32 rationaleHash) external {
        Dispute storage d = _existing(id);
        address sender = _checkArbitrator(d);
        Phase phase = d.phase;
        bool byDefault;
        if (phase == Phase.AwaitingResponse) {
            // the respondent missed its deadline: a default ruling is allowed, and only then
            if (block.timestamp <= d.responseDeadline) {
                revert DisputeRegistryDeadlineNotPassed(id, d.responseDeadline);
            }
            byDefault = true;
        } else if (phase != Phase.AwaitingRuling && phase != Phase.Appealed) {
            revert DisputeRegistryWrongPhase(id, phase);
        }
        if (block.timestamp > d.rulingDeadline) revert DisputeRegistryDeadlinePassed(id, d.rulingDeadline);
        if (!_fits(d.kind, outcome)) revert DisputeRegistryInvalidOutcome(d.kind, outcome);
        if ((remedyAmount == 0) != (outcome != Outcome.Refund && outcome != Outcome.PartialRefund)) {
            revert DisputeRegistryInvalidRemedy(outcome, remedyAmount);
        }
        d.outcome = outcome;
        d.remedyAmount = remedyAmount;
        d.byDefault = byDefault;
        uint8 round = d.round;
        emit DisputeRuled(id, sender, round, outcome, remedyAmount, rationaleHash, byDefault);
        if (round == 0) {
            d.firstArbitrator = sender;
            d.phase = Phase.Ruled;
            d.appealDeadline = _after(_appealWindow);
        } else {
            _final(id, d);
        }
    }

    /// @inheritdoc IDisputeRegistry
    function ruleOnRemedy(bytes32 id, bool fulfilled, bytes32 rationaleHash) external {
        Dispute storage d = _existing(id);
        address sender = _checkArbitrator(d);
        _inPhase(id, d, Phase.RemedyContested);
        if (block.timestamp > d.rulingDeadline) revert DisputeRegistryDeadlinePassed(id, d.rulingDeadline);
        emit RemedyRuled(id, sender, fulfilled, rationaleHash);
        if (fulfilled) {
            _close(id, d);
        } else {
            d.phase = Phase.RemedyDue;
        }
    }

    // ---------------------------------------------------------------- emergency hide

    /// @inheritdoc IDisputeRegistry
    function emergencyHide(uint64 leafIndex, bytes32 reasonCode) external {
        address sender = _msgSender();
        IReviewLog log = IReviewLog(_governance.reviewLog());
        if (sender != log.logOperator()) revert DisputeRegistryUnauthorized(sender);
        _checkAnchored(log, leafIndex);
        // Once per review: after a lapse or a restoring ruling only a ruling can take it down.
        if (_takedowns[leafIndex].state != TakedownState.None) revert DisputeRegistryAlreadyHidden(leafIndex);
        uint40 lapseAt = _after(_hideLapse);
        _takedowns[leafIndex] = Takedown({
            state: TakedownState.EmergencyHidden,
            hiddenAt: uint40(block.timestamp),
            lapseAt: lapseAt,
            reasonCode: reasonCode,
            disputeId: bytes32(0)
        });
        emit ReviewEmergencyHidden(leafIndex, sender, reasonCode, lapseAt);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDisputeRegistry
    function dispute(bytes32 id) external view returns (Dispute memory) {
        return _disputes[id];
    }

    /// @inheritdoc IDisputeRegistry
    function takedown(uint64 leafIndex) external view returns (Takedown memory) {
        return _takedowns[leafIndex];
    }

    /// @inheritdoc IDisputeRegistry
    function isReviewHidden(uint64 leafIndex) external view returns (bool) {
        Takedown storage t = _takedowns[leafIndex];
        return t.state == TakedownState.TakenDown
            || (t.state == TakedownState.EmergencyHidden && block.timestamp <= t.lapseAt);
    }

    /// @inheritdoc IDisputeRegistry
    function purchaseDisputeId(bytes32 orderCommitment) external pure returns (bytes32) {
        return _purchaseId(orderCommitment);
    }

    /// @inheritdoc IDisputeRegistry
    function reviewChallengeId(address challenger, uint64 leafIndex) external pure returns (bytes32) {
        return _reviewId(challenger, leafIndex);
    }

    /// @inheritdoc IDisputeRegistry
    function attestationDigest(PurchaseAttestation calldata attestation) external view returns (bytes32) {
        return _attestationDigest(attestation);
    }

    /// @inheritdoc IDisputeRegistry
    function governance() external view returns (address) {
        return address(_governance);
    }

    /// @inheritdoc IDisputeRegistry
    function periods() external view returns (uint40, uint40, uint40, uint40, uint40) {
        return (_responsePeriod, _rulingPeriod, _appealWindow, _remedyConfirmWindow, _hideLapse);
    }

    // ---------------------------------------------------------------- internals

    function _openChallenge(uint64 leafIndex, address merchant, bytes32 category, address sender)
        private
        returns (bytes32 id)
    {
        IReviewLog log = IReviewLog(_governance.reviewLog());
        address operator = log.logOperator();
        if (sender != merchant && sender != operator) revert DisputeRegistryUnauthorized(sender);
        _checkChallenger(merchant, sender);
        _checkAnchored(log, leafIndex);
        // A merchant's challenge is answered by the operator for the anonymous reviewer; the operator's own
        // referral has nobody to answer it and goes straight to the arbitrator.
        address respondent = sender == operator ? address(0) : operator;
        id = _reviewId(sender, leafIndex);
        Dispute storage d =
            _create(id, DisputeKind.ReviewChallenge, sender, respondent, merchant, bytes32(uint256(leafIndex)));
        emit ReviewChallenged(id, merchant, leafIndex, sender, respondent, category, d.responseDeadline);
    }

    function _checkChallenger(address merchant, address sender) private view {
        ITrustGovernance.MerchantStatus status = _governance.merchant(merchant).status;
        if (status == ITrustGovernance.MerchantStatus.None) revert DisputeRegistryUnknownMerchant(merchant);
        // a suspended or banned merchant may still answer disputes, but not challenge reviews
        if (sender == merchant && status != ITrustGovernance.MerchantStatus.Active) {
            revert DisputeRegistryMerchantNotActive(merchant);
        }
    }

    function _checkAnchored(IReviewLog log, uint64 leafIndex) private view {
        uint64 anchored = log.latestCheckpoint().size;
        if (leafIndex >= anchored) revert DisputeRegistryUnknownReview(leafIndex, anchored);
    }

    function _openPurchase(
        PurchaseAttestation calldata attestation,
        bytes calldata signature,
        address sender,
        bytes32 claimantCommitment,
        bytes32 category
    ) private returns (bytes32 id) {
        if (sender != attestation.buyer) revert DisputeRegistryUnauthorized(sender);
        if (!SignatureChecker.isValidSignatureNowCalldata(
            _governance.orderSigner(), _attestationDigest(attestation), signature
        )) revert DisputeRegistryInvalidAttestation();
        address merchant = attestation.merchant;
        if (_governance.merchant(merchant).status == ITrustGovernance.MerchantStatus.None) {
            revert DisputeRegistryUnknownMerchant(merchant);
        }
        id = _purchaseId(attestation.orderCommitment);
        Dispute storage d = _create(id, DisputeKind.Purchase, sender, merchant, merchant, attestation.orderCommitment);
        emit PurchaseDisputeOpened(
            id,
            merchant,
            attestation.productId,
            attestation.orderCommitment,
            sender,
            claimantCommitment,
            category,
            d.responseDeadline
        );
    }

    function _create(
        bytes32 id,
        DisputeKind kind,
        address claimant,
        address respondent,
        address merchant,
        bytes32 subject
    ) private returns (Dispute storage d) {
        d = _disputes[id];
        if (d.phase != Phase.None) revert DisputeRegistryAlreadyOpened(id);
        uint40 now_ = uint40(block.timestamp);
        d.kind = kind;
        d.openedAt = now_;
        d.claimant = claimant;
        d.respondent = respondent;
        d.merchant = merchant;
        d.subject = subject;
        if (respondent == address(0)) {
            d.phase = Phase.AwaitingRuling;
            d.responseDeadline = now_;
            d.rulingDeadline = now_ + _rulingPeriod;
        } else {
            d.phase = Phase.AwaitingResponse;
            d.responseDeadline = now_ + _responsePeriod;
            d.rulingDeadline = now_ + _responsePeriod + _rulingPeriod;
        }
    }

    /// @dev Moves the dispute to the next candidate of the public rule, or to Escalated when none is left.
    function _assign(bytes32 id, Dispute storage d, bool opening) private {
        uint256 n = _governance.arbitratorCount();
        if (n == 0 && opening) revert DisputeRegistryNoArbitrator();
        uint256 start = n == 0 ? 0 : uint256(id) % n;
        uint256 cursor = d.cursor;
        address previous = d.arbitrator;
        while (cursor < n) {
            address candidate = _governance.arbitratorAt((start + cursor) % n);
            // cursor < n <= type(uint16).max arbitrators in practice; checked arithmetic guards the rest
            ++cursor;
            if (
                candidate != d.claimant && candidate != d.respondent && candidate != d.merchant
                    && candidate != d.firstArbitrator && candidate != previous
            ) {
                d.cursor = uint16(cursor);
                d.arbitrator = candidate;
                uint40 deadline = _assignmentDeadline(d);
                d.rulingDeadline = deadline;
                emit ArbitratorAssigned(id, candidate, uint16(cursor), false, deadline);
                return;
            }
        }
        d.cursor = uint16(cursor);
        d.arbitrator = address(0);
        d.resume = d.phase;
        d.phase = Phase.Escalated;
        emit DisputeEscalated(id, previous, address(0));
    }

    /// @dev A newly assigned arbitrator keeps the current deadline when it is still ahead by a full ruling
    /// period (at opening: the response period plus the ruling period), and otherwise gets a fresh period.
    function _assignmentDeadline(Dispute storage d) private view returns (uint40) {
        uint40 fresh = _after(_rulingPeriod);
        return d.rulingDeadline > fresh ? d.rulingDeadline : fresh;
    }

    function _final(bytes32 id, Dispute storage d) private {
        Outcome outcome = d.outcome;
        emit DisputeFinal(id, outcome);
        if (d.kind == DisputeKind.ReviewChallenge) {
            uint64 leafIndex = uint64(uint256(d.subject));
            Takedown storage t = _takedowns[leafIndex];
            if (outcome == Outcome.ReviewRemoved && t.state != TakedownState.TakenDown) {
                t.state = TakedownState.TakenDown;
                t.disputeId = id;
                if (t.hiddenAt == 0) t.hiddenAt = uint40(block.timestamp);
                emit ReviewTakenDown(leafIndex, id);
            } else if (outcome == Outcome.ReviewUpheld && t.state == TakedownState.EmergencyHidden) {
                t.state = TakedownState.Restored;
                t.disputeId = id;
                emit ReviewRestored(leafIndex, id);
            }
        }
        if (outcome == Outcome.Refund || outcome == Outcome.Replacement || outcome == Outcome.PartialRefund) {
            d.phase = Phase.RemedyDue;
        } else {
            _close(id, d);
        }
    }

    function _close(bytes32 id, Dispute storage d) private {
        d.phase = Phase.Closed;
        emit DisputeClosed(id);
    }

    function _checkArbitrator(Dispute storage d) private view returns (address sender) {
        sender = _msgSender();
        // an arbitrator removed by governance after assignment can no longer rule: the dispute escalates
        if (sender != d.arbitrator || sender == address(0) || (!d.panel && !_governance.isArbitrator(sender))) {
            revert DisputeRegistryUnauthorized(sender);
        }
    }

    function _beforeRuling(bytes32 id, Dispute storage d) private view {
        Phase phase = d.phase;
        if (
            phase != Phase.AwaitingResponse && phase != Phase.AwaitingRuling && phase != Phase.Appealed
                && phase != Phase.RemedyContested
        ) revert DisputeRegistryWrongPhase(id, phase);
    }

    function _inPhase(bytes32 id, Dispute storage d, Phase expected) private view {
        if (d.phase != expected) revert DisputeRegistryWrongPhase(id, d.phase);
    }

    function _existing(bytes32 id) private view returns (Dispute storage d) {
        d = _disputes[id];
        if (d.phase == Phase.None) revert DisputeRegistryUnknownDispute(id);
    }

    function _evidence(bytes32 id, address party, bytes32 evidenceHash, string calldata uri) private {
        if (evidenceHash != bytes32(0)) emit Evidence(id, party, evidenceHash, uri);
    }

    function _fits(DisputeKind kind, Outcome outcome) private pure returns (bool) {
        if (kind == DisputeKind.Purchase) {
            return outcome == Outcome.Refund || outcome == Outcome.Replacement || outcome == Outcome.PartialRefund
                || outcome == Outcome.Rejected;
        }
        return outcome == Outcome.ReviewRemoved || outcome == Outcome.ReviewUpheld;
    }

    function _after(uint40 period) private view returns (uint40) {
        return uint40(block.timestamp) + period;
    }

    function _attestationDigest(PurchaseAttestation calldata a) private view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH,
                keccak256("TrustLedger Purchase"),
                keccak256("1"),
                block.chainid,
                address(_governance)
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(_PURCHASE_TYPEHASH, a.orderCommitment, a.merchant, a.productId, a.buyer, a.purchasedAt));
        return MessageHashUtils.toTypedDataHash(domain, structHash);
    }

    function _purchaseId(bytes32 orderCommitment) private pure returns (bytes32) {
        return keccak256(abi.encode(_PURCHASE_TAG, orderCommitment));
    }

    function _reviewId(address challenger, uint64 leafIndex) private pure returns (bytes32) {
        return keccak256(abi.encode(_REVIEW_TAG, challenger, leafIndex));
    }
}
