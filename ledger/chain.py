"""A small, synchronous way to send contract transactions from one key, with named errors.

Every write is simulated first (``eth_call``), so that a call that would revert raises the contract's
named custom error as :class:`ledger.errors.ContractError` and costs nothing. This is the building block
for tests, benchmarks and the deployer; the durable, crash-safe sender with an outbox is a separate layer.
"""

from __future__ import annotations

import ast
import time
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.types import TxParams, TxReceipt

from .artifacts import decode_revert
from .errors import ContractError, LedgerError, UnknownRevert


class TransactionFailed(LedgerError):
    """A mined transaction has status 0 although its simulation passed (state changed in between)."""

    def __init__(self, tx_hash: bytes, error: ContractError | UnknownRevert | None) -> None:
        self.tx_hash = tx_hash
        self.error = error
        super().__init__(f"transaction 0x{tx_hash.hex()} reverted: {error}")


def revert_data(exc: ContractLogicError) -> bytes:
    """The raw revert data carried by a web3 contract error (empty when there is none)."""
    data: Any = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    return b""


def named_error(exc: ContractLogicError) -> ContractError | UnknownRevert:
    """The TrustLedger error a web3 contract error stands for."""
    return decode_revert(revert_data(exc))


def _eth_tester_revert(exc: BaseException) -> ContractError | UnknownRevert | None:
    """The named error inside an in-process eth-tester failure, which web3 re-raises as text.

    web3's eth-tester provider replaces the raw revert bytes by a message; the original exception, carrying
    the bytes, stays in the exception context.
    """
    if type(exc).__name__ != "TransactionFailed" or not type(exc).__module__.startswith("eth_tester"):
        return None
    seen: BaseException | None = exc
    while seen is not None:
        first = seen.args[0] if seen.args else None
        if isinstance(first, Exception) and first.args:
            first = first.args[0]
        if isinstance(first, str):
            # eth_call failures carry the bytes as their repr, sometimes behind "execution reverted: "
            text = first.removeprefix("execution reverted: ")
            if text[:2] in ("b'", 'b"'):
                try:
                    first = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    pass
        if isinstance(first, bytes):
            return decode_revert(first)
        seen = seen.__context__
    return UnknownRevert(b"")


def revert_of(exc: BaseException) -> ContractError | UnknownRevert | None:
    """The named error a failed ``eth_call`` stands for (a node's or eth-tester's), None when it is no revert."""
    if isinstance(exc, ContractLogicError):
        return named_error(exc)
    return _eth_tester_revert(exc)


def _raise_named(exc: BaseException) -> None:
    if isinstance(exc, ContractLogicError):
        raise named_error(exc) from None
    found = _eth_tester_revert(exc)
    if found is not None:
        raise found from None


class Transactor:
    """Signs and sends transactions from one key, keeping its own nonce. Not thread-safe."""

    def __init__(self, w3: Web3, account: LocalAccount | str | bytes, *, poll_latency: float = 0.002) -> None:
        self.w3 = w3
        self.account: LocalAccount = account if isinstance(account, LocalAccount) else Account.from_key(account)
        self.poll_latency = poll_latency
        self._nonce: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def simulate(self, call: ContractFunction, *, value: int = 0) -> Any:
        """Run ``call`` as this account without sending it; raise its named error if it would revert."""
        try:
            return call.call(cast(TxParams, {"from": self.account.address, "value": value}))
        except Exception as exc:
            _raise_named(exc)
            raise

    def send(self, call: ContractFunction | ContractConstructor, *, gas: int | None = None, value: int = 0) -> TxReceipt:
        """Simulate, sign, send and wait for the receipt of ``call``."""
        params: dict[str, Any] = {"from": self.account.address, "value": value}
        try:
            estimate = call.estimate_gas(cast(TxParams, params))
        except Exception as exc:
            _raise_named(exc)
            raise
        params["gas"] = gas if gas is not None else estimate + estimate // 5 + 10_000
        params["nonce"] = self._next_nonce()
        params["chainId"] = self.w3.eth.chain_id
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        params["maxPriorityFeePerGas"] = 1
        params["maxFeePerGas"] = 2 * int(base_fee) + 1
        tx = call.build_transaction(cast(TxParams, params))
        signed = self.account.sign_transaction(cast(dict[str, Any], tx))
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            self._nonce = None  # resynchronise from the chain on the next send
            raise
        receipt = self.wait(tx_hash)
        if receipt["status"] != 1:
            raise TransactionFailed(bytes(tx_hash), None)
        return receipt

    def wait(self, tx_hash: bytes, timeout: float = 60.0) -> TxReceipt:
        """Poll for the receipt of ``tx_hash`` every ``poll_latency`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
                if receipt is not None:
                    return receipt
            except TransactionNotFound:  # not yet mined
                receipt = None
            if time.monotonic() > deadline:
                raise LedgerError(f"no receipt for 0x{bytes(tx_hash).hex()} after {timeout}s")
            time.sleep(self.poll_latency)
