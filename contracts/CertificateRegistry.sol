// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {ITrustGovernance} from "./interfaces/ITrustGovernance.sol";

/// @title CertificateRegistry
/// @notice Product quality certificates and spot-check results from accredited inspection bodies.
contract CertificateRegistry is ICertificateRegistry, EIP712, ERC2771Context {
    /// @dev EIP-712 type of a record; its struct hash is the certificate id.
    bytes32 private constant _CERTIFICATE_TYPEHASH = keccak256(
        "Certificate(bytes32 productId,bytes32 lot,address merchant,address issuer,uint8 kind,bytes32 documentHash,"
        "bytes32 standard,uint40 issuedAt,uint40 validUntil)"
    );

    /// @dev EIP-712 type an issuer signs so that its merchant can anchor the record.
    bytes32 private constant _OFFER_TYPEHASH = keccak256(
        "CertificateOffer(Certificate certificate,uint256 nonce,uint256 deadline)"
        "Certificate(bytes32 productId,bytes32 lot,address merchant,address issuer,uint8 kind,bytes32 documentHash,"
        "bytes32 standard,uint40 issuedAt,uint40 validUntil)"
    );

    ITrustGovernance private immutable _governance;

    mapping(bytes32 id => CertificateState) private _certificates;
    mapping(address issuer => mapping(uint256 wordPos => uint256 bitmap)) private _nonces;

    /// @param governance_ The governance contract consulted for accreditation and merchant standing.
    /// @param forwarder The ERC-2771 forwarder trusted to report the signer of a relayed call.
    constructor(ITrustGovernance governance_, address forwarder)
        EIP712("TrustLedger CertificateRegistry", "1")
        ERC2771Context(forwarder)
    {
        _governance = governance_;
    }

    // ---------------------------------------------------------------- writes

    /// @inheritdoc ICertificateRegistry
    function issue(Certificate calldata certificate) external returns (bytes32 id) {
        address sender = _msgSender();
        if (sender != certificate.issuer) revert CertificateRegistryNotIssuer(sender, certificate.issuer);
        id = _certificateId(certificate);
        _record(id, certificate, _standing(certificate), sender);
    }

    /// @inheritdoc ICertificateRegistry
    function issueBatch(Certificate[] calldata certificates) external returns (bytes32[] memory ids) {
        uint256 n = certificates.length;
        if (n == 0) revert CertificateRegistryEmptyBatch();
        address sender = _msgSender();
        ids = new bytes32[](n);
        // Standing is asked of governance once per run of equal (standard, merchant, issuedAt).
        bytes32 lastStandard;
        address lastMerchant;
        uint40 lastIssuedAt;
        uint32 issuerId;
        for (uint256 i = 0; i < n; ++i) {
            Certificate calldata c = certificates[i];
            if (sender != c.issuer) revert CertificateRegistryNotIssuer(sender, c.issuer);
            if (i == 0 || c.standard != lastStandard || c.merchant != lastMerchant || c.issuedAt != lastIssuedAt) {
                issuerId = _standing(c);
                (lastStandard, lastMerchant, lastIssuedAt) = (c.standard, c.merchant, c.issuedAt);
            }
            bytes32 id = _certificateId(c);
            _record(id, c, issuerId, sender);
            ids[i] = id;
        }
    }

    /// @inheritdoc ICertificateRegistry
    function anchor(Certificate calldata certificate, uint256 nonce, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 id)
    {
        address sender = _msgSender();
        if (sender != certificate.merchant) revert CertificateRegistryNotMerchant(sender, certificate.merchant);
        if (block.timestamp > deadline) revert CertificateRegistryExpiredSignature(deadline);
        address issuer = certificate.issuer;
        _useNonce(issuer, nonce);
        id = _certificateId(certificate);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(_OFFER_TYPEHASH, id, nonce, deadline)));
        if (!SignatureChecker.isValidSignatureNowCalldata(issuer, digest, signature)) {
            revert CertificateRegistryInvalidSignature(issuer);
        }
        _record(id, certificate, _standing(certificate), sender);
    }

    /// @inheritdoc ICertificateRegistry
    function revoke(bytes32 id, bytes32 reasonCode) external {
        CertificateState storage s = _existing(id);
        address sender = _msgSender();
        (address issuer, uint40 compromisedAt) = _governance.issuerRecord(s.issuerId);
        if (sender != issuer) revert CertificateRegistryNotIssuer(sender, issuer);
        if (compromisedAt != 0) revert CertificateRegistryIssuerCompromised(issuer, compromisedAt);
        _revoke(s, id, sender, reasonCode, 0);
    }

    /// @inheritdoc ICertificateRegistry
    function supersede(bytes32 id, Certificate calldata replacement, bytes32 reasonCode)
        external
        returns (bytes32 replacementId)
    {
        CertificateState storage s = _existing(id);
        address sender = _msgSender();
        address issuer = _governance.issuerById(s.issuerId);
        if (sender != issuer) revert CertificateRegistryNotIssuer(sender, issuer);
        if (sender != replacement.issuer) revert CertificateRegistryNotIssuer(sender, replacement.issuer);
        if (s.revokedAt != 0 || s.supersededAt != 0) revert CertificateRegistryNotSupersedable(id);
        replacementId = _certificateId(replacement);
        _record(replacementId, replacement, _standing(replacement), sender);
        s.supersededAt = uint40(block.timestamp);
        emit CertificateSuperseded(id, replacementId, reasonCode);
    }

    /// @inheritdoc ICertificateRegistry
    function revokeByGovernance(bytes32 id, bytes32 reasonCode, uint256 actId) external {
        if (msg.sender != address(_governance)) revert CertificateRegistryNotGovernance(_msgSender());
        _revoke(_existing(id), id, msg.sender, reasonCode, actId);
    }

    /// @inheritdoc ICertificateRegistry
    function cancelNonces(uint256 wordPos, uint256 mask) external {
        address issuer = _msgSender();
        _nonces[issuer][wordPos] |= mask;
        emit NoncesCancelled(issuer, wordPos, mask);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ICertificateRegistry
    function isNonceUsed(address issuer, uint256 nonce) external view returns (bool) {
        return _nonces[issuer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc ICertificateRegistry
    function certificateId(Certificate calldata certificate) external pure returns (bytes32) {
        return _certificateId(certificate);
    }

    /// @inheritdoc ICertificateRegistry
    function offerDigest(Certificate calldata certificate, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(_OFFER_TYPEHASH, _certificateId(certificate), nonce, deadline)));
    }

    /// @inheritdoc ICertificateRegistry
    function certificateState(bytes32 id) external view returns (CertificateState memory) {
        return _certificates[id];
    }

    /// @inheritdoc ICertificateRegistry
    function status(bytes32 id) external view returns (CertificateStatus, bool) {
        return _statusAt(id, uint40(block.timestamp));
    }

    /// @inheritdoc ICertificateRegistry
    function statusAt(bytes32 id, uint40 time) external view returns (CertificateStatus, bool) {
        return _statusAt(id, time);
    }

    /// @inheritdoc ICertificateRegistry
    function governance() external view returns (address) {
        return address(_governance);
    }

    // ---------------------------------------------------------------- internals

    function _certificateId(Certificate calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _CERTIFICATE_TYPEHASH,
                c.productId,
                c.lot,
                c.merchant,
                c.issuer,
                c.kind,
                c.documentHash,
                c.standard,
                c.issuedAt,
                c.validUntil
            )
        );
    }

    function _standing(Certificate calldata c) private view returns (uint32 issuerId) {
        bool issuerAccredited;
        bool merchantActive;
        (issuerId, issuerAccredited, merchantActive) =
            _governance.issuanceStanding(c.issuer, c.standard, c.merchant, c.issuedAt);
        if (!issuerAccredited) revert CertificateRegistryIssuerNotAccredited(c.issuer, c.standard);
        if (!merchantActive) revert CertificateRegistryMerchantNotActive(c.merchant);
    }

    function _record(bytes32 id, Certificate calldata c, uint32 issuerId, address anchoredBy) private {
        if (c.issuedAt > block.timestamp) revert CertificateRegistryIssuedInFuture(c.issuedAt);
        if (c.validUntil <= c.issuedAt || c.validUntil < block.timestamp) {
            revert CertificateRegistryInvalidValidity(c.issuedAt, c.validUntil);
        }
        CertificateState storage s = _certificates[id];
        if (s.anchoredAt != 0) revert CertificateRegistryAlreadyIssued(id);
        _certificates[id] = CertificateState({
            issuerId: issuerId,
            anchoredAt: uint40(block.timestamp),
            validUntil: c.validUntil,
            revokedAt: 0,
            supersededAt: 0,
            kind: c.kind,
            revokedByGovernance: false
        });
        emit CertificateIssued(
            id,
            c.productId,
            c.merchant,
            c.issuer,
            c.lot,
            c.kind,
            c.documentHash,
            c.standard,
            c.issuedAt,
            c.validUntil,
            anchoredBy
        );
    }

    function _revoke(CertificateState storage s, bytes32 id, address by, bytes32 reasonCode, uint256 actId)
        private
    {
        if (s.revokedAt != 0) revert CertificateRegistryAlreadyRevoked(id);
        s.revokedAt = uint40(block.timestamp);
        if (actId != 0) s.revokedByGovernance = true;
        emit CertificateRevoked(id, by, reasonCode, actId);
    }

    function _existing(bytes32 id) private view returns (CertificateState storage s) {
        s = _certificates[id];
        if (s.anchoredAt == 0) revert CertificateRegistryUnknownCertificate(id);
    }

    function _useNonce(address issuer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage words = _nonces[issuer];
        uint256 word = words[nonce >> 8];
        if (word & bit != 0) revert CertificateRegistryNonceUsed(issuer, nonce);
        words[nonce >> 8] = word | bit;
        emit NonceUsed(issuer, nonce);
    }

    function _statusAt(bytes32 id, uint40 time) private view returns (CertificateStatus, bool) {
        CertificateState memory s = _certificates[id];
        if (s.anchoredAt == 0 || time < s.anchoredAt) return (CertificateStatus.Unknown, false);
        uint40 compromisedAt = _governance.compromisedAtById(s.issuerId);
        if (compromisedAt != 0 && s.anchoredAt >= compromisedAt) return (CertificateStatus.Compromised, false);
        // an issuer-key revocation made at or after the key's declared compromise does not count
        bool revocationCounts = s.revokedByGovernance || compromisedAt == 0 || s.revokedAt < compromisedAt;
        if (s.revokedAt != 0 && s.revokedAt <= time && revocationCounts) return (CertificateStatus.Revoked, true);
        if (s.supersededAt != 0 && s.supersededAt <= time) return (CertificateStatus.Superseded, true);
        if (s.kind == CertificateKind.SpotCheckFail) return (CertificateStatus.Failed, true);
        if (time > s.validUntil) return (CertificateStatus.Expired, true);
        return (CertificateStatus.Valid, true);
    }
}
