// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ProductId} from "../types/Ids.sol";

/// @title ICertificateRegistry
/// @notice Product quality certificates and spot-check results, issued by accredited inspection bodies.
/// @dev A certificate's id is the EIP-712 struct hash of its record, which includes the issuer: the id binds
/// the whole record and its issuer, so nobody can take an id first, and a verifier holding the record can
/// recompute it. The chain keeps one packed slot per certificate (issuer number, anchoring time, validity,
/// revocation, supersession, kind); the full record is in the `CertificateIssued` event.
interface ICertificateRegistry {
    /// @notice What a record states: a certificate, or a spot-check result that passed or failed.
    enum CertificateKind {
        Certificate,
        SpotCheckPass,
        SpotCheckFail
    }

    /// @notice A certificate's status at a point in time.
    /// @dev Precedence: Unknown (no record, or not yet anchored at that time), Compromised (anchored at or
    /// after its issuer's declared key-compromise time), Revoked, Superseded, Failed (a failed spot check),
    /// Expired, Valid.
    enum CertificateStatus {
        Unknown,
        Valid,
        Revoked,
        Expired,
        Superseded,
        Failed,
        Compromised
    }

    /// @notice The record an issuer signs and the chain binds. Times are unix seconds.
    /// @param productId The product (see docs/formats.md for the id scheme).
    /// @param lot The production batch (a hash or a namespaced id; zero for all lots).
    /// @param merchant The merchant the record is for.
    /// @param issuer The accredited inspection body.
    /// @param kind Certificate, or a spot-check result.
    /// @param documentHash SHA-256 or keccak-256 of the certificate document, kept off chain.
    /// @param standard The standard or category certified; must be in the issuer's scope.
    /// @param issuedAt When the issuer issued it; not in the future, not before the accreditation window.
    /// @param validUntil Last second of validity; after `issuedAt`, and not already past when recorded.
    struct Certificate {
        ProductId productId;
        bytes32 lot;
        address merchant;
        address issuer;
        CertificateKind kind;
        bytes32 documentHash;
        bytes32 standard;
        uint40 issuedAt;
        uint40 validUntil;
    }

    /// @notice What the chain stores for a certificate, in one slot.
    /// @param revokedByGovernance Whether the revocation came from governance's delayed act rather than the
    /// issuer's key. A revocation by the issuer's key at or after its declared compromise time does not count:
    /// whoever held the compromised key could have made it.
    struct CertificateState {
        uint32 issuerId;
        uint40 anchoredAt;
        uint40 validUntil;
        uint40 revokedAt;
        uint40 supersededAt;
        CertificateKind kind;
        bool revokedByGovernance;
    }

    /// @notice Thrown when the caller is not the issuer named in the record or of the certificate.
    error CertificateRegistryNotIssuer(address account, address issuer);
    /// @notice Thrown when the caller anchoring an issuer's offer is not the merchant named in the record.
    error CertificateRegistryNotMerchant(address account, address merchant);
    /// @notice Thrown when a function reserved to the governance contract is called by anyone else
    /// (`account` is the caller as ERC-2771 reports it: the signer of a relayed call).
    error CertificateRegistryNotGovernance(address account);
    /// @notice Thrown when the issuer is not accredited for the standard now (unknown, suspended,
    /// compromised, out of scope or outside its window).
    error CertificateRegistryIssuerNotAccredited(address issuer, bytes32 standard);
    /// @notice Thrown when the merchant is not admitted and active.
    error CertificateRegistryMerchantNotActive(address merchant);
    /// @notice Thrown when `validUntil` is not after `issuedAt`, or is already past.
    error CertificateRegistryInvalidValidity(uint40 issuedAt, uint40 validUntil);
    /// @notice Thrown when `issuedAt` lies in the future.
    error CertificateRegistryIssuedInFuture(uint40 issuedAt);
    /// @notice Thrown when recording a certificate whose id is already recorded.
    error CertificateRegistryAlreadyIssued(bytes32 id);
    /// @notice Thrown when a certificate id is unknown.
    error CertificateRegistryUnknownCertificate(bytes32 id);
    /// @notice Thrown when revoking a certificate already revoked.
    error CertificateRegistryAlreadyRevoked(bytes32 id);
    /// @notice Thrown when an issuer whose key is declared compromised tries to revoke: its key no longer
    /// speaks for it (governance revokes through its delayed act instead).
    error CertificateRegistryIssuerCompromised(address issuer, uint40 compromisedAt);
    /// @notice Thrown when superseding a certificate already superseded or revoked.
    error CertificateRegistryNotSupersedable(bytes32 id);
    /// @notice Thrown when an issuer's signed offer is past its deadline (the deadline second is allowed).
    error CertificateRegistryExpiredSignature(uint256 deadline);
    /// @notice Thrown when an offer's nonce was used or cancelled.
    error CertificateRegistryNonceUsed(address issuer, uint256 nonce);
    /// @notice Thrown when an offer's signature is not the issuer's (wrong signer, another chain or
    /// contract, malformed, or malleable high-s).
    error CertificateRegistryInvalidSignature(address issuer);
    /// @notice Thrown when a batch is empty.
    error CertificateRegistryEmptyBatch();

    /// @notice Emitted when a certificate is recorded. Carries the whole record.
    /// @param id The certificate id (EIP-712 struct hash of the record).
    /// @param anchoredBy The account that recorded it: the issuer, or the merchant holding the issuer's offer.
    event CertificateIssued(
        bytes32 indexed id,
        ProductId indexed productId,
        address indexed merchant,
        address issuer,
        bytes32 lot,
        CertificateKind kind,
        bytes32 documentHash,
        bytes32 standard,
        uint40 issuedAt,
        uint40 validUntil,
        address anchoredBy
    );
    /// @notice Emitted when a certificate is revoked; `actId` is non-zero when governance revoked it.
    event CertificateRevoked(bytes32 indexed id, address indexed revokedBy, bytes32 reasonCode, uint256 actId);
    /// @notice Emitted when a certificate is superseded by `replacementId`.
    event CertificateSuperseded(bytes32 indexed id, bytes32 indexed replacementId, bytes32 reasonCode);
    /// @notice Emitted when a merchant anchors an issuer's offer, consuming the offer's nonce.
    event NonceUsed(address indexed issuer, uint256 nonce);
    /// @notice Emitted when an issuer cancels unused offer nonces: bits of `mask` in word `wordPos`.
    event NoncesCancelled(address indexed issuer, uint256 indexed wordPos, uint256 mask);

    /// @notice The issuer records a certificate itself.
    function issue(Certificate calldata certificate) external returns (bytes32 id);

    /// @notice The issuer records several certificates at once; all must name it as issuer.
    function issueBatch(Certificate[] calldata certificates) external returns (bytes32[] memory ids);

    /// @notice The merchant records a certificate with the issuer's EIP-712 signature over
    /// `CertificateOffer(Certificate certificate,uint256 nonce,uint256 deadline)`. The signature may come
    /// from an EOA or an ERC-1271 contract issuer.
    function anchor(Certificate calldata certificate, uint256 nonce, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 id);

    /// @notice The issuer revokes one of its certificates. Permanent. Refused once the issuer's key is
    /// declared compromised.
    function revoke(bytes32 id, bytes32 reasonCode) external;

    /// @notice The issuer replaces one of its certificates with a new record.
    function supersede(bytes32 id, Certificate calldata replacement, bytes32 reasonCode)
        external
        returns (bytes32 replacementId);

    /// @notice Revocation by governance after its public delay; callable by the governance contract only.
    function revokeByGovernance(bytes32 id, bytes32 reasonCode, uint256 actId) external;

    /// @notice The issuer cancels unused offer nonces `wordPos * 256 + i` for every bit `i` set in `mask`.
    function cancelNonces(uint256 wordPos, uint256 mask) external;

    /// @notice Whether `nonce` of `issuer` is used or cancelled.
    function isNonceUsed(address issuer, uint256 nonce) external view returns (bool);

    /// @notice The id of a record: its EIP-712 struct hash.
    function certificateId(Certificate calldata certificate) external pure returns (bytes32);

    /// @notice The EIP-712 digest an issuer signs to offer `certificate` to its merchant.
    function offerDigest(Certificate calldata certificate, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice What the chain stores for certificate `id`.
    function certificateState(bytes32 id) external view returns (CertificateState memory);

    /// @notice Status of `id` now, and whether its issuer was accredited when it was recorded (false when
    /// it was recorded at or after a declared compromise of the issuer's key).
    function status(bytes32 id) external view returns (CertificateStatus, bool issuerAccreditedAtIssue);

    /// @notice Status of `id` at `time` ("was it valid when I bought it?"), with today's knowledge of key
    /// compromises.
    function statusAt(bytes32 id, uint40 time)
        external
        view
        returns (CertificateStatus, bool issuerAccreditedAtIssue);

    /// @notice The governance contract consulted for accreditation and merchant standing.
    function governance() external view returns (address);
}
