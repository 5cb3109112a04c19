"""Settings from TRUSTLEDGER_* variables; secrets that never show; keystores; the well-known-key refusal."""

from __future__ import annotations

import json
import os
import secrets
import traceback
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from pydantic import SecretStr, ValidationError

from ledger.errors import InvalidInput, LedgerError
from ledger.settings import (
    DEV_MNEMONIC,
    KEY_NAMES,
    DevelopmentKeyRefused,
    InvalidSettings,
    KeyNotConfigured,
    KeystoreError,
    Settings,
    check_keys,
    is_local_dev_chain,
    is_well_known_key,
    well_known_dev_addresses,
)

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _dev_keys(count: int = 20) -> list[bytes]:
    """The test mnemonic's keys, derived here independently of ledger.settings (with from_mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    return [bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
            for i in range(count)]


def _fresh_key() -> str:
    return "0x" + secrets.token_hex(32)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRUSTLEDGER_"):
            monkeypatch.delenv(name)


def _leaks(secret: str, text: str) -> bool:
    body = secret.lower().removeprefix("0x")
    return body in text.lower() or secret in text


def _everything_said(exc: BaseException) -> str:
    """All an exception can show: message, repr, formatted traceback with its chain."""
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


# --- parsing ------------------------------------------------------------------------------------------------

def test_defaults() -> None:
    s = Settings()
    assert s.rpc_url == "http://127.0.0.1:8545"
    assert s.manifest_path == Path(".trustledger/deployment.json")
    assert s.database_url == "sqlite:///.trustledger/trustledger.db"
    assert s.max_merge_delay == 60
    assert s.confirmation_depth == 0
    for name in ("operator_key", "relayer_key", "order_signer_key", "keystore_dir", "keystore_password",
                 "content_key", "pseudonym_key"):
        assert getattr(s, name) is None, name


def test_no_secret_has_a_default() -> None:
    for name, info in Settings.model_fields.items():
        if "SecretStr" in str(info.annotation):
            assert info.default is None, name


def test_environment_is_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    operator, relayer, signer = _fresh_key(), _fresh_key(), _fresh_key()
    content, pseudonym = secrets.token_hex(32), secrets.token_hex(32)
    env = {
        "TRUSTLEDGER_RPC_URL": "https://rpc.example.org:8443/",
        "TRUSTLEDGER_MANIFEST_PATH": str(tmp_path / "deployment.json"),
        "TRUSTLEDGER_DATABASE_URL": "postgresql+psycopg://ledger:pw@db.internal:5432/trustledger",
        "TRUSTLEDGER_MAX_MERGE_DELAY": "120",
        "TRUSTLEDGER_CONFIRMATION_DEPTH": "12",
        "TRUSTLEDGER_OPERATOR_KEY": operator.upper().replace("0X", "0x"),
        "TRUSTLEDGER_RELAYER_KEY": relayer[2:],  # without 0x
        "TRUSTLEDGER_ORDER_SIGNER_KEY": f"  {signer}\n",  # as read from a file
        "TRUSTLEDGER_CONTENT_KEY": content,
        "TRUSTLEDGER_PSEUDONYM_KEY": "0x" + pseudonym,
        "TRUSTLEDGER_KEYSTORE_DIR": str(tmp_path),
        "TRUSTLEDGER_KEYSTORE_PASSWORD": "correct horse",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.rpc_url == "https://rpc.example.org:8443/"
    assert s.manifest_path == tmp_path / "deployment.json"
    assert s.database_url == "postgresql+psycopg://ledger:pw@db.internal:5432/trustledger"
    assert (s.max_merge_delay, s.confirmation_depth) == (120, 12)
    assert s.operator_key is not None and s.operator_key.get_secret_value() == operator  # normalised
    assert s.relayer_key is not None and s.relayer_key.get_secret_value() == relayer
    assert s.order_signer_key is not None and s.order_signer_key.get_secret_value() == signer
    assert s.content_key is not None and s.content_key.get_secret_value() == "0x" + content
    assert s.pseudonym_key is not None and s.pseudonym_key.get_secret_value() == "0x" + pseudonym
    assert s.keystore_dir == tmp_path
    assert s.keystore_password is not None and s.keystore_password.get_secret_value() == "correct horse"
    assert s.load_key("operator").address == Account.from_key(operator).address
    assert s.load_key("relayer").address == Account.from_key(relayer).address
    assert s.load_key("order_signer").address == Account.from_key(signer).address


@pytest.mark.parametrize("url", ["sqlite:///.trustledger/x.db", "sqlite://", "sqlite+pysqlite:////abs/x.db",
                                 "postgresql://u@h/db", "postgresql+psycopg2://u:p@h:5432/db",
                                 "postgresql+asyncpg://h/db"])
def test_database_urls_accepted(url: str) -> None:
    assert Settings(database_url=url).database_url == url


def test_postgres_spelling_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLEDGER_DATABASE_URL", "postgres://u:p@h/db")
    assert Settings().database_url == "postgresql://u:p@h/db"


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLEDGER_OPERATOR_KEY", "")
    monkeypatch.setenv("TRUSTLEDGER_MAX_MERGE_DELAY", "")
    s = Settings()
    assert s.operator_key is None and s.max_merge_delay == 60


@pytest.mark.parametrize(("var", "value", "field"), [
    ("TRUSTLEDGER_MAX_MERGE_DELAY", "0", "max_merge_delay"),
    ("TRUSTLEDGER_MAX_MERGE_DELAY", "1.5", "max_merge_delay"),
    ("TRUSTLEDGER_MAX_MERGE_DELAY", "soon", "max_merge_delay"),
    ("TRUSTLEDGER_CONFIRMATION_DEPTH", "-1", "confirmation_depth"),
    ("TRUSTLEDGER_RPC_URL", "127.0.0.1:8545", "rpc_url"),
    ("TRUSTLEDGER_RPC_URL", "ftp://node/", "rpc_url"),
    ("TRUSTLEDGER_DATABASE_URL", "mysql://u:p@h/db", "database_url"),
    ("TRUSTLEDGER_DATABASE_URL", ".trustledger/trustledger.db", "database_url"),
])
def test_malformed_settings_are_named(monkeypatch: pytest.MonkeyPatch, var: str, value: str, field: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidSettings) as info:
        Settings()
    assert info.value.fields == (field,)
    assert var in str(info.value)
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)


def test_unknown_init_argument_refused() -> None:
    with pytest.raises(InvalidSettings, match="operator_kye"):
        Settings(operator_kye=_fresh_key())


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError, match="frozen"):
        s.max_merge_delay = 5


# --- secrets never show -------------------------------------------------------------------------------------

def test_secrets_never_in_repr_or_str(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "OPERATOR_KEY": _fresh_key(), "RELAYER_KEY": _fresh_key(), "ORDER_SIGNER_KEY": _fresh_key(),
        "CONTENT_KEY": _fresh_key(), "PSEUDONYM_KEY": _fresh_key(), "KEYSTORE_PASSWORD": "s3cret-Passw0rd",
    }
    for k, v in values.items():
        monkeypatch.setenv(f"TRUSTLEDGER_{k}", v)
    monkeypatch.setenv("TRUSTLEDGER_DATABASE_URL", "postgresql://ledger:db-Passw0rd@db/trustledger?sslmode=require")
    monkeypatch.setenv("TRUSTLEDGER_RPC_URL", "https://user:rpc-Passw0rd@node.example.org/v3/apikey0123456789")
    s = Settings()
    shown = "\n".join([repr(s), str(s), s.model_dump_json(), f"{s}", f"{s!r}"])
    for name, secret in values.items():
        assert not _leaks(secret, shown), name
    for secret in ("db-Passw0rd", "rpc-Passw0rd", "apikey0123456789", "sslmode=require"):
        assert secret not in repr(s) and secret not in str(s), secret
    assert "postgresql://ledger:***@db/trustledger" in repr(s)
    assert "node.example.org" in repr(s)
    # the real values stay available to the code that needs them
    assert "db-Passw0rd" in s.database_url and "apikey0123456789" in s.rpc_url


BAD_SIGNING_KEYS = {
    "short": "0x" + "ab" * 31,
    "long": "0x" + "ab" * 33,
    "not-hex": "0x" + "zz" * 32,
    "inner-space": "0x" + "ab" * 16 + " " + "ab" * 16,
    "double-prefix": "0x0x" + "ab" * 31,
    "zero": "0x" + "00" * 32,
    "curve-order": hex(SECP256K1_ORDER),
    "above-curve-order": hex(SECP256K1_ORDER + 1),
    "mnemonic-words": DEV_MNEMONIC,
}


@pytest.mark.parametrize("setting", ["operator_key", "relayer_key", "order_signer_key"])
@pytest.mark.parametrize("case", sorted(BAD_SIGNING_KEYS))
def test_malformed_signing_key_named_never_echoed(monkeypatch: pytest.MonkeyPatch, setting: str,
                                                  case: str) -> None:
    value = BAD_SIGNING_KEYS[case]
    monkeypatch.setenv(f"TRUSTLEDGER_{setting.upper()}", value)
    with pytest.raises(InvalidSettings) as info:
        Settings()
    exc = info.value
    assert exc.fields == (setting,)
    assert f"TRUSTLEDGER_{setting.upper()}" in str(exc)
    said = _everything_said(exc)
    assert value not in said
    if case not in ("zero", "mnemonic-words"):
        assert not _leaks(value, said)
    assert exc.__context__ is None and exc.__cause__ is None  # no chained pydantic error holding the input


@pytest.mark.parametrize("setting", ["content_key", "pseudonym_key"])
def test_malformed_symmetric_key_named_never_echoed(setting: str) -> None:
    value = "0x" + secrets.token_hex(16)  # 16 bytes: too short
    with pytest.raises(InvalidSettings) as info:
        Settings(**{setting: value})
    assert info.value.fields == (setting,)
    assert not _leaks(value, _everything_said(info.value))


def test_several_malformed_settings_reported_together() -> None:
    bad = "0x" + secrets.token_hex(31)
    with pytest.raises(InvalidSettings) as info:
        Settings(operator_key=bad, relayer_key=bad, max_merge_delay=0)
    assert set(info.value.fields) == {"operator_key", "relayer_key", "max_merge_delay"}
    assert not _leaks(bad, _everything_said(info.value))


# --- keys: environment and keystores ------------------------------------------------------------------------

def test_load_key_from_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = _fresh_key()
    monkeypatch.setenv("TRUSTLEDGER_RELAYER_KEY", key)
    s = Settings()
    account = s.load_key("relayer")
    assert account.address == Account.from_key(key).address
    assert s.load_key("relayer") is account  # kept
    assert s.key_source("relayer") == "relayer_key"
    assert s.key_source("operator") is None


def test_load_key_not_configured() -> None:
    with pytest.raises(KeyNotConfigured, match="TRUSTLEDGER_OPERATOR_KEY") as info:
        Settings().load_key("operator")
    assert isinstance(info.value, LookupError) and isinstance(info.value, LedgerError)


def test_load_key_unknown_name() -> None:
    with pytest.raises(InvalidInput, match="admin"):
        Settings().load_key("admin")


def _write_keystore(directory: Path, name: str, key: str, password: str, **overrides: Any) -> Path:
    keyfile = Account.encrypt(bytes.fromhex(key.removeprefix("0x")), password, kdf="pbkdf2", iterations=2)
    keyfile.update(overrides)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(keyfile))
    return path


def test_keystore_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keys = {name: _fresh_key() for name in KEY_NAMES}
    for name, key in keys.items():
        _write_keystore(tmp_path, name, key, "pa55word")
    monkeypatch.setenv("TRUSTLEDGER_KEYSTORE_DIR", str(tmp_path))
    monkeypatch.setenv("TRUSTLEDGER_KEYSTORE_PASSWORD", "pa55word")
    s = Settings()
    for name, key in keys.items():
        assert s.load_key(name).address == Account.from_key(key).address
        assert s.key_source(name) == f"keystore {tmp_path / f'{name}.json'}"
    assert "pa55word" not in repr(s)


def test_keystore_wrong_password(tmp_path: Path) -> None:
    path = _write_keystore(tmp_path, "operator", _fresh_key(), "right-password")
    s = Settings(keystore_dir=tmp_path, keystore_password="wrong-password")
    with pytest.raises(KeystoreError) as info:
        s.load_key("operator")
    assert str(path) in str(info.value) and "password" in str(info.value)
    said = _everything_said(info.value)
    assert "wrong-password" not in said and "right-password" not in said


def test_keystore_without_password(tmp_path: Path) -> None:
    _write_keystore(tmp_path, "operator", _fresh_key(), "pw")
    with pytest.raises(InvalidSettings) as info:
        Settings(keystore_dir=tmp_path).load_key("operator")
    assert info.value.fields == ("keystore_password",)


@pytest.mark.parametrize("content", ["not json", "[]", '{"version": 3}', '{"version": 4, "crypto": {}}',
                                     '{"version": 3, "crypto": {"kdf": "argon2"}}'])
def test_keystore_damaged(tmp_path: Path, content: str) -> None:
    (tmp_path / "relayer.json").write_text(content)
    with pytest.raises(KeystoreError, match="relayer.json"):
        Settings(keystore_dir=tmp_path, keystore_password="pw").load_key("relayer")


def test_keystore_recording_another_address(tmp_path: Path) -> None:
    _write_keystore(tmp_path, "relayer", _fresh_key(), "pw", address=Account.create().address[2:].lower())
    with pytest.raises(KeystoreError, match="not the address it records"):
        Settings(keystore_dir=tmp_path, keystore_password="pw").load_key("relayer")


def test_env_key_and_keystore_together_refused(tmp_path: Path) -> None:
    key = _fresh_key()
    _write_keystore(tmp_path, "operator", _fresh_key(), "pw")
    s = Settings(operator_key=key, keystore_dir=tmp_path, keystore_password="pw")
    with pytest.raises(InvalidSettings) as info:
        s.load_key("operator")
    assert info.value.fields == ("operator_key",)
    assert not _leaks(key, _everything_said(info.value))


def test_keystore_dir_without_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyNotConfigured, match="order_signer.json"):
        Settings(keystore_dir=tmp_path, keystore_password="pw").load_key("order_signer")


# --- well-known development keys ----------------------------------------------------------------------------

def test_all_twenty_dev_keys_are_recognised() -> None:
    keys = _dev_keys(21)
    assert Account.from_key(keys[0]).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    for i, key in enumerate(keys[:20]):
        assert is_well_known_key(key), i
        assert is_well_known_key("0x" + key.hex()), i
        assert is_well_known_key(Account.from_key(key)), i
    assert len(well_known_dev_addresses()) == 20
    assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in well_known_dev_addresses()
    assert not is_well_known_key(keys[20])  # the list is the first 20 accounts


def test_eth_testers_tiny_keys_are_recognised() -> None:
    for i in range(1, 11):
        assert is_well_known_key(i.to_bytes(32, "big")), i


def test_fresh_key_is_not_well_known() -> None:
    assert not is_well_known_key(_fresh_key())


class _Eth:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id


class FakeW3:
    """What is_local_dev_chain and check_keys may look at: web3_clientVersion and the chain id."""

    def __init__(self, client_version: str | Exception, chain_id: int = 31337) -> None:
        self._client_version = client_version
        self.eth = _Eth(chain_id)
        self.asked = 0

    @property
    def client_version(self) -> str:
        self.asked += 1
        if isinstance(self._client_version, Exception):
            raise self._client_version
        return self._client_version


DEV_CLIENTS = ["anvil/v1.7.1", "HardhatNetwork/2.29.1/@ethereumjs/vm/5.9.3",
               "EthereumTester/0.14.0b1/linux/python3.11.7"]
NOT_DEV_CLIENTS = ["Geth/v1.13.14-stable/linux-amd64/go1.21.7", "besu/v24.1.0/linux-x86_64/openjdk-java-17",
                   "Geth/v1.13-anvil", "anvilish/v1", "", "Nethermind/v1.25.4"]


@pytest.mark.parametrize("client", DEV_CLIENTS)
def test_dev_nodes_are_local_dev_chains(client: str) -> None:
    assert is_local_dev_chain(FakeW3(client), started_by_cli=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("client", NOT_DEV_CLIENTS)
def test_other_nodes_are_not_even_with_chain_id_31337(client: str) -> None:
    assert not is_local_dev_chain(FakeW3(client, chain_id=31337), started_by_cli=False)  # type: ignore[arg-type]


def test_node_that_does_not_say_is_not_a_dev_chain() -> None:
    w3 = FakeW3(ValueError("method not found"))
    assert not is_local_dev_chain(w3, started_by_cli=False)  # type: ignore[arg-type]
    assert is_local_dev_chain(w3, started_by_cli=True)  # type: ignore[arg-type]


def test_real_eth_tester_is_a_local_dev_chain() -> None:
    from web3 import EthereumTesterProvider, Web3

    assert is_local_dev_chain(Web3(EthereumTesterProvider()), started_by_cli=False)


@pytest.mark.parametrize("setting", ["operator_key", "relayer_key", "order_signer_key"])
def test_dev_key_refused_on_geth_31337(setting: str) -> None:
    dev_key = "0x" + _dev_keys(4)[3].hex()
    s = Settings(**{setting: dev_key})
    with pytest.raises(DevelopmentKeyRefused) as info:
        check_keys(s, FakeW3("Geth/v1.13", chain_id=31337), started_by_cli=False)  # type: ignore[arg-type]
    assert info.value.setting == setting
    assert setting in str(info.value) and "Geth/v1.13" in str(info.value)
    assert not _leaks(dev_key, _everything_said(info.value))
    assert Account.from_key(dev_key).address not in str(info.value)


@pytest.mark.parametrize("client", DEV_CLIENTS)
def test_dev_key_accepted_on_dev_nodes(client: str) -> None:
    s = Settings(operator_key="0x" + _dev_keys(1)[0].hex())
    check_keys(s, FakeW3(client), started_by_cli=False)  # type: ignore[arg-type]


def test_dev_key_accepted_when_the_cli_started_the_chain() -> None:
    s = Settings(relayer_key="0x" + _dev_keys(1)[0].hex())
    check_keys(s, FakeW3("Geth/v1.13"), started_by_cli=True)  # type: ignore[arg-type]


def test_fresh_keys_accepted_on_geth_without_asking_the_node() -> None:
    s = Settings(operator_key=_fresh_key(), relayer_key=_fresh_key(), order_signer_key=_fresh_key())
    w3 = FakeW3("Geth/v1.13", chain_id=1)
    check_keys(s, w3, started_by_cli=False)  # type: ignore[arg-type]
    assert w3.asked == 0


def test_no_keys_configured_is_fine() -> None:
    check_keys(Settings(), FakeW3("Geth/v1.13"), started_by_cli=False)  # type: ignore[arg-type]


def test_tiny_key_refused_on_geth() -> None:
    s = Settings(order_signer_key="0x" + (1).to_bytes(32, "big").hex())
    with pytest.raises(DevelopmentKeyRefused, match="order_signer_key"):
        check_keys(s, FakeW3("Geth/v1.13"), started_by_cli=False)  # type: ignore[arg-type]


def test_dev_key_in_a_keystore_refused_on_geth(tmp_path: Path) -> None:
    path = _write_keystore(tmp_path, "operator", "0x" + _dev_keys(2)[1].hex(), "pw")
    s = Settings(keystore_dir=tmp_path, keystore_password=SecretStr("pw"))
    with pytest.raises(DevelopmentKeyRefused) as info:
        check_keys(s, FakeW3("Geth/v1.13"), started_by_cli=False)  # type: ignore[arg-type]
    assert info.value.setting == f"keystore {path}"
    check_keys(s, FakeW3("anvil/v1.7.1"), started_by_cli=False)  # type: ignore[arg-type]
