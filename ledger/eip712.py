"""EIP-712 messages that actors sign for delegated writes.

* ``CertificateOffer``: an inspection body lets a merchant anchor a certificate record
  (domain "TrustLedger CertificateRegistry", version "1", bound to chain id and registry address).
* ``PurchaseAttestation``: the platform's order signer attests a completed order (domain "TrustLedger
  Purchase", version "1", bound to chain id and the governance contract).
* ``ForwardRequest``: any actor lets the relayer carry a call to a TrustLedger contract through the
  ERC-2771 forwarder (domain "TrustLedger Forwarder", version "1").

Both domains bind the chain id and the verifying contract, so a signature made for one chain or one
deployment is worthless on another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

CERTIFICATE_FIELDS = [
    {"name": "productId", "type": "bytes32"},
    {"name": "lot", "type": "bytes32"},
    {"name": "merchant", "type": "address"},
    {"name": "issuer", "type": "address"},
    {"name": "kind", "type": "uint8"},
    {"name": "documentHash", "type": "bytes32"},
    {"name": "standard", "type": "bytes32"},
    {"name": "issuedAt", "type": "uint40"},
    {"name": "validUntil", "type": "uint40"},
]

FORWARD_REQUEST_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]

PURCHASE_FIELDS = [
    {"name": "orderCommitment", "type": "bytes32"},
    {"name": "merchant", "type": "address"},
    {"name": "productId", "type": "bytes32"},
    {"name": "buyer", "type": "address"},
    {"name": "purchasedAt", "type": "uint40"},
]

CERTIFICATE_KINDS = {"certificate": 0, "spot_check_pass": 1, "spot_check_fail": 2}


@dataclass(frozen=True)
class Certificate:
    """A certificate record as the registry binds it (see ``ICertificateRegistry.Certificate``)."""

    product_id: bytes
    lot: bytes
    merchant: str
    issuer: str
    kind: int
    document_hash: bytes
    standard: bytes
    issued_at: int
    valid_until: int

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in declaration order."""
        return (
            self.product_id,
            self.lot,
            to_checksum_address(self.merchant),
            to_checksum_address(self.issuer),
            self.kind,
            self.document_hash,
            self.standard,
            self.issued_at,
            self.valid_until,
        )

    def as_message(self) -> dict[str, Any]:
        """The EIP-712 message fields."""
        return {
            "productId": self.product_id,
            "lot": self.lot,
            "merchant": to_checksum_address(self.merchant),
            "issuer": to_checksum_address(self.issuer),
            "kind": self.kind,
            "documentHash": self.document_hash,
            "standard": self.standard,
            "issuedAt": self.issued_at,
            "validUntil": self.valid_until,
        }


def _type_string(name: str, fields: list[dict[str, str]]) -> str:
    return f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"


def certificate_id(certificate: Certificate) -> bytes:
    """The certificate id: the EIP-712 struct hash of the record (it binds the issuer)."""
    from eth_abi.abi import encode

    typehash = keccak(text=_type_string("Certificate", CERTIFICATE_FIELDS))
    types = ["bytes32"] + [f["type"] for f in CERTIFICATE_FIELDS]
    return keccak(encode(types, [typehash, *certificate.as_tuple()]))


def registry_domain(chain_id: int, registry: str) -> dict[str, Any]:
    """EIP-712 domain of the CertificateRegistry at ``registry`` on ``chain_id``."""
    return {
        "name": "TrustLedger CertificateRegistry",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(registry),
    }


def forwarder_domain(chain_id: int, forwarder: str) -> dict[str, Any]:
    """EIP-712 domain of the TrustForwarder at ``forwarder`` on ``chain_id``."""
    return {
        "name": "TrustLedger Forwarder",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(forwarder),
    }


def sign_certificate_offer(
    private_key: bytes | str,
    certificate: Certificate,
    *,
    nonce: int,
    deadline: int,
    chain_id: int,
    registry: str,
) -> bytes:
    """The issuer's signature letting ``certificate.merchant`` anchor ``certificate`` (65 bytes, r||s||v)."""
    message = encode_typed_data(
        domain_data=registry_domain(chain_id, registry),
        message_types={
            "CertificateOffer": [
                {"name": "certificate", "type": "Certificate"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
            "Certificate": CERTIFICATE_FIELDS,
        },
        message_data={"certificate": certificate.as_message(), "nonce": nonce, "deadline": deadline},
    )
    return bytes(Account.sign_message(message, private_key).signature)


def sign_forward_request(
    private_key: bytes | str,
    *,
    sender: str,
    to: str,
    data: bytes,
    gas: int,
    nonce: int,
    deadline: int,
    chain_id: int,
    forwarder: str,
    value: int = 0,
) -> tuple[Any, ...]:
    """A signed ``ForwardRequestData`` tuple for ``TrustForwarder.execute``."""
    message = encode_typed_data(
        domain_data=forwarder_domain(chain_id, forwarder),
        message_types={"ForwardRequest": FORWARD_REQUEST_FIELDS},
        message_data={
            "from": to_checksum_address(sender),
            "to": to_checksum_address(to),
            "value": value,
            "gas": gas,
            "nonce": nonce,
            "deadline": deadline,
            "data": data,
        },
    )
    signature = bytes(Account.sign_message(message, private_key).signature)
    return (to_checksum_address(sender), to_checksum_address(to), value, gas, deadline, data, signature)


@dataclass(frozen=True)
class PurchaseAttestation:
    """The platform's attestation of a completed order (see ``IDisputeRegistry.PurchaseAttestation``).

    ``order_commitment`` is ``keccak256(orderId, merchant, salt)`` with the salt kept by the platform;
    ``buyer`` is the key that acts for the consumer. It admits one review and one dispute.
    """

    order_commitment: bytes
    merchant: str
    product_id: bytes
    buyer: str
    purchased_at: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.order_commitment, to_checksum_address(self.merchant), self.product_id,
                to_checksum_address(self.buyer), self.purchased_at)

    def as_message(self) -> dict[str, Any]:
        return {
            "orderCommitment": self.order_commitment,
            "merchant": to_checksum_address(self.merchant),
            "productId": self.product_id,
            "buyer": to_checksum_address(self.buyer),
            "purchasedAt": self.purchased_at,
        }


def purchase_domain(chain_id: int, governance: str) -> dict[str, Any]:
    """EIP-712 domain of purchase attestations: bound to the chain and the governance contract."""
    return {
        "name": "TrustLedger Purchase",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(governance),
    }


def sign_purchase_attestation(
    private_key: bytes | str, attestation: PurchaseAttestation, *, chain_id: int, governance: str
) -> bytes:
    """The order signer's signature over ``attestation`` (65 bytes, r||s||v)."""
    message = encode_typed_data(
        domain_data=purchase_domain(chain_id, governance),
        message_types={"PurchaseAttestation": PURCHASE_FIELDS},
        message_data=attestation.as_message(),
    )
    return bytes(Account.sign_message(message, private_key).signature)
