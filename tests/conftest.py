"""Shared fixtures: the test chain, named actors, and a deployed, wired TrustLedger."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
from eth_account import Account
from eth_utils import keccak
from web3.contract.contract import ContractFunction

from ledger.chain import Transactor
from ledger.deploy import Deployment, deploy
from ledger.eip712 import sign_forward_request
from ledger.errors import ContractError

from . import devchain
from .fuzz import SCALE as FUZZ_SCALE

STANDARD = keccak(text="std:GB/T 19001-2016")
OTHER_STANDARD = keccak(text="std:ISO 22000")
ACT_DELAY = 2 * 24 * 3600
ACTOR_NAMES = ("admin", "governor", "issuer", "issuer2", "merchant", "merchant2", "operator",
               "arbitrator", "relayer", "stranger", "order_signer")


if FUZZ_SCALE > 1:  # make fuzz: property tests without their own max_examples draw this many
    hypothesis.settings.register_profile("fuzz", max_examples=100 * FUZZ_SCALE, deadline=None)
    hypothesis.settings.load_profile("fuzz")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chain", choices=["eth-tester", "hardhat", "anvil"], default="eth-tester",
                     help="chain for the chain-backed suites: in-process py-evm, or a live local node")


def pytest_report_header(config: pytest.Config) -> str:
    return f"trustledger chain: {config.getoption('--chain')}"


@pytest.fixture(scope="session")
def chain(request: pytest.FixtureRequest) -> Iterator[devchain.DevChain]:
    c = devchain.start(request.config.getoption("--chain"))
    try:
        yield c
    finally:
        c.close()


@dataclass
class Actors:
    """One Transactor per named actor; keys are derived from the name, so runs are reproducible."""

    by_name: dict[str, Transactor]

    def __getattr__(self, name: str) -> Transactor:
        try:
            return self.by_name[name]
        except KeyError:
            raise AttributeError(name) from None

    def reset_nonces(self) -> None:
        for t in self.by_name.values():
            t._nonce = None


@pytest.fixture(scope="session")
def actors(chain: devchain.DevChain) -> Actors:
    by_name = {}
    for name in ACTOR_NAMES:
        key = keccak(text=f"trustledger-test-actor:{name}")
        t = Transactor(chain.w3, Account.from_key(key))
        chain.fund(t.address, 10**20)
        by_name[name] = t
    return Actors(by_name)


@dataclass
class World:
    """A deployed TrustLedger with an accredited issuer, an admitted merchant and an arbitrator."""

    chain: devchain.DevChain
    actors: Actors
    d: Deployment
    accredited_from: int
    accredited_until: int

    @property
    def w3(self) -> Any:
        return self.chain.w3

    def relay(self, signer: Transactor, call: ContractFunction, *, gas: int = 2_000_000,
              deadline: int | None = None) -> Any:
        """Send ``call`` as ``signer`` through the forwarder; the relayer pays."""
        request = self.forward_request(signer, call, gas=gas, deadline=deadline)
        return self.actors.relayer.send(self.d.forwarder.functions.execute(request))

    def forward_request(self, signer: Transactor, call: ContractFunction, *, gas: int = 2_000_000,
                        deadline: int | None = None, nonce: int | None = None) -> tuple[Any, ...]:
        if nonce is None:
            nonce = self.d.forwarder.functions.nonces(signer.address).call()
        return sign_forward_request(
            signer.account.key,
            sender=signer.address,
            to=call.address,
            data=bytes.fromhex(call._encode_transaction_data()[2:]),
            gas=gas,
            nonce=nonce,
            deadline=deadline if deadline is not None else self.chain.now() + 3600,
            chain_id=self.d.chain_id,
            forwarder=self.d.forwarder.address,
        )


@pytest.fixture(scope="session")
def _world(chain: devchain.DevChain, actors: Actors) -> World:
    d = deploy(chain.w3, actors.admin, governor=actors.governor.address, log_operator=actors.operator.address,
               act_delay=ACT_DELAY)
    g = d.governance.functions
    now = chain.now()
    start, until = now - 3600, now + 365 * 24 * 3600
    actors.governor.send(g.accreditIssuer(actors.issuer.address, start, until, [STANDARD]))
    actors.governor.send(g.accreditIssuer(actors.issuer2.address, start, until, [STANDARD, OTHER_STANDARD]))
    actors.governor.send(g.admitMerchant(actors.merchant.address, keccak(text="licence:merchant")))
    actors.governor.send(g.admitMerchant(actors.merchant2.address, keccak(text="licence:merchant2")))
    actors.governor.send(g.appointArbitrator(actors.arbitrator.address))
    actors.governor.send(g.setOrderSigner(actors.order_signer.address))
    return World(chain, actors, d, start, until)


@pytest.fixture
def world(_world: World) -> Iterator[World]:
    """The deployed world, reset to its initial state after each test (chain snapshot), its clock caught up
    with the wall clock first (see DevChain.catch_up)."""
    _world.chain.catch_up()
    snap = _world.chain.snapshot()
    try:
        yield _world
    finally:
        _world.chain.revert(snap)
        _world.actors.reset_nonces()


@contextlib.contextmanager
def reverts(name: str, *args: Any) -> Iterator[list[ContractError]]:
    """Expect a named custom error (and, when given, its exact arguments)."""
    caught: list[ContractError] = []
    with pytest.raises(ContractError) as info:
        yield caught
    err = info.value
    assert err.name == name, f"expected {name}, got {err}"
    if args:
        assert tuple(err.args_) == tuple(args), f"expected {name}{args}, got {err}"
    caught.append(err)


Send = Callable[..., Any]


# ------------------------------------------------------------------------------------------- storage

PG_URL = os.environ.get("TRUSTLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    import sqlalchemy

    from ledger.storage import Database

    db = Database(PG_URL)
    try:
        with db.engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        db.dispose()
    return None


def require_pg(status: str | None) -> None:
    """Skip the calling test when no PostgreSQL answers (``status`` says why), or fail it under
    TRUSTLEDGER_REQUIRE_PG=1 (CI), where the PostgreSQL half must run."""
    if status is None:
        return
    if os.environ.get("TRUSTLEDGER_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL at {PG_URL} is required (TRUSTLEDGER_REQUIRE_PG=1): {status}")
    pytest.skip(f"no PostgreSQL at {PG_URL}: {status}")


@pytest.fixture(scope="session")
def _pg_status() -> str | None:
    return _pg_reachable()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Any, _pg_status: str | None) -> Iterator[Any]:
    """A migrated, empty database: a SQLite file, or a fresh schema in the test PostgreSQL.

    PostgreSQL tests skip when no server answers, unless TRUSTLEDGER_REQUIRE_PG=1 (CI), where they fail.
    """
    from ledger.storage import Database, scratch_schema

    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/trustledger.db")
        db.migrate()
        yield db
        db.dispose()
        return
    require_pg(_pg_status)
    with scratch_schema(PG_URL, prefix="t") as db:
        db.migrate()
        yield db
