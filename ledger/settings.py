"""Settings of a TrustLedger service, from ``TRUSTLEDGER_*`` environment variables (pydantic-settings).

Secrets (signing keys, the content and pseudonym keys, the keystore password) have no default and are held as
:class:`pydantic.SecretStr`: they never show in ``repr``, ``str`` or an error message, and a malformed one is
refused by naming the setting, never by echoing the value. Passwords and API keys inside the RPC and database
URLs are masked in ``repr`` too.

The signing keys come either from the environment (``TRUSTLEDGER_OPERATOR_KEY``…) or from eth-account JSON V3
keystores ``<keystore_dir>/<name>.json`` unlocked with ``TRUSTLEDGER_KEYSTORE_PASSWORD``
(:meth:`Settings.load_key`). :func:`check_keys` refuses the well-known development keys — the accounts of the
public test mnemonic that Hardhat and Anvil fund, and eth-tester's tiny keys — unless the chain is a local
development chain (:func:`is_local_dev_chain`), which is never decided by the chain id alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from web3 import Web3
from web3.exceptions import Web3Exception

from .errors import InvalidInput, LedgerError

__all__ = [
    "DEV_MNEMONIC",
    "KEY_NAMES",
    "DevelopmentKeyRefused",
    "InvalidSettings",
    "KeyNotConfigured",
    "KeystoreError",
    "Settings",
    "check_keys",
    "is_local_dev_chain",
    "is_well_known_key",
    "well_known_dev_addresses",
]

ENV_PREFIX = "TRUSTLEDGER_"
KEY_NAMES = ("operator", "relayer", "order_signer")
"""The signing keys a service may hold; setting ``<name>_key`` or keystore ``<keystore_dir>/<name>.json``."""

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The public test mnemonic whose first accounts Hardhat and Anvil fund: anyone can spend from them."""
DEV_ACCOUNT_COUNT = 20
DEV_NODE_CLIENTS = frozenset({"anvil", "hardhatnetwork", "ethereumtester"})
"""First component of ``web3_clientVersion`` (lower case) of the development nodes."""
_TINY_KEY_BOUND = 2**32  # eth-tester funds keys 1, 2, 3…; any key this small can be found by enumeration

_HEX32 = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_RPC_SCHEMES = ("http", "https", "ws", "wss")
_DB_DIALECTS = ("sqlite", "postgresql")


# --- errors -----------------------------------------------------------------------------------------------

class InvalidSettings(InvalidInput):
    """One or more settings are malformed. ``fields`` names them; the values are never part of the message."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.fields = tuple(name for name, _ in problems)
        self.problems = tuple(problems)
        rendered = "; ".join(f"{_describe(name)}: {problem}" for name, problem in problems)
        super().__init__(f"invalid settings: {rendered}")


class KeyNotConfigured(LedgerError, LookupError):
    """A signing key was asked for that neither the environment nor the keystore folder provides."""


class KeystoreError(InvalidInput):
    """A keystore file could not be read or unlocked (wrong password, damaged or not a JSON V3 keystore)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"keystore {path}: {problem}")


class DevelopmentKeyRefused(LedgerError):
    """A well-known development key is configured for a chain that is not a local development chain.

    ``setting`` names where the key came from (``operator_key`` or the keystore file); the key itself is never
    part of the error.
    """

    def __init__(self, setting: str, client: str) -> None:
        self.setting = setting
        self.client = client
        super().__init__(
            f"{setting} is a well-known development key (an account of the public test mnemonic, or a tiny key): "
            f"anyone can sign with it, so it is refused on a chain that is not a local development chain "
            f"(client {client!r}); configure a freshly generated key"
        )


def _describe(name: str) -> str:
    if name in Settings.model_fields:
        return f"{name} ({ENV_PREFIX}{name.upper()})"
    return name


# --- well-known keys --------------------------------------------------------------------------------------

@cache
def well_known_dev_addresses() -> frozenset[str]:
    """Addresses of the first 20 accounts of :data:`DEV_MNEMONIC` (path m/44'/60'/0'/0/i), derived once.

    Derived here rather than listed, so that no private key sits in the source. Same derivation as
    ``Account.from_mnemonic`` without switching on eth-account's process-wide hdwallet flag.
    """
    seed = seed_from_mnemonic(DEV_MNEMONIC, "")
    return frozenset(
        Account.from_key(key_from_seed(seed, f"m/44'/60'/0'/0/{i}")).address for i in range(DEV_ACCOUNT_COUNT)
    )


def is_well_known_key(key: LocalAccount | bytes | str) -> bool:
    """Whether ``key`` is a development key anyone has: a test-mnemonic account, or a tiny key (< 2**32)."""
    if isinstance(key, LocalAccount):
        account = key
    else:
        raw = key if isinstance(key, bytes) else bytes.fromhex(key.removeprefix("0x"))
        if len(raw) != 32:
            raise InvalidInput("a private key is 32 bytes")
        account = Account.from_key(raw)
    if int.from_bytes(bytes(account.key), "big") < _TINY_KEY_BOUND:
        return True
    return account.address in well_known_dev_addresses()


def is_local_dev_chain(w3: Web3, *, started_by_cli: bool) -> bool:
    """Whether ``w3`` talks to a local development chain, on which the well-known keys are acceptable.

    True only when the CLI started the chain itself, or when ``web3_clientVersion`` names a development node
    (Anvil, Hardhat Network, eth-tester). Never decided by the chain id: 31337 on a public endpoint is not a
    development chain. A node that does not answer ``web3_clientVersion`` is not one either.
    """
    if started_by_cli:
        return True
    return _client_version(w3).split("/", 1)[0].strip().lower() in DEV_NODE_CLIENTS


def _client_version(w3: Web3) -> str:
    try:
        version = w3.client_version
    except (Web3Exception, OSError, ValueError):
        return "(unknown: no answer to web3_clientVersion)"
    return version if isinstance(version, str) else "(unknown)"


def check_keys(settings: Settings, w3: Web3, *, started_by_cli: bool) -> None:
    """Refuse (:class:`DevelopmentKeyRefused`) any configured signing key that is a well-known development key,
    unless the chain is a local development chain. Keys from keystores are unlocked and checked too.
    """
    dev_chain: bool | None = None
    for name in KEY_NAMES:
        source = settings.key_source(name)
        if source is None:
            continue
        if not is_well_known_key(settings.load_key(name)):
            continue
        if dev_chain is None:
            dev_chain = is_local_dev_chain(w3, started_by_cli=started_by_cli)
        if not dev_chain:
            raise DevelopmentKeyRefused(source, _client_version(w3))


# --- settings ---------------------------------------------------------------------------------------------

class Settings(BaseSettings):
    """Settings of a TrustLedger service; each field ``x`` is read from ``TRUSTLEDGER_X``.

    Construction raises :class:`InvalidSettings` (an :class:`~ledger.errors.InvalidInput`) naming every
    malformed setting; no value is ever echoed.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        env_ignore_empty=True,  # TRUSTLEDGER_X= (empty) means "not set", as compose files often write it
    )

    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint (http, https, ws or wss)")
    manifest_path: Path = Field(Path(".trustledger/deployment.json"), description="deployment manifest")
    database_url: str = Field("sqlite:///.trustledger/trustledger.db",
                              description="SQLAlchemy URL: sqlite://… or postgresql://…")
    max_merge_delay: int = Field(60, ge=1, description="seconds within which a review receipt promises inclusion")
    confirmation_depth: int = Field(0, ge=0, description="blocks on top of a receipt before it counts as final")

    operator_key: SecretStr | None = Field(None, description="log operator's key, 32 bytes hex")
    relayer_key: SecretStr | None = Field(None, description="relayer's key (pays gas, holds no role)")
    order_signer_key: SecretStr | None = Field(None, description="platform order signer's key")
    keystore_dir: Path | None = Field(None, description="folder of JSON V3 keystores <name>.json")
    keystore_password: SecretStr | None = Field(None, description="password of the keystores")

    content_key: SecretStr | None = Field(None, description="32 bytes hex: encryption of personal data at rest")
    pseudonym_key: SecretStr | None = Field(None, description="32 bytes hex: keyed hash of reviewer ids")
    custody_key: SecretStr | None = Field(None, description=(
        "32 bytes hex: derives the per-order buyer keys the service holds for consumers without a wallet "
        "(api/routes/custody.py); unset: no custody"))

    _accounts: dict[str, LocalAccount] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # only the location and message of each error: ValidationError.errors() carries the raw input
            problems = [(".".join(str(p) for p in err["loc"]) or "(settings)",
                         err["msg"].removeprefix("Value error, ")) for err in exc.errors()]
        else:
            return
        raise InvalidSettings(problems)  # outside the except block: no chained exception holds the input

    # -- validation --

    @field_validator("rpc_url")
    @classmethod
    def _check_rpc_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in _RPC_SCHEMES or not parts.hostname:
            raise ValueError(f"must be an absolute {', '.join(_RPC_SCHEMES)} URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        scheme, sep, rest = value.partition("://")
        dialect, _, driver = scheme.partition("+")
        if dialect == "postgres":  # the libpq spelling; SQLAlchemy only accepts "postgresql"
            dialect = "postgresql"
        if not sep or dialect not in _DB_DIALECTS or (driver and not re.fullmatch(r"[a-z0-9_]+", driver)):
            raise ValueError("must be a SQLAlchemy URL for SQLite (sqlite:///path) or PostgreSQL (postgresql://…)")
        return f"{dialect}{'+' + driver if driver else ''}://{rest}"

    @field_validator("operator_key", "relayer_key", "order_signer_key")
    @classmethod
    def _check_signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = _hex32(value)
        if not 0 < int(key, 16) < _SECP256K1_ORDER:
            raise ValueError("is not a valid secp256k1 private key")
        return SecretStr(key)

    @field_validator("content_key", "pseudonym_key", "custody_key")
    @classmethod
    def _check_symmetric_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = _hex32(value)
        if int(key, 16) == 0:
            raise ValueError("is all zeros")
        return SecretStr(key)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "rpc_url":
                yield name, _redact_url(value, keep_path=False)
            elif name == "database_url":
                yield name, _redact_url(value, keep_path=True)
            else:
                yield name, value

    # -- keys --

    def key_source(self, name: str) -> str | None:
        """Where key ``name`` comes from (``operator_key`` or a keystore path), or None when not configured."""
        setting = _key_setting(name)
        in_env = getattr(self, setting) is not None
        keystore = self._keystore_file(name)
        if in_env and keystore is not None:
            raise InvalidSettings([(setting, f"set, and keystore {keystore} exists as well: configure one")])
        if in_env:
            return setting
        return f"keystore {keystore}" if keystore is not None else None

    def load_key(self, name: str) -> LocalAccount:
        """The account of signing key ``name`` (one of :data:`KEY_NAMES`).

        From setting ``<name>_key`` or, failing that, the keystore ``<keystore_dir>/<name>.json`` unlocked with
        ``keystore_password`` (an unlocked keystore is kept for the life of these settings). Raises
        :class:`KeyNotConfigured` when neither is there, :class:`KeystoreError` when the keystore does not unlock,
        :class:`InvalidSettings` when both are configured.
        """
        source = self.key_source(name)
        if name in self._accounts:
            return self._accounts[name]
        if source is None:
            hint = f" or keystore {self.keystore_dir / f'{name}.json'}" if self.keystore_dir else ""
            raise KeyNotConfigured(f"no {name} key: set {_describe(_key_setting(name))}{hint}")
        secret = getattr(self, _key_setting(name))
        if secret is not None:
            account: LocalAccount = Account.from_key(secret.get_secret_value())
        else:
            path = self._keystore_file(name)
            assert path is not None
            account = self._unlock(path)
        self._accounts[name] = account
        return account

    def _keystore_file(self, name: str) -> Path | None:
        if self.keystore_dir is None:
            return None
        path = self.keystore_dir / f"{name}.json"
        return path if path.is_file() else None

    def _unlock(self, path: Path) -> LocalAccount:
        if self.keystore_password is None:
            raise InvalidSettings([("keystore_password", f"not set, and keystore {path} needs it")])
        try:
            keyfile = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise KeystoreError(path, "unreadable or not JSON") from None
        if not isinstance(keyfile, dict) or keyfile.get("version") != 3 or not isinstance(keyfile.get("crypto"),
                                                                                           dict):
            raise KeystoreError(path, "not a JSON V3 keystore")
        try:
            key = Account.decrypt(keyfile, self.keystore_password.get_secret_value())
        except ValueError as exc:
            problem = "wrong password or damaged file (MAC mismatch)" if "MAC" in str(exc) else "cannot decrypt"
            raise KeystoreError(path, problem) from None
        except (KeyError, TypeError, NotImplementedError):
            raise KeystoreError(path, "not a JSON V3 keystore this reader can decrypt") from None
        account: LocalAccount = Account.from_key(key)
        recorded = keyfile.get("address")
        if isinstance(recorded, str) and recorded.lower().removeprefix("0x") != account.address[2:].lower():
            raise KeystoreError(path, f"decrypts to {account.address}, not the address it records")
        return account


def _key_setting(name: str) -> str:
    if name not in KEY_NAMES:
        raise InvalidInput(f"unknown signing key {name!r}; expected one of {KEY_NAMES}")
    return f"{name}_key"


def _hex32(value: SecretStr) -> str:
    match = _HEX32.fullmatch(value.get_secret_value().strip())
    if match is None:
        raise ValueError("must be 32 bytes as 64 hex digits (optionally 0x-prefixed)")
    return "0x" + match.group(1).lower()


def _redact_url(url: str, *, keep_path: bool) -> str:
    """``url`` without its password, query and (unless ``keep_path``) path: where API keys and passwords go."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    path = parts.path if keep_path or parts.path in ("", "/") else "/***"
    return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", ""))
