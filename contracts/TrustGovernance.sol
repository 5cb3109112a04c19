// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";

import {ITrustGovernance} from "./interfaces/ITrustGovernance.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {IReviewLog} from "./interfaces/IReviewLog.sol";

/// @title TrustGovernance
/// @notice Accreditation, merchant admission and sanctions, arbitrators and delayed acts for TrustLedger.
contract TrustGovernance is ITrustGovernance, AccessControlDefaultAdminRules, ERC2771Context {
    /// @inheritdoc ITrustGovernance
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @inheritdoc ITrustGovernance
    uint40 public immutable actDelay;

    address private _certificateRegistry;
    address private _reviewLog;
    address private _orderSigner;
    uint32 private _issuerCount;
    uint256 private _actCount;

    mapping(address issuer => Accreditation) private _accreditations;
    mapping(uint32 issuerId => address issuer) private _issuers;
    mapping(address issuer => mapping(bytes32 scope => bool inScope)) private _scopes;
    mapping(address account => Merchant) private _merchants;
    address[] private _arbitrators;
    mapping(address arbitrator => uint256 positionPlusOne) private _arbitratorPositions;
    mapping(uint256 actId => Act) private _acts;

    /// @param adminDelay Delay of a default-admin transfer (OpenZeppelin AccessControlDefaultAdminRules).
    /// @param admin The initial default admin (a multisig or a timelock in production).
    /// @param actDelay_ Public delay, in seconds, of the acts scheduled through this contract.
    /// @param forwarder The ERC-2771 forwarder trusted to report the signer of a relayed call.
    constructor(uint48 adminDelay, address admin, uint40 actDelay_, address forwarder)
        AccessControlDefaultAdminRules(adminDelay, admin)
        ERC2771Context(forwarder)
    {
        actDelay = actDelay_;
    }

    modifier onlyGovernor() {
        _checkGovernor();
        _;
    }

    /// @inheritdoc ITrustGovernance
    function bind(address certificateRegistry_, address reviewLog_) external {
        address sender = _msgSender();
        if (!hasRole(DEFAULT_ADMIN_ROLE, sender)) revert TrustGovernanceUnauthorized(sender, DEFAULT_ADMIN_ROLE);
        if (_certificateRegistry != address(0)) revert TrustGovernanceAlreadyBound();
        if (certificateRegistry_ == address(0) || reviewLog_ == address(0)) revert TrustGovernanceZeroAddress();
        _certificateRegistry = certificateRegistry_;
        _reviewLog = reviewLog_;
        emit ContractsBound(certificateRegistry_, reviewLog_);
    }

    // ---------------------------------------------------------------- issuers

    /// @inheritdoc ITrustGovernance
    function accreditIssuer(address issuer, uint40 validFrom, uint40 validUntil, bytes32[] calldata scopes)
        external
        onlyGovernor
    {
        if (issuer == address(0)) revert TrustGovernanceZeroAddress();
        if (validUntil <= validFrom) revert TrustGovernanceInvalidWindow(validFrom, validUntil);
        Accreditation storage a = _accreditations[issuer];
        if (a.compromisedAt != 0) revert TrustGovernanceIssuerCompromised(issuer, a.compromisedAt);
        uint32 id = a.id;
        if (id == 0) {
            // Issuer numbers are never reused; 2^32 - 1 issuers is beyond any deployment.
            id = ++_issuerCount;
            a.id = id;
            _issuers[id] = issuer;
        }
        a.validFrom = validFrom;
        a.validUntil = validUntil;
        emit IssuerAccredited(issuer, id, validFrom, validUntil);
        for (uint256 i = 0; i < scopes.length; ++i) {
            _scopes[issuer][scopes[i]] = true;
            emit IssuerScopeSet(issuer, scopes[i], true);
        }
    }

    /// @inheritdoc ITrustGovernance
    function setIssuerScope(address issuer, bytes32 scope, bool inScope) external onlyGovernor {
        _knownIssuer(issuer);
        _scopes[issuer][scope] = inScope;
        emit IssuerScopeSet(issuer, scope, inScope);
    }

    /// @inheritdoc ITrustGovernance
    function suspendIssuer(address issuer, bytes32 reasonCode) external onlyGovernor {
        Accreditation storage a = _knownIssuer(issuer);
        if (a.suspended) revert TrustGovernanceIssuerAlreadySuspended(issuer);
        a.suspended = true;
        emit IssuerSuspended(issuer, reasonCode);
    }

    /// @inheritdoc ITrustGovernance
    function restoreIssuer(address issuer) external onlyGovernor {
        Accreditation storage a = _knownIssuer(issuer);
        if (!a.suspended) revert TrustGovernanceIssuerNotSuspended(issuer);
        a.suspended = false;
        emit IssuerRestored(issuer);
    }

    /// @inheritdoc ITrustGovernance
    function declareKeyCompromised(uint40 compromisedAt) external {
        address issuer = _msgSender();
        _declareCompromise(issuer, compromisedAt, issuer);
    }

    // ---------------------------------------------------------------- merchants

    /// @inheritdoc ITrustGovernance
    function admitMerchant(address account, bytes32 licenceHash) external onlyGovernor {
        if (account == address(0)) revert TrustGovernanceZeroAddress();
        Merchant storage m = _merchants[account];
        if (m.status != MerchantStatus.None) revert TrustGovernanceMerchantAlreadyAdmitted(account);
        m.status = MerchantStatus.Active;
        m.admittedAt = uint40(block.timestamp);
        m.licenceHash = licenceHash;
        emit MerchantAdmitted(account, licenceHash);
    }

    /// @inheritdoc ITrustGovernance
    function sanctionMerchant(address account, SanctionKind kind, bytes32 reasonCode, bytes32 rulingRef)
        external
        onlyGovernor
    {
        Merchant storage m = _merchants[account];
        if (m.status == MerchantStatus.None) revert TrustGovernanceUnknownMerchant(account);
        if (kind == SanctionKind.Suspension && m.status != MerchantStatus.Banned) {
            m.status = MerchantStatus.Suspended;
        } else if (kind == SanctionKind.Ban) {
            m.status = MerchantStatus.Banned;
        }
        emit MerchantSanctioned(account, kind, m.status, reasonCode, rulingRef);
    }

    /// @inheritdoc ITrustGovernance
    function restoreMerchant(address account, bytes32 reasonCode, bytes32 rulingRef) external onlyGovernor {
        Merchant storage m = _merchants[account];
        if (m.status == MerchantStatus.None) revert TrustGovernanceUnknownMerchant(account);
        if (m.status == MerchantStatus.Active) revert TrustGovernanceMerchantAlreadyActive(account);
        m.status = MerchantStatus.Active;
        emit MerchantRestored(account, reasonCode, rulingRef);
    }

    // ---------------------------------------------------------------- arbitrators, order signer

    /// @inheritdoc ITrustGovernance
    function appointArbitrator(address arbitrator) external onlyGovernor {
        if (arbitrator == address(0)) revert TrustGovernanceZeroAddress();
        if (_arbitratorPositions[arbitrator] != 0) revert TrustGovernanceArbitratorAlreadyAppointed(arbitrator);
        _arbitrators.push(arbitrator);
        _arbitratorPositions[arbitrator] = _arbitrators.length;
        emit ArbitratorAppointed(arbitrator);
    }

    /// @inheritdoc ITrustGovernance
    function removeArbitrator(address arbitrator) external onlyGovernor {
        uint256 position = _arbitratorPositions[arbitrator];
        if (position == 0) revert TrustGovernanceNotArbitrator(arbitrator);
        uint256 last = _arbitrators.length;
        if (position != last) {
            address moved = _arbitrators[last - 1];
            _arbitrators[position - 1] = moved;
            _arbitratorPositions[moved] = position;
        }
        _arbitrators.pop();
        delete _arbitratorPositions[arbitrator];
        emit ArbitratorRemoved(arbitrator);
    }

    /// @inheritdoc ITrustGovernance
    function setOrderSigner(address signer) external onlyGovernor {
        if (signer == address(0)) revert TrustGovernanceZeroAddress();
        address previous = _orderSigner;
        _orderSigner = signer;
        emit OrderSignerSet(previous, signer);
    }

    // ---------------------------------------------------------------- delayed acts

    /// @inheritdoc ITrustGovernance
    function scheduleLogOperatorReplacement(address newOperator) external onlyGovernor returns (uint256) {
        if (newOperator == address(0)) revert TrustGovernanceZeroAddress();
        return _schedule(ActKind.ReplaceLogOperator, newOperator, bytes32(0), bytes32(0), 0);
    }

    /// @inheritdoc ITrustGovernance
    function scheduleCertificateRevocation(bytes32 certificateId, bytes32 reasonCode)
        external
        onlyGovernor
        returns (uint256)
    {
        return _schedule(ActKind.RevokeCertificate, address(0), certificateId, reasonCode, 0);
    }

    /// @inheritdoc ITrustGovernance
    function scheduleKeyCompromise(address issuer, uint40 compromisedAt, bytes32 reasonCode)
        external
        onlyGovernor
        returns (uint256)
    {
        _checkCompromiseTime(_knownIssuer(issuer), compromisedAt);
        return _schedule(ActKind.DeclareKeyCompromise, issuer, bytes32(0), reasonCode, compromisedAt);
    }

    /// @inheritdoc ITrustGovernance
    function executeAct(uint256 actId) external {
        Act storage a = _acts[actId];
        if (a.state != ActState.Pending) revert TrustGovernanceActNotPending(actId);
        if (block.timestamp < a.eta) revert TrustGovernanceActNotReady(actId, a.eta);
        a.state = ActState.Executed;
        ActKind kind = a.kind;
        emit ActExecuted(actId, kind);
        if (kind == ActKind.ReplaceLogOperator) {
            IReviewLog(_reviewLog).setLogOperator(a.account, actId);
        } else if (kind == ActKind.RevokeCertificate) {
            ICertificateRegistry(_certificateRegistry).revokeByGovernance(a.ref, a.reasonCode, actId);
        } else {
            // The act is governance's, whoever pays for its execution.
            _declareCompromise(a.account, a.time, address(this));
        }
    }

    /// @inheritdoc ITrustGovernance
    function cancelAct(uint256 actId) external onlyGovernor {
        Act storage a = _acts[actId];
        if (a.state != ActState.Pending) revert TrustGovernanceActNotPending(actId);
        a.state = ActState.Cancelled;
        emit ActCancelled(actId, a.kind);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITrustGovernance
    function act(uint256 actId) external view returns (Act memory) {
        return _acts[actId];
    }

    /// @inheritdoc ITrustGovernance
    function actCount() external view returns (uint256) {
        return _actCount;
    }

    /// @inheritdoc ITrustGovernance
    function accreditation(address issuer) external view returns (Accreditation memory) {
        return _accreditations[issuer];
    }

    /// @inheritdoc ITrustGovernance
    function issuerById(uint32 issuerId) external view returns (address) {
        return _issuers[issuerId];
    }

    /// @inheritdoc ITrustGovernance
    function isInScope(address issuer, bytes32 scope) external view returns (bool) {
        return _scopes[issuer][scope];
    }

    /// @inheritdoc ITrustGovernance
    function issuanceStanding(address issuer, bytes32 scope, address account, uint40 issuedAt)
        external
        view
        returns (uint32 issuerId, bool issuerAccredited, bool merchantActive)
    {
        Accreditation memory a = _accreditations[issuer];
        issuerId = a.id;
        issuerAccredited = issuerId != 0 && !a.suspended && a.compromisedAt == 0 && issuedAt >= a.validFrom
            && block.timestamp >= a.validFrom && block.timestamp <= a.validUntil && _scopes[issuer][scope];
        merchantActive = _merchants[account].status == MerchantStatus.Active;
    }

    /// @inheritdoc ITrustGovernance
    function issuerRecord(uint32 issuerId) external view returns (address issuer, uint40 compromisedAt) {
        issuer = _issuers[issuerId];
        compromisedAt = _accreditations[issuer].compromisedAt;
    }

    /// @inheritdoc ITrustGovernance
    function compromisedAtById(uint32 issuerId) external view returns (uint40) {
        return _accreditations[_issuers[issuerId]].compromisedAt;
    }

    /// @inheritdoc ITrustGovernance
    function merchant(address account) external view returns (Merchant memory) {
        return _merchants[account];
    }

    /// @inheritdoc ITrustGovernance
    function isArbitrator(address account) external view returns (bool) {
        return _arbitratorPositions[account] != 0;
    }

    /// @inheritdoc ITrustGovernance
    function arbitratorCount() external view returns (uint256) {
        return _arbitrators.length;
    }

    /// @inheritdoc ITrustGovernance
    function arbitratorAt(uint256 index) external view returns (address) {
        return _arbitrators[index];
    }

    /// @inheritdoc ITrustGovernance
    function orderSigner() external view returns (address) {
        return _orderSigner;
    }

    /// @inheritdoc ITrustGovernance
    function certificateRegistry() external view returns (address) {
        return _certificateRegistry;
    }

    /// @inheritdoc ITrustGovernance
    function reviewLog() external view returns (address) {
        return _reviewLog;
    }

    // ---------------------------------------------------------------- internals

    function _checkGovernor() private view {
        address sender = _msgSender();
        if (!hasRole(GOVERNOR_ROLE, sender)) revert TrustGovernanceUnauthorized(sender, GOVERNOR_ROLE);
    }

    function _knownIssuer(address issuer) private view returns (Accreditation storage a) {
        a = _accreditations[issuer];
        if (a.id == 0) revert TrustGovernanceUnknownIssuer(issuer);
    }

    function _declareCompromise(address issuer, uint40 compromisedAt, address declaredBy) private {
        Accreditation storage a = _knownIssuer(issuer);
        _checkCompromiseTime(a, compromisedAt);
        a.compromisedAt = compromisedAt;
        emit IssuerKeyCompromised(issuer, compromisedAt, declaredBy);
    }

    /// @dev A compromise time is a real past instant (0 means "none" and would erase a declaration), and a
    /// new declaration may only move it earlier.
    function _checkCompromiseTime(Accreditation storage a, uint40 compromisedAt) private view {
        uint40 declared = a.compromisedAt;
        if (compromisedAt == 0 || compromisedAt > block.timestamp || (declared != 0 && compromisedAt >= declared)) {
            revert TrustGovernanceInvalidCompromiseTime(compromisedAt, declared);
        }
    }

    function _schedule(ActKind kind, address account, bytes32 ref, bytes32 reasonCode, uint40 time)
        private
        returns (uint256 actId)
    {
        if (_certificateRegistry == address(0)) revert TrustGovernanceNotBound();
        actId = ++_actCount;
        uint40 eta = uint40(block.timestamp) + actDelay;
        _acts[actId] = Act({
            kind: kind,
            state: ActState.Pending,
            eta: eta,
            time: time,
            account: account,
            ref: ref,
            reasonCode: reasonCode
        });
        emit ActScheduled(actId, kind, eta, account, ref, reasonCode, time);
    }

    /// @dev ERC-2771: the actor of a relayed call is the signer the trusted forwarder appended.
    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    /// @dev ERC-2771: strip the appended signer from relayed calldata.
    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    /// @dev ERC-2771: a relayed call carries 20 extra bytes.
    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
