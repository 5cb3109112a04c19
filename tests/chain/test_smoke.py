from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.eip712 import Certificate, certificate_id

from ..conftest import STANDARD, World, reverts

pytestmark = pytest.mark.chain


def test_issue_and_status(world: World) -> None:
    a = world.actors
    now = world.chain.now()
    cert = Certificate(keccak(text="gtin:1"), keccak(text="lot:1"), a.merchant.address, a.issuer.address, 0,
                       keccak(text="doc"), STANDARD, now - 10, now + 1000)
    a.issuer.send(world.d.registry.functions.issue(cert.as_tuple()))
    cid = certificate_id(cert)
    assert world.d.registry.functions.certificateId(cert.as_tuple()).call() == cid
    assert world.d.registry.functions.status(cid).call() == [1, True]
    with reverts("CertificateRegistryAlreadyIssued", cid):
        a.issuer.send(world.d.registry.functions.issue(cert.as_tuple()))


def test_relay(world: World) -> None:
    a = world.actors
    now = world.chain.now()
    cert = Certificate(keccak(text="gtin:2"), keccak(text="lot:1"), a.merchant.address, a.issuer.address, 0,
                       keccak(text="doc"), STANDARD, now - 10, now + 1000)
    world.relay(a.issuer, world.d.registry.functions.issue(cert.as_tuple()))
    with reverts("CertificateRegistryNotIssuer", a.relayer.address, a.issuer.address):
        a.relayer.send(world.d.registry.functions.issue(cert.as_tuple()))
    with reverts("CertificateRegistryNotIssuer", a.stranger.address, a.issuer.address):
        world.relay(a.stranger, world.d.registry.functions.issue(cert.as_tuple()))


def test_deployed_code_is_the_shipped_code(world: World) -> None:
    from ledger.artifacts import load

    for name, address in world.d.addresses.items():
        assert load(name).runtime_code_matches(bytes(world.w3.eth.get_code(address))), name
    assert not load("ReviewLog").runtime_code_matches(bytes(world.w3.eth.get_code(world.d.registry.address)))
