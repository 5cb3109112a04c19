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
    Boolean,
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
    Column("product_id", LargeBinary(32), nullable=False),
    Column("merchant", LargeBinary(20), nullable=False),
    Column("reviewer", LargeBinary(32), nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("accepted_ms", BigInteger, nullable=False, comment="when the receipt was signed: the MMD clock starts"),
    Column("takedown", SmallInteger, nullable=False, default=0,
           comment="0 visible, 1 hidden by the operator pending a ruling, 2 removed by a ruling"),
    Column("takedown_ref", LargeBinary(32), nullable=True, comment="the dispute id or act behind a takedown"),
    Column("takedown_ms", BigInteger, nullable=True, comment="when the current takedown state was set"),
)

# a product's, merchant's or reviewer's leaves in log order, from any index on (SQLite keeps leaf_index in the
# table, not the index, unless the index holds it: "the merchant's leaves past the checkpoint" must not visit
# every leaf of a merchant with 10^5)
Index("ix_log_leaves_product_id", log_leaves.c.product_id, log_leaves.c.leaf_index)
Index("ix_log_leaves_merchant", log_leaves.c.merchant, log_leaves.c.leaf_index)
Index("ix_log_leaves_reviewer", log_leaves.c.reviewer, log_leaves.c.leaf_index)

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

# -- the event indexer (ledger/indexer.py, docs/indexer.md) -------------------------------------------------
# Every ``idx_`` table is derived from the chain alone: ``idx_events`` holds the decoded events of the five
# contracts, and every other table below it is a projection of those events, applied in (block, log) order in
# the same transaction as the events themselves. Addresses are 20 raw bytes, chain times integer seconds.

idx_state = Table(
    "idx_state",
    metadata,
    Column("state_id", SmallInteger, primary_key=True, autoincrement=False, comment="always 1"),
    Column("chain_id", BigInteger, nullable=False),
    Column("deploy_block", BigInteger, nullable=False),
    Column("cursor_number", BigInteger, nullable=False, comment="last block indexed; deploy_block - 1 before any"),
    Column("cursor_hash", LargeBinary(32), nullable=True, comment="its hash; NULL before any block is indexed"),
    Column("updated_ms", BigInteger, nullable=False),
)
"""The indexer's cursor. A sync locks this row and compares-and-sets the cursor with the events it writes."""

idx_blocks = Table(
    "idx_blocks",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("parent_hash", LargeBinary(32), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)
"""Hashes of the indexed blocks that held events, and of each range's last block: checked for reorgs."""

idx_events = Table(
    "idx_events",
    metadata,
    Column("block_hash", LargeBinary(32), primary_key=True),
    Column("tx_hash", LargeBinary(32), primary_key=True),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_time", BigInteger, nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("address", LargeBinary(20), nullable=False),
    Column("contract", String(40), nullable=False, comment="TrustGovernance, CertificateRegistry, ..."),
    Column("event", String(64), nullable=False),
    Column("args", Text, nullable=False, comment="decoded arguments: JSON, bytes as 0x hex, wide ints as strings"),
    Column("topics", LargeBinary, nullable=False, comment="the raw topics, concatenated"),
    Column("data", LargeBinary, nullable=False),
    Column("merchant", LargeBinary(20), nullable=True, comment="the event's merchant argument, if it has one"),
    Column("product_id", LargeBinary(32), nullable=True, comment="the event's productId argument, if it has one"),
    Column("issuer", LargeBinary(20), nullable=True, comment="the event's issuer argument, if it has one"),
)
Index("ix_idx_events_position", idx_events.c.block_number, idx_events.c.log_index)
Index("ix_idx_events_contract_event", idx_events.c.contract, idx_events.c.event)
# the auditor's subject filters, each in chain order (GET /v1/audit/events?merchant=|product=|issuer=)
Index("ix_idx_events_merchant", idx_events.c.merchant, idx_events.c.block_number, idx_events.c.log_index)
Index("ix_idx_events_product_id", idx_events.c.product_id, idx_events.c.block_number, idx_events.c.log_index)
Index("ix_idx_events_issuer", idx_events.c.issuer, idx_events.c.block_number, idx_events.c.log_index)

idx_parameters = Table(
    "idx_parameters",
    metadata,
    Column("name", String(40), primary_key=True, comment="log_operator | order_signer | certificate_registry | ..."),
    Column("value", LargeBinary, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

idx_accreditations = Table(
    "idx_accreditations",
    metadata,
    Column("issuer", LargeBinary(20), primary_key=True),
    Column("issuer_id", BigInteger, nullable=False, unique=True),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("suspension_reason", LargeBinary(32), nullable=True),
    Column("compromised_at", BigInteger, nullable=False, comment="0: no declared compromise"),
    Column("compromise_declared_by", LargeBinary(20), nullable=True),
    Column("accredited_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

idx_issuer_scopes = Table(
    "idx_issuer_scopes",
    metadata,
    Column("issuer", LargeBinary(20), primary_key=True),
    Column("scope", LargeBinary(32), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
)
"""The scopes an issuer holds now (a removed scope has no row)."""

idx_merchants = Table(
    "idx_merchants",
    metadata,
    Column("merchant", LargeBinary(20), primary_key=True),
    Column("status", SmallInteger, nullable=False, comment="1 Active, 2 Suspended, 3 Banned"),
    Column("admitted_at", BigInteger, nullable=False),
    Column("licence_hash", LargeBinary(32), nullable=False),
    Column("sanction_kind", SmallInteger, nullable=True, comment="last sanction: 0 Warning, 1 Suspension, 2 Ban"),
    Column("reason_code", LargeBinary(32), nullable=True, comment="of the last sanction or restoration"),
    Column("ruling_ref", LargeBinary(32), nullable=True, comment="of the last sanction or restoration"),
    Column("updated_block", BigInteger, nullable=False),
)

idx_arbitrators = Table(
    "idx_arbitrators",
    metadata,
    Column("arbitrator", LargeBinary(20), primary_key=True),
    Column("position", Integer, nullable=False, comment="index in governance's list (arbitratorAt)"),
    Column("appointed_block", BigInteger, nullable=False),
)

idx_acts = Table(
    "idx_acts",
    metadata,
    Column("act_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, nullable=False),
    Column("state", SmallInteger, nullable=False, comment="1 Pending, 2 Executed, 3 Cancelled"),
    Column("eta", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("account", LargeBinary(20), nullable=False),
    Column("ref", LargeBinary(32), nullable=False),
    Column("reason_code", LargeBinary(32), nullable=False),
    Column("scheduled_block", BigInteger, nullable=False),
    Column("scheduled_tx", LargeBinary(32), nullable=False),
    Column("closed_block", BigInteger, nullable=True, comment="where it was executed or cancelled"),
)

idx_certificates = Table(
    "idx_certificates",
    metadata,
    Column("certificate_id", LargeBinary(32), primary_key=True),
    Column("product_id", LargeBinary(32), nullable=False, index=True),
    Column("lot", LargeBinary(32), nullable=False, index=True),
    Column("merchant", LargeBinary(20), nullable=False, index=True),
    Column("issuer", LargeBinary(20), nullable=False, index=True),
    Column("issuer_id", BigInteger, nullable=False),
    Column("kind", SmallInteger, nullable=False, comment="0 Certificate, 1 SpotCheckPass, 2 SpotCheckFail"),
    Column("document_hash", LargeBinary(32), nullable=False),
    Column("standard", LargeBinary(32), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("anchored_by", LargeBinary(20), nullable=False),
    Column("anchored_at", BigInteger, nullable=False, comment="time of the block that recorded it"),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("revoked_by", LargeBinary(20), nullable=True),
    Column("revocation_reason", LargeBinary(32), nullable=True),
    Column("revocation_act", BigInteger, nullable=True, comment="governance act id; NULL: revoked by the issuer"),
    Column("superseded_at", BigInteger, nullable=True),
    Column("superseded_by", LargeBinary(32), nullable=True),
    Column("supersession_reason", LargeBinary(32), nullable=True),
    Column("replaces", LargeBinary(32), nullable=True, comment="the certificate this one superseded"),
)

idx_certificate_history = Table(
    "idx_certificate_history",
    metadata,
    Column("certificate_id", LargeBinary(32), primary_key=True),
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("block_time", BigInteger, nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("args", Text, nullable=False),
)

idx_checkpoints = Table(
    "idx_checkpoints",
    metadata,
    Column("checkpoint_index", BigInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("anchored_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False),
)

idx_disputes = Table(
    "idx_disputes",
    metadata,
    Column("dispute_id", LargeBinary(32), primary_key=True),
    Column("kind", SmallInteger, nullable=False, comment="0 Purchase, 1 ReviewChallenge"),
    Column("phase", SmallInteger, nullable=False),
    Column("resume", SmallInteger, nullable=False),
    Column("outcome", SmallInteger, nullable=False),
    Column("round", SmallInteger, nullable=False),
    Column("by_default", Boolean, nullable=False),
    Column("panel", Boolean, nullable=False),
    Column("cursor", Integer, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("response_deadline", BigInteger, nullable=False),
    Column("ruling_deadline", BigInteger, nullable=False),
    Column("appeal_deadline", BigInteger, nullable=False),
    Column("remedy_deadline", BigInteger, nullable=False),
    Column("claimant", LargeBinary(20), nullable=False),
    Column("respondent", LargeBinary(20), nullable=False),
    Column("merchant", LargeBinary(20), nullable=False, index=True),
    Column("arbitrator", LargeBinary(20), nullable=False),
    Column("first_arbitrator", LargeBinary(20), nullable=False),
    Column("remedy_amount", Text, nullable=False, comment="uint96, decimal"),
    Column("subject", LargeBinary(32), nullable=False, comment="order commitment, or the leaf index (uint256)"),
    Column("product_id", LargeBinary(32), nullable=True, index=True, comment="purchase disputes"),
    Column("category", LargeBinary(32), nullable=False),
    Column("claimant_commitment", LargeBinary(32), nullable=True),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False),
)

idx_dispute_history = Table(
    "idx_dispute_history",
    metadata,
    Column("dispute_id", LargeBinary(32), primary_key=True),
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("block_time", BigInteger, nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("args", Text, nullable=False),
)

idx_takedowns = Table(
    "idx_takedowns",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("state", SmallInteger, nullable=False, comment="1 EmergencyHidden, 2 TakenDown, 3 Restored"),
    Column("hidden_at", BigInteger, nullable=False),
    Column("lapse_at", BigInteger, nullable=False),
    Column("reason_code", LargeBinary(32), nullable=False),
    Column("dispute_id", LargeBinary(32), nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

INDEX_TABLES = (idx_events, idx_blocks, idx_parameters, idx_accreditations, idx_issuer_scopes, idx_merchants,
                idx_arbitrators, idx_acts, idx_certificates, idx_certificate_history, idx_checkpoints,
                idx_disputes, idx_dispute_history, idx_takedowns)
"""Every table the indexer fills, events first; ``idx_state`` (the cursor) apart."""

# -- the HTTP API -------------------------------------------------------------------------------------------

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("key", String(255), primary_key=True, comment="the client's Idempotency-Key header"),
    Column("request_hash", LargeBinary(32), nullable=False,
           comment="SHA-256 of method, path, query and body: the same key with another request is refused"),
    Column("status", SmallInteger, nullable=False, comment="0 while the first request runs, then its HTTP status"),
    Column("content_type", String(255), nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False, index=True),
)
"""Responses of writes made with an ``Idempotency-Key``: a retry is answered from here, never written twice."""

api_certificate_offers = Table(
    "api_certificate_offers",
    metadata,
    Column("certificate_id", LargeBinary(32), primary_key=True, comment="the record's id (EIP-712 struct hash)"),
    Column("issuer", LargeBinary(20), nullable=False, index=True),
    Column("merchant", LargeBinary(20), nullable=False, index=True),
    Column("product_id", LargeBinary(32), nullable=False, index=True),
    Column("certificate", Text, nullable=False, comment="the record as JSON (docs/api.md)"),
    Column("nonce", String(78), nullable=False, comment="the issuer's offer nonce, decimal"),
    Column("deadline", BigInteger, nullable=False),
    Column("signature", LargeBinary(65), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)
"""Certificate offers an issuer posted for a merchant to anchor (public: the record holds no personal data)."""

api_rationales = Table(
    "api_rationales",
    metadata,
    Column("dispute_id", LargeBinary(32), primary_key=True),
    Column("rationale_hash", LargeBinary(32), primary_key=True, comment="keccak256 of the UTF-8 text"),
    Column("text", Text, nullable=False, comment="public: a ruling's published reasons"),
    Column("published_ms", BigInteger, nullable=False),
)
"""The published text of each ruling's rationale; the chain holds its hash."""

# -- the review tally (ledger/tally.py, docs/trust-profile.md) ----------------------------------------------
# Per-merchant star counts over the leaves under each anchored checkpoint, added up once, when the tally read
# the checkpoint's new leaves and found that they reproduce its anchored root.

tally_state = Table(
    "tally_state",
    metadata,
    Column("state_id", SmallInteger, primary_key=True, autoincrement=False, comment="always 1"),
    Column("tree_size", BigInteger, nullable=False, comment="leaves tallied: the last verified checkpoint's size"),
    Column("frontier", LargeBinary, nullable=False, comment="compact range of those leaves (merkle.CompactRange)"),
    Column("stalled_at", BigInteger, nullable=True, comment="first leaf the tally could not count; NULL if none"),
    Column("stall_reason", Text, nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
)
"""Where the tally stands. An update compares-and-sets ``tree_size``, so two workers cannot both count a range."""

tally_checkpoints = Table(
    "tally_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
)
"""The anchored (size, root) pairs whose leaves the tally read and re-hashed to that root."""

tally_merchants = Table(
    "tally_merchants",
    metadata,
    Column("merchant", LargeBinary(20), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    *(Column(f"stars_{n}", BigInteger, nullable=False, comment=f"{n}-star leaves of the merchant below tree_size")
      for n in range(1, 6)),
)
"""Cumulative star counts per merchant, one row at each tallied checkpoint size where they changed."""

# -- leases (ledger/storage/lease.py) --------------------------------------------------------------------------

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True, comment="what the lease is for, e.g. checkpointer"),
    Column("holder", String(100), nullable=False, comment="the process holding it"),
    Column("until_ms", BigInteger, nullable=False, comment="held until then unless renewed"),
    Column("epoch", BigInteger, nullable=False, comment="incremented each time the lease changes holder"),
)
"""Work that exactly one of several replicas may do at a time (anchoring checkpoints), with takeover when the
holder stops renewing."""

api_attestations = Table(
    "api_attestations",
    metadata,
    Column("order_commitment", LargeBinary(32), primary_key=True),
    Column("digest", LargeBinary(32), nullable=False, comment="the EIP-712 digest signed for that order"),
    Column("created_ms", BigInteger, nullable=False),
)
"""The one purchase attestation the order signer gave each order (its digest only): a second request for the
order with other terms (another buyer key or merchant) is refused, since the order's one dispute goes to
whichever attested buyer opens it first."""
