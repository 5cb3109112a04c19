// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title ITrustGovernance
/// @notice Who may do what in TrustLedger: issuer accreditation (scope, validity window, suspension, key
/// compromise), merchant admission and sanctions, arbitrators, the platform's purchase-attestation signer,
/// and the delayed acts (replacing the log operator, revoking another party's certificate, declaring
/// another party's key compromised) that take effect only after a public delay.
/// @dev Every state-changing function learns its actor through ERC-2771 (`_msgSender()`), so a relayer
/// that forwards a signed request acts for the signer and never for itself. The default admin is held with
/// OpenZeppelin's AccessControlDefaultAdminRules (delayed admin transfer); the admin grants GOVERNOR_ROLE.
interface ITrustGovernance {
    /// @notice Standing of a merchant.
    enum MerchantStatus {
        None,
        Active,
        Suspended,
        Banned
    }

    /// @notice What a sanction does to a merchant: a public warning, a suspension, or a ban.
    enum SanctionKind {
        Warning,
        Suspension,
        Ban
    }

    /// @notice Kinds of act that take effect only after the public delay.
    enum ActKind {
        None,
        ReplaceLogOperator,
        RevokeCertificate,
        DeclareKeyCompromise
    }

    /// @notice Life of a delayed act.
    enum ActState {
        None,
        Pending,
        Executed,
        Cancelled
    }

    /// @notice An inspection body's accreditation. Times are unix seconds.
    /// @param id Stable issuer number, assigned at first accreditation, never reused.
    /// @param validFrom First second at which the issuer may issue.
    /// @param validUntil Last second at which the issuer may issue.
    /// @param compromisedAt Declared time from which the issuer's key is compromised; 0 when none. Every
    /// certificate anchored at or after this time counts as invalid.
    /// @param suspended Whether issuing is suspended.
    struct Accreditation {
        uint32 id;
        uint40 validFrom;
        uint40 validUntil;
        uint40 compromisedAt;
        bool suspended;
    }

    /// @notice A merchant's admission record.
    struct Merchant {
        MerchantStatus status;
        uint40 admittedAt;
        bytes32 licenceHash;
    }

    /// @notice A delayed act and its payload.
    /// @param account The new log operator, or the issuer whose key is declared compromised.
    /// @param ref The certificate id to revoke.
    /// @param reasonCode Why (a reason code of docs/formats.md).
    /// @param time The compromise time, for DeclareKeyCompromise.
    struct Act {
        ActKind kind;
        ActState state;
        uint40 eta;
        uint40 time;
        address account;
        bytes32 ref;
        bytes32 reasonCode;
    }

    /// @notice Thrown when `account` lacks `role` for the function it called.
    error TrustGovernanceUnauthorized(address account, bytes32 role);
    /// @notice Thrown when a zero address is given where an account is required.
    error TrustGovernanceZeroAddress();
    /// @notice Thrown when an accreditation window is empty (`validUntil <= validFrom`).
    error TrustGovernanceInvalidWindow(uint40 validFrom, uint40 validUntil);
    /// @notice Thrown when `issuer` has never been accredited.
    error TrustGovernanceUnknownIssuer(address issuer);
    /// @notice Thrown when re-accrediting an issuer whose key is declared compromised: it must use a new key.
    error TrustGovernanceIssuerCompromised(address issuer, uint40 compromisedAt);
    /// @notice Thrown when suspending an issuer that is already suspended.
    error TrustGovernanceIssuerAlreadySuspended(address issuer);
    /// @notice Thrown when restoring an issuer that is not suspended.
    error TrustGovernanceIssuerNotSuspended(address issuer);
    /// @notice Thrown when a compromise time is zero, lies in the future, or is not earlier than the time
    /// already declared (`declared`, 0 when none).
    error TrustGovernanceInvalidCompromiseTime(uint40 compromisedAt, uint40 declared);
    /// @notice Thrown when admitting a merchant that already has a record.
    error TrustGovernanceMerchantAlreadyAdmitted(address merchant);
    /// @notice Thrown when sanctioning or restoring a merchant that was never admitted.
    error TrustGovernanceUnknownMerchant(address merchant);
    /// @notice Thrown when restoring a merchant that is already active.
    error TrustGovernanceMerchantAlreadyActive(address merchant);
    /// @notice Thrown when appointing an arbitrator twice.
    error TrustGovernanceArbitratorAlreadyAppointed(address arbitrator);
    /// @notice Thrown when removing an account that is not an arbitrator.
    error TrustGovernanceNotArbitrator(address account);
    /// @notice Thrown when binding the contract set a second time.
    error TrustGovernanceAlreadyBound();
    /// @notice Thrown when scheduling an act before the contract set is bound.
    error TrustGovernanceNotBound();
    /// @notice Thrown when executing or cancelling an act that does not exist or is no longer pending.
    error TrustGovernanceActNotPending(uint256 actId);
    /// @notice Thrown when executing an act before its public delay has passed.
    error TrustGovernanceActNotReady(uint256 actId, uint40 eta);

    /// @notice Emitted when the certificate registry and review log are bound to this governance, once.
    event ContractsBound(address indexed certificateRegistry, address indexed reviewLog);
    /// @notice Emitted when an issuer is accredited or its window renewed.
    event IssuerAccredited(address indexed issuer, uint32 indexed issuerId, uint40 validFrom, uint40 validUntil);
    /// @notice Emitted when a scope (category or standard) is added to or removed from an issuer.
    event IssuerScopeSet(address indexed issuer, bytes32 indexed scope, bool inScope);
    /// @notice Emitted when an issuer is suspended.
    event IssuerSuspended(address indexed issuer, bytes32 reasonCode);
    /// @notice Emitted when a suspended issuer is restored.
    event IssuerRestored(address indexed issuer);
    /// @notice Emitted when an issuer's key is declared compromised from `compromisedAt` on; `declaredBy` is
    /// the issuer itself, or this governance contract for a delayed act.
    event IssuerKeyCompromised(address indexed issuer, uint40 compromisedAt, address indexed declaredBy);
    /// @notice Emitted when a merchant is admitted.
    event MerchantAdmitted(address indexed merchant, bytes32 licenceHash);
    /// @notice Emitted when a merchant is sanctioned.
    event MerchantSanctioned(
        address indexed merchant,
        SanctionKind kind,
        MerchantStatus status,
        bytes32 reasonCode,
        bytes32 indexed rulingRef
    );
    /// @notice Emitted when a suspended or banned merchant is restored.
    event MerchantRestored(address indexed merchant, bytes32 reasonCode, bytes32 indexed rulingRef);
    /// @notice Emitted when an arbitrator is appointed.
    event ArbitratorAppointed(address indexed arbitrator);
    /// @notice Emitted when an arbitrator is removed.
    event ArbitratorRemoved(address indexed arbitrator);
    /// @notice Emitted when the platform's purchase-attestation signer changes.
    event OrderSignerSet(address indexed previous, address indexed current);
    /// @notice Emitted when a delayed act is scheduled; it can be executed by anyone from `eta` on.
    event ActScheduled(
        uint256 indexed actId,
        ActKind indexed kind,
        uint40 eta,
        address account,
        bytes32 ref,
        bytes32 reasonCode,
        uint40 time
    );
    /// @notice Emitted when a delayed act takes effect.
    event ActExecuted(uint256 indexed actId, ActKind indexed kind);
    /// @notice Emitted when a pending act is cancelled by a governor.
    event ActCancelled(uint256 indexed actId, ActKind indexed kind);

    /// @notice Binds the certificate registry and the review log that delayed acts act upon. Once, by the
    /// default admin.
    function bind(address certificateRegistry, address reviewLog) external;

    /// @notice Accredits `issuer` for `[validFrom, validUntil]` and adds `scopes`; renews the window of an
    /// issuer already known. Governor only.
    function accreditIssuer(address issuer, uint40 validFrom, uint40 validUntil, bytes32[] calldata scopes)
        external;

    /// @notice Adds (`inScope` true) or removes a scope from an accredited issuer. Governor only.
    function setIssuerScope(address issuer, bytes32 scope, bool inScope) external;

    /// @notice Suspends an issuer: it cannot issue until restored; its certificates stay as they are.
    /// Governor only.
    function suspendIssuer(address issuer, bytes32 reasonCode) external;

    /// @notice Lifts an issuer's suspension. Governor only.
    function restoreIssuer(address issuer) external;

    /// @notice The issuer declares its own key compromised from `compromisedAt` (not in the future; a later
    /// declaration may only move the time earlier). Takes effect at once. A governor declaring another
    /// party's key compromised goes through {scheduleKeyCompromise}.
    function declareKeyCompromised(uint40 compromisedAt) external;

    /// @notice Admits a merchant with the hash of its business licence. Governor only.
    function admitMerchant(address merchant, bytes32 licenceHash) external;

    /// @notice Sanctions a merchant, with a reason code and the ruling it rests on. Governor only.
    function sanctionMerchant(address merchant, SanctionKind kind, bytes32 reasonCode, bytes32 rulingRef)
        external;

    /// @notice Restores a suspended or banned merchant. Governor only.
    function restoreMerchant(address merchant, bytes32 reasonCode, bytes32 rulingRef) external;

    /// @notice Appoints an arbitrator. Governor only.
    function appointArbitrator(address arbitrator) external;

    /// @notice Removes an arbitrator. Governor only.
    function removeArbitrator(address arbitrator) external;

    /// @notice Sets the platform's purchase-attestation signer. Governor only.
    function setOrderSigner(address signer) external;

    /// @notice Schedules the replacement of the log operator. Governor only.
    function scheduleLogOperatorReplacement(address newOperator) external returns (uint256 actId);

    /// @notice Schedules the revocation of a certificate by governance. Governor only.
    function scheduleCertificateRevocation(bytes32 certificateId, bytes32 reasonCode)
        external
        returns (uint256 actId);

    /// @notice Schedules the declaration that `issuer`'s key is compromised from `compromisedAt`. Governor only.
    function scheduleKeyCompromise(address issuer, uint40 compromisedAt, bytes32 reasonCode)
        external
        returns (uint256 actId);

    /// @notice Carries out a pending act whose delay has passed. Anyone may call it.
    function executeAct(uint256 actId) external;

    /// @notice Cancels a pending act. Governor only.
    function cancelAct(uint256 actId) external;

    /// @notice Role held by governors.
    function GOVERNOR_ROLE() external view returns (bytes32);

    /// @notice The public delay, in seconds, between scheduling and executing an act.
    function actDelay() external view returns (uint40);

    /// @notice A delayed act by id.
    function act(uint256 actId) external view returns (Act memory);

    /// @notice Number of acts ever scheduled; ids run from 1 to this number.
    function actCount() external view returns (uint256);

    /// @notice The accreditation of `issuer` (all zero when unknown).
    function accreditation(address issuer) external view returns (Accreditation memory);

    /// @notice The issuer with number `issuerId` (zero address when unknown).
    function issuerById(uint32 issuerId) external view returns (address);

    /// @notice Whether `scope` is in `issuer`'s accreditation.
    function isInScope(address issuer, bytes32 scope) external view returns (bool);

    /// @notice What the certificate registry checks before recording a certificate, in one call.
    /// @return issuerId The issuer's number (0 when unknown).
    /// @return issuerAccredited Whether `issuer` may issue for `scope` now: known, not suspended, no
    /// declared compromise, `scope` in scope, `issuedAt >= validFrom` and now within the window.
    /// @return merchantActive Whether `merchant` is admitted and active.
    function issuanceStanding(address issuer, bytes32 scope, address merchant, uint40 issuedAt)
        external
        view
        returns (uint32 issuerId, bool issuerAccredited, bool merchantActive);

    /// @notice The issuer with number `issuerId` and its declared compromise time (0 when none), in one call.
    function issuerRecord(uint32 issuerId) external view returns (address issuer, uint40 compromisedAt);

    /// @notice The declared compromise time of issuer number `issuerId` (0 when none).
    function compromisedAtById(uint32 issuerId) external view returns (uint40);

    /// @notice A merchant's record.
    function merchant(address account) external view returns (Merchant memory);

    /// @notice Whether `account` is an appointed arbitrator.
    function isArbitrator(address account) external view returns (bool);

    /// @notice Number of appointed arbitrators.
    function arbitratorCount() external view returns (uint256);

    /// @notice The arbitrator at position `index` of the active list (order changes on removal).
    function arbitratorAt(uint256 index) external view returns (address);

    /// @notice The platform's purchase-attestation signer.
    function orderSigner() external view returns (address);

    /// @notice The bound certificate registry.
    function certificateRegistry() external view returns (address);

    /// @notice The bound review log.
    function reviewLog() external view returns (address);
}
