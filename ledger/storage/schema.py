"""The tables of a TrustLedger service (SQLAlchemy 2 Core), the same on SQLite and PostgreSQL.

Migrations (``ledger/storage/migrations``) create exactly this schema; a test compares the two.

Hashes and addresses are stored as raw bytes (``LargeBinary``); uint256 values (fees, wei) as decimal text,
since neither database has a portable 256-bit integer. Times are integer seconds (chain time or Unix time,
as each column says) unless a column name ends in ``_ms``.

Personal data (review text, content salts) is never stored in clear: ``review_content.ciphertext`` holds it
sealed with the content key (:mod:`ledger.vault`), and erasure deletes the ciphertext while the leaf, whose
content member is only a salted hash, stays.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# -- the transaction sender ---------------------------------------------------------------------------------

sender_accounts = Table(
    "sender_accounts",
    metadata,
    Column("address", String(42), primary_key=True, comment="checksummed address of a sending key"),
    Column("chain_id", BigInteger, nullable=False),
    Column("next_nonce", BigInteger, nullable=False, comment="the next nonce this key will sign with"),
    Column("head_number", BigInteger, nullable=True, comment="latest block seen by the sender"),
    Column("head_hash", LargeBinary(32), nullable=True),
)
"""One row per sending key: the nonce owner. A sender locks its row to hand out nonces."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("sender", String(42), nullable=False),
    Column("to_address", String(42), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("value", Text, nullable=False, default="0"),
    Column("status", String(16), nullable=False,
           comment="queued | signed | sent | mined | confirmed | failed"),
    Column("nonce", BigInteger, nullable=True),
    Column("gas_limit", BigInteger, nullable=True),
    Column("tx_hash", LargeBinary(32), nullable=True, comment="the attempt that was mined, or the latest"),
    Column("block_number", BigInteger, nullable=True),
    Column("block_hash", LargeBinary(32), nullable=True),
    Column("error_name", String(100), nullable=True),
    Column("error", Text, nullable=True, comment="why the write failed, for people"),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("applied_count", Integer, nullable=False, default=0,
           comment="times this write's transaction was seen mined with status 1 on the canonical chain"),
    Column("receipt_status", SmallInteger, nullable=True, comment="status of the mined receipt: 1 success, 0 reverted"),
)
Index("ix_outbox_sender_status", outbox.c.sender, outbox.c.status)

outbox_attempts = Table(
    "outbox_attempts",
    metadata,
    Column("tx_hash", LargeBinary(32), primary_key=True),
    Column("outbox_id", BigInteger, ForeignKey("outbox.id"), nullable=False, index=True),
    Column("nonce", BigInteger, nullable=False),
    Column("raw_tx", LargeBinary, nullable=False, comment="the signed transaction, to re-broadcast as is"),
    Column("max_fee", Text, nullable=False),
    Column("priority_fee", Text, nullable=False),
    Column("signed_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger, nullable=True, comment="last time it was handed to the node; NULL: never"),
)
"""Every transaction signed for an outbox row, written before it is sent: any of them may be the one mined."""

# -- the review log -----------------------------------------------------------------------------------------

log_leaves = Table(
    "log_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("leaf", LargeBinary, nullable=False, comment="RFC 8785 canonical JSON: hashes and numbers only"),
    Column("purchase", LargeBinary(32), nullable=False, unique=True, comment="order commitment: one review each"),
    Column("product_id", LargeBinary(32), nullable=False, index=True),
    Column("merchant", LargeBinary(20), nullable=False, index=True),
    Column("reviewer", LargeBinary(32), nullable=False, index=True),
    Column("rating", SmallInteger, nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("accepted_ms", BigInteger, nullable=False, comment="when the receipt was signed: the MMD clock starts"),
    Column("takedown", SmallInteger, nullable=False, default=0,
           comment="0 visible, 1 hidden by the operator pending a ruling, 2 removed by a ruling"),
    Column("takedown_ref", LargeBinary(32), nullable=True, comment="the dispute id or act behind a takedown"),
    Column("takedown_ms", BigInteger, nullable=True, comment="when the current takedown state was set"),
)

log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)
"""Complete subtree hashes above the leaves: level k, index i covers leaves [i * 2**k, (i + 1) * 2**k)."""

log_state = Table(
    "log_state",
    metadata,
    Column("log_id", SmallInteger, primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("sequencer", String(100), nullable=True, comment="who holds the sequencer lease"),
    Column("lease_until_ms", BigInteger, nullable=True),
)
"""One row: the integrated size and root. Appends compare-and-set ``tree_size`` so that two sequencers
cannot both extend the same size."""

review_content = Table(
    "review_content",
    metadata,
    Column("leaf_index", BigInteger, ForeignKey("log_leaves.leaf_index"), primary_key=True,
           autoincrement=False),
    Column("ciphertext", LargeBinary, nullable=True, comment="AES-256-GCM sealed text and salt; NULL once erased"),
    Column("erased_ms", BigInteger, nullable=True),
    Column("erasure_reason", String(200), nullable=True),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("outbox_key", String(200), nullable=False, unique=True),
    Column("status", String(16), nullable=False, comment="pending | anchored | failed"),
    Column("created_ms", BigInteger, nullable=False),
    Column("anchored_ms", BigInteger, nullable=True),
    Column("tx_hash", LargeBinary(32), nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("error", Text, nullable=True, comment="why anchoring failed, for people"),
    UniqueConstraint("root", "tree_size"),
)
"""Checkpoints the checkpointer asked the chain to anchor, and what became of them."""
