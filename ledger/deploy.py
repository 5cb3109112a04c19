"""Deploy the TrustLedger contract set on a chain and wire it together.

Order: forwarder, governance (trusting the forwarder), certificate registry, review log and dispute registry
(trusting the forwarder and governance), then ``governance.bind(registry, reviewLog)``. The deployer is the initial
default admin; it grants GOVERNOR_ROLE to ``governor``. The relayer gets no role at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract

from .artifacts import load
from .chain import Transactor


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment and bound contract objects."""

    chain_id: int
    forwarder: Contract
    governance: Contract
    registry: Contract
    review_log: Contract
    disputes: Contract
    deploy_block: int

    @property
    def addresses(self) -> dict[str, str]:
        return {
            "TrustForwarder": self.forwarder.address,
            "TrustGovernance": self.governance.address,
            "CertificateRegistry": self.registry.address,
            "ReviewLog": self.review_log.address,
            "DisputeRegistry": self.disputes.address,
        }


@dataclass(frozen=True)
class DisputePeriods:
    """Deadlines of the dispute process, in seconds."""

    response: int = 3 * 24 * 3600
    ruling: int = 7 * 24 * 3600
    appeal_window: int = 3 * 24 * 3600
    remedy_confirm: int = 7 * 24 * 3600
    hide_lapse: int = 14 * 24 * 3600  # longer than response + ruling + appeal: a timely ruling lands first

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.response, self.ruling, self.appeal_window, self.remedy_confirm, self.hide_lapse)


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for shipped contract ``name`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load(name).abi)


def _deploy(w3: Web3, tx: Transactor, name: str, *args: object) -> tuple[Contract, int]:
    artifact = load(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = tx.send(factory.constructor(*args))
    address = receipt["contractAddress"]
    assert address is not None
    return contract_at(w3, name, address), int(receipt["blockNumber"])


def deploy(
    w3: Web3,
    deployer: Transactor,
    *,
    governor: str,
    log_operator: str,
    admin_delay: int = 3 * 24 * 3600,
    act_delay: int = 2 * 24 * 3600,
    dispute_periods: DisputePeriods | None = None,
) -> Deployment:
    """Deploy and wire the contract set; ``deployer`` becomes the default admin."""
    forwarder, first_block = _deploy(w3, deployer, "TrustForwarder")
    governance, _ = _deploy(w3, deployer, "TrustGovernance", admin_delay, deployer.address, act_delay,
                            forwarder.address)
    registry, _ = _deploy(w3, deployer, "CertificateRegistry", governance.address, forwarder.address)
    review_log, _ = _deploy(w3, deployer, "ReviewLog", governance.address, log_operator, forwarder.address)
    periods = dispute_periods or DisputePeriods()
    disputes, _ = _deploy(w3, deployer, "DisputeRegistry", governance.address, forwarder.address,
                          list(periods.as_tuple()))
    deployer.send(governance.functions.bind(registry.address, review_log.address))
    role = governance.functions.GOVERNOR_ROLE().call()
    deployer.send(governance.functions.grantRole(role, Web3.to_checksum_address(governor)))
    return Deployment(
        chain_id=w3.eth.chain_id,
        forwarder=forwarder,
        governance=governance,
        registry=registry,
        review_log=review_log,
        disputes=disputes,
        deploy_block=first_block,
    )
