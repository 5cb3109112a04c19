"""The one error hierarchy of TrustLedger.

Every error raised on purpose by ``ledger`` derives from :class:`LedgerError`. Subclasses also inherit the
builtin they stand for, so ``except ValueError`` keeps working for callers that do not know this package.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error raised on purpose by ``ledger``."""


class InvalidInput(LedgerError, ValueError):
    """Input was malformed: wrong type, length, range or encoding."""


class VerificationError(LedgerError):
    """A proof, signature or record did not verify. The message says what was expected and what was found."""


class RootMismatch(VerificationError):
    """A Merkle root computed from a proof differs from the root it was checked against."""

    def __init__(self, *, expected: bytes, calculated: bytes, what: str = "root") -> None:
        self.expected = expected
        self.calculated = calculated
        self.what = what
        super().__init__(f"{what} mismatch: expected 0x{expected.hex()}, calculated 0x{calculated.hex()}")


class InvalidProof(VerificationError, ValueError):
    """A Merkle proof has the wrong shape for the sizes and index it claims (length, sizes, index)."""


class ContractError(LedgerError):
    """A contract call reverted with a custom error declared in the TrustLedger ABIs.

    ``name`` is the Solidity error name (``CertificateRegistryAlreadyIssued``) and ``args`` its decoded
    arguments, in declaration order.
    """

    def __init__(self, name: str, args: tuple[object, ...] = (), *, contract: str | None = None) -> None:
        self.name = name
        self.args_ = args
        self.contract = contract
        rendered = ", ".join(_render(a) for a in args)
        super().__init__(f"{name}({rendered})")


class UnknownRevert(LedgerError):
    """A call reverted with data that matches no error in the TrustLedger ABIs."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        super().__init__(f"reverted with unrecognised data 0x{data.hex()}")


def _render(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value)
