// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IDisputeRegistry
/// @notice Fair, public, transparent complaint handling: a consumer's dispute over an attested purchase, or
/// a challenge of a review in the log, from opening through response, ruling, appeal and remedy. Every step
/// is an event; the parties appear only as keys and salted commitments.
/// @dev State machine (docs/disputes.md):
///
///   open ──> AwaitingResponse ──respond──> AwaitingRuling ──rule──> Ruled ──appeal──> Appealed ──rule──> final
///                 │ (response deadline missed: the arbitrator may rule by default)      │
///                 └──────────────────────────────────rule (by default)──> Ruled ──(appeal window over)──> final
///   final: outcome needs a remedy ──> RemedyDue ──report──> RemedyReported ──confirm / window over──> Closed
///                                                                         └──contest──> RemedyContested ──rule──> Closed | RemedyDue
///          otherwise ──> Closed
///   A missed ruling deadline lets anyone escalate to the next arbitrator of the public rule; when none is
///   left the dispute is Escalated until the governor appoints a panel. Closed is final: nothing changes it.
interface IDisputeRegistry {
    /// @notice What is disputed.
    enum DisputeKind {
        Purchase,
        ReviewChallenge
    }

    /// @notice Where a dispute stands.
    enum Phase {
        None,
        AwaitingResponse,
        AwaitingRuling,
        Ruled,
        Appealed,
        Escalated,
        RemedyDue,
        RemedyReported,
        RemedyContested,
        Closed
    }

    /// @notice A ruling's outcome. Purchase disputes: Refund, Replacement, PartialRefund or Rejected; review
    /// challenges: ReviewRemoved or ReviewUpheld.
    enum Outcome {
        None,
        Refund,
        Replacement,
        PartialRefund,
        Rejected,
        ReviewRemoved,
        ReviewUpheld
    }

    /// @notice State of a review's takedown.
    enum TakedownState {
        None,
        EmergencyHidden,
        TakenDown,
        Restored
    }

    /// @notice The platform's attestation of a completed order, signed by its order signer (EIP-712 domain
    /// "TrustLedger Purchase" bound to the chain id and the governance contract). It admits one review and
    /// one dispute.
    /// @param orderCommitment keccak256(orderId, merchant, salt); the salt stays with the platform.
    /// @param buyer The key that acts for the consumer (its own, or one the platform holds for it): only it
    /// may open the dispute, so nobody can take a copied attestation first.
    struct PurchaseAttestation {
        bytes32 orderCommitment;
        address merchant;
        bytes32 productId;
        address buyer;
        uint40 purchasedAt;
    }

    /// @notice A dispute as stored.
    /// @param subject The order commitment (purchase) or the leaf index (review challenge).
    /// @param claimant The key that opened the dispute (the buyer key, the merchant, or the log operator).
    /// @param respondent Who answers: the merchant (purchase) or the log operator (a merchant's review
    /// challenge); zero when nobody answers (the operator's own challenge).
    /// @param merchant The merchant concerned.
    /// @param arbitrator The assigned arbitrator, or the governor's panel.
    /// @param firstArbitrator Who ruled at first instance (excluded on appeal).
    /// @param resume The phase an escalated dispute returns to once a panel is appointed.
    /// @param cursor How far the public assignment rule has advanced (recusals and escalations).
    /// @param remedyAmount The remedy ordered, in the smallest unit of the order's currency (0 if none).
    struct Dispute {
        DisputeKind kind;
        Phase phase;
        Phase resume;
        Outcome outcome;
        uint8 round;
        bool byDefault;
        bool panel;
        uint16 cursor;
        uint40 openedAt;
        uint40 responseDeadline;
        uint40 rulingDeadline;
        uint40 appealDeadline;
        address claimant;
        uint40 remedyDeadline;
        address respondent;
        uint96 remedyAmount;
        address merchant;
        address arbitrator;
        address firstArbitrator;
        bytes32 subject;
    }

    /// @notice A review's takedown record.
    struct Takedown {
        TakedownState state;
        uint40 hiddenAt;
        uint40 lapseAt;
        bytes32 reasonCode;
        bytes32 disputeId;
    }

    /// @notice Thrown when the caller is not the party this step belongs to.
    error DisputeRegistryUnauthorized(address account);
    /// @notice Thrown when a step is taken in the wrong phase.
    error DisputeRegistryWrongPhase(bytes32 id, Phase phase);
    /// @notice Thrown when a dispute id is unknown.
    error DisputeRegistryUnknownDispute(bytes32 id);
    /// @notice Thrown when a dispute for this order (or this challenger and review) already exists.
    error DisputeRegistryAlreadyOpened(bytes32 id);
    /// @notice Thrown when the purchase attestation is not signed by the platform's order signer.
    error DisputeRegistryInvalidAttestation();
    /// @notice Thrown when the merchant concerned is not admitted.
    error DisputeRegistryUnknownMerchant(address merchant);
    /// @notice Thrown when a challenged review is not in the anchored log.
    error DisputeRegistryUnknownReview(uint64 leafIndex, uint64 anchoredSize);
    /// @notice Thrown when a step comes after its deadline.
    error DisputeRegistryDeadlinePassed(bytes32 id, uint40 deadline);
    /// @notice Thrown when a step needs a deadline to have passed first.
    error DisputeRegistryDeadlineNotPassed(bytes32 id, uint40 deadline);
    /// @notice Thrown when an outcome does not fit the kind of dispute.
    error DisputeRegistryInvalidOutcome(DisputeKind kind, Outcome outcome);
    /// @notice Thrown when no arbitrator is appointed at all.
    error DisputeRegistryNoArbitrator();
    /// @notice Thrown when an emergency hide is asked for a review that was already hidden once (an emergency
    /// hide is allowed once per review; after that only a ruling takes it down).
    error DisputeRegistryAlreadyHidden(uint64 leafIndex);
    /// @notice Thrown when a panel would be a party to the dispute, or the first-instance arbitrator on appeal.
    error DisputeRegistryIneligiblePanel(address panel);
    /// @notice Thrown when a remedy amount does not fit the outcome: Refund and PartialRefund need one,
    /// every other outcome must carry 0.
    error DisputeRegistryInvalidRemedy(Outcome outcome, uint96 remedyAmount);
    /// @notice Thrown when a suspended or banned merchant tries to challenge a review.
    error DisputeRegistryMerchantNotActive(address merchant);

    /// @notice Emitted when a consumer opens a dispute over an attested purchase.
    /// @param claimantCommitment Salted commitment to the consumer's identity (never the identity itself).
    event PurchaseDisputeOpened(
        bytes32 indexed id,
        address indexed merchant,
        bytes32 indexed productId,
        bytes32 orderCommitment,
        address claimant,
        bytes32 claimantCommitment,
        bytes32 category,
        uint40 responseDeadline
    );
    /// @notice Emitted when a review is challenged (a fake-review claim by a merchant, or the operator's own).
    event ReviewChallenged(
        bytes32 indexed id,
        address indexed merchant,
        uint64 indexed leafIndex,
        address claimant,
        address respondent,
        bytes32 category,
        uint40 responseDeadline
    );
    /// @notice ERC-1497-style evidence: `evidenceHash` of the file at `uri`, submitted by `party`.
    event Evidence(bytes32 indexed id, address indexed party, bytes32 evidenceHash, string uri);
    /// @notice Emitted when the respondent answers.
    event DisputeResponded(bytes32 indexed id, address indexed respondent, bytes32 evidenceHash);
    /// @notice Emitted when an arbitrator (or a panel) is assigned by the public rule.
    event ArbitratorAssigned(bytes32 indexed id, address indexed arbitrator, uint16 cursor, bool panel,
        uint40 rulingDeadline);
    /// @notice Emitted when the assigned arbitrator recuses.
    event ArbitratorRecused(bytes32 indexed id, address indexed arbitrator);
    /// @notice Emitted when a ruling deadline was missed and the dispute moved on (`to` zero: awaiting a panel).
    event DisputeEscalated(bytes32 indexed id, address indexed from, address to);
    /// @notice Emitted on every ruling; the rationale text is published off chain under `rationaleHash`.
    event DisputeRuled(
        bytes32 indexed id,
        address indexed arbitrator,
        uint8 round,
        Outcome outcome,
        uint96 remedyAmount,
        bytes32 rationaleHash,
        bool byDefault
    );
    /// @notice Emitted when a party appeals a first-instance ruling.
    event DisputeAppealed(bytes32 indexed id, address indexed party, bytes32 evidenceHash);
    /// @notice Emitted when a ruling becomes final.
    event DisputeFinal(bytes32 indexed id, Outcome outcome);
    /// @notice Emitted when the merchant reports the remedy fulfilled.
    event RemedyReported(bytes32 indexed id, address indexed merchant, bytes32 evidenceHash, uint40 confirmDeadline);
    /// @notice Emitted when the claimant confirms the remedy (or the window passed: `deemed` true).
    event RemedyConfirmed(bytes32 indexed id, bool deemed);
    /// @notice Emitted when the claimant contests the reported remedy.
    event RemedyContested(bytes32 indexed id, bytes32 evidenceHash);
    /// @notice Emitted when the arbitrator decides a contested remedy.
    event RemedyRuled(bytes32 indexed id, address indexed arbitrator, bool fulfilled, bytes32 rationaleHash);
    /// @notice Emitted when a dispute is closed for good.
    event DisputeClosed(bytes32 indexed id);
    /// @notice Emitted when the log operator hides a review at once (illegal content); lapses at `lapseAt`
    /// unless a final ruling confirms it.
    event ReviewEmergencyHidden(uint64 indexed leafIndex, address indexed operator, bytes32 reasonCode, uint40 lapseAt);
    /// @notice Emitted when a final ruling takes a review down: its content is hidden off chain, its leaf
    /// stays in the log as a tombstone naming the dispute.
    event ReviewTakenDown(uint64 indexed leafIndex, bytes32 indexed disputeId);
    /// @notice Emitted when a final ruling upholds a review that was emergency-hidden.
    event ReviewRestored(uint64 indexed leafIndex, bytes32 indexed disputeId);

    /// @notice The buyer key opens a dispute over an attested purchase.
    function openPurchaseDispute(
        PurchaseAttestation calldata attestation,
        bytes calldata orderSignerSignature,
        bytes32 claimantCommitment,
        bytes32 category,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (bytes32 id);

    /// @notice An admitted merchant challenges a review (by its leaf index in the anchored log), or the log
    /// operator refers a review it hid to an arbitrator.
    function challengeReview(
        uint64 leafIndex,
        address merchant,
        bytes32 category,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (bytes32 id);

    /// @notice Claimant or respondent adds evidence to an open dispute.
    function submitEvidence(bytes32 id, bytes32 evidenceHash, string calldata uri) external;

    /// @notice The respondent answers before the response deadline.
    function respond(bytes32 id, bytes32 evidenceHash, string calldata uri) external;

    /// @notice The assigned arbitrator steps aside; the public rule picks the next.
    function recuse(bytes32 id) external;

    /// @notice Anyone moves a dispute whose ruling deadline passed to the next arbitrator (or to a panel).
    function escalate(bytes32 id) external;

    /// @notice The governor appoints a panel (an address of its choosing, e.g. a multisig) for an
    /// escalated dispute.
    function appointPanel(bytes32 id, address panel) external;

    /// @notice The assigned arbitrator rules before the ruling deadline.
    function rule(bytes32 id, Outcome outcome, uint96 remedyAmount, bytes32 rationaleHash) external;

    /// @notice Claimant or respondent appeals a first-instance ruling within the appeal window.
    function appeal(bytes32 id, bytes32 evidenceHash, string calldata uri) external;

    /// @notice Anyone makes a first-instance ruling final once the appeal window has passed.
    function finalize(bytes32 id) external;

    /// @notice The merchant reports the ordered remedy fulfilled.
    function reportRemedy(bytes32 id, bytes32 evidenceHash) external;

    /// @notice The claimant confirms the remedy.
    function confirmRemedy(bytes32 id) external;

    /// @notice The claimant contests the reported remedy before the confirmation deadline.
    function contestRemedy(bytes32 id, bytes32 evidenceHash) external;

    /// @notice Anyone closes a dispute whose remedy was reported and not contested in time.
    function closeRemedy(bytes32 id) external;

    /// @notice The arbitrator decides a contested remedy.
    function ruleOnRemedy(bytes32 id, bool fulfilled, bytes32 rationaleHash) external;

    /// @notice The log operator hides an anchored review at once (illegal content), once per review; the hide
    /// is public and lapses unless a final ruling takes the review down within the hide window.
    function emergencyHide(uint64 leafIndex, bytes32 reasonCode) external;

    /// @notice A dispute's state.
    function dispute(bytes32 id) external view returns (Dispute memory);

    /// @notice A review's takedown record.
    function takedown(uint64 leafIndex) external view returns (Takedown memory);

    /// @notice Whether a review's content is hidden now (taken down by a final ruling, or emergency-hidden and
    /// not yet lapsed).
    function isReviewHidden(uint64 leafIndex) external view returns (bool);

    /// @notice The id of the purchase dispute for `orderCommitment`.
    function purchaseDisputeId(bytes32 orderCommitment) external pure returns (bytes32);

    /// @notice The id of `challenger`'s challenge of review `leafIndex`.
    function reviewChallengeId(address challenger, uint64 leafIndex) external pure returns (bytes32);

    /// @notice The EIP-712 digest the order signer signs for `attestation`.
    function attestationDigest(PurchaseAttestation calldata attestation) external view returns (bytes32);

    /// @notice The governance contract.
    function governance() external view returns (address);

    /// @notice Periods, in seconds: response, ruling, appeal window, remedy confirmation, emergency-hide lapse.
    function periods()
        external
        view
        returns (uint40 response, uint40 ruling, uint40 appealWindow, uint40 remedyConfirm, uint40 hideLapse);
}
