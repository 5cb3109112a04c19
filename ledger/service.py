"""The writing half of a TrustLedger service, assembled from settings: what the API and the CLI run.

:meth:`Ledger.open` connects to the chain, refuses well-known development keys off a local dev chain, loads
the deployment manifest and checks it against the chain (code hashes, wiring), opens and migrates the
database, and builds

* the review log service (:class:`~ledger.reviewlog.ReviewLogService`): receipts signed with the operator
  key for the manifest's ReviewLog on this chain, purchase attestations checked against the order signer the
  governance contract names, personal data sealed with the content key;
* the operator's durable sender (:class:`~ledger.sender.TxSender`) and the
  :class:`~ledger.checkpointer.Checkpointer` that uses it;
* the relayer's durable sender, which carries other actors' signed requests (it holds no role).

Nothing runs until :meth:`Ledger.start`; :meth:`Ledger.close` stops everything in reverse order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from web3 import Web3

from .checkpointer import Checkpointer
from .deploy import contract_at
from .errors import LedgerError
from .manifest import Manifest, verify_against_chain
from .receipts import ReceiptSigner
from .reviewlog import ReviewLogService
from .sender import TxSender
from .settings import KeyNotConfigured, Settings, check_keys
from .storage import Database
from .storage.lease import Lease
from .vault import Vault

__all__ = ["Ledger", "OrderSignerNotSet"]

_ZERO = "0x" + "00" * 20


class OrderSignerNotSet(LedgerError):
    """The governance contract names no order signer, so no purchase attestation can be checked."""


def _secret_bytes(settings: Settings, name: str) -> bytes:
    value = getattr(settings, name)
    if value is None:
        raise KeyNotConfigured(f"setting TRUSTLEDGER_{name.upper()} is required to run the review log")
    return bytes.fromhex(value.get_secret_value().removeprefix("0x"))


@dataclass
class Ledger:
    """The open service: chain, manifest, database and the writers built on them."""

    settings: Settings
    w3: Web3
    manifest: Manifest
    db: Database
    reviews: ReviewLogService
    operator_sender: TxSender
    checkpointer: Checkpointer
    relayer_sender: TxSender | None
    _started: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, w3: Web3 | None = None, started_by_cli: bool = False) -> Ledger:
        """Assemble the service from ``settings`` (``w3`` overrides ``settings.rpc_url``, for tests)."""
        if w3 is None:
            w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30}))
        check_keys(settings, w3, started_by_cli=started_by_cli)
        manifest = Manifest.load(settings.manifest_path)
        verify_against_chain(manifest, w3)
        governance = contract_at(w3, "TrustGovernance", manifest.address("TrustGovernance"))
        order_signer = governance.functions.orderSigner().call()
        if order_signer == _ZERO:
            raise OrderSignerNotSet("the governance contract names no order signer (setOrderSigner)")
        operator = settings.load_key("operator")
        review_log = contract_at(w3, "ReviewLog", manifest.address("ReviewLog"))
        db = Database(settings.database_url)
        try:
            db.migrate()
            reviews = ReviewLogService(
                db,
                receipt_signer=ReceiptSigner(bytes(operator.key), chain_id=manifest.chain_id,
                                             review_log=review_log.address,
                                             max_merge_delay=settings.max_merge_delay),
                vault=Vault(_secret_bytes(settings, "content_key")),
                pseudonym_key=_secret_bytes(settings, "pseudonym_key"),
                order_signer=order_signer,
                chain_id=manifest.chain_id,
                governance=governance.address,
            )
            operator_sender = TxSender(w3, db, operator, confirmation_depth=settings.confirmation_depth)
            relayer_sender = None
            if settings.key_source("relayer") is not None:
                relayer_sender = TxSender(w3, db, settings.load_key("relayer"),
                                          confirmation_depth=settings.confirmation_depth)
            interval = min(5.0, settings.max_merge_delay / 4)
            # one anchoring replica at a time; a dead holder's successor takes over well inside the MMD
            lease = Lease(db, "checkpointer", ttl=max(1.0, min(3 * interval, settings.max_merge_delay / 2)))
            checkpointer = Checkpointer(reviews, operator_sender, review_log, db, interval=interval,
                                        max_merge_delay=settings.max_merge_delay, lease=lease)
        except BaseException:
            db.dispose()
            raise
        return cls(settings, w3, manifest, db, reviews, operator_sender, checkpointer, relayer_sender)

    def start(self) -> None:
        """Recover the outboxes, then start the review log, the senders and the checkpointer."""
        if self._started:
            return
        for sender in (self.operator_sender, self.relayer_sender):
            if sender is not None:
                sender.recover()
                sender.start()
        self.reviews.start()
        self.checkpointer.start()
        self._started = True

    def close(self) -> None:
        """Stop everything, newest first, and close the database."""
        self.checkpointer.stop()
        self.reviews.close()
        for sender in (self.relayer_sender, self.operator_sender):
            if sender is not None:
                sender.stop()
        self.db.dispose()
        self._started = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
